//! What the scenarios that seed a store before the server starts share: the store opened for
//! seeding, and a customer's text message as a webhook would have made it.

use anyhow::{Context as _, Result};
use serde_json::json;
use switchboard_server::domain::{inbound_message_key, InboundEvent, InboundMessage, UnixMillis};
use switchboard_server::store::sqlite::{SqliteOptions, SqliteStore, Synchronous};
use switchboard_shared::{PhoneNumberId, WaId, Wamid};

/// The store in `data_dir` (made if missing), for seeding: `synchronous = normal`, since a
/// seed that fails is simply run again.
pub fn open(data_dir: &std::path::Path) -> Result<SqliteStore> {
    std::fs::create_dir_all(data_dir)?;
    SqliteStore::open(
        &data_dir.join("switchboard.db"),
        SqliteOptions {
            synchronous: Synchronous::Normal,
            ..SqliteOptions::default()
        },
    )
    .context("opening the store to seed")
}

/// `customer`'s text message `wamid` to `number`, sent at `at`.
pub fn text_message(
    wamid: String,
    number: &str,
    customer: &WaId,
    text: String,
    at: UnixMillis,
) -> InboundEvent {
    let wamid = Wamid::new(wamid);
    InboundEvent::Message(InboundMessage {
        key: inbound_message_key(&wamid, customer, "text", &(at / 1000).to_string()),
        raw: json!({"type": "text", "text": {"body": text}}).to_string(),
        wamid,
        number: PhoneNumberId::from(number),
        customer: customer.clone(),
        kind: "text".into(),
        text: Some(text),
        at_ms: at,
    })
}
