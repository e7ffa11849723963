//! What a stored message carries besides its text, read back from WhatsApp's own JSON: the
//! quoted message, the message a reaction is for, and the media. One reader serves both
//! directions: an inbound message object (`context.id`, `image.mime_type`) and an outbound
//! request body (`context.message_id`).

use serde_json::Value;
use switchboard_shared::api::{MediaRef, MessageParts};

/// The message types that carry a media object under their own name.
const MEDIA_KINDS: [&str; 5] = ["image", "video", "audio", "document", "sticker"];

/// Reads the parts of a stored message's raw JSON. Anything missing or malformed is simply
/// absent: the raw JSON is what Meta sent, and history must show it whatever its shape.
pub fn message_parts(raw: &str) -> MessageParts {
    // Most messages are plain text: skip parsing those (this runs for every published message).
    const MARKERS: [&str; 7] = [
        "\"context\"",
        "\"reaction\"",
        "\"image\"",
        "\"video\"",
        "\"audio\"",
        "\"document\"",
        "\"sticker\"",
    ];
    if !MARKERS.iter().any(|m| raw.contains(m)) {
        return MessageParts::default();
    }
    let Ok(v) = serde_json::from_str::<Value>(raw) else {
        return MessageParts::default();
    };
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    let reply_to = v
        .get("context")
        .and_then(|c| text(c, "id").or_else(|| text(c, "message_id")));
    let reaction_to = v.get("reaction").and_then(|r| text(r, "message_id"));
    let media = v
        .get("type")
        .and_then(Value::as_str)
        .filter(|kind| MEDIA_KINDS.contains(kind))
        .and_then(|kind| v.get(kind))
        .and_then(|m| {
            Some(Box::new(MediaRef {
                copy: None,
                id: text(m, "id")?,
                mime_type: text(m, "mime_type"),
                filename: text(m, "filename"),
            }))
        });
    MessageParts {
        // A reaction's context (if any) is the message it reacts to, not a quote.
        reply_to: reply_to.filter(|_| reaction_to.is_none()),
        reaction_to,
        media,
    }
}

/// The kind of WhatsApp message a file of this MIME type is sent as, and the largest file of
/// that kind WhatsApp takes (Meta's media reference: images 5 MB, audio and video 16 MB,
/// documents 100 MB, stickers 500 KB).
pub fn media_kind(mime_type: &str) -> Option<(&'static str, u64)> {
    const MB: u64 = 1024 * 1024;
    let kind = match mime_type {
        "image/jpeg" | "image/png" => ("image", 5 * MB),
        "image/webp" => ("sticker", 500 * 1024),
        "video/mp4" | "video/3gpp" => ("video", 16 * MB),
        "audio/aac" | "audio/amr" | "audio/mpeg" | "audio/mp4" | "audio/ogg" => ("audio", 16 * MB),
        "text/plain"
        | "application/pdf"
        | "application/msword"
        | "application/vnd.ms-excel"
        | "application/vnd.ms-powerpoint"
        | "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        | "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        | "application/vnd.openxmlformats-officedocument.presentationml.presentation" => {
            ("document", 100 * MB)
        }
        _ => return None,
    };
    Some(kind)
}

/// Why WhatsApp would refuse a file, found before it is sent or kept.
#[derive(Debug, PartialEq, Eq)]
pub enum FileProblem {
    /// Not a type WhatsApp takes (the declared type).
    Unsupported(String),
    Empty,
    TooLarge {
        bytes: u64,
        kind: &'static str,
        limit: u64,
    },
    /// The first bytes are not what the declared type says.
    NotThatType(String),
}

/// Checks a file against WhatsApp's rules for its declared type (lower-case, no parameters):
/// the kind of message it is sent as, or why it would be refused.
pub fn check_file(mime_type: &str, bytes: &[u8]) -> Result<&'static str, FileProblem> {
    let Some((kind, limit)) = media_kind(mime_type) else {
        return Err(FileProblem::Unsupported(mime_type.to_owned()));
    };
    if bytes.is_empty() {
        return Err(FileProblem::Empty);
    }
    if bytes.len() as u64 > limit {
        return Err(FileProblem::TooLarge {
            bytes: bytes.len() as u64,
            kind,
            limit,
        });
    }
    if !looks_like(mime_type, bytes) {
        return Err(FileProblem::NotThatType(mime_type.to_owned()));
    }
    Ok(kind)
}

/// Whether the first bytes of a file are what its declared type says (for the types whose
/// signature is fixed). A mismatch would only fail later, at WhatsApp, with the agent gone.
fn looks_like(mime_type: &str, bytes: &[u8]) -> bool {
    match mime_type {
        "image/jpeg" => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
        "image/png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/webp" => bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP",
        "application/pdf" => bytes.starts_with(b"%PDF-"),
        "video/mp4" | "video/3gpp" | "audio/mp4" => bytes.len() >= 8 && &bytes[4..8] == b"ftyp",
        "audio/ogg" => bytes.starts_with(b"OggS"),
        _ => true,
    }
}

/// A file's name as a person gave it, made safe to keep and show: the last path segment,
/// without control characters, at most 240 characters; `None` when nothing is left.
pub fn clean_filename(raw: &str) -> Option<String> {
    let name: String = raw
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(240)
        .collect();
    (!name.trim().is_empty()).then_some(name)
}

/// A sentence for a message that is not plain text, read from its raw JSON, for transcripts
/// and any reader without the app: a location with its coordinates and a map link, a contact
/// card's names and numbers, the button or list row a customer chose, an order's items, an ad
/// the customer came from, a reaction, and what WhatsApp said of a type it does not support.
/// `None` for a plain text (its text says it all) or a shape not recognised.
pub fn describe(kind: &str, raw: &str) -> Option<String> {
    let v: Value = serde_json::from_str(raw).ok()?;
    let s = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).unwrap_or("").to_owned();
    let joined = |parts: Vec<String>| {
        parts
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let said = match kind {
        "location" => {
            let l = v.get("location")?;
            let (lat, lon) = (l.get("latitude")?.as_f64()?, l.get("longitude")?.as_f64()?);
            let place = joined(vec![s(l, "name"), s(l, "address")]);
            format!(
                "Location: {}{lat:.6}, {lon:.6} https://www.openstreetmap.org/?mlat={lat:.6}&mlon={lon:.6}#map=17/{lat:.6}/{lon:.6}",
                if place.is_empty() { String::new() } else { format!("{place} ") }
            )
        }
        "contacts" => {
            let cards = v.get("contacts")?.as_array()?;
            let each: Vec<String> = cards
                .iter()
                .map(|c| {
                    let name = c
                        .get("name")
                        .map(|n| s(n, "formatted_name"))
                        .unwrap_or_default();
                    let company = c.get("org").map(|o| s(o, "company")).unwrap_or_default();
                    let phones: Vec<String> = c
                        .get("phones")
                        .and_then(Value::as_array)
                        .map(|ps| ps.iter().map(|p| s(p, "phone")).collect())
                        .unwrap_or_default();
                    joined(vec![name, company, phones.join(" ")])
                })
                .collect();
            format!("Contact card: {}", each.join("; "))
        }
        "interactive" => {
            let i = v.get("interactive")?;
            let chosen = i.get("button_reply").or_else(|| i.get("list_reply"))?;
            format!(
                "Chose: {}",
                joined(vec![s(chosen, "title"), s(chosen, "description")])
            )
        }
        "button" => format!("Tapped: {}", s(v.get("button")?, "text")),
        "order" => {
            let items = v.get("order")?.get("product_items")?.as_array()?;
            let each: Vec<String> = items
                .iter()
                .map(|p| {
                    let n = |k: &str| p.get(k).map(|x| x.to_string()).unwrap_or_default();
                    format!(
                        "{} × {} at {} {}",
                        n("quantity"),
                        s(p, "product_retailer_id"),
                        n("item_price"),
                        s(p, "currency")
                    )
                })
                .collect();
            format!("Order: {}", each.join(", "))
        }
        "reaction" => match s(v.get("reaction")?, "emoji") {
            e if e.is_empty() => "Took a reaction back".to_owned(),
            e => format!("Reacted {e}"),
        },
        "unsupported" => {
            let e = v.get("errors")?.as_array()?.first()?;
            let detail = e
                .get("error_data")
                .map(|d| s(d, "details"))
                .unwrap_or_default();
            format!(
                "Not supported by WhatsApp: {} ({})",
                joined(vec![s(e, "title"), detail]),
                e.get("code").map(|c| c.to_string()).unwrap_or_default()
            )
        }
        _ => {
            let r = v.get("referral")?;
            format!(
                "From an ad: {}",
                joined(vec![s(r, "headline"), s(r, "body"), s(r, "source_url")])
            )
        }
    };
    Some(said)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture_message(name: &str) -> String {
        let path = format!(
            "{}/../../shared/fixtures/whatsapp/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let body: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        body["entry"][0]["changes"][0]["value"]["messages"][0].to_string()
    }

    #[test]
    fn inbound_media_and_quotes_come_from_meta_s_own_payloads() {
        let image = message_parts(&fixture_message("inbound_image.json"));
        let media = image.media.expect("an image carries media");
        assert_eq!(media.mime_type.as_deref(), Some("image/jpeg"));
        assert!(!media.id.is_empty());
        let doc = message_parts(&fixture_message("inbound_document.json"));
        assert!(doc.media.unwrap().filename.is_some());
        let quoted = message_parts(&fixture_message(
            "inbound_text_context_product_inquiry.json",
        ));
        assert!(quoted.reply_to.unwrap().starts_with("wamid."));
        assert!(quoted.reaction_to.is_none());
        let text = message_parts(&fixture_message("inbound_text.json"));
        assert_eq!(text, MessageParts::default());
    }

    #[test]
    fn reactions_name_their_message_and_removal_keeps_it() {
        let r = message_parts(&fixture_message("inbound_reaction.json"));
        assert!(r.reaction_to.unwrap().starts_with("wamid."));
        assert!(r.reply_to.is_none());
        let removed = message_parts(&fixture_message(
            "inbound_reaction_removed_empty_emoji.json",
        ));
        assert!(removed.reaction_to.is_some());
    }

    #[test]
    fn outbound_requests_read_the_same_way() {
        let raw = r#"{"messaging_product":"whatsapp","to":"1","type":"document",
            "context":{"message_id":"wamid.A"},
            "document":{"id":"42","filename":"invoice.pdf","caption":"Here"}}"#;
        let p = message_parts(raw);
        assert_eq!(p.reply_to.as_deref(), Some("wamid.A"));
        let m = p.media.unwrap();
        assert_eq!(
            (m.id.as_str(), m.filename.as_deref()),
            ("42", Some("invoice.pdf"))
        );
        assert_eq!(message_parts("not json"), MessageParts::default());
    }

    #[test]
    fn files_map_to_whatsapp_kinds_and_limits() {
        assert_eq!(media_kind("image/png"), Some(("image", 5 * 1024 * 1024)));
        assert_eq!(media_kind("application/pdf").unwrap().0, "document");
        assert_eq!(media_kind("image/gif"), None);
        assert_eq!(media_kind("application/x-msdownload"), None);
    }

    #[test]
    fn a_file_is_checked_by_its_declared_type_its_size_and_its_first_bytes() {
        let png = b"\x89PNG\r\n\x1a\n rest";
        assert_eq!(check_file("image/png", png), Ok("image"));
        assert_eq!(check_file("text/plain", b"hello"), Ok("document"));
        assert_eq!(
            check_file("image/gif", b"GIF89a"),
            Err(FileProblem::Unsupported("image/gif".into()))
        );
        assert_eq!(check_file("image/png", b""), Err(FileProblem::Empty));
        assert_eq!(
            check_file("image/jpeg", png),
            Err(FileProblem::NotThatType("image/jpeg".into()))
        );
        let big = vec![b'R'; 500 * 1024 + 1];
        assert_eq!(
            check_file("image/webp", &big),
            Err(FileProblem::TooLarge {
                bytes: big.len() as u64,
                kind: "sticker",
                limit: 500 * 1024
            })
        );
    }

    #[test]
    fn a_filename_keeps_its_last_segment_without_control_characters() {
        assert_eq!(
            clean_filename("C:\\Users\\a/b/price list.pdf").as_deref(),
            Some("price list.pdf")
        );
        assert_eq!(clean_filename("a\u{7}b.txt").as_deref(), Some("ab.txt"));
        assert_eq!(clean_filename("dir/"), None);
        assert_eq!(clean_filename(" \t"), None);
        assert_eq!(clean_filename(&"x".repeat(300)).map(|n| n.len()), Some(240));
    }

    fn fixture(name: &str) -> (String, String) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/fixtures/whatsapp")
            .join(format!("{name}.json"));
        let v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let m = &v["entry"][0]["changes"][0]["value"]["messages"][0];
        (m["type"].as_str().unwrap().to_owned(), m.to_string())
    }

    #[test]
    fn every_kind_of_message_meta_publishes_reads_as_a_sentence() {
        let said = |name: &str| {
            let (kind, raw) = fixture(name);
            describe(&kind, &raw).unwrap_or_default()
        };
        assert_eq!(
            said("inbound_location"),
            "Location: Philz Coffee, 101 Forest Ave, Palo Alto, CA 94301 37.442215, -122.161659 \
             https://www.openstreetmap.org/?mlat=37.442215&mlon=-122.161659#map=17/37.442215/-122.161659"
        );
        assert_eq!(
            said("inbound_contacts"),
            "Contact card: Lucía Gómez, Google, +1 (983) 555-2319"
        );
        assert_eq!(said("inbound_interactive_button_reply"), "Chose: Cancel");
        assert_eq!(
            said("inbound_interactive_list_reply"),
            "Chose: Priority Mail Express, Next Day to 2 Days"
        );
        assert_eq!(
            said("inbound_button_template_quick_reply"),
            "Tapped: Unsubscribe"
        );
        assert_eq!(
            said("inbound_order"),
            "Order: 2 × di9ozbzfi4 at 30 USD, 1 × nqryix03ez at 25 USD"
        );
        assert_eq!(
            said("inbound_unsupported_with_errors"),
            "Not supported by WhatsApp: Message type unknown, Message type is currently not \
             supported. (131051)"
        );
        assert!(said("inbound_text_ctwa_ad_referral")
            .starts_with("From an ad: Chat with us, Summer Succulents are here!, https://fb.me/"));
        assert_eq!(describe("text", r#"{"text":{"body":"hi"}}"#), None);
        assert_eq!(describe("location", "not json"), None);
    }
}
