//! The WhatsApp edge: the Cloud API client, webhook signature and parsing, wire types.
//!
//! Owns: everything that knows Meta's wire format. Must not: leak wire types past `service`
//! (webhooks become `store::InboundEvent`s here), persist, or publish.

pub mod ascii_json;
pub mod cloud_api;
pub mod errors;
pub mod parts;
pub mod signature;
pub mod template_send;
pub mod templates;
pub mod webhook;
pub mod wire;

pub use cloud_api::{ClientOptions, CloudApi, NumberEndpoint};
pub use errors::{CloudApiError, ErrorKind};
