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
}
