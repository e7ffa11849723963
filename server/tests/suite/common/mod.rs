//! What the in-process integration tests share: a two-tenant configuration, a tiny API client,
//! signed webhooks, and tenants populated through the setup link and the API.
#![allow(dead_code)]

pub mod ws;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use switchboard_server::app::{self, Running};
use switchboard_server::config::Config;
use switchboard_server::connector::signature;
use switchboard_server::store::IdKeys;
use switchboard_shared::{PhoneNumberId, TenantId, WaId};

/// Acme's Meta app secret; Globex has an app of its own ([`GLOBEX_SECRET`]).
pub const SECRET: &str = "identity-test-app-secret";
pub const GLOBEX_SECRET: &str = "globex-test-app-secret";
pub const ACME_NUMBER: &str = "111111111111111";
pub const GLOBEX_NUMBER: &str = "222222222222222";
pub const PASSWORD: &str = "correct horse battery staple";

pub fn config(dir: &Path, extra: &str) -> Config {
    let mut text = format!(
        "data_dir = \"{}\"\n[simulator]\nmode = \"off\"\n[log]\nfilter = \"warn\"\n\
         [outgoing_webhooks]\nallow_http = true\nallow_private_hosts = [\"127.0.0.1\"]\n\
         retry_delays_secs = [1, 1, 1, 1, 1, 1, 1]\n\
         [push]\nallow_http = true\nallow_private_hosts = [\"127.0.0.1\"]\n{extra}\n",
        dir.join("data").display()
    );
    for (tenant, number, waba, secret) in [
        ("acme", ACME_NUMBER, "9001", SECRET),
        ("globex", GLOBEX_NUMBER, "9002", GLOBEX_SECRET),
    ] {
        text.push_str(&format!(
            "[[whatsapp.numbers]]\ntenant = \"{tenant}\"\nphone_number_id = \"{number}\"\n\
             display_phone_number = \"1555{number}\"\nwaba_id = \"{waba}\"\n\
             access_token = \"token\"\napp_secret = \"{secret}\"\nverify_token = \"verify\"\n\
             graph_api_url = \"http://127.0.0.1:9/v23.0\"\n"
        ));
    }
    let path = dir.join("switchboard.toml");
    std::fs::write(&path, text).unwrap();
    Config::load(Some(&path), []).unwrap()
}

/// A browser's `PushSubscription.toJSON()` for `endpoint`, with a valid key of no one's.
pub fn push_subscription(endpoint: &str) -> Value {
    json!({
        "endpoint": endpoint,
        "expirationTime": null,
        "keys": {
            "p256dh": "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
            "auth": "BTBZMqHH6r4Tts7J_aSIgg"
        }
    })
}

#[derive(Clone, Debug)]
pub enum Auth {
    None,
    Bearer(String),
    Cookie { cookie: String, csrf: String },
}

pub struct Api {
    pub base: String,
    pub client: reqwest::Client,
}

pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub headers: HeaderMap,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl Api {
    /// A request to `/api/v1/{path}` as `auth`.
    fn request(&self, method: Method, path: &str, auth: &Auth) -> reqwest::RequestBuilder {
        let request = self
            .client
            .request(method, format!("{}/api/v1/{path}", self.base));
        match auth {
            Auth::None => request,
            Auth::Bearer(token) => request.bearer_auth(token),
            Auth::Cookie { cookie, csrf } => request
                .header("cookie", cookie)
                .header("x-csrf-token", csrf),
        }
    }

    async fn answer(request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer {
            status,
            body,
            headers,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        auth: &Auth,
        body: Option<Value>,
    ) -> Answer {
        let mut request = self.request(method, path, auth);
        if let Some(body) = body {
            request = request.json(&body);
        }
        Self::answer(request).await
    }

    /// Sends `body` as it is, of type `content_type` (a file, a CSV).
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        auth: &Auth,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Answer {
        let request = self
            .request(method, path, auth)
            .header("content-type", content_type)
            .body(body);
        Self::answer(request).await
    }

    /// A response's status, headers and bytes as they came (a file).
    pub async fn bytes(&self, path: &str, auth: &Auth) -> (StatusCode, HeaderMap, Vec<u8>) {
        let response = self.request(Method::GET, path, auth).send().await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        (status, headers, response.bytes().await.unwrap().to_vec())
    }

    pub async fn get(&self, path: &str, auth: &Auth) -> Answer {
        self.call(Method::GET, path, auth, None).await
    }

    pub async fn send(&self, method: Method, path: &str, auth: &Auth, body: Value) -> Answer {
        self.call(method, path, auth, Some(body)).await
    }

    pub async fn token(&self, email: &str) -> Auth {
        let a = self
            .send(
                Method::POST,
                "auth/token",
                &Auth::None,
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{email}: {:?}", a.body);
        Auth::Bearer(a.body["token"].as_str().unwrap().to_owned())
    }

    pub async fn cookie_login(&self, email: &str) -> (Auth, String) {
        let a = self
            .send(
                Method::POST,
                "auth/login",
                &Auth::None,
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        let set_cookie = a.headers["set-cookie"].to_str().unwrap().to_owned();
        let cookie = set_cookie.split(';').next().unwrap().to_owned();
        let csrf = a.body["me"]["csrf_token"].as_str().unwrap().to_owned();
        (Auth::Cookie { cookie, csrf }, set_cookie)
    }
}

/// One tenant's fixtures: its owner, one user per preset role, and one of everything.
pub struct Tenant {
    pub callers: BTreeMap<&'static str, Auth>,
    pub emails: BTreeMap<&'static str, String>,
    pub ids: BTreeMap<&'static str, String>,
}

/// The WABA a test number belongs to.
pub fn waba_of(number: &str) -> &'static str {
    if number == GLOBEX_NUMBER {
        "9002"
    } else {
        "9001"
    }
}

/// The app secret that signs a test number's webhooks.
pub fn secret_of(number: &str) -> &'static str {
    if number == GLOBEX_NUMBER {
        GLOBEX_SECRET
    } else {
        SECRET
    }
}

pub fn webhook(number: &str, customer: &str, wamid: &str, text: &str) -> String {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": waba_of(number), "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": format!("1555{number}"), "phone_number_id": number},
            "contacts": [{"profile": {"name": "Customer"}, "wa_id": customer}],
            "messages": [{"from": customer, "id": wamid, "timestamp": "1749416383",
                          "type": "text", "text": {"body": text}}]
        }}]}]
    })
    .to_string()
}

/// Posts a webhook signed like Meta's, by the app of the number it names, and expects it stored.
pub async fn deliver(api: &Api, body: String) {
    let parsed: Value = serde_json::from_str(&body).unwrap();
    let number = parsed["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"]
        .as_str()
        .unwrap_or(ACME_NUMBER);
    let response = api
        .client
        .post(format!("{}/webhooks/whatsapp", api.base))
        .header(
            "x-hub-signature-256",
            signature::sign(secret_of(number).as_bytes(), body.as_bytes()),
        )
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

/// A third party on loopback (a webhook receiver, a CRM): `handle` served over HTTP/1.1 with
/// keep-alive until the test ends. Its address.
pub async fn third_party<F, Fut>(handle: F) -> std::net::SocketAddr
where
    F: Fn(hyper::Request<hyper::body::Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = hyper::Response<http_body_util::Full<bytes::Bytes>>>
        + Send
        + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let handle = handle.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let answer = handle(req);
                    async move { Ok::<_, std::convert::Infallible>(answer.await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(socket), service)
                    .await;
            });
        }
    });
    addr
}

/// Polls `check` until it gives a value, for at most `timeout`: tests wait on the state they
/// need, never on time alone.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

pub struct World {
    pub running: Running,
    pub api: Api,
    pub acme: Tenant,
    pub globex: Tenant,
    pub _dir: tempfile::TempDir,
}

pub async fn start(extra: &str) -> (Running, Api, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = app::start_on(config(dir.path(), extra), listener)
        .await
        .unwrap();
    let api = Api {
        base: format!("http://{}", running.addr),
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
    };
    (running, api, dir)
}

pub fn setup_token(link: &str) -> String {
    link.split("token=").nth(1).unwrap().to_owned()
}

/// Sets a tenant up through its setup link and the API, as an operator would.
pub async fn populate(api: &Api, keys: &IdKeys, link: &str, label: &str, number: &str) -> Tenant {
    let owner_email = format!("owner@{label}.example");
    let a = api
        .send(
            Method::POST,
            "setup",
            &Auth::None,
            json!({"token": setup_token(link), "name": "Owner", "email": owner_email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let owner = api.token(&owner_email).await;
    let mut callers = BTreeMap::from([("owner", owner.clone())]);
    let mut emails = BTreeMap::from([("owner", owner_email)]);
    let mut ids = BTreeMap::from([("number", number.to_owned())]);
    for role in ["admin", "supervisor", "agent", "viewer"] {
        let email = format!("{role}@{label}.example");
        let a = api
            .send(
                Method::POST,
                "users",
                &owner,
                json!({"email": email, "name": role, "role": role, "password": PASSWORD}),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
        ids.insert(role, a.body["id"].as_str().unwrap().to_owned());
        callers.insert(role, api.token(&email).await);
        emails.insert(role, email);
    }
    let a = api
        .send(
            Method::POST,
            "roles",
            &owner,
            json!({"name": "Reporter", "permissions": ["reports.view"]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    ids.insert("role", a.body["id"].as_str().unwrap().to_owned());
    let a = api
        .send(
            Method::POST,
            "teams",
            &owner,
            json!({"name": "Sales", "members": [ids["agent"]], "numbers": [number]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    ids.insert("team", a.body["id"].as_str().unwrap().to_owned());
    let a = api
        .send(
            Method::POST,
            "api-keys",
            &owner,
            json!({"name": "CRM", "permissions": ["audit.view"]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    ids.insert("api_key", a.body["key"]["id"].as_str().unwrap().to_owned());
    callers.insert(
        "api_key",
        Auth::Bearer(a.body["secret"].as_str().unwrap().to_owned()),
    );

    // A customer writes in, so there is a conversation.
    let customer = if label == "acme" {
        "79161234567"
    } else {
        "4915112345678"
    };
    let body = webhook(number, customer, &format!("wamid.{label}.1"), "hello");
    deliver(api, body).await;
    let tenant = TenantId::from(label);
    ids.insert(
        "conversation",
        keys.conversation_id(&tenant, &PhoneNumberId::from(number), &WaId::from(customer))
            .into_string(),
    );
    ids.insert("customer", customer.to_owned());
    // No send exists under this id: a caller past the permission check gets 404.
    ids.insert("send", format!("o_{label}_none"));
    // The customer's contact (made by their message), a segment, an attribute; no import
    // exists under its id.
    ids.insert("contact", keys.contact_id(&tenant, customer).into_string());
    let a = api
        .send(
            Method::POST,
            "segments",
            &owner,
            json!({"name": "Everyone", "filter": {"all": []}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    ids.insert("segment", a.body["id"].as_str().unwrap().to_owned());
    let a = api
        .send(
            Method::PUT,
            "attributes/city",
            &owner,
            json!({"key": "city", "label": "City", "kind": {"type": "text"}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    ids.insert("attribute", "city".to_owned());
    ids.insert("import", format!("imp_{label}_none"));
    let a = api
        .send(
            Method::POST,
            "compliance/term-lists",
            &owner,
            json!({"name": "Fixture", "action": "warn", "terms": ["zzqxv"]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    ids.insert("term_list", a.body["id"].as_str().unwrap().to_owned());
    let a = api
        .send(
            Method::POST,
            "automation/rules",
            &owner,
            json!({"name": "Fixture", "match": {"mode": "word", "keywords": ["zzqxv"]},
                   "actions": [{"reply": {"text": "fixture"}}], "shadow": true}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    ids.insert("rule", a.body["id"].as_str().unwrap().to_owned());
    let a = api
        .send(
            Method::POST,
            "automation/schedules",
            &owner,
            json!({"name": "Fixture", "time_zone": "UTC",
                   "week": {"mon": [{"from": "09:00", "to": "17:00"}]}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    ids.insert("schedule", a.body["id"].as_str().unwrap().to_owned());
    let a = api
        .send(
            Method::POST,
            "automation/flows",
            &owner,
            json!({"name": "Fixture", "start": "bye",
                   "nodes": {"bye": {"type": "end", "text": "fixture"}}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    ids.insert("flow", a.body["id"].as_str().unwrap().to_owned());
    let a = api
        .send(
            Method::POST,
            "campaigns",
            &owner,
            json!({"name": "Fixture", "template": {"name": "fixture", "language": "en_US"},
                   "audience": {"segment": ids["segment"]}, "numbers": [number]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    ids.insert("campaign", a.body["id"].as_str().unwrap().to_owned());
    let a = api
        .send(
            Method::POST,
            "retention/holds",
            &owner,
            json!({"target": {"kind": "range", "from": 0, "to": 1}, "reason": "Fixture"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    ids.insert("hold", a.body["id"].as_str().unwrap().to_owned());
    // An endpoint nobody listens at (port 9), following an event the matrix never causes.
    let a = api
        .send(
            Method::POST,
            "webhooks",
            &owner,
            json!({"url": "http://127.0.0.1:9/hook", "events": ["csat.answered"]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    ids.insert("webhook", a.body["id"].as_str().unwrap().to_owned());
    // A reply shared with the workspace (every role that replies sees it).
    let a = api
        .send(
            Method::POST,
            "saved-replies",
            &owner,
            json!({"shortcut": "hours", "text": "We answer 9 to 18.", "scope": "workspace"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    ids.insert("saved_reply", a.body["id"].as_str().unwrap().to_owned());
    // A device of the owner's subscribed to Web Push (at a closed local port: nothing is sent).
    let a = api
        .send(
            Method::POST,
            "push/subscriptions",
            &owner,
            push_subscription("http://127.0.0.1:9/push/fixture"),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    ids.insert("push_device", a.body["id"].as_str().unwrap().to_owned());
    Tenant {
        callers,
        emails,
        ids,
    }
}

pub async fn world() -> World {
    world_with("").await
}

/// [`world`] with more configuration (TOML appended to the test configuration).
pub async fn world_with(extra: &str) -> World {
    let (running, api, dir) = start(extra).await;
    assert_eq!(
        running.setup_links.len(),
        2,
        "one link per tenant without users"
    );
    let links = running.setup_links.clone();
    // The links are bound to tenants in the order tenants list (acme, globex).
    let keys = running.id_keys.clone();
    let acme = populate(&api, &keys, &links[0], "acme", ACME_NUMBER).await;
    let globex = populate(&api, &keys, &links[1], "globex", GLOBEX_NUMBER).await;
    World {
        running,
        api,
        acme,
        globex,
        _dir: dir,
    }
}

/// The demo setup: no configured numbers, the built-in simulator with `simulator` settings (TOML
/// lines of its section), and the owner created through the setup link and signed in.
pub async fn demo(simulator: &str) -> (Running, Api, Auth, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchboard.toml");
    std::fs::write(
        &path,
        format!(
            "data_dir = \"{}\"\n[simulator]\nmode = \"on\"\n{simulator}\n[log]\nfilter = \"warn\"\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let config = Config::load(Some(&path), []).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = app::start_on(config, listener).await.unwrap();
    let api = Api {
        base: format!("http://{}", running.addr),
        client: reqwest::Client::new(),
    };
    let a = api
        .send(
            Method::POST,
            "setup",
            &Auth::None,
            json!({"token": setup_token(&running.setup_links[0]), "name": "Owner",
                   "email": "owner@demo.example", "password": PASSWORD}),
        )
        .await;
    assert!(a.status.is_success(), "{:?}", a.body);
    let owner = api.token("owner@demo.example").await;
    (running, api, owner, dir)
}

/// Creates an agent called `name` and signs them in: their id and credential.
pub async fn new_agent(api: &Api, owner: &Auth, email: &str, name: &str) -> (String, Auth) {
    let a = api
        .send(
            Method::POST,
            "users",
            owner,
            json!({"email": email, "name": name, "role": "agent", "password": PASSWORD}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let id = a.body["id"].as_str().unwrap().to_owned();
    (id, api.token(email).await)
}

/// The id of the conversation with customer `from`, once the owner can list it.
pub async fn conversation_of(api: &Api, owner: &Auth, from: &str) -> String {
    eventually(
        "the customer's conversation",
        Duration::from_secs(10),
        || async {
            let list = api.get("conversations", owner).await;
            list.body["items"]
                .as_array()?
                .iter()
                .find(|c| c["customer"].as_str() == Some(from))?["id"]
                .as_str()
                .map(str::to_owned)
        },
    )
    .await
}

/// A customer (named Olga) writes `text` to the business through the simulator.
pub async fn customer_writes(api: &Api, sim: &str, from: &str, text: &str) {
    let r = api
        .client
        .post(format!("{sim}/_sim/inbound"))
        .json(&json!({"from": from, "name": "Olga", "text": text}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

/// A customer sends `bytes` as an image, `age_secs` ago: the simulator holds the file, then its
/// webhook says so. The file's media id.
pub async fn customer_sends_image(
    api: &Api,
    sim: &str,
    from: &str,
    bytes: Vec<u8>,
    age_secs: u64,
) -> String {
    let held: Value = api
        .client
        .post(format!("{sim}/_sim/media"))
        .header("content-type", "image/png")
        .body(bytes)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = held["id"].as_str().unwrap().to_owned();
    let r = api
        .client
        .post(format!("{sim}/_sim/inbound"))
        .json(
            &json!({"from": from, "name": "Olga", "age_secs": age_secs, "message": {
                "type": "image",
                "image": {"id": id, "mime_type": "image/png", "sha256": held["sha256"]},
            }}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    id
}

/// A GET of the simulator's control API (`/_sim/sent`, `/_sim/stats`), as JSON.
pub async fn sim_get<T: serde::de::DeserializeOwned>(
    client: &reqwest::Client,
    sim: &str,
    what: &str,
) -> T {
    client
        .get(format!("{sim}/_sim/{what}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// What the simulator received from the business for `to`, oldest first (the send requests).
pub async fn sent_bodies(api: &Api, sim: &str, to: &str) -> Vec<Value> {
    sim_get::<Vec<Value>>(&api.client, sim, "sent")
        .await
        .into_iter()
        .filter(|m| m["body"]["to"].as_str() == Some(to))
        .map(|m| m["body"].clone())
        .collect()
}

/// The texts the business sent `to`, oldest first.
pub async fn sent_to(api: &Api, sim: &str, to: &str) -> Vec<String> {
    sent_bodies(api, sim, to)
        .await
        .iter()
        .filter_map(|b| b["text"]["body"].as_str().map(str::to_owned))
        .collect()
}

/// The blob files under a media directory (`data/media`).
pub fn blobs(dir: &Path) -> usize {
    fn walk(p: &Path) -> usize {
        std::fs::read_dir(p)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| {
                        let path = e.path();
                        if path.is_dir() {
                            walk(&path)
                        } else {
                            1
                        }
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    walk(&dir.join("sha256"))
}
