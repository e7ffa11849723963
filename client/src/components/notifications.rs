//! The person's notifications on their devices: this browser turned on (after they agree) or
//! off, a test sent and its answer shown, and every device of theirs listed with a way to
//! remove an old one.

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchboard_shared::push::{PushDevice, PushTestResult};

use crate::app::{App, PushState};
use crate::i18n::T;
use crate::net;

#[component]
pub(crate) fn NotificationSettings() -> impl IntoView {
    let app = expect_context::<App>();
    let state = RwSignal::new(app.push_state());
    let devices = RwSignal::new(Vec::<PushDevice>::new());
    let busy = RwSignal::new(false);
    let said = RwSignal::new(None::<String>);
    let reload = move || {
        spawn_local(async move {
            if let Ok(list) = net::get::<Vec<PushDevice>>("/api/v1/push/subscriptions").await {
                devices.set(list);
            }
        });
    };
    reload();
    let turn_on = move |_| {
        busy.set(true);
        said.set(None);
        spawn_local(async move {
            if let Err(e) = app.enable_push().await {
                said.set(Some(e));
            }
            state.set(app.push_state());
            busy.set(false);
            reload();
        });
    };
    let turn_off = move |_| {
        busy.set(true);
        spawn_local(async move {
            app.forget_push_device().await;
            state.set(app.push_state());
            said.set(None);
            busy.set(false);
            reload();
        });
    };
    let test = move |id: String| {
        busy.set(true);
        spawn_local(async move {
            let path = format!("/api/v1/push/subscriptions/{id}/test");
            let answer = app
                .write::<PushTestResult, _>("POST", &path, &serde_json::json!({}))
                .await;
            said.set(Some(match answer {
                Ok(r) if r.delivered => app.t(T::PushTestSent).to_owned(),
                Ok(r) => r.error.unwrap_or_default(),
                Err(e) => e.message,
            }));
            busy.set(false);
            reload();
        });
    };
    let remove = move |id: String| {
        spawn_local(async move {
            let path = format!("/api/v1/push/subscriptions/{id}");
            match net::call::<()>("DELETE", &path, None, app.csrf_token().as_deref()).await {
                Ok(()) => {
                    if state.get_untracked() == PushState::On(id) {
                        app.forget_push_device().await;
                        state.set(app.push_state());
                    }
                    reload();
                }
                Err(e) => app.fail(e.message),
            }
        });
    };
    let this_device = move || match state.get() {
        PushState::On(id) => Some(id),
        _ => None,
    };
    view! {
        <section class="card push-settings">
            <h2>{app.text(T::PushTitle)}</h2>
            <p class="hint push-state" data-state=move || match state.get() {
                PushState::Unsupported => "unsupported",
                PushState::Blocked => "blocked",
                PushState::Off => "off",
                PushState::On(_) => "on",
            }>{move || app.t(match state.get() {
                PushState::Unsupported => T::PushUnsupported,
                PushState::Blocked => T::PushBlocked,
                PushState::Off => T::PushIsOff,
                PushState::On(_) => T::PushIsOn,
            })}</p>
            <div class="actions">
                {move || match state.get() {
                    PushState::Off => view! {
                        <button class="primary push-on" disabled=busy on:click=turn_on>{app.text(T::PushTurnOn)}</button>
                    }.into_any(),
                    PushState::On(id) => view! {
                        <button class="secondary push-test" disabled=busy on:click=move |_| test(id.clone())>{app.text(T::PushTest)}</button>
                        <button class="secondary push-off" disabled=busy on:click=turn_off>{app.text(T::PushTurnOff)}</button>
                    }.into_any(),
                    _ => ().into_any(),
                }}
            </div>
            {move || said.get().map(|s| view! { <p class="push-said" role="status">{s}</p> })}
            <Show when=move || !devices.get().is_empty()>
                <h3>{app.text(T::PushDevices)}</h3>
                <ul class="push-devices">
                    {move || devices.get().into_iter().map(|d| {
                        let id = d.id.clone();
                        let here = this_device() == Some(d.id.clone());
                        view! {
                            <li data-device=d.id.clone()>
                                <b>{d.device.clone()}</b>
                                {here.then(|| view! { " " <span class="tag">{app.text(T::PushThisDevice)}</span> })}
                                " " <span class="hint">{d.service.clone()}</span>
                                {d.last_error.clone().map(|e| view! { <p class="error">{e}</p> })}
                                <button class="ghost x" aria-label=app.text(T::Remove) on:click=move |_| remove(id.clone())>"×"</button>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            </Show>
        </section>
    }
}
