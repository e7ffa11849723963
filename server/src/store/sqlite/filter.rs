//! Segment filters as SQL over `contacts_by_id c`: the same meaning as
//! [`crate::domain::matches`] (the conformance suite compares the two), written so a count reads
//! the `contacts_segments` index alone. Every clause yields 0 or 1, never NULL, so `NOT` means
//! what it says for contacts without a country or a number.

use std::collections::HashSet;

use rusqlite::types::Value as Sql;
use serde_json::Value;
use switchboard_shared::contacts::{AttributeOp, AttributeTest, Filter, TimeTest};

use crate::domain::{time_bounds, UnixMillis};

/// The folded form of a tag in `tag_key` and `contact_tags`.
pub(super) fn fold_tag(tag: &str) -> String {
    tag.trim().to_lowercase()
}

/// `tag_key`: the folded tags between unit separators.
pub(super) fn tag_key(tags: &[String]) -> String {
    let mut key = String::from("\u{1f}");
    for t in tags {
        key.push_str(&fold_tag(t));
        key.push('\u{1f}');
    }
    key
}

/// A filter as a SQL condition over `c`, with its parameters (numbered from `first`).
pub(super) struct Compiled {
    pub sql: String,
    pub params: Vec<Sql>,
}

pub(super) fn compile(
    filter: &Filter,
    tenant: &str,
    now: UnixMillis,
    open: &HashSet<String>,
) -> Compiled {
    let mut out = Compiled {
        sql: String::new(),
        params: Vec::new(),
    };
    let open_json = serde_json::to_string(&open.iter().collect::<Vec<_>>()).unwrap_or_default();
    clause(filter, tenant, now, &open_json, &mut out);
    out
}

fn param(out: &mut Compiled, value: Sql) -> String {
    out.params.push(value);
    format!("?{}", out.params.len() + 1)
}

fn clause(filter: &Filter, tenant: &str, now: UnixMillis, open: &str, out: &mut Compiled) {
    match filter {
        Filter::All(list) | Filter::Any(list) => {
            let (join, empty) = match filter {
                Filter::All(_) => (" AND ", "1"),
                _ => (" OR ", "0"),
            };
            if list.is_empty() {
                out.sql.push_str(empty);
                return;
            }
            out.sql.push('(');
            for (i, f) in list.iter().enumerate() {
                if i > 0 {
                    out.sql.push_str(join);
                }
                clause(f, tenant, now, open, out);
            }
            out.sql.push(')');
        }
        Filter::Not(inner) => {
            out.sql.push_str("(NOT ");
            clause(inner, tenant, now, open, out);
            out.sql.push(')');
        }
        Filter::Tag(t) => {
            let p = param(out, Sql::Text(format!("\u{1f}{}\u{1f}", fold_tag(t))));
            out.sql.push_str(&format!("(instr(c.tag_key, {p}) > 0)"));
        }
        Filter::Country(code) => {
            let p = param(out, Sql::Text(code.trim().to_ascii_uppercase()));
            out.sql
                .push_str(&format!("(c.country IS NOT NULL AND c.country = {p})"));
        }
        Filter::Consent(m) => {
            let p = param(out, Sql::Text(m.as_str().to_owned()));
            out.sql.push_str(&format!("(c.marketing = {p})"));
        }
        Filter::Attribute(test) => attribute(test, tenant, out),
        Filter::LastInbound(t) => time("c.last_inbound_at", t, now, out),
        Filter::LastOutbound(t) => time("c.last_outbound_at", t, now, out),
        Filter::OpenConversation(want) => {
            let p = param(out, Sql::Text(open.to_owned()));
            let has = format!(
                "((c.phone IS NOT NULL AND c.phone IN (SELECT value FROM json_each({p}))) \
                 OR (c.bsuid IS NOT NULL AND c.bsuid IN (SELECT value FROM json_each({p}))))"
            );
            if *want {
                out.sql.push_str(&has);
            } else {
                out.sql.push_str(&format!("(NOT {has})"));
            }
        }
    }
}

fn time(column: &str, test: &TimeTest, now: UnixMillis, out: &mut Compiled) {
    match test {
        TimeTest::Never(true) => out.sql.push_str(&format!("({column} IS NULL)")),
        TimeTest::Never(false) => out.sql.push_str(&format!("({column} IS NOT NULL)")),
        _ => {
            let (after, before, never) = time_bounds(test, now);
            let mut cond = format!("{column} IS NOT NULL");
            if let Some(a) = after {
                let p = param(out, Sql::Integer(a));
                cond.push_str(&format!(" AND {column} > {p}"));
            }
            if let Some(b) = before {
                let p = param(out, Sql::Integer(b));
                cond.push_str(&format!(" AND {column} < {p}"));
            }
            if never {
                out.sql
                    .push_str(&format!("(({column} IS NULL) OR ({cond}))"));
            } else {
                out.sql.push_str(&format!("({cond})"));
            }
        }
    }
}

fn attribute(test: &AttributeTest, tenant: &str, out: &mut Compiled) {
    let t = param(out, Sql::Text(tenant.to_owned()));
    let k = param(out, Sql::Text(test.key.clone()));
    let value = test.value.as_ref();
    let cond = match (test.op, value) {
        (AttributeOp::IsSet, _) => "1".to_owned(),
        (AttributeOp::Equals, Some(Value::String(s))) => {
            let p = param(out, Sql::Text(s.to_lowercase()));
            format!("fold = {p}")
        }
        (AttributeOp::Equals, Some(Value::Bool(b))) => {
            let p = param(out, Sql::Real(if *b { 1.0 } else { 0.0 }));
            format!("text IS NULL AND num = {p}")
        }
        (AttributeOp::Equals, Some(Value::Number(n))) => {
            let p = param(out, Sql::Real(n.as_f64().unwrap_or(f64::NAN)));
            format!("text IS NULL AND num = {p}")
        }
        (AttributeOp::Contains, Some(Value::String(s))) => {
            let p = param(out, Sql::Text(s.to_lowercase()));
            format!("instr(fold, {p}) > 0")
        }
        (AttributeOp::GreaterThan, Some(v)) => {
            let p = param(out, Sql::Real(v.as_f64().unwrap_or(f64::NAN)));
            format!("text IS NULL AND num > {p}")
        }
        (AttributeOp::LessThan, Some(v)) => {
            let p = param(out, Sql::Real(v.as_f64().unwrap_or(f64::NAN)));
            format!("text IS NULL AND num < {p}")
        }
        (AttributeOp::Before, Some(Value::String(s))) => {
            let p = param(out, Sql::Text(s.clone()));
            format!("text < {p}")
        }
        (AttributeOp::After, Some(Value::String(s))) => {
            let p = param(out, Sql::Text(s.clone()));
            format!("text > {p}")
        }
        // A test the filter check refuses (a value of the wrong type) selects nobody, as
        // `matches` answers.
        _ => "0".to_owned(),
    };
    out.sql.push_str(&format!(
        "(c.id IN (SELECT contact FROM contact_attributes WHERE tenant = {t} AND key = {k} AND {cond}))"
    ));
}

/// The attribute table's columns for one value: (text, fold, num).
pub(super) fn attribute_columns(value: &Value) -> (Option<String>, Option<String>, Option<f64>) {
    match value {
        Value::String(s) => (Some(s.clone()), Some(s.to_lowercase()), None),
        Value::Number(n) => (None, None, n.as_f64()),
        Value::Bool(b) => (None, None, Some(if *b { 1.0 } else { 0.0 })),
        other => (Some(other.to_string()), Some(other.to_string()), None),
    }
}
