//! Serves the agent and supervisor PWA: embedded in the binary by the build script, or read from
//! a directory (`SWITCHBOARD_PWA_DIR`, for `cargo xtask dev`, which rebuilds it on change).
//!
//! Caching: hashed assets are `immutable` for a year; the page, the manifest and the service
//! worker are `no-cache` (revalidated with their ETag), so a new build is picked up at once.
//! Precompressed Brotli and gzip variants are chosen by `Accept-Encoding`.

use std::borrow::Cow;
use std::path::PathBuf;

use warp::http::{HeaderMap, HeaderValue, StatusCode};
use warp::reply::Response;

use super::pwa_files;

/// One embedded file.
pub struct Asset {
    pub path: &'static str,
    pub content_type: &'static str,
    pub etag: &'static str,
    pub body: &'static [u8],
    pub gzip: Option<&'static [u8]>,
    pub brotli: Option<&'static [u8]>,
}

/// The app as built into this binary (empty when it was built without `cargo xtask dist`).
pub static EMBEDDED: &[Asset] = include!(concat!(env!("OUT_DIR"), "/pwa_assets.rs"));

/// Where the app's files come from.
#[derive(Clone, Debug)]
pub enum Source {
    Embedded,
    Dir(PathBuf),
}

impl Source {
    /// The directory named by `SWITCHBOARD_PWA_DIR`, else what is embedded.
    pub fn from_env() -> Self {
        match crate::config::pwa_dir() {
            Some(dir) => Source::Dir(dir),
            None => Source::Embedded,
        }
    }

    /// Whether there is an app to serve at all.
    pub fn has_app(&self) -> bool {
        match self {
            Source::Embedded => EMBEDDED.iter().any(|a| a.path == "/index.html"),
            Source::Dir(dir) => dir.join("index.html").is_file(),
        }
    }

    fn find(&self, path: &str) -> Option<Found> {
        match self {
            Source::Embedded => EMBEDDED.iter().find(|a| a.path == path).map(|a| Found {
                content_type: a.content_type,
                etag: Cow::Borrowed(a.etag),
                body: Cow::Borrowed(a.body),
                gzip: a.gzip.map(Cow::Borrowed),
                brotli: a.brotli.map(Cow::Borrowed),
            }),
            Source::Dir(dir) => {
                // Only names the listing would serve: no `..`, no hidden or unknown files.
                let (url, file) = pwa_files::list(dir).into_iter().find(|(u, _)| u == path)?;
                let name = file.file_name()?.to_str()?.to_owned();
                let body = std::fs::read(&file).ok()?;
                let read =
                    |ext: &str| std::fs::read(file.with_file_name(format!("{name}.{ext}"))).ok();
                let modified = std::fs::metadata(&file)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_nanos())
                    .unwrap_or_default();
                Some(Found {
                    content_type: pwa_files::content_type(&url)?,
                    etag: Cow::Owned(format!("\"{modified:x}-{:x}\"", body.len())),
                    gzip: read("gz").map(Cow::Owned),
                    brotli: read("br").map(Cow::Owned),
                    body: Cow::Owned(body),
                })
            }
        }
    }
}

struct Found {
    content_type: &'static str,
    etag: Cow<'static, str>,
    body: Cow<'static, [u8]>,
    gzip: Option<Cow<'static, [u8]>>,
    brotli: Option<Cow<'static, [u8]>>,
}

/// Whether `Accept-Encoding` lists `coding` with a non-zero quality.
fn accepts(headers: &HeaderMap, coding: &str) -> bool {
    headers
        .get_all("accept-encoding")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|part| {
            let mut pieces = part.split(';').map(str::trim);
            pieces
                .next()
                .is_some_and(|c| c.eq_ignore_ascii_case(coding))
                && !pieces.any(|p| p.replace(' ', "") == "q=0" || p.replace(' ', "") == "q=0.0")
        })
}

/// The answer for `GET path`, or `None` when the app has no such file.
pub fn respond(source: &Source, path: &str, headers: &HeaderMap) -> Option<Response> {
    let path = if path == "/" { "/index.html" } else { path };
    let found = source.find(path)?;
    let mut response = Response::new(Vec::new().into());
    let h = response.headers_mut();
    h.insert("content-type", HeaderValue::from_static(found.content_type));
    h.insert(
        "cache-control",
        HeaderValue::from_static(if pwa_files::immutable(path) {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    h.insert("vary", HeaderValue::from_static("accept-encoding"));
    if let Ok(etag) = HeaderValue::from_str(&found.etag) {
        h.insert("etag", etag);
    }
    let fresh = headers
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == found.etag));
    if fresh {
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        return Some(response);
    }
    let (body, encoding) = match (&found.brotli, &found.gzip) {
        (Some(br), _) if accepts(headers, "br") => (br.clone(), Some("br")),
        (_, Some(gz)) if accepts(headers, "gzip") => (gz.clone(), Some("gzip")),
        _ => (found.body.clone(), None),
    };
    if let Some(encoding) = encoding {
        response
            .headers_mut()
            .insert("content-encoding", HeaderValue::from_static(encoding));
    }
    *response.body_mut() = body.into_owned().into();
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_are_negotiated_by_quality() {
        let mut h = HeaderMap::new();
        h.insert(
            "accept-encoding",
            HeaderValue::from_static("gzip, deflate, br;q=0"),
        );
        assert!(accepts(&h, "gzip"));
        assert!(!accepts(&h, "br"));
        h.insert("accept-encoding", HeaderValue::from_static("BR;q=0.5"));
        assert!(accepts(&h, "br"));
        assert!(!accepts(&HeaderMap::new(), "gzip"));
    }

    #[test]
    fn a_directory_serves_only_listed_files_with_the_right_headers() {
        let dir = std::env::temp_dir().join(format!("sb-pwa-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("assets")).unwrap();
        std::fs::write(dir.join("index.html"), "<!doctype html>").unwrap();
        std::fs::write(dir.join("assets/app-0123.js"), "plain").unwrap();
        std::fs::write(dir.join("assets/app-0123.js.gz"), "gzipped").unwrap();
        std::fs::write(dir.join("secret.txt"), "no").unwrap();
        let source = Source::Dir(dir.clone());
        assert!(source.has_app());

        let page = respond(&source, "/", &HeaderMap::new()).unwrap();
        assert_eq!(page.headers()["cache-control"], "no-cache");
        assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
        let etag = page.headers()["etag"].clone();
        let mut again = HeaderMap::new();
        again.insert("if-none-match", etag);
        assert_eq!(
            respond(&source, "/index.html", &again).unwrap().status(),
            StatusCode::NOT_MODIFIED
        );

        let mut gzip = HeaderMap::new();
        gzip.insert("accept-encoding", HeaderValue::from_static("gzip, br"));
        let js = respond(&source, "/assets/app-0123.js", &gzip).unwrap();
        assert_eq!(js.headers()["content-encoding"], "gzip");
        assert_eq!(
            js.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        let plain = respond(&source, "/assets/app-0123.js", &HeaderMap::new()).unwrap();
        assert!(plain.headers().get("content-encoding").is_none());

        for path in [
            "/secret.txt",
            "/assets/app-0123.js.gz",
            "/../index.html",
            "/nope.js",
        ] {
            assert!(
                respond(&source, path, &HeaderMap::new()).is_none(),
                "{path}"
            );
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
