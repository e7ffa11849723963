//! A new message template, checked against Meta's rules before it is submitted, so that a
//! mistake is answered at once with the field it is in, instead of a rejection hours later.
//!
//! The template is Meta's own JSON (`POST /{waba-id}/message_templates`): `name`, `category`,
//! `language`, `parameter_format` (`POSITIONAL` or `NAMED`) and `components` (at most one
//! `HEADER`, one `BODY` (required), one `FOOTER` and one `BUTTONS`). The limits are those of
//! Meta's template guide: a name of lowercase letters, digits and underscores (512 at most); a
//! text header of 60 characters with at most one parameter; a body of 1,024 characters that
//! neither starts nor ends with a parameter; a footer of 60 without parameters; at most 10
//! buttons (quick replies grouped together; at most 2 URL, 1 phone number and 1 copy-code
//! button); parameters numbered from 1 without gaps, or named in lowercase; an example for each.

use serde_json::Value;

/// What is wrong with a template, and where (`components[2].buttons[0].text`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct TemplateProblem {
    pub field: String,
    pub reason: String,
}

fn problem(field: impl Into<String>, reason: impl Into<String>) -> TemplateProblem {
    TemplateProblem {
        field: field.into(),
        reason: reason.into(),
    }
}

const CATEGORIES: &[&str] = &["MARKETING", "UTILITY", "AUTHENTICATION"];

/// How parameters are written: `{{1}}` or `{{order_id}}`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Format {
    Positional,
    Named,
}

/// Checks a template as Meta's API takes it.
pub fn check(template: &Value) -> Result<(), TemplateProblem> {
    let Some(object) = template.as_object() else {
        return Err(problem("template", "a JSON object"));
    };
    let name = text_field(template, "name")?;
    if name.is_empty()
        || name.len() > 512
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(problem(
            "name",
            "1 to 512 lowercase letters, digits and underscores",
        ));
    }
    let category = text_field(template, "category")?;
    if !CATEGORIES.contains(&category) {
        return Err(problem("category", "MARKETING, UTILITY or AUTHENTICATION"));
    }
    let language = text_field(template, "language")?;
    let mut parts = language.split('_');
    let code_ok = parts
        .next()
        .is_some_and(|l| (2..=3).contains(&l.len()) && l.chars().all(|c| c.is_ascii_lowercase()))
        && parts
            .all(|p| !p.is_empty() && p.len() <= 4 && p.chars().all(|c| c.is_ascii_alphanumeric()));
    if !code_ok {
        return Err(problem(
            "language",
            "a language code such as en_US or pt_BR",
        ));
    }
    let format = match object.get("parameter_format").map(|v| v.as_str()) {
        None | Some(Some("POSITIONAL")) => Format::Positional,
        Some(Some("NAMED")) => Format::Named,
        _ => return Err(problem("parameter_format", "POSITIONAL or NAMED")),
    };
    for key in object.keys() {
        if !matches!(
            key.as_str(),
            "name"
                | "category"
                | "language"
                | "parameter_format"
                | "components"
                | "allow_category_change"
                | "message_send_ttl_seconds"
        ) {
            // An empty key is named by the object that holds it.
            let field = if key.is_empty() {
                "template"
            } else {
                key.as_str()
            };
            return Err(problem(
                field,
                format!("`{key}` is not a field of a message template"),
            ));
        }
    }
    let Some(components) = object.get("components").and_then(Value::as_array) else {
        return Err(problem("components", "a list of components"));
    };
    let mut seen: Vec<&str> = Vec::new();
    for (i, component) in components.iter().enumerate() {
        let at = format!("components[{i}]");
        let kind = component
            .get("type")
            .and_then(Value::as_str)
            .map(str::to_ascii_uppercase)
            .ok_or_else(|| problem(format!("{at}.type"), "HEADER, BODY, FOOTER or BUTTONS"))?;
        let kind: &str = match kind.as_str() {
            "HEADER" => "HEADER",
            "BODY" => "BODY",
            "FOOTER" => "FOOTER",
            "BUTTONS" => "BUTTONS",
            _ => {
                return Err(problem(
                    format!("{at}.type"),
                    "HEADER, BODY, FOOTER or BUTTONS",
                ))
            }
        };
        if seen.contains(&kind) {
            return Err(problem(format!("{at}.type"), format!("a second {kind}")));
        }
        seen.push(kind);
        match kind {
            "HEADER" => header(component, &at, format)?,
            "BODY" => body(component, &at, format, category)?,
            "FOOTER" => footer(component, &at)?,
            _ => buttons(component, &at, category)?,
        }
    }
    if !seen.contains(&"BODY") {
        return Err(problem("components", "a BODY is required"));
    }
    if category == "AUTHENTICATION" && !seen.contains(&"BUTTONS") {
        return Err(problem(
            "components",
            "an AUTHENTICATION template needs a BUTTONS component with its OTP button",
        ));
    }
    Ok(())
}

fn text_field<'a>(value: &'a Value, field: &str) -> Result<&'a str, TemplateProblem> {
    value
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| problem(field, "required, as text"))
}

/// The parameters in a text, in order: `{{1}}` → "1", `{{order_id}}` → "order_id". A brace
/// pair that is not a parameter (`{{ }}`, `{{Order}}`) is an error.
fn parameters(text: &str, format: Format, at: &str) -> Result<Vec<String>, TemplateProblem> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            return Err(problem(at, "a `{{` without its `}}`"));
        };
        let name = &after[..close];
        let ok = match format {
            Format::Positional => {
                !name.is_empty() && name.len() <= 3 && name.chars().all(|c| c.is_ascii_digit())
            }
            Format::Named => {
                name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                    && name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            }
        };
        if !ok {
            return Err(problem(
                at,
                match format {
                    Format::Positional => format!("`{{{{{name}}}}}`: positional parameters are {{{{1}}}}, {{{{2}}}}, …"),
                    Format::Named => format!("`{{{{{name}}}}}`: named parameters are lowercase letters, digits and underscores"),
                },
            ));
        }
        found.push(name.to_owned());
        rest = &after[close + 2..];
    }
    if format == Format::Positional {
        let mut numbers: Vec<u32> = found.iter().filter_map(|n| n.parse().ok()).collect();
        numbers.sort_unstable();
        numbers.dedup();
        if numbers.iter().enumerate().any(|(i, n)| *n != i as u32 + 1) {
            return Err(problem(
                at,
                "positional parameters are numbered from {{1}} without gaps",
            ));
        }
    }
    Ok(found)
}

fn distinct(found: &[String]) -> usize {
    let mut names: Vec<&String> = found.iter().collect();
    names.sort();
    names.dedup();
    names.len()
}

fn length(text: &str, max: usize, at: &str) -> Result<(), TemplateProblem> {
    if text.trim().is_empty() {
        return Err(problem(at, "must not be empty"));
    }
    if text.chars().count() > max {
        return Err(problem(at, format!("at most {max} characters")));
    }
    Ok(())
}

/// The examples given for a component's parameters (positional: a list; named: a list of
/// `{param_name, example}`), checked against the parameters found.
fn examples(
    component: &Value,
    at: &str,
    format: Format,
    found: &[String],
    positional_key: &str,
    named_key: &str,
) -> Result<(), TemplateProblem> {
    if found.is_empty() {
        return Ok(());
    }
    let example = component.get("example");
    match format {
        Format::Positional => {
            let given = example
                .and_then(|e| e.get(positional_key))
                .and_then(Value::as_array)
                .map(|rows| match rows.first() {
                    // The body's examples are a list of rows; the header's a flat list.
                    Some(Value::Array(row)) => row.len(),
                    _ => rows.len(),
                })
                .unwrap_or(0);
            if given != distinct(found) {
                return Err(problem(
                    format!("{at}.example.{positional_key}"),
                    format!("one example for each of the {} parameters", distinct(found)),
                ));
            }
        }
        Format::Named => {
            let given: Vec<&str> = example
                .and_then(|e| e.get(named_key))
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .filter_map(|p| p.get("param_name").and_then(Value::as_str))
                        .collect()
                })
                .unwrap_or_default();
            if let Some(missing) = found.iter().find(|n| !given.contains(&n.as_str())) {
                return Err(problem(
                    format!("{at}.example.{named_key}"),
                    format!("no example for `{missing}`"),
                ));
            }
        }
    }
    Ok(())
}

fn header(component: &Value, at: &str, format: Format) -> Result<(), TemplateProblem> {
    let kind = component
        .get("format")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_ascii_uppercase();
    match kind.as_str() {
        "TEXT" => {
            let text = component
                .get("text")
                .and_then(Value::as_str)
                .ok_or_else(|| problem(format!("{at}.text"), "required for a TEXT header"))?;
            length(text, 60, &format!("{at}.text"))?;
            let found = parameters(text, format, &format!("{at}.text"))?;
            if distinct(&found) > 1 {
                return Err(problem(
                    format!("{at}.text"),
                    "at most one parameter in a header",
                ));
            }
            examples(
                component,
                at,
                format,
                &found,
                "header_text",
                "header_text_named_params",
            )
        }
        "IMAGE" | "VIDEO" | "DOCUMENT" => {
            let handle = component
                .get("example")
                .and_then(|e| e.get("header_handle"))
                .and_then(Value::as_array)
                .is_some_and(|h| !h.is_empty());
            if !handle {
                return Err(problem(
                    format!("{at}.example.header_handle"),
                    "a media header needs an example file's upload handle",
                ));
            }
            Ok(())
        }
        "LOCATION" => Ok(()),
        _ => Err(problem(
            format!("{at}.format"),
            "TEXT, IMAGE, VIDEO, DOCUMENT or LOCATION",
        )),
    }
}

fn body(
    component: &Value,
    at: &str,
    format: Format,
    category: &str,
) -> Result<(), TemplateProblem> {
    let field = format!("{at}.text");
    let Some(text) = component.get("text").and_then(Value::as_str) else {
        // Meta writes an authentication template's body itself.
        if category == "AUTHENTICATION" {
            return Ok(());
        }
        return Err(problem(field, "required"));
    };
    length(text, 1024, &field)?;
    let found = parameters(text, format, &field)?;
    let trimmed = text.trim();
    if !found.is_empty() && (trimmed.starts_with("{{") || trimmed.ends_with("}}")) {
        return Err(problem(
            field,
            "the body may not start or end with a parameter",
        ));
    }
    examples(
        component,
        at,
        format,
        &found,
        "body_text",
        "body_text_named_params",
    )
}

fn footer(component: &Value, at: &str) -> Result<(), TemplateProblem> {
    let field = format!("{at}.text");
    let text = component
        .get("text")
        .and_then(Value::as_str)
        .ok_or_else(|| problem(field.clone(), "required"))?;
    length(text, 60, &field)?;
    if text.contains("{{") {
        return Err(problem(field, "a footer has no parameters"));
    }
    Ok(())
}

fn buttons(component: &Value, at: &str, category: &str) -> Result<(), TemplateProblem> {
    let list = component
        .get("buttons")
        .and_then(Value::as_array)
        .ok_or_else(|| problem(format!("{at}.buttons"), "a list of buttons"))?;
    if list.is_empty() || list.len() > 10 {
        return Err(problem(format!("{at}.buttons"), "1 to 10 buttons"));
    }
    let (mut urls, mut phones, mut codes) = (0, 0, 0);
    let mut kinds: Vec<String> = Vec::new();
    for (i, button) in list.iter().enumerate() {
        let at = format!("{at}.buttons[{i}]");
        let kind = button
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_ascii_uppercase();
        let text = || -> Result<(), TemplateProblem> {
            let t = button
                .get("text")
                .and_then(Value::as_str)
                .unwrap_or_default();
            length(t, 25, &format!("{at}.text"))
        };
        match kind.as_str() {
            "QUICK_REPLY" => text()?,
            "URL" => {
                urls += 1;
                text()?;
                let url = button
                    .get("url")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 2000
                {
                    return Err(problem(
                        format!("{at}.url"),
                        "an http(s) URL of at most 2000 characters",
                    ));
                }
                let vars = url.matches("{{").count();
                if vars > 1 || (vars == 1 && !url.ends_with("{{1}}")) {
                    return Err(problem(
                        format!("{at}.url"),
                        "at most one parameter, {{1}}, at the end of the URL",
                    ));
                }
                let has_example = button
                    .get("example")
                    .and_then(Value::as_array)
                    .is_some_and(|e| !e.is_empty());
                if vars == 1 && !has_example {
                    return Err(problem(
                        format!("{at}.example"),
                        "an example of the full URL",
                    ));
                }
            }
            "PHONE_NUMBER" => {
                phones += 1;
                text()?;
                let phone = button
                    .get("phone_number")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let digits = phone.trim_start_matches('+');
                if digits.is_empty()
                    || phone.len() > 20
                    || !digits.chars().all(|c| c.is_ascii_digit())
                {
                    return Err(problem(
                        format!("{at}.phone_number"),
                        "a phone number in international format, 20 characters at most",
                    ));
                }
            }
            "COPY_CODE" => {
                codes += 1;
                let example = button
                    .get("example")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if example.is_empty() || example.chars().count() > 15 {
                    return Err(problem(
                        format!("{at}.example"),
                        "an example code of 1 to 15 characters",
                    ));
                }
            }
            "OTP" if category == "AUTHENTICATION" => {}
            "FLOW" | "CATALOG" | "MPM" | "VOICE_CALL" => text()?,
            _ => return Err(problem(
                format!("{at}.type"),
                "QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE, FLOW (OTP in AUTHENTICATION templates)",
            )),
        }
        kinds.push(kind);
    }
    if urls > 2 {
        return Err(problem(format!("{at}.buttons"), "at most 2 URL buttons"));
    }
    if phones > 1 {
        return Err(problem(
            format!("{at}.buttons"),
            "at most 1 PHONE_NUMBER button",
        ));
    }
    if codes > 1 {
        return Err(problem(
            format!("{at}.buttons"),
            "at most 1 COPY_CODE button",
        ));
    }
    // Quick replies come together, before or after the others, not between them.
    let quick: Vec<bool> = kinds.iter().map(|k| k == "QUICK_REPLY").collect();
    let runs = quick.windows(2).filter(|w| w[0] != w[1]).count();
    if quick.contains(&true) && runs > 1 {
        return Err(problem(
            format!("{at}.buttons"),
            "quick replies are grouped together, not mixed between other buttons",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn good() -> Value {
        json!({
            "name": "order_shipped",
            "category": "UTILITY",
            "language": "en_US",
            "components": [
                {"type": "HEADER", "format": "TEXT", "text": "Order {{1}}",
                 "example": {"header_text": ["#1042"]}},
                {"type": "BODY", "text": "Hello {{1}}, your order {{2}} has shipped.",
                 "example": {"body_text": [["Olga", "#1042"]]}},
                {"type": "FOOTER", "text": "Reply STOP to opt out"},
                {"type": "BUTTONS", "buttons": [
                    {"type": "QUICK_REPLY", "text": "Thanks"},
                    {"type": "QUICK_REPLY", "text": "Where is it?"},
                    {"type": "URL", "text": "Track", "url": "https://shop.example/track/{{1}}",
                     "example": ["https://shop.example/track/1042"]},
                    {"type": "PHONE_NUMBER", "text": "Call us", "phone_number": "+15550001111"},
                ]},
            ],
        })
    }

    fn field_of(template: Value) -> String {
        check(&template).unwrap_err().field
    }

    #[test]
    fn a_template_as_meta_takes_it_passes() {
        check(&good()).unwrap();
        let named = json!({
            "name": "welcome", "category": "MARKETING", "language": "pt_BR",
            "parameter_format": "NAMED",
            "components": [{"type": "BODY", "text": "Hi {{first_name}}, welcome!",
                "example": {"body_text_named_params": [{"param_name": "first_name", "example": "Ana"}]}}],
        });
        check(&named).unwrap();
    }

    #[test]
    fn each_broken_rule_names_its_field() {
        let mut t = good();
        t["name"] = json!("Order Shipped");
        assert_eq!(field_of(t), "name");
        let mut t = good();
        t["category"] = json!("PROMO");
        assert_eq!(field_of(t), "category");
        let mut t = good();
        t["language"] = json!("english");
        assert_eq!(field_of(t), "language");
        let mut t = good();
        t["components"][1]["text"] = json!("{{1}} your order {{2}} has shipped.");
        assert_eq!(
            field_of(t),
            "components[1].text",
            "a body may not start with a parameter"
        );
        let mut t = good();
        t["components"][1]["text"] = json!("Hello {{1}}, order {{3}}.");
        assert_eq!(field_of(t), "components[1].text", "numbered without gaps");
        let mut t = good();
        t["components"][1]["example"] = json!({"body_text": [["Olga"]]});
        assert_eq!(field_of(t), "components[1].example.body_text");
        let mut t = good();
        t["components"][0]["text"] = json!("Order {{1}} of {{2}}");
        assert_eq!(
            field_of(t),
            "components[0].text",
            "one parameter in a header"
        );
        let mut t = good();
        t["components"][2]["text"] = json!("Bye {{1}}");
        assert_eq!(field_of(t), "components[2].text");
        let mut t = good();
        let many: Vec<Value> = (0..11)
            .map(|i| json!({"type": "QUICK_REPLY", "text": format!("Option {i}")}))
            .collect();
        t["components"][3]["buttons"] = json!(many);
        assert_eq!(field_of(t), "components[3].buttons", "too many buttons");
        let mut t = good();
        t["components"][3]["buttons"][0]["text"] = json!("A quick reply far too long to fit");
        assert_eq!(field_of(t), "components[3].buttons[0].text");
        let mut t = good();
        t["components"][3]["buttons"] = json!([
            {"type": "QUICK_REPLY", "text": "Yes"},
            {"type": "PHONE_NUMBER", "text": "Call", "phone_number": "+15550001111"},
            {"type": "QUICK_REPLY", "text": "No"},
        ]);
        assert_eq!(
            field_of(t),
            "components[3].buttons",
            "quick replies grouped"
        );
        let mut t = good();
        t["components"][3]["buttons"][2]["url"] = json!("https://shop.example/{{1}}/track");
        assert_eq!(field_of(t), "components[3].buttons[2].url");
        let mut t = good();
        t["components"] = json!([{"type": "FOOTER", "text": "x"}]);
        assert_eq!(field_of(t), "components", "a body is required");
        let mut t = good();
        t["components"][1]["text"] = json!("Hello {{Name}}.");
        assert_eq!(field_of(t), "components[1].text");
        let mut t = good();
        t["extra"] = json!(1);
        assert_eq!(field_of(t), "extra");
        // Found by fuzzing: an empty key still gets a field to name.
        let mut t = good();
        t[""] = json!([]);
        assert_eq!(field_of(t), "template");
    }
}
