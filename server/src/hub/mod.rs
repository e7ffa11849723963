//! The real-time hub: streams of past-tense events, fanned out to WebSocket connections.
//!
//! Owns: the streams (one per tenant and topic), their sequence numbers and resume windows, the
//! fan-out of domain events into them, and the sockets (`socket`). Must not: block on a slow
//! client (each connection has a bounded queue; a full queue closes that connection, which then
//! resumes), hold a lock across `.await`, or decide permissions (it asks `auth`).
//!
//! An event is serialized once, in two forms (customers' numbers visible, and masked), for all the
//! streams it goes to; a stream's resume window (its recent events, see [`ResumeWindow`]) shares
//! that text, and a stream wraps it in a frame of its own (topic and sequence number) only for
//! live subscribers and replays, so a stream nobody follows costs a pointer per event.
//! Subscribing replays from the window and registers the subscriber under the stream's lock, so
//! between replay and live events there is no gap and no duplicate.
//!
//! A connection whose queue is full is not cut for it: each stream that could not queue an event
//! sets the subscription aside with the last `seq` it was offered ([`Notices::lagging`]), and the
//! socket puts it back once the client has read, replaying from the window. A server too busy to
//! write for a moment thus costs a replay, not a reconnect; a client that reads nothing for long
//! is cut by the socket (`TOO_SLOW`), and one that fell out of the window is told to `resync`.

pub mod presence;
pub mod socket;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use dashmap::DashMap;
use switchboard_shared::api::mask_phone;
use switchboard_shared::protocol::{AgentState, HubEvent, ServerFrame, Topic};
use switchboard_shared::{PhoneNumberId, TenantId, UserId, Wamid};
use tokio::sync::mpsc;

use self::presence::Presences;
use crate::auth::Viewer;
use crate::domain::TeamRecord;
use crate::service::broker::{AgentChange, Broker};
use crate::store::IdKeys;

/// A frame ready to write, shared by every connection it goes to (cheap to clone).
pub type Frame = tokio_tungstenite::tungstenite::Utf8Bytes;

/// One connection's end of a subscription.
#[derive(Clone)]
pub struct Subscriber {
    pub id: u64,
    pub tx: mpsc::Sender<Frame>,
    /// What the connection's caller may see, checked on every event delivered; replaced when
    /// the caller is checked again (every heartbeat, and at once after an access change).
    pub viewer: Arc<RwLock<Arc<Viewer>>>,
    /// Set when the connection's queue overflowed: the socket closes with `TOO_SLOW`.
    pub too_slow: Arc<AtomicBool>,
    pub wake: Arc<tokio::sync::Notify>,
    /// What the hub did to this connection's subscriptions on its own; the socket reads it.
    pub notices: Arc<Mutex<Notices>>,
    /// Whether the connection's app is in view (as it last said; in view until it says).
    pub in_view: Arc<AtomicBool>,
    /// While this subscription catches up (its replay is being written with backpressure),
    /// its live events wait here, behind the replay; `None` inside once caught up.
    hold: Option<Hold>,
}

/// Live events held back behind a replay in progress (see [`Subscribed::CatchUp`]).
pub type Hold = Arc<Mutex<Option<Vec<Frame>>>>;

/// Live events one catching-up subscription may hold back before it counts as too slow.
const HOLD_LIMIT: usize = 4096;

/// Replays longer than this are written by the socket with backpressure instead of all at once.
const DIRECT_REPLAY: usize = 32;

/// Subscriptions the hub ended or set aside, for the connection to act on.
#[derive(Debug, Default)]
pub struct Notices {
    /// Topics whose access ended: the client was sent `unsubscribed` with the reason.
    pub ended: Vec<Topic>,
    /// Topics set aside after an access change, with the last `seq` the connection was offered:
    /// the socket checks the caller again and puts each back (replaying what came meanwhile)
    /// or ends it.
    pub parked: Vec<(Topic, u64)>,
    /// Topics set aside because the connection's queue was full, with the last `seq` queued:
    /// the socket puts each back, replaying from the window, once the client has read.
    pub lagging: Vec<(Topic, u64)>,
}

/// Why a frame was not queued.
enum Refusal {
    /// The connection's queue (or a catching-up subscription's hold) is full.
    Full,
    /// The connection is gone.
    Closed,
}

/// A mutex's contents, also after a panic elsewhere poisoned it (the data, a queue of frames or
/// a list of topics, is never left half-changed by a panic).
pub(crate) fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Why the hub ended a subscription (`unsubscribed`'s `reason`).
pub const ACCESS_REVOKED: &str = "access_revoked";

impl Subscriber {
    pub fn new(id: u64, tx: mpsc::Sender<Frame>, viewer: Viewer) -> Self {
        Self {
            id,
            tx,
            viewer: Arc::new(RwLock::new(Arc::new(viewer))),
            too_slow: Arc::new(AtomicBool::new(false)),
            wake: Arc::new(tokio::sync::Notify::new()),
            notices: Arc::new(Mutex::new(Notices::default())),
            in_view: Arc::new(AtomicBool::new(true)),
            hold: None,
        }
    }

    /// The caller's visibility as it stands.
    pub fn viewer(&self) -> Arc<Viewer> {
        Arc::clone(&self.viewer.read().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn set_viewer(&self, viewer: Viewer) {
        *self.viewer.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(viewer);
    }

    fn notices(&self) -> std::sync::MutexGuard<'_, Notices> {
        locked(&self.notices)
    }

    /// Ends this subscription to `topic` for lack of access, telling the client.
    fn revoke(&self, topic: &Topic) {
        self.notices().ended.push(topic.clone());
        self.offer(frame(&ServerFrame::Unsubscribed {
            id: None,
            topic: topic.to_string(),
            reason: Some(ACCESS_REVOKED.to_owned()),
        }));
    }

    /// Takes the topics the hub ended and set aside since the last call.
    pub fn take_notices(&self) -> Notices {
        std::mem::take(&mut *self.notices())
    }

    /// Takes only the topics the hub ended (set-aside ones wait for the socket's re-check).
    pub fn take_ended(&self) -> Vec<Topic> {
        std::mem::take(&mut self.notices().ended)
    }

    /// Queues a frame (behind a catch-up's replay, when one is being written).
    fn push(&self, frame: Frame) -> Result<(), Refusal> {
        if let Some(hold) = &self.hold {
            let mut held = locked(hold);
            if let Some(buffer) = held.as_mut() {
                if buffer.len() >= HOLD_LIMIT {
                    return Err(Refusal::Full);
                }
                buffer.push(frame);
                return Ok(());
            }
        }
        self.tx.try_send(frame).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => Refusal::Full,
            mpsc::error::TrySendError::Closed(_) => Refusal::Closed,
        })
    }

    /// Queues a frame that no window holds (an answer, `subscribed`, `resync`); on a full queue
    /// marks the connection too slow. Returns false then.
    pub fn offer(&self, frame: Frame) -> bool {
        match self.push(frame) {
            Ok(()) => true,
            Err(Refusal::Full) => {
                self.too_slow.store(true, Ordering::Release);
                self.wake.notify_one();
                metrics::counter!("switchboard_hub_slow_consumers_total").increment(1);
                false
            }
            Err(Refusal::Closed) => false,
        }
    }

    /// Queues a stream's event `seq`. On a full queue the subscription is set aside with the
    /// last `seq` queued before it ([`Notices::lagging`]): the window has the rest. False when
    /// the event was not queued (the subscription leaves the stream).
    fn deliver(&self, topic: &Topic, seq: u64, frame: Frame) -> bool {
        match self.push(frame) {
            Ok(()) => true,
            Err(Refusal::Full) => {
                self.notices().lagging.push((topic.clone(), seq - 1));
                self.wake.notify_one();
                metrics::counter!("switchboard_hub_lagging_total").increment(1);
                false
            }
            Err(Refusal::Closed) => false,
        }
    }
}

struct Entry {
    seq: u64,
    /// When it was published, for the window's age limit.
    at_ms: i64,
    event: Arc<Prepared>,
}

/// How much of each stream is kept for clients that resume (`after`): every event younger than
/// `keep_ms`, up to `bytes` of text per stream, and always the last `events` however old (a
/// quiet stream's). By age rather than by count, so the busiest stream (`tenant`, every event of
/// the workspace) keeps as many seconds as a conversation's does, and what is kept in all is the
/// rate times `keep_ms`, not the number of streams times a count (the text of an event is shared
/// by the streams it went to).
#[derive(Clone, Copy, Debug)]
pub struct ResumeWindow {
    pub events: usize,
    pub keep_ms: i64,
    pub bytes: usize,
}

struct Stream {
    seq: u64,
    /// Where this stream's numbering started: a client that has seen nothing of it (`after:
    /// 0`) is replayed from here.
    since: u64,
    /// When an event last came (or the stream was made), for forgetting idle streams.
    last_event_ms: i64,
    /// Forgotten by [`Hub::sweep`]: whoever locks it after that takes the map's new one.
    forgotten: bool,
    window: VecDeque<Entry>,
    /// The text the window holds (both forms of each event), for `ResumeWindow::bytes`.
    window_bytes: usize,
    subscribers: Vec<Subscriber>,
    /// Whether anyone ever subscribed. A stream nobody followed has nobody to resume it (a
    /// campaign's conversations get their statuses this way, tens of thousands an hour), so
    /// [`Hub::sweep`] forgets it once it has been idle for the window's age instead of
    /// [`IDLE_STREAM`]; a first subscriber from before that is told to resync.
    followed: bool,
    /// For a conversation's stream: its number and assignee as last known (from its latest
    /// `conversation_changed`, or from the store when the first subscriber came), which decide
    /// who may go on following it.
    conversation: Option<(PhoneNumberId, Option<UserId>)>,
}

impl Stream {
    fn follow(&mut self, sub: Subscriber) {
        self.followed = true;
        self.subscribers.push(sub);
    }

    /// Drops what the window no longer keeps at `now_ms`, oldest first.
    fn trim(&mut self, now_ms: i64, keep: &ResumeWindow) {
        let cutoff = now_ms.saturating_sub(keep.keep_ms);
        while self.window.len() > keep.events {
            let Some(oldest) = self.window.front() else {
                break;
            };
            if oldest.at_ms > cutoff && self.window_bytes <= keep.bytes {
                break;
            }
            self.window_bytes -= oldest.event.size();
            self.window.pop_front();
        }
    }

    /// Whether `viewer` may receive this stream's events now.
    fn admits(&self, topic: &Topic, viewer: &Viewer) -> bool {
        viewer.may_follow(topic)
            && match (topic, &self.conversation) {
                (Topic::Conversation(_), Some((number, assignee))) => {
                    viewer.sees(number, assignee.as_ref())
                }
                _ => true,
            }
    }
}

/// An event serialized once, in both forms, for every stream it goes to: each stream wraps it
/// in its own frame (topic and sequence number) without serializing the event again.
struct Prepared {
    full: String,
    /// `None` when the masked form is the same text.
    masked: Option<String>,
}

impl Prepared {
    /// Both forms of `event`. The masked one hides the customer's number (`•••••••4567`) and
    /// every wamid (a wamid is base64 that contains the number): each becomes the tenant's
    /// opaque reference for it ([`IdKeys::message_ref`]), the same wherever the wamid appears,
    /// so a client matches a message, its quotes, reactions and statuses as it would by wamid.
    fn new(tenant: &TenantId, event: &HubEvent, keys: &IdKeys) -> Arc<Self> {
        let full = serde_json::to_string(event).expect("events serialize");
        let reference = |wamid: &mut String| *wamid = keys.message_ref(tenant, wamid);
        let reference_id =
            |wamid: &mut Wamid| *wamid = Wamid::new(keys.message_ref(tenant, wamid.as_str()));
        let masked = match event {
            HubEvent::MessageStored { .. }
            | HubEvent::ConversationChanged { .. }
            | HubEvent::StatusChanged { .. } => {
                let mut m = event.clone();
                match &mut m {
                    HubEvent::MessageStored {
                        customer,
                        wamid,
                        parts,
                        ..
                    } => {
                        *customer = mask_phone(customer);
                        reference_id(wamid);
                        parts.reply_to.as_mut().map(reference);
                        parts.reaction_to.as_mut().map(reference);
                    }
                    HubEvent::ConversationChanged { customer, .. } => {
                        *customer = mask_phone(customer);
                    }
                    HubEvent::StatusChanged { wamid, .. } => reference_id(wamid),
                    _ => {}
                }
                Some(serde_json::to_string(&m).expect("events serialize"))
            }
            HubEvent::SendFailed { .. }
            | HubEvent::NoteAdded { .. }
            | HubEvent::TagsChanged { .. }
            | HubEvent::AgentChanged { .. }
            | HubEvent::BoardChanged { .. }
            | HubEvent::ContactChanged { .. }
            | HubEvent::ImportProgressed { .. }
            | HubEvent::CampaignProgressed { .. } => None,
        };
        Arc::new(Self { full, masked })
    }

    /// The text it holds, both forms.
    fn size(&self) -> usize {
        self.full.len() + self.masked.as_ref().map_or(0, String::len)
    }

    /// The text a subscriber gets: masked unless it may see numbers (and the forms differ).
    fn text_for(&self, unmasked: bool) -> &str {
        match (&self.masked, unmasked) {
            (Some(masked), false) => masked,
            _ => &self.full,
        }
    }
}

/// `ServerFrame::Event { topic, seq, event }` as serde writes it, around an event already
/// serialized (a test holds the two to the same text).
fn event_frame(topic: &str, seq: u64, event_json: &str) -> Frame {
    let mut out = Vec::with_capacity(event_json.len() + topic.len() + 56);
    out.extend_from_slice(br#"{"type":"event","topic":"#);
    serde_json::to_writer(&mut out, topic).expect("writing to a Vec");
    out.extend_from_slice(br#","seq":"#);
    out.extend_from_slice(seq.to_string().as_bytes());
    out.extend_from_slice(br#","event":"#);
    out.extend_from_slice(event_json.as_bytes());
    out.push(b'}');
    Frame::from(String::from_utf8(out).expect("serde_json writes UTF-8 and the rest is ASCII"))
}

/// What `subscribe` did.
#[derive(Debug)]
pub enum Subscribed {
    /// Missed events (this many) were replayed; live events follow.
    Resumed { replayed: usize, seq: u64 },
    /// `after` was older than the window: the client must reload, then continue from `seq`.
    Resync { seq: u64 },
    /// More was missed than is sent at once: the socket writes `replay` (the missed events,
    /// then the `subscribed` frame) with backpressure, then what `hold` gathered meanwhile.
    CatchUp {
        replay: Vec<Frame>,
        hold: Hold,
        seq: u64,
    },
    /// The client's queue overflowed during the replay.
    TooSlow,
    /// The caller may not follow this stream (as the hub knows it now).
    Refused,
}

impl PartialEq for Subscribed {
    /// Outcomes compare by what happened; a catch-up by its replay's length and `seq`.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (
                Self::Resumed { replayed, seq },
                Self::Resumed {
                    replayed: r,
                    seq: s,
                },
            ) => (replayed, seq) == (r, s),
            (Self::Resync { seq }, Self::Resync { seq: s }) => seq == s,
            (
                Self::CatchUp { replay, seq, .. },
                Self::CatchUp {
                    replay: r, seq: s, ..
                },
            ) => (replay.len(), seq) == (r.len(), s),
            (Self::TooSlow, Self::TooSlow) | (Self::Refused, Self::Refused) => true,
            _ => false,
        }
    }
}

/// A stream is named by its tenant and topic.
type StreamKey = (TenantId, Topic);

pub struct Hub {
    streams: DashMap<StreamKey, Arc<Mutex<Stream>>>,
    window: ResumeWindow,
    next_id: AtomicU64,
    /// Who is there; changes go to each tenant's `board` stream.
    pub presence: Presences,
    /// The store's identifier keys: masked events carry references instead of wamids.
    keys: IdKeys,
    /// Where streams start numbering (see [`Hub::new`]).
    first_seq: u64,
    /// The highest sequence number of any stream forgotten so far: a stream made again starts
    /// above it, so no stream's numbers ever go backwards.
    forgotten_seq: AtomicU64,
    /// Told of every change of an agent's presence or status (routing listens).
    agent_watch: Option<mpsc::UnboundedSender<AgentChange>>,
    /// How many times access changed in any tenant ([`Hub::access_changed`]): a subscription
    /// out of every stream for a full queue when it happened is put back only after its caller
    /// was checked again.
    access_changes: AtomicU64,
}

pub(crate) fn frame(value: &ServerFrame) -> Frame {
    Frame::from(serde_json::to_string(value).expect("frames serialize"))
}

impl Hub {
    /// `first_seq` is where every stream's numbering starts: the server's start time in
    /// microseconds, so that sequences never go backwards across restarts (a client's `after`
    /// from before one is older than every stream and answered `resync`).
    pub fn new(
        window: ResumeWindow,
        away_after: Duration,
        keys: IdKeys,
        first_seq: u64,
        agent_watch: Option<mpsc::UnboundedSender<AgentChange>>,
    ) -> Self {
        Self {
            first_seq,
            forgotten_seq: AtomicU64::new(0),
            keys,
            streams: DashMap::new(),
            window: ResumeWindow {
                events: window.events.max(1),
                ..window
            },
            next_id: AtomicU64::new(1),
            presence: Presences::new(away_after.as_millis() as i64),
            agent_watch,
            access_changes: AtomicU64::new(0),
        }
    }

    /// See [`Hub::access_changes`]'s field.
    pub fn access_changes(&self) -> u64 {
        self.access_changes.load(Ordering::Acquire)
    }

    /// Tells the tenant's board (and routing) that an agent changed, when they did.
    pub fn agent_changed(&self, tenant: &TenantId, state: Option<AgentState>) {
        if let Some(agent) = state {
            if let Some(watch) = &self.agent_watch {
                let routable = self.presence.routable(tenant, &agent.user);
                let _ = watch.send((tenant.clone(), agent.clone(), routable));
            }
            self.publish(tenant, &Topic::Board, &HubEvent::AgentChanged { agent });
        }
    }

    pub fn window(&self) -> ResumeWindow {
        self.window
    }

    pub fn next_subscriber_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn stream(&self, tenant: &TenantId, topic: &Topic) -> Arc<Mutex<Stream>> {
        // The map guard is dropped at the end of this statement, before the stream is locked.
        Arc::clone(
            self.streams
                .entry((tenant.clone(), topic.clone()))
                .or_insert_with(|| {
                    let start = self
                        .first_seq
                        .max(self.forgotten_seq.load(Ordering::Acquire));
                    Arc::new(Mutex::new(Stream {
                        seq: start,
                        since: start,
                        last_event_ms: crate::domain::now_ms(),
                        forgotten: false,
                        window: VecDeque::new(),
                        window_bytes: 0,
                        subscribers: Vec::new(),
                        followed: false,
                        conversation: None,
                    }))
                })
                .value(),
        )
    }

    /// Appends an event to a stream and offers it to every subscriber. `event` carries the
    /// customer's number in clear; the masked copy is made here.
    pub fn publish(&self, tenant: &TenantId, topic: &Topic, event: &HubEvent) {
        self.publish_prepared(tenant, topic, &Prepared::new(tenant, event, &self.keys));
    }

    fn publish_prepared(&self, tenant: &TenantId, topic: &Topic, event: &Arc<Prepared>) {
        self.publish_to(tenant, topic, event, None);
    }

    /// Appends to a stream and offers the event to each subscriber who may see it now; one who
    /// may not (a transfer, a changed role or team) is sent `unsubscribed` with the reason
    /// instead and leaves the stream. `conversation` updates a conversation stream's number and
    /// assignee first, so the event that ends someone's access is not delivered to them.
    fn publish_to(
        &self,
        tenant: &TenantId,
        topic: &Topic,
        event: &Arc<Prepared>,
        conversation: Option<(PhoneNumberId, Option<UserId>)>,
    ) {
        let stream = self.stream(tenant, topic);
        let Ok(mut s) = stream.lock() else { return };
        if s.forgotten {
            // Forgotten between the lookup and the lock: the map has made a new one.
            drop(s);
            return self.publish_to(tenant, topic, event, conversation);
        }
        let now = crate::domain::now_ms();
        s.last_event_ms = now;
        if conversation.is_some() {
            s.conversation = conversation;
        }
        s.seq += 1;
        let seq = s.seq;
        // Each form's frame is built once, and only if some subscriber gets it.
        let (mut full, mut masked): (Option<Frame>, Option<Frame>) = (None, None);
        let mut subscribers = std::mem::take(&mut s.subscribers);
        subscribers.retain(|sub| {
            let viewer = sub.viewer();
            if !s.admits(topic, &viewer) {
                sub.revoke(topic);
                return false;
            }
            let unmasked = viewer.sees_numbers();
            let slot = if unmasked || event.masked.is_none() {
                &mut full
            } else {
                &mut masked
            };
            let frame = slot.get_or_insert_with(|| {
                event_frame(&topic.to_string(), seq, event.text_for(unmasked))
            });
            sub.deliver(topic, seq, frame.clone())
        });
        s.subscribers = subscribers;
        metrics::counter!("switchboard_hub_events_total").increment(1);
        s.window_bytes += event.size();
        s.window.push_back(Entry {
            seq,
            at_ms: now,
            event: Arc::clone(event),
        });
        s.trim(now, &self.window);
    }

    /// Registers `sub` on a stream, first replaying what it missed after `after` (or a resync
    /// when that is out of the window), then the `subscribed` frame, all under the stream's lock.
    /// `conversation` is a conversation's number and assignee as the store had them when the
    /// caller's access was checked; the stream keeps its own when it knows a newer one, and the
    /// caller must see the conversation by it. `id` is the command's, echoed in the answer.
    pub fn subscribe(
        &self,
        tenant: &TenantId,
        topic: &Topic,
        after: Option<u64>,
        sub: Subscriber,
        conversation: Option<(PhoneNumberId, Option<UserId>)>,
        id: Option<String>,
    ) -> Subscribed {
        self.join(tenant, topic, after, sub, conversation, Some(id))
    }

    /// Puts back a subscription set aside by [`Hub::access_changed`], after the caller was
    /// checked again: replays what came after `seq` (the last event it was offered) without a
    /// new `subscribed` frame, so the client sees no seam.
    pub fn rejoin(
        &self,
        tenant: &TenantId,
        topic: &Topic,
        seq: u64,
        sub: Subscriber,
    ) -> Subscribed {
        self.join(tenant, topic, Some(seq), sub, None, None)
    }

    fn join(
        &self,
        tenant: &TenantId,
        topic: &Topic,
        after: Option<u64>,
        sub: Subscriber,
        conversation: Option<(PhoneNumberId, Option<UserId>)>,
        announce: Option<Option<String>>,
    ) -> Subscribed {
        let stream = self.stream(tenant, topic);
        let Ok(mut s) = stream.lock() else {
            return Subscribed::TooSlow;
        };
        if s.forgotten {
            drop(s);
            return self.join(tenant, topic, after, sub, conversation, announce);
        }
        s.subscribers.retain(|other| other.id != sub.id);
        if s.conversation.is_none() {
            s.conversation = conversation;
        }
        let viewer = sub.viewer();
        if !s.admits(topic, &viewer) {
            return Subscribed::Refused;
        }
        let text = topic.to_string();
        let unmasked = viewer.sees_numbers();
        let seq = s.seq;
        let subscribed = |id: Option<String>| {
            frame(&ServerFrame::Subscribed {
                id,
                topic: text.clone(),
                seq,
            })
        };
        // `after: 0` is a client that has seen nothing of the stream yet (its state came over
        // REST just before): everything since this server started, when the window has it all.
        let after = after.map(|a| if a == 0 { s.since } else { a });
        let Some(after) = after.filter(|a| *a != seq) else {
            // Live from now (or nothing was missed).
            if let Some(id) = announce {
                if !sub.offer(subscribed(id)) {
                    return Subscribed::TooSlow;
                }
            }
            s.follow(sub);
            return Subscribed::Resumed { replayed: 0, seq };
        };
        let oldest = s.window.front().map(|e| e.seq).unwrap_or(seq + 1);
        if after > seq || after + 1 < oldest {
            // From before a restart (sequences start at the server's start time), older than
            // the window, or beyond the latest: nothing can be replayed.
            if !sub.offer(frame(&ServerFrame::Resync {
                id: announce.flatten(),
                topic: text.clone(),
                seq,
            })) {
                return Subscribed::TooSlow;
            }
            s.follow(sub);
            return Subscribed::Resync { seq };
        }
        let mut replay: Vec<Frame> = s
            .window
            .iter()
            .filter(|e| e.seq > after)
            .map(|e| event_frame(&text, e.seq, e.event.text_for(unmasked)))
            .collect();
        let replayed = replay.len();
        if let Some(id) = announce {
            replay.push(subscribed(id));
        }
        // Queued at once when short and there is room (a subscription put back after its queue
        // was full waits for room first).
        if replay.len() <= DIRECT_REPLAY && replay.len() < sub.tx.capacity() {
            for f in replay {
                if !sub.offer(f) {
                    return Subscribed::TooSlow;
                }
            }
            s.follow(sub);
            return Subscribed::Resumed { replayed, seq };
        }
        // A long absence: the socket writes the replay at the pace the client reads, and live
        // events of this stream wait behind it, so nothing is judged by the live
        // slow-consumer rule and nothing overtakes.
        let hold: Hold = Arc::new(Mutex::new(Some(Vec::new())));
        let mut held = sub;
        held.hold = Some(Arc::clone(&hold));
        s.follow(held);
        Subscribed::CatchUp { replay, hold, seq }
    }

    /// Someone's access in `tenant` may have changed (a role, a team, a user's account): every
    /// subscription of the tenant is set aside at once, so nothing more reaches anyone until
    /// their socket has checked them again ([`Notices::parked`]) and put back what they may
    /// still follow, replaying what came meanwhile. Called after the change is stored and
    /// before it is answered.
    pub fn access_changed(&self, tenant: &TenantId) {
        self.access_changes.fetch_add(1, Ordering::AcqRel);
        let streams: Vec<(Topic, Arc<Mutex<Stream>>)> = self
            .streams
            .iter()
            .filter(|e| &e.key().0 == tenant)
            .map(|e| (e.key().1.clone(), Arc::clone(e.value())))
            .collect();
        let mut woken: Vec<Subscriber> = Vec::new();
        for (topic, stream) in streams {
            let Ok(mut s) = stream.lock() else { continue };
            let seq = s.seq;
            for sub in std::mem::take(&mut s.subscribers) {
                sub.notices().parked.push((topic.clone(), seq));
                if !woken.iter().any(|w| w.id == sub.id) {
                    woken.push(sub);
                }
            }
        }
        for sub in woken {
            sub.wake.notify_one();
        }
    }

    /// Trims every window to what it keeps at `now_ms` (a stream trims itself at each event; one
    /// that went quiet is trimmed here), and forgets the streams nobody follows that have had no
    /// event for `idle` (for the window's age, when nobody ever followed them): their windows
    /// would otherwise be kept for as long as the server runs, one for every conversation that
    /// ever had an event (a campaign makes thousands an hour). A client resuming one later is
    /// told to resync, as from a window it had fallen out of; one resuming at its last sequence
    /// number missed nothing and goes live. The number of streams forgotten.
    pub fn sweep(&self, now_ms: i64, idle: Duration) -> usize {
        let cutoff = now_ms.saturating_sub(idle.as_millis() as i64);
        let unfollowed_cutoff = now_ms.saturating_sub(self.window.keep_ms).max(cutoff);
        let idle_now = |s: &Stream| {
            let cutoff = if s.followed {
                cutoff
            } else {
                unfollowed_cutoff
            };
            s.subscribers.is_empty() && s.last_event_ms <= cutoff
        };
        // The streams are listed under each shard's read lock, then trimmed with none held; the
        // idle ones are then removed one at a time, so publishers wait for one entry at a time,
        // never for a sweep of a whole shard.
        let streams: Vec<(StreamKey, Arc<Mutex<Stream>>)> = self
            .streams
            .iter()
            .map(|e| (e.key().clone(), Arc::clone(e.value())))
            .collect();
        let mut candidates: Vec<StreamKey> = Vec::new();
        // What the windows hold, for the gauges: each event's text counted once however many
        // windows share it (its share in each is its size over the references to it).
        let (mut held_events, mut held_bytes) = (0usize, 0f64);
        for (key, stream) in streams {
            // One in use right now trims itself.
            let Ok(mut s) = stream.try_lock() else {
                continue;
            };
            s.trim(now_ms, &self.window);
            held_events += s.window.len();
            held_bytes += s
                .window
                .iter()
                .map(|e| e.event.size() as f64 / Arc::strong_count(&e.event) as f64)
                .sum::<f64>();
            if idle_now(&s) {
                candidates.push(key);
            }
        }
        let mut forgotten = 0;
        for key in candidates {
            let removed = self.streams.remove_if(&key, |_, stream| {
                // A stream in use right now is not idle; the next sweep looks again.
                let Ok(mut s) = stream.try_lock() else {
                    return false;
                };
                if !idle_now(&s) {
                    return false;
                }
                s.forgotten = true;
                self.forgotten_seq.fetch_max(s.seq, Ordering::AcqRel);
                true
            });
            forgotten += usize::from(removed.is_some());
        }
        metrics::gauge!("switchboard_hub_streams").set(self.streams.len() as f64);
        metrics::gauge!("switchboard_hub_window_events").set(held_events as f64);
        metrics::gauge!("switchboard_hub_window_bytes").set(held_bytes);
        forgotten
    }

    pub fn unsubscribe(&self, tenant: &TenantId, topic: &Topic, id: u64) {
        if let Some(stream) = self
            .streams
            .get(&(tenant.clone(), topic.clone()))
            .map(|s| Arc::clone(s.value()))
        {
            if let Ok(mut s) = stream.lock() {
                s.subscribers.retain(|sub| sub.id != id);
            }
        }
    }
}

/// The in-process broker: events go straight into this server's streams. A cross-node broker
/// (NATS) would publish to the other nodes here and feed what they publish into the same streams.
impl Broker for Hub {
    fn announce(&self, tenant: &TenantId, topic: &Topic, event: &HubEvent) {
        self.publish(tenant, topic, event);
    }

    /// Publishes an event about a conversation to every stream that follows it: the tenant, the
    /// conversation, the teams owning its number, the inboxes of the agents named, and (for
    /// assignment changes) the board.
    fn fan_out(
        &self,
        tenant: &TenantId,
        event: &HubEvent,
        teams: &[TeamRecord],
        inboxes: &[&UserId],
    ) {
        let prepared = Prepared::new(tenant, event, &self.keys);
        let Some((conversation, number)) = event.conversation() else {
            self.publish_prepared(tenant, &Topic::Board, &prepared);
            return;
        };
        self.publish_prepared(tenant, &Topic::Tenant, &prepared);
        let access = match event {
            HubEvent::ConversationChanged { assignee, .. } => {
                Some((number.clone(), assignee.clone()))
            }
            _ => None,
        };
        let topic = Topic::Conversation(conversation.clone());
        self.publish_to(tenant, &topic, &prepared, access);
        for team in teams.iter().filter(|t| t.numbers.contains(number)) {
            self.publish_prepared(tenant, &Topic::Team(team.id.clone()), &prepared);
        }
        let mut seen: Vec<&UserId> = Vec::with_capacity(inboxes.len());
        for user in inboxes {
            if !seen.contains(user) {
                seen.push(user);
                self.publish_prepared(tenant, &Topic::Inbox((*user).clone()), &prepared);
            }
        }
        if matches!(event, HubEvent::ConversationChanged { .. }) {
            self.publish_prepared(tenant, &Topic::Board, &prepared);
        }
    }

    /// No stream carries these facts: agents see a survey's answer in the conversation's
    /// details, read from the store. Integrations hear of them through the webhooks' tap.
    fn tell(&self, _tenant: &TenantId, _fact: &crate::service::broker::Fact) {}

    /// The hub missed domain events (it lagged behind the event bus): every stream gets a gap
    /// marker, its window is emptied, and its subscribers are told to resync.
    fn lost_events(&self) {
        let streams: Vec<(StreamKey, Arc<Mutex<Stream>>)> = self
            .streams
            .iter()
            .map(|e| (e.key().clone(), Arc::clone(e.value())))
            .collect();
        for ((_, topic), stream) in streams {
            if let Ok(mut s) = stream.lock() {
                s.seq += 1;
                s.window.clear();
                s.window_bytes = 0;
                let f = frame(&ServerFrame::Resync {
                    id: None,
                    topic: topic.to_string(),
                    seq: s.seq,
                });
                s.subscribers.retain(|sub| sub.offer(f.clone()));
            }
        }
    }
}

/// How long a stream nobody follows is kept after its last event. Long enough that an agent
/// who looked at a conversation a moment ago resumes it with a replay; a resume after longer is
/// a resync, which the client answers by reading the conversation again.
const IDLE_STREAM: Duration = Duration::from_secs(600);

/// Turns idle agents away, every few seconds, and trims windows and forgets idle streams every
/// minute.
pub fn spawn_presence_sweeper(hub: Arc<Hub>, shutdown: tokio_util::sync::CancellationToken) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(10));
        let mut ticks = 0u64;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let now = crate::domain::now_ms();
            for (tenant, state) in hub.presence.sweep(now) {
                hub.agent_changed(&tenant, Some(state));
            }
            ticks += 1;
            if ticks.is_multiple_of(6) {
                hub.sweep(now, IDLE_STREAM);
            }
        }
    });
}

#[cfg(test)]
mod tests;
