//! Bot flows at run time, and what admins do to them.
//!
//! Owns: the flow use cases (checked by the pure core `crate::flow`, against the workspace's
//! attributes), each contact's run (one at a time, stored whole with the flow as it was when the
//! run started, so an edit never changes a run under way), performing a step's effects (messages
//! through the word filter and the durable outbox, each keyed by the run and its sequence number
//! so a crash never sends one twice; contact attributes; the hand-off's tag and note; HTTP
//! lookups behind the address guard), resuming after a restart, and the counts behind the
//! deflection rate. Must not: decide where a run goes (the pure core does) or know HTTP routes.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;
use switchboard_shared::flow::*;
use switchboard_shared::{ConversationId, FlowId, MessageKey, PhoneNumberId, TenantId, Wamid};

use super::super::documents::{invalid, DocumentActor, DocumentError, DocumentKind};
use super::super::outbound::Draft;
use super::{Automation, Sender};
use crate::auth::TenantScope;
use crate::domain::*;
use crate::flow::{self, advance, Effect, Event, Fetch, Finish, RunState};
use crate::store::StoreError;

const FLOWS: DocumentKind = DocumentKind {
    kind: ItemKind::Flow,
    prefix: "fl",
    noun: "flow",
    limit: MAX_FLOWS_PER_TENANT,
};

/// A contact's run (the document of a `flow_run` item, by the customer's WhatsApp id).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct RunDoc {
    run: String,
    flow: FlowId,
    /// The flow's version, and the flow as it was then.
    version: u64,
    definition: FlowInput,
    number: PhoneNumberId,
    conversation: ConversationId,
    state: RunState,
    started_at: i64,
    /// Where in its conversation's order the last customer message the run took is (the one
    /// that started it, then each answer): a replayed message at or before it was taken
    /// already.
    #[serde(default)]
    last_input: i64,
}

/// How many runs of a flow started, completed without a person, or were handed off.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct FlowCounts {
    started: u64,
    completed: u64,
    handed_off: u64,
}

fn wire(item: &AutomationItem, doc: &FlowInput, counts: FlowCounts) -> Flow {
    Flow {
        id: FlowId::new(item.id.clone()),
        name: doc.name.clone(),
        start: doc.start.clone(),
        nodes: doc.nodes.clone(),
        allow_hosts: doc.allow_hosts.clone(),
        has_secret: doc.secret.is_some(),
        enabled: doc.enabled,
        version: item.version,
        updated_at: item.updated_at,
        updated_by: item.updated_by.clone(),
        started: counts.started,
        completed: counts.completed,
        handed_off: counts.handed_off,
    }
}

/// The button or row a customer tapped, from the message as WhatsApp sent it.
/// A run's id, from the tenant and the message that started it.
fn run_id(tenant: &TenantId, message: &MessageKey) -> String {
    use sha2::Digest;
    let digest = Sha256::new()
        .chain_update(tenant.as_str())
        .chain_update([0])
        .chain_update(message.as_str())
        .finalize();
    format!("fr_{}", &hex::encode(digest)[..24])
}

fn tapped(raw: &str) -> Option<String> {
    let v: Value = serde_json::from_str(raw).ok()?;
    v.pointer("/interactive/button_reply/id")
        .or_else(|| v.pointer("/interactive/list_reply/id"))
        .or_else(|| v.pointer("/button/payload"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

impl Automation {
    fn counts(&self, tenant: &TenantId, flow: &str) -> FlowCounts {
        self.inner
            .flow_counts
            .get(&(tenant.clone(), flow.to_owned()))
            .map_or_else(FlowCounts::default, |c| *c)
    }

    fn count(&self, tenant: &TenantId, flow: &FlowId, what: impl FnOnce(&mut FlowCounts)) {
        let mut c = self
            .inner
            .flow_counts
            .entry((tenant.clone(), flow.to_string()))
            .or_default();
        what(&mut c);
    }

    /// The tenant's flows by name.
    pub async fn flows(&self, scope: &TenantScope) -> Result<Vec<Flow>, StoreError> {
        let mut out = Vec::new();
        for item in scope.automation_items(ItemKind::Flow).await? {
            match serde_json::from_str::<FlowInput>(&item.body) {
                Ok(doc) => out.push(wire(&item, &doc, self.counts(scope.tenant(), &item.id))),
                Err(e) => {
                    tracing::error!(flow = %item.id, error = %e, "a stored flow is unreadable")
                }
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    pub async fn flow(&self, scope: &TenantScope, id: &FlowId) -> Result<Flow, DocumentError> {
        let (item, doc) = FLOWS.read::<FlowInput>(scope, id.as_str()).await?;
        Ok(wire(&item, &doc, self.counts(scope.tenant(), &item.id)))
    }

    async fn checked_flow(
        &self,
        scope: &TenantScope,
        mut input: FlowInput,
        keep_secret: Option<String>,
    ) -> Result<FlowInput, DocumentError> {
        flow::check(&input).map_err(|e| invalid(e.field, e.message))?;
        let schema = AttributeSchema::new(&scope.attributes().await?)
            .map_err(|e| StoreError::Corrupt(format!("attribute definitions: {e}")))?;
        for (id, node) in &input.nodes {
            if let Node::Question {
                attribute: Some(key),
                ..
            } = node
            {
                if schema.check(key, &Value::Null).is_err() {
                    return Err(invalid(
                        format!("nodes.{id}.attribute"),
                        format!("no attribute `{key}` is defined in this workspace"),
                    ));
                }
            }
        }
        input.name = input.name.trim().to_owned();
        input.version = None;
        if input.secret.is_none() {
            input.secret = keep_secret;
        }
        Ok(input)
    }

    pub async fn create_flow(
        &self,
        actor: &DocumentActor<'_>,
        input: FlowInput,
    ) -> Result<Flow, DocumentError> {
        let doc = self.checked_flow(actor.scope, input, None).await?;
        let item = FLOWS.create(actor, &Redacted(&doc)).await;
        // The audit line must not carry the secret: the stored body is written below.
        let item = self.store_flow_body(item?, &doc).await?;
        Ok(wire(&item, &doc, FlowCounts::default()))
    }

    pub async fn replace_flow(
        &self,
        actor: &DocumentActor<'_>,
        id: &FlowId,
        input: FlowInput,
    ) -> Result<Flow, DocumentError> {
        let (current, stored) = FLOWS.read::<FlowInput>(actor.scope, id.as_str()).await?;
        let version = input.version;
        let doc = self
            .checked_flow(actor.scope, input, stored.secret.clone())
            .await?;
        let item = FLOWS
            .replace(actor, current, version, &Redacted(&doc))
            .await?;
        let item = self.store_flow_body(item, &doc).await?;
        Ok(wire(
            &item,
            &doc,
            self.counts(actor.scope.tenant(), id.as_str()),
        ))
    }

    /// Writes the flow with its secret over the audited, redacted copy (one version more).
    async fn store_flow_body(
        &self,
        item: AutomationItem,
        doc: &FlowInput,
    ) -> Result<AutomationItem, DocumentError> {
        if doc.secret.is_none() {
            return Ok(item);
        }
        let full = AutomationItem {
            version: item.version + 1,
            body: serde_json::to_string(doc).map_err(|e| StoreError::Invalid(e.to_string()))?,
            ..item
        };
        self.inner.store.put_item(&full, None).await?;
        Ok(full)
    }

    /// Deletes a flow no rule starts (runs under way finish on the definition they hold).
    pub async fn delete_flow(
        &self,
        actor: &DocumentActor<'_>,
        id: &FlowId,
    ) -> Result<(), DocumentError> {
        let compiled = self.compiled(actor.scope.tenant()).await?;
        if let Some((item, doc)) = compiled.rules.iter().find(|(_, d)| {
            d.actions
                .iter()
                .any(|a| matches!(a, switchboard_shared::automation::RuleAction::StartFlow { flow } if flow == id))
        }) {
            return Err(DocumentError::Conflict(format!(
                "the rule `{}` ({}) starts this flow; change the rule first",
                doc.name, item.id
            )));
        }
        FLOWS.delete(actor, id.as_str()).await
    }

    /// Starts `flow` for the customer of `message`, unless they are in a run already.
    pub(super) async fn start_flow(
        &self,
        tenant: &TenantId,
        message: &InboundMessage,
        conversation: &ConversationId,
        flow: &FlowId,
        now: i64,
    ) -> Result<(), String> {
        let store = &self.inner.store;
        let customer = message.customer.as_str();
        if store
            .get_item(tenant, ItemKind::FlowRun, customer)
            .await
            .map_err(|e| e.to_string())?
            .is_some()
        {
            return Err("the contact is in a flow already".into());
        }
        let Some(item) = store
            .get_item(tenant, ItemKind::Flow, flow.as_str())
            .await
            .map_err(|e| e.to_string())?
        else {
            return Err(format!("no flow `{flow}`"));
        };
        let definition: FlowInput =
            serde_json::from_str(&item.body).map_err(|e| format!("flow {flow}: {e}"))?;
        if !definition.enabled {
            return Err(format!("the flow `{flow}` is disabled"));
        }
        let doc = RunDoc {
            // Named after the message that starts it: a replay of that message after a stop
            // starts the same run, whose messages carry the same keys and are not sent again.
            run: run_id(tenant, &message.key),
            flow: flow.clone(),
            version: item.version,
            state: RunState {
                node: definition.start.clone(),
                ..Default::default()
            },
            definition,
            number: message.number.clone(),
            conversation: conversation.clone(),
            started_at: now,
            last_input: message.at_ms,
        };
        let run = AutomationItem {
            tenant: tenant.clone(),
            kind: ItemKind::FlowRun,
            id: customer.to_owned(),
            version: 1,
            updated_at: now,
            updated_by: format!("automation:{flow}"),
            body: serde_json::to_string(&doc).map_err(|e| e.to_string())?,
        };
        store
            .put_item(&run, None)
            .await
            .map_err(|e| e.to_string())?;
        self.inner
            .in_flow
            .insert((tenant.clone(), message.customer.clone()), ());
        self.count(tenant, flow, |c| c.started += 1);
        self.drive(tenant, message, run, doc, Event::Go).await
    }

    /// A customer's message while they are in a flow: the run takes it (and `true`: rules and
    /// the off-hours reply leave it alone).
    pub(super) async fn flow_reply(&self, tenant: &TenantId, message: &InboundMessage) -> bool {
        let key = (tenant.clone(), message.customer.clone());
        if !self.inner.in_flow.contains_key(&key) {
            return false;
        }
        let item = match self
            .inner
            .store
            .get_item(tenant, ItemKind::FlowRun, message.customer.as_str())
            .await
        {
            Ok(Some(item)) => item,
            Ok(None) => {
                self.inner.in_flow.remove(&key);
                return false;
            }
            Err(e) => {
                tracing::error!(error = %e, "a flow run could not be read");
                return true;
            }
        };
        let doc: RunDoc = match serde_json::from_str(&item.body) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(run = %item.id, error = %e, "a flow run is unreadable; ended");
                let _ = self
                    .inner
                    .store
                    .delete_item(tenant, ItemKind::FlowRun, &item.id, None)
                    .await;
                self.inner.in_flow.remove(&key);
                return false;
            }
        };
        if message.at_ms <= doc.last_input {
            // Taken before a stop, and replayed since.
            return true;
        }
        if !doc.state.waiting {
            // Mid-lookup: the message is stored for people; the run goes on by itself.
            return true;
        }
        let mut doc = doc;
        doc.last_input = message.at_ms;
        let event = Event::Reply {
            text: message.text.clone().unwrap_or_default(),
            id: tapped(&message.raw),
        };
        if let Err(e) = self.drive(tenant, message, item, doc, event).await {
            tracing::warn!(error = %e, "a flow step failed");
        }
        true
    }

    /// Runs a flow from `event` until it waits for the customer or ends: each step's effects
    /// first (keyed, so a replay after a crash repeats none), then its state.
    fn drive<'a>(
        &'a self,
        tenant: &'a TenantId,
        message: &'a InboundMessage,
        mut item: AutomationItem,
        mut doc: RunDoc,
        event: Event,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            let store = &self.inner.store;
            let mut contact = store
                .find_contact(tenant, message.customer.as_str())
                .await
                .map_err(|e| e.to_string())?;
            let mut fields: BTreeMap<String, Value> = BTreeMap::new();
            if let Some(c) = &contact {
                for (k, v) in &c.attributes {
                    fields.insert(k.clone(), v.clone());
                }
                if let Some(name) = c.name.as_ref().or(c.profile_name.as_ref()) {
                    fields.insert("name".into(), Value::String(name.clone()));
                }
                if let Some(p) = &c.phone {
                    fields.insert("phone".into(), Value::String(format!("+{p}")));
                }
            }
            let region = contact.as_ref().and_then(|c| c.country.clone());
            let sender = Sender {
                id: doc.flow.to_string(),
                name: doc.definition.name.clone(),
            };
            let step = advance(
                &doc.definition,
                &mut doc.state,
                event,
                &fields,
                doc.definition.secret.as_deref(),
                region.as_deref(),
            );
            let mut fetch: Option<Fetch> = None;
            for effect in step.effects {
                let (seq, draft) = match effect {
                    Effect::Say { seq, text } => (seq, Draft::Text(text)),
                    Effect::Menu { seq, message: m } => (seq, Draft::Interactive(m)),
                    Effect::SetAttribute { key, value } => {
                        // The contact read for this step's templates, changed and written back.
                        if let Some(c) = contact.as_mut() {
                            if c.attributes.get(&key) != Some(&value) {
                                c.attributes.insert(key.clone(), value.clone());
                                fields.insert(key, value);
                                store
                                    .put_contact(c, None, None)
                                    .await
                                    .map_err(|e| e.to_string())?;
                            }
                        }
                        continue;
                    }
                    Effect::Handoff { skill, note } => {
                        self.hand_off(tenant, &doc, &sender, skill, note).await?;
                        continue;
                    }
                    Effect::Fetch(f) => {
                        fetch = Some(f);
                        continue;
                    }
                };
                let key = format!("flow-{}-{seq}", doc.run);
                self.send_automatic(
                    tenant,
                    message,
                    &doc.conversation,
                    &sender,
                    draft,
                    &key,
                    now_ms(),
                )
                .await?;
            }
            if let Some(finish) = step.finish {
                store
                    .delete_item(tenant, ItemKind::FlowRun, &item.id, None)
                    .await
                    .map_err(|e| e.to_string())?;
                self.inner
                    .in_flow
                    .remove(&(tenant.clone(), message.customer.clone()));
                self.count(tenant, &doc.flow, |c| match finish {
                    Finish::Completed => c.completed += 1,
                    Finish::HandedOff => c.handed_off += 1,
                });
                metrics::counter!("switchboard_flow_runs_total", "end" => match finish {
                    Finish::Completed => "completed",
                    Finish::HandedOff => "handed_off",
                })
                .increment(1);
                return Ok(());
            }
            item.version += 1;
            item.updated_at = now_ms();
            item.body = serde_json::to_string(&doc).map_err(|e| e.to_string())?;
            store
                .put_item(&item, None)
                .await
                .map_err(|e| e.to_string())?;
            let Some(f) = fetch else {
                return Ok(());
            };
            // The lookup goes on by itself: the customer's lane (and everyone else's in it) does
            // not wait for someone's shop API. Nothing else writes the run meanwhile: a message
            // from the customer finds it not waiting and leaves it alone.
            let this = self.clone();
            let tenant = tenant.clone();
            let message = message.clone();
            tokio::spawn(async move {
                let answer = lookup(
                    &f,
                    &doc.definition.allow_hosts,
                    doc.definition.secret.as_deref(),
                )
                .await;
                let next = this.drive(&tenant, &message, item, doc, Event::Fetched(answer));
                if let Err(e) = next.await {
                    tracing::warn!(error = %e, "a flow step after a lookup failed");
                }
            });
            Ok(())
        })
    }

    async fn hand_off(
        &self,
        tenant: &TenantId,
        doc: &RunDoc,
        sender: &Sender,
        skill: Option<String>,
        note: String,
    ) -> Result<(), String> {
        let inner = &self.inner;
        let thread = self.thread_of(tenant, &doc.conversation).await?;
        if let Some(skill) = skill {
            let tag = format!("skill:{skill}");
            if !thread.tags.contains(&tag) {
                let mut tags = thread.tags.clone();
                tags.push(tag);
                let line = Self::audit(
                    tenant,
                    sender,
                    "conversation.tag",
                    format!("conversation:{}", doc.conversation),
                );
                inner
                    .inbox
                    .tag(tenant, &doc.conversation, tags, None, line)
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
        let record = NoteRecord {
            tenant: tenant.clone(),
            conversation: doc.conversation.clone(),
            // One note per run: a replay after a crash writes the same one.
            id: format!("n_{}", doc.run),
            author: None,
            author_name: format!("Bot: {}", doc.definition.name),
            text: note,
            mentions: Vec::new(),
            at_ms: now_ms(),
        };
        inner
            .store
            .add_note(&record)
            .await
            .map_err(|e| e.to_string())?;
        inner
            .inbox
            .note_added(record, doc.number.clone())
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    /// Learns which customers are in a flow, and continues every run a restart stopped between
    /// steps (one waiting for an HTTP answer): the step is taken again, and its messages, keyed
    /// as before, are not sent twice.
    pub async fn resume_flows(&self) -> Result<usize, StoreError> {
        let mut resumed = 0;
        for tenant in self.inner.store.list_tenants().await? {
            let tenant = tenant.id;
            for item in self
                .inner
                .store
                .list_items(&tenant, ItemKind::FlowRun)
                .await?
            {
                let Ok(doc) = serde_json::from_str::<RunDoc>(&item.body) else {
                    continue;
                };
                let customer = switchboard_shared::WaId::new(item.id.clone());
                self.inner
                    .in_flow
                    .insert((tenant.clone(), customer.clone()), ());
                if doc.state.waiting {
                    continue;
                }
                let this = self.clone();
                let tenant = tenant.clone();
                let message = InboundMessage {
                    key: MessageKey::new(format!("resume-{}", doc.run)),
                    wamid: Wamid::new(String::new()),
                    number: doc.number.clone(),
                    customer,
                    kind: "resume".into(),
                    text: None,
                    at_ms: doc.started_at,
                    raw: String::new(),
                };
                resumed += 1;
                tokio::spawn(async move {
                    if let Err(e) = this.drive(&tenant, &message, item, doc, Event::Go).await {
                        tracing::warn!(error = %e, "a resumed flow run failed");
                    }
                });
            }
        }
        Ok(resumed)
    }
}

/// A flow as audited: the secret left out.
struct Redacted<'a>(&'a FlowInput);

impl Serialize for Redacted<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut copy = self.0.clone();
        copy.secret = copy.secret.map(|_| "(set)".into());
        copy.serialize(s)
    }
}

/// Performs an HTTP step: the host resolved once and checked (no private, loopback or
/// link-local address unless the flow allows the host), connected to that very address (so a
/// second lookup cannot point elsewhere), no redirects, within the time budget, at most
/// [`MAX_HTTP_RESPONSE`] bytes of JSON read. Signed when the flow has a secret.
async fn lookup(f: &Fetch, allow: &[String], secret: Option<&str>) -> Result<Value, String> {
    let budget = Duration::from_millis(u64::from(f.timeout_ms));
    let work = async {
        let url = url::Url::parse(&f.url).map_err(|e| format!("not a URL: {e}"))?;
        let host = url.host_str().ok_or("no host")?.to_owned();
        let port = url.port_or_known_default().ok_or("no port")?;
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| format!("{host} does not resolve: {e}"))?
            .collect();
        if addrs.is_empty() {
            return Err(format!("{host} does not resolve"));
        }
        if !flow::allowed(allow, &host, Some(port)) {
            if let Some(a) = addrs.iter().find(|a| flow::private(a.ip())) {
                return Err(format!(
                    "{host} resolves to {}, a private or loopback address the flow does not allow",
                    a.ip()
                ));
            }
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .resolve_to_addrs(&host, &addrs)
            .build()
            .map_err(|e| e.to_string())?;
        let mut request = match f.method {
            HttpMethod::Get => client.get(url),
            HttpMethod::Post => client.post(url),
        };
        for (k, v) in &f.headers {
            request = request.header(k.as_str(), v.as_str());
        }
        let body = f.body.clone().unwrap_or_default();
        if let Some(secret) = secret {
            let at = now_ms() / 1000;
            let mut mac =
                Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|e| e.to_string())?;
            mac.update(format!("{at}.{body}").as_bytes());
            request = request
                .header("x-switchboard-timestamp", at.to_string())
                .header(
                    "x-switchboard-signature",
                    format!("sha256={}", hex::encode(mac.finalize().into_bytes())),
                );
        }
        if f.body.is_some() {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let mut response = request.send().await.map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("answered {}", response.status()));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            if bytes.len() + chunk.len() > MAX_HTTP_RESPONSE {
                return Err(format!(
                    "the answer is over {} KiB",
                    MAX_HTTP_RESPONSE / 1024
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&bytes).map_err(|e| format!("the answer is not JSON: {e}"))
    };
    match tokio::time::timeout(budget, work).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer within {} ms", f.timeout_ms)),
    }
}
