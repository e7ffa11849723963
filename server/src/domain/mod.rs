//! The domain: the records Switchboard keeps, the events it announces, the errors its commands
//! end in, and the rules that derive keys and order from them.
//!
//! Owns: plain data and pure functions every other layer speaks. Must not: know HTTP, SQL/CQL,
//! sockets or the Cloud API's wire format; depend on any other module of this crate.

pub mod activity;
pub mod attribute;
pub mod automation;
pub mod campaign;
pub mod clock;
pub mod compliance;
pub mod contact;
pub mod cost;
pub mod directory;
pub mod error;
pub mod event;
pub mod identity;
pub mod inbox;
pub mod media;
pub mod message;
pub mod name_search;
pub mod outbox;
pub mod retention;
pub mod segment;
pub mod webhook;

pub use activity::{Activity, AgentDayRecord};
pub use attribute::*;
pub use automation::*;
pub use campaign::*;
pub use clock::{instant, now_ms, UnixMillis};
pub use compliance::*;
pub use contact::*;
pub use cost::ChargeRecord;
pub use directory::*;
pub use error::CommandError;
pub use event::DomainEvent;
pub use identity::*;
pub use inbox::*;
pub use media::{MediaRecord, MediaState};
pub use message::*;
pub use name_search::{name_terms, NameQuery};
pub use outbox::*;
pub use retention::{PurgeCounts, PurgeCut};
pub use segment::*;
pub use webhook::*;
