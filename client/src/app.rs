//! The running app: its reactive state, the one WebSocket to the hub (reconnect, resume, the
//! offline queue of replies), and the actions views call.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchboard_shared::api::{
    Conversation, Me, Message, MessageParts, Note, OutgoingMessage, Page, ReactionInput, Send,
};
use switchboard_shared::ids::ConversationId;
use switchboard_shared::permissions::Permission;
use switchboard_shared::protocol::{
    close, AgentState, AgentStatus, BoardStats, ClientFrame, HubEvent, ServerFrame, Topic,
};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

use crate::i18n::{Lang, T};
use crate::model::{Change, Inbox, Outgoing, PendingSend, Sequences, Tab, Transcript};
use crate::net;

const LANG_KEY: &str = "sb.lang";
const OUTGOING_KEY: &str = "sb.outgoing";
/// Who signed in last, so that a reload without network keeps the app (and its queued replies)
/// instead of showing the sign-in form; cleared on sign-out and whenever the server says the
/// session is gone.
const ME_KEY: &str = "sb.me";
fn canned_key(me: &Me) -> String {
    format!(
        "sb.canned.{}",
        me.user.as_ref().map(|u| u.id.as_str()).unwrap_or("key")
    )
}

/// A message being answered, as the composer shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quote {
    pub key: String,
    pub wamid: String,
    pub snippet: String,
}

/// The screens of the signed-in app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Inbox,
    Board,
    Admin,
    Settings,
}

/// The socket as the user sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    Connecting,
    Live,
    /// The browser says it has no network.
    Offline,
}

/// The one WebSocket and its handlers (dropped, and so detached, when replaced).
struct Socket {
    ws: WebSocket,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

#[derive(Default)]
struct Wire {
    socket: Option<Socket>,
    seqs: Sequences,
    /// Consecutive failed attempts, for the backoff.
    failures: u32,
    /// Whether a reconnect is already scheduled.
    scheduled: bool,
    /// The last `pong` or event, for the liveness check.
    last_heard: i64,
    heartbeat_ms: i64,
    signed_out: bool,
    /// A reload of the inbox is on its way.
    loading_inbox: bool,
}

/// Everything the views read and the actions they call. `Copy`: signals are handles.
#[derive(Clone, Copy)]
pub struct App {
    pub lang: RwSignal<Lang>,
    /// `None` until `auth/me` answered; `Some(None)` when signed out.
    pub me: RwSignal<Option<Option<Me>>>,
    pub view: RwSignal<View>,
    pub inbox: RwSignal<Inbox>,
    pub inbox_loaded: RwSignal<bool>,
    pub tab: RwSignal<Tab>,
    pub query: RwSignal<String>,
    pub open: RwSignal<Option<ConversationId>>,
    pub transcript: RwSignal<Transcript>,
    pub loading_older: RwSignal<bool>,
    pub notes: RwSignal<Vec<Note>>,
    pub outgoing: RwSignal<Outgoing>,
    pub link: RwSignal<Link>,
    pub board: RwSignal<Option<BoardStats>>,
    /// Queue depth as the board reported it since the page opened, for the chart.
    pub queue_history: RwSignal<Vec<(i64, u32)>>,
    pub agents: RwSignal<Vec<AgentState>>,
    pub status: RwSignal<AgentStatus>,
    pub canned: RwSignal<Vec<(String, String)>>,
    /// The message the composer's reply answers: its key, wamid and a snippet.
    pub replying: RwSignal<Option<Quote>>,
    pub toast: RwSignal<Option<String>>,
    /// Now, to the second, for ages that grow on screen.
    pub now: RwSignal<i64>,
    wire: StoredValue<Rc<RefCell<Wire>>, LocalStorage>,
}

impl App {
    pub fn new() -> Self {
        let lang =
            net::load::<Lang>(LANG_KEY).unwrap_or_else(|| Lang::from_tag(&net::browser_language()));
        App {
            lang: RwSignal::new(lang),
            me: RwSignal::new(None),
            view: RwSignal::new(View::Inbox),
            inbox: RwSignal::new(Inbox::default()),
            inbox_loaded: RwSignal::new(false),
            tab: RwSignal::new(Tab::Mine),
            query: RwSignal::new(String::new()),
            open: RwSignal::new(None),
            transcript: RwSignal::new(Transcript::default()),
            loading_older: RwSignal::new(false),
            notes: RwSignal::new(Vec::new()),
            outgoing: RwSignal::new(net::load(OUTGOING_KEY).unwrap_or_default()),
            link: RwSignal::new(Link::Connecting),
            board: RwSignal::new(None),
            queue_history: RwSignal::new(Vec::new()),
            agents: RwSignal::new(Vec::new()),
            status: RwSignal::new(AgentStatus::Available),
            canned: RwSignal::new(Vec::new()),
            replying: RwSignal::new(None),
            toast: RwSignal::new(None),
            now: RwSignal::new(net::now_ms()),
            wire: StoredValue::new_local(Rc::new(RefCell::new(Wire::default()))),
        }
    }

    pub fn t(&self, key: T) -> &'static str {
        self.lang.get().t(key)
    }

    pub fn set_lang(&self, lang: Lang) {
        self.lang.set(lang);
        net::save(LANG_KEY, &lang);
        set_document_lang(lang);
    }

    pub fn can(&self, p: Permission) -> bool {
        self.me.with(|m| {
            m.as_ref()
                .and_then(|m| m.as_ref())
                .is_some_and(|m| m.permissions.contains(&p))
        })
    }

    pub fn me_id(&self) -> Option<switchboard_shared::ids::UserId> {
        self.me.with(|m| {
            m.as_ref()
                .and_then(|m| m.as_ref())
                .and_then(|m| m.user.as_ref().map(|u| u.id.clone()))
        })
    }

    fn csrf(&self) -> Option<String> {
        self.me.with_untracked(|m| {
            m.as_ref()
                .and_then(|m| m.as_ref())
                .and_then(|m| m.csrf_token.clone())
        })
    }

    pub fn fail(&self, message: impl Into<String>) {
        let message = message.into();
        self.toast.set(Some(message));
        let toast = self.toast;
        set_timeout(move || toast.set(None), Duration::from_secs(6));
    }

    /// Boots: who is signed in (the cookie may still hold a session), then the socket.
    pub fn start(self) {
        set_document_lang(self.lang.get_untracked());
        let now = self.now;
        set_interval(move || now.set(net::now_ms()), Duration::from_secs(1));
        let app = self;
        window_event_listener(leptos::ev::online, move |_| app.reconnect_now());
        window_event_listener(leptos::ev::offline, move |_| app.link.set(Link::Offline));
        set_interval(move || app.check_liveness(), Duration::from_secs(5));
        spawn_local(async move {
            match net::get::<Me>("/api/v1/auth/me").await {
                Ok(me) => app.signed_in(me),
                // No network: the last signed-in user's app, offline, until the socket is back
                // (the socket's own authentication settles whether the session still holds).
                Err(e) if e.status == 0 => match net::load::<Me>(ME_KEY) {
                    Some(me) => app.signed_in(me),
                    None => app.me.set(Some(None)),
                },
                Err(_) => {
                    net::forget(ME_KEY);
                    app.me.set(Some(None));
                }
            }
        });
    }

    pub fn signed_in(self, me: Me) {
        let tabs = Tab::for_permissions(&me.permissions, me.user.is_some());
        if let Some(first) = tabs.first() {
            self.tab.set(*first);
        }
        self.canned
            .set(net::load(&canned_key(&me)).unwrap_or_default());
        let board = me.permissions.contains(&Permission::BoardView);
        let inbox = me.permissions.iter().any(|p| {
            matches!(
                p,
                Permission::ConversationsReadAll
                    | Permission::ConversationsReadTeam
                    | Permission::ConversationsReadAssigned
            )
        });
        self.view.set(if inbox {
            View::Inbox
        } else if board {
            View::Board
        } else {
            View::Admin
        });
        net::save(ME_KEY, &me);
        self.me.set(Some(Some(me)));
        self.wire.with_value(|w| w.borrow_mut().signed_out = false);
        self.reload_inbox();
        if board {
            self.reload_board();
        }
        self.connect();
    }

    pub fn sign_out(self) {
        let csrf = self.csrf();
        self.wire.with_value(|w| {
            let mut w = w.borrow_mut();
            w.signed_out = true;
            if let Some(s) = w.socket.take() {
                let _ = s.ws.close();
            }
            w.seqs = Sequences::default();
        });
        net::forget(ME_KEY);
        spawn_local(async move {
            let _ = net::call::<()>("POST", "/api/v1/auth/logout", None, csrf.as_deref()).await;
            self.me.set(Some(None));
            self.open.set(None);
            self.inbox.set(Inbox::default());
            self.transcript.set(Transcript::default());
        });
    }

    /// The streams to follow, from the permissions (and the conversation on screen).
    fn topics(&self) -> Vec<String> {
        let mut topics = Vec::new();
        self.me.with_untracked(|m| {
            let Some(Some(me)) = m else { return };
            let has = |p| me.permissions.contains(&p);
            if has(Permission::ConversationsReadAll) {
                topics.push(Topic::Tenant.to_string());
            } else if has(Permission::ConversationsReadTeam) {
                topics.extend(
                    me.teams
                        .iter()
                        .map(|t| Topic::Team(t.to_string()).to_string()),
                );
            }
            if let Some(user) = &me.user {
                if has(Permission::ConversationsReadAssigned)
                    || has(Permission::ConversationsReadAll)
                {
                    topics.push(Topic::Inbox(user.id.clone()).to_string());
                }
            }
            if has(Permission::BoardView) {
                topics.push(Topic::Board.to_string());
            }
        });
        if let Some(open) = self.open.get_untracked() {
            topics.push(Topic::Conversation(open).to_string());
        }
        topics
    }

    fn send_frame(&self, frame: &ClientFrame) -> bool {
        let Ok(text) = serde_json::to_string(frame) else {
            return false;
        };
        self.wire.with_value(|w| {
            let w = w.borrow();
            match &w.socket {
                Some(s)
                    if s.ws.ready_state() == WebSocket::OPEN
                        && self.link.get_untracked() == Link::Live =>
                {
                    s.ws.send_with_str(&text).is_ok()
                }
                _ => false,
            }
        })
    }

    fn connect(self) {
        let wire = self.wire.get_value();
        if wire.borrow().signed_out {
            return;
        }
        if !net::is_online() {
            self.link.set(Link::Offline);
            return;
        }
        self.link.set(Link::Connecting);
        let Ok(ws) = WebSocket::new(&net::socket_url()) else {
            self.schedule_reconnect();
            return;
        };
        let app = self;
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            if let Some(text) = e.data().as_string() {
                app.on_frame(&text);
            }
        });
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |e: CloseEvent| {
            app.on_close(e.code());
        });
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        let old = wire.borrow_mut().socket.replace(Socket {
            ws,
            _on_message: on_message,
            _on_close: on_close,
        });
        if let Some(old) = old {
            old.ws.set_onclose(None);
            old.ws.set_onmessage(None);
            let _ = old.ws.close();
        }
    }

    fn on_close(self, code: u16) {
        self.link.set(if net::is_online() {
            Link::Connecting
        } else {
            Link::Offline
        });
        if code == close::SESSION_ENDED || code == close::UNAUTHENTICATED {
            net::forget(ME_KEY);
            self.wire.with_value(|w| w.borrow_mut().signed_out = true);
            self.me.set(Some(None));
            return;
        }
        self.schedule_reconnect();
    }

    /// Tries again after 0.5 s, doubling to 15 s, with jitter so that a whole floor of agents
    /// whose Wi-Fi came back do not all arrive in the same millisecond.
    fn schedule_reconnect(self) {
        let wire = self.wire.get_value();
        let delay = {
            let mut w = wire.borrow_mut();
            if w.scheduled || w.signed_out {
                return;
            }
            w.scheduled = true;
            w.failures = w.failures.saturating_add(1);
            let base = (500u64 << w.failures.min(5)).min(15_000);
            base / 2 + (js_sys::Math::random() * base as f64 / 2.0) as u64
        };
        set_timeout(
            move || {
                wire.borrow_mut().scheduled = false;
                self.connect();
            },
            Duration::from_millis(delay),
        );
    }

    /// The network is back (or changed): reconnect at once instead of waiting out the backoff.
    fn reconnect_now(self) {
        if self.link.get_untracked() != Link::Live {
            self.wire.with_value(|w| w.borrow_mut().failures = 0);
            self.connect();
        }
    }

    /// A socket can die silently when a phone changes networks; an app-level ping every
    /// heartbeat finds out, and a socket silent for two heartbeats is replaced.
    fn check_liveness(self) {
        if self.link.get_untracked() != Link::Live {
            return;
        }
        let (silent_for, heartbeat) = self.wire.with_value(|w| {
            let w = w.borrow();
            (net::now_ms() - w.last_heard, w.heartbeat_ms.max(5_000))
        });
        if silent_for > 2 * heartbeat + 5_000 {
            self.connect();
        } else if silent_for > heartbeat {
            self.send_frame(&ClientFrame::Ping { id: None });
        }
    }

    fn on_frame(self, text: &str) {
        self.wire
            .with_value(|w| w.borrow_mut().last_heard = net::now_ms());
        // Frames of a later protocol version are ignored, as the protocol asks.
        let Ok(frame) = serde_json::from_str::<ServerFrame>(text) else {
            return;
        };
        match frame {
            ServerFrame::Ready { heartbeat_secs, .. } => {
                self.wire.with_value(|w| {
                    let mut w = w.borrow_mut();
                    w.failures = 0;
                    w.heartbeat_ms = heartbeat_secs as i64 * 1000;
                });
                self.link.set(Link::Live);
                // Started offline: the inbox (and the open conversation) could not load then.
                let loading = self.wire.with_value(|w| w.borrow().loading_inbox);
                if !self.inbox_loaded.get_untracked() && !loading {
                    self.reload_inbox();
                    if self.me.with_untracked(|m| {
                        m.as_ref()
                            .and_then(|m| m.as_ref())
                            .is_some_and(|m| m.permissions.contains(&Permission::BoardView))
                    }) {
                        self.reload_board();
                    }
                }
                let topics = self.topics();
                let open = self.open.get_untracked();
                let open_topic = open
                    .as_ref()
                    .map(|c| Topic::Conversation(c.clone()).to_string());
                let mut transcript_unfollowed = false;
                for topic in topics {
                    let after = self.wire.with_value(|w| w.borrow().seqs.after(&topic));
                    transcript_unfollowed |= after.is_none() && Some(&topic) == open_topic.as_ref();
                    self.send_frame(&ClientFrame::Subscribe {
                        id: None,
                        topic,
                        after,
                    });
                }
                // A conversation opened while the socket was not live loaded its transcript
                // without a subscription: what arrived in between has no `seq` to resume from,
                // so the transcript loads again now that its stream is followed.
                if let Some(open) = open.filter(|_| transcript_unfollowed) {
                    self.load_transcript(open);
                }
                if self.me_id().is_some() {
                    self.send_frame(&ClientFrame::SetStatus {
                        id: None,
                        status: self.status.get_untracked(),
                    });
                }
                self.flush_outgoing();
            }
            ServerFrame::Subscribed { topic, seq, .. } => {
                self.wire
                    .with_value(|w| w.borrow_mut().seqs.set(&topic, seq));
            }
            ServerFrame::Resync { topic, seq, .. } => {
                self.wire
                    .with_value(|w| w.borrow_mut().seqs.set(&topic, seq));
                self.reload_inbox();
                if let Some(open) = self.open.get_untracked() {
                    self.load_transcript(open);
                }
                if topic == Topic::Board.to_string() {
                    self.reload_board();
                }
            }
            ServerFrame::Event { topic, seq, event } => {
                let fresh = self
                    .wire
                    .with_value(|w| w.borrow_mut().seqs.accept(&topic, seq));
                if fresh {
                    self.apply(event);
                }
            }
            ServerFrame::Ack {
                id: Some(id),
                outbox: Some(outbox),
                state,
                ..
            } => {
                let settled = matches!(state.as_deref(), Some("sent" | "failed"));
                self.outgoing
                    .update(|o| o.acknowledged(&id, &outbox, settled));
                self.save_outgoing();
                self.transcript.update(|t| t.acknowledged(&id, &outbox));
            }
            ServerFrame::Error { id, message, .. } => {
                let pending = id.as_ref().is_some_and(|id| {
                    self.outgoing
                        .with_untracked(|o| o.sends.iter().any(|s| &s.key == id))
                });
                match id {
                    Some(id) if pending => {
                        self.outgoing.update(|o| o.remove_key(&id));
                        self.save_outgoing();
                        self.transcript.update(|t| t.refused(&id, &message));
                    }
                    _ => self.fail(message),
                }
            }
            _ => {}
        }
    }

    fn apply(self, event: HubEvent) {
        match &event {
            HubEvent::BoardChanged { board } => {
                let at = net::now_ms();
                self.queue_history.update(|h| {
                    h.push((at, board.queue_depth));
                    if h.len() > 600 {
                        h.remove(0);
                    }
                });
                self.board.set(Some(board.clone()));
                return;
            }
            HubEvent::AgentChanged { agent } => {
                self.agents.update(
                    |list| match list.iter_mut().find(|a| a.user == agent.user) {
                        Some(a) => *a = agent.clone(),
                        None => list.push(agent.clone()),
                    },
                );
                if Some(&agent.user) == self.me_id().as_ref() {
                    self.status.set(agent.status);
                }
                return;
            }
            HubEvent::NoteAdded {
                conversation, note, ..
            } if self.open.get_untracked().as_ref() == Some(conversation) => {
                self.notes.update(|n| {
                    if !n.iter().any(|x| x.id == note.id) {
                        n.insert(0, note.clone());
                    }
                });
            }
            HubEvent::MessageStored {
                outbox: Some(outbox),
                ..
            }
            | HubEvent::SendFailed { outbox, .. } => {
                self.outgoing.update(|o| o.settled(outbox.as_str()));
                self.save_outgoing();
            }
            _ => {}
        }
        let open = self.open.get_untracked();
        let me = self.me_id();
        let mut change = Change::Nothing;
        let mut is_new = None;
        self.inbox.update(|inbox| {
            if let Some((c, _)) = event.conversation() {
                if inbox.get(c.as_str()).is_none() {
                    is_new = Some(c.clone());
                }
            }
            change = inbox.apply(&event, me.as_ref(), open.as_ref().map(|c| c.as_str()));
        });
        // An event names a conversation new to this list: fetch the rest of it (the customer's
        // name, tags, the window) once.
        if let Some(id) =
            is_new.filter(|id| self.inbox.with_untracked(|i| i.get(id.as_str()).is_some()))
        {
            spawn_local(async move {
                if let Ok(c) =
                    net::get::<Conversation>(&format!("/api/v1/conversations/{id}")).await
                {
                    self.inbox.update(|i| {
                        if i.get(c.id.as_str()).is_some() {
                            i.upsert(c);
                        }
                    });
                }
            });
        }
        self.transcript.update(|t| {
            t.apply(&event);
        });
        if let Change::AssignedToMe(conversation) = change {
            if net::page_hidden() {
                let lang = self.lang.get_untracked();
                let who = self
                    .inbox
                    .with_untracked(|i| {
                        i.get(conversation.as_str())
                            .map(|r| display_name(&r.conversation))
                    })
                    .unwrap_or_default();
                net::notify(lang.t(T::NewAssignment), &who);
                net::chime();
            }
        }
    }

    fn save_outgoing(&self) {
        self.outgoing.with_untracked(|o| net::save(OUTGOING_KEY, o));
    }

    /// Sends every reply the server has not settled yet (after a reconnect or a reload). The
    /// keys make a resend of an already stored reply return the first send.
    fn flush_outgoing(self) {
        let sends = self.outgoing.get_untracked().sends;
        for s in sends {
            self.send_frame(&ClientFrame::SendMessage {
                id: Some(s.key.clone()),
                conversation: s.conversation,
                text: s.text,
                reply_to: s.reply_to,
                key: Some(s.key),
            });
        }
    }

    /// Sends a text reply (answering `quote` when given). It waits in local storage until the
    /// server settles it, so it survives going offline and reloads.
    pub fn reply(self, conversation: ConversationId, text: String, quote: Option<Quote>) {
        let pending = PendingSend {
            key: net::random_key(),
            conversation: conversation.clone(),
            text: text.clone(),
            created_at: net::now_ms(),
            outbox: None,
            reply_to: quote.as_ref().map(|q| q.key.clone()),
            reply_wamid: quote.map(|q| q.wamid),
        };
        self.outgoing.update(|o| o.push(pending.clone()));
        self.save_outgoing();
        self.transcript.update(|t| t.add_local(&pending));
        // Offline, it waits in the queue and goes out when the socket is back.
        self.send_frame(&ClientFrame::SendMessage {
            id: Some(pending.key.clone()),
            conversation,
            text,
            reply_to: pending.reply_to,
            key: Some(pending.key),
        });
    }

    /// Sends a file (uploaded already) or a template over REST: these need the network anyway.
    /// Shown at once; the stored message replaces it when it is sent.
    pub fn send_rich(
        self,
        conversation: ConversationId,
        mut body: OutgoingMessage,
        kind: &str,
        shown: Option<String>,
        parts: MessageParts,
    ) {
        let key = net::random_key();
        body.key = Some(key.clone());
        self.transcript.update(|t| {
            if t.conversation.as_ref() == Some(&conversation) {
                t.add_sending(&key, kind, shown, net::now_ms(), None, parts)
            }
        });
        spawn_local(async move {
            let path = format!("/api/v1/conversations/{conversation}/messages");
            match self.write::<Send, _>("POST", &path, &body).await {
                Ok(send) => self.transcript.update(|t| t.acknowledged(&key, &send.id)),
                Err(e) => self.transcript.update(|t| t.refused(&key, &e.message)),
            }
        });
    }

    /// Reacts to a message of the conversation; an empty emoji takes the reaction back.
    pub fn react(self, conversation: ConversationId, message: String, emoji: String) {
        spawn_local(async move {
            let body = ReactionInput {
                message,
                emoji,
                key: Some(net::random_key()),
            };
            let path = format!("/api/v1/conversations/{conversation}/reactions");
            if let Err(e) = self.write::<Send, _>("POST", &path, &body).await {
                self.fail(e.message);
            }
        });
    }

    pub fn command(self, frame: ClientFrame) {
        if !self.send_frame(&frame) {
            self.fail(self.lang.get_untracked().t(T::Reconnecting));
        }
    }

    /// A command whose loss does not matter (a typing indicator).
    pub fn command_quiet(self, frame: ClientFrame) {
        self.send_frame(&frame);
    }

    pub fn set_status(self, status: AgentStatus) {
        self.status.set(status);
        self.send_frame(&ClientFrame::SetStatus { id: None, status });
    }

    pub fn reload_inbox(self) {
        self.wire
            .with_value(|w| w.borrow_mut().loading_inbox = true);
        spawn_local(async move {
            self.load_inbox().await;
            self.wire
                .with_value(|w| w.borrow_mut().loading_inbox = false);
        });
    }

    async fn load_inbox(self) {
        let mut all: Vec<Conversation> = Vec::new();
        let mut cursor: Option<String> = None;
        // The whole open inbox, 200 at a time, up to 20,000 conversations.
        for _ in 0..100 {
            let path = match &cursor {
                Some(c) => format!("/api/v1/conversations?limit=200&cursor={}", encode(c)),
                None => "/api/v1/conversations?limit=200".to_owned(),
            };
            match net::get::<Page<Conversation>>(&path).await {
                Ok(page) => {
                    all.extend(page.items);
                    match page.next {
                        Some(next) => cursor = Some(next),
                        None => break,
                    }
                }
                Err(e) => {
                    // Offline, the socket's return loads it (`ready` sees it unloaded).
                    if e.status == 0 {
                        return;
                    }
                    if e.status != 403 {
                        self.fail(e.message);
                    }
                    break;
                }
            }
        }
        self.inbox.update(|i| i.replace_all(all));
        self.inbox_loaded.set(true);
    }

    pub fn reload_board(self) {
        spawn_local(async move {
            if let Ok(board) = net::get::<BoardStats>("/api/v1/board").await {
                self.queue_history
                    .update(|h| h.push((net::now_ms(), board.queue_depth)));
                self.board.set(Some(board));
            }
            if let Ok(agents) = net::get::<Vec<AgentState>>("/api/v1/agents").await {
                self.agents.set(agents);
            }
        });
    }

    /// Opens a conversation: its newest messages, its notes, its stream, and the customer's
    /// last message marked read.
    pub fn open_conversation(self, id: ConversationId) {
        let previous = self.open.get_untracked();
        if let Some(previous) = &previous {
            if *previous != id {
                let topic = Topic::Conversation(previous.clone()).to_string();
                self.send_frame(&ClientFrame::Unsubscribe {
                    id: None,
                    topic: topic.clone(),
                });
                self.wire.with_value(|w| w.borrow_mut().seqs.forget(&topic));
            }
        }
        let already_followed = previous.as_ref() == Some(&id);
        self.open.set(Some(id.clone()));
        self.view.set(View::Inbox);
        self.inbox.update(|i| i.mark_read(id.as_str()));
        let topic = Topic::Conversation(id.clone()).to_string();
        let after = self.wire.with_value(|w| w.borrow().seqs.after(&topic));
        // The socket refuses a second subscription to a topic it follows (it would replay).
        if !already_followed {
            self.send_frame(&ClientFrame::Subscribe {
                id: None,
                topic,
                after,
            });
        }
        self.load_transcript(id.clone());
        if self.can(Permission::ConversationsReply) {
            self.send_frame(&ClientFrame::MarkRead {
                id: None,
                conversation: id,
            });
        }
    }

    pub fn close_conversation(self) {
        if let Some(previous) = self.open.get_untracked() {
            let topic = Topic::Conversation(previous).to_string();
            self.send_frame(&ClientFrame::Unsubscribe {
                id: None,
                topic: topic.clone(),
            });
            self.wire.with_value(|w| w.borrow_mut().seqs.forget(&topic));
        }
        self.open.set(None);
        self.transcript.set(Transcript::default());
    }

    fn load_transcript(self, id: ConversationId) {
        self.transcript.set(Transcript::open(id.clone()));
        self.notes.set(Vec::new());
        self.loading_older.set(true);
        spawn_local(async move {
            let path = format!("/api/v1/conversations/{id}/messages?limit=50");
            let result = net::get::<Page<Message>>(&path).await;
            if self.open.get_untracked().as_ref() != Some(&id) {
                return;
            }
            match result {
                Ok(page) => {
                    let pending: Vec<PendingSend> = self
                        .outgoing
                        .with_untracked(|o| o.for_conversation(&id).cloned().collect());
                    self.transcript.update(|t| {
                        t.prepend_page(page.items, page.next);
                        for p in &pending {
                            t.add_local(p);
                        }
                    });
                }
                Err(e) => self.fail(e.message),
            }
            self.loading_older.set(false);
            if self.can(Permission::ConversationsReadAll)
                || self.can(Permission::ConversationsReadTeam)
                || self.can(Permission::ConversationsReadAssigned)
            {
                if let Ok(notes) =
                    net::get::<Page<Note>>(&format!("/api/v1/conversations/{id}/notes")).await
                {
                    if self.open.get_untracked().as_ref() == Some(&id) {
                        self.notes.set(notes.items);
                    }
                }
            }
            // A conversation opened from the board may not be in this user's open list.
            if self.inbox.with_untracked(|i| i.get(id.as_str()).is_none()) {
                if let Ok(c) =
                    net::get::<Conversation>(&format!("/api/v1/conversations/{id}")).await
                {
                    self.inbox.update(|i| i.upsert(c));
                }
            }
        });
    }

    /// The next older page of the open conversation, when there is one.
    pub fn load_older(self) {
        if self.loading_older.get_untracked() {
            return;
        }
        let (id, cursor) = self
            .transcript
            .with_untracked(|t| (t.conversation.clone(), t.older.clone()));
        let (Some(id), Some(cursor)) = (id, cursor) else {
            return;
        };
        self.loading_older.set(true);
        spawn_local(async move {
            let path = format!(
                "/api/v1/conversations/{id}/messages?limit=50&cursor={}",
                encode(&cursor)
            );
            match net::get::<Page<Message>>(&path).await {
                Ok(page) if self.open.get_untracked().as_ref() == Some(&id) => {
                    self.transcript
                        .update(|t| t.prepend_page(page.items, page.next));
                }
                Ok(_) => {}
                Err(e) => self.fail(e.message),
            }
            self.loading_older.set(false);
        });
    }

    pub fn set_tags(self, id: ConversationId, tags: Vec<String>) {
        let csrf = self.csrf();
        spawn_local(async move {
            let body = switchboard_shared::api::TagsInput { tags };
            if let Err(e) = net::write::<serde_json::Value, _>(
                "PUT",
                &format!("/api/v1/conversations/{id}/tags"),
                &body,
                csrf.as_deref(),
            )
            .await
            {
                self.fail(e.message);
            }
        });
    }

    pub fn add_note(self, id: ConversationId, text: String) {
        let csrf = self.csrf();
        spawn_local(async move {
            let body = switchboard_shared::api::NoteInput { text };
            match net::write::<Note, _>(
                "POST",
                &format!("/api/v1/conversations/{id}/notes"),
                &body,
                csrf.as_deref(),
            )
            .await
            {
                Ok(note) => self.notes.update(|n| {
                    if !n.iter().any(|x| x.id == note.id) {
                        n.insert(0, note);
                    }
                }),
                Err(e) => self.fail(e.message),
            }
        });
    }

    pub fn save_canned(self, canned: Vec<(String, String)>) {
        self.me.with_untracked(|m| {
            if let Some(Some(me)) = m {
                net::save(&canned_key(me), &canned);
            }
        });
        self.canned.set(canned);
    }

    /// This session's CSRF token, for uploads.
    pub fn csrf_token(&self) -> Option<String> {
        self.csrf()
    }

    /// Calls the REST API with this session's CSRF token.
    pub async fn write<T: serde::de::DeserializeOwned, B: serde::Serialize>(
        &self,
        method: &str,
        path: &str,
        body: &B,
    ) -> Result<T, net::Failure> {
        let csrf = self.csrf();
        net::write(method, path, body, csrf.as_deref()).await
    }
}

impl Default for App {
    fn default() -> Self {
        Self::new()
    }
}

/// The customer's name when WhatsApp gave one, else their (possibly masked) number.
pub fn display_name(c: &Conversation) -> String {
    c.customer_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| c.customer.clone())
}

fn set_document_lang(lang: Lang) {
    if let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    {
        let _ = root.set_attribute("lang", lang.code());
    }
}

/// Percent-encodes a query value (cursors are opaque and may hold any character).
pub fn encode(value: &str) -> String {
    String::from(js_sys::encode_uri_component(value))
}
