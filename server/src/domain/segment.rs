//! What a segment filter means: [`matches`] and [`explain`], the one meaning every backend's
//! own evaluation is checked against (the SQLite backend compiles filters to SQL; the
//! conformance suite compares its answers with these), and the checks a filter passes before
//! it is saved.

use serde_json::Value;
use switchboard_shared::contacts::{
    AttributeKind, AttributeOp, AttributeTest, ClauseResult, Explanation, Filter, TimeTest,
};

use super::attribute::AttributeSchema;
use super::contact::{region, ContactRecord, TagCatalogue};
use super::UnixMillis;

/// How deep a segment filter may nest, and how many clauses it may have in all.
pub const MAX_FILTER_DEPTH: usize = 8;
pub const MAX_FILTER_CLAUSES: usize = 100;

const DAY_MS: i64 = 86_400_000;

/// Checks a filter against the tenant's definitions: its depth and size, known attributes with
/// an operator their type has, values of the right type, known tags.
pub fn check_filter(
    filter: &Filter,
    schema: &AttributeSchema,
    tags: &TagCatalogue,
) -> Result<(), String> {
    let mut clauses = 0usize;
    check_clause(filter, schema, tags, 1, &mut clauses)
}

fn check_clause(
    filter: &Filter,
    schema: &AttributeSchema,
    tags: &TagCatalogue,
    depth: usize,
    clauses: &mut usize,
) -> Result<(), String> {
    if depth > MAX_FILTER_DEPTH {
        return Err(format!("a filter nests at most {MAX_FILTER_DEPTH} deep"));
    }
    *clauses += 1;
    if *clauses > MAX_FILTER_CLAUSES {
        return Err(format!("a filter has at most {MAX_FILTER_CLAUSES} clauses"));
    }
    match filter {
        Filter::All(list) | Filter::Any(list) => list
            .iter()
            .try_for_each(|f| check_clause(f, schema, tags, depth + 1, clauses)),
        Filter::Not(inner) => check_clause(inner, schema, tags, depth + 1, clauses),
        Filter::Tag(t) => tags
            .find(t)
            .map(|_| ())
            .ok_or_else(|| format!("no tag `{t}` in the catalogue")),
        Filter::Country(c) => region(c)
            .map(|_| ())
            .ok_or_else(|| format!("`{c}` is not an ISO 3166 country code")),
        Filter::Consent(_) | Filter::OpenConversation(_) => Ok(()),
        Filter::LastInbound(_) | Filter::LastOutbound(_) => Ok(()),
        Filter::Attribute(test) => {
            let def = schema
                .get(&test.key)
                .ok_or_else(|| format!("no attribute `{}` is defined", test.key))?;
            let fits = match test.op {
                AttributeOp::IsSet => true,
                AttributeOp::Equals => true,
                AttributeOp::Contains => {
                    matches!(def.kind, AttributeKind::Text | AttributeKind::Link)
                }
                AttributeOp::GreaterThan | AttributeOp::LessThan => {
                    def.kind == AttributeKind::Number
                }
                AttributeOp::Before | AttributeOp::After => def.kind == AttributeKind::Date,
            };
            if !fits {
                return Err(format!(
                    "`{:?}` does not apply to the attribute `{}`",
                    test.op, test.key
                ));
            }
            match (&test.op, &test.value) {
                (AttributeOp::IsSet, None) => Ok(()),
                (AttributeOp::IsSet, Some(_)) => Err("is_set takes no value".into()),
                (_, None) => Err(format!("the test of `{}` needs a value", test.key)),
                (AttributeOp::Contains, Some(v)) => v
                    .as_str()
                    .map(|_| ())
                    .ok_or_else(|| "contains takes text".into()),
                (_, Some(v)) => schema.check(&test.key, v).map(|_| ()),
            }
        }
    }
}

/// What a contact is tested against besides itself.
#[derive(Clone, Copy, Debug)]
pub struct FilterContext {
    pub now: UnixMillis,
    /// Whether the contact has a queued or assigned conversation now.
    pub open_conversation: bool,
}

/// The bounds a time test stands for, now: `(after, before)` exclusive, and whether "never"
/// (no time at all) passes.
pub fn time_bounds(test: &TimeTest, now: UnixMillis) -> (Option<i64>, Option<i64>, bool) {
    match *test {
        TimeTest::Before(t) => (None, Some(t), false),
        TimeTest::After(t) => (Some(t), None, false),
        TimeTest::WithinDays(d) => (Some(now - i64::from(d) * DAY_MS), None, false),
        TimeTest::OlderThanDays(d) => (None, Some(now - i64::from(d) * DAY_MS), true),
        TimeTest::Never(true) => (None, None, true),
        TimeTest::Never(false) => (Some(i64::MIN), None, false),
    }
}

fn time_matches(test: &TimeTest, at: Option<UnixMillis>, now: UnixMillis) -> bool {
    let (after, before, never) = time_bounds(test, now);
    match at {
        None => never,
        Some(at) => {
            if matches!(test, TimeTest::Never(true)) {
                return false;
            }
            after.is_none_or(|a| at > a) && before.is_none_or(|b| at < b)
        }
    }
}

fn attribute_matches(test: &AttributeTest, value: Option<&Value>) -> bool {
    let Some(value) = value else {
        return false;
    };
    let want = test.value.as_ref();
    match test.op {
        AttributeOp::IsSet => true,
        AttributeOp::Equals => match (value, want) {
            (Value::String(a), Some(Value::String(b))) => a.to_lowercase() == b.to_lowercase(),
            (Value::Number(a), Some(Value::Number(b))) => a.as_f64() == b.as_f64(),
            (a, Some(b)) => a == b,
            _ => false,
        },
        AttributeOp::Contains => match (value.as_str(), want.and_then(Value::as_str)) {
            (Some(a), Some(b)) => a.to_lowercase().contains(&b.to_lowercase()),
            _ => false,
        },
        AttributeOp::GreaterThan | AttributeOp::LessThan => {
            match (value.as_f64(), want.and_then(Value::as_f64)) {
                (Some(a), Some(b)) if test.op == AttributeOp::GreaterThan => a > b,
                (Some(a), Some(b)) => a < b,
                _ => false,
            }
        }
        AttributeOp::Before | AttributeOp::After => {
            match (value.as_str(), want.and_then(Value::as_str)) {
                (Some(a), Some(b)) if test.op == AttributeOp::Before => a < b,
                (Some(a), Some(b)) => a > b,
                _ => false,
            }
        }
    }
}

/// Whether a contact is in a filter's segment. The one meaning of the filter language: every
/// backend's own evaluation (SQL on SQLite) is checked against it.
pub fn matches(filter: &Filter, c: &ContactRecord, cx: FilterContext) -> bool {
    match filter {
        Filter::All(list) => list.iter().all(|f| matches(f, c, cx)),
        Filter::Any(list) => list.iter().any(|f| matches(f, c, cx)),
        Filter::Not(inner) => !matches(inner, c, cx),
        Filter::Tag(t) => {
            let want = t.trim().to_lowercase();
            c.tags.iter().any(|have| have.to_lowercase() == want)
        }
        Filter::Country(code) => c
            .country
            .as_deref()
            .is_some_and(|have| have.eq_ignore_ascii_case(code.trim())),
        Filter::Consent(m) => c.marketing == *m,
        Filter::Attribute(test) => attribute_matches(test, c.attributes.get(&test.key)),
        Filter::LastInbound(t) => time_matches(t, c.last_inbound_at, cx.now),
        Filter::LastOutbound(t) => time_matches(t, c.last_outbound_at, cx.now),
        Filter::OpenConversation(want) => cx.open_conversation == *want,
    }
}

/// Whether a contact is in a segment, and why: each clause, what it asked and what the contact
/// holds.
pub fn explain(filter: &Filter, c: &ContactRecord, cx: FilterContext) -> Explanation {
    let mut clauses = Vec::new();
    let member = explain_into(filter, c, cx, 0, &mut clauses);
    Explanation { member, clauses }
}

fn explain_into(
    filter: &Filter,
    c: &ContactRecord,
    cx: FilterContext,
    depth: u32,
    out: &mut Vec<ClauseResult>,
) -> bool {
    let at = out.len();
    let (clause, actual) = describe(filter, c, cx);
    out.push(ClauseResult {
        depth,
        clause,
        matched: false,
        actual,
    });
    let matched = match filter {
        Filter::All(list) => list
            .iter()
            .map(|f| explain_into(f, c, cx, depth + 1, out))
            // Every clause is explained, so no short circuit.
            .collect::<Vec<bool>>()
            .into_iter()
            .all(|b| b),
        Filter::Any(list) => list
            .iter()
            .map(|f| explain_into(f, c, cx, depth + 1, out))
            .collect::<Vec<bool>>()
            .into_iter()
            .any(|b| b),
        Filter::Not(inner) => !explain_into(inner, c, cx, depth + 1, out),
        leaf => matches(leaf, c, cx),
    };
    out[at].matched = matched;
    matched
}

fn describe(filter: &Filter, c: &ContactRecord, cx: FilterContext) -> (String, String) {
    let time = |t: Option<UnixMillis>| match t {
        Some(t) => jiff::Timestamp::from_millisecond(t)
            .map(|ts| ts.to_string())
            .unwrap_or_else(|_| t.to_string()),
        None => "never".to_owned(),
    };
    match filter {
        Filter::All(l) => (format!("all of {} clauses", l.len()), String::new()),
        Filter::Any(l) => (format!("any of {} clauses", l.len()), String::new()),
        Filter::Not(_) => ("not".to_owned(), String::new()),
        Filter::Tag(t) => (
            format!("tag is {t}"),
            format!("tags: {}", c.tags.join(", ")),
        ),
        Filter::Country(code) => (
            format!("country is {code}"),
            format!("country: {}", c.country.as_deref().unwrap_or("unknown")),
        ),
        Filter::Consent(m) => (
            format!("marketing consent is {}", m.as_str()),
            format!("consent: {}", c.marketing.as_str()),
        ),
        Filter::Attribute(t) => (
            format!(
                "{} {:?}{}",
                t.key,
                t.op,
                t.value
                    .as_ref()
                    .map(|v| format!(" {v}"))
                    .unwrap_or_default()
            ),
            format!(
                "{}: {}",
                t.key,
                c.attributes
                    .get(&t.key)
                    .map(Value::to_string)
                    .unwrap_or_else(|| "not set".into())
            ),
        ),
        Filter::LastInbound(t) => (
            format!("last inbound {t:?}"),
            format!("last inbound: {}", time(c.last_inbound_at)),
        ),
        Filter::LastOutbound(t) => (
            format!("last outbound {t:?}"),
            format!("last outbound: {}", time(c.last_outbound_at)),
        ),
        Filter::OpenConversation(w) => (
            format!("open conversation is {w}"),
            format!("open conversation: {}", cx.open_conversation),
        ),
    }
}

/// Whether a filter asks about open conversations (the reader then loads who has one).
pub fn needs_open_conversations(filter: &Filter) -> bool {
    match filter {
        Filter::All(l) | Filter::Any(l) => l.iter().any(needs_open_conversations),
        Filter::Not(f) => needs_open_conversations(f),
        Filter::OpenConversation(_) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use switchboard_shared::contacts::{AttributeDef, Marketing};
    use switchboard_shared::{ContactId, TenantId};

    use super::*;

    fn schema() -> AttributeSchema {
        AttributeSchema::new(&[
            AttributeDef {
                key: "city".into(),
                label: "City".into(),
                kind: AttributeKind::Text,
                pattern: None,
            },
            AttributeDef {
                key: "orders".into(),
                label: "Orders".into(),
                kind: AttributeKind::Number,
                pattern: None,
            },
            AttributeDef {
                key: "since".into(),
                label: "Customer since".into(),
                kind: AttributeKind::Date,
                pattern: None,
            },
            AttributeDef {
                key: "plan".into(),
                label: "Plan".into(),
                kind: AttributeKind::Choice {
                    options: vec!["Free".into(), "Pro".into()],
                },
                pattern: None,
            },
            AttributeDef {
                key: "inn".into(),
                label: "INN".into(),
                kind: AttributeKind::Text,
                pattern: Some("[0-9]{10}|[0-9]{12}".into()),
            },
        ])
        .unwrap()
    }

    #[test]
    fn attribute_values_are_typed_and_checked() {
        let s = schema();
        assert_eq!(
            s.from_text("orders", "1 234,5").unwrap(),
            Some(serde_json::json!(1234.5))
        );
        assert!(s.from_text("orders", "many").is_err());
        assert_eq!(
            s.from_text("since", "01.03.2024").unwrap(),
            Some(serde_json::json!("2024-03-01"))
        );
        assert!(s.from_text("since", "31.02.2024").is_err());
        assert_eq!(
            s.from_text("plan", "pro").unwrap(),
            Some(serde_json::json!("Pro"))
        );
        assert!(s.from_text("plan", "Gold").is_err());
        assert!(s.from_text("inn", "7707083893").is_ok());
        assert!(s.from_text("inn", "77070838").is_err());
        assert!(s.from_text("nope", "x").is_err());
        assert_eq!(s.from_text("city", "  ").unwrap(), None);
        assert!(s.check("orders", &serde_json::json!("12")).is_err());
        assert_eq!(s.check("city", &Value::Null).unwrap(), None);
    }

    fn contact() -> ContactRecord {
        let mut c = ContactRecord::new(
            TenantId::from("t"),
            ContactId::from("ct_1"),
            Some("79161234567".into()),
            None,
            0,
        );
        c.tags = vec!["VIP".into()];
        c.attributes.insert("orders".into(), serde_json::json!(3));
        c.last_inbound_at = Some(10 * DAY_MS);
        c
    }

    #[test]
    fn filters_mean_one_thing_and_explain_themselves() {
        let f: Filter = serde_json::from_str(
            r#"{"all": [{"tag": "vip"}, {"country": "RU"},
                {"not": {"consent": "opted_out"}},
                {"any": [{"attribute": {"key": "orders", "op": "greater_than", "value": 2}},
                         {"last_inbound": {"within_days": 1}}]}]}"#,
        )
        .unwrap();
        let cx = FilterContext {
            now: 11 * DAY_MS,
            open_conversation: false,
        };
        let mut c = contact();
        assert!(matches(&f, &c, cx));
        let why = explain(&f, &c, cx);
        assert!(why.member);
        assert_eq!(why.clauses.len(), 8);
        c.marketing = Marketing::OptedOut;
        let why = explain(&f, &c, cx);
        assert!(!why.member);
        assert!(why
            .clauses
            .iter()
            .any(|r| r.clause.contains("consent") && r.actual == "consent: opted_out"));
        assert!(matches(
            &Filter::LastOutbound(TimeTest::Never(true)),
            &c,
            cx
        ));
        assert!(matches(
            &Filter::LastInbound(TimeTest::OlderThanDays(0)),
            &c,
            cx
        ));
    }

    #[test]
    fn filters_are_checked_for_depth_size_and_meaning() {
        let s = schema();
        let mut tags = TagCatalogue::default();
        tags.insert("VIP");
        let ok: Filter = serde_json::from_str(r#"{"all": [{"tag": "vip"}]}"#).unwrap();
        assert!(check_filter(&ok, &s, &tags).is_ok());
        let mut deep = Filter::Tag("vip".into());
        for _ in 0..100 {
            deep = Filter::Not(Box::new(deep));
        }
        assert!(check_filter(&deep, &s, &tags)
            .unwrap_err()
            .contains("nests"));
        let wide = Filter::Any(vec![Filter::Tag("vip".into()); 200]);
        assert!(check_filter(&wide, &s, &tags)
            .unwrap_err()
            .contains("clauses"));
        for bad in [
            r#"{"tag": "gold"}"#,
            r#"{"attribute": {"key": "city", "op": "greater_than", "value": 3}}"#,
            r#"{"attribute": {"key": "orders", "op": "equals", "value": "x"}}"#,
            r#"{"attribute": {"key": "nope", "op": "is_set"}}"#,
            r#"{"country": "Narnia"}"#,
        ] {
            let f: Filter = serde_json::from_str(bad).unwrap();
            assert!(check_filter(&f, &s, &tags).is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<Filter>(r#"{"tag": "a", "country": "RU"}"#).is_err());
    }
}
