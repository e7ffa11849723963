//! The satisfaction survey (CSAT): its settings, checked and stored as a versioned document,
//! and the pure decisions the inbox task takes with them: whether a resolved conversation gets
//! a survey, in which language, what the message is, and whether a customer's message answers
//! it (a score from the list, or a digit) or adds the comment.
//!
//! Owns: the settings' rules (WhatsApp's list limits, the windows), the answer's reading.
//! Must not: send, store a conversation or read a clock (the inbox task does, and passes the
//! time in), so each rule is unit-tested here.

use serde_json::Value;
use switchboard_shared::reports::{SurveySettings, SurveyTexts};
use switchboard_shared::{ConversationId, WaId};

use super::documents::{replace_single, DocumentActor, DocumentError};
use crate::auth::{Principal, TenantScope};
use crate::connector::wire::{
    Content, Interactive, InteractiveAction, ListRow, ListSection, TextOnly,
};
use crate::domain::{
    contact::country_of, AutomationItem, InboundMessage, ItemKind, SurveyState, UnixMillis,
};
use crate::store::{Store, StoreError, StoreResult};

/// The settings document's id (one per workspace).
pub const SURVEY_ID: &str = "csat";
/// How long after the score the customer's next text is taken as the comment.
pub const COMMENT_WINDOW_MS: i64 = 30 * 60_000;
/// The most characters of a comment kept.
pub const MAX_COMMENT: usize = 1_000;
/// WhatsApp's customer-service window less a margin for the send's own delay: a survey or a
/// reminder goes only while the customer's last message is this recent (a free-form message
/// outside it would fail with 131047).
pub const SERVICE_WINDOW_MS: i64 = 24 * 3_600_000 - 10 * 60_000;
/// The prefix of the list rows' ids (`csat:1` … `csat:5`).
const ROW_PREFIX: &str = "csat:";

#[derive(Debug, thiserror::Error)]
pub enum SurveyError {
    #[error("`{field}`: {message}")]
    Invalid { field: String, message: String },
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> SurveyError {
    SurveyError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

fn check_length(field: String, text: &str, max: usize) -> Result<(), SurveyError> {
    let n = text.chars().count();
    if text.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if n > max {
        return Err(invalid(
            field,
            format!("at most {max} characters (WhatsApp's limit), not {n}"),
        ));
    }
    Ok(())
}

fn check_texts(language: &str, t: &SurveyTexts) -> Result<(), SurveyError> {
    let field = |name: &str| format!("texts.{language}.{name}");
    check_length(field("question"), &t.question, 1024)?;
    check_length(field("button"), &t.button, 20)?;
    for (i, label) in t.labels.iter().enumerate() {
        check_length(field(&format!("labels.{i}")), label, 24)?;
    }
    check_length(field("thanks"), &t.thanks, 1024)?;
    check_length(field("reminder"), &t.reminder, 1024)?;
    if let Some(prompt) = &t.comment_prompt {
        check_length(field("comment_prompt"), prompt, 1024)?;
    }
    Ok(())
}

/// Every rule the settings must keep, the first broken one named by its field.
pub fn check(s: &SurveySettings) -> Result<(), SurveyError> {
    if s.texts.is_empty() {
        return Err(invalid("texts", "at least one language"));
    }
    if s.texts.len() > 20 {
        return Err(invalid("texts", "at most 20 languages"));
    }
    for (language, texts) in &s.texts {
        let ok = (2..=8).contains(&language.len())
            && language
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_' || c == '-');
        if !ok {
            return Err(invalid(
                "texts",
                format!("`{language}` is not a language code (`en`, `ru`, `pt_br`)"),
            ));
        }
        check_texts(language, texts)?;
    }
    if !s.texts.contains_key(&s.default_language) {
        return Err(invalid(
            "default_language",
            format!("no texts in `{}`", s.default_language),
        ));
    }
    if !(1..=168).contains(&s.window_hours) {
        return Err(invalid("window_hours", "from 1 to 168 hours"));
    }
    if let Some(m) = s.reminder_after_minutes {
        if !(1..=1_380).contains(&m) {
            return Err(invalid(
                "reminder_after_minutes",
                "from 1 to 1,380 minutes (WhatsApp's 24-hour window)",
            ));
        }
        if i64::from(m) * 60_000 >= i64::from(s.window_hours) * 3_600_000 {
            return Err(invalid(
                "reminder_after_minutes",
                "the reminder must come before the response window closes",
            ));
        }
    }
    Ok(())
}

/// The workspace's settings (the defaults, switched off, until saved).
pub async fn read(scope: &TenantScope) -> StoreResult<SurveySettings> {
    match scope.automation_item(ItemKind::Survey, SURVEY_ID).await? {
        Some(item) => decode(&item),
        None => Ok(SurveySettings::defaults()),
    }
}

fn decode(item: &AutomationItem) -> StoreResult<SurveySettings> {
    let mut s: SurveySettings = serde_json::from_str(&item.body)
        .map_err(|e| StoreError::Corrupt(format!("survey settings: {e}")))?;
    s.version = Some(item.version);
    Ok(s)
}

/// A tenant's saved settings, for the inbox task: `None` when never saved. Switched off, they
/// still read the answers to surveys sent before.
pub async fn stored(
    store: &dyn Store,
    tenant: &switchboard_shared::TenantId,
) -> StoreResult<Option<SurveySettings>> {
    store
        .get_item(tenant, ItemKind::Survey, SURVEY_ID)
        .await?
        .map(|item| decode(&item))
        .transpose()
}

/// Replaces the settings whole, audited with what they were and became.
pub async fn replace(
    principal: &Principal,
    scope: &TenantScope,
    mut settings: SurveySettings,
) -> Result<SurveySettings, SurveyError> {
    check(&settings)?;
    let asked = settings.version.take();
    let actor = DocumentActor {
        principal,
        scope,
        action: "survey.replace",
    };
    let version = replace_single(
        &actor,
        ItemKind::Survey,
        ("survey", SURVEY_ID),
        asked,
        &settings,
    )
    .await
    .map_err(|e| match e {
        DocumentError::Conflict(m) | DocumentError::TooMany(m) | DocumentError::Forbidden(m) => {
            SurveyError::Conflict(m)
        }
        DocumentError::Invalid { field, message } => SurveyError::Invalid { field, message },
        DocumentError::NotFound(noun) => SurveyError::Conflict(format!("no such {noun}")),
        DocumentError::Store(e) => SurveyError::Store(e),
    })?;
    settings.version = Some(version);
    Ok(settings)
}

/// The language a customer is surveyed in: their country's, when the survey has texts in it,
/// else the default.
pub fn language(settings: &SurveySettings, customer: &WaId) -> String {
    let spoken = country_of(customer.as_str()).and_then(|c| country_language(&c));
    spoken
        .filter(|l| settings.texts.contains_key(*l))
        .map_or_else(|| settings.default_language.clone(), str::to_owned)
}

/// The main language of a country, for the languages surveys are commonly written in.
fn country_language(country: &str) -> Option<&'static str> {
    const TABLE: &[(&str, &[&str])] = &[
        ("ru", &["RU", "BY", "KZ", "KG"]),
        ("uk", &["UA"]),
        (
            "ar",
            &[
                "SA", "AE", "EG", "JO", "KW", "QA", "BH", "OM", "IQ", "MA", "DZ", "TN", "LB", "SY",
                "YE", "LY", "SD", "PS",
            ],
        ),
        (
            "es",
            &[
                "ES", "MX", "AR", "CO", "CL", "PE", "VE", "EC", "GT", "CU", "BO", "DO", "HN", "PY",
                "SV", "NI", "CR", "PA", "UY",
            ],
        ),
        ("pt", &["BR", "PT", "AO", "MZ"]),
        ("de", &["DE", "AT"]),
        ("fr", &["FR"]),
        ("it", &["IT"]),
        ("tr", &["TR"]),
        ("id", &["ID"]),
        ("hi", &["IN"]),
        (
            "en",
            &["US", "GB", "IE", "AU", "NZ", "CA", "NG", "ZA", "KE", "GH"],
        ),
    ];
    TABLE
        .iter()
        .find(|(_, countries)| countries.contains(&country))
        .map(|(language, _)| *language)
}

fn texts<'a>(settings: &'a SurveySettings, language: &str) -> &'a SurveyTexts {
    settings
        .texts
        .get(language)
        .or_else(|| settings.texts.get(&settings.default_language))
        .or_else(|| settings.texts.values().next())
        .expect("checked settings have texts")
}

/// Whether a survey (or its reminder) can still go: the customer wrote recently enough.
pub fn window_open(last_inbound_at: Option<UnixMillis>, now: UnixMillis) -> bool {
    last_inbound_at.is_some_and(|at| now - at < SERVICE_WINDOW_MS)
}

/// The survey: a list of five scores under the question (or the reminder's text).
pub fn question(settings: &SurveySettings, language: &str, reminder: bool) -> Content {
    let t = texts(settings, language);
    let body = if reminder { &t.reminder } else { &t.question };
    Content::interactive(Interactive {
        kind: "list".into(),
        header: None,
        body: TextOnly { text: body.clone() },
        footer: None,
        action: InteractiveAction {
            buttons: Vec::new(),
            button: Some(t.button.clone()),
            sections: vec![ListSection {
                title: None,
                // Best first, as people read a rating list.
                rows: (1..=5u8)
                    .rev()
                    .map(|score| ListRow {
                        id: format!("{ROW_PREFIX}{score}"),
                        title: t.labels[usize::from(score) - 1].clone(),
                        description: None,
                    })
                    .collect(),
            }],
        },
    })
}

/// What goes after an answer: the comment prompt after a score (when there is one), else
/// the thanks.
pub fn after(settings: &SurveySettings, language: &str, answer: &Answer) -> Content {
    let t = texts(settings, language);
    match (answer, &t.comment_prompt) {
        (Answer::Score(_), Some(prompt)) => Content::text(prompt),
        _ => Content::text(&t.thanks),
    }
}

/// The send key of a survey message: one survey, one reminder, one follow-up per episode.
pub fn send_key(conversation: &ConversationId, opened_at: UnixMillis, what: &str) -> String {
    format!("csat-{what}-{conversation}-{opened_at}")
}

/// What a customer's message does to a survey.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    Score(u8),
    Comment(String),
}

/// Whether `message` answers the survey `state`: a score (a row of the list, or a lone digit
/// 1–5) while the response window is open and none was given, or the comment after the prompt.
/// Anything else is a new message, which reopens the conversation.
pub fn answer(
    state: &SurveyState,
    settings: &SurveySettings,
    message: &InboundMessage,
    now: UnixMillis,
) -> Option<Answer> {
    if state.score.is_none() {
        let window = i64::from(settings.window_hours) * 3_600_000;
        if now - state.sent_at > window {
            return None;
        }
        return score_of(message).map(Answer::Score);
    }
    if state.awaiting_comment && message.kind == "text" {
        let since = state.answered_at.unwrap_or(state.sent_at);
        if now - since > COMMENT_WINDOW_MS {
            return None;
        }
        let text = message.text.as_deref()?.trim();
        if text.is_empty() {
            return None;
        }
        return Some(Answer::Comment(text.chars().take(MAX_COMMENT).collect()));
    }
    None
}

fn score_of(message: &InboundMessage) -> Option<u8> {
    let chosen = serde_json::from_str::<Value>(&message.raw)
        .ok()
        .and_then(|v| {
            v.pointer("/interactive/list_reply/id")
                .or_else(|| v.pointer("/interactive/button_reply/id"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
    let digit = match chosen {
        Some(id) => id.strip_prefix(ROW_PREFIX)?.to_owned(),
        None if message.kind == "text" => message.text.as_deref()?.trim().to_owned(),
        None => return None,
    };
    digit.parse().ok().filter(|s| (1..=5).contains(s))
}

/// The survey with `answer` recorded.
pub fn record(
    state: &SurveyState,
    answer: &Answer,
    at: UnixMillis,
    asks_comment: bool,
) -> SurveyState {
    let mut next = state.clone();
    match answer {
        Answer::Score(score) => {
            next.score = Some(*score);
            next.answered_at = Some(at);
            next.awaiting_comment = asks_comment;
        }
        Answer::Comment(text) => {
            next.comment = Some(text.clone());
            next.commented_at = Some(at);
            next.awaiting_comment = false;
        }
    }
    next
}

/// Whether the customer's message `at` is (or was just taken as) an answer to the survey: what
/// automation leaves alone. The inbox task may have recorded it already, by the message's time.
pub fn is_answer(
    state: &SurveyState,
    settings: &SurveySettings,
    message: &InboundMessage,
    now: UnixMillis,
) -> bool {
    let at = Some(message.at_ms);
    state.answered_at == at
        || state.commented_at == at
        || answer(state, settings, message, now).is_some()
}

/// Whether a customer's message is a choice from a survey's list, whatever became of it.
pub fn is_survey_choice(message: &InboundMessage) -> bool {
    message.kind == "interactive"
        && serde_json::from_str::<Value>(&message.raw)
            .ok()
            .and_then(|v| {
                v.pointer("/interactive/list_reply/id")
                    .and_then(Value::as_str)
                    .map(|id| id.starts_with(ROW_PREFIX))
            })
            .unwrap_or(false)
}

/// Whether `settings` ask for a comment in `language`.
pub fn asks_comment(settings: &SurveySettings, language: &str) -> bool {
    texts(settings, language).comment_prompt.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_shared::{MessageKey, PhoneNumberId, Wamid};

    fn on() -> SurveySettings {
        SurveySettings {
            enabled: true,
            ..SurveySettings::defaults()
        }
    }

    fn message(kind: &str, text: Option<&str>, raw: Value) -> InboundMessage {
        InboundMessage {
            key: MessageKey::new("m".to_owned()),
            wamid: Wamid::from("wamid.x"),
            number: PhoneNumberId::from("1"),
            customer: WaId::from("79161234567"),
            kind: kind.into(),
            text: text.map(str::to_owned),
            at_ms: 0,
            raw: raw.to_string(),
        }
    }

    fn chose(id: &str) -> InboundMessage {
        message(
            "interactive",
            Some("5 – Excellent"),
            serde_json::json!({"type": "interactive",
                "interactive": {"type": "list_reply", "list_reply": {"id": id, "title": "x"}}}),
        )
    }

    fn sent(at: i64) -> SurveyState {
        SurveyState::sent(at, "ru".into())
    }

    #[test]
    fn the_defaults_keep_whatsapps_limits_and_bad_settings_name_their_field() {
        check(&on()).unwrap();
        let field = |s: SurveySettings| match check(&s) {
            Err(SurveyError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        let mut s = on();
        s.texts.get_mut("en").unwrap().labels[2] = "x".repeat(25);
        assert_eq!(field(s), "texts.en.labels.2");
        let mut s = on();
        s.default_language = "de".into();
        assert_eq!(field(s), "default_language");
        let mut s = on();
        s.window_hours = 0;
        assert_eq!(field(s), "window_hours");
        let mut s = on();
        s.reminder_after_minutes = Some(24 * 60);
        assert_eq!(field(s), "reminder_after_minutes");
        let mut s = on();
        s.window_hours = 1;
        s.reminder_after_minutes = Some(90);
        assert_eq!(field(s), "reminder_after_minutes");
        let mut s = on();
        s.texts.get_mut("ru").unwrap().button = " ".into();
        assert_eq!(field(s), "texts.ru.button");
    }

    #[test]
    fn customers_get_their_countrys_language_when_the_survey_has_it() {
        let s = on();
        assert_eq!(language(&s, &WaId::from("79161234567")), "ru");
        assert_eq!(language(&s, &WaId::from("4915100000001")), "en");
        assert_eq!(language(&s, &WaId::from("not-a-number")), "en");
    }

    #[test]
    fn the_survey_is_a_list_of_five_scores_best_first() {
        let c = serde_json::to_value(question(&on(), "ru", false)).unwrap();
        let rows = c["interactive"]["action"]["sections"][0]["rows"]
            .as_array()
            .unwrap();
        assert_eq!(rows.len(), 5);
        assert_eq!(rows[0]["id"], "csat:5");
        assert_eq!(rows[0]["title"], "5 – Отлично");
        assert_eq!(c["interactive"]["type"], "list");
        let reminder = serde_json::to_value(question(&on(), "en", true)).unwrap();
        assert!(reminder["interactive"]["body"]["text"]
            .as_str()
            .unwrap()
            .starts_with("We would love"));
    }

    #[test]
    fn scores_come_from_the_list_or_a_digit_within_the_window() {
        let s = on();
        let hour = 3_600_000;
        assert_eq!(
            answer(&sent(0), &s, &chose("csat:4"), hour),
            Some(Answer::Score(4))
        );
        let digit = message("text", Some(" 2 "), serde_json::json!({"type": "text"}));
        assert_eq!(answer(&sent(0), &s, &digit, hour), Some(Answer::Score(2)));
        // Not a score: another list's row, a 6, words, or too late.
        assert_eq!(answer(&sent(0), &s, &chose("menu:4"), hour), None);
        let six = message("text", Some("6"), serde_json::json!({"type": "text"}));
        assert_eq!(answer(&sent(0), &s, &six, hour), None);
        let words = message(
            "text",
            Some("I have another question"),
            serde_json::json!({}),
        );
        assert_eq!(answer(&sent(0), &s, &words, hour), None);
        assert_eq!(answer(&sent(0), &s, &chose("csat:4"), 25 * hour), None);
    }

    #[test]
    fn the_text_after_the_prompt_is_the_comment_once() {
        let s = on();
        let scored = record(&sent(0), &Answer::Score(3), 1_000, true);
        assert!(scored.awaiting_comment);
        let text = message("text", Some("Slow, but polite"), serde_json::json!({}));
        let comment = answer(&scored, &s, &text, 60_000).unwrap();
        assert_eq!(comment, Answer::Comment("Slow, but polite".into()));
        let done = record(&scored, &comment, 60_000, true);
        assert_eq!(done.comment.as_deref(), Some("Slow, but polite"));
        assert_eq!(done.score, Some(3));
        assert_eq!(
            answer(&done, &s, &text, 70_000),
            None,
            "then messages reopen"
        );
        assert_eq!(answer(&scored, &s, &text, COMMENT_WINDOW_MS + 2_000), None);
    }
}
