//! Harness for whole-system tests: starts the real `switchboard` and `switchboard-wa-sim`
//! binaries (built by `cargo build --workspace --bins`, which `cargo xtask test` runs first) on
//! free loopback ports, and offers the few helpers every test needs. Every wait is bounded.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// Where Meta's fixtures live: `../shared/fixtures/whatsapp` beside the repository.
pub fn fixtures() -> PathBuf {
    std::env::var_os("SWITCHBOARD_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/whatsapp")
        })
}

/// Meta's OpenAPI document.
pub fn openapi_spec() -> PathBuf {
    fixtures().join("../../reference/whatsapp_cloud_api_openapi_v23.yaml")
}

/// A binary of this workspace, from the same target directory as the running test, or from
/// `SWITCHBOARD_BIN_DIR` (to run these tests against `cargo xtask dist`'s release binaries).
pub fn binary(name: &str) -> PathBuf {
    let dir = match std::env::var_os("SWITCHBOARD_BIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => std::env::current_exe()
            .expect("test executable path")
            .parent()
            .and_then(Path::parent)
            .expect("tests run from target/<profile>/deps")
            .to_owned(),
    };
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins` first (`cargo xtask test` does)",
        path.display()
    );
    path
}

/// A free loopback port (bound and released; the window for a clash is tiny on loopback).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `sha256=<hex>` over `body`, as Meta signs webhooks.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Polls `check` until it returns `Some`, or gives up with `None` after `timeout`. Only for what
/// offers no event to wait on: another process.
pub fn poll_until<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// As [`poll_until`], panicking after `timeout` with a message naming `what`.
pub fn wait_for<T>(what: &str, timeout: Duration, check: impl FnMut() -> Option<T>) -> T {
    poll_until(timeout, check)
        .unwrap_or_else(|| panic!("timed out after {timeout:?} waiting for {what}"))
}

/// A process's anonymous resident memory in KiB (`RssAnon` of `/proc/<pid>/status`): what it
/// allocated and still holds, without the files it maps.
pub fn rss_anon_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("RssAnon in /proc/<pid>/status")
}

/// The test secrets, used by [`ServerProcess::with_numbers`].
pub const APP_SECRET: &str = "test_app_secret_0123456789abcdef";
pub const VERIFY_TOKEN: &str = "verify-token-for-tests";
pub const ACCESS_TOKEN: &str = "access-token-for-tests";

/// The acceptance configuration: one number of the demo tenant. (Some of Meta's fixtures name
/// another number of the same app; they must still land with this tenant.)
pub fn numbers_toml(graph_api_url: &str) -> String {
    format!(
        r#"
[[whatsapp.numbers]]
tenant = "demo"
phone_number_id = "106540352242922"
display_phone_number = "15550783881"
waba_id = "102290129340398"
access_token = "{ACCESS_TOKEN}"
app_secret = "{APP_SECRET}"
verify_token = "{VERIFY_TOKEN}"
graph_api_url = "{graph_api_url}"
"#
    )
}

/// A `switchboard serve` process with its own data directory.
pub struct ServerProcess {
    pub addr: SocketAddr,
    pub config: PathBuf,
    pub dir: tempfile::TempDir,
    child: Option<Child>,
    pub client: reqwest::blocking::Client,
}

impl ServerProcess {
    /// Starts a server with `extra` TOML appended to `listen`/`data_dir`.
    pub fn start(extra: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        Self::start_in(dir, &data, extra)
    }

    /// As [`ServerProcess::start`], keeping the data in `data` (a file system made for a test).
    pub fn start_at(data: &Path, extra: &str) -> Self {
        Self::start_in(tempfile::tempdir().expect("temp dir"), data, extra)
    }

    fn start_in(dir: tempfile::TempDir, data: &Path, extra: &str) -> Self {
        let port = free_port();
        let config = dir.path().join("switchboard.toml");
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:{port}\"\ndata_dir = \"{}\"\n{extra}",
                data.display()
            ),
        )
        .expect("write config");
        let mut server = Self {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            config,
            dir,
            child: None,
            client: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client"),
        };
        server.spawn();
        server
    }

    /// The acceptance configuration, Cloud API calls going to `graph_api_url`.
    pub fn with_numbers(graph_api_url: &str) -> Self {
        Self::start(&numbers_toml(graph_api_url))
    }

    /// (Re)starts the process on the same port and data, and waits until it is ready.
    pub fn spawn(&mut self) {
        let child = Command::new(binary("switchboard"))
            .args(["serve", "--config"])
            .arg(&self.config)
            .current_dir(self.dir.path())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("start switchboard");
        self.child = Some(child);
        let url = self.url("/readyz");
        let client = self.client.clone();
        wait_for(
            "switchboard to become ready",
            Duration::from_secs(30),
            || {
                client
                    .get(&url)
                    .send()
                    .ok()
                    .filter(|r| r.status().is_success())
                    .map(|_| ())
            },
        );
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Calls `/api/v1/{path}` as `token`, sending `body` as JSON unless it is
    /// null, and returns the answer; a non-2xx answer fails the test with its
    /// body, so a setup step that went wrong says why.
    pub fn api(&self, token: &str, method: reqwest::Method, path: &str, body: Value) -> Value {
        let mut request = self
            .client
            .request(method, self.url(&format!("/api/v1/{path}")))
            .bearer_auth(token);
        if !body.is_null() {
            request = request.json(&body);
        }
        let response = request.send().expect("API call");
        let status = response.status();
        let value: Value = response.json().unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {value}");
        value
    }

    /// Posts a webhook body signed with `APP_SECRET`; returns the status code.
    pub fn post_webhook(&self, body: &[u8]) -> u16 {
        self.post_webhook_signed(body, Some(&sign(APP_SECRET, body)))
    }

    pub fn post_webhook_signed(&self, body: &[u8], signature: Option<&str>) -> u16 {
        let mut request = self
            .client
            .post(self.url("/webhooks/whatsapp"))
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(signature) = signature {
            request = request.header("x-hub-signature-256", signature);
        }
        request.send().expect("POST webhook").status().as_u16()
    }

    /// `switchboard export --format jsonl`, parsed.
    pub fn export(&self) -> Vec<Value> {
        let out = self
            .dir
            .path()
            .join(format!("export-{}.jsonl", free_port()));
        let status = Command::new(binary("switchboard"))
            .args(["export", "--format", "jsonl", "--config"])
            .arg(&self.config)
            .arg("--out")
            .arg(&out)
            .current_dir(self.dir.path())
            .stderr(Stdio::null())
            .status()
            .expect("run export");
        assert!(status.success(), "export failed");
        let text = std::fs::read_to_string(&out).expect("read export");
        text.lines()
            .map(|l| serde_json::from_str(l).expect("each export line is JSON"))
            .collect()
    }

    /// Runs `switchboard <args> --config <this server's config>` with `stdin`; panics with its
    /// stderr unless it succeeds.
    pub fn cli(&self, args: &[&str], stdin: &str) {
        use std::io::Write as _;
        let mut child = Command::new(binary("switchboard"))
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run switchboard");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        let out = child.wait_with_output().expect("wait for switchboard");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Creates a user of the `demo` tenant with the CLI.
    pub fn create_user(&self, email: &str, role: &str, password: &str) {
        self.cli(
            &[
                "user", "create", "--tenant", "demo", "--email", email, "--role", role,
            ],
            &format!("{password}\n"),
        );
    }

    /// The process id of the running server.
    /// Creates the demo tenant's owner and signs in: a bearer token.
    pub fn owner_token(&self, password: &str) -> String {
        self.create_user("owner@demo.example", "owner", password);
        let token: Value = self
            .client
            .post(self.url("/api/v1/auth/token"))
            .json(&serde_json::json!({"email": "owner@demo.example", "password": password}))
            .send()
            .and_then(|r| r.json())
            .expect("token");
        token["token"].as_str().expect("a token").to_owned()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the server is running").id()
    }

    /// Whether the process is still running (it did not exit or crash).
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait for a graceful exit; returns whether it exited successfully.
    pub fn terminate(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return true;
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        match poll_until(Duration::from_secs(30), || child.try_wait().ok().flatten()) {
            Some(status) => status.success(),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                false
            }
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A `switchboard-wa-sim` process.
pub struct SimProcess {
    pub addr: SocketAddr,
    child: Child,
}

impl SimProcess {
    /// Starts the simulator for the acceptance numbers, posting webhooks to `webhook_url`.
    pub fn start(webhook_url: &str, extra_args: &[&str]) -> Self {
        Self::start_on(free_port(), webhook_url, extra_args)
    }

    /// As [`SimProcess::start`], on a port chosen beforehand (so a server can be configured
    /// with the simulator's URL before either starts).
    pub fn start_on(port: u16, webhook_url: &str, extra_args: &[&str]) -> Self {
        let child = Command::new(binary("switchboard-wa-sim"))
            .args([
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--webhook-url",
                webhook_url,
            ])
            .args(["--app-secret", APP_SECRET, "--access-token", ACCESS_TOKEN])
            .args([
                "--phone-number-id",
                "106540352242922",
                "--display-phone-number",
                "15550783881",
            ])
            .args(extra_args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("start switchboard-wa-sim");
        let sim = Self {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            child,
        };
        let url = sim.url("/_sim/health");
        wait_for("the simulator to listen", Duration::from_secs(30), || {
            reqwest::blocking::get(&url)
                .ok()
                .filter(|r| r.status().is_success())
                .map(|_| ())
        });
        sim
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn graph_api_url(&self) -> String {
        self.url("/v23.0")
    }

    /// Everything the simulator accepted.
    pub fn sent(&self) -> Vec<Value> {
        reqwest::blocking::get(self.url("/_sim/sent"))
            .and_then(|r| r.json())
            .expect("GET /_sim/sent")
    }

    pub fn stats(&self) -> Value {
        reqwest::blocking::get(self.url("/_sim/stats"))
            .and_then(|r| r.json())
            .expect("GET /_sim/stats")
    }

    /// A customer writes to the demo number; returns the wamid.
    pub fn customer_says(&self, from: &str, text: &str) -> String {
        let r: Value = reqwest::blocking::Client::new()
            .post(self.url("/_sim/inbound"))
            .json(&serde_json::json!({"from": from, "name": "Test Customer", "text": text}))
            .send()
            .and_then(|r| r.json())
            .expect("POST /_sim/inbound");
        r["wamid"].as_str().expect("a wamid").to_owned()
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
