//! Outbound webhooks: an endpoint a workspace subscribed, and each delivery to it. A delivery is
//! stored before it is first attempted, under an id derived from the fact it announces, so the
//! same fact announced twice (a start replays the customers' messages it may not have handed
//! on) is one delivery, and its `webhook-id` is the same on every attempt and replay.

use switchboard_shared::webhooks::{Attempt, DeliveryState, EventType};
use switchboard_shared::TenantId;

use super::message::short_hash;
use super::UnixMillis;

/// An endpoint: where a workspace's events go, and its signing secrets, sealed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointRecord {
    pub tenant: TenantId,
    pub id: String,
    pub url: String,
    pub events: Vec<EventType>,
    pub description: String,
    /// The signing key, sealed with the deployment's key (`secret::Sealer`), never plain.
    pub secret: Vec<u8>,
    /// The key before the last rotation, sealed, while it still signs too.
    pub previous_secret: Option<Vec<u8>>,
    pub previous_until: Option<UnixMillis>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    /// The first failure of the current streak; cleared by a success.
    pub failing_since: Option<UnixMillis>,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

/// Events of one kind stop at this many endpoints per workspace.
pub const MAX_ENDPOINTS: usize = 20;

/// One event for one endpoint, and what became of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub tenant: TenantId,
    pub endpoint: String,
    /// `msg_…`: [`delivery_id`].
    pub id: String,
    pub event: EventType,
    /// The request body, byte for byte as signed.
    pub body: String,
    /// When it was stored (the log's order; the body's `timestamp` is the fact's time).
    pub created_at: UnixMillis,
    pub state: DeliveryState,
    /// When the next attempt is due (meaningful while pending).
    pub next_at: UnixMillis,
    /// Oldest first; at most [`MAX_ATTEMPTS_KEPT`].
    pub attempts: Vec<Attempt>,
}

/// The log keeps a delivery's last attempts (the schedule makes 8, replays add more).
pub const MAX_ATTEMPTS_KEPT: usize = 20;

impl DeliveryRecord {
    /// Adds an attempt to the log, dropping the oldest beyond [`MAX_ATTEMPTS_KEPT`].
    pub fn record(&mut self, attempt: Attempt) {
        self.attempts.push(attempt);
        if self.attempts.len() > MAX_ATTEMPTS_KEPT {
            let extra = self.attempts.len() - MAX_ATTEMPTS_KEPT;
            self.attempts.drain(..extra);
        }
    }

    /// Attempts the schedule made (replays and probes not counted).
    pub fn scheduled_attempts(&self) -> usize {
        self.attempts
            .iter()
            .filter(|a| !a.replay && !a.probe)
            .count()
    }
}

/// A delivery's id: the same for the same fact (`source`, unique within its event type) sent
/// to the same endpoint, so announcing a fact again adds nothing.
pub fn delivery_id(tenant: &TenantId, endpoint: &str, event: EventType, source: &str) -> String {
    format!(
        "msg_{}",
        short_hash(&[tenant.as_str(), endpoint, event.as_str(), source])
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_fact_is_the_same_delivery_and_another_is_not() {
        let t = TenantId::from("t");
        let a = delivery_id(&t, "wh_1", EventType::MessageReceived, "m1");
        assert_eq!(a, delivery_id(&t, "wh_1", EventType::MessageReceived, "m1"));
        assert_ne!(a, delivery_id(&t, "wh_2", EventType::MessageReceived, "m1"));
        assert_ne!(a, delivery_id(&t, "wh_1", EventType::MessageStatus, "m1"));
        assert_ne!(
            a,
            delivery_id(
                &TenantId::from("u"),
                "wh_1",
                EventType::MessageReceived,
                "m1"
            )
        );
        assert!(a.starts_with("msg_") && a.len() == 36);
    }

    #[test]
    fn the_log_keeps_the_last_attempts() {
        let mut d = DeliveryRecord {
            tenant: TenantId::from("t"),
            endpoint: "wh".into(),
            id: "msg".into(),
            event: EventType::MessageSent,
            body: "{}".into(),
            created_at: 0,
            state: DeliveryState::Pending,
            next_at: 0,
            attempts: Vec::new(),
        };
        for i in 0..25 {
            d.record(Attempt {
                at: i,
                status: Some(500),
                error: None,
                response: String::new(),
                duration_ms: 1,
                replay: i % 5 == 0,
                probe: false,
            });
        }
        assert_eq!(d.attempts.len(), MAX_ATTEMPTS_KEPT);
        assert_eq!(d.attempts[0].at, 5);
        assert_eq!(d.scheduled_attempts(), 16);
    }
}
