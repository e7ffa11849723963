//! HTTP primitives the REST API, the hub's upgrade and the outer routes share: error bodies,
//! security headers, the client's address behind trusted proxies, the session cookie and the
//! origin check.
//!
//! Owns: how those are read and written. Must not: know routes, the store or the hub (it is the
//! leaf every HTTP-facing module uses, so they need not use each other).

use std::net::{IpAddr, SocketAddr};

use switchboard_shared::{ApiError, ApiErrorBody, ErrorCode};
use warp::Reply as _;

/// The HTTP types the REST API and the hub speak, so that neither names the framework.
pub use warp::http::{HeaderMap, HeaderValue, Method, StatusCode};
/// A response, as the server's HTTP stack sends it.
pub type Response = warp::reply::Response;

/// The peer address of a connection, put on each request by the accept loop.
#[derive(Clone, Copy, Debug)]
pub struct PeerAddr(pub SocketAddr);

/// The Content-Security-Policy for everything served, the PWA included: only our own origin,
/// WebAssembly allowed to compile, never framed.
const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; \
    frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

/// Adds the security headers every response carries.
pub fn secure(mut response: Response, tls: bool) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    headers.insert("content-security-policy", HeaderValue::from_static(CSP));
    if tls {
        headers.insert(
            "strict-transport-security",
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        );
    }
    response
}

/// An error answer.
pub fn error_response(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Response {
    error_body_response(
        status,
        ApiError {
            code,
            message: message.into(),
            field: None,
            matches: Vec::new(),
            rows: Vec::new(),
        },
    )
}

/// An error answer with everything it says (the field it is about, the filter's matches).
pub fn error_body_response(status: StatusCode, error: ApiError) -> Response {
    let body = ApiErrorBody { error };
    let mut response = warp::reply::json(&body).into_response();
    *response.status_mut() = status;
    response
}

/// A response whose body arrives from `chunks` as they are made (an export), never held whole.
pub fn streaming(
    content_type: &'static str,
    mut chunks: tokio::sync::mpsc::Receiver<Result<bytes::Bytes, std::io::Error>>,
) -> Response {
    let body = futures_util::stream::poll_fn(move |cx| chunks.poll_recv(cx));
    let mut response = warp::reply::stream(body).into_response();
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static(content_type));
    response
        .headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    response
}

/// How session cookies are set.
#[derive(Clone, Copy, Debug)]
pub struct CookiePolicy {
    pub secure: bool,
}

impl CookiePolicy {
    /// `__Host-` cookies are bound to this exact origin, but need Secure.
    pub fn name(self) -> &'static str {
        if self.secure {
            "__Host-sb_session"
        } else {
            "sb_session"
        }
    }

    pub fn set(self, token: &str, max_age_secs: i64) -> String {
        format!(
            "{}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{}",
            self.name(),
            if self.secure { "; Secure" } else { "" }
        )
    }

    pub fn clear(self) -> String {
        self.set("", 0)
    }
}

/// The client's address: the peer, or, when the peer is a trusted proxy, the nearest address in
/// `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_ip(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &[ipnet::IpNet],
) -> Option<IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !is_trusted(ip))
            .unwrap_or(peer),
    )
}

pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Whether the browser says the request comes from another origin.
pub fn cross_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get("origin").and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers.get("host").and_then(|v| v.to_str().ok());
    let origin_host = url::Url::parse(origin).ok().and_then(|u| {
        u.host_str().map(|h| match u.port() {
            Some(p) => format!("{h}:{p}"),
            None => h.to_owned(),
        })
    });
    match (origin_host, host) {
        (Some(o), Some(h)) => !o.eq_ignore_ascii_case(h),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_addresses_count_only_behind_trusted_proxies() {
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("203.0.113.9, 198.51.100.4, 10.0.0.7"),
        );
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(
            client_ip(Some(proxy), &headers, &trusted),
            Some("198.51.100.4".parse().unwrap()),
            "the nearest untrusted hop, not the spoofable first one"
        );
        let stranger: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(
            client_ip(Some(stranger), &headers, &trusted),
            Some(stranger)
        );
        assert_eq!(client_ip(Some(proxy), &headers, &[]), Some(proxy));
    }

    #[test]
    fn cross_origin_writes_are_recognised() {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("inbox.example:8443"));
        assert!(
            !cross_origin(&headers),
            "no Origin: not a browser cross-site request"
        );
        headers.insert(
            "origin",
            HeaderValue::from_static("https://inbox.example:8443"),
        );
        assert!(!cross_origin(&headers));
        headers.insert("origin", HeaderValue::from_static("https://evil.example"));
        assert!(cross_origin(&headers));
    }
}
