//! Loading the inbox, the board and conversations over REST, and the actions on them.

use crate::model::{PendingSend, Transcript};
use crate::net;
use leptos::prelude::*;
use leptos::task::spawn_local;
use switchboard_shared::api::{Conversation, Message, Note, Page};
use switchboard_shared::ids::ConversationId;
use switchboard_shared::permissions::Permission;
use switchboard_shared::protocol::{AgentState, BoardStats, ClientFrame, Topic};

use super::{encode, App, View};

impl App {
    pub fn reload_inbox(self) {
        self.socket
            .wire
            .with_value(|w| w.borrow_mut().loading_inbox = true);
        spawn_local(async move {
            self.load_inbox().await;
            self.socket
                .wire
                .with_value(|w| w.borrow_mut().loading_inbox = false);
        });
    }

    pub(super) async fn load_inbox(self) {
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
        self.inbox.list.update(|i| i.replace_all(all));
        self.inbox.loaded.set(true);
    }

    pub fn reload_board(self) {
        spawn_local(async move {
            if let Ok(board) = net::get::<BoardStats>("/api/v1/board").await {
                self.inbox
                    .queue_history
                    .update(|h| h.push((net::now_ms(), board.queue_depth)));
                self.inbox.board.set(Some(board));
            }
            if let Ok(agents) = net::get::<Vec<AgentState>>("/api/v1/agents").await {
                self.inbox.agents.set(agents);
            }
        });
    }

    /// Opens a conversation: its newest messages, its notes, its stream, and the customer's
    /// last message marked read.
    pub fn open_conversation(self, id: ConversationId) {
        let previous = self.inbox.open.get_untracked();
        if let Some(previous) = &previous {
            if *previous != id {
                let topic = Topic::Conversation(previous.clone()).to_string();
                self.send_frame(&ClientFrame::Unsubscribe {
                    id: None,
                    topic: topic.clone(),
                });
                self.socket
                    .wire
                    .with_value(|w| w.borrow_mut().seqs.forget(&topic));
            }
        }
        let already_followed = previous.as_ref() == Some(&id);
        self.inbox.open.set(Some(id.clone()));
        self.inbox.view.set(View::Inbox);
        self.inbox.list.update(|i| i.mark_read(id.as_str()));
        let topic = Topic::Conversation(id.clone()).to_string();
        let after = self
            .socket
            .wire
            .with_value(|w| w.borrow().seqs.after(&topic));
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
        if let Some(previous) = self.inbox.open.get_untracked() {
            let topic = Topic::Conversation(previous).to_string();
            self.send_frame(&ClientFrame::Unsubscribe {
                id: None,
                topic: topic.clone(),
            });
            self.socket
                .wire
                .with_value(|w| w.borrow_mut().seqs.forget(&topic));
        }
        self.inbox.open.set(None);
        self.inbox.transcript.set(Transcript::default());
    }

    pub(super) fn load_transcript(self, id: ConversationId) {
        self.inbox.transcript.set(Transcript::open(id.clone()));
        self.inbox.notes.set(Vec::new());
        self.inbox.loading_older.set(true);
        spawn_local(async move {
            let path = format!("/api/v1/conversations/{id}/messages?limit=50");
            let result = net::get::<Page<Message>>(&path).await;
            if self.inbox.open.get_untracked().as_ref() != Some(&id) {
                return;
            }
            match result {
                Ok(page) => {
                    let pending: Vec<PendingSend> = self
                        .socket
                        .outgoing
                        .with_untracked(|o| o.for_conversation(&id).cloned().collect());
                    self.inbox.transcript.update(|t| {
                        t.prepend_page(page.items, page.next);
                        for p in &pending {
                            t.add_local(p);
                        }
                    });
                }
                Err(e) => self.fail(e.message),
            }
            self.inbox.loading_older.set(false);
            if self.can(Permission::ConversationsReadAll)
                || self.can(Permission::ConversationsReadTeam)
                || self.can(Permission::ConversationsReadAssigned)
            {
                if let Ok(notes) =
                    net::get::<Page<Note>>(&format!("/api/v1/conversations/{id}/notes")).await
                {
                    if self.inbox.open.get_untracked().as_ref() == Some(&id) {
                        self.inbox.notes.set(notes.items);
                    }
                }
            }
            // A conversation opened from the board may not be in this user's open list.
            if self
                .inbox
                .list
                .with_untracked(|i| i.get(id.as_str()).is_none())
            {
                if let Ok(c) =
                    net::get::<Conversation>(&format!("/api/v1/conversations/{id}")).await
                {
                    self.inbox.list.update(|i| i.upsert(c));
                }
            }
        });
    }

    /// The next older page of the open conversation, when there is one.
    pub fn load_older(self) {
        if self.inbox.loading_older.get_untracked() {
            return;
        }
        let (id, cursor) = self
            .inbox
            .transcript
            .with_untracked(|t| (t.conversation.clone(), t.older.clone()));
        let (Some(id), Some(cursor)) = (id, cursor) else {
            return;
        };
        self.inbox.loading_older.set(true);
        spawn_local(async move {
            let path = format!(
                "/api/v1/conversations/{id}/messages?limit=50&cursor={}",
                encode(&cursor)
            );
            match net::get::<Page<Message>>(&path).await {
                Ok(page) if self.inbox.open.get_untracked().as_ref() == Some(&id) => {
                    self.inbox
                        .transcript
                        .update(|t| t.prepend_page(page.items, page.next));
                }
                Ok(_) => {}
                Err(e) => self.fail(e.message),
            }
            self.inbox.loading_older.set(false);
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
                Ok(note) => self.inbox.notes.update(|n| {
                    if !n.iter().any(|x| x.id == note.id) {
                        n.insert(0, note);
                    }
                }),
                Err(e) => self.fail(e.message),
            }
        });
    }
}
