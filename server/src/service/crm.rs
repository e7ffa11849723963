//! The CRM card: each workspace's connector to its CRM, and the card a conversation's side
//! panel shows, fetched server-side (the browser never talks to the CRM, and the CRM's
//! credential never leaves the server).
//!
//! Owns: the connector's use cases (saved whole against the version read, audited without its
//! header's value, which is sealed), fetching a card (the URL template filled in, the address
//! guard of outbound webhooks, no redirects, a hard budget, at most 1 MiB of JSON read,
//! JSONPath per field), the cache with stale-while-revalidate (a fresh card is served from
//! memory; an old one is served at once, with its age, and asked again behind it; a fetch that
//! misses the budget goes on and fills the cache for the next look), a circuit breaker per
//! workspace (5 failures in a row stop fetching for 30 s; cards come from the cache meanwhile),
//! and the prefetch when a conversation is assigned. Which fields a caller sees is decided here
//! by their role. Must not: make the composer wait (nothing else waits for a card), or know HTTP
//! routes.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use switchboard_shared::crm::{
    CrmCard, CrmConnector, CrmConnectorInput, CrmField, CrmState, CrmValue,
};
use switchboard_shared::{TenantId, WaId};

use super::documents::{invalid, DocumentError};
use super::webhooks::guard::{self, Rules};
use crate::auth::{Principal, TenantScope};
use crate::domain::{now_ms, AutomationItem, ItemKind, UnixMillis};
use crate::secret::{Sealer, Secret};
use crate::store::{Store, StoreError};

const CONNECTOR_ID: &str = "connector";
/// The most of a CRM's answer read.
pub const MAX_ANSWER: usize = 1024 * 1024;
/// Cards older than this are not shown at all.
const KEEP_MS: i64 = 24 * 3_600_000;
const BREAKER_FAILURES: u32 = 5;
const BREAKER_OPEN: Duration = Duration::from_secs(30);
/// A connector read from the store is used this long before it is read again (changes made on
/// this server apply at once).
const CONNECTOR_TTL: Duration = Duration::from_secs(5);

/// The stored connector.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Doc {
    url: String,
    method: String,
    header_name: String,
    /// The header's value, sealed (base64), when one is saved.
    #[serde(default)]
    header_sealed: Option<String>,
    fields: Vec<CrmField>,
    budget_ms: u32,
    fresh_secs: u32,
    enabled: bool,
}

/// A connector in use: its document and its header's value, opened.
struct Connector {
    doc: Doc,
    header: Option<String>,
}

/// What the cache holds for one customer.
#[derive(Default)]
struct Slot {
    /// The CRM's last answer (the whole JSON) and when it came.
    answer: Option<(Arc<Value>, UnixMillis)>,
    error: Option<String>,
    /// A fetch is running (the others wait for it rather than asking again).
    fetching: Option<tokio::sync::watch::Receiver<bool>>,
}

#[derive(Default)]
struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
}

#[derive(Clone)]
pub struct Crm {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    sealer: Sealer,
    rules: Rules,
    connectors: DashMap<TenantId, (Instant, Option<Arc<Connector>>)>,
    cache: DashMap<(TenantId, WaId), Arc<Mutex<Slot>>>,
    breakers: DashMap<TenantId, Breaker>,
}

fn context(tenant: &TenantId) -> String {
    format!("crm/{tenant}/header")
}

fn view(doc: &Doc, version: u64) -> CrmConnector {
    CrmConnector {
        url: doc.url.clone(),
        method: doc.method.clone(),
        header_name: doc.header_name.clone(),
        header_set: doc.header_sealed.is_some(),
        fields: doc.fields.clone(),
        budget_ms: doc.budget_ms,
        fresh_secs: doc.fresh_secs,
        enabled: doc.enabled,
        version,
    }
}

/// What the audit log keeps of a connector: never its header's value, sealed or not.
fn snapshot(doc: &Doc) -> String {
    let mut v = serde_json::to_value(doc).unwrap_or(Value::Null);
    v["header_sealed"] = json!(doc.header_sealed.as_ref().map(|_| "(set)"));
    v.to_string()
}

/// Fills `{{contact.phone}}`, `{{contact.id}}` and `{{contact.name}}` in, URL-encoded.
fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (name, value) in vars {
        let encoded: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
        out = out.replace(&format!("{{{{{name}}}}}"), &encoded);
    }
    out
}

/// Checks a connector as asked for, except where its host resolves: the URL its template makes
/// (placeholders filled with samples), the method, the number of fields, the budget and the
/// freshness it will use.
pub fn check_connector(
    input: &CrmConnectorInput,
    rules: &Rules,
) -> Result<(url::Url, String, usize, u32, u32), DocumentError> {
    let (doc, url) = check(input, rules)?;
    Ok((
        url,
        doc.method,
        doc.fields.len(),
        doc.budget_ms,
        doc.fresh_secs,
    ))
}

/// Checks a connector as asked for; the document to store (the header's value not yet sealed).
fn check(input: &CrmConnectorInput, rules: &Rules) -> Result<(Doc, url::Url), DocumentError> {
    let shape = fill(
        &input.url,
        &[
            ("contact.phone", "1"),
            ("contact.id", "x"),
            ("contact.name", "x"),
        ],
    );
    if shape.contains("{{") {
        return Err(invalid(
            "url",
            "only {{contact.phone}}, {{contact.id}} and {{contact.name}} are filled in",
        ));
    }
    let url = guard::check_url(&shape, rules).map_err(|r| invalid("url", r))?;
    let method = input
        .method
        .as_deref()
        .unwrap_or("GET")
        .to_ascii_uppercase();
    if method != "GET" && method != "POST" {
        return Err(invalid("method", "GET or POST"));
    }
    let header_name = input
        .header_name
        .clone()
        .unwrap_or_default()
        .trim()
        .to_owned();
    if !header_name.is_empty()
        && reqwest::header::HeaderName::from_bytes(header_name.as_bytes()).is_err()
    {
        return Err(invalid("header_name", "not an HTTP header name"));
    }
    if let Some(v) = &input.header_value {
        if reqwest::header::HeaderValue::from_str(v).is_err() {
            return Err(invalid("header_value", "not a valid header value"));
        }
    }
    if input.fields.is_empty() || input.fields.len() > 30 {
        return Err(invalid("fields", "1 to 30 fields"));
    }
    for (i, f) in input.fields.iter().enumerate() {
        if f.label.trim().is_empty() || f.label.chars().count() > 60 {
            return Err(invalid(format!("fields[{i}].label"), "1 to 60 characters"));
        }
        if let Err(e) = serde_json_path::JsonPath::parse(&f.path) {
            return Err(invalid(
                format!("fields[{i}].path"),
                format!("not JSONPath: {e}"),
            ));
        }
    }
    let budget_ms = input.budget_ms.unwrap_or(500);
    if !(50..=5_000).contains(&budget_ms) {
        return Err(invalid("budget_ms", "50 to 5000 ms"));
    }
    let fresh_secs = input.fresh_secs.unwrap_or(60);
    if !(1..=86_400).contains(&fresh_secs) {
        return Err(invalid("fresh_secs", "1 to 86400 seconds"));
    }
    Ok((
        Doc {
            url: input.url.trim().to_owned(),
            method,
            header_name,
            header_sealed: None,
            fields: input.fields.clone(),
            budget_ms,
            fresh_secs,
            enabled: input.enabled.unwrap_or(true),
        },
        url,
    ))
}

/// The fields of an answer a caller may see.
fn fields_for(doc: &Doc, answer: &Value, role: Option<&str>) -> Vec<CrmValue> {
    doc.fields
        .iter()
        .filter(|f| f.roles.is_empty() || role.is_some_and(|r| f.roles.iter().any(|x| x == r)))
        .map(|f| CrmValue {
            label: f.label.clone(),
            value: serde_json_path::JsonPath::parse(&f.path)
                .ok()
                .and_then(|p| p.query(answer).first().cloned())
                .unwrap_or(Value::Null),
        })
        .collect()
}

/// The caller's role as field visibility names it: a user's role, or `api_key`.
fn role_of(principal: &Principal) -> Option<String> {
    Some(
        principal
            .user()
            .map_or_else(|| "api_key".to_owned(), |u| u.role.clone()),
    )
}

impl Crm {
    pub fn new(store: Arc<dyn Store>, sealer: Sealer, rules: Rules) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                sealer,
                rules,
                connectors: DashMap::new(),
                cache: DashMap::new(),
                breakers: DashMap::new(),
            }),
        }
    }

    async fn stored(scope: &TenantScope) -> Result<Option<(Doc, u64)>, StoreError> {
        match scope.automation_item(ItemKind::Crm, CONNECTOR_ID).await? {
            Some(item) => {
                let doc = serde_json::from_str(&item.body)
                    .map_err(|e| StoreError::Corrupt(format!("the CRM connector: {e}")))?;
                Ok(Some((doc, item.version)))
            }
            None => Ok(None),
        }
    }

    /// `GET settings/crm`.
    pub async fn connector(&self, scope: &TenantScope) -> Result<Option<CrmConnector>, StoreError> {
        Ok(Self::stored(scope).await?.map(|(d, v)| view(&d, v)))
    }

    /// `PUT settings/crm`: checks the connector whole (its host must not be private), seals the
    /// header's value, saves it against the version read, audited without the value.
    pub async fn save(
        &self,
        principal: &Principal,
        scope: &TenantScope,
        input: CrmConnectorInput,
    ) -> Result<CrmConnector, DocumentError> {
        let (mut doc, url) = check(&input, &self.inner.rules)?;
        guard::resolve(&url, &self.inner.rules)
            .await
            .map_err(|r| invalid("url", r))?;
        let current = Self::stored(scope).await?;
        let stored = current.as_ref().map(|(_, v)| *v);
        if let Some(v) = input.version.filter(|v| Some(*v) != stored) {
            return Err(DocumentError::Conflict(format!(
                "the CRM connector is at version {}, not {v}: read it again",
                stored.map_or("none".to_owned(), |s| s.to_string())
            )));
        }
        doc.header_sealed = match input.header_value.as_deref() {
            Some("") => None,
            Some(value) => {
                use base64::Engine as _;
                let sealed = self
                    .inner
                    .sealer
                    .seal(&context(scope.tenant()), &Secret::new(value));
                Some(base64::engine::general_purpose::STANDARD.encode(sealed))
            }
            None => current.as_ref().and_then(|(d, _)| d.header_sealed.clone()),
        };
        let version = stored.map_or(1, |v| v + 1);
        let body = serde_json::to_string(&doc).map_err(|e| invalid("connector", e.to_string()))?;
        let mut audit = principal.audit("crm.update", Some(format!("crm:{CONNECTOR_ID}")), "ok");
        audit.before = current.as_ref().map(|(d, _)| snapshot(d));
        audit.after = Some(snapshot(&doc));
        scope
            .put_automation_item(
                AutomationItem {
                    tenant: scope.tenant().clone(),
                    kind: ItemKind::Crm,
                    id: CONNECTOR_ID.to_owned(),
                    version,
                    updated_at: now_ms(),
                    updated_by: principal.actor_id(),
                    body,
                },
                audit,
            )
            .await
            .map_err(|e| match e {
                StoreError::Conflict(m) => DocumentError::Conflict(m),
                e => e.into(),
            })?;
        // This server uses the new connector at once; cards made with the old one go.
        self.inner.connectors.remove(scope.tenant());
        self.inner.cache.retain(|(t, _), _| t != scope.tenant());
        self.inner.breakers.remove(scope.tenant());
        Ok(view(&doc, version))
    }

    /// The tenant's connector in use (read again every few seconds), if any and on.
    async fn live(&self, tenant: &TenantId) -> Result<Option<Arc<Connector>>, StoreError> {
        if let Some(entry) = self.inner.connectors.get(tenant) {
            if entry.0.elapsed() < CONNECTOR_TTL {
                return Ok(entry.1.clone());
            }
        }
        let item = self
            .inner
            .store
            .get_item(tenant, ItemKind::Crm, CONNECTOR_ID)
            .await?;
        let connector = match item {
            Some(item) => {
                let doc: Doc = serde_json::from_str(&item.body)
                    .map_err(|e| StoreError::Corrupt(format!("the CRM connector: {e}")))?;
                let header = doc.header_sealed.as_ref().and_then(|b| {
                    use base64::Engine as _;
                    let sealed = base64::engine::general_purpose::STANDARD.decode(b).ok()?;
                    match self.inner.sealer.open(&context(tenant), &sealed) {
                        Ok(s) => Some(s.expose().to_owned()),
                        Err(_) => {
                            tracing::error!(%tenant, "the CRM connector's header does not open with this server's secrets key; save it again");
                            None
                        }
                    }
                });
                doc.enabled.then(|| Arc::new(Connector { doc, header }))
            }
            None => None,
        };
        self.inner
            .connectors
            .insert(tenant.clone(), (Instant::now(), connector.clone()));
        Ok(connector)
    }

    fn slot(&self, tenant: &TenantId, customer: &WaId) -> Arc<Mutex<Slot>> {
        Arc::clone(
            self.inner
                .cache
                .entry((tenant.clone(), customer.clone()))
                .or_default()
                .value(),
        )
    }

    /// Asks the CRM for a customer's card when it was not asked lately (a conversation was
    /// assigned: the agent will open it). Never waits.
    pub fn prefetch(&self, tenant: &TenantId, customer: &WaId) {
        let contact_id = self
            .inner
            .store
            .id_keys()
            .contact_id(tenant, customer.as_str())
            .to_string();
        let this = self.clone();
        let (tenant, customer) = (tenant.clone(), customer.clone());
        tokio::spawn(async move {
            if let Ok(Some(connector)) = this.live(&tenant).await {
                let fresh_ms = i64::from(connector.doc.fresh_secs) * 1000;
                let slot = this.slot(&tenant, &customer);
                let fresh = {
                    let s = slot.lock().unwrap_or_else(|p| p.into_inner());
                    s.fetching.is_some()
                        || s.answer
                            .as_ref()
                            .is_some_and(|(_, at)| now_ms() - at < fresh_ms)
                };
                if !fresh {
                    this.refresh(&tenant, &customer, contact_id, None, connector);
                }
            }
        });
    }

    /// Starts a fetch behind the slot unless one runs; the receiver turns when it ends.
    fn refresh(
        &self,
        tenant: &TenantId,
        customer: &WaId,
        contact_id: String,
        name: Option<String>,
        connector: Arc<Connector>,
    ) -> tokio::sync::watch::Receiver<bool> {
        let slot = self.slot(tenant, customer);
        let mut s = slot.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(rx) = &s.fetching {
            return rx.clone();
        }
        let (tx, rx) = tokio::sync::watch::channel(false);
        s.fetching = Some(rx.clone());
        drop(s);
        let this = self.clone();
        let (tenant, customer) = (tenant.clone(), customer.clone());
        tokio::spawn(async move {
            let result = if this.breaker_open(&tenant) {
                Err("the CRM failed 5 times in a row: not asked for 30 s".to_owned())
            } else {
                let r = this
                    .fetch(&connector, &customer, &contact_id, name.as_deref())
                    .await;
                this.breaker_note(&tenant, r.is_ok());
                r
            };
            {
                let mut s = slot.lock().unwrap_or_else(|p| p.into_inner());
                match result {
                    Ok(answer) => {
                        s.answer = Some((Arc::new(answer), now_ms()));
                        s.error = None;
                    }
                    Err(e) => s.error = Some(e),
                }
                s.fetching = None;
            }
            let _ = tx.send(true);
        });
        rx
    }

    fn breaker_open(&self, tenant: &TenantId) -> bool {
        self.inner
            .breakers
            .get(tenant)
            .and_then(|b| b.open_until)
            .is_some_and(|until| Instant::now() < until)
    }

    fn breaker_note(&self, tenant: &TenantId, ok: bool) {
        let mut b = self.inner.breakers.entry(tenant.clone()).or_default();
        if ok {
            *b = Breaker::default();
        } else {
            b.failures += 1;
            if b.failures >= BREAKER_FAILURES {
                b.open_until = Some(Instant::now() + BREAKER_OPEN);
                b.failures = 0;
                tracing::warn!(%tenant, "the CRM failed {BREAKER_FAILURES} times in a row; not asked for {BREAKER_OPEN:?}");
            }
        }
    }

    /// One request to the CRM: the address checked and pinned, no redirects, at most
    /// [`MAX_ANSWER`] bytes of JSON. Not bounded by the panel's budget: a slow answer still
    /// fills the cache (a 10 s ceiling stops a CRM that never answers).
    async fn fetch(
        &self,
        connector: &Connector,
        customer: &WaId,
        contact_id: &str,
        name: Option<&str>,
    ) -> Result<Value, String> {
        let doc = &connector.doc;
        let text = fill(
            &doc.url,
            &[
                ("contact.phone", customer.as_str()),
                ("contact.id", contact_id),
                ("contact.name", name.unwrap_or("")),
            ],
        );
        let url = guard::check_url(&text, &self.inner.rules)?;
        let client = guard::pinned(
            &url,
            &self.inner.rules,
            Duration::from_secs(10),
            concat!("Switchboard-CRM/", env!("CARGO_PKG_VERSION")),
        )
        .await?;
        let mut request = if doc.method == "POST" {
            client.post(url).json(&json!({
                "phone": customer, "contact": contact_id, "name": name,
            }))
        } else {
            client.get(url)
        };
        if let (false, Some(value)) = (doc.header_name.is_empty(), &connector.header) {
            request = request.header(doc.header_name.as_str(), value.as_str());
        }
        let mut response = request
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| format!("the CRM did not answer: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("the CRM answered {}", response.status()));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_ANSWER as u64)
        {
            return Err(format!(
                "the CRM's answer is over {} KiB",
                MAX_ANSWER / 1024
            ));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            if bytes.len() + chunk.len() > MAX_ANSWER {
                return Err(format!(
                    "the CRM's answer is over {} KiB",
                    MAX_ANSWER / 1024
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&bytes).map_err(|e| format!("the CRM's answer is not JSON: {e}"))
    }

    /// A customer's card for a caller, within the connector's budget: a fresh answer from
    /// memory; an older one at once (asked again behind it); else a fetch, waited for until the
    /// budget ends.
    pub async fn card(
        &self,
        principal: &Principal,
        scope: &TenantScope,
        customer: &WaId,
    ) -> Result<CrmCard, StoreError> {
        let started = Instant::now();
        let tenant = scope.tenant();
        let Some(connector) = self.live(tenant).await? else {
            return Ok(CrmCard {
                state: CrmState::NotConfigured,
                fields: Vec::new(),
                fetched_at: None,
                age_ms: None,
                error: None,
            });
        };
        let budget = Duration::from_millis(u64::from(connector.doc.budget_ms));
        let fresh_ms = i64::from(connector.doc.fresh_secs) * 1000;
        let contact_id = scope.contact_id(customer.as_str());
        let slot = self.slot(tenant, customer);
        let (kept, fetching) = {
            let s = slot.lock().unwrap_or_else(|p| p.into_inner());
            (s.answer.clone(), s.fetching.is_some())
        };
        let now = now_ms();
        let fresh = kept.as_ref().is_some_and(|(_, at)| now - at < fresh_ms);
        if !fresh && !fetching {
            let name = if connector.doc.url.contains("{{contact.name}}") {
                scope.contact(&contact_id).await?.and_then(|c| c.name)
            } else {
                None
            };
            let mut done = self.refresh(
                tenant,
                customer,
                contact_id.to_string(),
                name,
                Arc::clone(&connector),
            );
            if kept.is_none() {
                let left = budget.saturating_sub(started.elapsed());
                let _ = tokio::time::timeout(left, done.wait_for(|d| *d)).await;
            }
        } else if kept.is_none() && fetching {
            let rx = slot
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .fetching
                .clone();
            if let Some(mut rx) = rx {
                let left = budget.saturating_sub(started.elapsed());
                let _ = tokio::time::timeout(left, rx.wait_for(|d| *d)).await;
            }
        }
        let (answer, error) = {
            let s = slot.lock().unwrap_or_else(|p| p.into_inner());
            (s.answer.clone(), s.error.clone())
        };
        let role = role_of(principal);
        let now = now_ms();
        Ok(match answer.filter(|(_, at)| now - at < KEEP_MS) {
            Some((value, at)) => CrmCard {
                state: if now - at < fresh_ms {
                    CrmState::Fresh
                } else {
                    CrmState::Stale
                },
                fields: fields_for(&connector.doc, &value, role.as_deref()),
                fetched_at: Some(at),
                age_ms: Some(now - at),
                error,
            },
            None => CrmCard {
                state: CrmState::Unavailable,
                fields: Vec::new(),
                fetched_at: None,
                age_ms: None,
                error: Some(error.unwrap_or_else(|| {
                    format!("no answer from the CRM within {} ms", budget.as_millis())
                })),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(url: &str) -> CrmConnectorInput {
        CrmConnectorInput {
            url: url.into(),
            method: None,
            header_name: Some("Authorization".into()),
            header_value: Some("Bearer x".into()),
            fields: vec![CrmField {
                label: "Orders".into(),
                path: "$.orders.length".into(),
                roles: vec![],
            }],
            budget_ms: None,
            fresh_secs: None,
            enabled: None,
            version: None,
        }
    }

    #[test]
    fn a_template_is_filled_in_url_encoded_and_only_known_names_pass() {
        assert_eq!(
            fill(
                "https://c.example/x?p={{contact.phone}}&n={{contact.name}}",
                &[("contact.phone", "4915"), ("contact.name", "Ada L&B")]
            ),
            "https://c.example/x?p=4915&n=Ada+L%26B"
        );
        let rules = Rules::default();
        assert!(check(
            &input("https://crm.example.com/c?phone={{contact.phone}}"),
            &rules
        )
        .is_ok());
        let e = check(
            &input("https://crm.example.com/c?x={{contact.email}}"),
            &rules,
        )
        .unwrap_err();
        assert!(e.to_string().contains("contact.phone"), "{e}");
        assert!(check(&input("http://crm.example.com/c"), &rules).is_err());
        let mut bad = input("https://crm.example.com/c");
        bad.fields[0].path = "orders[".into();
        assert!(check(&bad, &rules)
            .unwrap_err()
            .to_string()
            .contains("fields[0].path"));
        let mut slow = input("https://crm.example.com/c");
        slow.budget_ms = Some(10_000);
        assert!(check(&slow, &rules).is_err());
    }

    #[test]
    fn each_role_sees_its_fields() {
        let doc = Doc {
            url: String::new(),
            method: "GET".into(),
            header_name: String::new(),
            header_sealed: None,
            fields: vec![
                CrmField {
                    label: "Name".into(),
                    path: "$.name".into(),
                    roles: vec![],
                },
                CrmField {
                    label: "Revenue".into(),
                    path: "$.revenue".into(),
                    roles: vec!["admin".into()],
                },
                CrmField {
                    label: "Missing".into(),
                    path: "$.nothing".into(),
                    roles: vec![],
                },
            ],
            budget_ms: 500,
            fresh_secs: 60,
            enabled: true,
        };
        let answer = json!({"name": "Ada", "revenue": 1200});
        let agent = fields_for(&doc, &answer, Some("agent"));
        assert_eq!(
            agent.iter().map(|f| f.label.as_str()).collect::<Vec<_>>(),
            ["Name", "Missing"]
        );
        assert_eq!(agent[1].value, Value::Null);
        let admin = fields_for(&doc, &answer, Some("admin"));
        assert_eq!(admin[1].value, json!(1200));
    }
}
