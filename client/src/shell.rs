//! The app's frame: sign-in, the tab bar, the toast, the language picker.

use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;
use switchboard_shared::api::{LoginRequest, LoginResponse};
use switchboard_shared::permissions::Permission;
use switchboard_shared::protocol::AgentStatus;

use crate::app::{App, Link, View};
use crate::i18n::{Lang, T};
use crate::model::Tab;
use crate::net;
use crate::pages::*;

#[component]
pub fn Root() -> impl IntoView {
    let app = App::new();
    provide_context(app);
    app.start();
    view! {
        {move || match app.session.me.get() {
            None => view! { <div class="splash">{app.text(T::Loading)}</div> }.into_any(),
            Some(None) => view! { <Login/> }.into_any(),
            Some(Some(_)) => view! { <Shell/> }.into_any(),
        }}
        <Toast/>
    }
}

#[component]
pub(crate) fn Toast() -> impl IntoView {
    let app = expect_context::<App>();
    view! {
        <Show when=move || app.session.toast.with(Option::is_some)>
            <div class="toast" role="alert" on:click=move |_| app.session.toast.set(None)>
                {move || app.session.toast.get().unwrap_or_default()}
            </div>
        </Show>
        {move || app.session.mention.get().map(|(conversation, text)| view! {
            <div class="toast mention-notice" role="status">
                <span>{text}</span>
                <button class="secondary" on:click=move |_| {
                    app.session.mention.set(None);
                    app.inbox.view.set(View::Inbox);
                    app.open_conversation(conversation.clone());
                }>{app.text(T::OpenIt)}</button>
                <button class="ghost x" aria-label=app.text(T::Cancel) on:click=move |_| app.session.mention.set(None)>"×"</button>
            </div>
        })}
    }
}

#[component]
pub(crate) fn LangPicker() -> impl IntoView {
    let app = expect_context::<App>();
    view! {
        <select class="lang" aria-label=app.text(T::Language)
            on:change=move |e| app.set_lang(if event_target_value(&e) == "ru" { Lang::Ru } else { Lang::En })>
            {Lang::ALL.into_iter().map(|l| view! {
                <option value=l.code() selected=move || app.session.lang.get() == l>{l.name()}</option>
            }).collect_view()}
        </select>
    }
}

#[component]
pub(crate) fn Login() -> impl IntoView {
    let app = expect_context::<App>();
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let submit = move |e: ev::SubmitEvent| {
        e.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        // Asked from the click: browsers allow the prompt only after a user gesture.
        net::ask_to_notify();
        let body = LoginRequest {
            email: email.get_untracked(),
            password: password.get_untracked(),
        };
        spawn_local(async move {
            match net::write::<LoginResponse, _>("POST", "/api/v1/auth/login", &body, None).await {
                Ok(r) => {
                    password.set(String::new());
                    app.signed_in(r.me);
                }
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    view! {
        <main class="login">
            <form class="card" on:submit=submit>
                <div class="brand"><span class="logo">"◎"</span>{app.text(T::AppName)}</div>
                <h1>{app.text(T::SignInTitle)}</h1>
                <label>{app.text(T::Email)}
                    <input type="email" name="email" autocomplete="username" required
                        prop:value=move || email.get()
                        on:input=move |e| email.set(event_target_value(&e))/>
                </label>
                <label>{app.text(T::Password)}
                    <input type="password" name="password" autocomplete="current-password" required
                        prop:value=move || password.get()
                        on:input=move |e| password.set(event_target_value(&e))/>
                </label>
                <Show when=move || error.with(Option::is_some)>
                    <p class="error" role="alert">{move || error.get().unwrap_or_default()}</p>
                </Show>
                <button type="submit" class="primary" disabled=move || busy.get()>
                    {move || if busy.get() { app.t(T::SigningIn) } else { app.t(T::SignIn) }}
                </button>
                <LangPicker/>
            </form>
        </main>
    }
}

#[component]
pub(crate) fn Shell() -> impl IntoView {
    let app = expect_context::<App>();
    let nav = move |view: View, label: T| {
        view! {
            <button class="nav" class:active=move || app.inbox.view.get() == view
                on:click=move |_| app.inbox.view.set(view)>{app.text(label)}</button>
        }
    };
    let has_inbox = move || {
        app.can(Permission::ConversationsReadAll)
            || app.can(Permission::ConversationsReadTeam)
            || app.can(Permission::ConversationsReadAssigned)
    };
    let is_admin = move || {
        app.can(Permission::UsersManage)
            || app.can(Permission::TeamsManage)
            || app.can(Permission::ApiKeysManage)
            || app.can(Permission::AuditView)
            || app.can(Permission::SettingsNumbers)
    };
    let tenant = move || {
        app.session
            .me
            .with(|m| {
                m.as_ref()
                    .and_then(|m| m.as_ref())
                    .map(|m| m.tenant_name.clone())
            })
            .unwrap_or_default()
    };
    view! {
        <div class="shell" class:conversation-open=move || app.inbox.open.with(Option::is_some) && app.inbox.view.get() == View::Inbox>
            <header class="top">
                <span class="brand"><span class="logo">"◎"</span><span class="tenant">{tenant}</span></span>
                <nav>
                    <Show when=has_inbox>{nav(View::Inbox, T::Inbox)}</Show>
                    <Show when=move || app.can(Permission::BoardView)>{nav(View::Board, T::Board)}</Show>
                    <Show when=move || app.can(Permission::ContactsRead)>{nav(View::Contacts, T::Contacts)}</Show>
                    <Show when=move || app.can(Permission::CampaignsSend)>{nav(View::Campaigns, T::Campaigns)}</Show>
                    <Show when=has_inbox>{nav(View::Archive, T::Archive)}</Show>
                    <Show when=move || app.can(Permission::ReportsView)>{nav(View::Reports, T::Reports)}</Show>
                    <Show when=move || app.can(Permission::ReportsView)>{nav(View::Costs, T::Costs)}</Show>
                    <Show when=is_admin>{nav(View::Admin, T::Admin)}</Show>
                    {nav(View::Settings, T::Settings)}
                </nav>
                <Show when=move || app.me_id().is_some()>
                    <select class="status" aria-label="status" on:change=move |e| {
                        let status = match event_target_value(&e).as_str() {
                            "busy" => AgentStatus::Busy,
                            "break" => AgentStatus::Break,
                            _ => AgentStatus::Available,
                        };
                        app.set_status(status);
                    }>
                        <option value="available" selected=move || app.session.status.get() == AgentStatus::Available>{app.text(T::StatusAvailable)}</option>
                        <option value="busy" selected=move || app.session.status.get() == AgentStatus::Busy>{app.text(T::StatusBusy)}</option>
                        <option value="break" selected=move || app.session.status.get() == AgentStatus::Break>{app.text(T::StatusBreak)}</option>
                    </select>
                </Show>
            </header>
            {move || match app.socket.link.get() {
                Link::Live => ().into_any(),
                Link::Offline => view! { <div class="banner offline" role="status">{app.text(T::Offline)}</div> }.into_any(),
                Link::Connecting => view! { <div class="banner connecting" role="status">{app.text(T::Reconnecting)}</div> }.into_any(),
            }}
            {move || match app.inbox.view.get() {
                View::Inbox => view! { <InboxView/> }.into_any(),
                View::Board => view! { <BoardView/> }.into_any(),
                View::Contacts => deferred(app, contacts_page()),
                View::Campaigns => deferred(app, campaigns_page()),
                View::Costs => deferred(app, costs_page()),
                View::Reports => deferred(app, reports_page()),
                View::Archive => deferred(app, archive_page()),
                View::Admin => deferred(app, admin_page()),
                View::Settings => view! { <SettingsView/> }.into_any(),
            }}
        </div>
    }
}

/// A screen whose code is fetched on first use: "Loading…" until its chunk is in.
fn deferred(
    app: App,
    page: impl std::future::Future<Output = AnyView> + Send + 'static,
) -> AnyView {
    view! {
        <Suspense fallback=move || view! { <p class="empty" role="status">{app.text(T::Loading)}</p> }>
            {Suspend::new(page)}
        </Suspense>
    }
    .into_any()
}

pub(crate) fn tab_label(tab: Tab) -> T {
    match tab {
        Tab::Mine => T::TabMine,
        Tab::Unassigned => T::TabUnassigned,
        Tab::Team => T::TabTeam,
        Tab::All => T::TabAll,
    }
}
