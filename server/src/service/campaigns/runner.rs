//! A campaign running: its recipients' rows written once, then walked and handed to the outbox
//! at the campaign's pace, each under its own key; the outbox's and Meta's answers and the
//! customers' replies move each recipient along the funnel; the counts are written back and
//! announced about once a second.
//!
//! Why a restart neither repeats nor skips anyone: rows are written before the first send; a
//! row stays `queued` until the outbox says sent or failed; the next walk hands every `queued`
//! row to the outbox again, and the outbox answers a key it has with the send it has.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use switchboard_shared::campaign::{CampaignCounts, CampaignState, RecipientState, SkipReason};
use switchboard_shared::{CampaignId, SendId, TenantId, WaId};
use tokio::sync::Notify;

use super::window::LocalWindow;
use super::{read_doc, values, CampaignDoc, CampaignError, Campaigns, Fate, PAGE};
use crate::domain::*;
use crate::service::outbound::OutboundError;
use crate::service::outbox::NewSend;
use crate::store::StoreError;

mod follower;

/// The automatic pause looks at this many of the latest outcomes (sent or failed).
const WINDOW: usize = 500;
/// It judges only once this many are in: one early failure is not 5%.
const JUDGED_FROM: usize = 50;
/// Failures above this share of the window pause the campaign.
const FAILURE_SHARE: f64 = 0.05;
/// This many 131049 (marketing limit) or 130429 (throughput) failures among the latest 100
/// outcomes pause it too: Meta is pushing back.
const STORM: usize = 10;
/// How long no queued recipient may move before they are walked again.
const STALLED: Duration = Duration::from_secs(5);
/// The most campaign sends the outbox may hold unanswered (queued at the governor, or on their
/// way): about a second of the fastest tier. Beyond it the hand-over waits, so the campaign
/// never queues more than the outbox sends, and a chat reply never waits behind a backlog.
const MAX_OUTSTANDING: usize = 1_000;
/// Recipients being handed to the outbox at once.
const HAND_OVERS_AT_ONCE: usize = 32;
/// Moves written together at most (more wait for the next batch).
const WRITE_BATCH: usize = 500;
/// How long after its message a customer's reply counts as a reply to the campaign.
pub(super) const REPLY_WINDOW_MS: i64 = 72 * 3_600_000;
/// How long a send's campaign and customer are kept in memory for its statuses. Most come
/// within seconds; one later (a customer who reads a day after) costs a read of the send.
pub(super) const SENDS_CACHED_MS: i64 = 3_600_000;

/// The live side of campaigns: who is running, their tallies and pace.
#[derive(Default)]
pub struct Runs {
    live: DashMap<(TenantId, CampaignId), Arc<Live>>,
}

#[derive(Default)]
pub(super) struct Live {
    /// A person or the automatic pause changed the campaign: the walk stops and reloads.
    generation: AtomicU64,
    changed: Notify,
    /// Held (shared) by each hand-over from its last check to the outbox's answer, and
    /// (exclusive) by a pause or cancel: once those return, nothing more is handed over.
    gate: tokio::sync::RwLock<()>,
    running: AtomicBool,
    tally: tokio::sync::Mutex<Tally>,
    dirty: AtomicBool,
    /// Moves not written yet: written together a few times a second (a stop loses at most
    /// those; the next walk settles sent and failed ones again from the outbox).
    pending: Mutex<Vec<RecipientUpdate>>,
    /// When recent sends were handed over, for the rate.
    handed: Mutex<VecDeque<Instant>>,
}

#[derive(Default)]
struct Tally {
    loaded: bool,
    /// Every recipient's state and click, so a move is decided without a read.
    states: HashMap<WaId, (RecipientState, bool)>,
    by_state: HashMap<RecipientState, u64>,
    clicked: u64,
    /// The latest outcomes: (failed, Meta's code).
    outcomes: VecDeque<(bool, Option<i64>)>,
    /// Recipients handed to the outbox by this process that the outbox has not answered yet:
    /// the hand-over waits while too many are outstanding, so the campaign goes as fast as the
    /// outbox (and the store behind it) actually sends, never faster.
    handed: std::collections::HashSet<WaId>,
}

impl Tally {
    fn counts(&self) -> CampaignCounts {
        let n = |s: RecipientState| self.by_state.get(&s).copied().unwrap_or(0);
        use RecipientState as S;
        CampaignCounts {
            queued: n(S::Queued),
            sent: n(S::Sent) + n(S::Delivered) + n(S::Read) + n(S::Replied),
            delivered: n(S::Delivered) + n(S::Read) + n(S::Replied),
            read: n(S::Read) + n(S::Replied),
            replied: n(S::Replied),
            clicked: self.clicked,
            failed: n(S::Failed),
            skipped: n(S::Skipped),
        }
    }

    fn moved(&mut self, from: RecipientState, to: RecipientState) {
        if let Some(n) = self.by_state.get_mut(&from) {
            *n = n.saturating_sub(1);
        }
        *self.by_state.entry(to).or_default() += 1;
    }

    fn outcome(&mut self, failed: bool, code: Option<i64>) {
        self.outcomes.push_back((failed, code));
        while self.outcomes.len() > WINDOW {
            self.outcomes.pop_front();
        }
    }

    /// Why the campaign should pause now, if it should.
    fn alarm(&self) -> Option<String> {
        let storm = self
            .outcomes
            .iter()
            .rev()
            .take(100)
            .filter(|(_, code)| matches!(code, Some(131049) | Some(130429)))
            .count();
        if storm >= STORM {
            return Some(format!(
                "paused automatically: {storm} of the latest 100 sends were refused with 131049 \
                 (Meta's marketing limit per customer) or 130429 (throughput)"
            ));
        }
        if self.outcomes.len() >= JUDGED_FROM {
            let failed = self.outcomes.iter().filter(|(f, _)| *f).count();
            let share = failed as f64 / self.outcomes.len() as f64;
            if share > FAILURE_SHARE {
                return Some(format!(
                    "paused automatically: {failed} of the latest {} sends failed ({:.1}%, \
                     above 5%)",
                    self.outcomes.len(),
                    share * 100.0
                ));
            }
        }
        None
    }
}

impl Runs {
    fn live(&self, tenant: &TenantId, id: &CampaignId) -> Arc<Live> {
        Arc::clone(&self.live.entry((tenant.clone(), id.clone())).or_default())
    }

    /// A person changed the campaign: its walk stops and looks again.
    pub(super) fn changed(&self, tenant: &TenantId, id: &CampaignId) {
        if let Some(live) = self.live.get(&(tenant.clone(), id.clone())) {
            live.generation.fetch_add(1, Ordering::SeqCst);
            live.changed.notify_waiters();
        }
    }

    /// A person resumed the campaign: the outcomes that paused it are judged no more (it would
    /// pause again on the first failure that follows).
    pub(super) async fn forget_outcomes(&self, tenant: &TenantId, id: &CampaignId) {
        let live = self.live(tenant, id);
        live.tally.lock().await.outcomes.clear();
    }

    /// Stops the hand-over: returns once every hand-over in progress has finished, with their
    /// moves written, so that what a person reads after a pause is what stands.
    pub(super) async fn stopped(
        &self,
        tenant: &TenantId,
        id: &CampaignId,
        store: &dyn crate::store::Store,
    ) {
        self.changed(tenant, id);
        let live = self.live(tenant, id);
        drop(live.gate.write().await);
        let batch = std::mem::take(&mut *live.pending.lock().unwrap_or_else(|p| p.into_inner()));
        if !batch.is_empty() {
            if let Err(e) = store.update_recipients(&batch).await {
                tracing::warn!(error = %e, "campaigns: recipients' progress not written; retrying");
                live.pending
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend(batch);
            }
        }
    }

    /// Messages a second over the last ten seconds, and the time the queued ones take at it.
    pub(super) fn pace(
        &self,
        tenant: &TenantId,
        id: &CampaignId,
        queued: u64,
    ) -> (f64, Option<u64>) {
        let Some(live) = self.live.get(&(tenant.clone(), id.clone())) else {
            return (0.0, None);
        };
        let mut handed = live.handed.lock().unwrap_or_else(|p| p.into_inner());
        while handed
            .front()
            .is_some_and(|t| t.elapsed() > Duration::from_secs(10))
        {
            handed.pop_front();
        }
        let rate = handed.len() as f64 / 10.0;
        let eta = (rate > 0.0).then(|| (queued as f64 / rate).ceil() as u64);
        (rate, eta)
    }
}

/// What every hand-over of one walk shares (owned: each hand-over is a task of its own).
struct Walking {
    tenant: TenantId,
    id: CampaignId,
    doc: CampaignDoc,
    author: String,
    live: Arc<Live>,
    /// The campaign's generation when the walk began: a change stops further hand-overs.
    generation: u64,
}

/// The hand-overs of one walk in progress, each on its own task.
#[derive(Default)]
struct HandOvers(tokio::task::JoinSet<Result<(), CampaignError>>);

impl HandOvers {
    fn start(&mut self, campaigns: &Campaigns, walk: &Arc<Walking>, r: RecipientRecord) {
        let (campaigns, walk) = (campaigns.clone(), Arc::clone(walk));
        self.0
            .spawn(async move { campaigns.hand_over(&walk, r).await });
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The next hand-over to finish (`None` when none runs); a panicked one is an error.
    async fn next(&mut self) -> Option<Result<(), CampaignError>> {
        let joined = self.0.join_next().await?;
        Some(joined.unwrap_or_else(|e| {
            Err(CampaignError::Unavailable(format!(
                "a hand-over failed: {e}"
            )))
        }))
    }
}

/// How a walk over the recipients ended.
enum Walk {
    /// Every queued recipient is with the outbox.
    Done,
    /// Every queued recipient the window allows is with the outbox; the others' windows open
    /// at this time (milliseconds) at the earliest.
    Waiting(i64),
    /// The campaign changed (paused, cancelled): look at it again.
    Stopped,
}

impl Campaigns {
    /// Runs the campaign on a task of its own, unless one runs it already.
    pub(super) fn spawn_run(&self, tenant: TenantId, id: CampaignId) {
        let live = self.inner.runs.live(&tenant, &id);
        live.generation.fetch_add(1, Ordering::SeqCst);
        live.changed.notify_waiters();
        if live.running.swap(true, Ordering::SeqCst) {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            this.run(&tenant, &id, &live).await;
            live.running.store(false, Ordering::SeqCst);
        });
    }

    async fn run(&self, tenant: &TenantId, id: &CampaignId, live: &Arc<Live>) {
        loop {
            if self.inner.shutdown.is_cancelled() {
                return;
            }
            let doc = match self.load(tenant, id).await {
                Ok((_, doc)) => doc,
                Err(CampaignError::NotFound) => return,
                Err(e) => {
                    tracing::warn!(campaign = %id, error = %e, "campaign: reading it failed; retrying");
                    self.pause_for(Duration::from_secs(2), live).await;
                    continue;
                }
            };
            let outcome = match doc.state {
                CampaignState::Scheduled => self.wait_for_start(tenant, id, &doc, live).await,
                CampaignState::Running if !doc.materialized => {
                    self.materialize(tenant, id, &doc).await
                }
                CampaignState::Running => match self.walk_queued(tenant, id, &doc, live).await {
                    Ok(Walk::Stopped) => Ok(()),
                    Ok(Walk::Waiting(until)) => {
                        // Everyone left is outside their local window: sleep until the first
                        // opens (a pause or a cancel wakes it sooner).
                        self.set_waiting(tenant, id, Some(until)).await;
                        let wait = (until - now_ms()).max(0) as u64;
                        self.pause_for(Duration::from_millis(wait), live).await;
                        Ok(())
                    }
                    Ok(Walk::Done) if doc.waiting_until.is_some() => {
                        self.set_waiting(tenant, id, None).await;
                        Ok(())
                    }
                    Ok(Walk::Done) => match self.finish_when_answered(tenant, id, live).await {
                        Ok(true) => return,
                        Ok(false) => Ok(()),
                        Err(e) => Err(e),
                    },
                    Err(e) => Err(e),
                },
                _ => return,
            };
            if let Err(e) = outcome {
                tracing::warn!(campaign = %id, error = %e, "campaign: a step failed; it goes on shortly");
                self.pause_for(Duration::from_secs(2), live).await;
            }
        }
    }

    /// Stores (and announces) until when the recipients left wait for their local window.
    async fn set_waiting(&self, tenant: &TenantId, id: &CampaignId, until: Option<i64>) {
        let result = self
            .update(tenant, id, "campaigns", None, |d| {
                d.waiting_until = until;
                Ok(())
            })
            .await;
        match result {
            Ok((_, doc)) => self.announce(tenant, id, &doc),
            Err(e) => tracing::warn!(campaign = %id, error = %e, "campaign: its wait not stored"),
        }
    }

    async fn pause_for(&self, wait: Duration, live: &Live) {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = live.changed.notified() => {}
            _ = self.inner.shutdown.cancelled() => {}
        }
    }

    /// A scheduled campaign sleeps until its start (or a change), then runs.
    async fn wait_for_start(
        &self,
        tenant: &TenantId,
        id: &CampaignId,
        doc: &CampaignDoc,
        live: &Live,
    ) -> Result<(), CampaignError> {
        let now = now_ms();
        let at = doc.start_at_ms.unwrap_or(now);
        if at > now {
            self.pause_for(Duration::from_millis((at - now) as u64), live)
                .await;
            return Ok(());
        }
        self.update(tenant, id, "campaigns", None, |d| {
            if d.state == CampaignState::Scheduled {
                d.state = CampaignState::Running;
                d.started_at = Some(now_ms());
            }
            Ok(())
        })
        .await?;
        Ok(())
    }

    /// Writes a row for every contact the audience selects (queued, or skipped with the reason),
    /// then marks the campaign's recipients written.
    async fn materialize(
        &self,
        tenant: &TenantId,
        id: &CampaignId,
        doc: &CampaignDoc,
    ) -> Result<(), CampaignError> {
        let plan = self.plan(tenant, doc, Some(id)).await?;
        let now = now_ms();
        let mut counts = CampaignCounts::default();
        let total = self
            .walk(
                tenant,
                &plan,
                |contact, fate| {
                    let (state, reason, number, wa_id) = match fate {
                        Fate::Send { wa_id, number, .. } => {
                            counts.queued += 1;
                            (RecipientState::Queued, None, Some(number), wa_id)
                        }
                        Fate::Skip(reason) => {
                            counts.skipped += 1;
                            let wa_id = contact
                                .phone
                                .clone()
                                .or_else(|| contact.bsuid.clone())
                                .unwrap_or_else(|| contact.id.as_str().to_owned());
                            (
                                RecipientState::Skipped,
                                Some(reason.as_str().to_owned()),
                                None,
                                WaId::new(wa_id),
                            )
                        }
                    };
                    vec![RecipientRecord {
                        tenant: tenant.clone(),
                        campaign: id.clone(),
                        wa_id,
                        contact: contact.id.clone(),
                        state,
                        reason,
                        number,
                        send: None,
                        clicked: false,
                        updated_at: now,
                    }]
                },
                true,
            )
            .await?;
        let (_, doc) = self
            .update(tenant, id, "campaigns", None, |d| {
                d.materialized = true;
                d.total = total;
                d.counts = counts;
                Ok(())
            })
            .await?;
        let live = self.inner.runs.live(tenant, id);
        {
            let mut tally = live.tally.lock().await;
            *tally = Tally::default();
        }
        self.announce(tenant, id, &doc);
        Ok(())
    }

    /// Reads the campaign's rows into its tally, once per start.
    async fn load_tally(
        &self,
        tenant: &TenantId,
        id: &CampaignId,
        tally: &mut Tally,
    ) -> Result<(), StoreError> {
        if tally.loaded {
            return Ok(());
        }
        let mut by_state = HashMap::new();
        let mut states = HashMap::new();
        let mut clicked = 0;
        let mut cursor = None;
        loop {
            let page = self
                .inner
                .store
                .recipients(tenant, id, cursor.as_ref(), PAGE)
                .await?;
            for r in &page.items {
                *by_state.entry(r.state).or_default() += 1;
                states.insert(r.wa_id.clone(), (r.state, r.clicked));
                clicked += u64::from(r.clicked);
                if r.state.rank() >= RecipientState::Sent.rank() {
                    self.inner.recent.insert(
                        (tenant.clone(), r.wa_id.clone()),
                        (id.clone(), r.updated_at),
                    );
                }
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        tally.by_state = by_state;
        tally.states = states;
        tally.clicked = clicked;
        tally.loaded = true;
        Ok(())
    }

    /// Hands every queued recipient to the outbox, at the campaign's pace.
    async fn walk_queued(
        &self,
        tenant: &TenantId,
        id: &CampaignId,
        doc: &CampaignDoc,
        live: &Arc<Live>,
    ) -> Result<Walk, CampaignError> {
        let eligible = {
            let mut tally = live.tally.lock().await;
            self.load_tally(tenant, id, &mut tally).await?;
            doc.total.saturating_sub(tally.counts().skipped)
        };
        let generation = live.generation.load(Ordering::SeqCst);
        let interval = Duration::from_secs_f64(1.0 / self.rate(tenant, &doc.input, eligible));
        let author = format!("{CAMPAIGN_AUTHOR}{id}");
        let mut next_at = tokio::time::Instant::now();
        let mut cursor = None;
        // Hand-overs run side by side (each waits on the store), started at the pace; every one
        // started is finished before the walk returns, so none is cut between the outbox's
        // write and its queue. Each is a task of its own: polled inside the walk (a
        // FuturesUnordered), one that was handed the tally's lock while the walk itself waited
        // for that lock was never polled again, and the walk, the follower and every status
        // behind them stopped for good (the full-tier runs that never completed).
        let walking = Arc::new(Walking {
            tenant: tenant.clone(),
            id: id.clone(),
            doc: doc.clone(),
            author: author.clone(),
            live: Arc::clone(live),
            generation,
        });
        let mut inflight = HandOvers::default();
        let mut window = doc
            .input
            .local_window
            .clone()
            .map(|w| LocalWindow::new(w, doc.input.time_zone.as_deref()));
        let mut waiting: Option<i64> = None;
        let outcome = 'walk: loop {
            let page = match self
                .inner
                .store
                .recipients(tenant, id, cursor.as_ref(), PAGE)
                .await
            {
                Ok(p) => p,
                Err(e) => break 'walk Err(e.into()),
            };
            let queued: Vec<RecipientRecord> = {
                let tally = live.tally.lock().await;
                page.items
                    .into_iter()
                    .filter(|r| {
                        tally.states.get(&r.wa_id).map_or(r.state, |(s, _)| *s)
                            == RecipientState::Queued
                    })
                    .collect()
            };
            for r in queued {
                if live.generation.load(Ordering::SeqCst) != generation
                    || self.inner.shutdown.is_cancelled()
                {
                    break 'walk Ok(Walk::Stopped);
                }
                if let Some(send) = &r.send {
                    if let Err(e) = self.settle_handed(tenant, id, &r, send).await {
                        break 'walk Err(e);
                    }
                    continue;
                }
                if let Some(w) = window.as_mut() {
                    if let Some(opens) = w.closed_until(r.wa_id.as_str(), instant(now_ms())) {
                        let at = opens.as_millisecond();
                        waiting = Some(waiting.map_or(at, |w| w.min(at)));
                        continue;
                    }
                }
                let now = tokio::time::Instant::now();
                if next_at > now {
                    // Wait for the pace, letting the hand-overs in progress go on meanwhile.
                    loop {
                        tokio::select! {
                            _ = live.changed.notified() => break 'walk Ok(Walk::Stopped),
                            Some(result) = inflight.next(), if !inflight.is_empty() => {
                                if let Err(e) = result {
                                    break 'walk Err(e);
                                }
                            }
                            _ = tokio::time::sleep_until(next_at) => break,
                        }
                    }
                } else if now - next_at > Duration::from_secs(1) {
                    // Behind (a slow store, a pause): no burst to catch up.
                    next_at = now;
                }
                next_at += interval;
                // Flow control: no more than MAX_OUTSTANDING sends the outbox has not answered
                // (unless no answer came for a while: answers missed while the bus ran full are
                // settled by the walk after this one).
                let waiting_since = Instant::now();
                loop {
                    // The lock is let go before anything below waits (a hand-over takes it).
                    let outstanding = live.tally.lock().await.handed.len();
                    if outstanding < MAX_OUTSTANDING || waiting_since.elapsed() >= STALLED {
                        break;
                    }
                    tokio::select! {
                        _ = live.changed.notified() => break 'walk Ok(Walk::Stopped),
                        Some(result) = inflight.next(), if !inflight.is_empty() => {
                            if let Err(e) = result {
                                break 'walk Err(e);
                            }
                        }
                        _ = tokio::time::sleep(Duration::from_millis(10)) => {}
                    }
                }
                inflight.start(self, &walking, r);
                while inflight.len() >= HAND_OVERS_AT_ONCE {
                    if let Some(Err(e)) = inflight.next().await {
                        break 'walk Err(e);
                    }
                }
            }
            match (page.next, waiting) {
                (Some(next), _) => cursor = Some(next),
                (None, None) => break 'walk Ok(Walk::Done),
                (None, Some(at)) => break 'walk Ok(Walk::Waiting(at)),
            }
        };
        let mut first_error = None;
        while let Some(result) = inflight.next().await {
            if let Err(e) = result {
                first_error.get_or_insert(e);
            }
        }
        match (outcome, first_error) {
            (Err(e), _) | (Ok(_), Some(e)) => Err(e),
            (Ok(walk), None) => Ok(walk),
        }
    }

    /// One recipient to the outbox: their consent and values as they are now, the template
    /// checked, then queued under the campaign's key.
    async fn hand_over(&self, walk: &Walking, r: RecipientRecord) -> Result<(), CampaignError> {
        let Walking {
            tenant,
            id,
            doc,
            author,
            live,
            generation,
        } = walk;
        let generation = *generation;
        let skip = |reason: SkipReason| (RecipientState::Skipped, Some(reason.as_str().to_owned()));
        let contact = self.inner.store.get_contact(tenant, &r.contact).await?;
        let verdict = match &contact {
            None => Err(skip(SkipReason::InvalidNumber)),
            Some(c) if c.marketing == switchboard_shared::contacts::Marketing::OptedOut => {
                Err(skip(SkipReason::OptedOut))
            }
            Some(c) => {
                values(&doc.input.variables, c).ok_or_else(|| skip(SkipReason::MissingVariable))
            }
        };
        let params = match verdict {
            Ok(p) => p,
            Err((state, reason)) => {
                self.transition(tenant, id, &r.wa_id, state, reason, None, false)
                    .await?;
                return Ok(());
            }
        };
        let Some(number) = r.number.clone() else {
            return Ok(());
        };
        let _gate = live.gate.read().await;
        if live.generation.load(Ordering::SeqCst) != generation {
            // Paused or cancelled meanwhile: they stay queued.
            return Ok(());
        }
        let checked = match self
            .inner
            .outbound
            .check_template(tenant, &number, &doc.input.template, params)
            .await
        {
            Ok(c) => c,
            Err(OutboundError::Rejected(reason)) => {
                self.transition(
                    tenant,
                    id,
                    &r.wa_id,
                    RecipientState::Failed,
                    Some(reason),
                    None,
                    false,
                )
                .await?;
                return Ok(());
            }
            Err(e) => return Err(CampaignError::Unavailable(e.to_string())),
        };
        let sent = self
            .inner
            .outbox
            .enqueue(NewSend {
                tenant,
                number: &number,
                customer: &r.wa_id,
                content: checked.content,
                text: checked.text,
                reply_to: None,
                author,
                client_key: Some(id.as_str()),
            })
            .await;
        let mut answered = None;
        let send_id = match sent {
            Ok(record) => {
                answered = match record.state {
                    SendState::Sent => Some((RecipientState::Sent, None)),
                    SendState::Failed => Some((RecipientState::Failed, record.error.clone())),
                    _ => None,
                };
                record.id
            }
            // Queued before a stop with other values (the contact changed since): that send
            // stands.
            Err(OutboundError::KeyReused) => {
                let conversation = self
                    .inner
                    .store
                    .id_keys()
                    .conversation_id(tenant, &number, &r.wa_id);
                send_id(tenant, &conversation, author, id.as_str())
            }
            Err(OutboundError::Store(e)) => return Err(e.into()),
            Err(e) => {
                self.transition(
                    tenant,
                    id,
                    &r.wa_id,
                    RecipientState::Failed,
                    Some(e.to_string()),
                    None,
                    false,
                )
                .await?;
                return Ok(());
            }
        };
        live.handed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(Instant::now());
        self.inner
            .recent
            .insert((tenant.clone(), r.wa_id.clone()), (id.clone(), now_ms()));
        self.inner
            .sends
            .insert(send_id.clone(), (id.clone(), r.wa_id.clone(), now_ms()));
        {
            let mut tally = live.tally.lock().await;
            let queued = tally
                .states
                .get(&r.wa_id)
                .is_some_and(|(s, _)| *s == RecipientState::Queued);
            if queued {
                tally.handed.insert(r.wa_id.clone());
            }
        }
        // The outbox may have answered already (a send it took before a stop): its record says.
        if let Some(state) = answered {
            let (to, reason) = state;
            self.transition(tenant, id, &r.wa_id, to, reason, Some(send_id), false)
                .await?;
        }
        Ok(())
    }

    /// A recipient whose send the outbox has: moved on if it finished while nobody listened.
    async fn settle_handed(
        &self,
        tenant: &TenantId,
        id: &CampaignId,
        r: &RecipientRecord,
        send: &SendId,
    ) -> Result<(), CampaignError> {
        let Some(record) = self.inner.store.get_send(tenant, send).await? else {
            return Ok(());
        };
        match record.state {
            SendState::Sent => {
                self.transition(
                    tenant,
                    id,
                    &r.wa_id,
                    RecipientState::Sent,
                    None,
                    Some(send.clone()),
                    false,
                )
                .await?
            }
            SendState::Failed => {
                self.transition(
                    tenant,
                    id,
                    &r.wa_id,
                    RecipientState::Failed,
                    record.error.clone(),
                    Some(send.clone()),
                    false,
                )
                .await?
            }
            _ => {}
        }
        Ok(())
    }

    /// Every recipient is with the outbox: wait for its answers, then complete. `true` when it
    /// completed; `false` when the campaign changed meanwhile.
    async fn finish_when_answered(
        &self,
        tenant: &TenantId,
        id: &CampaignId,
        live: &Live,
    ) -> Result<bool, CampaignError> {
        let generation = live.generation.load(Ordering::SeqCst);
        let mut last = (u64::MAX, Instant::now());
        loop {
            let queued = {
                let mut tally = live.tally.lock().await;
                self.load_tally(tenant, id, &mut tally).await?;
                tally.counts().queued
            };
            if live.generation.load(Ordering::SeqCst) != generation {
                return Ok(false);
            }
            if queued == 0 {
                self.write_pending(live).await;
                let counts = live.tally.lock().await.counts();
                let (_, doc) = self
                    .update(tenant, id, "campaigns", None, |d| {
                        if d.state == CampaignState::Running {
                            d.state = CampaignState::Completed;
                            d.finished_at = Some(now_ms());
                            d.counts = counts;
                        }
                        Ok(())
                    })
                    .await?;
                self.announce(tenant, id, &doc);
                return Ok(doc.state == CampaignState::Completed);
            }
            // Answers that stop coming (events missed while the bus ran full) are settled by
            // walking the queued recipients again: the outbox says how each send stands.
            if queued != last.0 {
                last = (queued, Instant::now());
            } else if last.1.elapsed() > STALLED {
                return Ok(false);
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = live.changed.notified() => {}
                _ = self.inner.shutdown.cancelled() => return Ok(false),
            }
        }
    }

    /// Moves a recipient along: never back (a late `delivered` after `read`), a failure only
    /// before delivery, a quick-reply tap marked even on a reply counted already. The row is
    /// written with the next batch ([`Self::write_pending`]).
    #[allow(clippy::too_many_arguments)]
    async fn transition(
        &self,
        tenant: &TenantId,
        id: &CampaignId,
        wa_id: &WaId,
        to: RecipientState,
        reason: Option<String>,
        send: Option<SendId>,
        clicked: bool,
    ) -> Result<(), StoreError> {
        let live = self.inner.runs.live(tenant, id);
        let mut tally = live.tally.lock().await;
        self.load_tally(tenant, id, &mut tally).await?;
        let Some(&(from, was_clicked)) = tally.states.get(wa_id) else {
            return Ok(());
        };
        let moves = match (from, to) {
            (RecipientState::Skipped, _) => false,
            (_, RecipientState::Skipped) => from == RecipientState::Queued,
            (_, RecipientState::Failed) => {
                from.rank() <= RecipientState::Sent.rank() && from != RecipientState::Failed
            }
            (f, t) => t.rank() > f.rank(),
        };
        let click = clicked && !was_clicked;
        if !moves && !click {
            return Ok(());
        }
        let state = if moves { to } else { from };
        // A recipient never goes back to `Queued`, so one that leaves it is forgotten here: the
        // set holds only what is outstanding, not every recipient a long campaign has sent to.
        if moves && from == RecipientState::Queued {
            tally.handed.remove(wa_id);
        }
        tally
            .states
            .insert(wa_id.clone(), (state, was_clicked || clicked));
        let update = RecipientUpdate {
            tenant: tenant.clone(),
            campaign: id.clone(),
            wa_id: wa_id.clone(),
            state,
            reason: if moves { reason.clone() } else { None },
            send,
            clicked: was_clicked || clicked,
            updated_at: now_ms(),
        };
        if moves {
            tally.moved(from, to);
            let code = reason
                .as_deref()
                .and_then(|m| {
                    m.split(|c: char| !c.is_ascii_digit())
                        .find(|s| s.len() == 6)
                })
                .and_then(|s| s.parse().ok());
            match to {
                RecipientState::Sent if from == RecipientState::Queued => {
                    tally.outcome(false, None)
                }
                RecipientState::Failed => tally.outcome(true, code),
                _ => {}
            }
        }
        if click {
            tally.clicked += 1;
        }
        live.dirty.store(true, Ordering::SeqCst);
        let alarm = (to == RecipientState::Failed && moves)
            .then(|| tally.alarm())
            .flatten();
        drop(tally);
        let full = {
            let mut pending = live.pending.lock().unwrap_or_else(|p| p.into_inner());
            pending.push(update);
            pending.len() >= WRITE_BATCH
        };
        if full {
            self.write_pending(&live).await;
        }
        if let Some(reason) = alarm {
            self.auto_pause(tenant, id, reason).await;
        }
        Ok(())
    }

    /// Writes the moves waiting in `live`, in one batch; kept for the next try if it fails.
    async fn write_pending(&self, live: &Live) {
        let batch = std::mem::take(&mut *live.pending.lock().unwrap_or_else(|p| p.into_inner()));
        if batch.is_empty() {
            return;
        }
        if let Err(e) = self.inner.store.update_recipients(&batch).await {
            tracing::warn!(error = %e, "campaigns: recipients' progress not written; retrying");
            let mut pending = live.pending.lock().unwrap_or_else(|p| p.into_inner());
            let later = std::mem::take(&mut *pending);
            *pending = batch;
            pending.extend(later);
        }
    }

    async fn auto_pause(&self, tenant: &TenantId, id: &CampaignId, reason: String) {
        let result = self
            .update(tenant, id, "campaigns", None, |d| {
                if matches!(d.state, CampaignState::Running | CampaignState::Scheduled) {
                    d.state = CampaignState::Paused;
                    d.paused_reason = Some(reason.clone());
                }
                Ok(())
            })
            .await;
        match result {
            Ok((_, doc)) => {
                if doc.state == CampaignState::Paused {
                    tracing::warn!(campaign = %id, %reason, "campaign paused automatically");
                }
                self.inner.runs.changed(tenant, id);
                self.announce(tenant, id, &doc);
            }
            Err(e) => {
                tracing::error!(campaign = %id, error = %e, "could not pause a failing campaign")
            }
        }
    }

    /// At start: every running or scheduled campaign goes on; recent ones hear replies again.
    pub async fn resume_all(&self) -> Result<usize, StoreError> {
        let mut resumed = 0;
        let since = now_ms() - REPLY_WINDOW_MS;
        for tenant in self.inner.store.list_tenants().await? {
            for item in self
                .inner
                .store
                .list_items(&tenant.id, ItemKind::Campaign)
                .await?
            {
                let Ok(doc) = read_doc(&item) else { continue };
                let id = CampaignId::new(item.id.clone());
                match doc.state {
                    CampaignState::Running | CampaignState::Scheduled => {
                        resumed += 1;
                        self.spawn_run(tenant.id.clone(), id.clone());
                    }
                    CampaignState::Paused => {
                        let live = self.inner.runs.live(&tenant.id, &id);
                        let mut tally = live.tally.lock().await;
                        self.load_tally(&tenant.id, &id, &mut tally).await?;
                    }
                    _ if doc.finished_at.is_some_and(|at| at > since) => {
                        let live = self.inner.runs.live(&tenant.id, &id);
                        let mut tally = live.tally.lock().await;
                        self.load_tally(&tenant.id, &id, &mut tally).await?;
                    }
                    _ => continue,
                }
                // What was stored for it just before the stop and not yet moved.
                if doc.materialized {
                    self.settle_later(tenant.id.clone(), id);
                }
            }
        }
        Ok(resumed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_funnel_counts_and_the_alarms() {
        let mut t = Tally::default();
        t.by_state.insert(RecipientState::Queued, 100);
        for _ in 0..60 {
            t.moved(RecipientState::Queued, RecipientState::Sent);
            t.outcome(false, None);
        }
        t.moved(RecipientState::Sent, RecipientState::Read);
        t.moved(RecipientState::Sent, RecipientState::Replied);
        let c = t.counts();
        assert_eq!(
            (c.queued, c.sent, c.read, c.replied, c.delivered),
            (40, 60, 2, 1, 2)
        );
        assert_eq!(t.alarm(), None);
        for _ in 0..3 {
            t.outcome(true, Some(131026));
        }
        assert_eq!(t.alarm(), None, "3 of 63 is under 5%");
        for _ in 0..2 {
            t.outcome(true, Some(131026));
        }
        assert!(t.alarm().unwrap().contains("failed"), "5 of 65 is above");
        let mut storm = Tally::default();
        for _ in 0..10 {
            storm.outcome(true, Some(131049));
        }
        assert!(
            storm.alarm().unwrap().contains("131049"),
            "a storm before 50 outcomes"
        );
    }
}
