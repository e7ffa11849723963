//! What a retention purge asks of the store for one conversation, and what it found.

use super::UnixMillis;

/// The times before which a conversation's messages lose what, and the date ranges a legal
/// hold keeps whatever the times say. `None`: kept forever.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PurgeCut {
    /// Messages before it lose their text (and their search postings).
    pub text_before: Option<UnixMillis>,
    /// Messages before it have their files listed for deletion.
    pub media_before: Option<UnixMillis>,
    /// Messages before it are removed whole (with their statuses).
    pub rows_before: Option<UnixMillis>,
    /// `[from, to)` ranges under a legal hold: nothing in them is touched.
    pub held: Vec<(UnixMillis, UnixMillis)>,
}

impl PurgeCut {
    /// Whether a message at `at_ms` is under a hold.
    pub fn is_held(&self, at_ms: UnixMillis) -> bool {
        self.held
            .iter()
            .any(|(from, to)| (*from..*to).contains(&at_ms))
    }

    /// The latest of the times: nothing at or after it is due.
    pub fn horizon(&self) -> Option<UnixMillis> {
        [self.text_before, self.media_before, self.rows_before]
            .into_iter()
            .flatten()
            .max()
    }
}

/// What purging one conversation removed (or, counted only, would remove).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PurgeCounts {
    /// Keys of the messages removed whole, oldest first.
    pub removed: Vec<String>,
    /// Keys of the messages whose text was removed, oldest first.
    pub cleared: Vec<String>,
    /// Media ids of the files due (their messages are older than `media_before`), oldest first.
    pub media: Vec<String>,
    /// Messages that were due but are in a held range.
    pub held: u64,
}

/// A message's raw JSON once its text is purged: only what still points at its file (the type
/// and the media object's id, type and name), so the file stays reachable until its own period
/// ends. Captions, names and every other word are gone.
pub fn skeleton(kind: &str, raw: &str) -> String {
    let media = serde_json::from_str::<serde_json::Value>(raw)
        .ok()
        .and_then(|v| v.get(kind).cloned())
        .filter(|m| m.get("id").is_some())
        .map(|m| {
            let mut kept = serde_json::Map::new();
            for field in ["id", "mime_type", "sha256", "filename"] {
                if let Some(v) = m.get(field) {
                    kept.insert(field.to_owned(), v.clone());
                }
            }
            serde_json::Value::Object(kept)
        });
    // Written by hand so that `"purged":true` always leads (a map would sort the keys).
    let kind_json = serde_json::Value::String(kind.to_owned()).to_string();
    match media {
        Some(m) => format!(r#"{{"purged":true,"type":{kind_json},{kind_json}:{m}}}"#),
        None => format!(r#"{{"purged":true,"type":{kind_json}}}"#),
    }
}

/// The message types whose object carries a file.
pub const MEDIA_KINDS: [&str; 5] = ["image", "video", "audio", "document", "sticker"];

/// The media id a message of `kind` carries in its raw JSON, if any.
pub fn media_id(kind: &str, raw: &str) -> Option<String> {
    if !MEDIA_KINDS.contains(&kind) {
        return None;
    }
    serde_json::from_str::<serde_json::Value>(raw)
        .ok()?
        .get(kind)?
        .get("id")?
        .as_str()
        .map(str::to_owned)
}

/// Whether a raw message is already a [`skeleton`].
pub fn is_skeleton(raw: &str) -> bool {
    raw.starts_with("{\"purged\":true")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skeleton_keeps_the_file_and_drops_every_word() {
        let raw = r#"{"type":"document","from":"79161234567","document":{"id":"m1","mime_type":"application/pdf","filename":"contract.pdf","caption":"my passport"}}"#;
        let s = skeleton("document", raw);
        assert!(is_skeleton(&s));
        assert!(!s.contains("passport") && !s.contains("79161234567"));
        assert!(s.contains("\"m1\"") && s.contains("contract.pdf"));
        assert_eq!(media_id("document", &s).as_deref(), Some("m1"));
        let text = skeleton("text", r#"{"type":"text","text":{"body":"secret"}}"#);
        assert_eq!(text, r#"{"purged":true,"type":"text"}"#);
    }

    #[test]
    fn holds_and_the_horizon() {
        let cut = PurgeCut {
            text_before: Some(50),
            media_before: Some(80),
            rows_before: None,
            held: vec![(10, 20)],
        };
        assert!(cut.is_held(10) && cut.is_held(19) && !cut.is_held(20));
        assert_eq!(cut.horizon(), Some(80));
        assert_eq!(PurgeCut::default().horizon(), None);
    }
}
