//! The simulated account's message templates: the catalogue every account has, and those the
//! business submits, reviewed as Meta would (a status webhook follows each decision); listed
//! with Meta's cursor paging, and looked up by the sends that name them.

use super::*;

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
}

/// A template as sends and lists see it: the catalogue's or a submitted one.
pub(super) struct KnownTemplate {
    pub(super) category: String,
    pub(super) status: String,
    pub(super) params: usize,
}

/// The distinct `{{…}}` placeholders of a body.
fn placeholders(body: &str) -> usize {
    let mut names: Vec<&str> = Vec::new();
    let mut rest = body;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else { break };
        if !names.contains(&&after[..close]) {
            names.push(&after[..close]);
        }
        rest = &after[close + 2..];
    }
    names.len()
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
            params: t.params(),
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
        })
}

/// A template the simulated WABA has, approved unless said otherwise.
pub(super) struct SimTemplate {
    pub id: &'static str,
    pub name: &'static str,
    pub language: &'static str,
    pub category: &'static str,
    pub status: &'static str,
    /// The body with `{{n}}` placeholders.
    pub body: &'static str,
}

impl SimTemplate {
    fn params(&self) -> usize {
        (1..=9)
            .take_while(|n| self.body.contains(&format!("{{{{{n}}}}}")))
            .count()
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
    },
    SimTemplate {
        id: "1039512467405001",
        name: "order_update",
        language: "en_US",
        category: "UTILITY",
        status: "APPROVED",
        body: "Hi {{1}}, your order {{2}} is on its way. Reply here if you have any questions.",
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
    },
    SimTemplate {
        id: "1039512467405003",
        name: "seasonal_promo",
        language: "en_US",
        category: "MARKETING",
        status: "APPROVED",
        body: "Our sale is on! Use code {{1}} for 25% off every order.",
    },
    SimTemplate {
        id: "1039512467405004",
        name: "follow_up",
        language: "en_US",
        category: "UTILITY",
        status: "REJECTED",
        body: "We have not heard from you in a while, {{1}}.",
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
                json!({
                    "id": t.id, "name": t.name, "language": t.language, "status": t.status,
                    "category": t.category,
                    "components": [{"type": "BODY", "text": t.body}],
                })
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
