//! Rows both backends read the same way, until each aggregate's backend file owns its own.

use switchboard_shared::{ConversationId, PhoneNumberId, TenantId, UserId, WaId, Wamid};

use super::StoreError;
use crate::domain::*;

/// An outbox row as both backends read it: the columns of [`OUTBOX_COLUMNS`] in order.
pub(crate) type OutboxRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    i32,
    Option<String>,
    Option<String>,
    i64,
    i64,
);

/// The outbox columns every read selects, in [`OutboxRow`] order.
pub(crate) const OUTBOX_COLUMNS: &str = "tenant, send_id, conversation_id, number, customer, \
    author, request, kind, text, state, attempts, wamid, error, created_at, updated_at";

pub(crate) fn outbox_from_row(r: OutboxRow) -> Result<OutboxRecord, StoreError> {
    Ok(OutboxRecord {
        tenant: TenantId::new(r.0),
        id: r.1,
        conversation: ConversationId::new(r.2),
        number: PhoneNumberId::new(r.3),
        customer: WaId::new(r.4),
        author: r.5,
        request: r.6,
        kind: r.7,
        text: r.8,
        state: SendState::parse(&r.9)
            .ok_or_else(|| StoreError::Corrupt(format!("send state `{}`", r.9)))?,
        attempts: u32::try_from(r.10).unwrap_or_default(),
        wamid: r.11.map(Wamid::new),
        error: r.12,
        created_at: r.13,
        updated_at: r.14,
    })
}

pub(crate) fn note_from_row(
    tenant: &TenantId,
    conversation: &ConversationId,
    r: (i64, String, Option<String>, String, String, String),
) -> Result<NoteRecord, StoreError> {
    Ok(NoteRecord {
        tenant: tenant.clone(),
        conversation: conversation.clone(),
        at_ms: r.0,
        id: r.1,
        author: r.2.map(UserId::new),
        author_name: r.3,
        text: r.4,
        mentions: decode_list(&r.5)?.into_iter().map(UserId::new).collect(),
    })
}

pub(crate) fn profile_from_row(
    tenant: &TenantId,
    r: (String, String, Option<u32>, i64),
) -> Result<ProfileRecord, StoreError> {
    Ok(ProfileRecord {
        tenant: tenant.clone(),
        user: UserId::new(r.0),
        skills: decode_list(&r.1)?,
        capacity: r.2,
        updated_at: r.3,
    })
}

/// A thread as both backends read it: the columns of [`THREAD_COLUMNS`] in order.
pub(crate) type ThreadRow = (
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    Option<i64>,
    Option<i64>,
    Option<String>,
    i64,
    i64,
);

/// The thread columns every read selects, in [`ThreadRow`] order.
pub(crate) const THREAD_COLUMNS: &str = "tenant, conversation_id, number, customer, state, \
    assignee, last_agent, tags, waiting_since, last_inbound_at, last_inbound_wamid, opened_at, \
    updated_at";

pub(crate) fn thread_from_row(r: ThreadRow) -> Result<ThreadRecord, StoreError> {
    Ok(ThreadRecord {
        tenant: TenantId::new(r.0),
        conversation: ConversationId::new(r.1),
        number: PhoneNumberId::new(r.2),
        customer: WaId::new(r.3),
        state: ThreadState::parse(&r.4)
            .ok_or_else(|| StoreError::Corrupt(format!("thread state `{}`", r.4)))?,
        assignee: r.5.map(UserId::new),
        last_agent: r.6.map(UserId::new),
        tags: decode_list(&r.7)?,
        waiting_since: r.8,
        last_inbound_at: r.9,
        last_inbound_wamid: r.10.map(Wamid::new),
        opened_at: r.11,
        updated_at: r.12,
    })
}

/// Encodes a list of names for a text column (both backends store lists as JSON text).
pub(crate) fn encode_list<S: AsRef<str>>(items: &[S]) -> String {
    serde_json::to_string(&items.iter().map(AsRef::as_ref).collect::<Vec<_>>())
        .expect("strings serialize")
}

pub(crate) fn decode_list(text: &str) -> Result<Vec<String>, super::StoreError> {
    serde_json::from_str(text).map_err(|e| super::StoreError::Corrupt(format!("list column: {e}")))
}

/// An API key row as both backends read it: id, tenant, name, secret hash, permissions (JSON),
/// created_by, created_at, last_used_at, revoked_at.
pub(crate) type KeyRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    UnixMillis,
    Option<UnixMillis>,
    Option<UnixMillis>,
);

pub(crate) fn key_from_row(r: KeyRow) -> Result<ApiKeyRecord, super::StoreError> {
    Ok(ApiKeyRecord {
        id: r.0,
        tenant: TenantId::new(r.1),
        name: r.2,
        secret_hash: r.3,
        permissions: decode_list(&r.4)?,
        created_by: r.5,
        created_at: r.6,
        last_used_at: r.7,
        revoked_at: r.8,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(action: &str) -> AuditRecord {
        AuditRecord {
            tenant: TenantId::from("t"),
            id: "a_1".into(),
            at_ms: 10,
            actor: "user:u_1".into(),
            actor_name: "a@b.c".into(),
            action: action.into(),
            target: Some("user:u_2".into()),
            outcome: "ok".into(),
            ip: None,
            user_agent: None,
            before: None,
            after: None,
        }
    }

    #[test]
    fn action_filter_matches_whole_segments() {
        let q = AuditQuery {
            action: Some("user".into()),
            ..AuditQuery::default()
        };
        assert!(q.matches(&record("user")));
        assert!(q.matches(&record("user.create")));
        assert!(!q.matches(&record("users.create")));
        let q = AuditQuery {
            since_ms: Some(11),
            ..AuditQuery::default()
        };
        assert!(!q.matches(&record("user")));
    }
}
