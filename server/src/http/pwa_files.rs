//! Which files of the built PWA are served and how: shared by the build script (which embeds
//! them) and the server (which can also serve them from a directory in dev mode).

use std::path::{Path, PathBuf};

/// The `Content-Type` for a file name, or `None` for files that are not served (the
/// precompressed `.gz`/`.br` variants are found through their original).
pub fn content_type(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.').map(|(_, e)| e)?;
    Some(match ext {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "webmanifest" => "application/manifest+json",
        "json" => "application/json",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        _ => return None,
    })
}

/// Hashed names under `/assets/` never change content, so browsers may keep them forever; the
/// page, the manifest and the service worker must always be revalidated.
pub fn immutable(url_path: &str) -> bool {
    url_path.starts_with("/assets/")
}

/// Every servable file under `dir` as (URL path, file path), sorted.
pub fn list(dir: &Path) -> Vec<(String, PathBuf)> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(base, &path, out);
            } else if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
                if content_type(name).is_some() {
                    let rel = path.strip_prefix(base).unwrap_or(&path);
                    let url = format!("/{}", rel.to_string_lossy().replace('\\', "/"));
                    out.push((url, path.clone()));
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}
