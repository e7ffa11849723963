//! The one WebSocket to the hub: connecting, reconnecting with resume, liveness, and how
//! frames and events change the state.

use crate::i18n::T;
use crate::model::Change;
use crate::net;
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::time::Duration;
use switchboard_shared::api::Conversation;
use switchboard_shared::ids::ConversationId;
use switchboard_shared::permissions::Permission;
use switchboard_shared::protocol::{close, AgentStatus, ClientFrame, HubEvent, ServerFrame, Topic};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

use super::{display_name, App, Link, Progress, Socket, ME_KEY};

impl App {
    /// The streams to follow, from the permissions (and the conversation on screen).
    pub(super) fn topics(&self) -> Vec<String> {
        let mut topics = Vec::new();
        self.session.me.with_untracked(|m| {
            let Some(Some(me)) = m else { return };
            let has = |p| me.permissions.contains(&p);
            if has(Permission::ConversationsReadAll) {
                topics.push(Topic::Tenant.to_string());
            } else if has(Permission::ConversationsReadTeam) {
                topics.extend(me.teams.iter().map(|t| Topic::Team(t.clone()).to_string()));
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
        if let Some(open) = self.inbox.open.get_untracked() {
            topics.push(Topic::Conversation(open).to_string());
        }
        topics
    }

    pub(super) fn send_frame(&self, frame: &ClientFrame) -> bool {
        let Ok(text) = serde_json::to_string(frame) else {
            return false;
        };
        self.socket.wire.with_value(|w| {
            let w = w.borrow();
            match &w.socket {
                Some(s)
                    if s.ws.ready_state() == WebSocket::OPEN
                        && self.socket.link.get_untracked() == Link::Live =>
                {
                    s.ws.send_with_str(&text).is_ok()
                }
                _ => false,
            }
        })
    }

    pub(super) fn connect(self) {
        let wire = self.socket.wire.get_value();
        if wire.borrow().signed_out {
            return;
        }
        if !net::is_online() {
            self.socket.link.set(Link::Offline);
            return;
        }
        self.socket.link.set(Link::Connecting);
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

    pub(super) fn on_close(self, code: u16) {
        self.socket.link.set(if net::is_online() {
            Link::Connecting
        } else {
            Link::Offline
        });
        if code == close::SESSION_ENDED || code == close::UNAUTHENTICATED {
            net::forget(ME_KEY);
            self.socket
                .wire
                .with_value(|w| w.borrow_mut().signed_out = true);
            self.session.me.set(Some(None));
            return;
        }
        self.schedule_reconnect();
    }

    /// Tries again after 0.5 s, doubling to 15 s, with jitter so that a whole floor of agents
    /// whose Wi-Fi came back do not all arrive in the same millisecond.
    pub(super) fn schedule_reconnect(self) {
        let wire = self.socket.wire.get_value();
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
    pub(super) fn reconnect_now(self) {
        if self.socket.link.get_untracked() != Link::Live {
            self.socket.wire.with_value(|w| w.borrow_mut().failures = 0);
            self.connect();
        }
    }

    /// A socket can die silently when a phone changes networks; an app-level ping every
    /// heartbeat finds out, and a socket silent for two heartbeats is replaced.
    pub(super) fn check_liveness(self) {
        if self.socket.link.get_untracked() != Link::Live {
            return;
        }
        let (silent_for, heartbeat) = self.socket.wire.with_value(|w| {
            let w = w.borrow();
            (net::now_ms() - w.last_heard, w.heartbeat_ms.max(5_000))
        });
        if silent_for > 2 * heartbeat + 5_000 {
            self.connect();
        } else if silent_for > heartbeat {
            self.send_frame(&ClientFrame::Ping { id: None });
        }
    }

    pub(super) fn on_frame(self, text: &str) {
        self.socket
            .wire
            .with_value(|w| w.borrow_mut().last_heard = net::now_ms());
        // Frames of a later protocol version are ignored, as the protocol asks.
        let Ok(frame) = serde_json::from_str::<ServerFrame>(text) else {
            return;
        };
        match frame {
            ServerFrame::Ready { heartbeat_secs, .. } => {
                self.socket.wire.with_value(|w| {
                    let mut w = w.borrow_mut();
                    w.failures = 0;
                    w.heartbeat_ms = heartbeat_secs as i64 * 1000;
                });
                self.socket.link.set(Link::Live);
                self.tell_visibility();
                // Started offline: the inbox (and the open conversation) could not load then.
                let loading = self.socket.wire.with_value(|w| w.borrow().loading_inbox);
                if !self.inbox.loaded.get_untracked() && !loading {
                    self.reload_inbox();
                    if self.session.me.with_untracked(|m| {
                        m.as_ref()
                            .and_then(|m| m.as_ref())
                            .is_some_and(|m| m.permissions.contains(&Permission::BoardView))
                    }) {
                        self.reload_board();
                    }
                }
                let topics = self.topics();
                let open = self.inbox.open.get_untracked();
                let open_topic = open
                    .as_ref()
                    .map(|c| Topic::Conversation(c.clone()).to_string());
                let mut transcript_unfollowed = false;
                for topic in topics {
                    let after = self
                        .socket
                        .wire
                        .with_value(|w| w.borrow().seqs.after(&topic));
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
                        status: self.session.status.get_untracked(),
                    });
                }
                self.flush_outgoing();
            }
            ServerFrame::Subscribed { topic, seq, .. } => {
                self.socket
                    .wire
                    .with_value(|w| w.borrow_mut().seqs.set(&topic, seq));
            }
            ServerFrame::Resync { topic, seq, .. } => {
                self.socket
                    .wire
                    .with_value(|w| w.borrow_mut().seqs.set(&topic, seq));
                self.reload_inbox();
                if let Some(open) = self.inbox.open.get_untracked() {
                    self.load_transcript(open);
                }
                if topic == Topic::Board.to_string() {
                    self.reload_board();
                }
            }
            ServerFrame::Event { topic, seq, event } => {
                let fresh = self
                    .socket
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
                self.socket
                    .outgoing
                    .update(|o| o.acknowledged(&id, &outbox, settled));
                self.save_outgoing();
                self.inbox
                    .transcript
                    .update(|t| t.acknowledged(&id, &outbox));
            }
            ServerFrame::Error { id, message, .. } => {
                let pending = id.as_ref().is_some_and(|id| {
                    self.socket
                        .outgoing
                        .with_untracked(|o| o.sends.iter().any(|s| &s.key == id))
                });
                match id {
                    Some(id) if pending => {
                        self.socket.outgoing.update(|o| o.remove_key(&id));
                        self.save_outgoing();
                        self.inbox.transcript.update(|t| t.refused(&id, &message));
                    }
                    _ => self.fail(message),
                }
            }
            _ => {}
        }
    }

    pub(super) fn apply(self, event: HubEvent) {
        if let HubEvent::NoteAdded {
            conversation, note, ..
        } = &event
        {
            let me = self.me_id();
            if me
                .as_ref()
                .is_some_and(|m| note.mentions.contains(m) && note.author.as_ref() != Some(m))
            {
                self.mentioned(conversation.clone(), note);
            }
        }
        match &event {
            HubEvent::BoardChanged { board } => {
                let at = net::now_ms();
                self.inbox.queue_history.update(|h| {
                    h.push((at, board.queue_depth));
                    if h.len() > 600 {
                        h.remove(0);
                    }
                });
                self.inbox.board.set(Some(board.clone()));
                return;
            }
            HubEvent::AgentChanged { agent } => {
                self.inbox.agents.update(|list| {
                    match list.iter_mut().find(|a| a.user == agent.user) {
                        Some(a) => *a = agent.clone(),
                        None => list.push(agent.clone()),
                    }
                });
                if Some(&agent.user) == self.me_id().as_ref() {
                    self.session.status.set(agent.status);
                }
                return;
            }
            HubEvent::CampaignProgressed {
                campaign,
                state,
                total,
                counts,
                paused_reason,
                rate_per_second,
                eta_seconds,
            } => {
                let progress = Progress {
                    campaign: campaign.clone(),
                    state: *state,
                    total: *total,
                    counts: *counts,
                    paused_reason: paused_reason.clone(),
                    rate_per_second: *rate_per_second,
                    eta_seconds: *eta_seconds,
                };
                self.live.campaigns.update(|m| {
                    m.insert(campaign.clone(), progress);
                });
                return;
            }
            HubEvent::NoteAdded {
                conversation, note, ..
            } if self.inbox.open.get_untracked().as_ref() == Some(conversation) => {
                self.inbox.notes.update(|n| {
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
                self.socket.outgoing.update(|o| o.settled(outbox.as_str()));
                self.save_outgoing();
            }
            _ => {}
        }
        let open = self.inbox.open.get_untracked();
        let me = self.me_id();
        let mut change = Change::Nothing;
        let mut is_new = None;
        self.inbox.list.update(|inbox| {
            if let Some((c, _)) = event.conversation() {
                if inbox.get(c.as_str()).is_none() {
                    is_new = Some(c.clone());
                }
            }
            change = inbox.apply(&event, me.as_ref(), open.as_ref().map(|c| c.as_str()));
        });
        // An event names a conversation new to this list: fetch the rest of it (the customer's
        // name, tags, the window) once.
        if let Some(id) = is_new.filter(|id| {
            self.inbox
                .list
                .with_untracked(|i| i.get(id.as_str()).is_some())
        }) {
            spawn_local(async move {
                if let Ok(c) =
                    net::get::<Conversation>(&format!("/api/v1/conversations/{id}")).await
                {
                    self.inbox.list.update(|i| {
                        if i.get(c.id.as_str()).is_some() {
                            i.upsert(c);
                        }
                    });
                }
            });
        }
        self.inbox.transcript.update(|t| {
            t.apply(&event);
        });
        if let Change::AssignedToMe(conversation) = change {
            if net::page_hidden() {
                let lang = self.session.lang.get_untracked();
                let who = self
                    .inbox
                    .list
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

    /// A colleague mentioned this person in a note: a notice in the app with a way to the
    /// conversation, and a system notification and chime when the app is in the background.
    fn mentioned(self, conversation: ConversationId, note: &switchboard_shared::api::Note) {
        let lang = self.session.lang.get_untracked();
        let text = format!("{} {}", note.author_name, lang.t(T::MentionedYou));
        if net::page_hidden() {
            net::notify(&text, &note.text);
            net::chime();
        }
        self.session.mention.set(Some((conversation, text)));
    }

    pub fn command(self, frame: ClientFrame) {
        if !self.send_frame(&frame) {
            self.fail(self.session.lang.get_untracked().t(T::Reconnecting));
        }
    }

    /// A command whose loss does not matter (a typing indicator).
    pub fn command_quiet(self, frame: ClientFrame) {
        self.send_frame(&frame);
    }

    pub fn set_status(self, status: AgentStatus) {
        self.session.status.set(status);
        self.send_frame(&ClientFrame::SetStatus { id: None, status });
    }
}
