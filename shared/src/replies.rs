//! Saved replies on the wire: an agent's own, a team's, or the whole workspace's, each with a
//! `/shortcut` and a text that may name variables (`{{contact.name}}`, `{{contact.<attribute>}}`,
//! `{{agent.name}}`), which the composer fills in before the agent sends. The rules for a
//! shortcut and the filling are here so that the server and the app apply the same ones.

use serde::{Deserialize, Serialize};

use crate::ids::{TeamId, UserId};

/// Who a saved reply is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReplyScope {
    /// Its author's only.
    Personal,
    /// The members of one team (`team`).
    Team,
    /// Everyone in the workspace who replies.
    Workspace,
}

/// A saved reply as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SavedReply {
    pub id: String,
    /// Typed after `/` in the composer (`/hours`): lower-case letters, digits, `-` and `_`.
    pub shortcut: String,
    pub text: String,
    pub scope: ReplyScope,
    /// The team, for a team's reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<TeamId>,
    /// The author (the owner of a personal reply).
    pub owner: UserId,
    /// The file the reply sends, with its text as the caption where WhatsApp shows one
    /// (`PUT saved-replies/{id}/attachment`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<ReplyAttachment>,
    pub version: u64,
    pub updated_at: i64,
}

/// A saved reply's file, as the API describes it (`GET saved-replies/{id}/attachment` has the
/// bytes; `POST conversations/{id}/media?saved_reply={id}` sends them to WhatsApp).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ReplyAttachment {
    /// The kind of message it is sent as: `image`, `video`, `audio`, `document` or `sticker`.
    pub kind: String,
    pub mime_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    pub bytes: u64,
}

/// `POST saved-replies` and `PUT saved-replies/{id}`: a reply whole.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SavedReplyInput {
    pub shortcut: String,
    pub text: String,
    /// `personal` when left out.
    #[serde(default)]
    pub scope: Option<ReplyScope>,
    /// Required for a team's reply.
    #[serde(default)]
    pub team: Option<TeamId>,
    /// On a change: the version read; a change made since is refused (409).
    #[serde(default)]
    pub version: Option<u64>,
}

/// The longest shortcut and text.
pub const MAX_SHORTCUT: usize = 32;
pub const MAX_TEXT: usize = 4096;

/// Why a shortcut is refused, or `None`.
pub fn shortcut_problem(shortcut: &str) -> Option<&'static str> {
    if shortcut.is_empty() {
        return Some("is empty");
    }
    if shortcut.chars().count() > MAX_SHORTCUT {
        return Some("is longer than 32 characters");
    }
    let ok = shortcut
        .chars()
        .all(|c| (c.is_alphanumeric() && !c.is_uppercase()) || c == '-' || c == '_');
    if !ok {
        return Some("may hold lower-case letters, digits, `-` and `_` only");
    }
    None
}

/// The replies whose shortcut starts with what follows the `/` the draft begins with (`/he`
/// finds `/hello` and `/help`); none when the draft is not a lone `/word`.
pub fn matching<'a>(draft: &str, replies: &'a [SavedReply]) -> Vec<&'a SavedReply> {
    let Some(typed) = draft.strip_prefix('/') else {
        return Vec::new();
    };
    if typed.chars().any(char::is_whitespace) {
        return Vec::new();
    }
    let typed = typed.to_lowercase();
    let mut found: Vec<&SavedReply> = replies
        .iter()
        .filter(|r| r.shortcut.starts_with(&typed))
        .collect();
    // The exact shortcut first, then personal before team before workspace, then by name.
    found.sort_by_key(|r| {
        (
            r.shortcut != typed,
            match r.scope {
                ReplyScope::Personal => 0,
                ReplyScope::Team => 1,
                ReplyScope::Workspace => 2,
            },
            r.shortcut.clone(),
        )
    });
    found
}

/// The text with each `{{name}}` replaced by its value in `vars`; a variable with no value
/// becomes empty (the agent sees the text before sending it, never a raw `{{…}}`).
pub fn fill(text: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let name = after[..end].trim();
                if let Some((_, value)) = vars.iter().find(|(k, _)| *k == name) {
                    out.push_str(value);
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The variables a text names (`contact.city` for `{{ contact.city }}`).
pub fn variables(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        found.push(after[..end].trim());
        rest = &after[end + 2..];
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(shortcut: &str, scope: ReplyScope) -> SavedReply {
        SavedReply {
            id: format!("sr_{shortcut}"),
            shortcut: shortcut.into(),
            text: String::new(),
            scope,
            team: None,
            owner: UserId::from("u_1".to_owned()),
            attachment: None,
            version: 1,
            updated_at: 0,
        }
    }

    #[test]
    fn shortcuts_follow_the_rules() {
        assert_eq!(shortcut_problem("hours"), None);
        assert_eq!(shortcut_problem("часы-2"), None);
        assert!(shortcut_problem("").is_some());
        assert!(shortcut_problem("Hours").is_some());
        assert!(shortcut_problem("two words").is_some());
        assert!(shortcut_problem(&"a".repeat(33)).is_some());
    }

    #[test]
    fn a_slash_word_finds_replies_exact_and_personal_first() {
        let all = [
            reply("help", ReplyScope::Workspace),
            reply("hello", ReplyScope::Team),
            reply("he", ReplyScope::Workspace),
            reply("hello2", ReplyScope::Personal),
            reply("bye", ReplyScope::Personal),
        ];
        let names = |d: &str| -> Vec<String> {
            matching(d, &all)
                .iter()
                .map(|r| r.shortcut.clone())
                .collect()
        };
        assert_eq!(names("/he"), ["he", "hello2", "hello", "help"]);
        assert_eq!(names("/HEL"), ["hello2", "hello", "help"]);
        assert!(names("he").is_empty());
        assert!(names("/he llo").is_empty());
        assert_eq!(names("/").len(), 5);
    }

    #[test]
    fn variables_are_filled_and_unknown_ones_left_empty() {
        let vars = [("contact.name", "Olga"), ("agent.name", "Sam")];
        assert_eq!(
            fill(
                "Hi {{contact.name}}, {{ agent.name }} here. {{contact.city}}!",
                &vars
            ),
            "Hi Olga, Sam here. !"
        );
        assert_eq!(fill("no vars {{ open", &vars), "no vars {{ open");
        assert_eq!(
            variables("{{contact.name}} in {{ contact.city }}"),
            ["contact.name", "contact.city"]
        );
    }
}
