//! `[tls]`: the server speaks HTTPS itself, TLS 1.2 and 1.3 only, with the configured certificate,
//! and every response carries the security headers (HSTS only over TLS).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use switchboard_server::app;
use switchboard_server::config::Config;
use switchboard_server::domain::DomainEvent;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

struct Cert {
    pem: String,
}

fn write_cert(dir: &Path) -> Cert {
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let pem = cert.cert.pem();
    std::fs::write(dir.join("cert.pem"), &pem).unwrap();
    std::fs::write(dir.join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
    Cert { pem }
}

fn config(dir: &Path, tls: bool) -> Config {
    let mut text = format!(
        "data_dir = \"{}\"\n[simulator]\nmode = \"on\"\ncustomers = 0\n[log]\nfilter = \"warn\"\n",
        dir.join("data").display()
    );
    if tls {
        text.push_str(&format!(
            "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
            dir.join("cert.pem").display(),
            dir.join("key.pem").display()
        ));
    }
    let path = dir.join("switchboard.toml");
    std::fs::write(&path, text).unwrap();
    Config::load(Some(&path), []).unwrap()
}

fn client(cert: &Cert, version: &'static rustls::SupportedProtocolVersion) -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    let der = rustls::pki_types::CertificateDer::from_pem_slice(cert.pem.as_bytes()).unwrap();
    roots.add(der).unwrap();
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[version])
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

use rustls::pki_types::pem::PemObject;

/// A minimal TLS 1.1 ClientHello: record version 3.1, client_version 3.2, one cipher suite
/// (TLS_RSA_WITH_AES_128_CBC_SHA), no extensions.
fn tls11_client_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x02];
    body.extend_from_slice(&[0x42; 32]);
    body.extend_from_slice(&[0x00, 0x00, 0x02, 0x00, 0x2f, 0x01, 0x00]);
    let mut handshake = vec![0x01, 0x00, 0x00, body.len() as u8];
    handshake.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x01, 0x00, handshake.len() as u8];
    record.extend_from_slice(&handshake);
    record
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_12_and_13_are_accepted_11_is_refused_and_headers_are_set() {
    let dir = tempfile::tempdir().unwrap();
    let cert = write_cert(dir.path());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = app::start_on(config(dir.path(), true), listener)
        .await
        .unwrap();
    let url = format!("https://localhost:{}/healthz", running.addr.port());

    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let response = client(&cert, version)
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{version:?}: {e:?}"));
        assert_eq!(response.status(), 200);
        let h = response.headers();
        assert_eq!(
            h["strict-transport-security"],
            "max-age=63072000; includeSubDomains"
        );
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        assert!(h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'"));
    }

    // TLS 1.1: the server answers with an alert or closes; it never sends a ServerHello.
    let mut stream = TcpStream::connect(running.addr).await.unwrap();
    stream.write_all(&tls11_client_hello()).await.unwrap();
    let mut first = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut first))
        .await
        .unwrap();
    match read {
        Ok(0) | Err(_) => {}
        Ok(_) => assert_eq!(first[0], 0x15, "a TLS alert record, not a handshake"),
    }

    // The demo simulator delivers its webhooks over HTTPS to this server, which stores and
    // publishes the message.
    let mut events = running.events.subscribe("test");
    let sim = running.simulator.as_ref().expect("the simulator runs");
    sim.customer_says("106540352242922", "16505551234", "Ada", "over TLS")
        .unwrap();
    let event = tokio::time::timeout(Duration::from_secs(10), events.recv())
        .await
        .expect("a webhook delivered over HTTPS within 10 s")
        .unwrap();
    assert!(
        matches!(event, DomainEvent::MessageReceived { ref message, .. } if message.text.as_deref() == Some("over TLS")),
        "{event:?}"
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_sends_the_headers_but_not_hsts() {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = app::start_on(config(dir.path(), false), listener)
        .await
        .unwrap();
    let response = reqwest::get(format!("http://{}/nowhere", running.addr))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert!(response
        .headers()
        .get("strict-transport-security")
        .is_none());
    assert!(response.headers().contains_key("content-security-policy"));
    running.shutdown().await;
}

#[test]
fn a_missing_certificate_is_a_configuration_error_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        "[tls]\ncert = \"/nonexistent/cert.pem\"\nkey = \"/nonexistent/key.pem\"\n",
    )
    .unwrap();
    let e = Config::load(Some(&path), []).unwrap_err();
    assert_eq!(e.key, "tls.cert");
}
