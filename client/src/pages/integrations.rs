//! Administration of what the workspace connects to: outbound webhook endpoints (the secret
//! shown once, the delivery log with replay) and the CRM connector behind the conversation's
//! CRM card. Part of the admin screen's chunk (loaded on first use).

use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;
use switchboard_shared::crm::{CrmConnector, CrmConnectorInput, CrmField};
use switchboard_shared::webhooks::{
    DeliveryState, DeliveryView, EndpointPatch, EndpointSecret, EndpointView, EventType,
    NewEndpoint,
};

use crate::app::App;
use crate::i18n::T;
use crate::net;

use super::admin::{fetch_into, load_page};

/// The workspace's webhook endpoints: add one (its signing secret shown once), rotate the
/// secret, turn one off or on, remove it, and read its delivery log with a replay per delivery.
#[component]
pub(crate) fn WebhooksAdmin() -> impl IntoView {
    let app = expect_context::<App>();
    let endpoints = RwSignal::new(None::<Vec<EndpointView>>);
    fetch_into(app, "/api/v1/webhooks", endpoints);
    let url = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let chosen = RwSignal::new(EventType::ALL.to_vec());
    // The secret of the endpoint just made or rotated: shown until the admin moves on.
    let secret = RwSignal::new(None::<EndpointSecret>);
    let log = RwSignal::new(None::<String>);
    let reload = move || fetch_into(app, "/api/v1/webhooks", endpoints);
    let add = move |e: ev::SubmitEvent| {
        e.prevent_default();
        let body = NewEndpoint {
            url: url.get_untracked().trim().to_owned(),
            events: chosen.get_untracked(),
            description: description.get_untracked().trim().to_owned(),
        };
        spawn_local(async move {
            match app
                .write::<EndpointSecret, _>("POST", "/api/v1/webhooks", &body)
                .await
            {
                Ok(s) => {
                    secret.set(Some(s));
                    url.set(String::new());
                    description.set(String::new());
                    reload();
                }
                Err(e) => app.fail(e.message),
            }
        });
    };
    let rotate = move |id: String| {
        spawn_local(async move {
            let path = format!("/api/v1/webhooks/{id}/rotate");
            match app.write::<EndpointSecret, _>("POST", &path, &()).await {
                Ok(s) => {
                    secret.set(Some(s));
                    reload();
                }
                Err(e) => app.fail(e.message),
            }
        });
    };
    let toggle = move |id: String, enabled: bool| {
        let body = EndpointPatch {
            enabled: Some(enabled),
            ..Default::default()
        };
        spawn_local(async move {
            let path = format!("/api/v1/webhooks/{id}");
            match app.write::<EndpointView, _>("PATCH", &path, &body).await {
                Ok(_) => reload(),
                Err(e) => app.fail(e.message),
            }
        });
    };
    let remove = move |id: String| {
        spawn_local(async move {
            let path = format!("/api/v1/webhooks/{id}");
            match net::call::<()>("DELETE", &path, None, app.csrf_token().as_deref()).await {
                Ok(()) => {
                    if log.get_untracked().as_deref() == Some(id.as_str()) {
                        log.set(None);
                    }
                    reload();
                }
                Err(e) => app.fail(e.message),
            }
        });
    };
    view! {
        <form class="card inline-form webhook-form" on:submit=add>
            <label>{app.text(T::EndpointUrl)}<input type="url" required bind:value=url autocomplete="off" placeholder="https://"/></label>
            <label>{app.text(T::Description)}<input type="text" bind:value=description autocomplete="off"/></label>
            <fieldset class="events">
                <legend>{app.text(T::Events)}</legend>
                {EventType::ALL.iter().map(|&event| view! {
                    <label class="check"><input type="checkbox"
                        prop:checked=move || chosen.with(|c| c.contains(&event))
                        on:change=move |e| {
                            let on = event_target_checked(&e);
                            chosen.update(|c| {
                                c.retain(|x| *x != event);
                                if on { c.push(event); c.sort(); }
                            });
                        }/>{event.as_str()}</label>
                }).collect_view()}
            </fieldset>
            <button class="primary" type="submit">{app.text(T::AddEndpoint)}</button>
        </form>
        {move || secret.get().map(|s| view! {
            <div class="card secret" role="status">
                <p>{app.text(T::SecretOnce)}</p>
                <code class="webhook-secret">{s.secret}</code>
                <button class="secondary" on:click=move |_| secret.set(None)>{app.text(T::Done)}</button>
            </div>
        })}
        <table class="webhooks">
            <thead><tr><th>{app.text(T::EndpointUrl)}</th><th>{app.text(T::Events)}</th><th>{app.text(T::State)}</th><th></th></tr></thead>
            <tbody>
                {move || endpoints.get().unwrap_or_default().into_iter().map(|ep| {
                    let (id1, id2, id3, id4) = (ep.id.clone(), ep.id.clone(), ep.id.clone(), ep.id.clone());
                    let enabled = ep.enabled;
                    let state = match (ep.enabled, ep.failing_since) {
                        (false, _) => app.t(T::Disabled).to_owned() + &ep.disabled_reason.map(|r| format!(": {r}")).unwrap_or_default(),
                        (true, Some(since)) => format!("{} {}", app.t(T::FailingSince), net::format_time(since, app.session.lang.get_untracked().locale())),
                        (true, None) => app.t(T::Active).to_owned(),
                    };
                    view! {
                        <tr>
                            <td>{ep.url.clone()}{(!ep.description.is_empty()).then(|| view! { <div class="hint">{ep.description.clone()}</div> })}</td>
                            <td>{ep.events.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(", ")}</td>
                            <td>{state}</td>
                            <td class="actions">
                                <button class="secondary" on:click=move |_| log.set(Some(id1.clone()))>{app.text(T::Deliveries)}</button>
                                <button class="secondary" on:click=move |_| rotate(id2.clone())>{app.text(T::RotateSecret)}</button>
                                <button class="secondary" on:click=move |_| toggle(id3.clone(), !enabled)>{app.text(if enabled { T::Disable } else { T::Enable })}</button>
                                <button class="secondary" on:click=move |_| remove(id4.clone())>{app.text(T::Remove)}</button>
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        {move || log.get().map(|id| view! { <DeliveryLog endpoint=id/> })}
    }
}

/// One endpoint's deliveries, newest first: each one's type, state and attempts, its body on
/// demand, and a replay that sends it again now (with the same `webhook-id`).
#[component]
fn DeliveryLog(endpoint: String) -> impl IntoView {
    let app = expect_context::<App>();
    let items = RwSignal::new(Vec::<DeliveryView>::new());
    let next = RwSignal::new(None::<String>);
    let endpoint = StoredValue::new(endpoint);
    let load = move |cursor: Option<String>| {
        let path = format!(
            "/api/v1/webhooks/{}/deliveries?limit=50",
            endpoint.get_value()
        );
        load_page(app, path, cursor, items, next);
    };
    load(None);
    // While a delivery waits for an attempt, the first page is read again every 2 s.
    if let Ok(handle) = set_interval_with_handle(
        move || {
            if items.with_untracked(|i| i.iter().any(|d| d.state == DeliveryState::Pending)) {
                load(None);
            }
        },
        std::time::Duration::from_secs(2),
    ) {
        on_cleanup(move || handle.clear());
    }
    let replay = move |delivery: String| {
        spawn_local(async move {
            let path = format!(
                "/api/v1/webhooks/{}/deliveries/{delivery}/replay",
                endpoint.get_value()
            );
            match app.write::<DeliveryView, _>("POST", &path, &()).await {
                Ok(d) => items.update(|list| {
                    if let Some(slot) = list.iter_mut().find(|x| x.id == d.id) {
                        *slot = d;
                    }
                }),
                Err(e) => app.fail(e.message),
            }
        });
    };
    view! {
        <section class="card delivery-log" aria-label=app.text(T::Deliveries)>
            <h2>{app.text(T::Deliveries)}</h2>
            <Show when=move || items.with(|i| i.is_empty())>
                <p class="empty">{app.text(T::NoDeliveries)}</p>
            </Show>
            <ul>
                {move || items.get().into_iter().map(|d| {
                    let id = d.id.clone();
                    let last = d.attempts.last().map(|a| match (a.status, &a.error) {
                        (Some(status), _) => format!("HTTP {status}, {} ms", a.duration_ms),
                        (None, Some(error)) => error.clone(),
                        (None, None) => String::new(),
                    });
                    let state = match d.state {
                        DeliveryState::Pending => T::DeliveryPending,
                        DeliveryState::Delivered => T::DeliveryDelivered,
                        DeliveryState::Failed => T::DeliveryFailed,
                    };
                    view! {
                        <li class="delivery" data-id=d.id.clone()>
                            <b>{d.event.as_str()}</b>" · "<span class="time">{app.time(d.created_at)}</span>" · "
                            <span class=format!("delivery-state {}", d.state.as_str())>{app.text(state)}</span>
                            " · "{d.attempts.len()}" "{app.text(T::Attempts)}
                            {last.map(|l| view! { " · "<span class="hint">{l}</span> })}
                            <button class="secondary replay" on:click=move |_| replay(id.clone())>{app.text(T::Replay)}</button>
                            <details><summary>{app.text(T::Body)}</summary><pre>{d.body.clone()}</pre></details>
                        </li>
                    }
                }).collect_view()}
            </ul>
            <Show when=move || next.with(|n| n.is_some())>
                <button class="secondary" on:click=move |_| load(next.get_untracked())>{app.text(T::LoadMore)}</button>
            </Show>
        </section>
    }
}

/// The CRM connector: where the card's data comes from (a URL with the contact's fields, an
/// authenticating header kept secret), which fields it shows to whom, and how long the panel
/// waits. Saved whole, against the version shown.
#[component]
pub(crate) fn CrmAdmin() -> impl IntoView {
    let app = expect_context::<App>();
    let url = RwSignal::new(String::new());
    let method = RwSignal::new("GET".to_owned());
    let header_name = RwSignal::new(String::new());
    let header_value = RwSignal::new(String::new());
    let header_set = RwSignal::new(false);
    let budget = RwSignal::new("500".to_owned());
    let fresh = RwSignal::new("300".to_owned());
    let enabled = RwSignal::new(true);
    let version = RwSignal::new(None::<u64>);
    let saved = RwSignal::new(false);
    // Label, JSONPath, roles (comma-separated) per field.
    let fields =
        RwSignal::new(Vec::<(RwSignal<String>, RwSignal<String>, RwSignal<String>)>::new());
    let show = move |c: CrmConnector| {
        url.set(c.url);
        method.set(c.method);
        header_name.set(c.header_name);
        header_value.set(String::new());
        header_set.set(c.header_set);
        budget.set(c.budget_ms.to_string());
        fresh.set(c.fresh_secs.to_string());
        enabled.set(c.enabled);
        version.set(Some(c.version));
        fields.set(
            c.fields
                .into_iter()
                .map(|f| {
                    (
                        RwSignal::new(f.label),
                        RwSignal::new(f.path),
                        RwSignal::new(f.roles.join(", ")),
                    )
                })
                .collect(),
        );
    };
    spawn_local(async move {
        match net::get::<CrmConnector>("/api/v1/settings/crm").await {
            Ok(c) => show(c),
            // None yet: the form starts empty with one field to fill in.
            Err(e) if e.status == 404 => fields.set(vec![Default::default()]),
            Err(e) => app.fail(e.message),
        }
    });
    let save = move |e: ev::SubmitEvent| {
        e.prevent_default();
        saved.set(false);
        let value = header_value.get_untracked();
        let body = CrmConnectorInput {
            url: url.get_untracked().trim().to_owned(),
            method: Some(method.get_untracked()),
            header_name: Some(header_name.get_untracked().trim().to_owned()),
            // Left empty: the saved value stays (it is never shown).
            header_value: Some(value).filter(|v| !v.is_empty()),
            fields: fields
                .get_untracked()
                .into_iter()
                .map(|(label, path, roles)| CrmField {
                    label: label.get_untracked().trim().to_owned(),
                    path: path.get_untracked().trim().to_owned(),
                    roles: roles
                        .get_untracked()
                        .split(',')
                        .map(|r| r.trim().to_owned())
                        .filter(|r| !r.is_empty())
                        .collect(),
                })
                .filter(|f| !f.label.is_empty() || !f.path.is_empty())
                .collect(),
            budget_ms: budget.get_untracked().trim().parse().ok(),
            fresh_secs: fresh.get_untracked().trim().parse().ok(),
            enabled: Some(enabled.get_untracked()),
            version: version.get_untracked(),
        };
        spawn_local(async move {
            match app
                .write::<CrmConnector, _>("PUT", "/api/v1/settings/crm", &body)
                .await
            {
                Ok(c) => {
                    show(c);
                    saved.set(true);
                }
                Err(e) => app.fail(e.message),
            }
        });
    };
    view! {
        <form class="card crm-form" on:submit=save>
            <label>{app.text(T::CrmUrl)}<input type="url" required bind:value=url autocomplete="off"
                placeholder="https://crm.example.com/api/customers?phone={{contact.phone}}"/></label>
            <label>{app.text(T::Method)}<select bind:value=method>
                <option value="GET">"GET"</option><option value="POST">"POST"</option>
            </select></label>
            <label>{app.text(T::HeaderName)}<input type="text" bind:value=header_name autocomplete="off" placeholder="Authorization"/></label>
            <label>{app.text(T::HeaderValue)}<input type="password" bind:value=header_value autocomplete="off"
                placeholder=move || if header_set.get() { app.t(T::KeptSecret) } else { "" }/></label>
            <label>{app.text(T::BudgetMs)}<input type="number" min="50" max="5000" bind:value=budget/></label>
            <label>{app.text(T::FreshSecs)}<input type="number" min="0" bind:value=fresh/></label>
            <label class="check"><input type="checkbox" bind:checked=enabled/>{app.text(T::Enabled)}</label>
            <table class="crm-fields">
                <thead><tr><th>{app.text(T::Label)}</th><th>"JSONPath"</th><th>{app.text(T::Roles)}</th><th></th></tr></thead>
                <tbody>
                    {move || fields.get().into_iter().enumerate().map(|(i, (label, path, roles))| view! {
                        <tr>
                            <td><input type="text" aria-label=app.text(T::Label) bind:value=label/></td>
                            <td><input type="text" aria-label="JSONPath" placeholder="$.orders[0].total" bind:value=path/></td>
                            <td><input type="text" aria-label=app.text(T::Roles) placeholder=app.text(T::EveryRole) bind:value=roles/></td>
                            <td><button type="button" class="secondary" on:click=move |_| fields.update(|f| { f.remove(i); })>{app.text(T::Remove)}</button></td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            <button type="button" class="secondary" on:click=move |_| fields.update(|f| f.push(Default::default()))>{app.text(T::AddField)}</button>
            <button class="primary" type="submit">{app.text(T::Save)}</button>
            <Show when=move || saved.get()><p class="hint saved" role="status">{app.text(T::Saved)}</p></Show>
        </form>
    }
}
