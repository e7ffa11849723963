//! A template send: the values a sender gave (`TemplateInput`) checked against the template as
//! Meta lists it (its header, its body's positional or named parameters, its buttons), and the
//! message's components built as the Cloud API takes them, with the text history shows. Also
//! what a sender is told of a template (`MessageTemplate`): which parts take values.
//!
//! Pure: no I/O. Meta's rules for values: text of 1 to 1,024 characters without new lines,
//! tabs or runs of four spaces; a copy code of at most 15 letters and digits; a media header's
//! file as an uploaded media id or an `https` link.

use switchboard_shared::api::{
    MessageTemplate, TemplateButtonInfo, TemplateButtonValue, TemplateHeaderInfo,
    TemplateHeaderValue, TemplateInput,
};

use super::wire::{
    Media, Template, TemplateComponent, TemplateComponentInfo, TemplateInfo, TemplateLanguage,
    TemplateParameter,
};

/// The longest text value WhatsApp takes.
pub const MAX_VALUE_CHARS: usize = 1024;
/// The longest copy code.
const MAX_CODE_CHARS: usize = 15;

fn component<'a>(t: &'a TemplateInfo, kind: &str) -> Option<&'a TemplateComponentInfo> {
    t.components
        .iter()
        .find(|c| c.kind.eq_ignore_ascii_case(kind))
}

/// The distinct `{{…}}` placeholders of a text, in order of first appearance.
pub fn placeholders(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else { break };
        let name = after[..close].trim().to_owned();
        if !names.contains(&name) {
            names.push(name);
        }
        rest = &after[close + 2..];
    }
    names
}

/// Whether the template's parameters are named (`{{order_id}}`) rather than numbered.
fn is_named(t: &TemplateInfo) -> bool {
    t.parameter_format
        .as_deref()
        .is_some_and(|f| f.eq_ignore_ascii_case("NAMED"))
        || placeholders(t.body())
            .iter()
            .any(|p| p.parse::<u32>().is_err())
}

fn header_info(t: &TemplateInfo) -> Option<TemplateHeaderInfo> {
    let h = component(t, "HEADER")?;
    let format = h.format.as_deref().unwrap_or("TEXT").to_ascii_lowercase();
    let takes_value = match format.as_str() {
        "text" => h.text.as_deref().is_some_and(|t| t.contains("{{")),
        _ => true,
    };
    Some(TemplateHeaderInfo {
        format,
        text: h.text.clone(),
        takes_value,
    })
}

fn buttons_info(t: &TemplateInfo) -> Vec<TemplateButtonInfo> {
    component(t, "BUTTONS")
        .map(|c| {
            c.buttons
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    let kind = b.kind.to_ascii_lowercase();
                    let takes_value = match kind.as_str() {
                        "url" => b.url.as_deref().is_some_and(|u| u.contains("{{")),
                        "copy_code" => true,
                        _ => false,
                    };
                    TemplateButtonInfo {
                        index: i.min(u8::MAX as usize) as u8,
                        kind,
                        text: b.text.clone(),
                        url: b.url.clone(),
                        takes_value,
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A template as the API shows it to a sender.
pub fn describe(t: &TemplateInfo) -> MessageTemplate {
    let names = if is_named(t) {
        placeholders(t.body())
    } else {
        Vec::new()
    };
    MessageTemplate {
        name: t.name.clone(),
        language: t.language.clone(),
        category: t.category.to_ascii_lowercase(),
        status: t.status.to_ascii_lowercase(),
        quality: t
            .quality_score
            .as_ref()
            .map(|q| q.score.to_ascii_lowercase()),
        body: t.body().to_owned(),
        params: if names.is_empty() {
            t.body_params()
        } else {
            names.len() as u32
        },
        names,
        header: header_info(t),
        buttons: buttons_info(t),
    }
}

/// A campaign's send for one recipient: their body values in the order of the template's
/// parameters (by name for a template with named ones), and the campaign's header and button
/// values.
pub fn campaign_input(
    templates: &[TemplateInfo],
    template: &switchboard_shared::campaign::TemplateRef,
    values: Vec<String>,
) -> TemplateInput {
    let names = templates
        .iter()
        .find(|t| t.name == template.name && t.language == template.language)
        .filter(|t| is_named(t))
        .map(|t| placeholders(t.body()))
        .unwrap_or_default();
    let (params, named) = if names.is_empty() {
        (values, Default::default())
    } else {
        (Vec::new(), names.into_iter().zip(values).collect())
    };
    TemplateInput {
        name: template.name.clone(),
        language: template.language.clone(),
        params,
        named,
        header: template.header.clone(),
        buttons: template.buttons.clone(),
    }
}

/// A text value as WhatsApp takes it; `what` names it in the refusal.
fn text_value(what: &str, value: &str) -> Result<(), String> {
    if value.trim().is_empty()
        || value.contains(['\n', '\t'])
        || value.contains("    ")
        || value.chars().count() > MAX_VALUE_CHARS
    {
        return Err(format!(
            "{what} must be 1 to {MAX_VALUE_CHARS} characters, with no new lines, tabs or runs \
             of 4 spaces (WhatsApp's rule for template values)"
        ));
    }
    Ok(())
}

/// `text` with each `{{name}}` replaced by its value.
fn fill(text: &str, values: &[(String, String)]) -> String {
    let mut out = text.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{{{name}}}}}", name = name), value);
    }
    out
}

fn text_parameter(text: String, name: Option<String>) -> TemplateParameter {
    TemplateParameter::Text {
        text,
        parameter_name: name,
    }
}

/// The header's component and the text it shows, from the value given.
fn header(
    t: &TemplateInfo,
    named: bool,
    given: Option<TemplateHeaderValue>,
) -> Result<(Option<TemplateComponent>, Option<String>), String> {
    let Some(info) = header_info(t) else {
        return match given {
            Some(_) => Err(format!("the template `{}` has no header", t.name)),
            None => Ok((None, None)),
        };
    };
    let words = info.text.clone();
    if !info.takes_value {
        return match given {
            Some(_) => Err("the template's header takes no value".into()),
            None => Ok((None, words)),
        };
    }
    let media = |kind: &str, id: Option<String>, link: Option<String>| -> Result<Media, String> {
        if info.format != kind {
            return Err(format!(
                "the template's header is {} {}, not {kind}",
                if info.format == "image" { "an" } else { "a" },
                info.format
            ));
        }
        match (id, link) {
            (Some(id), None)
                if !id.is_empty()
                    && id.len() <= 128
                    && id.chars().all(|c| c.is_ascii_alphanumeric()) =>
            {
                Ok(Media {
                    id: Some(id),
                    link: None,
                    caption: None,
                    filename: None,
                })
            }
            (None, Some(link)) if link.starts_with("https://") && link.len() <= 2048 => Ok(Media {
                id: None,
                link: Some(link),
                caption: None,
                filename: None,
            }),
            _ => Err(format!(
                "the header's {kind} is one media id an upload returned, or one https link"
            )),
        }
    };
    let (parameter, shown) = match given {
        None => {
            return Err(format!(
                "the template's {} header needs a value (`header`)",
                info.format
            ))
        }
        Some(TemplateHeaderValue::Text { text }) => {
            if info.format != "text" {
                return Err(format!(
                    "the template's header is {}: give its file, not text",
                    info.format
                ));
            }
            text_value("the header's value", &text)?;
            let name = placeholders(words.as_deref().unwrap_or_default())
                .into_iter()
                .next()
                .unwrap_or_else(|| "1".into());
            let shown = fill(
                words.as_deref().unwrap_or_default(),
                &[(name.clone(), text.clone())],
            );
            (text_parameter(text, named.then_some(name)), Some(shown))
        }
        Some(TemplateHeaderValue::Image { id, link }) => (
            TemplateParameter::Image {
                image: media("image", id, link)?,
            },
            None,
        ),
        Some(TemplateHeaderValue::Video { id, link }) => (
            TemplateParameter::Video {
                video: media("video", id, link)?,
            },
            None,
        ),
        Some(TemplateHeaderValue::Document { id, link, filename }) => {
            let mut file = media("document", id, link)?;
            file.filename =
                filename.map(|f| f.chars().filter(|c| !c.is_control()).take(240).collect());
            (TemplateParameter::Document { document: file }, None)
        }
    };
    Ok((
        Some(TemplateComponent {
            kind: "header".into(),
            sub_type: None,
            index: None,
            parameters: vec![parameter],
        }),
        shown,
    ))
}

/// The buttons' components, from the values given.
fn buttons(
    t: &TemplateInfo,
    given: Vec<TemplateButtonValue>,
) -> Result<Vec<TemplateComponent>, String> {
    let info = buttons_info(t);
    let mut seen = Vec::new();
    for v in &given {
        let Some(b) = info.get(v.index as usize) else {
            return Err(format!(
                "the template has {} buttons: there is no button {}",
                info.len(),
                v.index
            ));
        };
        if seen.contains(&v.index) {
            return Err(format!("button {} is given two values", v.index));
        }
        seen.push(v.index);
        if !b.takes_value && b.kind != "quick_reply" {
            return Err(format!("button {} ({}) takes no value", v.index, b.kind));
        }
    }
    let mut out = Vec::new();
    for b in &info {
        let value = given
            .iter()
            .find(|v| v.index == b.index)
            .map(|v| v.value.clone());
        let parameter = match (b.kind.as_str(), value) {
            ("url", Some(v)) if b.takes_value => {
                if v.is_empty() || v.chars().any(char::is_whitespace) || v.len() > 2000 {
                    return Err(format!(
                        "button {}'s value is the end of its URL: 1 to 2,000 characters, no spaces",
                        b.index
                    ));
                }
                text_parameter(v, None)
            }
            ("copy_code", Some(v)) => {
                if v.is_empty()
                    || v.chars().count() > MAX_CODE_CHARS
                    || !v.chars().all(char::is_alphanumeric)
                {
                    return Err(format!(
                        "button {}'s code must be 1 to {MAX_CODE_CHARS} letters and digits",
                        b.index
                    ));
                }
                TemplateParameter::CouponCode { coupon_code: v }
            }
            ("quick_reply", Some(v)) => {
                if v.is_empty() || v.len() > 1000 {
                    return Err(format!(
                        "button {}'s payload must be 1 to 1,000 characters",
                        b.index
                    ));
                }
                TemplateParameter::Payload { payload: v }
            }
            (_, None) if b.takes_value => {
                return Err(format!(
                    "button {} (\"{}\", {}) needs a value (`buttons`)",
                    b.index, b.text, b.kind
                ))
            }
            _ => continue,
        };
        out.push(TemplateComponent {
            kind: "button".into(),
            sub_type: Some(b.kind.clone()),
            index: Some(serde_json::Value::String(b.index.to_string())),
            parameters: vec![parameter],
        });
    }
    Ok(out)
}

/// Checks the values against the template and builds the message's template and the text
/// history shows (the header's words, then the body's, filled in). `Err` says why not.
pub fn build(t: &TemplateInfo, input: TemplateInput) -> Result<(Template, String), String> {
    let named = is_named(t);
    let (head, header_text) = header(t, named, input.header)?;
    let values: Vec<(String, String)> = if named {
        if !input.params.is_empty() {
            return Err(format!(
                "the template `{}` has named parameters: give them by name (`named`)",
                t.name
            ));
        }
        let names = placeholders(t.body());
        if let Some(extra) = input.named.keys().find(|k| !names.contains(k)) {
            return Err(format!(
                "the template has no parameter `{extra}` (it has {})",
                names.join(", ")
            ));
        }
        names
            .iter()
            .map(|n| match input.named.get(n) {
                Some(v) => Ok((n.clone(), v.clone())),
                None => Err(format!("the template's `{n}` needs a value")),
            })
            .collect::<Result<_, String>>()?
    } else {
        if !input.named.is_empty() {
            return Err(format!(
                "the template `{}` has numbered parameters: give them in order (`params`)",
                t.name
            ));
        }
        let wanted = t.body_params() as usize;
        if input.params.len() != wanted {
            return Err(format!(
                "the template `{}` takes {wanted} values, not {}",
                t.name,
                input.params.len()
            ));
        }
        input
            .params
            .into_iter()
            .enumerate()
            .map(|(i, v)| ((i + 1).to_string(), v))
            .collect()
    };
    for (name, value) in &values {
        let what = if named {
            format!("`{name}`")
        } else {
            format!("value {name}")
        };
        text_value(&what, value)?;
    }
    let body = fill(t.body(), &values);
    let mut components: Vec<TemplateComponent> = head.into_iter().collect();
    if !values.is_empty() {
        components.push(TemplateComponent {
            kind: "body".into(),
            sub_type: None,
            index: None,
            parameters: values
                .into_iter()
                .map(|(name, text)| text_parameter(text, named.then_some(name)))
                .collect(),
        });
    }
    components.extend(buttons(t, input.buttons)?);
    let shown = match header_text {
        Some(h) => format!("{h}\n{body}"),
        None => body,
    };
    Ok((
        Template {
            name: input.name,
            language: TemplateLanguage {
                code: input.language,
                policy: None,
            },
            components,
        },
        shown,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::wire::TemplateButtonWire;
    use serde_json::json;

    fn tracking() -> TemplateInfo {
        serde_json::from_value(json!({
            "id": "1", "name": "delivery_tracking", "language": "en_US", "status": "APPROVED",
            "category": "UTILITY", "parameter_format": "NAMED",
            "quality_score": {"score": "GREEN"},
            "components": [
                {"type": "HEADER", "format": "TEXT", "text": "Order {{order_id}}"},
                {"type": "BODY", "text": "Hi {{customer_name}}, your parcel arrives {{day}}."},
                {"type": "BUTTONS", "buttons": [
                    {"type": "URL", "text": "Track it", "url": "https://track.example.com/{{1}}"},
                    {"type": "QUICK_REPLY", "text": "Change the day"},
                    {"type": "COPY_CODE", "text": "Copy code"},
                    {"type": "PHONE_NUMBER", "text": "Call us"}
                ]}
            ]
        }))
        .unwrap()
    }

    fn input(named: &[(&str, &str)]) -> TemplateInput {
        TemplateInput {
            name: "delivery_tracking".into(),
            language: "en_US".into(),
            named: named
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            header: Some(TemplateHeaderValue::Text {
                text: "A-1042".into(),
            }),
            buttons: vec![
                TemplateButtonValue {
                    index: 0,
                    value: "A-1042".into(),
                },
                TemplateButtonValue {
                    index: 2,
                    value: "SAVE10".into(),
                },
            ],
            ..TemplateInput::default()
        }
    }

    #[test]
    fn a_sender_is_told_which_parts_take_values() {
        let shown = describe(&tracking());
        assert_eq!(shown.names, vec!["customer_name", "day"]);
        assert_eq!(shown.params, 2);
        assert_eq!(shown.quality.as_deref(), Some("green"));
        let header = shown.header.unwrap();
        assert!(header.takes_value && header.format == "text");
        let takes: Vec<bool> = shown.buttons.iter().map(|b| b.takes_value).collect();
        assert_eq!(takes, vec![true, false, true, false]);
    }

    #[test]
    fn named_header_and_button_values_become_metas_components() {
        let (template, shown) = build(
            &tracking(),
            input(&[("customer_name", "Ada"), ("day", "tomorrow")]),
        )
        .unwrap();
        assert_eq!(shown, "Order A-1042\nHi Ada, your parcel arrives tomorrow.");
        assert_eq!(
            serde_json::to_value(&template.components).unwrap(),
            json!([
                {"type": "header", "parameters": [
                    {"type": "text", "text": "A-1042", "parameter_name": "order_id"}]},
                {"type": "body", "parameters": [
                    {"type": "text", "text": "Ada", "parameter_name": "customer_name"},
                    {"type": "text", "text": "tomorrow", "parameter_name": "day"}]},
                {"type": "button", "sub_type": "url", "index": "0", "parameters": [
                    {"type": "text", "text": "A-1042"}]},
                {"type": "button", "sub_type": "copy_code", "index": "2", "parameters": [
                    {"type": "coupon_code", "coupon_code": "SAVE10"}]}
            ])
        );
    }

    #[test]
    fn what_is_missing_or_extra_is_named() {
        let t = tracking();
        let refused = |i: TemplateInput| build(&t, i).unwrap_err();
        assert!(refused(input(&[("customer_name", "Ada")])).contains("`day`"));
        assert!(refused(input(&[
            ("customer_name", "Ada"),
            ("day", "x"),
            ("extra", "y")
        ]))
        .contains("no parameter `extra`"));
        let mut no_header = input(&[("customer_name", "Ada"), ("day", "x")]);
        no_header.header = None;
        assert!(refused(no_header).contains("header needs a value"));
        let mut no_button = input(&[("customer_name", "Ada"), ("day", "x")]);
        no_button.buttons.remove(0);
        assert!(refused(no_button).contains("button 0"));
        let mut phone = input(&[("customer_name", "Ada"), ("day", "x")]);
        phone.buttons.push(TemplateButtonValue {
            index: 3,
            value: "x".into(),
        });
        assert!(refused(phone).contains("takes no value"));
        let mut long_code = input(&[("customer_name", "Ada"), ("day", "x")]);
        long_code.buttons[1].value = "SAVE-TEN-PERCENT".into();
        assert!(refused(long_code).contains("letters and digits"));
        let mut positional = input(&[]);
        positional.params = vec!["Ada".into(), "x".into()];
        assert!(refused(positional).contains("by name"));
    }

    #[test]
    fn a_media_header_takes_a_file_of_its_kind() {
        let mut t = tracking();
        t.components[0] = TemplateComponentInfo {
            kind: "HEADER".into(),
            format: Some("IMAGE".into()),
            text: None,
            buttons: Vec::<TemplateButtonWire>::new(),
        };
        let mut i = input(&[("customer_name", "Ada"), ("day", "x")]);
        i.header = Some(TemplateHeaderValue::Image {
            id: None,
            link: Some("https://cdn.example.com/parcel.jpg".into()),
        });
        let (template, shown) = build(&t, i.clone()).unwrap();
        assert_eq!(
            serde_json::to_value(&template.components[0]).unwrap(),
            json!({"type": "header", "parameters": [
                {"type": "image", "image": {"link": "https://cdn.example.com/parcel.jpg"}}]})
        );
        assert_eq!(shown, "Hi Ada, your parcel arrives x.");
        i.header = Some(TemplateHeaderValue::Video {
            id: Some("123".into()),
            link: None,
        });
        assert!(build(&t, i.clone()).unwrap_err().contains("not video"));
        i.header = Some(TemplateHeaderValue::Image {
            id: None,
            link: Some("http://cdn.example.com/x.jpg".into()),
        });
        assert!(build(&t, i).unwrap_err().contains("https link"));
    }
}
