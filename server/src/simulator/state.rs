//! The simulator's state and Meta's rules applied to it. Everything here is synchronous under one
//! mutex; anything that waits (status timing, webhook retries) is handed to `webhooks`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine as _;
use rand::Rng as _;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::domain::now_ms;

use super::limits::TokenBucket;
use super::webhooks::Deliverer;
use super::{SimConfig, SimNumber};
use crate::connector::wire::{Content, MarkRead, SendRequest, TemplateParameter};

mod templates;
use templates::{known_template, template_category, CreatedTemplate};

/// The customer-service window: free-form messages only within 24 h of the customer's last one.
const SERVICE_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// How many idempotency keys and sent records are remembered.
const REMEMBERED: usize = 200_000;
/// Media download URLs expire after five minutes, as Meta's do.
const MEDIA_URL_TTL: Duration = Duration::from_secs(300);
/// The largest media upload accepted (Meta: 100 MB for documents).
pub const MAX_MEDIA_BYTES: usize = 100 * 1024 * 1024;

/// Faults to inject into `/messages` calls.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Chance of a 500 with Meta's transient error (code 131000).
    pub error_5xx_rate: f64,
    /// Chance of never answering in time (the connection is held for `timeout_ms`).
    pub timeout_rate: f64,
    pub timeout_ms: u64,
    /// Added to every answer.
    pub latency_ms: u64,
    /// Error codes to answer the next calls with, one each (e.g. a 130429 storm).
    pub forced_codes: VecDeque<i64>,
}

/// One accepted send, as the control API shows it.
#[derive(Clone, Debug, Serialize)]
pub struct SentRecord {
    pub wamid: String,
    pub phone_number_id: String,
    pub to: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub body: Value,
    pub idempotency_key: Option<String>,
    /// Unix milliseconds.
    pub at_ms: i64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct SimStats {
    pub accepted: u64,
    pub rejected: BTreeMap<i64, u64>,
    pub idempotent_replays: u64,
    pub inbound_generated: u64,
    pub webhooks_delivered: u64,
    pub webhook_attempts_failed: u64,
    pub webhooks_dropped: u64,
}

/// What the HTTP layer should do with a `/messages` call before answering.
pub enum Disposition {
    Answer(u16, Value),
    /// Hold the connection this long, then answer (a fault or added latency).
    Delay(Duration, u16, Value),
}

struct Media {
    bytes: Vec<u8>,
    mime_type: String,
    sha256: String,
    phone_number_id: String,
    url_issued: Option<Instant>,
    url_token: String,
}

#[derive(Default)]
struct Inner {
    throughput: HashMap<String, TokenBucket>,
    pair: HashMap<(String, String), TokenBucket>,
    last_inbound: HashMap<(String, String), Instant>,
    inbound_wamids: HashMap<String, (String, String)>,
    /// Last business message per (number, customer), for simulated reactions.
    last_outbound: HashMap<(String, String), String>,
    sent: VecDeque<SentRecord>,
    replies: HashMap<String, (u16, Value)>,
    reply_order: VecDeque<String>,
    media: HashMap<String, Media>,
    faults: Faults,
    stats: SimStats,
    /// Templates the business submitted (`POST /{waba-id}/message_templates`), after the
    /// catalogue every account has.
    created: Vec<CreatedTemplate>,
}

pub struct SimState {
    pub(super) config: SimConfig,
    pub(super) base_url: Url,
    origin: Instant,
    inner: Mutex<Inner>,
    pub(super) deliverer: Deliverer,
}

/// Meta's error envelope.
/// Meta's answer for an id that does not exist (or is not the caller's).
pub fn unknown_object(id: &str) -> Value {
    json!({"error": {
        "message": format!("Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."),
        "type": "GraphMethodException", "code": 100, "error_subcode": 33}})
}

pub fn graph_error(code: i64, title: &str, details: &str) -> Value {
    json!({"error": {
        "message": format!("(#{code}) {title}"),
        "type": "OAuthException",
        "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": details},
        "fbtrace_id": fbtrace_id(),
    }})
}

fn fbtrace_id() -> String {
    let bytes: [u8; 16] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)[..22].to_owned()
}

/// A realistic message id: `wamid.` + base64 of a protobuf-like blob holding the recipient.
pub fn new_wamid(recipient: &str) -> String {
    // Meta's ids are base64 of a small protobuf-like blob: 0x1C 0x18 <len> <recipient> ...
    let mut blob = vec![0x1C, 0x18, recipient.len() as u8];
    blob.extend_from_slice(recipient.as_bytes());
    blob.extend_from_slice(&[0x15, 0x02, 0x00, 0x11, 0x18, 0x12]);
    let id: [u8; 9] = rand::random();
    blob.extend_from_slice(hex::encode_upper(id).as_bytes());
    blob.push(0x00);
    format!(
        "wamid.{}",
        base64::engine::general_purpose::STANDARD.encode(blob)
    )
}

impl SimState {
    pub fn new(config: SimConfig, base_url: Url, shutdown: CancellationToken) -> Arc<Self> {
        let deliverer = Deliverer::start(
            config.webhook_url.clone(),
            config.app_secret.clone(),
            config.retries.clone(),
            shutdown,
        );
        Arc::new(Self {
            config,
            base_url,
            origin: Instant::now(),
            inner: Mutex::new(Inner::default()),
            deliverer,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave Meta's rules half-applied in a way that
        // matters more than stopping the simulator would; keep serving.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    pub(super) fn number(&self, phone_number_id: &str) -> Option<&SimNumber> {
        self.config
            .numbers
            .iter()
            .find(|n| n.phone_number_id == phone_number_id)
    }

    pub fn sent(&self) -> Vec<SentRecord> {
        self.lock().sent.iter().cloned().collect()
    }

    pub fn stats(&self) -> SimStats {
        let mut stats = self.lock().stats.clone();
        let (delivered, failed, dropped) = self.deliverer.counts();
        stats.webhooks_delivered = delivered;
        stats.webhook_attempts_failed = failed;
        stats.webhooks_dropped = dropped;
        stats
    }

    pub fn set_faults(&self, faults: Faults) {
        self.lock().faults = faults;
    }

    pub fn faults(&self) -> Faults {
        self.lock().faults.clone()
    }

    fn reject(&self, inner: &mut Inner, status: u16, body: Value) -> Disposition {
        let (status, body) = count(inner, status, body);
        Disposition::Answer(status, body)
    }

    /// Checks the bearer token for a number: Meta answers 401 with code 190 otherwise.
    pub fn authorize(&self, number: &SimNumber, authorization: Option<&str>) -> Result<(), Value> {
        let token = authorization.and_then(|h| h.strip_prefix("Bearer "));
        if token == Some(number.access_token.expose()) {
            Ok(())
        } else {
            Err(graph_error(
                190,
                "Invalid OAuth access token - Cannot parse access token",
                "The access token is invalid or expired",
            ))
        }
    }

    /// `POST /{version}/{phone_number_id}/messages`.
    pub fn handle_messages(
        &self,
        version: &str,
        phone_number_id: &str,
        authorization: Option<&str>,
        idempotency_key: Option<String>,
        body: &[u8],
    ) -> Disposition {
        let mut inner = self.lock();
        let Some(number) = self.number(phone_number_id).cloned() else {
            let body = json!({"error": {
                "message": format!("Unsupported post request. Object with ID '{phone_number_id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"),
                "type": "GraphMethodException", "code": 100, "error_subcode": 33, "fbtrace_id": fbtrace_id()}});
            return self.reject(&mut inner, 400, body);
        };
        if let Err(body) = self.authorize(&number, authorization) {
            return self.reject(&mut inner, 401, body);
        }
        if let Some(key) = &idempotency_key {
            if let Some((status, reply)) = inner.replies.get(key).cloned() {
                inner.stats.idempotent_replays += 1;
                return Disposition::Answer(status, reply);
            }
        }
        // Injected faults come before any effect, as a failing Meta front end would.
        let latency = Duration::from_millis(inner.faults.latency_ms);
        if let Some(code) = inner.faults.forced_codes.pop_front() {
            let body = forced_error(code);
            let status = if code == 131000 { 500 } else { 400 };
            return self.reject(&mut inner, status, body);
        }
        let (timeout_rate, timeout_ms, error_5xx_rate) = (
            inner.faults.timeout_rate,
            inner.faults.timeout_ms,
            inner.faults.error_5xx_rate,
        );
        let mut rng = rand::rng();
        if timeout_rate > 0.0 && rng.random_bool(timeout_rate.min(1.0)) {
            let hold = Duration::from_millis(timeout_ms.max(1));
            let body = graph_error(131000, "Something went wrong", "Request timed out");
            *inner.stats.rejected.entry(-1).or_default() += 1;
            return Disposition::Delay(hold, 504, body);
        }
        if error_5xx_rate > 0.0 && rng.random_bool(error_5xx_rate.min(1.0)) {
            let body = graph_error(131000, "Something went wrong", "An unknown error occurred");
            return self.reject(&mut inner, 500, body);
        }

        let value: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                let body = graph_error(
                    100,
                    "Invalid parameter",
                    &format!("Request body is not valid JSON: {e}"),
                );
                return self.reject(&mut inner, 400, body);
            }
        };
        let answer = if value.get("status").and_then(Value::as_str) == Some("read") {
            self.mark_read(&mut inner, &number, value)
        } else {
            self.send(&mut inner, version, &number, value, idempotency_key.clone())
        };
        if let (Some(key), (status, reply)) = (idempotency_key, &answer) {
            if *status == 200 {
                remember_reply(&mut inner, key, *status, reply.clone());
            }
        }
        let (status, reply) = answer;
        if latency.is_zero() {
            Disposition::Answer(status, reply)
        } else {
            Disposition::Delay(latency, status, reply)
        }
    }

    fn mark_read(&self, inner: &mut Inner, number: &SimNumber, value: Value) -> (u16, Value) {
        let request: MarkRead = match serde_json::from_value(value) {
            Ok(r) => r,
            Err(e) => {
                return count(
                    inner,
                    400,
                    graph_error(100, "Invalid parameter", &e.to_string()),
                )
            }
        };
        match inner.inbound_wamids.get(&request.message_id) {
            Some((pnid, _)) if *pnid == number.phone_number_id => (200, json!({"success": true})),
            _ => count(
                inner,
                400,
                graph_error(131009, "Parameter value is not valid", "Invalid message_id"),
            ),
        }
    }

    fn send(
        &self,
        inner: &mut Inner,
        version: &str,
        number: &SimNumber,
        value: Value,
        idempotency_key: Option<String>,
    ) -> (u16, Value) {
        let request: SendRequest = match serde_json::from_value(value.clone()) {
            Ok(r) => r,
            Err(e) => {
                return count(
                    inner,
                    400,
                    graph_error(100, "Invalid parameter", &e.to_string()),
                );
            }
        };
        if request.messaging_product != "whatsapp" {
            return count(
                inner,
                400,
                graph_error(
                    100,
                    "Invalid parameter",
                    "messaging_product must be whatsapp",
                ),
            );
        }
        let Some(input) = request.recipient_id().map(str::to_owned) else {
            return count(
                inner,
                400,
                graph_error(
                    131008,
                    "Required parameter is missing",
                    "Parameter 'to' is required.",
                ),
            );
        };
        if let Err((code, title, details)) = validate_content(&request.content, inner) {
            return count(inner, 400, graph_error(code, title, &details));
        }
        let wa_id: String = input.chars().filter(char::is_ascii_digit).collect();
        let recipient = if request.to.is_some() {
            wa_id.clone()
        } else {
            input.clone()
        };
        let now = self.now();
        let pnid = number.phone_number_id.clone();
        let bucket = inner
            .throughput
            .entry(pnid.clone())
            .or_insert_with(|| TokenBucket::throughput(number.mps, now));
        if !bucket.try_take(now) {
            let mut body = graph_error(
                130429,
                "Rate limit hit",
                "Cloud API message throughput has been reached.",
            );
            body["error"]["error_subcode"] = json!(2494055);
            return count(inner, 400, body);
        }
        let pair = inner
            .pair
            .entry((pnid.clone(), recipient.clone()))
            .or_insert_with(|| TokenBucket::pair(now));
        if !pair.try_take(now) {
            return count(
                inner,
                400,
                graph_error(
                    131056,
                    "(Business Account, Consumer Account) pair rate limit hit",
                    "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.",
                ),
            );
        }

        let wamid = new_wamid(&recipient);
        let kind = request.content.kind().to_owned();
        let in_window = inner
            .last_inbound
            .get(&(pnid.clone(), recipient.clone()))
            .is_some_and(|t| t.elapsed() < SERVICE_WINDOW);
        let undeliverable = request.to.is_some() && !(7..=15).contains(&wa_id.len());
        let category = template_category(&request.content, inner);
        inner.stats.accepted += 1;
        inner.sent.push_back(SentRecord {
            wamid: wamid.clone(),
            phone_number_id: pnid.clone(),
            to: recipient.clone(),
            kind: kind.clone(),
            body: value,
            idempotency_key,
            at_ms: now_ms(),
        });
        if inner.sent.len() > REMEMBERED {
            inner.sent.pop_front();
        }
        inner
            .last_outbound
            .insert((pnid.clone(), recipient.clone()), wamid.clone());

        let failure = if undeliverable {
            Some((131026, "Message undeliverable", "Message Undeliverable."))
        } else if !request.content.is_template() && !in_window {
            Some((
                131047,
                "Re-engagement message",
                "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
            ))
        } else {
            None
        };
        let plan = StatusPlan {
            number: number.clone(),
            wamid: wamid.clone(),
            recipient: recipient.clone(),
            category: category.map(str::to_owned),
            in_window,
            v24: version_at_least(version, 24),
            callback_data: request.biz_opaque_callback_data.clone(),
            failure,
        };
        self.schedule_statuses(plan);

        let mut message = json!({"id": wamid});
        if request.content.is_template() {
            message["message_status"] = json!("accepted");
        }
        (
            200,
            json!({
                "messaging_product": "whatsapp",
                "contacts": [{"input": input, "wa_id": if request.to.is_some() { wa_id } else { input.clone() }}],
                "messages": [message],
            }),
        )
    }

    fn schedule_statuses(&self, plan: StatusPlan) {
        let b = &self.config.statuses;
        let mut rng = rand::rng();
        let mut steps: Vec<(Duration, &'static str)> = Vec::new();
        if plan.failure.is_some() {
            steps.push((b.sent_after, "failed"));
        } else {
            steps.push((b.sent_after, "sent"));
            let read = !rng.random_bool(b.unread_rate.clamp(0.0, 1.0));
            let skip_delivered = read && rng.random_bool(b.skip_delivered_rate.clamp(0.0, 1.0));
            if !skip_delivered {
                steps.push((b.delivered_after, "delivered"));
            }
            if read {
                steps.push((b.read_after, "read"));
            }
        }
        if b.out_of_order && steps.len() > 1 {
            let delays: Vec<Duration> = steps.iter().map(|s| s.0).collect();
            for (step, delay) in steps.iter_mut().zip(delays.into_iter().rev()) {
                step.0 = delay;
            }
        }
        let priced = steps.iter().rev().find(|s| s.1 != "failed").map(|s| s.1);
        for (delay, status) in steps {
            let body = plan.webhook(
                status,
                plan.v24 && Some(status) == priced || !plan.v24 && status != "read",
            );
            let copies = if rng.random_bool(b.duplicate_rate.clamp(0.0, 1.0)) {
                2
            } else {
                1
            };
            for _ in 0..copies {
                self.deliverer.deliver(body.clone(), delay);
            }
        }
    }

    /// A customer sends `message` (the `messages[]` object without from/id/timestamp) to a
    /// number; the business gets the webhook. Returns the new wamid.
    pub fn inbound(
        &self,
        phone_number_id: &str,
        from: &str,
        name: &str,
        message: Value,
    ) -> Option<String> {
        self.inbound_aged(phone_number_id, from, name, message, Duration::ZERO)
    }

    /// [`SimState::inbound`] for a message the customer wrote `age` ago (its webhook arrives
    /// now, late, as Meta's retries can deliver it): the 24-hour window runs from then.
    pub fn inbound_aged(
        &self,
        phone_number_id: &str,
        from: &str,
        name: &str,
        mut message: Value,
        age: Duration,
    ) -> Option<String> {
        let number = self.number(phone_number_id)?.clone();
        let wamid = new_wamid(from);
        {
            let mut inner = self.lock();
            let key = (number.phone_number_id.clone(), from.to_owned());
            // Older than this machine's monotonic clock: simply no recent message.
            match Instant::now().checked_sub(age) {
                Some(at) => {
                    inner.last_inbound.insert(key, at);
                }
                None => {
                    inner.last_inbound.remove(&key);
                }
            }
            inner.inbound_wamids.insert(
                wamid.clone(),
                (number.phone_number_id.clone(), from.to_owned()),
            );
            inner.stats.inbound_generated += 1;
        }
        let object = message.as_object_mut()?;
        object.insert("from".into(), json!(from));
        object.insert("id".into(), json!(wamid));
        let sent_at = (now_ms() - age.as_millis() as i64) / 1000;
        object.insert("timestamp".into(), json!(sent_at.to_string()));
        let body = json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": number.waba_id, "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": number.display_phone_number, "phone_number_id": number.phone_number_id},
                "contacts": [{"profile": {"name": name}, "wa_id": from}],
                "messages": [message],
            }}]}],
        });
        self.deliverer.deliver(body, Duration::ZERO);
        Some(wamid)
    }

    /// Sends an account-level webhook (`field` with `value`) for the number's WABA, as Meta
    /// does: no `metadata`, the time on the entry.
    pub fn account_event(
        &self,
        phone_number_id: &str,
        field: &str,
        mut value: Value,
    ) -> Option<()> {
        let number = self.number(phone_number_id)?.clone();
        if field == "phone_number_quality_update" {
            if let Some(object) = value.as_object_mut() {
                object
                    .entry("display_phone_number")
                    .or_insert_with(|| json!(number.display_phone_number));
            }
        }
        let body = json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": number.waba_id, "time": now_ms() / 1000,
                       "changes": [{"field": field, "value": value}]}],
        });
        self.deliverer.deliver(body, Duration::ZERO);
        Some(())
    }

    pub fn inbound_text(
        &self,
        phone_number_id: &str,
        from: &str,
        name: &str,
        text: &str,
    ) -> Option<String> {
        self.inbound(
            phone_number_id,
            from,
            name,
            json!({"type": "text", "text": {"body": text}}),
        )
    }

    /// The business's last message to a customer, for simulated reactions.
    pub fn last_outbound(&self, phone_number_id: &str, customer: &str) -> Option<String> {
        self.lock()
            .last_outbound
            .get(&(phone_number_id.to_owned(), customer.to_owned()))
            .cloned()
    }

    /// Stores uploaded media and returns its id.
    pub fn store_media(&self, phone_number_id: &str, bytes: Vec<u8>, mime_type: String) -> String {
        let id: u64 = rand::rng().random_range(1_000_000_000_000_000..9_999_999_999_999_999);
        let media = Media {
            sha256: hex::encode(Sha256::digest(&bytes)),
            bytes,
            mime_type,
            phone_number_id: phone_number_id.to_owned(),
            url_issued: None,
            url_token: hex::encode(rand::random::<[u8; 16]>()),
        };
        self.lock().media.insert(id.to_string(), media);
        id.to_string()
    }

    /// `GET /{version}/{media_id}`: a short-lived URL and the metadata.
    pub fn media_info(&self, media_id: &str, phone_number_id: Option<&str>) -> Option<Value> {
        let mut inner = self.lock();
        let media = inner.media.get_mut(media_id)?;
        if phone_number_id.is_some_and(|p| p != media.phone_number_id) {
            return None;
        }
        media.url_issued = Some(Instant::now());
        Some(json!({
            "messaging_product": "whatsapp",
            "url": format!("{}_sim/media/{media_id}?token={}", self.base_url, media.url_token),
            "mime_type": media.mime_type,
            "sha256": media.sha256,
            "file_size": media.bytes.len().to_string(),
            "id": media_id,
        }))
    }

    /// Which number owns a media id.
    pub fn media_owner(&self, media_id: &str) -> Option<String> {
        self.lock()
            .media
            .get(media_id)
            .map(|m| m.phone_number_id.clone())
    }

    /// The bytes behind a media URL, while the URL is fresh.
    pub fn media_download(&self, media_id: &str, token: &str) -> Option<(Vec<u8>, String)> {
        let inner = self.lock();
        let media = inner.media.get(media_id)?;
        let fresh = media
            .url_issued
            .is_some_and(|t| t.elapsed() < MEDIA_URL_TTL);
        (fresh && media.url_token == token).then(|| (media.bytes.clone(), media.mime_type.clone()))
    }

    pub fn media_delete(&self, media_id: &str) -> bool {
        self.lock().media.remove(media_id).is_some()
    }

    /// Meta's retention, on demand: the media (one id, or all) is gone, as after its 7 or 30
    /// days. Returns how many files went.
    pub fn expire_media(&self, media_id: Option<&str>) -> usize {
        let mut inner = self.lock();
        match media_id {
            Some(id) => usize::from(inner.media.remove(id).is_some()),
            None => {
                let n = inner.media.len();
                inner.media.clear();
                n
            }
        }
    }
}

/// Records a refused call under its Graph error code and passes the answer through.
fn count(inner: &mut Inner, status: u16, body: Value) -> (u16, Value) {
    let code = body["error"]["code"].as_i64().unwrap_or_default();
    *inner.stats.rejected.entry(code).or_default() += 1;
    (status, body)
}

fn remember_reply(inner: &mut Inner, key: String, status: u16, reply: Value) {
    if inner.replies.insert(key.clone(), (status, reply)).is_none() {
        inner.reply_order.push_back(key);
        if inner.reply_order.len() > REMEMBERED {
            if let Some(old) = inner.reply_order.pop_front() {
                inner.replies.remove(&old);
            }
        }
    }
}

fn forced_error(code: i64) -> Value {
    match code {
        130429 => {
            let mut body = graph_error(
                130429,
                "Rate limit hit",
                "Cloud API message throughput has been reached.",
            );
            body["error"]["error_subcode"] = json!(2494055);
            body
        }
        131056 => graph_error(
            131056,
            "(Business Account, Consumer Account) pair rate limit hit",
            "Too many messages to the same recipient.",
        ),
        131000 => graph_error(131000, "Something went wrong", "An unknown error occurred"),
        190 => graph_error(
            190,
            "Invalid OAuth access token - Cannot parse access token",
            "The access token is invalid",
        ),
        other => graph_error(
            other,
            "Simulated error",
            "Injected by the simulator's fault control",
        ),
    }
}

fn version_at_least(version: &str, major: u32) -> bool {
    version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok())
        .is_some_and(|m| m >= major)
}

/// Meta's synchronous validation, for the limits the docs state.
fn validate_content(content: &Content, inner: &Inner) -> Result<(), (i64, &'static str, String)> {
    let invalid = |details: String| Err((100, "Invalid parameter", details));
    match content {
        Content::Text { text } => {
            if text.body.is_empty() {
                return invalid("Param text['body'] must be non-empty.".into());
            }
            if text.body.chars().count() > 4096 {
                return invalid("Param text['body'] must be at most 4096 characters long.".into());
            }
        }
        Content::Image { image: m }
        | Content::Audio { audio: m }
        | Content::Video { video: m }
        | Content::Document { document: m }
        | Content::Sticker { sticker: m } => match (&m.id, &m.link) {
            (Some(id), None) if !inner.media.contains_key(id) => {
                return invalid(format!("Media id {id} does not exist or has expired."));
            }
            (Some(_), None) | (None, Some(_)) => {}
            _ => return invalid("Provide exactly one of 'id' or 'link'.".into()),
        },
        Content::Interactive { interactive } => {
            let a = &interactive.action;
            match interactive.kind.as_str() {
                "button" => {
                    if a.buttons.is_empty() || a.buttons.len() > 3 {
                        return invalid("Reply buttons: 1 to 3 buttons.".into());
                    }
                    if a.buttons
                        .iter()
                        .any(|b| b.reply.title.chars().count() > 20 || b.reply.id.len() > 256)
                    {
                        return invalid(
                            "Button title must be at most 20 characters, id at most 256.".into(),
                        );
                    }
                    let mut titles: Vec<_> = a.buttons.iter().map(|b| &b.reply.title).collect();
                    titles.sort();
                    titles.dedup();
                    if titles.len() != a.buttons.len() {
                        return invalid("Button titles must be unique.".into());
                    }
                }
                "list" => {
                    let rows: usize = a.sections.iter().map(|s| s.rows.len()).sum();
                    if a.sections.is_empty() || a.sections.len() > 10 || rows == 0 || rows > 10 {
                        return invalid("List: 1 to 10 sections and 1 to 10 rows in total.".into());
                    }
                    if a.button.as_ref().is_none_or(|b| b.chars().count() > 20) {
                        return invalid(
                            "List button label is required, at most 20 characters.".into(),
                        );
                    }
                    if a.sections
                        .iter()
                        .flat_map(|s| &s.rows)
                        .any(|r| r.title.chars().count() > 24)
                    {
                        return invalid("List row title must be at most 24 characters.".into());
                    }
                }
                _ => {}
            }
            if interactive.body.text.chars().count() > 4096 {
                return invalid("Interactive body too long.".into());
            }
        }
        Content::Template { template } => {
            let Some(known) = known_template(inner, &template.name, &template.language.code)
                .filter(|t| t.status == "APPROVED")
            else {
                return Err((
                    132001,
                    "Template name does not exist in the translation",
                    format!(
                        "template name ({}) does not exist in {}",
                        template.name, template.language.code
                    ),
                ));
            };
            let given: usize = template
                .components
                .iter()
                .filter(|c| c.kind == "body")
                .map(|c| {
                    c.parameters
                        .iter()
                        .filter(|p| {
                            matches!(
                                p,
                                TemplateParameter::Text { .. }
                                    | TemplateParameter::Currency { .. }
                                    | TemplateParameter::DateTime { .. }
                            )
                        })
                        .count()
                })
                .sum();
            let params = known.params;
            if given != params {
                return Err((
                    132000,
                    "Number of parameters does not match the expected number of params",
                    format!("body: number of localizable_params ({given}) does not match the expected number of params ({params})"),
                ));
            }
            templates::check_parts(&known, template)?;
        }
        Content::Reaction { reaction } => {
            if !reaction.message_id.starts_with("wamid.") {
                return invalid("Reaction message_id must be a wamid.".into());
            }
        }
        Content::Location { location } => {
            if !(-90.0..=90.0).contains(&location.latitude)
                || !(-180.0..=180.0).contains(&location.longitude)
            {
                return invalid("Latitude or longitude out of range.".into());
            }
        }
        Content::Contacts { contacts } => {
            if contacts.is_empty() {
                return invalid("At least one contact is required.".into());
            }
        }
    }
    Ok(())
}

/// What status webhooks one accepted send produces.
struct StatusPlan {
    number: SimNumber,
    wamid: String,
    recipient: String,
    category: Option<String>,
    in_window: bool,
    v24: bool,
    callback_data: Option<String>,
    failure: Option<(i64, &'static str, &'static str)>,
}

impl StatusPlan {
    fn webhook(&self, status: &str, priced: bool) -> Value {
        let now = now_ms() / 1000;
        let mut entry = json!({
            "id": self.wamid,
            "status": status,
            "timestamp": now.to_string(),
            "recipient_id": self.recipient,
        });
        if let Some(data) = &self.callback_data {
            entry["biz_opaque_callback_data"] = json!(data);
        }
        if let Some((code, title, details)) = self.failure {
            entry["errors"] = json!([{
                "code": code, "title": title, "message": title,
                "error_data": {"details": details},
                "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
            }]);
        } else if priced {
            let category = self.category.clone().unwrap_or_else(|| "service".into());
            let free = self.in_window && category != "marketing";
            entry["pricing"] = json!({
                "billable": !free,
                "pricing_model": "PMP",
                "type": if free { "free_customer_service" } else { "regular" },
                "category": category,
            });
            if !self.v24 {
                let mut conversation = json!({"id": hex::encode(&Sha256::digest(self.wamid.as_bytes())[..16]), "origin": {"type": category}});
                if status == "sent" {
                    conversation["expiration_timestamp"] = json!((now + 86_400).to_string());
                }
                entry["conversation"] = conversation;
            }
        }
        json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": self.number.waba_id, "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": self.number.display_phone_number, "phone_number_id": self.number.phone_number_id},
                "statuses": [entry],
            }}]}],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wamids_look_like_metas_and_are_unique() {
        let a = new_wamid("16505551234");
        let b = new_wamid("16505551234");
        assert!(a.starts_with("wamid.HBgL"), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn versions_compare_by_major() {
        assert!(version_at_least("v24.0", 24));
        assert!(!version_at_least("v23.0", 24));
        assert!(!version_at_least("latest", 24));
    }
}
