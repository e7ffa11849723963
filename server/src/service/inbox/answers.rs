//! What the business's messages do to a conversation: a person's answer ends the customer's
//! wait and the agent's deadline, and the episode's first one is its first response (also when
//! its event arrives after the conversation was resolved); every message counts in the
//! episode's volume.

use super::*;

impl Worker {
    /// The business wrote. A person's message (an agent's or an API key's; `None` for sends
    /// from before authors were recorded) answers: the customer no longer waits, the agent met
    /// the deadline, and the episode's first one is its first response. Automatic messages
    /// (the queue notice, automation, the demo) only count in the volume: the customer still
    /// waits for a person.
    pub(super) async fn business_wrote(
        &mut self,
        message: &OutboundRecord,
        author: Option<&str>,
    ) -> Option<UserId> {
        let person = author.is_none_or(|a| a.starts_with("user:") || a.starts_with("api_key:"));
        let tenant = &message.tenant;
        let id = self
            .store
            .id_keys()
            .conversation_id(tenant, &message.number, &message.customer);
        let now = now_ms();
        let inbox = self.tenant(tenant);
        let Some(thread) = inbox.open.get_mut(&id) else {
            if person {
                self.answered_after_resolving(&id, message, author).await;
            }
            return None;
        };
        thread.episode.messages_out = thread.episode.messages_out.saturating_add(1);
        let assignee = thread.assignee.clone();
        if !person {
            let thread = thread.clone();
            self.staging.touch(thread);
            return assignee;
        }
        inbox.engine.replied(&id);
        if thread.episode.first_response_at.is_none() {
            // When WhatsApp accepted the answer, as its message is stored: the report can be
            // checked against the conversation's history.
            let at = message.at_ms.max(thread.opened_at);
            thread.episode.first_response_at = Some(at);
            thread.episode.first_responder = author
                .and_then(|a| a.strip_prefix("user:"))
                .map(UserId::from);
            inbox
                .figures
                .responded(&thread.number, at - thread.opened_at, now);
        }
        if thread.waiting_since.is_some() {
            thread.waiting_since = None;
            thread.updated_at = now;
            let thread = thread.clone();
            self.stage(thread.clone(), None);
            self.announce(&thread, None, ChangeReason::Replied).await;
        } else {
            let thread = thread.clone();
            self.staging.touch(thread);
        }
        assignee
    }

    /// A person's answer whose event came after the conversation was resolved (an agent who
    /// replies and resolves at once: the answer's acceptance and the command race): it is still
    /// the episode's, and may be its first response.
    async fn answered_after_resolving(
        &mut self,
        id: &ConversationId,
        message: &OutboundRecord,
        author: Option<&str>,
    ) {
        let stored = match self.staging.newest(id).cloned() {
            Some(t) => Some(t),
            None => self
                .store
                .get_thread(&message.tenant, id)
                .await
                .ok()
                .flatten(),
        };
        let Some(mut thread) = stored.filter(|t| !t.is_open()) else {
            return;
        };
        if message.at_ms < thread.opened_at {
            return;
        }
        thread.episode.messages_out = thread.episode.messages_out.saturating_add(1);
        if thread.episode.first_response_at.is_none() {
            thread.episode.first_response_at = Some(message.at_ms);
            thread.episode.first_responder = author
                .and_then(|a| a.strip_prefix("user:"))
                .map(UserId::from);
            let now = now_ms();
            self.tenant(&message.tenant).figures.responded(
                &thread.number,
                message.at_ms - thread.opened_at,
                now,
            );
        }
        self.staging.touch(thread);
    }
}
