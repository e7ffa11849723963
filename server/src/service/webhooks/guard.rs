//! Where a delivery may go: an `https` URL (plain `http` only where the deployment allows it),
//! no credentials in it, and a host that resolves to public addresses only, unless the
//! deployment names it. Checked when an endpoint is saved and again before every attempt, whose
//! connection is pinned to the addresses checked (a second lookup cannot point elsewhere);
//! redirects are never followed, so a public URL cannot bounce a delivery to a private one.

use std::net::SocketAddr;

use url::Url;

use crate::flow;

/// What the deployment allows (`[outgoing_webhooks]`).
#[derive(Clone, Debug, Default)]
pub struct Rules {
    pub allow_http: bool,
    pub allow_private_hosts: Vec<String>,
}

/// Checks a URL's shape; the reason when it is refused.
pub fn check_url(text: &str, rules: &Rules) -> Result<Url, String> {
    if text.len() > 2048 {
        return Err("the URL is over 2,048 characters".into());
    }
    let url = Url::parse(text.trim()).map_err(|e| format!("not a URL: {e}"))?;
    match url.scheme() {
        "https" => {}
        "http" if rules.allow_http => {}
        "http" => {
            return Err(
                "must be https:// (plain http is allowed only where the server's \
                 outgoing_webhooks.allow_http is set)"
                    .into(),
            )
        }
        other => return Err(format!("must be https://, not {other}://")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password (the signature authenticates)".into());
    }
    if url.fragment().is_some() {
        return Err("must not have a #fragment".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("has no host".into());
    }
    Ok(url)
}

/// Resolves a checked URL's host; the addresses, or why it may not be reached.
pub async fn resolve(url: &Url, rules: &Rules) -> Result<(String, Vec<SocketAddr>), String> {
    let host = url.host_str().ok_or("the URL has no host")?;
    // `Url` keeps IPv6 literals in brackets; the resolver wants them bare.
    let bare = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = url.port_or_known_default().ok_or("the URL has no port")?;
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((bare.as_str(), port))
        .await
        .map_err(|e| format!("{bare} does not resolve: {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("{bare} does not resolve"));
    }
    if !flow::allowed(&rules.allow_private_hosts, &bare, Some(port)) {
        if let Some(a) = addrs.iter().find(|a| flow::private(a.ip())) {
            return Err(format!(
                "{bare} resolves to {}, a private, loopback or link-local address \
                 (the server's outgoing_webhooks.allow_private_hosts may name it)",
                a.ip()
            ));
        }
    }
    Ok((bare, addrs))
}

/// An HTTP client for one checked URL: its host resolved and checked (see [`resolve`]), the
/// connection pinned to those addresses, redirects never followed.
pub async fn pinned(
    url: &Url,
    rules: &Rules,
    timeout: std::time::Duration,
    user_agent: &str,
) -> Result<reqwest::Client, String> {
    let (host, addrs) = resolve(url, rules).await?;
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .resolve_to_addrs(&host, &addrs)
        .timeout(timeout)
        .user_agent(user_agent)
        .build()
        .map_err(|e| e.to_string())
}

/// A transport error in words (reqwest's own message hides the cause in its source).
pub fn transport_error(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        e.to_string()
    };
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict() -> Rules {
        Rules::default()
    }

    #[test]
    fn only_https_without_credentials() {
        assert!(check_url("https://hooks.example.com/in?x=1", &strict()).is_ok());
        let plain = check_url("http://hooks.example.com/in", &strict()).unwrap_err();
        assert!(plain.contains("https"), "{plain}");
        let lax = Rules {
            allow_http: true,
            ..Rules::default()
        };
        assert!(check_url("http://hooks.example.com/in", &lax).is_ok());
        assert!(check_url("ftp://hooks.example.com/", &lax).is_err());
        assert!(check_url("https://u:p@hooks.example.com/", &strict()).is_err());
        assert!(check_url("https://hooks.example.com/#x", &strict()).is_err());
        assert!(check_url("not a url", &strict()).is_err());
        assert!(check_url(&format!("https://a.com/{}", "x".repeat(2100)), &strict()).is_err());
    }

    #[tokio::test]
    async fn private_addresses_are_refused_unless_named() {
        for url in [
            "https://127.0.0.1/",
            "https://10.1.2.3:8443/",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/",
            "https://[::ffff:192.168.0.1]/",
            "https://localhost/",
        ] {
            let url = check_url(url, &strict()).unwrap();
            let refused = resolve(&url, &strict()).await.unwrap_err();
            assert!(refused.contains("private"), "{url}: {refused}");
        }
        let named = Rules {
            allow_http: true,
            allow_private_hosts: vec!["127.0.0.1:8080".into()],
        };
        let url = check_url("http://127.0.0.1:8080/hook", &named).unwrap();
        assert!(resolve(&url, &named).await.is_ok());
        // Another port of the same host is not named.
        let url = check_url("http://127.0.0.1:9090/hook", &named).unwrap();
        assert!(resolve(&url, &named).await.is_err());
    }
}
