//! The CRM card in a conversation's side panel: the fields the workspace's connector maps from
//! its CRM, as the server fetched them (within the connector's budget, or the cached copy with
//! its time). Shows nothing when the workspace has no connector. The composer never waits for it:
//! the card loads on its own after the panel opens.

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchboard_shared::crm::{CrmCard, CrmState};
use switchboard_shared::ids::ConversationId;

use crate::app::App;
use crate::i18n::T;
use crate::net;

#[component]
pub(crate) fn CrmCardView(id: ConversationId) -> impl IntoView {
    let app = expect_context::<App>();
    let card = RwSignal::new(None::<CrmCard>);
    let path = format!("/api/v1/conversations/{id}/crm");
    spawn_local(async move {
        if let Ok(c) = net::get::<CrmCard>(&path).await {
            card.set(Some(c));
        }
    });
    move || {
        let c = card.get()?;
        if c.state == CrmState::NotConfigured {
            return None;
        }
        let status = match (c.state, c.fetched_at) {
            (CrmState::Fresh, Some(at)) => Some((T::CrmFetchedAt, at)),
            (CrmState::Stale, Some(at)) => Some((T::CrmCachedAt, at)),
            _ => None,
        };
        let stale = c.state == CrmState::Stale;
        let unavailable = c.state == CrmState::Unavailable;
        Some(view! {
            <section class="crm-card" class:stale=stale aria-label=app.text(T::CrmCard)>
                <h2>{app.text(T::CrmCard)}</h2>
                {status.map(|(label, at)| view! {
                    <p class="hint crm-age">{app.text(label)}" "{app.time(at)}</p>
                })}
                {unavailable.then(|| view! {
                    <p class="hint crm-error" role="status">{app.text(T::CrmUnavailable)}
                        {c.error.clone().map(|e| format!(" ({e})"))}</p>
                })}
                <dl>
                    {c.fields.into_iter().map(|f| view! {
                        <dt>{f.label}</dt><dd>{shown(&f.value)}</dd>
                    }).collect_view()}
                </dl>
            </section>
        })
    }
}

/// A field's value as text: strings as they are, lists joined, anything nested as compact JSON
/// (cut at 300 characters: a card, not a report).
fn shown(value: &serde_json::Value) -> String {
    use serde_json::Value;
    let text = match value {
        Value::Null => "—".to_owned(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(shown).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    };
    match text.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}
