//! Administration: the tabs, users, numbers and routing (roles, teams, API keys and the audit
//! log are in `access`; webhooks and the CRM connector in `integrations`).

use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;
use switchboard_shared::api::{
    CreateUser, NewNumber, Number, NumberPatch, Page, Role, RoutingPatch, RoutingSettings,
    UpdateUser, User,
};
use switchboard_shared::permissions::Permission;

use crate::app::App;
use crate::i18n::T;
use crate::net;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum AdminTab {
    Users,
    Roles,
    Teams,
    Numbers,
    Routing,
    Keys,
    Webhooks,
    Crm,
    Audit,
}

#[component]
pub(crate) fn AdminView() -> impl IntoView {
    let app = expect_context::<App>();
    let tabs = move || {
        let mut t = Vec::new();
        if app.can(Permission::UsersManage) {
            t.push((AdminTab::Users, T::Users));
        }
        if app.can(Permission::RolesManage) {
            t.push((AdminTab::Roles, T::Roles));
        }
        if app.can(Permission::TeamsManage) {
            t.push((AdminTab::Teams, T::Teams));
        }
        if app.can(Permission::SettingsNumbers) {
            t.push((AdminTab::Numbers, T::Numbers));
        }
        if app.can(Permission::SettingsRouting) {
            t.push((AdminTab::Routing, T::Routing));
        }
        if app.can(Permission::ApiKeysManage) {
            t.push((AdminTab::Keys, T::ApiKeys));
            t.push((AdminTab::Webhooks, T::Webhooks));
        }
        if app.can(Permission::SettingsAutomation) {
            t.push((AdminTab::Crm, T::CrmConnectorTab));
        }
        if app.can(Permission::AuditView) {
            t.push((AdminTab::Audit, T::Audit));
        }
        t
    };
    let current = RwSignal::new(tabs().first().map(|t| t.0).unwrap_or(AdminTab::Users));
    view! {
        <main class="admin">
            <div class="tabs">
                {move || tabs().into_iter().map(|(tab, label)| view! {
                    <button class="tab" class:active=move || current.get() == tab on:click=move |_| current.set(tab)>{app.text(label)}</button>
                }).collect_view()}
            </div>
            {move || match current.get() {
                AdminTab::Users => view! { <UsersAdmin/> }.into_any(),
                AdminTab::Roles => view! { <super::access::RolesAdmin/> }.into_any(),
                AdminTab::Teams => view! { <super::access::TeamsAdmin/> }.into_any(),
                AdminTab::Numbers => view! { <NumbersAdmin/> }.into_any(),
                AdminTab::Routing => view! { <RoutingAdmin/> }.into_any(),
                AdminTab::Keys => view! { <super::access::KeysAdmin/> }.into_any(),
                AdminTab::Webhooks => view! { <super::integrations::WebhooksAdmin/> }.into_any(),
                AdminTab::Crm => view! { <super::integrations::CrmAdmin/> }.into_any(),
                AdminTab::Audit => view! { <super::access::AuditAdmin/> }.into_any(),
            }}
        </main>
    }
}

/// Loads a list into a signal (again, when called again); failures go to the toast. `app` is
/// passed in, not looked up: reloads run in tasks after an await, outside any component.
pub(crate) fn fetch_into<T: serde::de::DeserializeOwned + Send + Sync + 'static>(
    app: App,
    path: &'static str,
    into: RwSignal<Option<T>>,
) {
    spawn_local(async move {
        match net::get::<T>(path).await {
            Ok(v) => into.set(Some(v)),
            Err(e) => app.fail(e.message),
        }
    });
}

/// One page of a paged list at `path` (which already has its `?`): the first page (no
/// `cursor`) replaces `items`, a later one is added after them; `next` is the following page's
/// cursor. Failures go to the toast.
pub(crate) fn load_page<T: serde::de::DeserializeOwned + Send + Sync + 'static>(
    app: App,
    mut path: String,
    cursor: Option<String>,
    items: RwSignal<Vec<T>>,
    next: RwSignal<Option<String>>,
) {
    if let Some(c) = &cursor {
        let c: String = js_sys::encode_uri_component(c).into();
        path.push_str(&format!("&cursor={c}"));
    }
    spawn_local(async move {
        match net::get::<Page<T>>(&path).await {
            Ok(page) => {
                if cursor.is_none() {
                    items.set(page.items);
                } else {
                    items.update(|i| i.extend(page.items));
                }
                next.set(page.next);
            }
            Err(e) => app.fail(e.message),
        }
    });
}

#[component]
pub(crate) fn UsersAdmin() -> impl IntoView {
    let app = expect_context::<App>();
    let users = RwSignal::new(None::<Page<User>>);
    fetch_into(app, "/api/v1/users?limit=500", users);
    // Custom roles too, for those who may see them; else the presets.
    let roles = RwSignal::new(None::<Vec<Role>>);
    if app.can(Permission::RolesManage) {
        fetch_into(app, "/api/v1/roles", roles);
    }
    let role_names = move || -> Vec<(String, String)> {
        match roles.get() {
            Some(list) => list
                .into_iter()
                .map(|r| (r.id.into_string(), r.name))
                .collect(),
            None => ["agent", "supervisor", "admin"]
                .into_iter()
                .map(|r| (r.to_owned(), r.to_owned()))
                .collect(),
        }
    };
    // Changes one user and shows the server's answer in place.
    let update = move |id: String, change: UpdateUser| {
        spawn_local(async move {
            match app
                .write::<User, _>("PATCH", &format!("/api/v1/users/{id}"), &change)
                .await
            {
                Ok(user) => users.update(|u| {
                    if let Some(page) = u {
                        if let Some(slot) = page.items.iter_mut().find(|x| x.id == user.id) {
                            *slot = user;
                        }
                    }
                }),
                Err(e) => app.fail(e.message),
            }
        });
    };
    let (name, email, role, password) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new("agent".to_owned()),
        RwSignal::new(String::new()),
    );
    let create = move |e: ev::SubmitEvent| {
        e.prevent_default();
        let body = CreateUser {
            name: name.get_untracked(),
            email: email.get_untracked(),
            role: role.get_untracked(),
            password: password.get_untracked(),
        };
        spawn_local(async move {
            match app.write::<User, _>("POST", "/api/v1/users", &body).await {
                Ok(user) => {
                    users.update(|u| {
                        if let Some(page) = u {
                            page.items.push(user);
                        }
                    });
                    name.set(String::new());
                    email.set(String::new());
                    password.set(String::new());
                }
                Err(e) => app.fail(e.message),
            }
        });
    };
    let field = |sig: RwSignal<String>, label: T, kind: &'static str| {
        view! { <label>{app.text(label)}<input type=kind required bind:value=sig/></label> }
    };
    view! {
        <form class="card inline-form" on:submit=create>
            {field(name, T::Name, "text")}
            {field(email, T::Email, "email")}
            <label>{app.text(T::Role)}
                <select on:change=move |e| role.set(event_target_value(&e))>
                    {move || role_names().into_iter().map(|(id, name)| {
                        let selected = id.clone();
                        view! { <option value=id selected=move || role.get() == selected>{name}</option> }
                    }).collect_view()}
                </select>
            </label>
            {field(password, T::Password, "password")}
            <button class="primary" type="submit">{app.text(T::CreateUser)}</button>
        </form>
        <table>
            <thead><tr><th>{app.text(T::Name)}</th><th>{app.text(T::Email)}</th><th>{app.text(T::Role)}</th><th>{app.text(T::State)}</th></tr></thead>
            <tbody>
                {move || users.get().map(|p| p.items).unwrap_or_default().into_iter().map(|u| {
                    let (id_role, id_toggle) = (u.id.to_string(), u.id.to_string());
                    let current = u.role.clone();
                    let disabled = u.disabled;
                    view! {
                        <tr><td>{u.name}</td><td>{u.email}</td>
                        <td><select on:change=move |e| update(id_role.clone(), UpdateUser { role: Some(event_target_value(&e)), ..Default::default() })>
                            {role_names().into_iter().map(|(id, name)| {
                                let selected = id == current;
                                view! { <option value=id selected=selected>{name}</option> }
                            }).collect_view()}
                        </select></td>
                        <td><button class="secondary" on:click=move |_| update(id_toggle.clone(), UpdateUser { disabled: Some(!disabled), ..Default::default() })>
                            {app.text(if disabled { T::Enable } else { T::Disable })}
                        </button></td></tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// The workspace's numbers: those of the configuration are listed; those connected here can be
/// added, disabled, enabled and removed. Secrets are typed once and never shown again.
#[component]
pub(crate) fn NumbersAdmin() -> impl IntoView {
    let app = expect_context::<App>();
    let numbers = RwSignal::new(None::<Vec<Number>>);
    fetch_into(app, "/api/v1/numbers", numbers);
    // Puts the server's answer for one number in place (or adds it).
    let show = move |n: Number| {
        numbers.update(|list| {
            let list = list.get_or_insert_with(Vec::new);
            match list
                .iter_mut()
                .find(|x| x.phone_number_id == n.phone_number_id)
            {
                Some(slot) => *slot = n,
                None => list.push(n),
            }
        })
    };
    let fields: [RwSignal<String>; 7] = std::array::from_fn(|_| RwSignal::new(String::new()));
    let [id, display, waba, url, token, secret, verify] = fields;
    let add = move |e: ev::SubmitEvent| {
        e.prevent_default();
        let text = |s: RwSignal<String>| Some(s.get_untracked()).filter(|v| !v.trim().is_empty());
        let body = NewNumber {
            phone_number_id: id.get_untracked(),
            display_phone_number: display.get_untracked(),
            waba_id: text(waba),
            graph_api_url: text(url),
            mps: None,
            access_token: token.get_untracked(),
            app_secret: secret.get_untracked(),
            verify_token: verify.get_untracked(),
        };
        spawn_local(async move {
            match app
                .write::<Number, _>("POST", "/api/v1/numbers", &body)
                .await
            {
                Ok(n) => {
                    show(n);
                    fields.iter().for_each(|f| f.set(String::new()));
                }
                Err(e) => app.fail(e.message),
            }
        });
    };
    let change = move |id: String, enabled: bool| {
        let body = NumberPatch {
            enabled: Some(enabled),
            ..Default::default()
        };
        spawn_local(async move {
            match app
                .write::<Number, _>("PATCH", &format!("/api/v1/numbers/{id}"), &body)
                .await
            {
                Ok(n) => show(n),
                Err(e) => app.fail(e.message),
            }
        });
    };
    let remove = move |id: String| {
        spawn_local(async move {
            let path = format!("/api/v1/numbers/{id}");
            match net::call::<()>("DELETE", &path, None, app.csrf_token().as_deref()).await {
                Ok(()) => fetch_into(app, "/api/v1/numbers", numbers),
                Err(e) => app.fail(e.message),
            }
        });
    };
    let input = |sig: RwSignal<String>, label: T, kind: &'static str, required: bool| {
        view! { <label>{app.text(label)}<input type=kind required=required bind:value=sig autocomplete="off"/></label> }
    };
    view! {
        <form class="card inline-form" on:submit=add>
            {input(id, T::NumberId, "text", true)}
            {input(display, T::Number, "tel", false)}
            {input(waba, T::Waba, "text", false)}
            {input(url, T::GraphUrl, "url", false)}
            {input(token, T::AccessToken, "password", true)}
            {input(secret, T::AppSecret, "password", true)}
            {input(verify, T::VerifyToken, "password", true)}
            <button class="primary" type="submit">{app.text(T::ConnectNumber)}</button>
        </form>
        <table>
            <thead><tr><th>{app.text(T::Number)}</th><th>{app.text(T::NumberId)}</th><th>{app.text(T::Waba)}</th><th>{app.text(T::Tier)}</th><th>{app.text(T::State)}</th><th></th></tr></thead>
            <tbody>
                {move || numbers.get().unwrap_or_default().into_iter().map(|n| {
                    let (toggle, drop) = (n.phone_number_id.to_string(), n.phone_number_id.to_string());
                    let ours = n.managed_by == "app";
                    // Meta's refusal, when there is one, else the number's state in words.
                    let problem = n.problem.filter(|_| ours);
                    let state = match (n.managed_by.as_str(), n.enabled) {
                        ("config", _) => Some(T::FromConfig),
                        ("none", _) => Some(T::Disconnected),
                        _ if problem.is_some() => None,
                        (_, true) => Some(T::Active),
                        (_, false) => Some(T::Disabled),
                    };
                    let enabled = n.enabled;
                    view! {
                        <tr><td>{format!("+{}", n.display_phone_number)}</td><td>{n.phone_number_id.to_string()}</td>
                        <td>{n.waba_id.unwrap_or_default()}</td><td>{n.mps.map(|m| m.to_string()).unwrap_or_default()}</td>
                        <td>{state.map(|t| app.text(t))}{problem}</td>
                        <td>{ours.then(|| view! {
                            <button class="secondary" on:click=move |_| change(toggle.clone(), !enabled)>
                                {app.text(if enabled { T::Disable } else { T::Enable })}
                            </button>
                            <button class="secondary" on:click=move |_| remove(drop.clone())>{app.text(T::Remove)}</button>
                        })}</td></tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// The workspace's routing: each change is saved as it is made (against the version shown) and
/// is in force for this workspace's next routing decision.
#[component]
pub(crate) fn RoutingAdmin() -> impl IntoView {
    let app = expect_context::<App>();
    let routing = RwSignal::new(None::<RoutingSettings>);
    const PATH: &str = "/api/v1/settings/routing";
    fetch_into(app, PATH, routing);
    let save = move |mut patch: RoutingPatch| {
        patch.version = routing.with_untracked(|r| r.as_ref().and_then(|r| r.version));
        spawn_local(async move {
            match app.write::<RoutingSettings, _>("PATCH", PATH, &patch).await {
                Ok(r) => routing.set(Some(r)),
                Err(e) => {
                    app.fail(e.message);
                    fetch_into(app, PATH, routing);
                }
            }
        });
    };
    let strategies = move |current: String, on: Box<dyn Fn(String) + Send + Sync>| {
        view! {
            <select on:change=move |e| on(event_target_value(&e))>
                {[("least_load", T::LeastLoad), ("round_robin", T::RoundRobin)].into_iter().map(|(v, label)| {
                    view! { <option value=v selected=current == v>{app.text(label)}</option> }
                }).collect_view()}
            </select>
        }
    };
    // A whole number of seconds (or conversations), saved when changed.
    let number = move |label: T, value: u64, set: fn(&mut RoutingPatch, u64)| {
        view! {
            <label>{app.text(label)}
                <input type="number" min="0" value=value.to_string() on:change=move |e| {
                    if let Ok(v) = event_target_value(&e).parse() {
                        let mut patch = RoutingPatch::default();
                        set(&mut patch, v);
                        save(patch);
                    }
                }/>
            </label>
        }
    };
    view! {
        {move || routing.get().map(|r| view! {
            <section class="routing card inline-form">
                <p class="hint">{app.text(T::RoutingSource)}</p>
                <label>{app.text(T::Strategy)}
                    {strategies(r.strategy.clone(), Box::new(move |v| save(RoutingPatch { strategy: Some(v), ..Default::default() })))}
                </label>
                {number(T::Capacity, r.capacity.into(), |p, v| p.capacity = Some(v as u32))}
                {number(T::ReplyDeadline, r.reply_deadline_secs, |p, v| p.reply_deadline_secs = Some(v))}
                {number(T::OfflineGrace, r.offline_grace_secs, |p, v| p.offline_grace_secs = Some(v))}
                {number(T::SlaTarget, r.sla_secs, |p, v| p.sla_secs = Some(v))}
                <label>{app.text(T::QueueNotice)}
                    <input type="text" value=r.queue_notice.clone() placeholder="{position} {minutes}" on:change=move |e| {
                        save(RoutingPatch { queue_notice: Some(event_target_value(&e)), ..Default::default() })
                    }/>
                </label>
                <table>
                    <thead><tr><th>{app.text(T::Number)}</th><th>{app.text(T::Strategy)}</th></tr></thead>
                    <tbody>
                        {r.numbers.iter().map(|n| {
                            let id = n.phone_number_id.to_string();
                            view! {
                                <tr><td>{format!("+{}", n.display_phone_number)}</td>
                                <td>{strategies(n.strategy.clone(), Box::new(move |v| save(RoutingPatch {
                                    numbers: Some([(id.clone(), v)].into()),
                                    ..Default::default()
                                })))}</td></tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </section>
        })}
    }
}
