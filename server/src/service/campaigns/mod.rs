//! Broadcast campaigns: an approved template sent to an audience (a segment or a tag), with the
//! values of its variables taken from each contact, from one or more numbers, at a pace beneath
//! their tiers.
//!
//! - **Pre-flight** evaluates every contact the audience selects (opted out, no deliverable
//!   number, marketing to +1, the frequency cap, a missing value, a value the word filter
//!   blocks), prices the rest on the rate card and says how long it takes.
//! - **Starting** writes a row per selected contact (queued or skipped, with the reason) before
//!   anything is sent; the runner ([`runner`]) then hands each queued one to the durable outbox
//!   under a key of its own (campaign, number, customer), so a stop at any moment neither sends
//!   twice (the outbox answers a key it has with the send it has) nor skips anyone (queued rows
//!   are walked again at the next start).
//! - **Progress** comes from the outbox's and Meta's answers (sent, failed, delivered, read) and
//!   from the customers (replies, quick-reply taps); too many failures, or a storm of 131049 or
//!   130429, pause it with the reason.
//!
//! Owns: the campaign document and its state machine, who is eligible and why not, the pace.
//! Must not: send except through the outbox, decide prices (`costs` does), or speak HTTP.

pub mod alarms;
mod preflight;
mod runner;
pub mod window;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use dashmap::DashMap;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use switchboard_shared::campaign::*;
use switchboard_shared::compliance::Verdict;
use switchboard_shared::contacts::{Filter, Marketing};
use switchboard_shared::costs::{CostGroup, PriceCategory};
use switchboard_shared::{CampaignId, PhoneNumberId, TenantId, WaId};
use tokio_util::sync::CancellationToken;

use super::broker::Broker;
use super::compliance::WordFilter;
use super::costs::{utc_day, CostError, Costs};
use super::outbound::{Outbound, OutboundError};
use super::outbox::Outbox;
use crate::auth::{Principal, TenantScope};
use crate::domain::*;
use crate::store::{Store, StoreError};

pub use runner::Runs;

/// The most campaigns a workspace keeps (they are automation documents).
pub const MAX_CAMPAIGNS: usize = MAX_ITEMS_PER_KIND;

/// The most numbers one campaign sends from.
pub const MAX_NUMBERS: usize = 20;

/// Contacts read per page while evaluating an audience.
const PAGE: usize = crate::store::MAX_PAGE;

/// Of a number's tier, the share a campaign may take: the rest stays free for agents' replies,
/// which the governor would otherwise queue behind the campaign's sends.
pub const TIER_SHARE: f64 = 0.8;

/// Why a campaign request was refused.
#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    #[error("no such campaign")]
    NotFound,
    #[error("`{field}`: {message}")]
    Invalid { field: String, message: String },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooMany(String),
    /// The Cloud API could not list the number's templates.
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> CampaignError {
    CampaignError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// The stored campaign (an automation document of kind `campaign`).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct CampaignDoc {
    input: CampaignInput,
    state: CampaignState,
    #[serde(default)]
    total: u64,
    #[serde(default)]
    counts: CampaignCounts,
    #[serde(default)]
    paused_reason: Option<String>,
    #[serde(default)]
    retry_of: Option<CampaignId>,
    #[serde(default)]
    preflight: Option<Preflight>,
    created_at: i64,
    created_by: String,
    #[serde(default)]
    started_at: Option<i64>,
    #[serde(default)]
    finished_at: Option<i64>,
    /// `start_at` as a moment.
    #[serde(default)]
    start_at_ms: Option<i64>,
    /// Whether the recipients' rows are written (then the runner only walks them).
    #[serde(default)]
    materialized: bool,
    /// The recipients left are outside their local window until then.
    #[serde(default)]
    waiting_until: Option<i64>,
}

impl CampaignDoc {
    fn wire(&self, item: &AutomationItem) -> Campaign {
        Campaign {
            id: CampaignId::new(item.id.clone()),
            version: item.version,
            state: self.state,
            input: self.input.clone(),
            total: self.total,
            counts: self.counts,
            paused_reason: self.paused_reason.clone(),
            retry_of: self.retry_of.clone(),
            preflight: self.preflight.clone(),
            created_at: self.created_at,
            created_by: self.created_by.clone(),
            started_at: self.started_at,
            finished_at: self.finished_at,
            waiting_until: self
                .waiting_until
                .filter(|_| self.state == CampaignState::Running),
        }
    }
}

fn read_doc(item: &AutomationItem) -> Result<CampaignDoc, StoreError> {
    serde_json::from_str(&item.body)
        .map_err(|e| StoreError::Corrupt(format!("campaign {}: {e}", item.id)))
}

/// What a campaign's recipients are evaluated against, fixed when it starts.
struct Plan {
    input: CampaignInput,
    /// A retry walks this campaign's failed recipients instead of the audience.
    retry_of: Option<CampaignId>,
    category: PriceCategory,
    /// The template's body with `{{n}}`.
    body: String,
    /// Contacts a campaign reached within the frequency cap.
    recent: HashSet<String>,
    /// The sending numbers with their tiers (what recipients are spread by).
    tiers: Vec<(PhoneNumberId, u32)>,
}

/// One contact's fate in a campaign.
enum Fate {
    Send {
        wa_id: WaId,
        number: PhoneNumberId,
        params: Vec<String>,
        country: String,
    },
    Skip(SkipReason),
}

#[derive(Clone)]
pub struct Campaigns {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    outbound: Arc<Outbound>,
    outbox: Outbox,
    costs: Costs,
    filter: Arc<WordFilter>,
    broker: Arc<dyn Broker>,
    runs: Runs,
    /// Who got a campaign's message recently, for their replies: (tenant, customer) → the
    /// campaign and when. Kept [`runner::REPLY_WINDOW_MS`], then swept.
    recent: DashMap<(TenantId, WaId), (CampaignId, i64)>,
    /// Campaign sends the outbox has, for their status webhooks (which name the send), and
    /// when each was handed over: a cache of the outbox's records, swept after
    /// [`runner::SENDS_CACHED_MS`] (a later status reads the record).
    sends: DashMap<switchboard_shared::SendId, (CampaignId, WaId, i64)>,
    shutdown: CancellationToken,
}

impl Campaigns {
    pub fn new(
        store: Arc<dyn Store>,
        outbound: Arc<Outbound>,
        outbox: Outbox,
        costs: Costs,
        filter: Arc<WordFilter>,
        broker: Arc<dyn Broker>,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                outbound,
                outbox,
                costs,
                filter,
                broker,
                runs: Runs::default(),
                recent: DashMap::new(),
                sends: DashMap::new(),
                shutdown,
            }),
        }
    }

    // -----------------------------------------------------------------------------------------
    // The document

    async fn load(
        &self,
        tenant: &TenantId,
        id: &CampaignId,
    ) -> Result<(AutomationItem, CampaignDoc), CampaignError> {
        let item = self
            .inner
            .store
            .get_item(tenant, ItemKind::Campaign, id.as_str())
            .await?
            .filter(|i| &i.tenant == tenant)
            .ok_or(CampaignError::NotFound)?;
        let doc = read_doc(&item)?;
        Ok((item, doc))
    }

    /// Changes the stored document with `change` (read again and retried when another writer
    /// came first: the runner's counts and a person's pause may cross). `change` answers
    /// `Err` to refuse. `audit`: the change's line (none for the runner's counts).
    async fn update(
        &self,
        tenant: &TenantId,
        id: &CampaignId,
        by: &str,
        audit: Option<AuditRecord>,
        mut change: impl FnMut(&mut CampaignDoc) -> Result<(), CampaignError>,
    ) -> Result<(AutomationItem, CampaignDoc), CampaignError> {
        for _ in 0..16 {
            let (item, mut doc) = self.load(tenant, id).await?;
            let before = item.body.clone();
            change(&mut doc)?;
            let body =
                serde_json::to_string(&doc).map_err(|e| StoreError::Invalid(e.to_string()))?;
            if body == before {
                return Ok((item, doc));
            }
            let next = AutomationItem {
                version: item.version + 1,
                updated_at: now_ms(),
                updated_by: by.to_owned(),
                body,
                ..item
            };
            let line = audit.clone().map(|mut a| {
                a.tenant = tenant.clone();
                a.before = Some(state_line(&before));
                a.after = Some(state_line(&next.body));
                a
            });
            match self.inner.store.put_item(&next, line.as_ref()).await {
                Ok(()) => return Ok((next, doc)),
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(CampaignError::Conflict(
            "the campaign changed too often at once; try again".into(),
        ))
    }

    /// What pre-flight estimated when the campaign started against what the ledger holds for
    /// it: the report by campaign from the day it started to today.
    pub async fn cost(
        &self,
        scope: &TenantScope,
        id: &CampaignId,
    ) -> Result<CampaignCost, CampaignError> {
        let (_, doc) = self.load(scope.tenant(), id).await?;
        let estimate = doc.preflight.as_ref().map(|p| p.total_cost.clone());
        let mut cost = CampaignCost {
            estimate,
            actual: "0".into(),
            messages: 0,
            billed: 0,
            unpriced: 0,
        };
        let Some(started) = doc.started_at else {
            return Ok(cost);
        };
        let from = utc_day(started);
        let to = utc_day(now_ms())
            .tomorrow()
            .unwrap_or(jiff::civil::Date::MAX);
        let report = self
            .inner
            .costs
            .report(scope, CostGroup::Campaign, from, to)
            .await
            .map_err(|e| match e {
                CostError::Store(e) => CampaignError::Store(e),
                other => CampaignError::Unavailable(other.to_string()),
            })?;
        if let Some(line) = report.lines.into_iter().find(|l| l.key == id.as_str()) {
            cost.actual = line.amount;
            cost.messages = line.messages;
            cost.billed = line.billed;
            cost.unpriced = line.unpriced;
        }
        Ok(cost)
    }

    /// Each campaign's name by its id (what a cost report by campaign shows).
    pub async fn names(
        &self,
        scope: &TenantScope,
    ) -> Result<HashMap<String, String>, CampaignError> {
        let mut names = HashMap::new();
        for item in scope.automation_items(ItemKind::Campaign).await? {
            if let Ok(doc) = read_doc(&item) {
                names.insert(item.id.clone(), doc.input.name);
            }
        }
        Ok(names)
    }

    /// The campaigns of the workspace, newest first.
    pub async fn list(&self, scope: &TenantScope) -> Result<Vec<Campaign>, StoreError> {
        let mut out = Vec::new();
        for item in scope.automation_items(ItemKind::Campaign).await? {
            match read_doc(&item) {
                Ok(doc) => out.push(doc.wire(&item)),
                Err(e) => tracing::error!(campaign = %item.id, error = %e, "unreadable campaign"),
            }
        }
        out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(out)
    }

    pub async fn get(
        &self,
        scope: &TenantScope,
        id: &CampaignId,
    ) -> Result<Campaign, CampaignError> {
        let (item, doc) = self.load(scope.tenant(), id).await?;
        Ok(doc.wire(&item))
    }

    /// A new draft.
    pub async fn create(
        &self,
        principal: &Principal,
        scope: &TenantScope,
        input: CampaignInput,
    ) -> Result<Campaign, CampaignError> {
        let (input, start_at_ms) = self.check_input(scope, input).await?;
        if scope.automation_items(ItemKind::Campaign).await?.len() >= MAX_CAMPAIGNS {
            return Err(CampaignError::TooMany(format!(
                "a workspace keeps at most {MAX_CAMPAIGNS} campaigns"
            )));
        }
        let now = now_ms();
        let doc = CampaignDoc {
            input,
            state: CampaignState::Draft,
            total: 0,
            counts: CampaignCounts::default(),
            paused_reason: None,
            retry_of: None,
            preflight: None,
            created_at: now,
            created_by: principal.actor_id(),
            started_at: None,
            finished_at: None,
            start_at_ms,
            materialized: false,
            waiting_until: None,
        };
        let item = self
            .store_new(principal, scope, &doc, "campaign.create")
            .await?;
        Ok(doc.wire(&item))
    }

    async fn store_new(
        &self,
        principal: &Principal,
        scope: &TenantScope,
        doc: &CampaignDoc,
        action: &str,
    ) -> Result<AutomationItem, CampaignError> {
        let item = AutomationItem {
            tenant: scope.tenant().clone(),
            kind: ItemKind::Campaign,
            id: new_id("cp"),
            version: 1,
            updated_at: doc.created_at,
            updated_by: principal.actor_id(),
            body: serde_json::to_string(doc).map_err(|e| StoreError::Invalid(e.to_string()))?,
        };
        let mut audit = principal.audit(action, Some(format!("campaign:{}", item.id)), "ok");
        audit.after = Some(state_line(&item.body));
        Ok(scope.put_automation_item(item, audit).await?)
    }

    /// `PATCH`: a draft's fields, replaced whole.
    pub async fn replace(
        &self,
        principal: &Principal,
        scope: &TenantScope,
        id: &CampaignId,
        input: CampaignInput,
    ) -> Result<Campaign, CampaignError> {
        // Another tenant's id is unknown before anything about the body is said.
        self.load(scope.tenant(), id).await?;
        let (input, start_at_ms) = self.check_input(scope, input).await?;
        let audit = principal.audit("campaign.update", Some(format!("campaign:{id}")), "ok");
        let (item, doc) = self
            .update(
                scope.tenant(),
                id,
                &principal.actor_id(),
                Some(audit),
                |doc| {
                    if doc.state != CampaignState::Draft {
                        return Err(CampaignError::Conflict(format!(
                            "only a draft can be changed; this campaign is {}",
                            doc.state.as_str()
                        )));
                    }
                    doc.input = input.clone();
                    doc.start_at_ms = start_at_ms;
                    doc.preflight = None;
                    Ok(())
                },
            )
            .await?;
        Ok(doc.wire(&item))
    }

    /// Checks a campaign's fields: the name, the audience (the segment or tag exists), the
    /// numbers (the workspace's), the variables, the start (a moment, or a local time in a
    /// known zone), the pace and the cap. Answers the input tidied and the start as a moment.
    async fn check_input(
        &self,
        scope: &TenantScope,
        mut input: CampaignInput,
    ) -> Result<(CampaignInput, Option<i64>), CampaignError> {
        input.name = input.name.trim().to_owned();
        if input.name.is_empty() || input.name.chars().count() > 200 {
            return Err(invalid(
                "name",
                "a campaign needs a name of 1 to 200 characters",
            ));
        }
        if input.template.name.trim().is_empty() {
            return Err(invalid("template.name", "name the template"));
        }
        if input.template.language.trim().is_empty() {
            return Err(invalid(
                "template.language",
                "say the template's language (`en_US`)",
            ));
        }
        match (&input.audience.segment, &input.audience.tag) {
            (Some(segment), None) => {
                if scope.segment(segment).await?.is_none() {
                    return Err(invalid(
                        "audience.segment",
                        format!("no segment `{segment}`"),
                    ));
                }
            }
            (None, Some(tag)) => {
                if !scope.tags().await?.iter().any(|t| &t.name == tag) {
                    return Err(invalid(
                        "audience.tag",
                        format!("no tag `{tag}` in the catalogue"),
                    ));
                }
            }
            _ => {
                return Err(invalid(
                    "audience",
                    "give exactly one of `segment` (an id) or `tag` (a name)",
                ))
            }
        }
        if input.numbers.is_empty() || input.numbers.len() > MAX_NUMBERS {
            return Err(invalid(
                "numbers",
                format!("send from 1 to {MAX_NUMBERS} of the workspace's numbers"),
            ));
        }
        let mut seen = HashSet::new();
        for (i, n) in input.numbers.iter().enumerate() {
            if self.inner.outbound.entry(scope.tenant(), n).is_err() {
                return Err(invalid(
                    format!("numbers[{i}]"),
                    format!("no number `{n}` in this workspace"),
                ));
            }
            if !seen.insert(n.clone()) {
                return Err(invalid(
                    format!("numbers[{i}]"),
                    format!("`{n}` is listed twice"),
                ));
            }
        }
        let attributes = scope.attributes().await?;
        for (i, v) in input.variables.iter().enumerate() {
            let given = [v.attribute.is_some(), v.field.is_some(), v.text.is_some()]
                .iter()
                .filter(|b| **b)
                .count();
            if given != 1 {
                return Err(invalid(
                    format!("variables[{i}]"),
                    "give exactly one of `attribute`, `field` (name, phone, country) or `text`",
                ));
            }
            if let Some(field) = &v.field {
                if !matches!(field.as_str(), "name" | "phone" | "country") {
                    return Err(invalid(
                        format!("variables[{i}].field"),
                        format!("`{field}` is not `name`, `phone` or `country`"),
                    ));
                }
            }
            if let Some(key) = &v.attribute {
                if !attributes.iter().any(|a| &a.key == key) {
                    return Err(invalid(
                        format!("variables[{i}].attribute"),
                        format!("no attribute `{key}` is defined"),
                    ));
                }
            }
            for (name, text) in [("text", &v.text), ("fallback", &v.fallback)] {
                if let Some(t) = text {
                    if t.trim().is_empty() || t.contains(['\n', '\t']) || t.chars().count() > 1024 {
                        return Err(invalid(
                            format!("variables[{i}].{name}"),
                            "1 to 1,024 characters, without new lines or tabs",
                        ));
                    }
                }
            }
        }
        if let Some(rate) = input.max_per_second {
            if !(1..=1000).contains(&rate) {
                return Err(invalid("max_per_second", "1 to 1,000 messages a second"));
            }
        }
        if let Some(minutes) = input.target_minutes {
            if !(1..=10_080).contains(&minutes) {
                return Err(invalid(
                    "target_minutes",
                    "1 minute to 7 days (10,080 minutes)",
                ));
            }
        }
        if let Some(days) = input.frequency_cap_days {
            if !(1..=365).contains(&days) {
                return Err(invalid("frequency_cap_days", "1 to 365 days"));
            }
        }
        if let Some(zone) = &input.time_zone {
            if crate::schedule::zones().get(zone).is_err() {
                return Err(invalid(
                    "time_zone",
                    format!("`{zone}` is not an IANA time zone (`Europe/Moscow`)"),
                ));
            }
        }
        if let Some(w) = &input.local_window {
            window::check(w)
                .map_err(|e| invalid(format!("local_window.{}", e.field), e.message))?;
        }
        let start_at_ms = match &input.start_at {
            None => None,
            Some(text) => Some(start_moment(text, input.time_zone.as_deref())?),
        };
        Ok((input, start_at_ms))
    }

    // -----------------------------------------------------------------------------------------
    // The state machine

    /// `POST campaigns/{id}/start`: a draft starts now, or is scheduled for its `start_at`.
    pub async fn start(
        &self,
        principal: &Principal,
        scope: &TenantScope,
        id: &CampaignId,
    ) -> Result<Campaign, CampaignError> {
        let (_, doc) = self.load(scope.tenant(), id).await?;
        if doc.state != CampaignState::Draft {
            return Err(CampaignError::Conflict(format!(
                "the campaign is {} already; only a draft starts",
                doc.state.as_str()
            )));
        }
        let now = now_ms();
        if doc.start_at_ms.is_some_and(|at| at < now - 60_000) {
            return Err(invalid(
                "start_at",
                "the start time has passed; change it or remove it",
            ));
        }
        let preflight = self.preflight_of(scope.tenant(), &doc, Some(id)).await?;
        if preflight.audience == 0 {
            return Err(invalid("audience", "the audience selects no contact"));
        }
        if preflight.eligible == 0 {
            return Err(invalid(
                "audience",
                "every contact of the audience is skipped (see the pre-flight's reasons)",
            ));
        }
        let audit = principal.audit("campaign.start", Some(format!("campaign:{id}")), "ok");
        let (item, doc) = self
            .update(
                scope.tenant(),
                id,
                &principal.actor_id(),
                Some(audit),
                |doc| {
                    if doc.state != CampaignState::Draft {
                        return Err(CampaignError::Conflict(
                            "the campaign started already".into(),
                        ));
                    }
                    doc.preflight = Some(preflight.clone());
                    if doc.start_at_ms.is_some_and(|at| at > now) {
                        doc.state = CampaignState::Scheduled;
                    } else {
                        doc.state = CampaignState::Running;
                        doc.started_at = Some(now);
                    }
                    Ok(())
                },
            )
            .await?;
        self.spawn_run(scope.tenant().clone(), id.clone());
        Ok(doc.wire(&item))
    }

    /// `POST campaigns/{id}/pause`.
    pub async fn pause(
        &self,
        principal: &Principal,
        scope: &TenantScope,
        id: &CampaignId,
    ) -> Result<Campaign, CampaignError> {
        let reason = format!("paused by {}", principal.actor_id());
        let audit = principal.audit("campaign.pause", Some(format!("campaign:{id}")), "ok");
        let (item, doc) = self
            .update(
                scope.tenant(),
                id,
                &principal.actor_id(),
                Some(audit),
                |doc| match doc.state {
                    CampaignState::Running | CampaignState::Scheduled => {
                        doc.state = CampaignState::Paused;
                        doc.paused_reason = Some(reason.clone());
                        Ok(())
                    }
                    s => Err(CampaignError::Conflict(format!(
                        "a {} campaign cannot be paused",
                        s.as_str()
                    ))),
                },
            )
            .await?;
        self.halted(scope.tenant(), id, &doc).await;
        Ok(doc.wire(&item))
    }

    /// After a pause or cancel is stored: the run lets go (its in-flight hand-overs finish
    /// first) and everyone watching sees the new state.
    async fn halted(&self, tenant: &TenantId, id: &CampaignId, doc: &CampaignDoc) {
        self.inner
            .runs
            .stopped(tenant, id, self.inner.store.as_ref())
            .await;
        self.announce(tenant, id, doc);
    }

    /// `POST campaigns/{id}/resume`: goes on where it stopped.
    pub async fn resume(
        &self,
        principal: &Principal,
        scope: &TenantScope,
        id: &CampaignId,
    ) -> Result<Campaign, CampaignError> {
        let audit = principal.audit("campaign.resume", Some(format!("campaign:{id}")), "ok");
        let now = now_ms();
        let (item, doc) = self
            .update(
                scope.tenant(),
                id,
                &principal.actor_id(),
                Some(audit),
                |doc| {
                    if doc.state != CampaignState::Paused {
                        return Err(CampaignError::Conflict(format!(
                            "only a paused campaign resumes; this one is {}",
                            doc.state.as_str()
                        )));
                    }
                    doc.paused_reason = None;
                    if doc.started_at.is_none() && doc.start_at_ms.is_some_and(|at| at > now) {
                        doc.state = CampaignState::Scheduled;
                    } else {
                        doc.state = CampaignState::Running;
                        doc.started_at.get_or_insert(now);
                    }
                    Ok(())
                },
            )
            .await?;
        self.inner.runs.forget_outcomes(scope.tenant(), id).await;
        self.spawn_run(scope.tenant().clone(), id.clone());
        Ok(doc.wire(&item))
    }

    /// `POST campaigns/{id}/cancel`: nothing more is sent (what the outbox holds already goes).
    pub async fn cancel(
        &self,
        principal: &Principal,
        scope: &TenantScope,
        id: &CampaignId,
    ) -> Result<Campaign, CampaignError> {
        let audit = principal.audit("campaign.cancel", Some(format!("campaign:{id}")), "ok");
        let now = now_ms();
        let (item, doc) = self
            .update(
                scope.tenant(),
                id,
                &principal.actor_id(),
                Some(audit),
                |doc| {
                    if doc.state.finished() {
                        return Err(CampaignError::Conflict(format!(
                            "the campaign is {} already",
                            doc.state.as_str()
                        )));
                    }
                    doc.state = CampaignState::Cancelled;
                    doc.finished_at = Some(now);
                    Ok(())
                },
            )
            .await?;
        self.halted(scope.tenant(), id, &doc).await;
        Ok(doc.wire(&item))
    }

    /// `POST campaigns/{id}/retry`: a new draft for the recipients who failed.
    pub async fn retry_failed(
        &self,
        principal: &Principal,
        scope: &TenantScope,
        id: &CampaignId,
    ) -> Result<Campaign, CampaignError> {
        let (_, doc) = self.load(scope.tenant(), id).await?;
        if !doc.state.finished() && doc.state != CampaignState::Paused {
            return Err(CampaignError::Conflict(
                "retry the failed once the campaign is paused, completed or cancelled".into(),
            ));
        }
        if doc.counts.failed == 0 {
            return Err(CampaignError::Conflict("no recipient failed".into()));
        }
        let now = now_ms();
        let retry = CampaignDoc {
            input: CampaignInput {
                name: format!("{} (retry)", doc.input.name)
                    .chars()
                    .take(200)
                    .collect(),
                start_at: None,
                time_zone: None,
                ..doc.input.clone()
            },
            state: CampaignState::Draft,
            total: 0,
            counts: CampaignCounts::default(),
            paused_reason: None,
            retry_of: Some(id.clone()),
            preflight: None,
            created_at: now,
            created_by: principal.actor_id(),
            started_at: None,
            finished_at: None,
            start_at_ms: None,
            materialized: false,
            waiting_until: None,
        };
        let item = self
            .store_new(principal, scope, &retry, "campaign.retry")
            .await?;
        Ok(retry.wire(&item))
    }

    /// `GET campaigns/{id}/recipients?state=`: a page of recipients (in storage order), with
    /// those in other states passed over.
    pub async fn recipients(
        &self,
        scope: &TenantScope,
        id: &CampaignId,
        state: Option<RecipientState>,
        cursor: Option<&crate::store::Cursor>,
        limit: usize,
    ) -> Result<crate::store::Page<RecipientRecord>, CampaignError> {
        self.load(scope.tenant(), id).await?;
        let mut cursor = cursor.cloned();
        let mut items = Vec::new();
        loop {
            let page = self
                .inner
                .store
                .recipients(scope.tenant(), id, cursor.as_ref(), PAGE)
                .await?;
            let mut next = page.next.clone();
            for r in page.items {
                if r.tenant != *scope.tenant() || state.is_some_and(|s| s != r.state) {
                    continue;
                }
                items.push(r);
                if items.len() == limit {
                    let last = items.last().expect("just pushed");
                    next = Some(crate::store::Cursor::encode(&[
                        &last.bucket().to_string(),
                        last.wa_id.as_str(),
                    ]));
                    return Ok(crate::store::Page { items, next });
                }
            }
            match next {
                Some(n) => cursor = Some(n),
                None => return Ok(crate::store::Page { items, next: None }),
            }
        }
    }

    fn announce(&self, tenant: &TenantId, id: &CampaignId, doc: &CampaignDoc) {
        let (rate, eta) = self.inner.runs.pace(tenant, id, doc.counts.queued);
        self.inner.broker.announce(
            tenant,
            &switchboard_shared::protocol::Topic::Tenant,
            &switchboard_shared::protocol::HubEvent::CampaignProgressed {
                campaign: id.clone(),
                state: doc.state,
                total: doc.total,
                counts: doc.counts,
                paused_reason: doc.paused_reason.clone(),
                rate_per_second: rate,
                eta_seconds: eta,
            },
        );
    }
}

/// The audit's view of a campaign document: its state and counts, not its whole input.
fn state_line(body: &str) -> String {
    match serde_json::from_str::<CampaignDoc>(body) {
        Ok(d) => serde_json::json!({
            "name": d.input.name,
            "state": d.state.as_str(),
            "total": d.total,
            "paused_reason": d.paused_reason,
        })
        .to_string(),
        Err(_) => String::new(),
    }
}

/// The values of a contact's template variables, or `None` when one has neither a value nor a
/// fallback.
fn values(variables: &[Variable], contact: &ContactRecord) -> Option<Vec<String>> {
    variables
        .iter()
        .map(|v| {
            let value = if let Some(text) = &v.text {
                Some(text.clone())
            } else if let Some(key) = &v.attribute {
                contact.attributes.get(key).and_then(|value| match value {
                    serde_json::Value::String(s) => Some(s.clone()),
                    serde_json::Value::Null => None,
                    other => Some(other.to_string()),
                })
            } else {
                match v.field.as_deref() {
                    Some("name") => contact.display_name().map(str::to_owned),
                    Some("phone") => contact.phone.as_deref().map(e164),
                    Some("country") => contact.country.clone(),
                    _ => None,
                }
            };
            value
                .map(|s| s.replace(['\n', '\t'], " ").trim().to_owned())
                .filter(|s| !s.is_empty())
                .or_else(|| v.fallback.clone())
        })
        .collect()
}

/// The number a recipient gets the campaign from: the same one every time (a digest of their
/// id), each number taking a share of the recipients in proportion to its tier, so that every
/// number is busy for the same time and the campaign ends when the tiers together allow.
fn pick_number(numbers: &[(PhoneNumberId, u32)], wa_id: &WaId) -> PhoneNumberId {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(wa_id.as_str().as_bytes());
    let total: u64 = numbers
        .iter()
        .map(|(_, mps)| u64::from(*mps))
        .sum::<u64>()
        .max(1);
    let mut point = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes")) % total;
    for (n, mps) in numbers {
        if point < u64::from(*mps) {
            return n.clone();
        }
        point -= u64::from(*mps);
    }
    numbers[0].0.clone()
}

/// A template body with its values.
fn render(body: &str, params: &[String]) -> String {
    let mut text = body.to_owned();
    for (i, p) in params.iter().enumerate() {
        text = text.replace(&format!("{{{{{}}}}}", i + 1), p);
    }
    text
}

/// `start_at` as a moment: RFC 3339 with an offset, or a local date and time in `zone`.
fn start_moment(text: &str, zone: Option<&str>) -> Result<i64, CampaignError> {
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Ok(ts.as_millisecond());
    }
    let Some(zone) = zone else {
        return Err(invalid(
            "start_at",
            format!("`{text}` needs an offset (`2026-12-24T09:00:00+03:00`) or a `time_zone`"),
        ));
    };
    let tz = TimeZone::get(zone)
        .map_err(|_| invalid("time_zone", format!("`{zone}` is not an IANA time zone")))?;
    let local: DateTime = text.parse().map_err(|_| {
        invalid(
            "start_at",
            format!("`{text}` is not a date and time (`2026-12-24T09:00`)"),
        )
    })?;
    let zoned = local
        .to_zoned(tz)
        .map_err(|e| invalid("start_at", format!("`{text}` in {zone}: {e}")))?;
    Ok(zoned.timestamp().as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_are_moments_in_a_zone() {
        assert_eq!(
            start_moment("2026-12-24T09:00:00+03:00", None).unwrap(),
            start_moment("2026-12-24T09:00", Some("Europe/Moscow")).unwrap()
        );
        assert!(matches!(
            start_moment("2026-12-24T09:00", Some("Mars/Olympus")),
            Err(CampaignError::Invalid { field, .. }) if field == "time_zone"
        ));
        assert!(matches!(
            start_moment("2026-12-24T09:00", None),
            Err(CampaignError::Invalid { field, .. }) if field == "start_at"
        ));
        assert!(start_moment("soon", Some("UTC")).is_err());
    }

    #[test]
    fn values_come_from_the_contact_or_the_fallback() {
        let mut c = ContactRecord::new(
            TenantId::from("t"),
            switchboard_shared::ContactId::from("c_1"),
            Some("4915112345678".into()),
            None,
            0,
        );
        c.name = Some("Olga".into());
        c.attributes
            .insert("code".into(), serde_json::json!("SALE25"));
        let v = |attribute: Option<&str>, field: Option<&str>, fallback: Option<&str>| Variable {
            attribute: attribute.map(str::to_owned),
            field: field.map(str::to_owned),
            text: None,
            fallback: fallback.map(str::to_owned),
        };
        assert_eq!(
            values(
                &[v(None, Some("name"), None), v(Some("code"), None, None)],
                &c
            ),
            Some(vec!["Olga".to_owned(), "SALE25".to_owned()])
        );
        assert_eq!(
            values(&[v(Some("city"), None, Some("friend"))], &c),
            Some(vec!["friend".to_owned()])
        );
        assert_eq!(values(&[v(Some("city"), None, None)], &c), None);
        assert_eq!(
            render("Hi {{1}}, use {{2}}", &["Olga".into(), "X".into()]),
            "Hi Olga, use X"
        );
        let numbers = [
            (PhoneNumberId::from("1"), 10),
            (PhoneNumberId::from("2"), 90),
        ];
        let w = WaId::from("4915112345678");
        assert_eq!(pick_number(&numbers, &w), pick_number(&numbers, &w));
        let second = (0..10_000)
            .filter(|i| pick_number(&numbers, &WaId::new(format!("49151{i:08}"))).as_str() == "2")
            .count();
        assert!(
            (8_700..9_300).contains(&second),
            "in proportion to the tiers: {second}"
        );
    }
}
