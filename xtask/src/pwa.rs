//! The PWA build: Rust to WASM, wasm-bindgen (as a library pinned to the lockfile's version),
//! `wasm-opt -Oz` from npm's binaryen, content-hashed names, the service worker's shell list,
//! the manifest's icons, and gzip and Brotli variants. Writes `client/dist/`, which the server's
//! build script embeds.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

use crate::{cargo, root, run, WASM_TARGET};

/// WASM and JavaScript together, gzipped, must stay under this (issue 6's budget).
pub const BUDGET_GZ: usize = 600 * 1024;

/// `tests/browser/node_modules`: binaryen and playwright-core at the versions its
/// package-lock.json pins, installed by `npm ci` once and again only when the lockfile changes.
pub fn ensure_node_tools() -> Result<PathBuf> {
    let dir = root().join("tests/browser");
    let modules = dir.join("node_modules");
    let lock =
        std::fs::read(dir.join("package-lock.json")).context("tests/browser/package-lock.json")?;
    let marker = modules.join(format!(".switchboard-{}", &hash(&lock)[..16]));
    if marker.exists() {
        return Ok(modules);
    }
    run(
        "install binaryen and playwright-core (npm ci, pinned by tests/browser/package-lock.json)",
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir),
    )?;
    std::fs::write(&marker, "")?;
    Ok(modules)
}

fn hash(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// `name-<hash>.ext`: the first 16 hex digits of the content's SHA-256.
fn hashed_name(stem: &str, ext: &str, data: &[u8]) -> String {
    format!("{stem}-{}.{ext}", &hash(data)[..16])
}

/// The `.gz` variant the server sends to browsers without Brotli: Zopfli's gzip, a standard
/// stream 3 to 5% smaller than zlib's best (it searches much harder, once, at build time).
fn gzip(data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let options = zopfli::Options {
        iteration_count: std::num::NonZeroU64::new(5).expect("not zero"),
        ..Default::default()
    };
    zopfli::compress(options, zopfli::Format::Gzip, data, &mut out)?;
    Ok(out)
}

fn brotli(data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 22,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &data[..], &mut out, &params)?;
    Ok(out)
}

/// How an asset is compressed for the wire.
#[derive(Clone, Copy)]
enum Squeeze {
    /// On the first load's path: Zopfli's gzip (slow, smallest) and Brotli.
    FirstLoad,
    /// Fetched later (the chunks): zlib's best gzip, which is far quicker, and Brotli.
    Later,
    /// Already compressed (PNG).
    No,
}

/// `work` on each item, the items spread over the machine's cores; the results in order.
fn each_on_cores<I: Sync, O: Send>(
    items: &[I],
    work: impl Fn(&I) -> Result<O> + Sync,
) -> Result<Vec<O>> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let done = std::sync::Mutex::new(Vec::with_capacity(items.len()));
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(item) = items.get(i) else {
                            return Ok(());
                        };
                        let out = work(item)?;
                        done.lock().expect("not poisoned").push((i, out));
                    }
                })
            })
            .collect();
        for handle in handles {
            handle
                .join()
                .map_err(|_| anyhow::anyhow!("a build thread panicked"))??;
        }
        Ok::<(), anyhow::Error>(())
    })?;
    let mut done = done.into_inner().expect("not poisoned");
    done.sort_by_key(|(i, _)| *i);
    Ok(done.into_iter().map(|(_, o)| o).collect())
}

/// Writes each file's `.gz` and `.br` variants, the files spread over the machine's cores.
fn squeeze_all(jobs: &[(PathBuf, Squeeze)]) -> Result<()> {
    each_on_cores(jobs, |(path, squeeze)| {
        let data = std::fs::read(path)?;
        let gz = match squeeze {
            Squeeze::No => return Ok(()),
            Squeeze::FirstLoad => gzip(&data)?,
            Squeeze::Later => gzip_quick(&data)?,
        };
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        std::fs::write(path.with_file_name(format!("{name}.gz")), gz)?;
        std::fs::write(path.with_file_name(format!("{name}.br")), brotli(&data)?)?;
        Ok(())
    })?;
    Ok(())
}

fn gzip_quick(data: &[u8]) -> Result<Vec<u8>> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data)?;
    Ok(encoder.finish()?)
}

/// The icon: the brand's teal rounded square with a white ring and dot, drawn with a little
/// anti-aliasing (a PNG generated here instead of a binary in the repository).
fn icon(size: u32) -> Result<Vec<u8>> {
    let s = size as f32;
    let mut pixels = Vec::with_capacity((size * size * 4) as usize);
    let (cx, cy) = (s / 2.0, s / 2.0);
    let corner = s * 0.22;
    for y in 0..size {
        for x in 0..size {
            let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
            // Rounded square coverage.
            let dx = (px - cx).abs() - (s / 2.0 - corner);
            let dy = (py - cy).abs() - (s / 2.0 - corner);
            let outside = dx.max(0.0).hypot(dy.max(0.0)) + dx.max(dy).min(0.0) - corner;
            let bg = (0.5 - outside).clamp(0.0, 1.0);
            // The ring and the dot.
            let r = (px - cx).hypot(py - cy);
            let ring = (s * 0.045 - (r - s * 0.27).abs()).clamp(0.0, 1.0);
            let dot = (s * 0.1 - r).clamp(0.0, 1.0);
            let white = ring.max(dot);
            let (tr, tg, tb) = (0x0f as f32, 0x76 as f32, 0x6e as f32);
            let mix = |c: f32| (c + (255.0 - c) * white).round() as u8;
            pixels.extend_from_slice(&[mix(tr), mix(tg), mix(tb), (bg * 255.0).round() as u8]);
        }
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, size, size);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::High);
        encoder.write_header()?.write_image_data(&pixels)?;
    }
    Ok(out)
}

/// The module name the main module imports the chunk loaders from (rewritten to a hashed name).
const LINK_NAME: &str = "./__wasm_split.js";
/// Where the link module imports the main JS module from, until its hashed name is known.
const MAIN_PLACEHOLDER: &str = "./__switchboard_main__.js";

/// The module cut at the `#[lazy]` split points.
struct Split {
    /// The main module, for wasm-bindgen.
    main: PathBuf,
    /// Each chunk's file stem and path.
    chunks: Vec<(String, PathBuf)>,
}

/// Cuts the module at its `#[lazy]` split points (`wasm_split_cli_support`, as cargo-leptos
/// does): a main module and chunks that the link module (`LINK_NAME` in `work`) fetches the
/// first time a split function is called.
fn split(wasm_in: &Path, work: &Path) -> Result<Split> {
    eprintln!("==> split the module at its #[lazy] points (wasm_split_cli_support)");
    let input = std::fs::read(wasm_in).with_context(|| wasm_in.display().to_string())?;
    let main = work.join("split_main.wasm");
    let out = wasm_split_cli_support::transform({
        let mut options = wasm_split_cli_support::Options::new(&input);
        options.output_dir = work;
        options.main_out_path = &main;
        options.link_name = LINK_NAME;
        options.main_module = MAIN_PLACEHOLDER;
        options
    })
    .map_err(|e| anyhow::anyhow!("wasm-split: {e:#}"))?;
    let mut chunks = Vec::new();
    for path in out.split_modules {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .context("a chunk without a name")?
            .to_owned();
        chunks.push((stem, path));
    }
    chunks.sort();
    Ok(Split { main, chunks })
}

/// `wasm-opt -Oz` from npm's binaryen; returns the optimised file's path.
fn wasm_opt(path: &Path) -> Result<PathBuf> {
    let modules = ensure_node_tools()?;
    let optimised = path.with_extension("opt.wasm");
    run(
        &format!("wasm-opt -Oz {} (npm binaryen)", path.display()),
        Command::new(modules.join(".bin/wasm-opt"))
            .arg("-Oz")
            // Passes again until nothing changes: a little smaller, once, at build time.
            .arg("--converge")
            .arg("--strip-debug")
            .arg("--strip-producers")
            .arg(path)
            .arg("-o")
            .arg(&optimised),
    )?;
    Ok(optimised)
}

/// What a build produced, for the log and the size budget.
pub struct Report {
    pub wasm_bytes: usize,
    pub wasm_gz: usize,
    pub js_gz: usize,
    /// The chunks fetched on first use (`#[lazy]` screens), outside the first load's budget.
    pub chunks: usize,
    pub chunk_gz: usize,
}

impl Report {
    pub fn total_gz(&self) -> usize {
        self.wasm_gz + self.js_gz
    }
}

/// Builds the PWA into `out` (normally `client/dist`). `release` selects the size-optimised
/// profile and wasm-opt; dev builds skip both for speed.
pub fn build(out: &Path, release: bool) -> Result<Report> {
    let started = Instant::now();
    crate::ensure_wasm_target()?;
    let profile = if release { "pwa" } else { "pwa-dev" };
    // Leptos' `erase_components`: each component and view becomes one type-erased `AnyView`
    // instead of a deep generic type, so the renderer is not monomorphised once per view
    // shape. The app behaves the same in less WASM (docs/benchmarks.md, the PWA's size).
    // RUSTFLAGS with `--target` reach only the WASM crates, not the host's build cache.
    // `--emit-relocs` keeps the linker's relocations in the module: the splitter needs them to
    // move functions and their data into chunks.
    let flags = "--cfg erase_components -C link-arg=--emit-relocs";
    let rustflags = match std::env::var("RUSTFLAGS") {
        Ok(extra) if !extra.trim().is_empty() => format!("{extra} {flags}"),
        _ => flags.to_owned(),
    };
    run(
        &format!("build the client for WASM ({profile} profile)"),
        cargo().env("RUSTFLAGS", rustflags).args([
            "build",
            "-p",
            "switchboard-client",
            "--lib",
            "--target",
            WASM_TARGET,
            "--profile",
            profile,
        ]),
    )?;
    let profile_dir = profile;
    let wasm_in = root().join(format!(
        "target/{WASM_TARGET}/{profile_dir}/switchboard_client.wasm"
    ));
    let work = root().join("target/pwa-work");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let split = split(&wasm_in, &work)?;
    eprintln!(
        "==> wasm-bindgen (library, pinned in xtask/Cargo.toml to Cargo.lock's wasm-bindgen)"
    );
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&split.main)
        .out_name("switchboard")
        .web(true)?
        .typescript(false)
        .remove_producers_section(true)
        // The chunks import the main module's function table: its export must stay.
        .keep_lld_exports(true)
        .generate(&work)
        .map_err(|e| anyhow::anyhow!("wasm-bindgen: {e:#}"))?;
    let mut wasm_path = work.join("switchboard_bg.wasm");
    let mut chunks = split.chunks;
    if release {
        // The main module and the chunks, over the machine's cores.
        let mut paths = vec![wasm_path.clone()];
        paths.extend(chunks.iter().map(|c| c.1.clone()));
        let mut optimised = each_on_cores(&paths, |p| wasm_opt(p))?.into_iter();
        wasm_path = optimised.next().context("wasm-opt's main module")?;
        for (chunk, path) in chunks.iter_mut().zip(optimised) {
            chunk.1 = path;
        }
    }
    let wasm = std::fs::read(&wasm_path)?;
    let js = std::fs::read_to_string(work.join("switchboard.js"))?;
    if !js.contains("__wbg_init as default") {
        bail!("wasm-bindgen's module no longer exports __wbg_init; update the boot code in xtask/src/pwa.rs");
    }
    let static_dir = root().join("client/static");
    let css = std::fs::read(static_dir.join("app.css"))?;

    // Start from an empty directory, keeping its placeholder.
    if out.exists() {
        for entry in std::fs::read_dir(out)? {
            let path = entry?.path();
            if path.file_name().is_some_and(|n| n == ".gitkeep") {
                continue;
            }
            if path.is_dir() {
                std::fs::remove_dir_all(&path)?;
            } else {
                std::fs::remove_file(&path)?;
            }
        }
    }
    std::fs::create_dir_all(out.join("assets"))?;
    let mut shell: Vec<String> = vec!["/".into()];
    // Files are written at once; their compressed variants are made at the end, in parallel.
    let mut jobs: Vec<(PathBuf, Squeeze)> = Vec::new();
    let mut put = |name: &str, data: &[u8], squeeze: Squeeze| -> Result<String> {
        let path = out.join("assets").join(name);
        std::fs::write(&path, data)?;
        jobs.push((path, squeeze));
        let url = format!("/assets/{name}");
        shell.push(url.clone());
        Ok(url)
    };
    let wasm_url = put(
        &hashed_name("switchboard_bg", "wasm", &wasm),
        &wasm,
        Squeeze::FirstLoad,
    )?;
    // The chunks under content-hashed names; the link module (which fetches them and which the
    // main module imports) named after all of them, so that neither name depends on the other's
    // text. The main JS module is named after its own text, which includes the link's name.
    let mut link = std::fs::read_to_string(work.join(LINK_NAME))?;
    let mut chunk_names = Vec::new();
    for (stem, path) in &chunks {
        let data = std::fs::read(path)?;
        let name = hashed_name(stem, "wasm", &data);
        link = link.replace(&format!("\"./{stem}.wasm\""), &format!("\"./{name}\""));
        put(&name, &data, Squeeze::Later)?;
        chunk_names.push(name);
    }
    let link_name = hashed_name("split", "js", chunk_names.join(",").as_bytes());
    // Only the JS imports: the module's own import name (the key of its import object) stays.
    let js = js.replace(
        &format!("from \"{LINK_NAME}\""),
        &format!("from \"./{link_name}\""),
    );
    // The module starts itself (no inline script: the CSP forbids them) and registers the
    // service worker.
    let js = format!(
        "{js}\n__wbg_init({{ module_or_path: {wasm_url:?} }}).catch((e) => {{\n  \
         document.body.textContent = \"Switchboard could not start: \" + e;\n}});\n\
         if (\"serviceWorker\" in navigator) {{\n  \
         navigator.serviceWorker.register(\"/sw.js\").catch(() => {{}});\n}}\n"
    );
    let js_name = hashed_name("switchboard", "js", js.as_bytes());
    let js_url = put(&js_name, js.as_bytes(), Squeeze::FirstLoad)?;
    let link = link.replace(MAIN_PLACEHOLDER, &format!("./{js_name}"));
    put(&link_name, link.as_bytes(), Squeeze::FirstLoad)?;
    let css_url = put(&hashed_name("app", "css", &css), &css, Squeeze::FirstLoad)?;
    let icon192 = icon(192)?;
    let icon512 = icon(512)?;
    let icon192_url = put(
        &hashed_name("icon-192", "png", &icon192),
        &icon192,
        Squeeze::No,
    )?;
    let icon512_url = put(
        &hashed_name("icon-512", "png", &icon512),
        &icon512,
        Squeeze::No,
    )?;

    let fill = |template: &str| {
        template
            .replace("{{css}}", &css_url)
            .replace("{{js}}", &js_url)
            .replace("{{icon192}}", &icon192_url)
            .replace("{{icon512}}", &icon512_url)
    };
    let index = fill(&std::fs::read_to_string(static_dir.join("index.html"))?);
    let manifest = fill(&std::fs::read_to_string(
        static_dir.join("manifest.webmanifest"),
    )?);
    let version = &hash(format!("{index}{}", shell.join(",")).as_bytes())[..16];
    let sw = fill(&std::fs::read_to_string(static_dir.join("sw.js"))?)
        .replace("{{version}}", version)
        .replace("{{shell}}", &serde_json::to_string(&shell)?);
    for (name, body) in [
        ("index.html", index.as_bytes()),
        ("manifest.webmanifest", manifest.as_bytes()),
        ("sw.js", sw.as_bytes()),
    ] {
        std::fs::write(out.join(name), body)?;
        std::fs::write(out.join(format!("{name}.gz")), gzip(body)?)?;
        std::fs::write(out.join(format!("{name}.br")), brotli(body)?)?;
    }
    squeeze_all(&jobs)?;
    let gz = |name: &str| -> Result<usize> {
        Ok(std::fs::metadata(out.join("assets").join(format!("{name}.gz")))?.len() as usize)
    };
    let report = Report {
        wasm_bytes: wasm.len(),
        wasm_gz: gz(wasm_url.trim_start_matches("/assets/"))?,
        js_gz: gz(&js_name)? + gz(&link_name)?,
        chunks: chunks.len(),
        chunk_gz: chunk_names.iter().map(|n| gz(n)).sum::<Result<usize>>()?,
    };
    eprintln!(
        "<== PWA built in {:.1}s: WASM {} KB ({} KB gzipped), JS {} KB gzipped; {} KB of the {} KB budget; {} chunks loaded on first use, {} KB gzipped",
        started.elapsed().as_secs_f64(),
        report.wasm_bytes / 1024,
        report.wasm_gz / 1024,
        report.js_gz / 1024,
        report.total_gz() / 1024,
        BUDGET_GZ / 1024,
        report.chunks,
        report.chunk_gz / 1024,
    );
    if release && report.total_gz() > BUDGET_GZ {
        bail!(
            "the PWA is over its size budget: {} KB gzipped (WASM + JS), the limit is {} KB",
            report.total_gz() / 1024,
            BUDGET_GZ / 1024
        );
    }
    Ok(report)
}

/// The newest modification time under the client's sources (for dev mode's rebuilds).
fn newest_source() -> SystemTime {
    fn walk(dir: &Path, newest: &mut SystemTime) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, newest);
            } else if let Ok(modified) = entry.metadata().and_then(|m| m.modified()) {
                *newest = (*newest).max(modified);
            }
        }
    }
    let mut newest = SystemTime::UNIX_EPOCH;
    for dir in ["client/src", "client/static", "shared/src"] {
        walk(&root().join(dir), &mut newest);
    }
    newest
}

/// `cargo xtask dev`: a dev build of the PWA served from disk by a running demo, rebuilt
/// whenever a client source changes (reload the page to see it). Stops with Ctrl-C.
pub fn dev(args: &[String]) -> Result<()> {
    let out = root().join("target/pwa-dev");
    build(&out, false)?;
    run(
        "build switchboard (debug)",
        cargo().args(["build", "-p", "switchboard-server", "--bin", "switchboard"]),
    )?;
    let mut server = Command::new(root().join("target/debug/switchboard"))
        .args(if args.is_empty() {
            vec!["serve".to_owned()]
        } else {
            args.to_vec()
        })
        .env("SWITCHBOARD_PWA_DIR", &out)
        .current_dir(root())
        .spawn()
        .context("starting switchboard")?;
    eprintln!(
        "dev mode: the app is served from {}; edits under client/ rebuild it",
        out.display()
    );
    let mut built = newest_source();
    loop {
        std::thread::sleep(Duration::from_millis(700));
        if let Some(status) = server.try_wait()? {
            bail!("switchboard exited with {status}");
        }
        let newest = newest_source();
        if newest > built {
            built = newest;
            if let Err(e) = build(&out, false) {
                eprintln!("xtask dev: the build failed, still serving the previous one: {e:#}");
            }
        }
    }
}
