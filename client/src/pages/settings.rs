//! The signed-in person's own settings.

use leptos::ev;
use leptos::prelude::*;

use crate::app::App;
use crate::i18n::T;
use crate::net;
use crate::shell::*;

/// The user's own saved replies (kept in this browser), offered by `/shortcut` in the composer.
#[component]
pub(crate) fn SettingsView() -> impl IntoView {
    let app = expect_context::<App>();
    let shortcut = RwSignal::new(String::new());
    let reply = RwSignal::new(String::new());
    let add = move |e: ev::SubmitEvent| {
        e.prevent_default();
        let (s, r) = (
            shortcut
                .get_untracked()
                .trim()
                .trim_start_matches('/')
                .to_owned(),
            reply.get_untracked().trim().to_owned(),
        );
        if s.is_empty() || r.is_empty() || s.contains(char::is_whitespace) {
            return;
        }
        let mut all = app.session.canned.get_untracked();
        all.retain(|(k, _)| *k != s);
        all.push((s, r));
        all.sort();
        app.save_canned(all);
        shortcut.set(String::new());
        reply.set(String::new());
    };
    let who = move || {
        app.session
            .me
            .with(|m| {
                m.as_ref().and_then(|m| m.as_ref()).map(|m| match &m.user {
                    Some(u) => format!("{} · {}", u.name, u.email),
                    None => m.api_key.clone().unwrap_or_default(),
                })
            })
            .unwrap_or_default()
    };
    view! {
        <main class="settings">
            <section class="card account">
                <p class="who">{who}</p>
                <label>{app.text(T::Language)}" "<LangPicker/></label>
                <button class="secondary" on:click=move |_| net::ask_to_notify()>{app.text(T::Notifications)}</button>
                <button class="secondary signout" on:click=move |_| app.sign_out()>{app.text(T::SignOut)}</button>
            </section>
            <h2>{app.text(T::CannedReplies)}</h2>
            <form class="card inline-form" on:submit=add>
                <label>{app.text(T::CannedShortcut)}<input required bind:value=shortcut/></label>
                <label>{app.text(T::CannedText)}<textarea required rows="2" bind:value=reply></textarea></label>
                <button class="primary" type="submit">{app.text(T::CannedAdd)}</button>
            </form>
            <ul class="canned-list">
                {move || app.session.canned.get().into_iter().map(|(s, r)| {
                    let key = s.clone();
                    view! { <li><b>"/"{s}</b>" "{r}<button class="ghost x" on:click=move |_| {
                        let rest: Vec<(String, String)> = app.session.canned.get_untracked().into_iter().filter(|(k, _)| *k != key).collect();
                        app.save_canned(rest);
                    }>"×"</button></li> }
                }).collect_view()}
            </ul>
        </main>
    }
}
