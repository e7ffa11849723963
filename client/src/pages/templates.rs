//! Message templates: each number's templates with Meta's review status, and a form that makes
//! one as Meta's API takes it (name, category, language, a text header, the body with positional
//! `{{1}}` or named `{{first_name}}` parameters and an example for each, a footer, and buttons:
//! quick replies, a link, a phone number, a code to copy). The server checks Meta's rules and
//! names the field it refuses; the list refreshes while a template waits for review. Part of
//! the campaigns chunk.

use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::{json, Value};
use switchboard_shared::api::Page;
use switchboard_shared::campaign::{NewTemplate, SenderTemplates, SubmittedTemplate};
use switchboard_shared::ids::PhoneNumberId;

use crate::app::App;
use crate::i18n::T;
use crate::net;

const LIST: &str = "/api/v1/templates?status=all";

#[component]
pub(crate) fn TemplatesView(back: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let app = expect_context::<App>();
    let senders = RwSignal::new(Vec::<SenderTemplates>::new());
    let load = move || {
        spawn_local(async move {
            match net::get::<Page<SenderTemplates>>(LIST).await {
                Ok(page) => senders.set(page.items),
                Err(e) => app.fail(e.message),
            }
        })
    };
    load();
    // While a template waits for Meta's review, the list is read again every 2 s.
    if let Ok(handle) = set_interval_with_handle(
        move || {
            let pending = senders.with_untracked(|s| {
                s.iter()
                    .any(|s| s.templates.iter().any(|t| t.status == "pending"))
            });
            if pending {
                load();
            }
        },
        std::time::Duration::from_secs(2),
    ) {
        on_cleanup(move || handle.clear());
    }
    let number = RwSignal::new(String::new());
    let [name, language, category, header, body, footer, quick, url_text, url, phone_text, phone, code] =
        std::array::from_fn(|_| RwSignal::new(String::new()));
    language.set("en_US".into());
    category.set("UTILITY".into());
    // One example per parameter of the body, in the order they first appear.
    let examples = RwSignal::new(Vec::<(String, RwSignal<String>)>::new());
    Effect::new(move |_| {
        let found: Vec<String> = body.with(|b| parameters(b));
        let kept = examples.get_untracked();
        examples.set(
            found
                .into_iter()
                .map(|p| {
                    let value = kept
                        .iter()
                        .find(|(k, _)| *k == p)
                        .map(|(_, v)| *v)
                        .unwrap_or_else(|| RwSignal::new(String::new()));
                    (p, value)
                })
                .collect(),
        );
    });
    let submit = move |e: ev::SubmitEvent| {
        e.prevent_default();
        let from = number.get_untracked();
        let from = if from.is_empty() {
            senders.with_untracked(|s| {
                s.first()
                    .map(|s| s.number.phone_number_id.to_string())
                    .unwrap_or_default()
            })
        } else {
            from
        };
        let text = |s: RwSignal<String>| s.get_untracked().trim().to_owned();
        let examples: Vec<(String, String)> = examples
            .get_untracked()
            .into_iter()
            .map(|(k, v)| (k, v.get_untracked()))
            .collect();
        let template = build(Draft {
            name: text(name),
            language: text(language),
            category: text(category),
            header: text(header),
            body: text(body),
            examples,
            footer: text(footer),
            quick: text(quick),
            url: (text(url_text), text(url)),
            phone: (text(phone_text), text(phone)),
            code: text(code),
        });
        let input = NewTemplate {
            number: PhoneNumberId::from(from),
            template,
        };
        spawn_local(async move {
            match app
                .write::<SubmittedTemplate, _>("POST", "/api/v1/templates", &input)
                .await
            {
                Ok(_) => {
                    for s in [
                        name, header, body, footer, quick, url_text, url, phone_text, phone, code,
                    ] {
                        s.set(String::new());
                    }
                    load();
                }
                Err(e) => app.fail(e.message),
            }
        });
    };
    let input = |label: T, sig: RwSignal<String>, field: &'static str| {
        view! { <label>{app.text(label)}<input type="text" name=field bind:value=sig autocomplete="off"/></label> }
    };
    view! {
        <div class="toolbar"><button class="secondary" on:click=move |_| back()>{app.text(T::Back)}</button></div>
        <form class="card template-form" on:submit=submit>
            <label>{app.text(T::Number)}<select bind:value=number>
                {move || senders.get().into_iter().map(|s| view! {
                    <option value=s.number.phone_number_id.to_string()>{format!("+{}", s.number.display_phone_number)}</option>
                }).collect_view()}
            </select></label>
            {input(T::TemplateName, name, "name")}
            {input(T::Language, language, "language")}
            <label>{app.text(T::Category)}<select name="category" bind:value=category>
                <option value="UTILITY">"UTILITY"</option>
                <option value="MARKETING">"MARKETING"</option>
                <option value="AUTHENTICATION">"AUTHENTICATION"</option>
            </select></label>
            {input(T::Header, header, "header")}
            <label>{app.text(T::TemplateBody)}<textarea name="body" rows="3" required bind:value=body
                placeholder="Hi {{1}}, your order {{2}} ships today."></textarea></label>
            {move || examples.get().into_iter().map(|(param, value)| view! {
                <label>{app.text(T::ExampleFor)}" {{"{param.clone()}"}}"<input type="text" name=format!("example-{param}") required bind:value=value/></label>
            }).collect_view()}
            {input(T::Footer, footer, "footer")}
            {input(T::QuickReplies, quick, "quick")}
            {input(T::LinkButton, url_text, "url_text")}
            {input(T::LinkUrl, url, "url")}
            {input(T::PhoneButton, phone_text, "phone_text")}
            {input(T::PhoneNumber, phone, "phone")}
            {input(T::CopyCode, code, "code")}
            <button class="primary" type="submit">{app.text(T::SubmitTemplate)}</button>
        </form>
        {move || senders.get().into_iter().map(|s| view! {
            <h2>{format!("+{}", s.number.display_phone_number)}</h2>
            {s.error.map(|e| view! { <p class="hint">{e}</p> })}
            <table class="templates">
                <thead><tr><th>{app.text(T::TemplateName)}</th><th>{app.text(T::Language)}</th><th>{app.text(T::Category)}</th><th>{app.text(T::State)}</th><th>{app.text(T::TemplateQuality)}</th><th>{app.text(T::TemplateBody)}</th></tr></thead>
                <tbody>
                    {s.templates.into_iter().map(|t| view! {
                        <tr data-template=t.name.clone()><td>{t.name.clone()}</td><td>{t.language.clone()}</td><td>{t.category.clone()}</td>
                        <td class=format!("template-status {}", t.status)>{t.status.clone()}</td>
                        <td class=format!("template-quality {}", t.quality.clone().unwrap_or_default())>{t.quality.clone().unwrap_or_default()}</td>
                        <td class="sub">{t.body.clone()}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
        }).collect_view()}
    }
}

/// The distinct `{{…}}` parameters of a text, in the order they first appear.
fn parameters(text: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for p in switchboard_shared::replies::variables(text) {
        if !p.is_empty() && !found.iter().any(|f| f == p) {
            found.push(p.to_owned());
        }
    }
    found
}

/// What the form holds.
struct Draft {
    name: String,
    language: String,
    category: String,
    header: String,
    body: String,
    examples: Vec<(String, String)>,
    footer: String,
    /// Quick replies, comma-separated.
    quick: String,
    url: (String, String),
    phone: (String, String),
    code: String,
}

/// The template as Meta's API takes it. Parameters are named when any is not a number.
fn build(d: Draft) -> Value {
    let named = d.examples.iter().any(|(k, _)| k.parse::<u32>().is_err());
    let mut components = Vec::new();
    if !d.header.is_empty() {
        components.push(json!({"type": "HEADER", "format": "TEXT", "text": d.header}));
    }
    let mut body = json!({"type": "BODY", "text": d.body});
    if !d.examples.is_empty() {
        body["example"] = if named {
            json!({"body_text_named_params": d.examples.iter()
                .map(|(k, v)| json!({"param_name": k, "example": v})).collect::<Vec<_>>()})
        } else {
            json!({"body_text": [d.examples.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>()]})
        };
    }
    components.push(body);
    if !d.footer.is_empty() {
        components.push(json!({"type": "FOOTER", "text": d.footer}));
    }
    let mut buttons: Vec<Value> = d
        .quick
        .split(',')
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(|q| json!({"type": "QUICK_REPLY", "text": q}))
        .collect();
    if !d.url.1.is_empty() {
        buttons.push(json!({"type": "URL", "text": d.url.0, "url": d.url.1}));
    }
    if !d.phone.1.is_empty() {
        buttons.push(json!({"type": "PHONE_NUMBER", "text": d.phone.0, "phone_number": d.phone.1}));
    }
    if !d.code.is_empty() {
        buttons.push(json!({"type": "COPY_CODE", "example": d.code}));
    }
    if !buttons.is_empty() {
        components.push(json!({"type": "BUTTONS", "buttons": buttons}));
    }
    let mut template = json!({
        "name": d.name, "language": d.language, "category": d.category, "components": components,
    });
    if named {
        template["parameter_format"] = json!("NAMED");
    }
    template
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_becomes_metas_template() {
        let t = build(Draft {
            name: "order_update".into(),
            language: "en_US".into(),
            category: "UTILITY".into(),
            header: "Your order".into(),
            body: "Hi {{1}}, order {{2}} ships today.".into(),
            examples: vec![("1".into(), "Olga".into()), ("2".into(), "#1042".into())],
            footer: String::new(),
            quick: "Thanks, Where is it?".into(),
            url: (String::new(), String::new()),
            phone: ("Call us".into(), "+15550001111".into()),
            code: String::new(),
        });
        assert_eq!(
            t["components"][1]["example"]["body_text"],
            json!([["Olga", "#1042"]])
        );
        assert_eq!(t["components"][2]["buttons"][1]["text"], "Where is it?");
        assert_eq!(t["components"][2]["buttons"][2]["type"], "PHONE_NUMBER");
        assert!(t.get("parameter_format").is_none());
        let named = build(Draft {
            name: "n".into(),
            language: "en_US".into(),
            category: "UTILITY".into(),
            header: String::new(),
            body: "Hi {{first_name}}".into(),
            examples: vec![("first_name".into(), "Olga".into())],
            footer: String::new(),
            quick: String::new(),
            url: (String::new(), String::new()),
            phone: (String::new(), String::new()),
            code: String::new(),
        });
        assert_eq!(named["parameter_format"], "NAMED");
        assert_eq!(
            named["components"][0]["example"]["body_text_named_params"][0]["param_name"],
            "first_name"
        );
        assert_eq!(parameters("{{2}} {{1}} {{2}}"), ["2", "1"]);
    }
}
