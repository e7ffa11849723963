//! What each fact becomes for a subscriber: its event type, the key that makes it one delivery
//! however often it is announced (`source`), when it happened, and its `data`. Message events
//! carry the message; conversation, contact and campaign events carry ids and state, for the
//! API to be asked for more.

use dashmap::DashMap;
use serde_json::{json, Value};
use switchboard_shared::protocol::{ChangeReason, HubEvent};
use switchboard_shared::webhooks::EventType;
use switchboard_shared::{CampaignId, ContactId, TenantId};

use crate::domain::{outbound_message_key, DomainEvent, UnixMillis};
use crate::service::broker::Fact;
use crate::store::IdKeys;

/// One fact for a workspace's subscribers.
#[derive(Clone, Debug, PartialEq)]
pub struct Emitted {
    pub tenant: TenantId,
    pub event: EventType,
    /// Unique within the event type and tenant: the same fact, the same key.
    pub source: String,
    pub at: UnixMillis,
    pub data: Value,
}

/// A stored JSON text as a value (`null` when it is not JSON).
fn raw(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// The event a domain event is, if subscribers hear of it.
pub fn of_domain(event: &DomainEvent, keys: &IdKeys) -> Option<Emitted> {
    match event {
        DomainEvent::MessageReceived {
            tenant, message, ..
        } => Some(Emitted {
            tenant: tenant.clone(),
            event: EventType::MessageReceived,
            source: message.key.to_string(),
            at: message.at_ms,
            data: json!({
                "conversation": keys.conversation_id(tenant, &message.number, &message.customer),
                "number": message.number,
                "customer": message.customer,
                "message": {
                    "key": message.key,
                    "wamid": message.wamid,
                    "type": message.kind,
                    "text": message.text,
                    "at": message.at_ms,
                    "whatsapp": raw(&message.raw),
                },
            }),
        }),
        DomainEvent::MessageSent {
            message,
            outbox,
            author,
        } => Some(Emitted {
            tenant: message.tenant.clone(),
            event: EventType::MessageSent,
            source: message.wamid.to_string(),
            at: message.at_ms,
            data: json!({
                "conversation": keys.conversation_id(&message.tenant, &message.number, &message.customer),
                "number": message.number,
                "customer": message.customer,
                "message": {
                    "key": outbound_message_key(&message.wamid),
                    "wamid": message.wamid,
                    "type": message.kind,
                    "text": message.text,
                    "at": message.at_ms,
                },
                "send": outbox,
                "author": author,
            }),
        }),
        DomainEvent::StatusUpdated { tenant, status } => Some(Emitted {
            tenant: tenant.clone(),
            event: EventType::MessageStatus,
            source: format!(
                "{}/{}/{}",
                status.wamid,
                status.status.as_str(),
                status.at_ms
            ),
            at: status.at_ms,
            data: json!({
                "conversation": keys.conversation_id(tenant, &status.number, &status.recipient),
                "number": status.number,
                "customer": status.recipient,
                "wamid": status.wamid,
                "status": status.status.as_str(),
                "errors": status.error_codes,
                "whatsapp": raw(&status.raw),
            }),
        }),
        DomainEvent::SendFailed { .. } | DomainEvent::NoteAdded { .. } => None,
    }
}

/// The event a stream event is, if subscribers hear of it: a conversation given to an agent or
/// resolved. (Campaigns' progress goes through [`Progress`], which paces it.)
pub fn of_hub(tenant: &TenantId, event: &HubEvent) -> Option<Emitted> {
    let HubEvent::ConversationChanged {
        conversation,
        number,
        customer,
        assignee,
        previous,
        reason,
        at,
        ..
    } = event
    else {
        return None;
    };
    let event = match reason {
        ChangeReason::Sticky | ChangeReason::Skills | ChangeReason::Pool | ChangeReason::Manual
            if assignee.is_some() =>
        {
            EventType::ConversationAssigned
        }
        ChangeReason::Resolved => EventType::ConversationResolved,
        _ => return None,
    };
    let who = assignee.as_ref().map(|u| u.as_str()).unwrap_or("");
    Some(Emitted {
        tenant: tenant.clone(),
        event,
        source: format!("{conversation}/{at}/{who}"),
        at: *at,
        data: json!({
            "conversation": conversation,
            "number": number,
            "customer": customer,
            "assignee": assignee,
            "previous": previous,
            "reason": reason,
        }),
    })
}

/// A survey answered.
pub fn of_fact(tenant: &TenantId, fact: &Fact) -> Emitted {
    match fact {
        Fact::SurveyAnswered {
            conversation,
            number,
            customer,
            assignee,
            score,
            comment,
            at,
        } => Emitted {
            tenant: tenant.clone(),
            event: EventType::CsatAnswered,
            source: format!("{conversation}/{at}"),
            at: *at,
            data: json!({
                "conversation": conversation,
                "number": number,
                "customer": customer,
                "assignee": assignee,
                "score": score,
                "comment": comment,
            }),
        },
    }
}

/// A contact made or changed (`exists: false`: deleted or merged away).
pub fn of_contact(
    tenant: &TenantId,
    contact: &ContactId,
    created: bool,
    exists: bool,
    at: UnixMillis,
) -> Emitted {
    Emitted {
        tenant: tenant.clone(),
        event: if created {
            EventType::ContactCreated
        } else {
            EventType::ContactUpdated
        },
        source: format!("{contact}/{at}/{exists}"),
        at,
        data: json!({ "contact": contact, "exists": exists }),
    }
}

/// Campaign progress, paced: a campaign's every change of state, and its counts at most every
/// [`Progress::EVERY_MS`] while it runs (its stream hears of it a few times a second).
#[derive(Default)]
pub struct Progress {
    last: DashMap<(TenantId, CampaignId), (String, UnixMillis)>,
}

impl Progress {
    pub const EVERY_MS: i64 = 10_000;

    pub fn of(&self, tenant: &TenantId, event: &HubEvent, now: UnixMillis) -> Option<Emitted> {
        let HubEvent::CampaignProgressed {
            campaign,
            state,
            total,
            counts,
            paused_reason,
            ..
        } = event
        else {
            return None;
        };
        let key = (tenant.clone(), campaign.clone());
        let state_name = state.as_str().to_owned();
        let due = match self.last.get(&key) {
            Some(last) => last.0 != state_name || now - last.1 >= Self::EVERY_MS,
            None => true,
        };
        if !due {
            return None;
        }
        if state.finished() {
            self.last.remove(&key);
        } else {
            self.last.insert(key, (state_name, now));
        }
        Some(Emitted {
            tenant: tenant.clone(),
            event: EventType::CampaignProgress,
            source: format!("{campaign}/{}/{now}", state.as_str()),
            at: now,
            data: json!({
                "campaign": campaign,
                "state": state,
                "total": total,
                "counts": counts,
                "paused_reason": paused_reason,
            }),
        })
    }
}

/// A delivery's body, as Standard Webhooks recommends: `{"type", "timestamp", "data"}`, the
/// time in RFC 3339.
pub fn body(e: &Emitted) -> String {
    let timestamp = jiff::Timestamp::from_millisecond(e.at)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_string();
    json!({ "type": e.event, "timestamp": timestamp, "data": e.data }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_shared::campaign::{CampaignCounts, CampaignState};
    use switchboard_shared::protocol::ConversationState;
    use switchboard_shared::{ConversationId, PhoneNumberId, UserId};

    fn changed(reason: ChangeReason, assignee: Option<&str>) -> HubEvent {
        HubEvent::ConversationChanged {
            conversation: ConversationId::from("c1"),
            number: PhoneNumberId::from("n"),
            customer: "4915".into(),
            state: ConversationState::Assigned,
            assignee: assignee.map(UserId::from),
            previous: None,
            reason,
            queue_position: None,
            waiting_since: None,
            at: 5,
        }
    }

    #[test]
    fn assignments_and_resolutions_are_events_and_the_rest_not() {
        let t = TenantId::from("t");
        for reason in [
            ChangeReason::Sticky,
            ChangeReason::Skills,
            ChangeReason::Pool,
            ChangeReason::Manual,
        ] {
            let e = of_hub(&t, &changed(reason, Some("u1"))).unwrap();
            assert_eq!(e.event, EventType::ConversationAssigned);
            assert_eq!(e.data["assignee"], "u1");
        }
        assert_eq!(of_hub(&t, &changed(ChangeReason::Manual, None)), None);
        assert_eq!(of_hub(&t, &changed(ChangeReason::Queue, None)), None);
        assert_eq!(
            of_hub(&t, &changed(ChangeReason::Replied, Some("u1"))),
            None
        );
        assert_eq!(
            of_hub(&t, &changed(ChangeReason::Resolved, Some("u1")))
                .unwrap()
                .event,
            EventType::ConversationResolved
        );
    }

    #[test]
    fn campaign_progress_is_paced_but_every_state_change_goes() {
        let (t, p) = (TenantId::from("t"), Progress::default());
        let ev = |state| HubEvent::CampaignProgressed {
            campaign: CampaignId::from("k"),
            state,
            total: 10,
            counts: CampaignCounts::default(),
            paused_reason: None,
            rate_per_second: 1.0,
            eta_seconds: None,
        };
        assert!(p.of(&t, &ev(CampaignState::Running), 0).is_some());
        assert!(p.of(&t, &ev(CampaignState::Running), 500).is_none());
        assert!(p.of(&t, &ev(CampaignState::Paused), 600).is_some());
        assert!(p
            .of(&t, &ev(CampaignState::Paused), 600 + Progress::EVERY_MS)
            .is_some());
        assert!(p
            .of(
                &t,
                &ev(CampaignState::Completed),
                600 + Progress::EVERY_MS + 1
            )
            .is_some());
    }

    #[test]
    fn a_body_is_type_timestamp_and_data() {
        let e = Emitted {
            tenant: TenantId::from("t"),
            event: EventType::ContactCreated,
            source: "s".into(),
            at: 1_765_000_000_123,
            data: json!({"contact": "c"}),
        };
        let v: Value = serde_json::from_str(&body(&e)).unwrap();
        assert_eq!(v["type"], "contact.created");
        assert_eq!(v["timestamp"], "2025-12-06T05:46:40.123Z");
        assert_eq!(v["data"]["contact"], "c");
    }
}
