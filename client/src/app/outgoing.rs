//! The offline queue of replies: kept in local storage, sent when the socket is live, settled
//! by the hub's events.

use crate::model::PendingSend;
use crate::net;
use leptos::prelude::*;
use leptos::task::spawn_local;
use switchboard_shared::api::{MessageParts, OutgoingMessage, ReactionInput, Send};
use switchboard_shared::ids::ConversationId;
use switchboard_shared::protocol::ClientFrame;

use super::{App, Quote, OUTGOING_KEY};

/// What the sender said about the word filter's findings in a draft.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FilterAck {
    pub confirm_warnings: bool,
    pub override_reason: Option<String>,
}

impl App {
    pub(super) fn save_outgoing(&self) {
        self.socket
            .outgoing
            .with_untracked(|o| net::save(OUTGOING_KEY, o));
    }

    /// Sends every reply the server has not settled yet (after a reconnect or a reload). The
    /// keys make a resend of an already stored reply return the first send.
    pub(super) fn flush_outgoing(self) {
        let sends = self.socket.outgoing.get_untracked().sends;
        for s in sends {
            self.send_frame(&ClientFrame::SendMessage {
                id: Some(s.key.clone()),
                conversation: s.conversation,
                text: s.text,
                reply_to: s.reply_to,
                key: Some(s.key),
                confirm_warnings: s.confirm_warnings,
                override_reason: s.override_reason,
            });
        }
    }

    /// Sends a text reply (answering `quote` when given), with what the sender said about the
    /// word filter's findings. It waits in local storage until the server settles it, so it
    /// survives going offline and reloads.
    pub fn reply(
        self,
        conversation: ConversationId,
        text: String,
        quote: Option<Quote>,
        ack: FilterAck,
    ) {
        let pending = PendingSend {
            key: net::random_key(),
            conversation: conversation.clone(),
            text: text.clone(),
            created_at: net::now_ms(),
            outbox: None,
            reply_to: quote.as_ref().map(|q| q.key.clone()),
            reply_wamid: quote.map(|q| q.wamid),
            confirm_warnings: ack.confirm_warnings,
            override_reason: ack.override_reason.clone(),
        };
        self.socket.outgoing.update(|o| o.push(pending.clone()));
        self.save_outgoing();
        self.inbox.transcript.update(|t| t.add_local(&pending));
        // Offline, it waits in the queue and goes out when the socket is back.
        self.send_frame(&ClientFrame::SendMessage {
            id: Some(pending.key.clone()),
            conversation,
            text,
            reply_to: pending.reply_to,
            key: Some(pending.key),
            confirm_warnings: ack.confirm_warnings,
            override_reason: ack.override_reason,
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
        self.inbox.transcript.update(|t| {
            if t.conversation.as_ref() == Some(&conversation) {
                t.add_sending(&key, kind, shown, net::now_ms(), None, parts)
            }
        });
        spawn_local(async move {
            let path = format!("/api/v1/conversations/{conversation}/messages");
            match self.write::<Send, _>("POST", &path, &body).await {
                Ok(send) => self
                    .inbox
                    .transcript
                    .update(|t| t.acknowledged(&key, send.id.as_str())),
                Err(e) => self
                    .inbox
                    .transcript
                    .update(|t| t.refused(&key, &e.message)),
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
}
