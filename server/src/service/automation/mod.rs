//! Keyword rules at run time, and what admins do to them.
//!
//! Owns: each tenant's rules compiled once per change (`crate::automation::RuleSet`); the task
//! that evaluates every customer message as it is stored and acts (replies through the word
//! filter and the durable outbox, contact tags and attributes, routing skills, resolving); the
//! cooldowns, the per-conversation circuit breaker and the hit counters; the rule use cases and
//! the test bench. Must not: decide what matches (the pure core does) or know HTTP.
//!
//! Loop-proof by construction: only customers' messages are evaluated, never anything the
//! business sends (automation's replies included); a rule fires at most once per contact within
//! its cooldown; and a conversation gets at most [`BREAKER_MAX`] automatic replies in
//! [`BREAKER_WINDOW_MS`], whatever the rules say, so two bots answering each other stop.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchboard_shared::automation::*;
use switchboard_shared::reports::SurveySettings;
use switchboard_shared::{ConversationId, PhoneNumberId, RuleId, ScheduleId, TenantId, WaId};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::compliance::{FilterAck, WordFilter};
use super::documents::{invalid, DocumentActor, DocumentError, DocumentKind};
use super::inbox::Inbox;
use super::outbound::Draft;
use super::outbox::Outbox;
use super::Events;
use crate::auth::TenantScope;
use crate::automation::{check_rule, Incoming, RuleSet, RuleSpec};
use crate::domain::*;
use crate::store::{Store, StoreError};

mod flows;
mod schedules;

pub use schedules::{HoursEntry, TenantHours};

/// How long compiled rules serve before they are read again (changes through this server apply
/// at once; this bounds a change made through another server on the same store).
const FRESH: Duration = Duration::from_secs(10);
/// The most automatic replies one conversation gets within [`BREAKER_WINDOW_MS`].
pub const BREAKER_MAX: usize = 5;
pub const BREAKER_WINDOW_MS: i64 = 10 * 60 * 1000;
/// How many customers' messages are evaluated side by side.
const WORKERS: usize = 16;
/// Messages waiting per worker.
const LANE_DEPTH: usize = 256;
/// The default cooldown of a rule.
pub const DEFAULT_COOLDOWN_SECS: u32 = 3_600;
/// The most regular-expression and fuzzy keywords a workspace's rules hold together (each is
/// tried on every message, unlike the automaton's keywords, whose number costs nothing per
/// message).
pub const MAX_COSTLY_KEYWORDS: usize = 500;

/// A rule as stored (the document of an [`AutomationItem`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct RuleDoc {
    name: String,
    #[serde(rename = "match")]
    matcher: RuleMatch,
    conditions: RuleConditions,
    actions: Vec<RuleAction>,
    numbers: Vec<PhoneNumberId>,
    priority: i32,
    stop: bool,
    cooldown_secs: u32,
    shadow: bool,
    enabled: bool,
}

impl RuleDoc {
    fn from_input(input: RuleInput) -> Self {
        Self {
            name: input.name.trim().to_owned(),
            matcher: input.matcher,
            conditions: input.conditions,
            actions: input.actions,
            numbers: input.numbers,
            priority: input.priority,
            stop: input.stop,
            cooldown_secs: input.cooldown_secs.unwrap_or(DEFAULT_COOLDOWN_SECS),
            shadow: input.shadow,
            enabled: input.enabled,
        }
    }

    fn spec(&self, id: &RuleId) -> RuleSpec {
        RuleSpec {
            id: id.clone(),
            name: self.name.clone(),
            matcher: self.matcher.clone(),
            conditions: self.conditions.clone(),
            actions: self.actions.clone(),
            numbers: self.numbers.clone(),
            priority: self.priority,
            stop: self.stop,
            cooldown_secs: self.cooldown_secs,
            shadow: self.shadow,
            enabled: self.enabled,
        }
    }
}

/// A tenant's rules, compiled, with their wire form.
pub struct Compiled {
    set: RuleSet,
    rules: Vec<(AutomationItem, RuleDoc)>,
    made: Instant,
}

/// Keyword rules as documents.
const RULES: DocumentKind = DocumentKind {
    kind: ItemKind::Rule,
    prefix: "ar",
    noun: "rule",
    limit: MAX_RULES_PER_TENANT,
};

/// Who in automation acts: a rule or a schedule (its id and name, for the audit log and the
/// outbox).
struct Sender {
    id: String,
    name: String,
}

/// The language to answer a contact in: its `language` attribute when it says `ru` or `en`,
/// else the language of the message.
fn contact_language(contact: Option<&ContactRecord>, text: &str) -> &'static str {
    let set = contact
        .and_then(|c| c.attributes.get("language"))
        .and_then(|v| v.as_str())
        .map(|v| v.trim().to_lowercase());
    match set.as_deref() {
        Some(l) if l.starts_with("ru") => "ru",
        Some(l) if l.starts_with("en") => "en",
        _ => crate::automation::language_of(text).unwrap_or("en"),
    }
}

/// Keyword rules: the compiled sets, the run-time state, the use cases.
#[derive(Clone)]
pub struct Automation {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    filter: Arc<WordFilter>,
    outbox: Outbox,
    inbox: Inbox,
    compiled: DashMap<TenantId, Arc<Compiled>>,
    /// When each (rule, contact) last fired.
    cooldowns: DashMap<(TenantId, RuleId, WaId), i64>,
    /// When each conversation's recent automatic replies went.
    breaker: DashMap<(TenantId, ConversationId), VecDeque<i64>>,
    hits: DashMap<(TenantId, RuleId), u64>,
    /// Each tenant's schedules, compiled.
    hours: DashMap<TenantId, Arc<TenantHours>>,
    /// Off-hours replies sent, by outbox key, until the opening they announce (so later messages
    /// of the same night cost the circuit breaker nothing; the outbox key alone keeps a restart
    /// from sending one twice).
    off_hours_sent: DashMap<(TenantId, String), i64>,
    /// The customers in a bot flow now (their runs are stored; this spares every other
    /// message a read).
    in_flow: DashMap<(TenantId, WaId), ()>,
    /// Runs started, completed and handed off per (tenant, flow) since the server started.
    flow_counts: DashMap<(TenantId, String), flows::FlowCounts>,
    /// Each tenant's saved survey settings as last read (`None`: never saved), so a tenant
    /// without surveys spares every customer message the conversation read.
    surveys: DashMap<TenantId, (std::time::Instant, Option<Arc<SurveySettings>>)>,
}

impl Automation {
    pub fn new(
        store: Arc<dyn Store>,
        filter: Arc<WordFilter>,
        outbox: Outbox,
        inbox: Inbox,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                filter,
                outbox,
                inbox,
                compiled: DashMap::new(),
                cooldowns: DashMap::new(),
                breaker: DashMap::new(),
                hits: DashMap::new(),
                hours: DashMap::new(),
                off_hours_sent: DashMap::new(),
                in_flow: DashMap::new(),
                surveys: DashMap::new(),
                flow_counts: DashMap::new(),
            }),
        }
    }

    /// Evaluates every customer message as it is stored, until `shutdown`. Messages are spread
    /// over [`WORKERS`] tasks by customer: one customer's messages are evaluated in order (their
    /// cooldowns depend on it), different customers' side by side, so one reply waiting for the
    /// store never holds up everyone else's.
    pub fn spawn(&self, events: &Events, shutdown: CancellationToken) {
        let mut rx = events.subscribe("automation");
        let mut lanes = Vec::with_capacity(WORKERS);
        for _ in 0..WORKERS {
            let (tx, mut messages) =
                tokio::sync::mpsc::channel::<(TenantId, InboundMessage)>(LANE_DEPTH);
            let this = self.clone();
            tokio::spawn(async move {
                while let Some((tenant, message)) = messages.recv().await {
                    this.on_message(&tenant, &message).await;
                }
            });
            lanes.push(tx);
        }
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    biased;
                    _ = shutdown.cancelled() => return,
                    event = rx.recv() => match event {
                        Ok(DomainEvent::MessageReceived {
                            tenant, message, ..
                        }) => {
                            use std::hash::{Hash, Hasher};
                            let mut h = std::collections::hash_map::DefaultHasher::new();
                            (&tenant, &message.customer).hash(&mut h);
                            let lane = &lanes[(h.finish() as usize) % WORKERS];
                            // A full lane waits: the bus buffers, and lagging is reported below.
                            if lane.send((tenant, message)).await.is_err() {
                                return;
                            }
                        }
                        Ok(_) => {}
                        Err(broadcast::error::RecvError::Lagged(missed)) => {
                            tracing::warn!(missed, "automation lagged behind the event bus; \
                                those messages got no keyword replies");
                        }
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                }
            }
        });
    }

    /// The tenant's compiled rules (compiled now if they changed or went stale).
    pub async fn compiled(&self, tenant: &TenantId) -> Result<Arc<Compiled>, StoreError> {
        if let Some(c) = self.inner.compiled.get(tenant) {
            if c.made.elapsed() < FRESH {
                return Ok(Arc::clone(&c));
            }
        }
        let items = self.inner.store.list_items(tenant, ItemKind::Rule).await?;
        let mut rules = Vec::new();
        for item in items {
            match serde_json::from_str::<RuleDoc>(&item.body) {
                Ok(doc) => rules.push((item, doc)),
                Err(e) => {
                    tracing::error!(rule = %item.id, error = %e, "a stored rule is unreadable; skipped")
                }
            }
        }
        let specs: Vec<RuleSpec> = rules
            .iter()
            .map(|(i, d)| d.spec(&RuleId::new(i.id.clone())))
            .collect();
        let set = tokio::task::spawn_blocking(move || {
            RuleSet::compile(specs.clone()).unwrap_or_else(|e| {
                tracing::error!(error = ?e, "stored rules do not compile; the bad ones are skipped");
                let good = specs
                    .into_iter()
                    .filter(|s| RuleSet::compile(vec![s.clone()]).is_ok())
                    .collect();
                RuleSet::compile(good).unwrap_or_else(|_| {
                    RuleSet::compile(Vec::new()).expect("an empty rule set compiles")
                })
            })
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("compiling rules: {e}")))?;
        let compiled = Arc::new(Compiled {
            set,
            rules,
            made: Instant::now(),
        });
        self.inner
            .compiled
            .insert(tenant.clone(), Arc::clone(&compiled));
        Ok(compiled)
    }

    fn forget(&self, tenant: &TenantId) {
        self.inner.compiled.remove(tenant);
    }

    /// One customer message: evaluate, then act on each rule that fired.
    async fn on_message(&self, tenant: &TenantId, message: &InboundMessage) {
        let Some(text) = message.text.as_deref().filter(|t| !t.trim().is_empty()) else {
            return;
        };
        if self.answers_survey(tenant, message).await {
            return;
        }
        let compiled = match self.compiled(tenant).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "rules could not be read; no keyword replies");
                return;
            }
        };
        let hours = match self.hours(tenant).await {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(error = %e, "schedules could not be read; no automatic replies");
                return;
            }
        };
        // A customer in a bot flow answers the flow, not the rules.
        if self.flow_reply(tenant, message).await {
            return;
        }
        let store = &self.inner.store;
        let conversation =
            store
                .id_keys()
                .conversation_id(tenant, &message.number, &message.customer);
        let now = message.at_ms.max(now_ms());
        // Business hours go by when the customer wrote (a delivery Meta retried later is judged
        // by the hour it was written, not the hour it arrived).
        let written = instant(message.at_ms);
        if let Some(entry) = hours.for_number(Some(&message.number)) {
            self.off_hours(tenant, message, &conversation, entry, text, written, now)
                .await;
        }
        if compiled.set.rules().is_empty() {
            return;
        }
        let needs_first = compiled
            .set
            .rules()
            .iter()
            .any(|r| r.conditions.first_message.is_some());
        let first_message = if needs_first {
            store
                .conversation_history(tenant, &conversation, None, 2)
                .await
                .ok()
                .map(|page| {
                    page.items
                        .iter()
                        .filter(|m| m.direction == switchboard_shared::Direction::Inbound)
                        .count()
                        <= 1
                })
        } else {
            None
        };
        let needs_tags = compiled
            .set
            .rules()
            .iter()
            .any(|r| !r.conditions.has_tags.is_empty());
        let contact_tags = if needs_tags {
            store
                .find_contact(tenant, message.customer.as_str())
                .await
                .ok()
                .flatten()
                .map(|c| c.tags)
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let open =
            |schedule: Option<&ScheduleId>| hours.open(schedule, Some(&message.number), written);
        let incoming = Incoming {
            text,
            number: Some(&message.number),
            first_message,
            contact_tags: &contact_tags,
            open: &open,
        };
        let evaluation = compiled.set.evaluate(&incoming, |rule| {
            self.inner
                .cooldowns
                .get(&(tenant.clone(), rule.id.clone(), message.customer.clone()))
                .is_some_and(|at| now - *at < i64::from(rule.cooldown_secs) * 1000)
        });
        for firing in evaluation.fired {
            let rule = &compiled.set.rules()[firing.rule];
            *self
                .inner
                .hits
                .entry((tenant.clone(), rule.id.clone()))
                .or_insert(0) += 1;
            metrics::counter!("switchboard_rule_hits_total", "shadow" => rule.shadow.to_string())
                .increment(1);
            if rule.shadow {
                continue;
            }
            self.inner.cooldowns.insert(
                (tenant.clone(), rule.id.clone(), message.customer.clone()),
                now,
            );
            for action in &rule.actions {
                if let Err(e) = self
                    .act(tenant, message, &conversation, rule, action, now)
                    .await
                {
                    tracing::warn!(rule = %rule.id, error = %e, "a rule's action failed");
                }
            }
        }
    }

    /// The schedule's off-hours reply, when it is closed and has one: at most once per contact
    /// per closed period (the outbox key names the opening it announces, so neither a second
    /// message nor a restart sends it again).
    #[allow(clippy::too_many_arguments)]
    async fn off_hours(
        &self,
        tenant: &TenantId,
        message: &InboundMessage,
        conversation: &ConversationId,
        entry: &HoursEntry,
        text: &str,
        written: jiff::Timestamp,
        now: i64,
    ) {
        let Some(reply) = &entry.doc.off_hours_reply else {
            return;
        };
        if entry.hours.is_open(written) {
            return;
        }
        let now_ts = instant(now);
        // Delivered late (Meta retries for days): not when the business has opened since.
        if now - message.at_ms > 5 * 60 * 1000 && entry.hours.is_open(now_ts) {
            return;
        }
        let next = entry.hours.next_open(written);
        let contact = self
            .inner
            .store
            .find_contact(tenant, message.customer.as_str())
            .await
            .ok()
            .flatten();
        let lang = contact_language(contact.as_ref(), text);
        let template = reply.texts.get(lang).unwrap_or(&reply.text);
        let rendered = entry.hours.render(template, now_ts, lang);
        let key = format!(
            "off-{}-{}-{}",
            entry.item.id,
            message.customer,
            next.map_or(0, |t| t.as_millisecond())
        );
        let until = next.map_or(i64::MAX, |t| t.as_millisecond());
        let sent = &self.inner.off_hours_sent;
        if sent.contains_key(&(tenant.clone(), key.clone())) {
            return;
        }
        if sent.len() > 100_000 {
            sent.retain(|_, until| *until > now);
        }
        let sender = Sender {
            id: entry.item.id.clone(),
            name: entry.doc.name.clone(),
        };
        match self
            .reply(
                tenant,
                message,
                conversation,
                &sender,
                Draft::Text(rendered),
                &key,
                now,
            )
            .await
        {
            Ok(()) => {
                sent.insert((tenant.clone(), key), until);
                metrics::counter!("switchboard_off_hours_replies_total").increment(1)
            }
            Err(e) => {
                tracing::warn!(schedule = %entry.item.id, error = %e, "the off-hours reply failed")
            }
        }
    }

    /// The audit line of something automation did.
    fn audit(tenant: &TenantId, sender: &Sender, action: &str, target: String) -> AuditRecord {
        crate::auth::principal::audit_line(
            tenant,
            format!("automation:{}", sender.id),
            sender.name.clone(),
            action,
            Some(target),
            "ok",
            &Default::default(),
        )
    }

    /// Sends an automatic reply: within the conversation's circuit breaker, through the word
    /// filter (a blocked reply is audited, not sent) and the durable outbox under `key`.
    #[allow(clippy::too_many_arguments)]
    async fn reply(
        &self,
        tenant: &TenantId,
        message: &InboundMessage,
        conversation: &ConversationId,
        sender: &Sender,
        draft: Draft,
        key: &str,
        now: i64,
    ) -> Result<(), String> {
        self.breaker(tenant, conversation, now)?;
        self.send_automatic(tenant, message, conversation, sender, draft, key, now)
            .await
    }

    /// Counts an automatic reply against the conversation's circuit breaker.
    fn breaker(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        now: i64,
    ) -> Result<(), String> {
        let mut window = self
            .inner
            .breaker
            .entry((tenant.clone(), conversation.clone()))
            .or_default();
        while window
            .front()
            .is_some_and(|at| now - at > BREAKER_WINDOW_MS)
        {
            window.pop_front();
        }
        if window.len() >= BREAKER_MAX {
            metrics::counter!("switchboard_rule_breaker_total").increment(1);
            return Err(format!(
                "the conversation had {BREAKER_MAX} automatic replies in ten minutes; \
                 no more for now"
            ));
        }
        window.push_back(now);
        Ok(())
    }

    /// Sends an automatic message without the circuit breaker (a bot flow's messages each
    /// answer the customer's own step, so they cannot loop): through the word filter (a blocked
    /// one is audited, not sent) and the durable outbox under `key`.
    #[allow(clippy::too_many_arguments)]
    async fn send_automatic(
        &self,
        tenant: &TenantId,
        message: &InboundMessage,
        conversation: &ConversationId,
        sender: &Sender,
        draft: Draft,
        key: &str,
        now: i64,
    ) -> Result<(), String> {
        let inner = &self.inner;
        let screened = inner
            .filter
            .screen(tenant, &message.number, draft, &FilterAck::default())
            .await
            .map_err(|e| e.to_string())?;
        let screened = match screened {
            Ok(s) => s,
            Err(refused) => {
                let mut line = Self::audit(
                    tenant,
                    sender,
                    "message.filter_block",
                    format!("conversation:{conversation}"),
                );
                line.outcome = "denied".into();
                line.after = Some(
                    json!({"matches": refused.matches.iter().map(|m| &m.term).collect::<Vec<_>>()})
                        .to_string(),
                );
                let _ = inner.store.append_audit(&line).await;
                return Err("the word filter refused the reply".into());
            }
        };
        // The customer just wrote: the thread as the send needs it (its window runs from
        // this message), whether or not routing has written it yet.
        let thread = ThreadRecord {
            tenant: tenant.clone(),
            conversation: conversation.clone(),
            number: message.number.clone(),
            customer: message.customer.clone(),
            state: ThreadState::Queued,
            assignee: None,
            last_agent: None,
            tags: Vec::new(),
            waiting_since: Some(message.at_ms),
            last_inbound_at: Some(message.at_ms),
            last_inbound_wamid: Some(message.wamid.clone()),
            opened_at: message.at_ms,
            updated_at: message.at_ms,
            episode: Default::default(),
        };
        inner
            .outbox
            .compose(
                &thread,
                screened,
                None,
                &format!("automation:{}", sender.id),
                Some(&key[..key.len().min(100)]),
                now,
            )
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    /// Whether the message answers a satisfaction survey (a score, the comment after it): the
    /// inbox records it and thanks the customer; rules and off-hours replies leave it alone.
    async fn answers_survey(&self, tenant: &TenantId, message: &InboundMessage) -> bool {
        if crate::service::csat::is_survey_choice(message) {
            return true;
        }
        let Some(settings) = self.survey_settings(tenant).await else {
            return false;
        };
        let store = &self.inner.store;
        let conversation =
            store
                .id_keys()
                .conversation_id(tenant, &message.number, &message.customer);
        let Ok(Some(thread)) = store.get_thread(tenant, &conversation).await else {
            return false;
        };
        if thread.is_open() {
            return false;
        }
        let Some(state) = thread.episode.survey else {
            return false;
        };
        crate::service::csat::is_answer(&state, &settings, message, now_ms())
    }

    /// The tenant's saved survey settings, read again after [`FRESH`].
    async fn survey_settings(&self, tenant: &TenantId) -> Option<Arc<SurveySettings>> {
        if let Some(entry) = self.inner.surveys.get(tenant) {
            if entry.0.elapsed() < FRESH {
                return entry.1.clone();
            }
        }
        let settings = crate::service::csat::stored(self.inner.store.as_ref(), tenant)
            .await
            .ok()
            .flatten()
            .map(Arc::new);
        self.inner.surveys.insert(
            tenant.clone(),
            (std::time::Instant::now(), settings.clone()),
        );
        settings
    }

    async fn act(
        &self,
        tenant: &TenantId,
        message: &InboundMessage,
        conversation: &ConversationId,
        rule: &RuleSpec,
        action: &RuleAction,
        now: i64,
    ) -> Result<(), String> {
        let inner = &self.inner;
        let sender = Sender {
            id: rule.id.to_string(),
            name: rule.name.clone(),
        };
        match action {
            RuleAction::Reply { .. } | RuleAction::ReplyInteractive(_) => {
                let draft = match action {
                    RuleAction::ReplyInteractive(m) => Draft::Interactive(m.clone()),
                    RuleAction::Reply { text } => Draft::Text(text.clone()),
                    _ => unreachable!("matched above"),
                };
                // One key per (rule, message): evaluating the same message again never sends a
                // second reply.
                let key = format!("auto-{}-{}", rule.id, message.key);
                self.reply(tenant, message, conversation, &sender, draft, &key, now)
                    .await
            }
            RuleAction::StartFlow { flow } => {
                self.start_flow(tenant, message, conversation, flow, now)
                    .await
            }
            RuleAction::AddTags(tags) => {
                let Some(mut contact) = inner
                    .store
                    .find_contact(tenant, message.customer.as_str())
                    .await
                    .map_err(|e| e.to_string())?
                else {
                    return Err("no contact yet".into());
                };
                let before: BTreeSet<String> =
                    contact.tags.iter().map(|t| t.to_lowercase()).collect();
                let added: Vec<String> = tags
                    .iter()
                    .filter(|t| !before.contains(&t.to_lowercase()))
                    .cloned()
                    .collect();
                if added.is_empty() {
                    return Ok(());
                }
                contact.tags.extend(added.iter().cloned());
                let mut line = Self::audit(
                    tenant,
                    &sender,
                    "contact.update",
                    format!("contact:{}", contact.id),
                );
                line.after = Some(json!({ "tags_added": added }).to_string());
                inner
                    .store
                    .put_contact(&contact, None, Some(&line))
                    .await
                    .map_err(|e| e.to_string())
            }
            RuleAction::SetAttribute { key, value } => {
                let Some(mut contact) = inner
                    .store
                    .find_contact(tenant, message.customer.as_str())
                    .await
                    .map_err(|e| e.to_string())?
                else {
                    return Err("no contact yet".into());
                };
                if contact.attributes.get(key) == Some(value) {
                    return Ok(());
                }
                contact.attributes.insert(key.clone(), value.clone());
                let mut line = Self::audit(
                    tenant,
                    &sender,
                    "contact.update",
                    format!("contact:{}", contact.id),
                );
                line.after = Some(json!({ "attribute": key, "value": value }).to_string());
                inner
                    .store
                    .put_contact(&contact, None, Some(&line))
                    .await
                    .map_err(|e| e.to_string())
            }
            RuleAction::Route { skill } => {
                let thread = self.thread_of(tenant, conversation).await?;
                let tag = format!("skill:{skill}");
                let mut tags = thread.tags;
                if tags.contains(&tag) {
                    return Ok(());
                }
                tags.push(tag);
                let line = Self::audit(
                    tenant,
                    &sender,
                    "conversation.tag",
                    format!("conversation:{conversation}"),
                );
                inner
                    .inbox
                    .tag(tenant, conversation, tags, None, line)
                    .await
                    .map_err(|e| e.to_string())
            }
            RuleAction::Resolve {} => {
                self.thread_of(tenant, conversation).await?;
                let line = Self::audit(
                    tenant,
                    &sender,
                    "conversation.resolve",
                    format!("conversation:{conversation}"),
                );
                inner
                    .inbox
                    .resolve(tenant, conversation, line)
                    .await
                    .map_err(|e| e.to_string())
            }
        }
    }

    /// The conversation's inbox state, once routing has written it (it sees the same message on
    /// its own task; a bounded wait on that state, not a guess at a time).
    async fn thread_of(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
    ) -> Result<ThreadRecord, String> {
        for _ in 0..50 {
            match self.inner.store.get_thread(tenant, conversation).await {
                Ok(Some(t)) => return Ok(t),
                Ok(None) => tokio::time::sleep(Duration::from_millis(20)).await,
                Err(e) => return Err(e.to_string()),
            }
        }
        Err("routing has not recorded the conversation".into())
    }

    fn wire(&self, tenant: &TenantId, item: &AutomationItem, doc: &RuleDoc) -> Rule {
        let id = RuleId::new(item.id.clone());
        let hits = self
            .inner
            .hits
            .get(&(tenant.clone(), id.clone()))
            .map_or(0, |h| *h);
        Rule {
            id,
            name: doc.name.clone(),
            matcher: doc.matcher.clone(),
            conditions: doc.conditions.clone(),
            actions: doc.actions.clone(),
            numbers: doc.numbers.clone(),
            priority: doc.priority,
            stop: doc.stop,
            cooldown_secs: doc.cooldown_secs,
            shadow: doc.shadow,
            enabled: doc.enabled,
            version: item.version,
            updated_at: item.updated_at,
            updated_by: item.updated_by.clone(),
            hits,
        }
    }

    /// The tenant's rules, highest priority first.
    pub async fn rules(&self, scope: &TenantScope) -> Result<Vec<Rule>, StoreError> {
        let compiled = self.compiled(scope.tenant()).await?;
        let mut rules: Vec<Rule> = compiled
            .rules
            .iter()
            .map(|(i, d)| self.wire(scope.tenant(), i, d))
            .collect();
        rules.sort_by(|a, b| b.priority.cmp(&a.priority).then_with(|| a.id.cmp(&b.id)));
        Ok(rules)
    }

    pub async fn rule(&self, scope: &TenantScope, id: &RuleId) -> Result<Rule, DocumentError> {
        let (item, doc) = RULES.read::<RuleDoc>(scope, id.as_str()).await?;
        Ok(self.wire(scope.tenant(), &item, &doc))
    }

    /// Checks an input against the rule's own rules and the workspace (its numbers, tag
    /// catalogue and attribute definitions).
    async fn checked(
        &self,
        scope: &TenantScope,
        input: RuleInput,
    ) -> Result<RuleDoc, DocumentError> {
        check_rule(&input).map_err(|e| invalid(e.field, e.message))?;
        let numbers: BTreeSet<PhoneNumberId> = scope
            .numbers()
            .await?
            .into_iter()
            .map(|n| n.phone_number_id)
            .collect();
        if let Some((i, n)) = input
            .numbers
            .iter()
            .enumerate()
            .find(|(_, n)| !numbers.contains(*n))
        {
            return Err(invalid(
                format!("numbers[{i}]"),
                format!("no number `{n}` in this workspace"),
            ));
        }
        for (i, action) in input.actions.iter().enumerate() {
            if let RuleAction::StartFlow { flow } = action {
                if scope
                    .automation_item(ItemKind::Flow, flow.as_str())
                    .await?
                    .is_none()
                {
                    return Err(invalid(
                        format!("actions[{i}].start_flow.flow"),
                        format!("no flow `{flow}` in this workspace"),
                    ));
                }
            }
        }
        if let Some(id) = &input.conditions.schedule {
            if self
                .hours(scope.tenant())
                .await?
                .by_id(id.as_str())
                .is_none()
            {
                return Err(invalid(
                    "conditions.schedule",
                    format!("no schedule `{id}` in this workspace"),
                ));
            }
        }
        let catalogue: HashMap<String, String> = scope
            .tags()
            .await?
            .into_iter()
            .map(|t| (t.name.to_lowercase(), t.name))
            .collect();
        let schema = AttributeSchema::new(&scope.attributes().await?)
            .map_err(|e| StoreError::Corrupt(format!("attribute definitions: {e}")))?;
        let mut input = input;
        for (i, action) in input.actions.iter_mut().enumerate() {
            match action {
                RuleAction::AddTags(tags) => {
                    for (j, t) in tags.iter_mut().enumerate() {
                        match catalogue.get(&t.trim().to_lowercase()) {
                            Some(name) => *t = name.clone(),
                            None => {
                                return Err(invalid(
                                    format!("actions[{i}].add_tags[{j}]"),
                                    format!("no tag `{t}` in the catalogue; add it there first"),
                                ))
                            }
                        }
                    }
                }
                RuleAction::SetAttribute { key, value } => match schema.check(key, value) {
                    Ok(Some(v)) => *value = v,
                    Ok(None) => {
                        return Err(invalid(
                            format!("actions[{i}].set_attribute.value"),
                            "give a value",
                        ))
                    }
                    Err(e) => return Err(invalid(format!("actions[{i}].set_attribute"), e)),
                },
                _ => {}
            }
        }
        Ok(RuleDoc::from_input(input))
    }

    /// Refuses a rule that would take the workspace past [`MAX_COSTLY_KEYWORDS`].
    async fn check_costly(
        &self,
        scope: &TenantScope,
        doc: &RuleDoc,
        replacing: Option<&str>,
    ) -> Result<(), DocumentError> {
        let costly = |d: &RuleDoc| match d.matcher.mode {
            MatchMode::Regex | MatchMode::Fuzzy => d.matcher.keywords.len(),
            _ => 0,
        };
        if costly(doc) == 0 {
            return Ok(());
        }
        let compiled = self.compiled(scope.tenant()).await?;
        let others: usize = compiled
            .rules
            .iter()
            .filter(|(i, _)| Some(i.id.as_str()) != replacing)
            .map(|(_, d)| costly(d))
            .sum();
        if others + costly(doc) > MAX_COSTLY_KEYWORDS {
            return Err(DocumentError::TooMany(format!(
                "the workspace's rules would hold {} regex and fuzzy keywords; the most is \
                 {MAX_COSTLY_KEYWORDS}",
                others + costly(doc)
            )));
        }
        Ok(())
    }

    pub async fn create(
        &self,
        actor: &DocumentActor<'_>,
        input: RuleInput,
    ) -> Result<Rule, DocumentError> {
        let scope = actor.scope;
        let doc = self.checked(scope, input).await?;
        self.check_costly(scope, &doc, None).await?;
        let item = RULES.create(actor, &doc).await?;
        self.forget(scope.tenant());
        Ok(self.wire(scope.tenant(), &item, &doc))
    }

    pub async fn replace(
        &self,
        actor: &DocumentActor<'_>,
        id: &RuleId,
        input: RuleInput,
    ) -> Result<Rule, DocumentError> {
        let scope = actor.scope;
        let (current, _) = RULES.read::<RuleDoc>(scope, id.as_str()).await?;
        let version = input.version;
        let doc = self.checked(scope, input).await?;
        self.check_costly(scope, &doc, Some(&current.id)).await?;
        let item = RULES.replace(actor, current, version, &doc).await?;
        self.forget(scope.tenant());
        Ok(self.wire(scope.tenant(), &item, &doc))
    }

    pub async fn delete(
        &self,
        actor: &DocumentActor<'_>,
        id: &RuleId,
    ) -> Result<(), DocumentError> {
        RULES.delete(actor, id.as_str()).await?;
        self.forget(actor.scope.tenant());
        Ok(())
    }

    /// The test bench: which rules would fire for a message, in order, and why the others that
    /// matched would not; what the word filter finds in it and in the replies. Nothing is sent,
    /// counted or cooled down.
    pub async fn test(
        &self,
        scope: &TenantScope,
        input: &AutomationTest,
    ) -> Result<AutomationReport, StoreError> {
        let compiled = self.compiled(scope.tenant()).await?;
        let hours = self.hours(scope.tenant()).await?;
        let at = instant(input.at.unwrap_or_else(now_ms));
        let open = |schedule: Option<&ScheduleId>| hours.open(schedule, input.number.as_ref(), at);
        let incoming = Incoming {
            text: &input.text,
            number: input.number.as_ref(),
            first_message: Some(input.first_message),
            contact_tags: &input.contact_tags,
            open: &open,
        };
        let evaluation = compiled.set.evaluate(&incoming, |_| false);
        let rules = compiled.set.rules();
        let fired: Vec<RuleFiring> = evaluation
            .fired
            .iter()
            .map(|f| {
                let r = &rules[f.rule];
                RuleFiring {
                    rule: r.id.clone(),
                    name: r.name.clone(),
                    keyword: f.keyword.clone(),
                    start: f.start,
                    end: f.end,
                    shadow: r.shadow,
                    actions: r.actions.clone(),
                }
            })
            .collect();
        let skipped = evaluation
            .skipped
            .into_iter()
            .map(|(i, reason)| RuleSkipped {
                rule: rules[i].id.clone(),
                name: rules[i].name.clone(),
                reason,
            })
            .collect();
        let filter = self
            .inner
            .filter
            .scan(
                scope.tenant(),
                input.number.as_ref(),
                &[("text".to_owned(), input.text.as_str())],
            )
            .await?;
        let replies: Vec<(String, &str)> = fired
            .iter()
            .filter(|f| !f.shadow)
            .flat_map(|f| {
                f.actions.iter().filter_map(move |a| match a {
                    RuleAction::Reply { text } => {
                        Some((format!("reply of {}", f.rule), text.as_str()))
                    }
                    _ => None,
                })
            })
            .collect();
        let reply_filter = self
            .inner
            .filter
            .scan(scope.tenant(), input.number.as_ref(), &replies)
            .await?;
        Ok(AutomationReport {
            fired,
            skipped,
            filter,
            reply_filter,
            hours: hours.for_number(input.number.as_ref()).map(|entry| {
                let state = entry.hours.state(at);
                let off_hours_reply = entry
                    .doc
                    .off_hours_reply
                    .as_ref()
                    .filter(|_| !state.open)
                    .map(|reply| {
                        let lang = crate::automation::language_of(&input.text).unwrap_or("en");
                        let text = reply.texts.get(lang).unwrap_or(&reply.text);
                        entry.hours.render(text, at, lang)
                    });
                HoursReport {
                    schedule: ScheduleId::new(entry.item.id.clone()),
                    name: entry.doc.name.clone(),
                    open: state.open,
                    next_change: state.next_change.map(|t| t.as_millisecond()),
                    off_hours_reply,
                }
            }),
        })
    }
}
