//! Retention: each workspace's policy (how long text, files, messages and the audit log are
//! kept), its legal holds, and the purge that applies them: on demand, as a dry run, and daily
//! in the configured window.
//!
//! Owns: checking a policy (each bad field named), which periods apply to a conversation (its
//! number's, else the longest of its teams', else the default), holds and their targets, the
//! purge's order (a conversation's files before its rows, so a stop between them leaves rows
//! whose files are already gone rather than files nobody can find), its progress and its
//! receipt (an audit line with the counts and a digest). Must not: decide what a store row holds
//! (the `RetentionStore` does) or reach a blob except through the media keeper.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use switchboard_shared::retention::{
    Hold, HoldTarget, NewHold, Periods, PurgeReport, RetentionPolicy, RetentionStatus, MAX_DAYS,
    MIN_DAYS,
};
use switchboard_shared::{ConversationId, PhoneNumberId, TeamId, TenantId};
use tokio_util::sync::CancellationToken;

use super::documents::{DocumentActor, DocumentError, DocumentKind};
use super::media::MediaKeeper;
use crate::auth::principal::audit_line;
use crate::auth::{Principal, RequestMeta, TenantScope};
use crate::domain::*;
use crate::store::{Cursor, Store, StoreError, StoreResult};

/// The policy's document id (one per workspace).
pub const POLICY_ID: &str = "policy";
const DAY_MS: i64 = 86_400_000;
/// Conversations read per page of the walk.
const WALK: usize = 200;
/// How far back the walk looks for conversations (their last activity): further than any period.
const WALK_DAYS: i64 = 20 * 366;
/// The name of the store cursor that says on which day the daily purge last ran.
const DAILY_CURSOR: &str = "retention.daily";

pub const HOLDS: DocumentKind = DocumentKind {
    kind: ItemKind::Hold,
    prefix: "lh",
    noun: "hold",
    limit: 1_000,
};

#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error("`{field}`: {message}")]
    Invalid { field: String, message: String },
    #[error("{0}")]
    Conflict(String),
    #[error("no such {0}")]
    NotFound(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<DocumentError> for RetentionError {
    fn from(e: DocumentError) -> Self {
        match e {
            DocumentError::NotFound(noun) => Self::NotFound(noun),
            DocumentError::Invalid { field, message } => Self::Invalid { field, message },
            DocumentError::TooMany(m)
            | DocumentError::Conflict(m)
            | DocumentError::Forbidden(m) => Self::Conflict(m),
            DocumentError::Store(e) => Self::Store(e),
        }
    }
}

fn bad(field: impl Into<String>, message: impl Into<String>) -> RetentionError {
    RetentionError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// Checks one set of periods; `at` names where they are in the policy.
fn check_periods(p: &Periods, at: &str) -> Result<(), RetentionError> {
    for (name, days) in [
        ("text_days", p.text_days),
        ("media_days", p.media_days),
        ("metadata_days", p.metadata_days),
    ] {
        if let Some(d) = days {
            if !(MIN_DAYS..=MAX_DAYS).contains(&d) {
                return Err(bad(
                    format!("{at}{name}"),
                    format!(
                        "must be between {MIN_DAYS} and {MAX_DAYS} days (five years), or null to \
                         keep forever; got {d}"
                    ),
                ));
            }
        }
    }
    // A message cannot go before its words or its file: `None` is forever.
    let longer = |a: Option<u32>, b: Option<u32>| match (a, b) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(a), Some(b)) => a >= b,
    };
    for (name, days) in [("text_days", p.text_days), ("media_days", p.media_days)] {
        if !longer(p.metadata_days, days) {
            return Err(bad(
                format!("{at}metadata_days"),
                format!("must be at least {name}: a message cannot go before its {name}"),
            ));
        }
    }
    Ok(())
}

/// Checks a whole policy against the workspace's numbers and teams.
pub fn check(
    policy: &RetentionPolicy,
    numbers: &[PhoneNumberId],
    teams: &[TeamId],
) -> Result<(), RetentionError> {
    check_periods(&policy.default, "default.")?;
    let mut seen = HashSet::new();
    for (i, n) in policy.numbers.iter().enumerate() {
        if !numbers.contains(&n.number) {
            return Err(bad(
                format!("numbers[{i}].number"),
                format!("{} is not one of the workspace's numbers", n.number),
            ));
        }
        if !seen.insert(n.number.as_str()) {
            return Err(bad(
                format!("numbers[{i}].number"),
                "each number has one entry",
            ));
        }
        check_periods(&n.periods(), &format!("numbers[{i}]."))?;
    }
    let mut seen = HashSet::new();
    for (i, t) in policy.teams.iter().enumerate() {
        if !teams.contains(&t.team) {
            return Err(bad(
                format!("teams[{i}].team"),
                format!("{} is not one of the workspace's teams", t.team),
            ));
        }
        if !seen.insert(t.team.as_str()) {
            return Err(bad(format!("teams[{i}].team"), "each team has one entry"));
        }
        check_periods(&t.periods(), &format!("teams[{i}]."))?;
    }
    if let Some(d) = policy.audit_days {
        if !(MIN_DAYS..=MAX_DAYS).contains(&d) {
            return Err(bad(
                "audit_days",
                format!("must be between {MIN_DAYS} and {MAX_DAYS} days, or null; got {d}"),
            ));
        }
    }
    Ok(())
}

/// The periods that apply to a conversation of `number`, whose teams are `teams_of_number`: the
/// number's own; else the longest of its teams' for each kind; else the default.
pub fn periods_for(
    policy: &RetentionPolicy,
    number: &PhoneNumberId,
    teams_of_number: &[TeamId],
) -> Periods {
    if let Some(n) = policy.numbers.iter().find(|n| &n.number == number) {
        return n.periods();
    }
    let teams: Vec<Periods> = policy
        .teams
        .iter()
        .filter(|t| teams_of_number.contains(&t.team))
        .map(|t| t.periods())
        .collect();
    if teams.is_empty() {
        return policy.default;
    }
    // The longest: `None` (forever) beats any number of days.
    let longest = |pick: fn(&Periods) -> Option<u32>| {
        teams
            .iter()
            .map(pick)
            .try_fold(0u32, |acc, d| d.map(|d| acc.max(d)))
    };
    Periods {
        text_days: longest(|p| p.text_days),
        media_days: longest(|p| p.media_days),
        metadata_days: longest(|p| p.metadata_days),
    }
}

/// The cut for `periods` at `now`, with the held date ranges.
pub fn cut_of(periods: &Periods, now: UnixMillis, held: &[(i64, i64)]) -> PurgeCut {
    let before = |days: Option<u32>| days.map(|d| now - i64::from(d) * DAY_MS);
    PurgeCut {
        text_before: before(periods.text_days),
        media_before: before(periods.media_days),
        rows_before: before(periods.metadata_days),
        held: held.to_vec(),
    }
}

/// The workspace's policy: `None` until saved (then nothing is ever due).
pub async fn policy(scope: &TenantScope) -> StoreResult<Option<RetentionPolicy>> {
    scope
        .automation_item(ItemKind::Retention, POLICY_ID)
        .await?
        .map(|item| {
            let mut p: RetentionPolicy = serde_json::from_str(&item.body)
                .map_err(|e| StoreError::Corrupt(format!("retention policy: {e}")))?;
            p.version = Some(item.version);
            Ok(p)
        })
        .transpose()
}

/// Replaces the policy whole (checked; `version`, when sent, must be the stored one), audited
/// with what it was and became.
pub async fn replace_policy(
    principal: &Principal,
    scope: &TenantScope,
    mut policy: RetentionPolicy,
) -> Result<RetentionPolicy, RetentionError> {
    let numbers: Vec<PhoneNumberId> = scope
        .numbers()
        .await?
        .into_iter()
        .map(|n| n.phone_number_id)
        .collect();
    let teams: Vec<TeamId> = scope.teams().await?.into_iter().map(|t| t.id).collect();
    check(&policy, &numbers, &teams)?;
    let asked = policy.version.take();
    let actor = DocumentActor {
        principal,
        scope,
        action: "retention.policy.replace",
    };
    let version = super::documents::replace_single(
        &actor,
        ItemKind::Retention,
        ("retention", POLICY_ID),
        asked,
        &policy,
    )
    .await?;
    policy.version = Some(version);
    Ok(policy)
}

fn hold_of(item: &AutomationItem) -> StoreResult<Hold> {
    let h: NewHold = serde_json::from_str(&item.body)
        .map_err(|e| StoreError::Corrupt(format!("hold {}: {e}", item.id)))?;
    Ok(Hold {
        id: item.id.clone(),
        target: h.target,
        reason: h.reason,
        created_at: item.updated_at,
        created_by: item.updated_by.clone(),
    })
}

/// The workspace's holds, oldest first.
pub async fn holds(scope: &TenantScope) -> StoreResult<Vec<Hold>> {
    let mut holds = scope
        .automation_items(ItemKind::Hold)
        .await?
        .iter()
        .map(hold_of)
        .collect::<StoreResult<Vec<_>>>()?;
    holds.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(holds)
}

/// Places a hold on a target that exists.
pub async fn place_hold(
    principal: &Principal,
    scope: &TenantScope,
    hold: NewHold,
) -> Result<Hold, RetentionError> {
    let reason = hold.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(bad(
            "reason",
            "say why in 1 to 500 characters (a case or matter reference)",
        ));
    }
    match &hold.target {
        HoldTarget::Contact { contact } => {
            if scope.contact(contact).await?.is_none() {
                return Err(bad("target.contact", "no such contact in this workspace"));
            }
        }
        HoldTarget::Conversation { conversation } => {
            if scope.conversation(conversation).await?.is_none() {
                return Err(bad(
                    "target.conversation",
                    "no such conversation in this workspace",
                ));
            }
        }
        HoldTarget::Number { number } => {
            if !scope
                .numbers()
                .await?
                .iter()
                .any(|n| &n.phone_number_id == number)
            {
                return Err(bad("target.number", "no such number in this workspace"));
            }
        }
        HoldTarget::Range { from, to } => {
            if from >= to {
                return Err(bad(
                    "target.to",
                    "must be after `from` (a range is [from, to))",
                ));
            }
        }
    }
    let hold = NewHold {
        target: hold.target,
        reason: reason.to_owned(),
    };
    let actor = DocumentActor {
        principal,
        scope,
        action: "retention.hold.place",
    };
    let item = HOLDS.create(&actor, &hold).await?;
    Ok(hold_of(&item)?)
}

/// Releases a hold (the audit log keeps what it was).
pub async fn release_hold(
    principal: &Principal,
    scope: &TenantScope,
    id: &str,
) -> Result<(), RetentionError> {
    let actor = DocumentActor {
        principal,
        scope,
        action: "retention.hold.release",
    };
    Ok(HOLDS.delete(&actor, id).await?)
}

/// What the holds keep, ready to ask of each conversation.
#[derive(Default)]
struct Held {
    conversations: HashSet<ConversationId>,
    numbers: HashSet<PhoneNumberId>,
    /// Contacts' WhatsApp ids (their phone digits and BSUIDs).
    customers: HashSet<String>,
    ranges: Vec<(i64, i64)>,
}

impl Held {
    async fn of(scope: &TenantScope) -> StoreResult<Self> {
        let mut held = Held::default();
        for hold in holds(scope).await? {
            match hold.target {
                HoldTarget::Conversation { conversation } => {
                    held.conversations.insert(conversation);
                }
                HoldTarget::Number { number } => {
                    held.numbers.insert(number);
                }
                HoldTarget::Contact { contact } => {
                    // A contact erased since leaves nothing to keep.
                    if let Some(c) = scope.contact(&contact).await? {
                        held.customers.extend(c.phone);
                        held.customers.extend(c.bsuid);
                    }
                }
                HoldTarget::Range { from, to } => held.ranges.push((from, to)),
            }
        }
        Ok(held)
    }

    fn keeps_whole(&self, t: &ThreadRecord) -> bool {
        self.conversations.contains(&t.conversation)
            || self.numbers.contains(&t.number)
            || self.customers.contains(t.customer.as_str())
    }
}

/// What erasing a contact must respect and clean up: the hold that forbids it, if any, and the
/// media ids of the files in the contact's conversations (kept copies the erasure must delete).
pub async fn before_erasure(
    scope: &TenantScope,
    contact: &ContactRecord,
) -> StoreResult<(Option<Hold>, Vec<String>)> {
    let customers: Vec<&str> = contact
        .phone
        .iter()
        .chain(contact.bsuid.iter())
        .map(String::as_str)
        .collect();
    let numbers = scope.numbers().await?;
    let mut conversations = Vec::new();
    for n in &numbers {
        for customer in &customers {
            let id = scope.conversation_id(&n.phone_number_id, &(*customer).into());
            if scope.conversation(&id).await?.is_some() {
                conversations.push((n.phone_number_id.clone(), id));
            }
        }
    }
    let holds = holds(scope).await?;
    let held = |number: &PhoneNumberId, id: &ConversationId| {
        holds.iter().find(|h| match &h.target {
            HoldTarget::Contact { contact: c } => c == &contact.id,
            HoldTarget::Conversation { conversation } => conversation == id,
            HoldTarget::Number { number: n } => n == number,
            HoldTarget::Range { .. } => false,
        })
    };
    if let Some(h) = holds
        .iter()
        .find(|h| matches!(&h.target, HoldTarget::Contact { contact: c } if c == &contact.id))
    {
        return Ok((Some(h.clone()), Vec::new()));
    }
    let mut media = Vec::new();
    for (number, id) in &conversations {
        if let Some(h) = held(number, id) {
            return Ok((Some(h.clone()), Vec::new()));
        }
        let mut cursor = None;
        loop {
            let page = scope
                .history(id, cursor.as_ref(), crate::store::MAX_PAGE)
                .await?;
            for m in &page.items {
                let in_range = holds.iter().find(|h| {
                    matches!(h.target, HoldTarget::Range { from, to } if (from..to).contains(&m.at_ms))
                });
                if let Some(h) = in_range {
                    return Ok((Some(h.clone()), Vec::new()));
                }
                media.extend(crate::domain::retention::media_id(&m.kind, &m.raw));
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    Ok((None, media))
}

/// The purge: on demand (a dry run or for real) and daily.
pub struct Retention {
    store: Arc<dyn Store>,
    media: Arc<MediaKeeper>,
    /// Each workspace's progress and last receipt.
    status: Mutex<HashMap<TenantId, RetentionStatus>>,
    /// The most messages a purge removes or strips per second (0: as fast as the store goes),
    /// so a first purge over years of backlog leaves room for live traffic.
    max_per_second: u32,
}

/// Who a purge is for the audit log: a person, or the daily job.
pub enum Purger<'a> {
    Person(&'a Principal),
    Daily,
}

impl Retention {
    pub fn new(store: Arc<dyn Store>, media: Arc<MediaKeeper>, max_per_second: u32) -> Arc<Self> {
        Arc::new(Self {
            store,
            media,
            status: Mutex::default(),
            max_per_second,
        })
    }

    fn with_status<T>(&self, tenant: &TenantId, f: impl FnOnce(&mut RetentionStatus) -> T) -> T {
        let mut map = self.status.lock().unwrap_or_else(|p| p.into_inner());
        f(map.entry(tenant.clone()).or_default())
    }

    pub fn status(&self, tenant: &TenantId) -> RetentionStatus {
        self.with_status(tenant, |s| s.clone())
    }

    /// Marks the workspace's purge as running; false when one already is.
    pub fn begin(&self, tenant: &TenantId) -> bool {
        self.with_status(tenant, |s| {
            if s.running {
                return false;
            }
            s.running = true;
            s.conversations_seen = 0;
            s.messages_purged = 0;
            true
        })
    }

    /// Runs a purge (`apply`) or its dry run over the workspace, and for a purge keeps its
    /// receipt in the audit log. A purge must be [`begin`](Self::begin)-marked by the caller.
    pub async fn run(
        &self,
        scope: &TenantScope,
        apply: bool,
        purger: Purger<'_>,
    ) -> StoreResult<PurgeReport> {
        let result = self.walk(scope, apply).await;
        if apply {
            self.with_status(scope.tenant(), |s| {
                s.running = false;
                if let Ok(report) = &result {
                    s.last = Some(report.clone());
                }
            });
        }
        let report = result?;
        if apply {
            let (actor, name, meta) = match purger {
                Purger::Person(p) => (p.actor_id(), p.actor_name(), p.meta.clone()),
                Purger::Daily => (
                    "system:retention".to_owned(),
                    "daily purge".to_owned(),
                    RequestMeta::default(),
                ),
            };
            let mut line = audit_line(
                scope.tenant(),
                actor,
                name,
                "retention.purge",
                Some("retention:policy".into()),
                "ok",
                &meta,
            );
            line.after = Some(serde_json::to_string(&report).expect("a report serializes"));
            scope.append_audit(line).await?;
            metrics::counter!("switchboard_retention_purged_total", "what" => "messages")
                .increment(report.messages);
            metrics::counter!("switchboard_retention_purged_total", "what" => "texts")
                .increment(report.texts);
            metrics::counter!("switchboard_retention_purged_total", "what" => "files")
                .increment(report.files);
        }
        Ok(report)
    }

    async fn walk(&self, scope: &TenantScope, apply: bool) -> StoreResult<PurgeReport> {
        let now = now_ms();
        let mut report = PurgeReport {
            dry_run: !apply,
            started_at: now,
            ..PurgeReport::default()
        };
        let Some(policy) = policy(scope).await? else {
            report.finished_at = now_ms();
            report.digest = hex::encode(Sha256::digest(b""));
            return Ok(report);
        };
        report.policy_version = policy.version;
        let held = Held::of(scope).await?;
        let mut teams_of: BTreeMap<PhoneNumberId, Vec<TeamId>> = BTreeMap::new();
        for team in scope.teams().await? {
            for n in &team.numbers {
                teams_of.entry(n.clone()).or_default().push(team.id.clone());
            }
        }
        let mut digest = Sha256::new();
        let paced = std::time::Instant::now();
        let today = day_bucket(now);
        let days = (today - WALK_DAYS)..(today + 1);
        let mut cursor: Option<Cursor> = None;
        loop {
            let page = scope
                .threads_by_activity(days.clone(), cursor.as_ref(), WALK)
                .await?;
            for thread in &page.items {
                self.with_status(scope.tenant(), |s| s.conversations_seen += 1);
                if held.keeps_whole(thread) {
                    report.held_conversations += 1;
                    continue;
                }
                let periods = periods_for(
                    &policy,
                    &thread.number,
                    teams_of.get(&thread.number).map_or(&[][..], |t| t),
                );
                let cut = cut_of(&periods, now, &held.ranges);
                if cut.horizon().is_none() {
                    continue;
                }
                self.conversation(scope, thread, &cut, apply, &mut report, &mut digest)
                    .await?;
                let touched = report.messages + report.texts;
                if apply {
                    self.with_status(scope.tenant(), |s| s.messages_purged = touched);
                }
                if apply && self.max_per_second > 0 {
                    // Ahead of the pace: wait until the messages touched so far are due.
                    let due =
                        Duration::from_secs_f64(touched as f64 / f64::from(self.max_per_second));
                    if let Some(ahead) = due.checked_sub(paced.elapsed()) {
                        tokio::time::sleep(ahead).await;
                    }
                }
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        if let Some(days) = policy.audit_days {
            report.audit_lines = scope
                .purge_audit(now - i64::from(days) * DAY_MS, apply)
                .await?;
        }
        report.finished_at = now_ms();
        report.digest = hex::encode(digest.finalize());
        Ok(report)
    }

    /// One conversation: its due files first, then its rows.
    async fn conversation(
        &self,
        scope: &TenantScope,
        thread: &ThreadRecord,
        cut: &PurgeCut,
        apply: bool,
        report: &mut PurgeReport,
        digest: &mut Sha256,
    ) -> StoreResult<()> {
        let due = scope
            .purge_conversation(&thread.conversation, cut, false)
            .await?;
        let (files, bytes) = self.media.purge(scope, &due.media, apply).await?;
        let done = if apply {
            scope
                .purge_conversation(&thread.conversation, cut, true)
                .await?
        } else {
            due.clone()
        };
        report.held_messages += done.held;
        if files.is_empty() && done.removed.is_empty() && done.cleared.is_empty() {
            return Ok(());
        }
        report.conversations += 1;
        report.messages += done.removed.len() as u64;
        report.texts += done.cleared.len() as u64;
        report.files += files.len() as u64;
        report.bytes += bytes;
        for (tag, items) in [("f", &files), ("m", &done.removed), ("t", &done.cleared)] {
            for item in items {
                digest.update(format!("{tag}:{item}\n").as_bytes());
            }
        }
        Ok(())
    }

    /// Runs the daily purge of every workspace once a day, inside the window, until `shutdown`.
    /// `journal_days` is the webhook journal's period (the operator's; SQLite only).
    pub fn spawn_daily(
        self: &Arc<Self>,
        window: (u32, u32),
        journal_days: u32,
        shutdown: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let me = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tick.tick() => {}
                }
                if let Err(e) = me.daily(now_ms(), window, journal_days).await {
                    tracing::warn!(error = %e, "the daily retention purge failed; it runs again");
                }
            }
        })
    }

    /// The daily purge, when `now` is inside the window and it has not run today.
    pub async fn daily(
        &self,
        now: UnixMillis,
        (start_hour, hours): (u32, u32),
        journal_days: u32,
    ) -> StoreResult<bool> {
        let inside = in_window(now, start_hour, hours);
        let today = day_bucket(now);
        let ran = self.store.cursor(DAILY_CURSOR).await?;
        if !inside || ran.is_some_and(|at| day_bucket(at) == today) {
            return Ok(false);
        }
        for tenant in self.store.list_tenants().await? {
            let scope = TenantScope::new(Arc::clone(&self.store), tenant.id.clone());
            if !self.begin(&tenant.id) {
                continue;
            }
            let report = self.run(&scope, true, Purger::Daily).await?;
            tracing::info!(
                tenant = %tenant.id,
                messages = report.messages,
                texts = report.texts,
                files = report.files,
                "daily retention purge"
            );
        }
        let journal = self
            .store
            .purge_journal(now - i64::from(journal_days) * DAY_MS)
            .await?;
        metrics::counter!("switchboard_retention_purged_total", "what" => "journal")
            .increment(journal);
        self.store.set_cursor(DAILY_CURSOR, now).await?;
        Ok(true)
    }
}

/// Whether `now` falls in the window of `hours` hours from `start_hour` (UTC; it may wrap
/// past midnight).
pub fn in_window(now: UnixMillis, start_hour: u32, hours: u32) -> bool {
    let hour = (now.rem_euclid(DAY_MS) / 3_600_000) as u32;
    (hour + 24 - start_hour) % 24 < hours
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_shared::retention::{NumberPeriods, TeamPeriods};

    #[test]
    fn the_window_wraps_past_midnight() {
        let at = |h: i64| 20_000 * DAY_MS + h * 3_600_000 + 59 * 60_000;
        assert!(in_window(at(2), 2, 4) && in_window(at(5), 2, 4));
        assert!(!in_window(at(6), 2, 4) && !in_window(at(1), 2, 4));
        assert!(in_window(at(23), 22, 4) && in_window(at(1), 22, 4));
        assert!(!in_window(at(2), 22, 4));
        assert!((0..24).all(|h| in_window(at(h), 7, 24)));
    }

    fn days(text: Option<u32>, media: Option<u32>, metadata: Option<u32>) -> Periods {
        Periods {
            text_days: text,
            media_days: media,
            metadata_days: metadata,
        }
    }

    fn team(id: &str, p: Periods) -> TeamPeriods {
        TeamPeriods {
            team: TeamId::new(id.to_owned()),
            text_days: p.text_days,
            media_days: p.media_days,
            metadata_days: p.metadata_days,
        }
    }

    #[test]
    fn bad_periods_name_their_field() {
        let number = PhoneNumberId::new("1".to_owned());
        let field = |p: RetentionPolicy| match check(&p, std::slice::from_ref(&number), &[]) {
            Err(RetentionError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        let policy = |d: Periods| RetentionPolicy {
            default: d,
            ..RetentionPolicy::default()
        };
        assert_eq!(
            field(policy(days(Some(89), None, None))),
            "default.text_days"
        );
        assert_eq!(
            field(policy(days(None, Some(1826), None))),
            "default.media_days"
        );
        assert_eq!(
            field(policy(days(Some(365), None, Some(180)))),
            "default.metadata_days",
            "a message cannot go before its text"
        );
        assert_eq!(
            field(policy(days(None, None, Some(365)))),
            "default.metadata_days",
            "text kept forever needs its messages kept forever"
        );
        let mut p = policy(days(Some(90), Some(90), Some(90)));
        p.numbers.push(NumberPeriods {
            number: PhoneNumberId::new("2".to_owned()),
            text_days: None,
            media_days: None,
            metadata_days: None,
        });
        assert_eq!(field(p), "numbers[0].number");
        let mut p = policy(Periods::default());
        p.audit_days = Some(30);
        assert_eq!(field(p), "audit_days");
        assert!(check(
            &policy(days(Some(90), Some(365), Some(1825))),
            &[number],
            &[]
        )
        .is_ok());
    }

    #[test]
    fn the_number_wins_then_the_longest_team_then_the_default() {
        let number = PhoneNumberId::new("1".to_owned());
        let (sales, legal) = (TeamId::new("t_s".to_owned()), TeamId::new("t_l".to_owned()));
        let mut policy = RetentionPolicy {
            default: days(Some(90), Some(90), Some(90)),
            teams: vec![
                team("t_s", days(Some(180), Some(90), Some(365))),
                team("t_l", days(Some(120), None, None)),
            ],
            ..RetentionPolicy::default()
        };
        assert_eq!(
            periods_for(&policy, &number, &[]),
            days(Some(90), Some(90), Some(90))
        );
        assert_eq!(
            periods_for(&policy, &number, std::slice::from_ref(&sales)),
            days(Some(180), Some(90), Some(365))
        );
        assert_eq!(
            periods_for(&policy, &number, &[sales.clone(), legal]),
            days(Some(180), None, None),
            "per kind, the longest of the teams (forever beats any days)"
        );
        policy.numbers.push(NumberPeriods {
            number: number.clone(),
            text_days: Some(100),
            media_days: Some(100),
            metadata_days: Some(100),
        });
        assert_eq!(
            periods_for(&policy, &number, &[sales]),
            days(Some(100), Some(100), Some(100))
        );
    }

    #[test]
    fn cuts_are_days_before_now_and_forever_is_none() {
        let cut = cut_of(&days(Some(90), None, Some(365)), 1_000 * DAY_MS, &[(1, 2)]);
        assert_eq!(cut.text_before, Some(910 * DAY_MS));
        assert_eq!(cut.media_before, None);
        assert_eq!(cut.rows_before, Some(635 * DAY_MS));
        assert_eq!(cut.held, [(1, 2)]);
    }
}
