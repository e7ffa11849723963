//! A template being filled in the composer: the values its body takes (in order, or by name),
//! its header's (a text value, or a media header's `https` link) and its buttons', what is
//! still missing, the preview the agent sees, and the request that goes out. Plain Rust, tested
//! on the host.

use switchboard_shared::api::{
    MessageTemplate, TemplateButtonValue, TemplateHeaderValue, TemplateInput,
};

/// What the agent typed for one template.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TemplateDraft {
    /// The body's values: by position, or in the order of `MessageTemplate::names`.
    pub body: Vec<String>,
    /// The header's value, when it takes one.
    pub header: String,
    /// Each button's value (empty for those that take none).
    pub buttons: Vec<String>,
}

/// The label of the body's value `i`: its name, or its number.
pub fn body_label(t: &MessageTemplate, i: usize) -> String {
    t.names
        .get(i)
        .cloned()
        .unwrap_or_else(|| (i + 1).to_string())
}

impl TemplateDraft {
    /// An empty draft with a place for every value the template takes.
    pub fn for_template(t: &MessageTemplate) -> Self {
        Self {
            body: vec![String::new(); t.params as usize],
            header: String::new(),
            buttons: vec![String::new(); t.buttons.len()],
        }
    }

    fn header_takes_value(t: &MessageTemplate) -> bool {
        t.header.as_ref().is_some_and(|h| h.takes_value)
    }

    /// Whether every value the template needs is there.
    pub fn complete(&self, t: &MessageTemplate) -> bool {
        let header_ok = !Self::header_takes_value(t) || !self.header.trim().is_empty();
        let buttons_ok = t.buttons.iter().all(|b| {
            !b.takes_value
                || self
                    .buttons
                    .get(b.index as usize)
                    .is_some_and(|v| !v.trim().is_empty())
        });
        header_ok && buttons_ok && self.body.iter().all(|v| !v.trim().is_empty())
    }

    /// What the customer will read, as far as it is filled in.
    pub fn preview(&self, t: &MessageTemplate) -> String {
        let fill = |text: &str, values: &[(String, &String)]| {
            let mut out = text.to_owned();
            for (name, value) in values {
                if !value.is_empty() {
                    out = out.replace(&format!("{{{{{name}}}}}"), value);
                }
            }
            out
        };
        let values: Vec<(String, &String)> = self
            .body
            .iter()
            .enumerate()
            .map(|(i, v)| (body_label(t, i), v))
            .collect();
        let body = fill(&t.body, &values);
        match t.header.as_ref() {
            Some(h) if h.format == "text" => {
                let words = h.text.clone().unwrap_or_default();
                let header = match (words.find("{{"), words.find("}}")) {
                    (Some(a), Some(b)) if a < b && !self.header.is_empty() => {
                        format!("{}{}{}", &words[..a], self.header, &words[b + 2..])
                    }
                    _ => words,
                };
                format!("{header}\n{body}")
            }
            _ => body,
        }
    }

    /// The request for the server.
    pub fn input(&self, t: &MessageTemplate) -> TemplateInput {
        let (params, named) = if t.names.is_empty() {
            (self.body.clone(), Default::default())
        } else {
            (
                Vec::new(),
                t.names
                    .iter()
                    .cloned()
                    .zip(self.body.iter().cloned())
                    .collect(),
            )
        };
        let header = t.header.as_ref().filter(|h| h.takes_value).map(|h| {
            let link = Some(self.header.trim().to_owned());
            match h.format.as_str() {
                "image" => TemplateHeaderValue::Image { id: None, link },
                "video" => TemplateHeaderValue::Video { id: None, link },
                "document" => TemplateHeaderValue::Document {
                    id: None,
                    link,
                    filename: None,
                },
                _ => TemplateHeaderValue::Text {
                    text: self.header.clone(),
                },
            }
        });
        let buttons = t
            .buttons
            .iter()
            .filter(|b| b.takes_value)
            .filter_map(|b| {
                let value = self.buttons.get(b.index as usize)?.trim().to_owned();
                (!value.is_empty()).then_some(TemplateButtonValue {
                    index: b.index,
                    value,
                })
            })
            .collect();
        TemplateInput {
            name: t.name.clone(),
            language: t.language.clone(),
            params,
            named,
            header,
            buttons,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_shared::api::{TemplateButtonInfo, TemplateHeaderInfo};

    fn tracking() -> MessageTemplate {
        MessageTemplate {
            name: "delivery_tracking".into(),
            language: "en_US".into(),
            category: "utility".into(),
            status: "approved".into(),
            quality: Some("green".into()),
            body: "Hi {{customer_name}}, it arrives {{day}}.".into(),
            params: 2,
            names: vec!["customer_name".into(), "day".into()],
            header: Some(TemplateHeaderInfo {
                format: "text".into(),
                text: Some("Order {{order_id}}".into()),
                takes_value: true,
            }),
            buttons: vec![
                TemplateButtonInfo {
                    index: 0,
                    kind: "url".into(),
                    text: "Track it".into(),
                    url: Some("https://track.example.com/{{1}}".into()),
                    takes_value: true,
                },
                TemplateButtonInfo {
                    index: 1,
                    kind: "quick_reply".into(),
                    text: "Change the day".into(),
                    url: None,
                    takes_value: false,
                },
            ],
        }
    }

    #[test]
    fn a_named_template_fills_its_header_body_and_button() {
        let t = tracking();
        let mut d = TemplateDraft::for_template(&t);
        assert!(!d.complete(&t));
        d.body = vec!["Olga".into(), "tomorrow".into()];
        d.header = "A-1042".into();
        assert!(!d.complete(&t), "the URL button's value is missing");
        d.buttons[0] = "A-1042".into();
        assert!(d.complete(&t));
        assert_eq!(d.preview(&t), "Order A-1042\nHi Olga, it arrives tomorrow.");
        let input = d.input(&t);
        assert!(input.params.is_empty());
        assert_eq!(input.named["day"], "tomorrow");
        assert_eq!(
            input.header,
            Some(TemplateHeaderValue::Text {
                text: "A-1042".into()
            })
        );
        assert_eq!(
            input.buttons,
            vec![TemplateButtonValue {
                index: 0,
                value: "A-1042".into()
            }]
        );
    }

    #[test]
    fn a_positional_template_sends_its_values_in_order() {
        let t = MessageTemplate {
            names: Vec::new(),
            header: None,
            buttons: Vec::new(),
            body: "Hi {{1}}, order {{2}}.".into(),
            ..tracking()
        };
        let mut d = TemplateDraft::for_template(&t);
        d.body = vec!["Ann".into(), "A-1".into()];
        assert_eq!(d.preview(&t), "Hi Ann, order A-1.");
        let input = d.input(&t);
        assert_eq!(input.params, vec!["Ann", "A-1"]);
        assert!(input.named.is_empty() && input.header.is_none() && input.buttons.is_empty());
    }
}
