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

/// What a purge does to one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Nothing is due.
    Keep,
    /// Something is due, but a hold keeps it.
    Held,
    /// Remove it whole, or strip its text (only when it still has words), and delete its file
    /// (its media id) if that is due.
    Purge {
        whole: bool,
        strip: bool,
        file: Option<String>,
    },
}

impl PurgeCut {
    /// The fate of a message sent at `at_ms` of `kind` with `raw` JSON (`has_text`: a body or
    /// caption is stored), counted by both backends alike.
    pub fn fate(&self, at_ms: UnixMillis, kind: &str, has_text: bool, raw: &str) -> Fate {
        let before = |limit: Option<UnixMillis>| limit.is_some_and(|l| at_ms < l);
        let whole = before(self.rows_before);
        let text = before(self.text_before) && (has_text || !is_skeleton(raw));
        let file = before(self.media_before)
            .then(|| media_id(kind, raw))
            .flatten();
        if !whole && !text && file.is_none() {
            Fate::Keep
        } else if self.is_held(at_ms) {
            Fate::Held
        } else {
            Fate::Purge {
                whole,
                strip: text && !whole,
                file,
            }
        }
    }

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
    fn a_message_s_fate_follows_the_cut_and_the_hold() {
        let cut = PurgeCut {
            text_before: Some(50),
            media_before: Some(40),
            rows_before: Some(30),
            held: vec![(10, 20)],
        };
        let image = r#"{"type":"image","image":{"id":"m1"}}"#;
        assert_eq!(cut.fate(60, "text", true, "{}"), Fate::Keep);
        assert_eq!(cut.fate(15, "text", true, "{}"), Fate::Held);
        let purge = |whole, strip, file: Option<&str>| Fate::Purge {
            whole,
            strip,
            file: file.map(str::to_owned),
        };
        assert_eq!(
            cut.fate(25, "image", false, image),
            purge(true, false, Some("m1"))
        );
        assert_eq!(
            cut.fate(35, "image", false, image),
            purge(false, true, Some("m1"))
        );
        assert_eq!(cut.fate(45, "text", true, "{}"), purge(false, true, None));
        let stripped = skeleton("image", image);
        assert_eq!(
            cut.fate(35, "image", false, &stripped),
            purge(false, false, Some("m1")),
            "only the file is due once the text is gone"
        );
        assert_eq!(
            cut.fate(45, "text", false, &skeleton("text", "{}")),
            Fate::Keep
        );
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
