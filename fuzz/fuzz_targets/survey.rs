//! The satisfaction survey: its settings as any JSON an admin sends (checked, then turned into
//! WhatsApp lists), and any customer message read as an answer. Must never panic; a score is
//! 1 to 5, a comment is non-empty and at most `MAX_COMMENT` characters, and settings that pass
//! the check make lists within WhatsApp's limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_server::domain::{InboundMessage, SurveyState};
use switchboard_server::service::csat::{self, Answer, MAX_COMMENT};
use switchboard_shared::reports::SurveySettings;
use switchboard_shared::{MessageKey, PhoneNumberId, WaId, Wamid};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest).into_owned();
    if selector & 1 == 0 {
        // Settings.
        let Ok(settings) = serde_json::from_str::<SurveySettings>(&text) else {
            return;
        };
        if csat::check(&settings).is_ok() {
            for language in settings.texts.keys() {
                for reminder in [false, true] {
                    let content =
                        serde_json::to_value(csat::question(&settings, language, reminder))
                            .expect("serialisable");
                    let rows = content["interactive"]["action"]["sections"][0]["rows"]
                        .as_array()
                        .expect("a list");
                    assert_eq!(rows.len(), 5);
                    for row in rows {
                        assert!(row["title"].as_str().unwrap().chars().count() <= 24);
                    }
                }
            }
        }
        return;
    }
    // A customer's message: the bytes are its raw JSON (and, as text, its body).
    let message = InboundMessage {
        key: MessageKey::new("m".to_owned()),
        wamid: Wamid::from("wamid.fuzz"),
        number: PhoneNumberId::from("1"),
        customer: WaId::from("79161234567"),
        kind: if selector & 2 == 0 {
            "text"
        } else {
            "interactive"
        }
        .into(),
        text: Some(text.clone()),
        at_ms: 0,
        raw: text,
    };
    let settings = SurveySettings {
        enabled: true,
        ..SurveySettings::defaults()
    };
    let state = SurveyState {
        sent_at: 0,
        language: "en".into(),
        reminded_at: None,
        score: (selector & 4 != 0).then_some(3),
        answered_at: (selector & 4 != 0).then_some(0),
        comment: None,
        commented_at: None,
        awaiting_comment: selector & 8 != 0,
    };
    match csat::answer(
        &state,
        &settings,
        &message,
        i64::from(selector >> 4) * 60_000,
    ) {
        Some(Answer::Score(s)) => assert!((1..=5).contains(&s)),
        Some(Answer::Comment(c)) => {
            assert!(!c.trim().is_empty());
            assert!(c.chars().count() <= MAX_COMMENT);
        }
        None => {}
    }
    let _ = csat::is_survey_choice(&message);
});
