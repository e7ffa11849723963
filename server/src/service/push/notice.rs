//! Who is notified of what: the pure rule from an event the service publishes (and the inboxes
//! it names) to the people a push is for, before anyone's presence or devices are looked at.

use switchboard_shared::api::ConversationState;
use switchboard_shared::protocol::HubEvent;
use switchboard_shared::push::PushReason;
use switchboard_shared::{ConversationId, Direction, UserId};

/// A push owed to one person, still without words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Due {
    pub user: UserId,
    pub reason: PushReason,
    pub conversation: ConversationId,
    /// The customer's WhatsApp id (shown masked unless a contact name is known).
    pub customer: String,
    /// The colleague who mentioned them.
    pub author: Option<String>,
    /// What was written (the customer's message, the note).
    pub text: Option<String>,
    pub at: i64,
}

/// The pushes an event calls for: an assignment to the agent it went to (not a re-announcement
/// to whoever already had it), a customer's message to the conversation's assignee (the inbox
/// the event names), and a note to each person it mentions but its author.
pub fn due(event: &HubEvent, inboxes: &[&UserId]) -> Vec<Due> {
    match event {
        HubEvent::ConversationChanged {
            conversation,
            customer,
            state: ConversationState::Assigned,
            assignee: Some(assignee),
            previous,
            at,
            ..
        } if previous.as_ref() != Some(assignee) => vec![Due {
            user: assignee.clone(),
            reason: PushReason::Assigned,
            conversation: conversation.clone(),
            customer: customer.clone(),
            author: None,
            text: None,
            at: *at,
        }],
        HubEvent::MessageStored {
            conversation,
            customer,
            direction: Direction::Inbound,
            text,
            message_type,
            at,
            ..
        } => inboxes
            .iter()
            .map(|user| Due {
                user: (*user).clone(),
                reason: PushReason::CustomerWrote,
                conversation: conversation.clone(),
                customer: customer.clone(),
                author: None,
                text: text.clone().or_else(|| Some(format!("[{message_type}]"))),
                at: *at,
            })
            .collect(),
        HubEvent::NoteAdded {
            conversation, note, ..
        } => note
            .mentions
            .iter()
            .filter(|m| note.author.as_ref() != Some(*m))
            .map(|user| Due {
                user: user.clone(),
                reason: PushReason::Mentioned,
                conversation: conversation.clone(),
                customer: String::new(),
                author: Some(note.author_name.clone()),
                text: Some(note.text.clone()),
                at: note.at,
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_shared::protocol::ChangeReason;
    use switchboard_shared::{MessageKey, PhoneNumberId, Wamid};

    fn changed(assignee: Option<&str>, previous: Option<&str>) -> HubEvent {
        HubEvent::ConversationChanged {
            conversation: ConversationId::from("c1"),
            number: PhoneNumberId::from("n1"),
            customer: "15550001".into(),
            state: if assignee.is_some() {
                ConversationState::Assigned
            } else {
                ConversationState::Queued
            },
            assignee: assignee.map(UserId::from),
            previous: previous.map(UserId::from),
            reason: ChangeReason::Pool,
            queue_position: None,
            waiting_since: None,
            at: 5,
        }
    }

    #[test]
    fn an_assignment_notifies_the_new_assignee_only() {
        let pushes = due(&changed(Some("u_b"), Some("u_a")), &[]);
        assert_eq!(pushes.len(), 1);
        assert_eq!(pushes[0].user, UserId::from("u_b"));
        assert_eq!(pushes[0].reason, PushReason::Assigned);
        assert!(due(&changed(Some("u_a"), Some("u_a")), &[]).is_empty());
        assert!(due(&changed(None, Some("u_a")), &[]).is_empty());
    }

    #[test]
    fn a_customers_message_notifies_the_inboxes_named_and_a_reply_nobody() {
        let message = |direction| HubEvent::MessageStored {
            conversation: ConversationId::from("c1"),
            number: PhoneNumberId::from("n1"),
            customer: "15550001".into(),
            key: MessageKey::from("k"),
            wamid: Wamid::from("w"),
            direction,
            message_type: "image".into(),
            text: None,
            at: 7,
            parts: Default::default(),
            outbox: None,
        };
        let agent = UserId::from("u_a");
        let pushes = due(&message(Direction::Inbound), &[&agent]);
        assert_eq!(pushes.len(), 1);
        assert_eq!(pushes[0].reason, PushReason::CustomerWrote);
        assert_eq!(pushes[0].text.as_deref(), Some("[image]"));
        assert!(due(&message(Direction::Outbound), &[&agent]).is_empty());
    }

    #[test]
    fn a_note_notifies_whom_it_mentions_but_its_author() {
        let note = HubEvent::NoteAdded {
            conversation: ConversationId::from("c1"),
            number: PhoneNumberId::from("n1"),
            note: switchboard_shared::api::Note {
                id: "n".into(),
                author: Some(UserId::from("u_a")),
                author_name: "Ann".into(),
                text: "look @{u_b} @{u_a}".into(),
                mentions: vec![UserId::from("u_b"), UserId::from("u_a")],
                at: 9,
            },
        };
        let pushes = due(&note, &[]);
        assert_eq!(pushes.len(), 1);
        assert_eq!(pushes[0].user, UserId::from("u_b"));
        assert_eq!(pushes[0].author.as_deref(), Some("Ann"));
    }
}
