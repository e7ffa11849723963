//! The inbox: every domain event passes through here, in order, on one task. For each tenant it
//! keeps the open conversations and a routing [`Engine`]; it routes a customer's message before
//! the message is published, so the assigned agent's `inbox:<user>` stream receives the
//! assignment and then the message, never the other way round.
//!
//! Owns: conversations' inbox state (persisted as [`ThreadRecord`]s, written before they are
//! announced: see [`Worker::flush`]), routing decisions, re-routing on the deadline and when an agent is gone, manual
//! assign/transfer/resolve/reopen, and the fan-out of domain events to streams. Must not: check
//! permissions (callers did), or talk to the Cloud API.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_shared::protocol::{
    AgentState, AgentStatus, BoardStats, ChangeReason, ConversationState, HubEvent, Presence,
};
use switchboard_shared::{ConversationId, PhoneNumberId, TenantId, UserId};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

mod activity;
mod answers;
mod settings;
mod start;
mod survey;

use activity::ACTIVITY_EVERY;

use super::board::Figures;
use super::broker::{to_hub_event, AgentChange, Broker};
use super::outbox::{NewSend, Outbox};
use super::Events;
use crate::config::RoutingConfig;
use crate::connector::wire::Content;
use crate::domain::now_ms;
use crate::domain::DomainEvent;
use crate::domain::{
    Activity, AuditRecord, EpisodeFigures, EpisodeRecord, InboundMessage, NoteRecord,
    OutboundRecord, ProfileRecord, TeamRecord, ThreadRecord, ThreadState,
};
use crate::routing::{AgentView, Change, Engine, Reason, Ticket};
use crate::staging::{Keyed, Staging};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    #[error("no such conversation")]
    NotFound,
    #[error("that agent is not connected; conversations only go to agents who are there")]
    AgentNotThere,
    #[error("the conversation is already resolved")]
    AlreadyResolved,
    #[error("the conversation is open")]
    AlreadyOpen,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the server is shutting down")]
    Stopped,
}

type Reply = oneshot::Sender<Result<(), InboxError>>;

enum Command {
    /// The start's replay is published: the replay cursor may move from now on.
    Replayed,
    Assign {
        tenant: TenantId,
        conversation: ConversationId,
        agent: UserId,
        audit: AuditRecord,
        reply: Reply,
    },
    Resolve {
        tenant: TenantId,
        conversation: ConversationId,
        audit: AuditRecord,
        reply: Reply,
    },
    Reopen {
        tenant: TenantId,
        conversation: ConversationId,
        audit: AuditRecord,
        reply: Reply,
    },
    Board {
        tenant: TenantId,
        reply: oneshot::Sender<BoardStats>,
    },
    Tag {
        tenant: TenantId,
        conversation: ConversationId,
        tags: Vec<String>,
        by: Option<UserId>,
        audit: AuditRecord,
        reply: Reply,
    },
    Profile {
        profile: ProfileRecord,
        audit: AuditRecord,
        reply: Reply,
    },
    Note {
        note: NoteRecord,
        number: PhoneNumberId,
    },
    /// The tenant's teams changed: the list routing and fan-out use is read again.
    TeamsChanged { tenant: TenantId, reply: Reply },
    /// The tenant's routing settings changed: they are read again before the answer.
    RoutingChanged { tenant: TenantId, reply: Reply },
}

/// The handle the API and sockets use. Commands queue behind events already received, so they
/// act on the state those events made.
#[derive(Clone)]
pub struct Inbox {
    tx: mpsc::Sender<Command>,
    /// The server's routing defaults (the configuration's), which a workspace's saved
    /// settings replace.
    config: Arc<RoutingConfig>,
}

impl Inbox {
    async fn call(&self, make: impl FnOnce(Reply) -> Command) -> Result<(), InboxError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| InboxError::Stopped)?;
        rx.await.map_err(|_| InboxError::Stopped)?
    }

    /// The server's routing defaults.
    pub fn routing(&self) -> &RoutingConfig {
        &self.config
    }

    /// Gives a conversation to `agent` (a transfer when someone else had it).
    pub async fn assign(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        agent: &UserId,
        audit: AuditRecord,
    ) -> Result<(), InboxError> {
        self.call(|reply| Command::Assign {
            tenant: tenant.clone(),
            conversation: conversation.clone(),
            agent: agent.clone(),
            audit,
            reply,
        })
        .await
    }

    /// Tells the inbox that the start's replay ([`Inbound::replay`]) is on the bus: until then
    /// its replay cursor stays where the last run left it, so a stop during the replay replays
    /// the same messages again.
    ///
    /// [`Inbound::replay`]: super::inbound::Inbound::replay
    pub async fn replayed(&self) {
        let _ = self.tx.send(Command::Replayed).await;
    }

    pub async fn resolve(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        audit: AuditRecord,
    ) -> Result<(), InboxError> {
        self.call(|reply| Command::Resolve {
            tenant: tenant.clone(),
            conversation: conversation.clone(),
            audit,
            reply,
        })
        .await
    }

    pub async fn reopen(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        audit: AuditRecord,
    ) -> Result<(), InboxError> {
        self.call(|reply| Command::Reopen {
            tenant: tenant.clone(),
            conversation: conversation.clone(),
            audit,
            reply,
        })
        .await
    }

    /// Replaces a conversation's tags (open or resolved). Routing sees the new skills at once.
    pub async fn tag(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        tags: Vec<String>,
        by: Option<UserId>,
        audit: AuditRecord,
    ) -> Result<(), InboxError> {
        self.call(|reply| Command::Tag {
            tenant: tenant.clone(),
            conversation: conversation.clone(),
            tags,
            by,
            audit,
            reply,
        })
        .await
    }

    /// Announces a stored note to the conversation's streams and to the inboxes of its assignee
    /// and of everyone it mentions.
    pub async fn note_added(
        &self,
        note: NoteRecord,
        number: PhoneNumberId,
    ) -> Result<(), InboxError> {
        self.tx
            .send(Command::Note { note, number })
            .await
            .map_err(|_| InboxError::Stopped)
    }

    /// Stores an agent's routing profile; routing uses it at once.
    pub async fn profile(
        &self,
        profile: ProfileRecord,
        audit: AuditRecord,
    ) -> Result<(), InboxError> {
        self.call(|reply| Command::Profile {
            profile,
            audit,
            reply,
        })
        .await
    }

    /// The tenant's teams changed (made, edited, deleted). Answers once the inbox has let go of
    /// the list it had, so a message that arrives after the caller hears back is routed and
    /// announced with the new teams.
    pub async fn teams_changed(&self, tenant: &TenantId) -> Result<(), InboxError> {
        let tenant = tenant.clone();
        self.call(|reply| Command::TeamsChanged { tenant, reply })
            .await
    }

    /// Tells routing a tenant's settings changed; they are in force when this returns.
    pub async fn routing_changed(&self, tenant: &TenantId) -> Result<(), InboxError> {
        let tenant = tenant.clone();
        self.call(|reply| Command::RoutingChanged { tenant, reply })
            .await
    }

    /// The tenant's board figures now.
    pub async fn board(&self, tenant: &TenantId) -> Result<BoardStats, InboxError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Board {
                tenant: tenant.clone(),
                reply,
            })
            .await
            .map_err(|_| InboxError::Stopped)?;
        rx.await.map_err(|_| InboxError::Stopped)
    }

    /// Starts the inbox task: restores open conversations from the store, then handles events,
    /// commands, agents' changes and the clock until `shutdown`, when it writes what it holds
    /// and ends (the returned task: a stop waits for it before the store closes).
    pub async fn spawn(
        broker: Arc<dyn Broker>,
        agents: mpsc::UnboundedReceiver<AgentChange>,
        events: &Events,
        store: Arc<dyn Store>,
        config: RoutingConfig,
        outbox: Outbox,
        shutdown: CancellationToken,
    ) -> Result<(Self, tokio::task::JoinHandle<()>), StoreError> {
        let shared_config = Arc::new(config);
        let mut worker = Worker {
            outbox,
            broker,
            store,
            defaults: Arc::clone(&shared_config),
            tenants: HashMap::new(),
            profiles: HashMap::new(),
            staging: Staging::default(),
            replayed: false,
            surveys: HashMap::new(),
            reminders: survey::Reminders::new(),
            activity_stored_at: now_ms(),
        };
        worker.restore().await?;
        let mut rx = events.subscribe("inbox");
        let mut agents = agents;
        let (tx, mut commands) = mpsc::channel(1024);
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            let mut cursor_at = 0;
            loop {
                tokio::select! {
                    biased;
                    _ = shutdown.cancelled() => {
                        worker.flush().await;
                        worker.account_activity(now_ms(), true).await;
                        return;
                    }
                    event = rx.recv() => match event {
                        Ok(event) => worker.on_event(event).await,
                        Err(broadcast::error::RecvError::Lagged(missed)) => {
                            tracing::warn!(missed, "the inbox lagged behind the event bus; streams resync");
                            worker.flush().await;
                            worker.broker.lost_events();
                        }
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                    Some((tenant, agent, routable)) = agents.recv() => {
                        worker.on_agent(&tenant, &agent, routable).await
                    }
                    Some(command) = commands.recv() => worker.on_command(command).await,
                    _ = tick.tick() => {
                        worker.flush().await;
                        worker.on_tick().await
                    }
                }
                // One group commit for whatever piled up while the last one was written: under
                // load the batches grow by themselves; idle, each change is written at once.
                let now = now_ms();
                if rx.is_empty() || worker.unwritten() >= BATCH_LIMIT {
                    worker.flush().await;
                    // Everything published before `now` was read (the queue was empty after
                    // it) and is stored: the replay cursor may move to it.
                    if worker.replayed
                        && rx.is_empty()
                        && worker.unwritten() == 0
                        && now >= cursor_at + CURSOR_EVERY
                    {
                        match worker.store.set_cursor(REPLAY_CURSOR, now).await {
                            Ok(()) => cursor_at = now,
                            Err(error) => {
                                tracing::warn!(%error, "could not move the replay cursor")
                            }
                        }
                    }
                }
            }
        });
        Ok((
            Self {
                tx,
                config: shared_config,
            },
            task,
        ))
    }
}

/// The position in time up to which every customer message the inbox heard is in its stored
/// state; a start replays what was received after it ([`Inbound::replay`]).
///
/// [`Inbound::replay`]: super::inbound::Inbound::replay
pub const REPLAY_CURSOR: &str = "inbox";

/// How often the replay cursor moves (a write each time; a replay re-reads at most this much
/// more).
const CURSOR_EVERY: i64 = 10_000;

/// How long a tenant's team list is reused.
const TEAMS_TTL: Duration = Duration::from_secs(2);

struct TenantInbox {
    engine: Engine,
    /// Open (queued or assigned) conversations.
    open: HashMap<ConversationId, ThreadRecord>,
    /// Shared, so each event borrows the list instead of copying it.
    teams: Option<(Instant, Arc<[TeamRecord]>)>,
    figures: Figures,
    /// Agents' working time today, stored every [`ACTIVITY_EVERY`].
    activity: Activity,
    /// The board as last published.
    board: Option<BoardStats>,
    /// The workspace's routing settings, and when they were read (never: the defaults).
    routing: Arc<RoutingConfig>,
    routing_read: Option<Instant>,
}

struct Worker {
    /// For the queue notice to customers who have to wait.
    outbox: Outbox,
    broker: Arc<dyn Broker>,
    store: Arc<dyn Store>,
    /// The server's routing defaults, for workspaces that saved none.
    defaults: Arc<RoutingConfig>,
    tenants: HashMap<TenantId, TenantInbox>,
    /// Agents' routing profiles (skills, own capacity), read at start and kept current.
    profiles: HashMap<(TenantId, UserId), ProfileRecord>,
    /// Conversations' states waiting to be stored, and the hub events waiting for them
    /// ([`Staging`]: stored before announced, in order). A new state (routed, queued, replied,
    /// tagged) is staged and written with the next flush, before any event made after it goes
    /// out. Bookkeeping-only changes (`last_inbound_at`, `waiting_since`, `updated_at` with a
    /// customer's message) wait for the same flush but hold nothing back: one durable write per
    /// message on the routing task had capped the inbox near 1/fsync messages per second
    /// (issue 5's e2e at 2,500/s fell behind). Flushes happen as soon as the event queue is
    /// empty, every second, at 512, and at shutdown.
    staging: Staging<ThreadRecord, AuditRecord, Held>,
    /// Whether the start's replay is published (the replay cursor stays until it is).
    replayed: bool,
    /// Each tenant's survey settings as last read.
    surveys: survey::Settings,
    /// Survey reminders due.
    reminders: survey::Reminders,
    /// When agents' working time was last stored.
    activity_stored_at: i64,
}

/// A hub event waiting for the conversation states before it to be stored.
struct Held {
    tenant: TenantId,
    event: Told,
    teams: Arc<[TeamRecord]>,
    inboxes: Vec<UserId>,
}

/// What waits for the store: an event for the streams, or a fact for integrations.
enum Told {
    Event(HubEvent),
    Fact(crate::service::broker::Fact),
}

impl Keyed for ThreadRecord {
    type Key = ConversationId;
    fn key(&self) -> ConversationId {
        self.conversation.clone()
    }
}

/// Unwritten changes that force a write even while events keep coming.
const BATCH_LIMIT: usize = 512;

/// The skills a conversation asks for: its `lang:` and `skill:` tags.
fn skills_of(thread: &ThreadRecord) -> BTreeSet<String> {
    thread
        .tags
        .iter()
        .filter(|t| t.starts_with("lang:") || t.starts_with("skill:"))
        .cloned()
        .collect()
}

fn state_of(thread: &ThreadRecord) -> ConversationState {
    match thread.state {
        ThreadState::Queued => ConversationState::Queued,
        ThreadState::Assigned => ConversationState::Assigned,
        ThreadState::Resolved => ConversationState::Resolved,
    }
}

fn reason_of(reason: Reason) -> ChangeReason {
    match reason {
        Reason::Sticky => ChangeReason::Sticky,
        Reason::Skills => ChangeReason::Skills,
        Reason::Pool => ChangeReason::Pool,
        Reason::Queue => ChangeReason::Queue,
        Reason::Manual => ChangeReason::Manual,
    }
}

impl Worker {
    fn tenant(&mut self, tenant: &TenantId) -> &mut TenantInbox {
        let defaults = &self.defaults;
        self.tenants
            .entry(tenant.clone())
            .or_insert_with(|| TenantInbox {
                engine: Engine::new(defaults.strategy),
                routing: Arc::clone(defaults),
                routing_read: None,
                open: HashMap::new(),
                teams: None,
                figures: Figures::default(),
                activity: Activity::new(tenant.clone()),
                board: None,
            })
    }

    async fn teams(&mut self, tenant: &TenantId) -> Arc<[TeamRecord]> {
        let fresh = self
            .tenants
            .get(tenant)
            .and_then(|t| t.teams.as_ref())
            .filter(|(at, _)| at.elapsed() < TEAMS_TTL)
            .map(|(_, list)| Arc::clone(list));
        if let Some(list) = fresh {
            return list;
        }
        match self.store.list_teams(tenant).await {
            Ok(list) => {
                let list: Arc<[TeamRecord]> = list.into();
                self.tenant(tenant).teams = Some((Instant::now(), Arc::clone(&list)));
                list
            }
            Err(error) => {
                tracing::warn!(%error, "team list unavailable; using the last one known");
                self.tenants
                    .get(tenant)
                    .and_then(|t| t.teams.as_ref())
                    .map(|(_, l)| Arc::clone(l))
                    .unwrap_or_else(|| Arc::from(Vec::new()))
            }
        }
    }

    async fn ticket(&mut self, thread: &ThreadRecord) -> Ticket {
        self.load_routing(&thread.tenant, false).await;
        let teams = self.teams(&thread.tenant).await;
        let owners: Vec<&TeamRecord> = teams
            .iter()
            .filter(|t| t.numbers.contains(&thread.number))
            .collect();
        let pool = (!owners.is_empty()).then(|| {
            owners
                .iter()
                .flat_map(|t| t.members.iter().cloned())
                .collect()
        });
        Ticket {
            conversation: thread.conversation.clone(),
            pool,
            skills: skills_of(thread),
            sticky: thread.last_agent.clone(),
            since_ms: thread.waiting_since.unwrap_or(thread.opened_at),
            strategy: self
                .routing(&thread.tenant)
                .numbers
                .get(thread.number.as_str())
                .copied(),
        }
    }

    /// How routing sees an agent. Someone routing does not offer conversations to (a
    /// supervisor) still counts as connected, so they can be assigned one by hand.
    fn view(&self, tenant: &TenantId, agent: &AgentState, routable: bool) -> AgentView {
        self.with_profile(
            tenant,
            &agent.user,
            agent.presence != Presence::Offline,
            routable && agent.status == AgentStatus::Available,
        )
    }

    /// An agent's view with their profile's capacity and skills (or the tenant's default).
    fn with_profile(
        &self,
        tenant: &TenantId,
        user: &UserId,
        connected: bool,
        available: bool,
    ) -> AgentView {
        let profile = self.profiles.get(&(tenant.clone(), user.clone()));
        AgentView {
            connected,
            available,
            capacity: profile
                .and_then(|p| p.capacity)
                .unwrap_or_else(|| self.routing(tenant).capacity),
            skills: profile
                .map(|p| p.skills.iter().cloned().collect())
                .unwrap_or_default(),
        }
    }

    async fn on_agent(&mut self, tenant: &TenantId, agent: &AgentState, routable: bool) {
        let now = now_ms();
        let view = self.view(tenant, agent, routable);
        let inbox = self.tenant(tenant);
        inbox
            .activity
            .agent(&agent.user, agent.presence, agent.status, now);
        let changes = inbox.engine.agent(&agent.user, view, now);
        self.apply(tenant, changes, None).await;
    }

    async fn on_tick(&mut self) {
        let now = now_ms();
        self.remind(now).await;
        let store = now - self.activity_stored_at >= ACTIVITY_EVERY;
        self.account_activity(now, store).await;
        if store {
            self.activity_stored_at = now;
        }
        let tenants: Vec<TenantId> = self.tenants.keys().cloned().collect();
        for tenant in tenants {
            self.load_routing(&tenant, false).await;
            let routing = self.routing(&tenant);
            let grace = routing.offline_grace_secs as i64 * 1000;
            let deadline = routing.reply_deadline_secs as i64 * 1000;
            let changes = self.tenant(&tenant).engine.tick(now, grace, deadline);
            self.apply(&tenant, changes, None).await;
            let board = self.board(&tenant, now).await;
            let inbox = self.tenant(&tenant);
            if inbox.board.as_ref() != Some(&board) {
                inbox.board = Some(board.clone());
                self.broker
                    .fan_out(&tenant, &HubEvent::BoardChanged { board }, &[], &[]);
            }
        }
    }

    async fn board(&mut self, tenant: &TenantId, now: i64) -> BoardStats {
        let sla_ms = self.routing(tenant).sla_secs as i64 * 1000;
        let teams = self.teams(tenant).await;
        let t = self.tenant(tenant);
        t.figures.stats(now, sla_ms, &t.engine, &t.open, &teams)
    }

    /// Stores a conversation's state now; what waited as bookkeeping for it is superseded. Only
    /// for people's commands, which answer with the result; nothing is staged then (commands
    /// flush first).
    async fn put(
        &mut self,
        thread: &ThreadRecord,
        audit: Option<&AuditRecord>,
    ) -> Result<(), StoreError> {
        self.store.put_thread(thread, audit).await?;
        self.staging.written(&thread.conversation);
        Ok(())
    }

    /// A conversation's new state, written with the next flush and before anything announced
    /// after it.
    fn stage(&mut self, thread: ThreadRecord, audit: Option<AuditRecord>) {
        self.staging.stage(thread, audit);
    }

    fn unwritten(&self) -> usize {
        self.staging.unwritten()
    }

    /// Publishes a hub event now, or after the staged states before it are stored.
    async fn emit(&mut self, tenant: &TenantId, event: HubEvent, inboxes: Vec<UserId>) {
        let teams = self.teams(tenant).await;
        let held = Held {
            tenant: tenant.clone(),
            event: Told::Event(event),
            teams,
            inboxes,
        };
        if let Some(now) = self.staging.announce(held) {
            self.publish(&now);
        }
    }

    /// Writes the staged states and the dirty bookkeeping together (the store commits them as
    /// one group), then publishes the hub events that waited for them, in order. A state that
    /// fails to write is logged and stays dirty for the next attempt: memory is the truth the
    /// agents were told, and the store catches up.
    async fn flush(&mut self) {
        let Some(batch) = self.staging.take() else {
            return;
        };
        for audit in batch.audits {
            if let Err(error) = self.store.append_audit(&audit).await {
                tracing::error!(%error, action = %audit.action, "could not store an audit entry");
            }
        }
        let results = futures_util::future::join_all(
            batch
                .writes
                .iter()
                .map(|(t, audit)| self.store.put_thread(t, audit.as_ref())),
        )
        .await;
        for ((thread, audit), result) in batch.writes.into_iter().zip(results) {
            if let Err(error) = result {
                tracing::error!(%error, conversation = %thread.conversation, audit = ?audit.map(|a| a.action), "could not store a conversation's state; retrying");
                self.staging.failed(thread);
            }
        }
        for held in &batch.release {
            self.publish(held);
        }
    }

    /// Tells integrations a fact once the states staged before it are stored.
    fn tell(&mut self, tenant: &TenantId, fact: crate::service::broker::Fact) {
        let held = Held {
            tenant: tenant.clone(),
            event: Told::Fact(fact),
            teams: Arc::from(Vec::new()),
            inboxes: Vec::new(),
        };
        if let Some(now) = self.staging.announce(held) {
            self.publish(&now);
        }
    }

    fn publish(&self, held: &Held) {
        match &held.event {
            Told::Event(event) => {
                let inboxes: Vec<&UserId> = held.inboxes.iter().collect();
                self.broker
                    .fan_out(&held.tenant, event, &held.teams, &inboxes);
            }
            Told::Fact(fact) => self.broker.tell(&held.tenant, fact),
        }
    }

    async fn announce(
        &mut self,
        thread: &ThreadRecord,
        previous: Option<UserId>,
        reason: ChangeReason,
    ) {
        let position = (thread.state == ThreadState::Queued)
            .then(|| {
                self.tenants
                    .get(&thread.tenant)
                    .and_then(|t| t.engine.position(&thread.conversation))
            })
            .flatten();
        self.announce_at(thread, previous, reason, position).await;
    }

    /// [`Self::announce`] with the queue position already known (finding it scans the queue).
    async fn announce_at(
        &mut self,
        thread: &ThreadRecord,
        previous: Option<UserId>,
        reason: ChangeReason,
        position: Option<usize>,
    ) {
        let event = HubEvent::ConversationChanged {
            conversation: thread.conversation.clone(),
            number: thread.number.clone(),
            customer: thread.customer.to_string(),
            state: state_of(thread),
            assignee: thread.assignee.clone(),
            previous: previous.clone(),
            reason,
            queue_position: position.map(|p| p as u32),
            waiting_since: thread.waiting_since,
            at: thread.updated_at,
        };
        let inboxes = thread
            .assignee
            .iter()
            .chain(previous.iter())
            .cloned()
            .collect();
        self.emit(&thread.tenant, event, inboxes).await;
    }

    /// Applies routing's changes: each conversation's new state is staged, and announced once
    /// it is stored. The first change carries `audit` (a person's action).
    async fn apply(&mut self, tenant: &TenantId, changes: Vec<Change>, audit: Option<AuditRecord>) {
        let mut audit = audit;
        for change in changes {
            let now = now_ms();
            let (conversation, previous, reason, position) = match &change {
                Change::Assigned {
                    conversation,
                    previous,
                    reason,
                    ..
                } => (
                    conversation.clone(),
                    previous.clone(),
                    reason_of(*reason),
                    None,
                ),
                Change::Queued {
                    conversation,
                    previous,
                    position,
                } => (
                    conversation.clone(),
                    previous.clone(),
                    ChangeReason::Queue,
                    Some(*position),
                ),
            };
            // Agents' loads as routing now has them, for their working time.
            let inbox = self.tenant(tenant);
            let agent = match &change {
                Change::Assigned { agent, .. } => Some(agent),
                Change::Queued { .. } => None,
            };
            for user in [agent, previous.as_ref()].into_iter().flatten() {
                let load = u32::try_from(inbox.engine.load_of(user)).unwrap_or(u32::MAX);
                inbox.activity.load(user, load, now);
            }
            let Some(thread) = inbox.open.get_mut(&conversation) else {
                continue;
            };
            match &change {
                Change::Assigned { agent, .. } => {
                    thread.state = ThreadState::Assigned;
                    thread.assignee = Some(agent.clone());
                    thread.last_agent = Some(agent.clone());
                }
                Change::Queued { .. } => {
                    thread.state = ThreadState::Queued;
                    thread.assignee = None;
                }
            }
            thread.updated_at = now;
            let thread = thread.clone();
            self.stage(thread.clone(), audit.take());
            self.announce_at(&thread, previous, reason, position).await;
        }
    }

    async fn on_event(&mut self, event: DomainEvent) {
        let assignee = match &event {
            DomainEvent::MessageReceived {
                tenant,
                message,
                replayed,
            } => {
                if *replayed && self.heard(tenant, message).await {
                    return;
                }
                self.customer_wrote(tenant, message).await
            }
            DomainEvent::MessageSent {
                message, author, ..
            } => self.business_wrote(message, author.as_deref()).await,
            DomainEvent::SendFailed { send } => self.assignee_of(&send.tenant, &send.conversation),
            DomainEvent::NoteAdded { note, .. } => {
                let assignee = self.assignee_of(&note.tenant, &note.conversation);
                let inboxes = assignee
                    .into_iter()
                    .chain(note.mentions.iter().cloned())
                    .collect();
                let (tenant, hub_event) = to_hub_event(event.clone(), self.store.id_keys());
                self.emit(&tenant, hub_event, inboxes).await;
                return;
            }
            DomainEvent::StatusUpdated { tenant, status } => {
                let id =
                    self.store
                        .id_keys()
                        .conversation_id(tenant, &status.number, &status.recipient);
                self.assignee_of(tenant, &id)
            }
        };
        let (tenant, hub_event) = to_hub_event(event, self.store.id_keys());
        self.emit(&tenant, hub_event, assignee.into_iter().collect())
            .await;
    }

    fn assignee_of(&self, tenant: &TenantId, conversation: &ConversationId) -> Option<UserId> {
        self.tenants
            .get(tenant)
            .and_then(|t| t.open.get(conversation))
            .and_then(|t| t.assignee.clone())
    }

    /// Whether the conversation's stored state already counts this message (a replay after a
    /// start of something handled before the stop).
    async fn heard(&self, tenant: &TenantId, message: &InboundMessage) -> bool {
        let id = self
            .store
            .id_keys()
            .conversation_id(tenant, &message.number, &message.customer);
        let last = match self.tenants.get(tenant).and_then(|t| t.open.get(&id)) {
            Some(thread) => thread.last_inbound_at,
            None => match self.store.get_thread(tenant, &id).await {
                Ok(thread) => thread.and_then(|t| t.last_inbound_at),
                Err(_) => None,
            },
        };
        last.is_some_and(|at| at >= message.at_ms)
    }

    /// A customer's message: opens (or reopens) the conversation, routes it when nobody has it,
    /// and restarts the agent's reply deadline. Returns who has it now.
    async fn customer_wrote(
        &mut self,
        tenant: &TenantId,
        message: &InboundMessage,
    ) -> Option<UserId> {
        let id = self
            .store
            .id_keys()
            .conversation_id(tenant, &message.number, &message.customer);
        let now = now_ms();
        let known = self.tenant(tenant).open.get(&id).cloned();
        // A resolved conversation's last change (a survey's answer) may still wait for the
        // next write: that copy is the newer one.
        let pending = || self.staging.newest(&id).cloned();
        let (mut thread, reopened) = match known
            .map(|t| (t, false))
            .or_else(|| pending().map(|t| (t, true)))
        {
            Some(found) => found,
            None => match self.store.get_thread(tenant, &id).await {
                Ok(Some(t)) => (t, true),
                Ok(None) => (
                    ThreadRecord {
                        tenant: tenant.clone(),
                        conversation: id.clone(),
                        number: message.number.clone(),
                        customer: message.customer.clone(),
                        state: ThreadState::Queued,
                        assignee: None,
                        last_agent: None,
                        tags: Vec::new(),
                        waiting_since: None,
                        last_inbound_at: None,
                        last_inbound_wamid: None,
                        opened_at: message.at_ms.min(now),
                        updated_at: now,
                        episode: EpisodeFigures::default(),
                    },
                    true,
                ),
                Err(error) => {
                    tracing::error!(%error, conversation = %id, "could not read a conversation's state; routing it as new");
                    return None;
                }
            },
        };
        if reopened && self.survey_answered(&thread, message, now).await {
            return None;
        }
        if reopened {
            thread.state = ThreadState::Queued;
            thread.assignee = None;
            // The customer's wait, and the episode, began when they wrote.
            thread.opened_at = message.at_ms.min(now);
            thread.episode = EpisodeFigures::default();
        }
        thread.episode.messages_in = thread.episode.messages_in.saturating_add(1);
        if thread.last_inbound_at.is_none_or(|at| at <= message.at_ms) {
            thread.last_inbound_at = Some(message.at_ms);
            thread.last_inbound_wamid = Some(message.wamid.clone());
        }
        if thread.waiting_since.is_none() {
            thread.waiting_since = Some(message.at_ms.min(now));
        }
        thread.updated_at = now;
        let ticket = self.ticket(&thread).await;
        let inbox = self.tenant(tenant);
        inbox.engine.customer_wrote(&id, now);
        inbox.open.insert(id.clone(), thread.clone());
        match inbox.engine.route(ticket, now) {
            Some(change) => {
                let queued = matches!(change, Change::Queued { .. });
                self.apply(tenant, vec![change], None).await;
                if queued {
                    self.tell_queue_position(&thread, message, now);
                }
            }
            None => {
                // Already with someone (or waiting): only the bookkeeping fields changed; they
                // are written with the next batch (see `dirty`).
                self.staging.touch(thread);
            }
        }
        self.tenants
            .get(tenant)
            .and_then(|t| t.open.get(&id))
            .and_then(|t| t.assignee.clone())
    }

    /// A person's command acts on everything stored so far, and its own changes are stored
    /// before it answers.
    async fn on_command(&mut self, command: Command) {
        self.flush().await;
        match command {
            Command::Replayed => self.replayed = true,
            Command::Assign {
                tenant,
                conversation,
                agent,
                audit,
                reply,
            } => {
                let result = self.assign(&tenant, &conversation, &agent, audit).await;
                self.flush().await;
                let _ = reply.send(result);
            }
            Command::Resolve {
                tenant,
                conversation,
                audit,
                reply,
            } => {
                let result = self.resolve(&tenant, &conversation, audit).await;
                self.flush().await;
                let _ = reply.send(result);
            }
            Command::Reopen {
                tenant,
                conversation,
                audit,
                reply,
            } => {
                let result = self.reopen(&tenant, &conversation, audit).await;
                self.flush().await;
                let _ = reply.send(result);
            }
            Command::Board { tenant, reply } => {
                let board = self.board(&tenant, now_ms()).await;
                let _ = reply.send(board);
            }
            Command::Tag {
                tenant,
                conversation,
                tags,
                by,
                audit,
                reply,
            } => {
                let result = self.tag(&tenant, &conversation, tags, by, audit).await;
                self.flush().await;
                let _ = reply.send(result);
            }
            Command::Profile {
                profile,
                audit,
                reply,
            } => {
                let result = self.set_profile(profile, audit).await;
                self.flush().await;
                let _ = reply.send(result);
            }
            Command::Note { note, number } => {
                self.on_event(DomainEvent::NoteAdded { note, number }).await
            }
            Command::TeamsChanged { tenant, reply } => {
                if let Some(inbox) = self.tenants.get_mut(&tenant) {
                    inbox.teams = None;
                }
                let _ = reply.send(Ok(()));
            }
            Command::RoutingChanged { tenant, reply } => {
                self.load_routing(&tenant, true).await;
                let _ = reply.send(Ok(()));
            }
        }
    }

    async fn tag(
        &mut self,
        tenant: &TenantId,
        conversation: &ConversationId,
        tags: Vec<String>,
        by: Option<UserId>,
        mut audit: AuditRecord,
    ) -> Result<(), InboxError> {
        let now = now_ms();
        let open = self.tenant(tenant).open.get(conversation).cloned();
        let mut thread = match open.clone() {
            Some(t) => t,
            None => self
                .store
                .get_thread(tenant, conversation)
                .await?
                .ok_or(InboxError::NotFound)?,
        };
        audit.before = serde_json::to_string(&thread.tags).ok();
        audit.after = serde_json::to_string(&tags).ok();
        thread.tags = tags;
        thread.updated_at = now;
        self.put(&thread, Some(&audit)).await?;
        let assignee = thread.assignee.clone();
        let event = HubEvent::TagsChanged {
            conversation: thread.conversation.clone(),
            number: thread.number.clone(),
            tags: thread.tags.clone(),
            by,
            at: now,
        };
        if open.is_some() {
            let skills = skills_of(&thread);
            let inbox = self.tenant(tenant);
            inbox.open.insert(conversation.clone(), thread);
            inbox.engine.retag(conversation, skills);
        }
        self.emit(tenant, event, assignee.into_iter().collect())
            .await;
        Ok(())
    }

    async fn set_profile(
        &mut self,
        profile: ProfileRecord,
        audit: AuditRecord,
    ) -> Result<(), InboxError> {
        self.store.put_profile(&profile, &audit).await?;
        let tenant = profile.tenant.clone();
        let user = profile.user.clone();
        self.profiles
            .insert((tenant.clone(), user.clone()), profile);
        let current = self.tenant(&tenant).engine.view(&user).cloned();
        if let Some(view) = current {
            let view = self.with_profile(&tenant, &user, view.connected, view.available);
            let changes = self.tenant(&tenant).engine.agent(&user, view, now_ms());
            self.apply(&tenant, changes, None).await;
        }
        Ok(())
    }

    async fn assign(
        &mut self,
        tenant: &TenantId,
        conversation: &ConversationId,
        agent: &UserId,
        audit: AuditRecord,
    ) -> Result<(), InboxError> {
        let thread = self
            .tenant(tenant)
            .open
            .get(conversation)
            .cloned()
            .ok_or(InboxError::NotFound)?;
        let ticket = self.ticket(&thread).await;
        let changes = self
            .tenant(tenant)
            .engine
            .assign(conversation, agent, ticket, now_ms())
            .ok_or(InboxError::AgentNotThere)?;
        self.apply(tenant, changes, Some(audit)).await;
        Ok(())
    }

    async fn resolve(
        &mut self,
        tenant: &TenantId,
        conversation: &ConversationId,
        audit: AuditRecord,
    ) -> Result<(), InboxError> {
        let Some(mut thread) = self.tenant(tenant).open.get(conversation).cloned() else {
            return match self.store.get_thread(tenant, conversation).await? {
                Some(_) => Err(InboxError::AlreadyResolved),
                None => Err(InboxError::NotFound),
            };
        };
        let previous = thread.assignee.take();
        thread.state = ThreadState::Resolved;
        thread.waiting_since = None;
        let now = now_ms();
        thread.updated_at = now;
        let survey = self.plan_survey(&mut thread, now).await;
        // Stored first: a failed write leaves the conversation open, as the caller is told.
        self.put(&thread, Some(&audit)).await?;
        if let Some(settings) = survey {
            self.send_survey(&thread, &settings);
        }
        let inbox = self.tenant(tenant);
        inbox.open.remove(conversation);
        inbox.figures.resolved(&thread.number, thread.updated_at);
        let freed = inbox.engine.resolve(conversation, thread.updated_at);
        if let Some(user) = &previous {
            let load = u32::try_from(inbox.engine.load_of(user)).unwrap_or(u32::MAX);
            inbox.activity.load(user, load, thread.updated_at);
        }
        self.announce(&thread, previous, ChangeReason::Resolved)
            .await;
        self.apply(tenant, freed, None).await;
        Ok(())
    }

    async fn reopen(
        &mut self,
        tenant: &TenantId,
        conversation: &ConversationId,
        audit: AuditRecord,
    ) -> Result<(), InboxError> {
        if self.tenant(tenant).open.contains_key(conversation) {
            return Err(InboxError::AlreadyOpen);
        }
        let mut thread = self
            .store
            .get_thread(tenant, conversation)
            .await?
            .ok_or(InboxError::NotFound)?;
        let now = now_ms();
        thread.state = ThreadState::Queued;
        thread.opened_at = now;
        thread.episode = EpisodeFigures::default();
        thread.updated_at = now;
        self.put(&thread, Some(&audit)).await?;
        let ticket = self.ticket(&thread).await;
        let inbox = self.tenant(tenant);
        inbox.open.insert(conversation.clone(), thread.clone());
        match inbox.engine.route(ticket, now) {
            Some(change) => self.apply(tenant, vec![change], None).await,
            None => self.announce(&thread, None, ChangeReason::Reopened).await,
        }
        Ok(())
    }
}
