//! Parses a Cloud API webhook body into domain events.
//!
//! Leniency is deliberate: Meta adds message types, status values and webhook fields without
//! notice, so anything recognisable as the documented envelope is accepted and whatever is not
//! understood is kept as an [`AccountEvent`] with its raw JSON. Only a body that is not JSON, or
//! JSON that is not the envelope (`{"entry": [{"changes": [{"field", "value"}]}]}`), is refused.

use serde::Deserialize;
use serde_json::Value;
use switchboard_shared::contacts::{ConsentEvidence, ConsentSource, Marketing};
use switchboard_shared::{MessageStatus, PhoneNumberId, WaId, Wamid};

use crate::domain::{
    inbound_message_key, AccountEvent, ConsentChange, ContactUpdate, InboundEvent, InboundMessage,
    StatusUpdate, UnixMillis,
};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebhookError {
    #[error("body is not valid JSON: {0}")]
    NotJson(String),
    #[error("body is not a WhatsApp webhook envelope: {0}")]
    NotEnvelope(String),
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    object: Option<String>,
    entry: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    time: Option<i64>,
    changes: Vec<Change>,
}

#[derive(Deserialize)]
struct Change {
    field: String,
    value: Value,
}

/// One `entry[].changes[]` element, interpreted.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedChange {
    /// The WhatsApp Business Account id (`entry.id`).
    pub waba_id: Option<String>,
    pub field: String,
    /// The business number the change is about, when it names one.
    pub number: Option<PhoneNumberId>,
    pub events: Vec<InboundEvent>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParsedWebhook {
    /// `whatsapp_business_account` for WhatsApp; kept whatever it says.
    pub object: Option<String>,
    pub changes: Vec<ParsedChange>,
}

impl ParsedWebhook {
    /// Every business number the webhook names.
    pub fn numbers(&self) -> impl Iterator<Item = &PhoneNumberId> {
        self.changes.iter().filter_map(|c| c.number.as_ref())
    }
}

/// Parses a raw body. `received_at` stands in for times the payload does not carry.
pub fn parse(body: &[u8], received_at: UnixMillis) -> Result<ParsedWebhook, WebhookError> {
    // One pass: a syntax error means "not JSON", a data error "not the envelope".
    let envelope: Envelope = serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => WebhookError::NotEnvelope(e.to_string()),
        _ => WebhookError::NotJson(e.to_string()),
    })?;
    let mut changes = Vec::new();
    for entry in envelope.entry {
        let waba_id = entry.id.as_ref().map(|id| match id {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        let entry_time = entry.time.and_then(seconds_in_range).unwrap_or(received_at);
        for change in entry.changes {
            changes.push(parse_change(change, waba_id.clone(), entry_time));
        }
    }
    Ok(ParsedWebhook {
        object: envelope.object,
        changes,
    })
}

fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut v = value;
    for key in path {
        v = v.get(key)?;
    }
    v.as_str()
}

/// Unix seconds as Meta sends them (a string, sometimes a number) to milliseconds; a time
/// before 1970 or after 9999 is no time at all (the receipt time stands in), not an overflow.
fn seconds_to_ms(value: Option<&Value>) -> Option<UnixMillis> {
    let seconds = match value? {
        Value::String(s) => s.trim().parse::<i64>().ok()?,
        Value::Number(n) => n.as_i64()?,
        _ => return None,
    };
    seconds_in_range(seconds)
}

fn seconds_in_range(seconds: i64) -> Option<UnixMillis> {
    // 9999-12-31T23:59:59Z.
    (0..=253_402_300_799)
        .contains(&seconds)
        .then(|| seconds * 1000)
}

fn seconds_text(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

fn parse_change(change: Change, waba_id: Option<String>, entry_time: UnixMillis) -> ParsedChange {
    let number = str_at(&change.value, &["metadata", "phone_number_id"]).map(PhoneNumberId::from);
    let mut events = Vec::new();
    let value = &change.value;
    let account = |field: &str, raw: &Value, at_ms: UnixMillis| {
        InboundEvent::Account(AccountEvent {
            number: number.clone(),
            field: field.to_owned(),
            at_ms,
            raw: raw.to_string(),
        })
    };

    if change.field != "messages" {
        let at_ms = seconds_to_ms(value.get("timestamp")).unwrap_or(entry_time);
        events.push(account(&change.field, value, at_ms));
        if change.field == "user_preferences" {
            events.extend(preferences(value, entry_time));
        }
        return ParsedChange {
            waba_id,
            field: change.field,
            number,
            events,
        };
    }

    let mut understood = false;
    for contact in value
        .get("contacts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let wa_id = str_at(contact, &["wa_id"]).or_else(|| str_at(contact, &["user_id"]));
        if let Some(wa_id) = wa_id {
            events.push(InboundEvent::Contact(ContactUpdate {
                wa_id: WaId::from(wa_id),
                name: str_at(contact, &["profile", "name"]).map(str::to_owned),
                user_id: str_at(contact, &["user_id"]).map(str::to_owned),
                username: str_at(contact, &["profile", "username"])
                    .or_else(|| str_at(contact, &["username"]))
                    .map(str::to_owned),
            }));
        }
    }
    for message in value
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        understood = true;
        match parse_message(message, number.as_ref()) {
            Some(m) => events.push(InboundEvent::Message(m)),
            None => events.push(account(
                "messages.unrecognized_message",
                message,
                entry_time,
            )),
        }
    }
    for status in value
        .get("statuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        understood = true;
        match parse_status(status, number.as_ref()) {
            Some(s) => {
                // 131050: the customer stopped marketing messages from this business.
                if s.error_codes.contains(&131050) && !s.recipient.as_str().is_empty() {
                    events.push(InboundEvent::Consent(ConsentChange {
                        customer: s.recipient.as_str().to_owned(),
                        evidence: ConsentEvidence {
                            marketing: Marketing::OptedOut,
                            source: ConsentSource::SendFailure,
                            at: s.at_ms,
                            text:
                                "131050: the customer stopped marketing messages from this business"
                                    .to_owned(),
                            by: None,
                        },
                    }));
                }
                events.push(InboundEvent::Status(s));
            }
            None => events.push(account("messages.unrecognized_status", status, entry_time)),
        }
    }
    if value.get("errors").is_some() {
        understood = true;
        events.push(account("messages.errors", value, entry_time));
    }
    if !understood {
        // A `messages` change with none of the documented arrays: keep it whole.
        events.push(account("messages", value, entry_time));
    }
    ParsedChange {
        waba_id,
        field: change.field,
        number,
        events,
    }
}

/// Meta's `user_preferences`: a customer stopped or resumed marketing messages.
fn preferences(value: &Value, entry_time: UnixMillis) -> Vec<InboundEvent> {
    value
        .get("user_preferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|p| str_at(p, &["category"]) == Some("marketing_messages"))
        .filter_map(|p| {
            let customer = str_at(p, &["wa_id"]).or_else(|| str_at(p, &["user_id"]))?;
            let marketing = match str_at(p, &["value"])? {
                "stop" => Marketing::OptedOut,
                "resume" => Marketing::OptedIn,
                _ => return None,
            };
            Some(InboundEvent::Consent(ConsentChange {
                customer: customer.to_owned(),
                evidence: ConsentEvidence {
                    marketing,
                    source: ConsentSource::Webhook,
                    at: seconds_to_ms(p.get("timestamp")).unwrap_or(entry_time),
                    text: str_at(p, &["detail"]).unwrap_or_default().to_owned(),
                    by: None,
                },
            }))
        })
        .collect()
}

fn parse_message(message: &Value, number: Option<&PhoneNumberId>) -> Option<InboundMessage> {
    let number = number?.clone();
    let wamid = Wamid::from(str_at(message, &["id"])?);
    // Users with a username may arrive without a phone number: fall back to their BSUID.
    let from =
        WaId::from(str_at(message, &["from"]).or_else(|| str_at(message, &["from_user_id"]))?);
    let kind = str_at(message, &["type"]).unwrap_or("unknown").to_owned();
    let sent_at = seconds_text(message.get("timestamp"));
    let at_ms = seconds_to_ms(message.get("timestamp"))?;
    Some(InboundMessage {
        key: inbound_message_key(&wamid, &from, &kind, &sent_at),
        text: message_text(&kind, message),
        wamid,
        number,
        customer: from,
        kind,
        at_ms,
        raw: message.to_string(),
    })
}

/// The human-readable text of a message: its body, caption, or what the customer tapped.
pub fn message_text(kind: &str, message: &Value) -> Option<String> {
    let text = match kind {
        "text" => str_at(message, &["text", "body"]),
        "image" | "video" | "document" | "audio" | "sticker" => str_at(message, &[kind, "caption"]),
        "button" => str_at(message, &["button", "text"]),
        "interactive" => str_at(message, &["interactive", "button_reply", "title"])
            .or_else(|| str_at(message, &["interactive", "list_reply", "title"]))
            .or_else(|| str_at(message, &["interactive", "nfm_reply", "body"])),
        "reaction" => str_at(message, &["reaction", "emoji"]),
        "order" => str_at(message, &["order", "text"]),
        "system" => str_at(message, &["system", "body"]),
        "edit" => str_at(message, &["edit", "message", "text", "body"]),
        _ => None,
    };
    text.filter(|t| !t.is_empty()).map(str::to_owned)
}

fn parse_status(status: &Value, number: Option<&PhoneNumberId>) -> Option<StatusUpdate> {
    let number = number?.clone();
    let state = MessageStatus::parse(str_at(status, &["status"])?)?;
    if state == MessageStatus::Received || state == MessageStatus::Accepted {
        return None;
    }
    let recipient = str_at(status, &["recipient_id"])
        .or_else(|| str_at(status, &["recipient_user_id"]))
        .unwrap_or_default();
    Some(StatusUpdate {
        wamid: Wamid::from(str_at(status, &["id"])?),
        number,
        recipient: WaId::from(recipient),
        status: state,
        at_ms: seconds_to_ms(status.get("timestamp"))?,
        error_codes: status
            .get("errors")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|e| e.get("code").and_then(Value::as_i64))
            .collect(),
        callback: str_at(status, &["biz_opaque_callback_data"]).map(str::to_owned),
        raw: status.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `webhook` fuzz target (fuzz/regressions/webhook/): a timestamp whose
    /// milliseconds do not fit an `i64` panicked on the multiplication.
    #[test]
    fn absurd_timestamps_fall_back_to_the_receipt_time() {
        let body = |ts: &str| {
            format!(
                r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","time":{ts},
                "changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp",
                "metadata":{{"display_phone_number":"1","phone_number_id":"2"}},
                "messages":[{{"from":"79161234567","id":"wamid.1","timestamp":"{ts}",
                "type":"text","text":{{"body":"hi"}}}}]}}}}]}}]}}"#
            )
        };
        for ts in [
            "9223372036854775807",
            "-9223372036854775808",
            "253402300800",
        ] {
            let parsed = parse(body(ts).as_bytes(), 42).unwrap();
            let text = format!("{parsed:?}");
            assert!(text.contains("at_ms: 42"), "{ts}: {text}");
        }
        let parsed = parse(body("1700000000").as_bytes(), 42).unwrap();
        assert!(format!("{parsed:?}").contains("at_ms: 1700000000000"));
    }

    #[test]
    fn refuses_non_json_and_non_envelopes_only() {
        assert!(matches!(
            parse(b"{not json", 0),
            Err(WebhookError::NotJson(_))
        ));
        assert!(matches!(
            parse(b"[1,2]", 0),
            Err(WebhookError::NotEnvelope(_))
        ));
        assert!(matches!(
            parse(br#"{"entry":[{"changes":[{"value":{}}]}]}"#, 0),
            Err(WebhookError::NotEnvelope(_))
        ));
        let empty = parse(br#"{"object":"whatsapp_business_account","entry":[]}"#, 0).unwrap();
        assert!(empty.changes.is_empty());
    }

    #[test]
    fn unknown_types_fields_and_statuses_are_kept_not_rejected() {
        let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[
          {"field":"messages","value":{"metadata":{"phone_number_id":"9"},
            "messages":[{"from":"1","id":"wamid.a","timestamp":"10","type":"hologram","hologram":{"x":1}}],
            "statuses":[{"id":"wamid.b","status":"teleported","timestamp":"11","recipient_id":"1"}]}},
          {"field":"brand_new_field","value":{"anything":true}}]}]}"#;
        let parsed = parse(body, 5).unwrap();
        let events = &parsed.changes[0].events;
        match &events[0] {
            InboundEvent::Message(m) => {
                assert_eq!(m.kind, "hologram");
                assert_eq!(m.at_ms, 10_000);
                assert!(m.raw.contains(r#""hologram":{"x":1}"#));
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(&events[1], InboundEvent::Account(a) if a.field == "messages.unrecognized_status")
        );
        assert!(
            matches!(&parsed.changes[1].events[0], InboundEvent::Account(a) if a.field == "brand_new_field" && a.at_ms == 5)
        );
    }
}
