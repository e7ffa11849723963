//! Which account-level webhooks stop a campaign: a number's quality dropping, or its template
//! paused, disabled or rated low by Meta. A pure reading of the webhook's `value`; the runner
//! decides which campaigns it touches.
//!
//! Must not: store or pause anything itself.

use serde_json::Value;

/// What an account-level webhook says is wrong, and for whom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountAlarm {
    /// A business number, by the display number the webhook names (digits only).
    Number { display: String, reason: String },
    /// A template, by name and (when the webhook says) language.
    Template {
        name: String,
        language: Option<String>,
        reason: String,
    },
}

/// Meta's messaging-limit tiers, lowest first (`TIER_NOT_SET` and unknown ones are not ranked).
const TIERS: [&str; 6] = [
    "TIER_50",
    "TIER_250",
    "TIER_2K",
    "TIER_10K",
    "TIER_100K",
    "TIER_UNLIMITED",
];

fn tier_rank(tier: &str) -> Option<usize> {
    TIERS.iter().position(|t| *t == tier)
}

fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// The alarm in a webhook `field`'s `value` (as stored, JSON text), if it is one.
///
/// - `phone_number_quality_update`: the events `FLAGGED` (quality fell to low) and `DOWNGRADE`
///   (a lower messaging limit), or a `current_limit` below `old_limit`. `ONBOARDING`,
///   `THROUGHPUT_UPGRADE`, `UPGRADE` and `UNFLAGGED` are good news.
/// - `message_template_status_update`: `PAUSED`, `DISABLED`, `REJECTED`, `FLAGGED` and
///   `PENDING_DELETION`; Meta refuses the template's sends from then on.
/// - `message_template_quality_update`: a `new_quality_score` of `RED` (Meta pauses such
///   templates; sending on would be refused and hurt the number).
pub fn account_alarm(field: &str, raw: &str) -> Option<AccountAlarm> {
    let value: Value = serde_json::from_str(raw).ok()?;
    let text = |key: &str| value.get(key).and_then(Value::as_str).unwrap_or("");
    match field {
        "phone_number_quality_update" => {
            let display = digits(text("display_phone_number"));
            if display.is_empty() {
                return None;
            }
            let event = text("event");
            let (old, current) = (text("old_limit"), text("current_limit"));
            let lower = matches!(
                (tier_rank(old), tier_rank(current)),
                (Some(o), Some(c)) if c < o
            );
            let reason = match event {
                "FLAGGED" => "its quality rating fell to low (FLAGGED)".to_owned(),
                "DOWNGRADE" => format!("its messaging limit was lowered (DOWNGRADE to {current})"),
                _ if lower => format!("its messaging limit fell from {old} to {current}"),
                _ => return None,
            };
            Some(AccountAlarm::Number {
                reason: format!("Meta says number +{display}: {reason}"),
                display,
            })
        }
        "message_template_status_update" => {
            let event = text("event");
            if !matches!(
                event,
                "PAUSED" | "DISABLED" | "REJECTED" | "FLAGGED" | "PENDING_DELETION"
            ) {
                return None;
            }
            template_alarm(&value, format!("Meta set the template to {event}"))
        }
        "message_template_quality_update" => {
            if text("new_quality_score") != "RED" {
                return None;
            }
            template_alarm(
                &value,
                format!(
                    "the template's quality fell from {} to RED",
                    text("previous_quality_score")
                ),
            )
        }
        _ => None,
    }
}

fn template_alarm(value: &Value, reason: String) -> Option<AccountAlarm> {
    let name = value.get("message_template_name")?.as_str()?.to_owned();
    let language = value
        .get("message_template_language")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Some(AccountAlarm::Template {
        reason: format!("{reason} ({name})"),
        name,
        language,
    })
}

/// Whether `display` (any formatting) is the number an alarm names.
pub fn same_number(display: &str, alarm_digits: &str) -> bool {
    digits(display) == alarm_digits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture_value(name: &str) -> (String, String) {
        let path = format!(
            "{}/../../shared/fixtures/whatsapp/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let body: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect("JSON");
        let change = &body["entry"][0]["changes"][0];
        (
            change["field"].as_str().expect("field").to_owned(),
            change["value"].to_string(),
        )
    }

    #[test]
    fn meta_s_good_news_is_no_alarm() {
        for fixture in [
            "phone_number_quality_update_throughput_upgrade.json",
            "message_template_quality_update_green_to_yellow.json",
            "message_template_status_update_approved.json",
        ] {
            let (field, value) = fixture_value(fixture);
            assert_eq!(account_alarm(&field, &value), None, "{fixture}");
        }
    }

    #[test]
    fn a_rejected_template_is_an_alarm_for_that_template() {
        let (field, value) = fixture_value("message_template_status_update_rejected.json");
        let Some(AccountAlarm::Template { name, reason, .. }) = account_alarm(&field, &value)
        else {
            panic!("an alarm");
        };
        assert!(!name.is_empty());
        assert!(reason.contains("REJECTED"), "{reason}");
    }

    #[test]
    fn a_number_flagged_or_lowered_is_an_alarm_for_that_number() {
        let flagged = r#"{"display_phone_number":"1 555-078-3881","event":"FLAGGED","current_limit":"TIER_10K"}"#;
        assert_eq!(
            account_alarm("phone_number_quality_update", flagged),
            Some(AccountAlarm::Number {
                display: "15550783881".into(),
                reason: "Meta says number +15550783881: its quality rating fell to low (FLAGGED)"
                    .into()
            })
        );
        let lowered = r#"{"display_phone_number":"15550783881","event":"ONBOARDING","old_limit":"TIER_10K","current_limit":"TIER_2K"}"#;
        assert!(matches!(
            account_alarm("phone_number_quality_update", lowered),
            Some(AccountAlarm::Number { reason, .. }) if reason.contains("TIER_10K to TIER_2K")
        ));
        let raised = r#"{"display_phone_number":"15550783881","event":"UPGRADE","old_limit":"TIER_2K","current_limit":"TIER_10K"}"#;
        assert_eq!(account_alarm("phone_number_quality_update", raised), None);
        assert!(same_number("+1 (555) 078-3881", "15550783881"));
    }

    #[test]
    fn a_template_rated_red_is_an_alarm_and_junk_is_not() {
        let red = r#"{"previous_quality_score":"YELLOW","new_quality_score":"RED","message_template_name":"promo","message_template_language":"en_US"}"#;
        assert_eq!(
            account_alarm("message_template_quality_update", red),
            Some(AccountAlarm::Template {
                name: "promo".into(),
                language: Some("en_US".into()),
                reason: "the template's quality fell from YELLOW to RED (promo)".into()
            })
        );
        assert_eq!(
            account_alarm("message_template_quality_update", "not json"),
            None
        );
        assert_eq!(
            account_alarm("phone_number_quality_update", r#"{"event":"FLAGGED"}"#),
            None,
            "no number named, nobody to pause"
        );
    }
}
