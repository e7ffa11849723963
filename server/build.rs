//! Embeds the built PWA (`cargo xtask dist` writes it to `client/dist/`) into the binary, so one
//! file serves the whole product. Without a build there, the table is empty and `/` says how to
//! build the app.

// A build script reads its environment from cargo; the server's rule (the environment only in
// `config`) is about the server itself.
#![allow(clippy::disallowed_methods)]

#[path = "src/http/pwa_files.rs"]
#[allow(dead_code)] // the build script needs the listing, not the caching rule
mod pwa_files;

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=SWITCHBOARD_PWA_DIST");
    let dir = std::env::var_os("SWITCHBOARD_PWA_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"))
                .join("../client/dist")
        });
    // A directory is watched as a whole: any file added or changed in it rebuilds the table.
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut table = String::from("&[\n");
    let bytes = |p: &std::path::Path| format!("include_bytes!({:?})", p.display().to_string());
    for (url, path) in pwa_files::list(&dir) {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let content_type = pwa_files::content_type(name).unwrap_or("application/octet-stream");
        let variant = |ext: &str| {
            let p = path.with_file_name(format!("{name}.{ext}"));
            if p.exists() {
                format!("Some({})", bytes(&p))
            } else {
                "None".to_owned()
            }
        };
        let body = std::fs::read(&path).expect("readable asset");
        let etag = format!("\"{:016x}\"", fnv1a(&body));
        writeln!(
            table,
            "    Asset {{ path: {url:?}, content_type: {content_type:?}, etag: {etag:?}, body: {}, gzip: {}, brotli: {} }},",
            bytes(&path),
            variant("gz"),
            variant("br"),
        )
        .expect("writing to a String");
    }
    table.push(']');
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("pwa_assets.rs");
    std::fs::write(out, table).expect("OUT_DIR is writable");
}

/// A content hash for the ETag (a cache validator, not a security measure).
fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}
