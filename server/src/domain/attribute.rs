//! Typed contact attributes: definitions, and values checked against them (from the API's JSON
//! or a file's text).

use std::collections::BTreeMap;

use serde_json::Value;
use switchboard_shared::contacts::{AttributeDef, AttributeKind};

use super::contact::{fold, MAX_TEXT};

/// An attribute key: `[a-z][a-z0-9_]{0,39}`.
pub fn valid_attribute_key(key: &str) -> bool {
    let mut bytes = key.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z'))
        && key.len() <= 40
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
}

/// The tenant's attribute definitions, with their patterns compiled once.
#[derive(Clone, Debug, Default)]
pub struct AttributeSchema {
    defs: BTreeMap<String, (AttributeDef, Option<regex::Regex>)>,
}

impl AttributeSchema {
    pub fn new(defs: &[AttributeDef]) -> Result<Self, String> {
        let mut out = BTreeMap::new();
        for def in defs {
            let compiled = check_definition(def)?;
            out.insert(def.key.clone(), (def.clone(), compiled));
        }
        Ok(Self { defs: out })
    }

    pub fn get(&self, key: &str) -> Option<&AttributeDef> {
        self.defs.get(key).map(|(d, _)| d)
    }

    /// Checks a value given as JSON and returns it as stored. `null` is "remove".
    pub fn check(&self, key: &str, value: &Value) -> Result<Option<Value>, String> {
        let (def, pattern) = self
            .defs
            .get(key)
            .ok_or_else(|| format!("no attribute `{key}` is defined"))?;
        if value.is_null() {
            return Ok(None);
        }
        let wrong = |want: &str| format!("`{key}` takes {want}, not {value}");
        let stored = match &def.kind {
            AttributeKind::Text | AttributeKind::Link => {
                let s = value.as_str().ok_or_else(|| wrong("text"))?;
                return self.text(key, def, pattern.as_ref(), s);
            }
            AttributeKind::Number => {
                let n = value.as_f64().ok_or_else(|| wrong("a number"))?;
                if !n.is_finite() {
                    return Err(wrong("a finite number"));
                }
                value.clone()
            }
            AttributeKind::Boolean => {
                Value::Bool(value.as_bool().ok_or_else(|| wrong("true or false"))?)
            }
            AttributeKind::Date => {
                let s = value.as_str().ok_or_else(|| wrong("a date YYYY-MM-DD"))?;
                Value::String(check_date(s).ok_or_else(|| wrong("a date YYYY-MM-DD"))?)
            }
            AttributeKind::Choice { options } => {
                let s = value.as_str().ok_or_else(|| wrong("one of its options"))?;
                let found = options
                    .iter()
                    .find(|o| o.eq_ignore_ascii_case(s.trim()))
                    .ok_or_else(|| {
                        format!("`{key}` is one of {}, not `{s}`", options.join(", "))
                    })?;
                Value::String(found.clone())
            }
        };
        Ok(Some(stored))
    }

    /// Reads a value from a file's cell. An empty cell leaves the attribute as it is (`None`).
    pub fn from_text(&self, key: &str, text: &str) -> Result<Option<Value>, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let (def, pattern) = self
            .defs
            .get(key)
            .ok_or_else(|| format!("no attribute `{key}` is defined"))?;
        let bad = |want: &str| format!("`{key}` takes {want}, not `{text}`");
        match &def.kind {
            AttributeKind::Text | AttributeKind::Link => {
                self.text(key, def, pattern.as_ref(), text)
            }
            AttributeKind::Number => {
                let n: f64 = text
                    .replace(['\u{a0}', ' '], "")
                    .replace(',', ".")
                    .parse()
                    .map_err(|_| bad("a number"))?;
                if !n.is_finite() {
                    return Err(bad("a number"));
                }
                Ok(Some(
                    serde_json::Number::from_f64(n)
                        .map(Value::Number)
                        .ok_or_else(|| bad("a number"))?,
                ))
            }
            AttributeKind::Boolean => match fold(text).as_str() {
                "true" | "yes" | "1" | "y" | "да" | "истина" => Ok(Some(Value::Bool(true))),
                "false" | "no" | "0" | "n" | "нет" | "ложь" => Ok(Some(Value::Bool(false))),
                _ => Err(bad("yes or no")),
            },
            AttributeKind::Date => {
                Ok(Some(Value::String(read_date(text).ok_or_else(|| {
                    bad("a date (YYYY-MM-DD or DD.MM.YYYY)")
                })?)))
            }
            AttributeKind::Choice { .. } => self.check(key, &Value::String(text.to_owned())),
        }
    }

    fn text(
        &self,
        key: &str,
        def: &AttributeDef,
        pattern: Option<&regex::Regex>,
        s: &str,
    ) -> Result<Option<Value>, String> {
        let s = s.trim();
        if s.chars().count() > MAX_TEXT {
            return Err(format!("`{key}` is longer than {MAX_TEXT} characters"));
        }
        if def.kind == AttributeKind::Link {
            let ok = url::Url::parse(s)
                .ok()
                .is_some_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
            if !ok {
                return Err(format!("`{key}` takes an http(s) link, not `{s}`"));
            }
        }
        if let Some(re) = pattern {
            if !re.is_match(s) {
                return Err(format!("`{s}` does not match the pattern of `{key}`"));
            }
        }
        Ok(Some(Value::String(s.to_owned())))
    }
}

/// Checks a definition; its pattern compiled, anchored to the whole value.
pub fn check_definition(def: &AttributeDef) -> Result<Option<regex::Regex>, String> {
    if !valid_attribute_key(&def.key) {
        return Err(format!(
            "attribute key `{}` must be lower-case letters, digits and _ (starting with a letter, at most 40)",
            def.key
        ));
    }
    if def.label.trim().is_empty() || def.label.chars().count() > 80 {
        return Err("an attribute's label is 1 to 80 characters".into());
    }
    if let AttributeKind::Choice { options } = &def.kind {
        if options.is_empty() || options.len() > 200 || options.iter().any(|o| o.trim().is_empty())
        {
            return Err("a choice has 1 to 200 non-empty options".into());
        }
    }
    match (&def.pattern, &def.kind) {
        (None, _) => Ok(None),
        (Some(p), AttributeKind::Text | AttributeKind::Link) => {
            if p.len() > 500 {
                return Err("a pattern is at most 500 characters".into());
            }
            regex::RegexBuilder::new(&format!("^(?:{p})$"))
                .size_limit(1 << 20)
                .build()
                .map(Some)
                .map_err(|e| format!("the pattern does not compile: {e}"))
        }
        (Some(_), _) => Err("only text and link attributes take a pattern".into()),
    }
}

/// `YYYY-MM-DD` when it is a real date.
fn check_date(s: &str) -> Option<String> {
    let d: jiff::civil::Date = s.trim().parse().ok()?;
    Some(d.to_string())
}

/// A date as spreadsheets write it: `2024-03-01`, `01.03.2024`, `01/03/2024` (day first).
fn read_date(s: &str) -> Option<String> {
    if let Some(d) = check_date(s) {
        return Some(d);
    }
    let parts: Vec<&str> = s.split(['.', '/']).collect();
    if let [d, m, y] = parts[..] {
        let (d, m, y): (i8, i8, i16) = (d.parse().ok()?, m.parse().ok()?, y.parse().ok()?);
        return jiff::civil::Date::new(y, m, d).ok().map(|d| d.to_string());
    }
    None
}
