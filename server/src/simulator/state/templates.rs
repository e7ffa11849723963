//! The simulated account's message templates: the catalogue every account has, and those the
//! business submits, reviewed as Meta would (a status webhook follows each decision); listed
//! with Meta's cursor paging, and looked up by the sends that name them.

use super::*;
use crate::connector::template_send::placeholders as placeholders_of;
use crate::connector::wire::Template;

/// A template the business submitted, reviewed like Meta does (see [`SimState::review`]).
#[derive(Clone, Debug)]
pub(super) struct CreatedTemplate {
    id: String,
    waba_id: String,
    name: String,
    language: String,
    category: String,
    status: String,
    /// The body with its `{{1}}` or `{{name}}` placeholders.
    body: String,
    components: Value,
    /// `POSITIONAL` or `NAMED`.
    parameter_format: String,
}

/// A template as sends and lists see it: the catalogue's or a submitted one.
pub(super) struct KnownTemplate {
    pub(super) category: String,
    pub(super) status: String,
    pub(super) params: usize,
    /// Meta's `components` (header, body, footer, buttons).
    pub(super) components: Value,
}

/// How many distinct `{{…}}` placeholders a body has.
fn placeholders(body: &str) -> usize {
    placeholders_of(body).len()
}

/// The template `name` in `language`: the catalogue's, else one the business submitted.
pub(super) fn known_template(inner: &Inner, name: &str, language: &str) -> Option<KnownTemplate> {
    if let Some(t) = TEMPLATES
        .iter()
        .find(|t| t.name == name && t.language == language)
    {
        return Some(KnownTemplate {
            category: t.category.to_owned(),
            status: t.status.to_owned(),
            params: placeholders(t.body),
            components: t.components(),
        });
    }
    inner
        .created
        .iter()
        .find(|t| t.name == name && t.language == language)
        .map(|t| KnownTemplate {
            category: t.category.clone(),
            status: t.status.clone(),
            params: placeholders(&t.body),
            components: t.components.clone(),
        })
}

type SendRefusal = (i64, &'static str, String);

fn mismatch(details: String) -> SendRefusal {
    (
        132000,
        "Number of parameters does not match the expected number of params",
        details,
    )
}

fn missing(details: String) -> SendRefusal {
    (131008, "Required parameter is missing", details)
}

/// A template send's header, named body values and buttons, checked against the template as
/// Meta does: a header with a parameter (or a media header) needs its value, of the header's
/// kind; a named template's values carry the names it has, a positional one's none; a URL
/// button with a parameter needs its value, and so does a copy-code button.
pub(super) fn check_parts(known: &KnownTemplate, template: &Template) -> Result<(), SendRefusal> {
    let parts = known.components.as_array().cloned().unwrap_or_default();
    let part = |kind: &str| {
        parts
            .iter()
            .find(|c| {
                c["type"]
                    .as_str()
                    .is_some_and(|t| t.eq_ignore_ascii_case(kind))
            })
            .cloned()
    };
    let sent = |kind: &str| template.components.iter().find(|c| c.kind == kind);
    // The header.
    let header_params = sent("header").map_or(&[][..], |c| c.parameters.as_slice());
    match part("HEADER") {
        Some(h) => {
            let format = h["format"].as_str().unwrap_or("TEXT").to_ascii_uppercase();
            let text = h["text"].as_str().unwrap_or_default();
            let wanted = match format.as_str() {
                "TEXT" => placeholders_of(text).len().min(1),
                _ => 1,
            };
            if header_params.len() != wanted {
                return Err(mismatch(format!(
                    "header: number of parameters ({}) does not match the expected number of params ({wanted})",
                    header_params.len()
                )));
            }
            if let Some(p) = header_params.first() {
                let fits = match (format.as_str(), p) {
                    ("TEXT", TemplateParameter::Text { .. }) => true,
                    ("IMAGE", TemplateParameter::Image { image: m })
                    | ("VIDEO", TemplateParameter::Video { video: m })
                    | ("DOCUMENT", TemplateParameter::Document { document: m }) => {
                        m.id.is_some() != m.link.is_some()
                    }
                    _ => false,
                };
                if !fits {
                    return Err((
                        132012,
                        "Parameter format does not match format in the created template",
                        format!("header: the template's header is {format}"),
                    ));
                }
            }
        }
        None if !header_params.is_empty() => {
            return Err(mismatch("header: the template has no header".into()))
        }
        None => {}
    }
    // Named or positional body values.
    let body = part("BODY");
    let names = placeholders_of(
        body.as_ref()
            .and_then(|b| b["text"].as_str())
            .unwrap_or_default(),
    );
    let named = names.iter().any(|n| n.parse::<u32>().is_err());
    if let Some(b) = sent("body") {
        for p in &b.parameters {
            let name = match p {
                TemplateParameter::Text { parameter_name, .. }
                | TemplateParameter::Currency { parameter_name, .. }
                | TemplateParameter::DateTime { parameter_name, .. } => parameter_name.as_deref(),
                _ => None,
            };
            match (named, name) {
                (true, Some(n)) if names.iter().any(|m| m == n) => {}
                (true, _) => {
                    return Err((
                        132000,
                        "Number of parameters does not match the expected number of params",
                        format!(
                            "body: each parameter needs a parameter_name of {}",
                            names.join(", ")
                        ),
                    ))
                }
                (false, Some(_)) => {
                    return Err((
                        100,
                        "Invalid parameter",
                        "body: parameter_name is only for templates with named parameters".into(),
                    ))
                }
                (false, None) => {}
            }
        }
    }
    // Buttons that take a value.
    let buttons = part("BUTTONS")
        .and_then(|b| b["buttons"].as_array().cloned())
        .unwrap_or_default();
    for (i, b) in buttons.iter().enumerate() {
        let kind = b["type"].as_str().unwrap_or_default().to_ascii_uppercase();
        let needs = match kind.as_str() {
            "URL" => b["url"].as_str().is_some_and(|u| u.contains("{{")),
            "COPY_CODE" => true,
            _ => false,
        };
        let given = template.components.iter().find(|c| {
            c.kind == "button"
                && c.index.as_ref().is_some_and(|x| {
                    x.as_str()
                        .map(str::to_owned)
                        .or_else(|| x.as_u64().map(|n| n.to_string()))
                        == Some(i.to_string())
                })
        });
        match (needs, given) {
            (true, None) => {
                return Err(missing(format!(
                    "buttons: button at index {i} of type {kind} requires a parameter"
                )))
            }
            (true, Some(c)) => {
                let ok = match kind.as_str() {
                    "URL" => matches!(c.parameters.as_slice(), [TemplateParameter::Text { .. }]),
                    _ => matches!(
                        c.parameters.as_slice(),
                        [TemplateParameter::CouponCode { .. }]
                    ),
                };
                if !ok {
                    return Err(mismatch(format!(
                        "buttons: button at index {i} of type {kind} takes one parameter of its kind"
                    )));
                }
            }
            _ => {}
        }
    }
    if let Some(c) = template.components.iter().find(|c| {
        c.kind == "button"
            && c.index
                .as_ref()
                .and_then(|x| {
                    x.as_str()
                        .and_then(|s| s.parse::<usize>().ok())
                        .or(x.as_u64().map(|n| n as usize))
                })
                .is_none_or(|i| i >= buttons.len())
    }) {
        return Err(mismatch(format!(
            "buttons: the template has {} buttons, not one at index {:?}",
            buttons.len(),
            c.index
        )));
    }
    Ok(())
}

/// A template the simulated WABA has, approved unless said otherwise.
pub(super) struct SimTemplate {
    pub id: &'static str,
    pub name: &'static str,
    pub language: &'static str,
    pub category: &'static str,
    pub status: &'static str,
    /// The body with `{{n}}` (or, with `named`, `{{name}}`) placeholders.
    pub body: &'static str,
    /// A text header, if any.
    pub header: Option<&'static str>,
    /// Buttons: Meta's type (`URL`, `QUICK_REPLY`, …), text, and a URL button's address.
    pub buttons: &'static [(&'static str, &'static str, Option<&'static str>)],
    /// Parameters named (`{{order_id}}`) rather than numbered.
    pub named: bool,
    /// Meta's quality rating.
    pub quality: &'static str,
}

impl SimTemplate {
    /// Its components as Meta lists them.
    fn components(&self) -> Value {
        let mut components = Vec::new();
        if let Some(header) = self.header {
            components.push(json!({"type": "HEADER", "format": "TEXT", "text": header}));
        }
        components.push(json!({"type": "BODY", "text": self.body}));
        if !self.buttons.is_empty() {
            let buttons: Vec<Value> = self
                .buttons
                .iter()
                .map(|(kind, text, url)| match url {
                    Some(url) => json!({"type": kind, "text": text, "url": url}),
                    None => json!({"type": kind, "text": text}),
                })
                .collect();
            components.push(json!({"type": "BUTTONS", "buttons": buttons}));
        }
        Value::Array(components)
    }
}

/// How long the simulated review of a submitted template takes.
const TEMPLATE_REVIEW: Duration = Duration::from_millis(200);

/// The templates every simulated WABA has.
pub(super) const TEMPLATES: &[SimTemplate] = &[
    SimTemplate {
        id: "1039512467405000",
        name: "hello_world",
        language: "en_US",
        category: "UTILITY",
        status: "APPROVED",
        body: "Welcome and congratulations!! This message demonstrates your ability to send a \
               WhatsApp message notification from the Cloud API, hosted by Meta.",
        header: None,
        buttons: &[],
        named: false,
        quality: "GREEN",
    },
    SimTemplate {
        id: "1039512467405001",
        name: "order_update",
        language: "en_US",
        category: "UTILITY",
        status: "APPROVED",
        body: "Hi {{1}}, your order {{2}} is on its way. Reply here if you have any questions.",
        header: None,
        buttons: &[],
        named: false,
        quality: "GREEN",
    },
    SimTemplate {
        id: "1039512467405002",
        name: "order_update",
        language: "ru",
        category: "UTILITY",
        status: "APPROVED",
        body:
            "Здравствуйте, {{1}}! Ваш заказ {{2}} уже в пути. Если есть вопросы, ответьте на это \
               сообщение.",
        header: None,
        buttons: &[],
        named: false,
        quality: "GREEN",
    },
    SimTemplate {
        id: "1039512467405003",
        name: "seasonal_promo",
        language: "en_US",
        category: "MARKETING",
        status: "APPROVED",
        body: "Our sale is on! Use code {{1}} for 25% off every order.",
        header: None,
        buttons: &[],
        named: false,
        quality: "GREEN",
    },
    SimTemplate {
        id: "1039512467405004",
        name: "follow_up",
        language: "en_US",
        category: "UTILITY",
        status: "REJECTED",
        body: "We have not heard from you in a while, {{1}}.",
        header: None,
        buttons: &[],
        named: false,
        quality: "GREEN",
    },
    SimTemplate {
        id: "1039512467405005",
        name: "delivery_tracking",
        language: "en_US",
        category: "UTILITY",
        status: "APPROVED",
        body: "Hi {{customer_name}}, your parcel is with the courier and arrives {{day}}.",
        header: Some("Order {{order_id}}"),
        buttons: &[
            ("URL", "Track it", Some("https://track.example.com/{{1}}")),
            ("QUICK_REPLY", "Change the day", None),
        ],
        named: true,
        quality: "GREEN",
    },
];

impl SimState {
    /// `GET /{version}/{waba_id}/message_templates?limit=&after=`: the templates, paged like
    /// Meta's cursor paging (`after` is an opaque position).
    pub fn message_templates(
        &self,
        version: &str,
        waba_id: &str,
        authorization: Option<&str>,
        limit: usize,
        after: Option<&str>,
    ) -> Result<Value, (u16, Value)> {
        let Some(number) = self.config.numbers.iter().find(|n| n.waba_id == waba_id) else {
            return Err((400, unknown_object(waba_id)));
        };
        self.authorize(number, authorization)
            .map_err(|body| (401, body))?;
        let start = after.and_then(|a| a.parse::<usize>().ok()).unwrap_or(0);
        let limit = limit.clamp(1, 100);
        let mut all: Vec<Value> = TEMPLATES
            .iter()
            .map(|t| {
                let mut listed = json!({
                    "id": t.id, "name": t.name, "language": t.language, "status": t.status,
                    "category": t.category, "components": t.components(),
                    "quality_score": {"score": t.quality},
                });
                if t.named {
                    listed["parameter_format"] = json!("NAMED");
                }
                listed
            })
            .collect();
        all.extend(
            self.lock()
                .created
                .iter()
                .filter(|t| t.waba_id == waba_id)
                .map(|t| {
                    json!({
                        "id": t.id, "name": t.name, "language": t.language, "status": t.status,
                        "category": t.category, "components": t.components,
                        "parameter_format": t.parameter_format,
                        // Meta rates a template once customers have seen it.
                        "quality_score": {"score": "UNKNOWN"},
                    })
                }),
        );
        let total = all.len();
        let page: Vec<Value> = all.into_iter().skip(start).take(limit).collect();
        let end = start + page.len();
        let mut paging =
            json!({"cursors": {"before": start.to_string(), "after": end.to_string()}});
        if end < total {
            let base = self.base_url.as_str().trim_end_matches('/');
            paging["next"] = json!(format!(
                "{base}/{version}/{waba_id}/message_templates?limit={limit}&after={end}"
            ));
        }
        Ok(json!({"data": page, "paging": paging}))
    }

    /// `POST /{version}/{waba_id}/message_templates`: takes a template for review, as Meta does
    /// (`PENDING`, then a `message_template_status_update` webhook; see [`SimState::review`]).
    /// The same name and language twice is refused, as at Meta.
    pub fn create_template(
        self: &Arc<Self>,
        waba_id: &str,
        authorization: Option<&str>,
        template: &Value,
    ) -> Result<Value, (u16, Value)> {
        let Some(number) = self.config.numbers.iter().find(|n| n.waba_id == waba_id) else {
            return Err((400, unknown_object(waba_id)));
        };
        self.authorize(number, authorization)
            .map_err(|body| (401, body))?;
        let text = |key: &str| template[key].as_str().unwrap_or_default().to_owned();
        let (name, language, category) = (text("name"), text("language"), text("category"));
        if name.is_empty() || language.is_empty() || category.is_empty() {
            return Err((
                400,
                graph_error(
                    100,
                    "Invalid parameter",
                    "name, language and category are required",
                ),
            ));
        }
        let body = template["components"]
            .as_array()
            .and_then(|c| {
                c.iter().find(|c| {
                    c["type"]
                        .as_str()
                        .is_some_and(|t| t.eq_ignore_ascii_case("body"))
                })
            })
            .and_then(|b| b["text"].as_str())
            .unwrap_or_default()
            .to_owned();
        let mut inner = self.lock();
        let exists = TEMPLATES
            .iter()
            .any(|t| t.name == name && t.language == language)
            || inner
                .created
                .iter()
                .any(|t| t.waba_id == waba_id && t.name == name && t.language == language);
        if exists {
            return Err((
                400,
                graph_error(
                    100,
                    "Invalid parameter",
                    &format!("Content in this language already exists: {name} ({language})"),
                ),
            ));
        }
        let id = format!("{}", 1_039_512_467_500_000u64 + inner.created.len() as u64);
        inner.created.push(CreatedTemplate {
            id: id.clone(),
            waba_id: waba_id.to_owned(),
            name,
            language,
            category: category.clone(),
            status: "PENDING".into(),
            body,
            components: template["components"].clone(),
            parameter_format: template["parameter_format"]
                .as_str()
                .unwrap_or("POSITIONAL")
                .to_ascii_uppercase(),
        });
        drop(inner);
        let this = Arc::clone(self);
        let (number, template_id) = (number.phone_number_id.clone(), id.clone());
        tokio::spawn(async move {
            // Meta reviews in minutes to hours; the simulator, at once.
            tokio::time::sleep(TEMPLATE_REVIEW).await;
            this.review(&number, &template_id);
        });
        Ok(json!({"id": id, "status": "PENDING", "category": category}))
    }

    /// Meta's review, modelled: a template whose body promises something "guaranteed" is
    /// rejected (`ABUSIVE_CONTENT`), the rest approved; the status webhook follows.
    fn review(&self, number: &str, template_id: &str) {
        let decided = {
            let mut inner = self.lock();
            let Some(t) = inner.created.iter_mut().find(|t| t.id == template_id) else {
                return;
            };
            let rejected = t.body.to_lowercase().contains("guaranteed");
            t.status = if rejected { "REJECTED" } else { "APPROVED" }.into();
            json!({
                "event": t.status,
                "message_template_id": t.id.parse::<u64>().unwrap_or_default(),
                "message_template_name": t.name,
                "message_template_language": t.language,
                "message_template_category": t.category,
                "reason": if rejected { "ABUSIVE_CONTENT" } else { "NONE" },
            })
        };
        self.account_event(number, "message_template_status_update", decided);
    }
}

pub(super) fn template_category(content: &Content, inner: &Inner) -> Option<&'static str> {
    match content {
        Content::Template { template } => {
            known_template(inner, &template.name, &template.language.code).map(|t| {
                match t.category.as_str() {
                    "MARKETING" => "marketing",
                    "AUTHENTICATION" => "authentication",
                    _ => "utility",
                }
            })
        }
        _ => None,
    }
}
