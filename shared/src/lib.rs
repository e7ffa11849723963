//! Switchboard's wire types, shared by the server and the WASM client.
//!
//! Owns: identifiers, the DTOs the REST API and the export speak, and (later) the WebSocket
//! protocol. Must not depend on anything that does not compile for `wasm32-unknown-unknown`:
//! serde only, no I/O, no clocks.

pub mod api;
pub mod automation;
pub mod campaign;
pub mod compliance;
pub mod contacts;
pub mod costs;
pub mod crm;
pub mod error;
pub mod flow;
pub mod ids;
pub mod interactive;
pub mod message;
pub mod normalize;
pub mod permissions;
pub mod phrase;
pub mod protocol;
pub mod push;
pub mod replies;
pub mod reports;
pub mod retention;
pub mod schedule;
pub mod text;
pub mod webhooks;

pub use error::{ApiError, ApiErrorBody, ErrorCode};
pub use ids::{
    ApiKeyId, CampaignId, ContactId, ConversationId, FlowId, ImportId, MessageKey, PhoneNumberId,
    RoleId, RuleId, ScheduleId, SegmentId, SendId, TeamId, TenantId, TermListId, UserId, WaId,
    Wamid,
};
pub use message::{Direction, ExportRecord, MessageStatus};
pub use permissions::{Permission, PresetRole};
