//! Administration of who may do what: custom roles and API keys made with a permission picker
//! that offers only what the editor holds (the server refuses the rest: `privilege_escalation`),
//! teams with their members and numbers, and the audit log with filters and a CSV export. Part
//! of the admin screen's chunk (loaded on first use).

use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;
use switchboard_shared::api::{
    ApiKey, ApiKeyCreated, AuditEntry, CreateApiKey, Number, Page, Role, RoleInput, Team,
    TeamInput, User,
};
use switchboard_shared::ids::{PhoneNumberId, UserId};
use switchboard_shared::permissions::Permission;

use crate::app::App;
use crate::i18n::T;
use crate::net;

use super::admin::{fetch_into, load_page};

/// Every permission as a checkbox; one the editor does not hold is shown but cannot be ticked.
#[component]
fn PermissionPicker(chosen: RwSignal<Vec<Permission>>) -> impl IntoView {
    let app = expect_context::<App>();
    view! {
        <fieldset class="permission-picker">
            <legend>{app.text(T::Permissions)}</legend>
            {Permission::ALL.iter().map(|&p| {
                let held = app.can(p);
                view! {
                    <label class="check" class:not-held=!held title=move || if held { "" } else { app.t(T::NotHeld) }>
                        <input type="checkbox" name=p.as_str() disabled=!held
                            prop:checked=move || chosen.with(|c| c.contains(&p))
                            on:change=move |e| {
                                let on = event_target_checked(&e);
                                chosen.update(|c| {
                                    c.retain(|x| *x != p);
                                    if on { c.push(p); c.sort(); }
                                });
                            }/>
                        {p.as_str()}
                    </label>
                }
            }).collect_view()}
        </fieldset>
    }
}

async fn delete(app: App, path: String) -> bool {
    match net::call::<()>("DELETE", &path, None, app.csrf_token().as_deref()).await {
        Ok(()) => true,
        Err(e) => {
            app.fail(e.message);
            false
        }
    }
}

/// Preset roles are listed; custom ones are made, changed and removed (one in use stays: 409).
#[component]
pub(crate) fn RolesAdmin() -> impl IntoView {
    let app = expect_context::<App>();
    let roles = RwSignal::new(None::<Vec<Role>>);
    fetch_into(app, "/api/v1/roles", roles);
    let reload = move || fetch_into(app, "/api/v1/roles", roles);
    let name = RwSignal::new(String::new());
    let chosen = RwSignal::new(Vec::<Permission>::new());
    // The custom role being changed, or none for a new one.
    let editing = RwSignal::new(None::<String>);
    let save = move |e: ev::SubmitEvent| {
        e.prevent_default();
        let body = RoleInput {
            name: name.get_untracked().trim().to_owned(),
            permissions: chosen.get_untracked(),
        };
        let (method, path) = match editing.get_untracked() {
            Some(id) => ("PUT", format!("/api/v1/roles/{id}")),
            None => ("POST", "/api/v1/roles".to_owned()),
        };
        spawn_local(async move {
            match app.write::<Role, _>(method, &path, &body).await {
                Ok(_) => {
                    name.set(String::new());
                    chosen.set(Vec::new());
                    editing.set(None);
                    reload();
                }
                Err(e) => app.fail(e.message),
            }
        });
    };
    view! {
        <form class="card role-form" on:submit=save>
            <label>{app.text(T::Role)}<input type="text" required bind:value=name autocomplete="off"/></label>
            <PermissionPicker chosen=chosen/>
            <button class="primary" type="submit">{move || app.t(if editing.get().is_some() { T::Save } else { T::AddRole })}</button>
            <Show when=move || editing.get().is_some()>
                <button type="button" class="secondary" on:click=move |_| { editing.set(None); name.set(String::new()); chosen.set(Vec::new()); }>{app.text(T::Cancel)}</button>
            </Show>
        </form>
        <table class="roles">
            <thead><tr><th>{app.text(T::Role)}</th><th>{app.text(T::Permissions)}</th><th></th></tr></thead>
            <tbody>
                {move || roles.get().unwrap_or_default().into_iter().map(|r| {
                    let (edit, id) = (r.clone(), r.id.to_string());
                    view! {
                        <tr data-role=r.name.clone()><td>{r.name.clone()}{r.preset.then_some(" ★")}</td>
                        <td class="sub">{r.permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")}</td>
                        <td class="actions">{(!r.preset).then(|| view! {
                            <button class="secondary" on:click=move |_| {
                                name.set(edit.name.clone());
                                chosen.set(edit.permissions.clone());
                                editing.set(Some(edit.id.to_string()));
                            }>{app.text(T::Edit)}</button>
                            <button class="secondary" on:click=move |_| {
                                let path = format!("/api/v1/roles/{id}");
                                spawn_local(async move { if delete(app, path).await { reload() } });
                            }>{app.text(T::Remove)}</button>
                        })}</td></tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// Teams with their members and numbers: made, changed and removed.
#[component]
pub(crate) fn TeamsAdmin() -> impl IntoView {
    let app = expect_context::<App>();
    let teams = RwSignal::new(None::<Vec<Team>>);
    let users = RwSignal::new(None::<Page<User>>);
    let numbers = RwSignal::new(None::<Vec<Number>>);
    fetch_into(app, "/api/v1/teams", teams);
    fetch_into(app, "/api/v1/users?limit=500", users);
    fetch_into(app, "/api/v1/numbers", numbers);
    let reload = move || fetch_into(app, "/api/v1/teams", teams);
    let name = RwSignal::new(String::new());
    let members = RwSignal::new(Vec::<UserId>::new());
    let lines = RwSignal::new(Vec::<PhoneNumberId>::new());
    let editing = RwSignal::new(None::<String>);
    let clear = move || {
        name.set(String::new());
        members.set(Vec::new());
        lines.set(Vec::new());
        editing.set(None);
    };
    let save = move |e: ev::SubmitEvent| {
        e.prevent_default();
        let body = TeamInput {
            name: name.get_untracked().trim().to_owned(),
            members: members.get_untracked(),
            numbers: lines.get_untracked(),
        };
        let (method, path) = match editing.get_untracked() {
            Some(id) => ("PUT", format!("/api/v1/teams/{id}")),
            None => ("POST", "/api/v1/teams".to_owned()),
        };
        spawn_local(async move {
            match app.write::<Team, _>(method, &path, &body).await {
                Ok(_) => {
                    clear();
                    reload();
                }
                Err(e) => app.fail(e.message),
            }
        });
    };
    let user_name = move |id: &UserId| {
        users.with(|u| {
            u.as_ref()
                .and_then(|p| p.items.iter().find(|u| u.id == *id))
                .map(|u| u.name.clone())
                .unwrap_or_else(|| id.to_string())
        })
    };
    view! {
        <form class="card team-form" on:submit=save>
            <label>{app.text(T::Name)}<input type="text" required bind:value=name autocomplete="off"/></label>
            <fieldset>
                <legend>{app.text(T::Members)}</legend>
                {move || users.get().map(|p| p.items).unwrap_or_default().into_iter().filter(|u| !u.disabled).map(|u| {
                    let id = u.id.clone();
                    let id2 = u.id.clone();
                    view! { <label class="check"><input type="checkbox" name=u.email.clone()
                        prop:checked=move || members.with(|m| m.contains(&id))
                        on:change=move |e| {
                            let on = event_target_checked(&e);
                            members.update(|m| { m.retain(|x| *x != id2); if on { m.push(id2.clone()); } });
                        }/>{u.name.clone()}</label> }
                }).collect_view()}
            </fieldset>
            <fieldset>
                <legend>{app.text(T::Numbers)}</legend>
                {move || numbers.get().unwrap_or_default().into_iter().map(|n| {
                    let id = n.phone_number_id.clone();
                    let id2 = n.phone_number_id.clone();
                    view! { <label class="check"><input type="checkbox"
                        prop:checked=move || lines.with(|l| l.contains(&id))
                        on:change=move |e| {
                            let on = event_target_checked(&e);
                            lines.update(|l| { l.retain(|x| *x != id2); if on { l.push(id2.clone()); } });
                        }/>{format!("+{}", n.display_phone_number)}</label> }
                }).collect_view()}
            </fieldset>
            <button class="primary" type="submit">{move || app.t(if editing.get().is_some() { T::Save } else { T::AddTeam })}</button>
            <Show when=move || editing.get().is_some()>
                <button type="button" class="secondary" on:click=move |_| clear()>{app.text(T::Cancel)}</button>
            </Show>
        </form>
        <table class="teams">
            <thead><tr><th>{app.text(T::Name)}</th><th>{app.text(T::Members)}</th><th>{app.text(T::Numbers)}</th><th></th></tr></thead>
            <tbody>
                {move || teams.get().unwrap_or_default().into_iter().map(|t| {
                    let (edit, id) = (t.clone(), t.id.to_string());
                    view! {
                        <tr data-team=t.name.clone()><td>{t.name.clone()}</td>
                        <td>{t.members.iter().map(user_name).collect::<Vec<_>>().join(", ")}</td>
                        <td>{t.numbers.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ")}</td>
                        <td class="actions">
                            <button class="secondary" on:click=move |_| {
                                name.set(edit.name.clone());
                                members.set(edit.members.clone());
                                lines.set(edit.numbers.clone());
                                editing.set(Some(edit.id.to_string()));
                            }>{app.text(T::Edit)}</button>
                            <button class="secondary" on:click=move |_| {
                                let path = format!("/api/v1/teams/{id}");
                                spawn_local(async move { if delete(app, path).await { reload() } });
                            }>{app.text(T::Remove)}</button>
                        </td></tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// API keys: made with the permissions the editor holds, the secret shown once; revoked.
#[component]
pub(crate) fn KeysAdmin() -> impl IntoView {
    let app = expect_context::<App>();
    let keys = RwSignal::new(None::<Vec<ApiKey>>);
    fetch_into(app, "/api/v1/api-keys", keys);
    let reload = move || fetch_into(app, "/api/v1/api-keys", keys);
    let name = RwSignal::new(String::new());
    let chosen = RwSignal::new(Vec::<Permission>::new());
    let secret = RwSignal::new(None::<String>);
    let create = move |e: ev::SubmitEvent| {
        e.prevent_default();
        let body = CreateApiKey {
            name: name.get_untracked().trim().to_owned(),
            permissions: chosen.get_untracked(),
        };
        spawn_local(async move {
            match app
                .write::<ApiKeyCreated, _>("POST", "/api/v1/api-keys", &body)
                .await
            {
                Ok(made) => {
                    secret.set(Some(made.secret));
                    name.set(String::new());
                    chosen.set(Vec::new());
                    reload();
                }
                Err(e) => app.fail(e.message),
            }
        });
    };
    view! {
        <form class="card key-form" on:submit=create>
            <label>{app.text(T::Name)}<input type="text" required bind:value=name autocomplete="off"/></label>
            <PermissionPicker chosen=chosen/>
            <button class="primary" type="submit">{app.text(T::AddKey)}</button>
        </form>
        {move || secret.get().map(|s| view! {
            <div class="card secret" role="status">
                <p>{app.text(T::KeyOnce)}</p>
                <code class="api-key-secret">{s}</code>
                <button class="secondary" on:click=move |_| secret.set(None)>{app.text(T::Done)}</button>
            </div>
        })}
        <table class="keys">
            <thead><tr><th>{app.text(T::Name)}</th><th>{app.text(T::Permissions)}</th><th>{app.text(T::Created)}</th><th>{app.text(T::State)}</th><th></th></tr></thead>
            <tbody>
                {move || keys.get().unwrap_or_default().into_iter().map(|k| {
                    let id = k.id.to_string();
                    let live = k.revoked_at.is_none();
                    view! {
                        <tr data-key=k.name.clone()><td>{k.name.clone()}</td><td>{k.permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")}</td>
                        <td>{app.time(k.created_at)}</td>
                        <td>{move || app.t(if live { T::Active } else { T::Revoked })}</td>
                        <td>{live.then(|| view! {
                            <button class="secondary" on:click=move |_| {
                                let path = format!("/api/v1/api-keys/{id}");
                                spawn_local(async move { if delete(app, path).await { reload() } });
                            }>{app.text(T::Revoke)}</button>
                        })}</td></tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// The audit log, newest first, filtered by who, what, on which object, how it ended and when;
/// the same filters export every matching line as CSV.
#[component]
pub(crate) fn AuditAdmin() -> impl IntoView {
    let app = expect_context::<App>();
    let entries = RwSignal::new(Vec::<AuditEntry>::new());
    let next = RwSignal::new(None::<String>);
    let [actor, action, target, outcome, since, until] =
        std::array::from_fn(|_| RwSignal::new(String::new()));
    // The filters as a query string (days as the start of the day, UTC).
    let query = move || {
        let mut q = Vec::new();
        for (key, value) in [
            ("actor", actor),
            ("action", action),
            ("target", target),
            ("outcome", outcome),
        ] {
            let v = value.get_untracked();
            if !v.trim().is_empty() {
                q.push(format!("{key}={}", encode(v.trim())));
            }
        }
        for (key, day) in [("since", since), ("until", until)] {
            if let Some(ms) = day_ms(&day.get_untracked()) {
                // `until` is exclusive: the day after the one chosen.
                let ms = if key == "until" { ms + 86_400_000 } else { ms };
                q.push(format!("{key}={ms}"));
            }
        }
        q.join("&")
    };
    let load = move |cursor: Option<String>| {
        let path = format!("/api/v1/audit?limit=100&{}", query());
        load_page(app, path, cursor, entries, next);
    };
    load(None);
    let export = move || format!("/api/v1/audit/export?format=csv&{}", query());
    let href = RwSignal::new(export());
    view! {
        <form class="card inline-form audit-filters" on:submit=move |e: ev::SubmitEvent| {
            e.prevent_default();
            href.set(export());
            load(None);
        }>
            <label>{app.text(T::Who)}<input type="text" name="actor" bind:value=actor placeholder="user:u_…"/></label>
            <label>{app.text(T::Action)}<input type="text" name="action" bind:value=action placeholder="auth.login"/></label>
            <label>{app.text(T::Target)}<input type="text" name="target" bind:value=target/></label>
            <label>{app.text(T::Outcome)}<select name="outcome" bind:value=outcome>
                <option value="">"—"</option>
                {["ok", "denied", "failed", "not_found"].into_iter().map(|o| view! { <option value=o>{o}</option> }).collect_view()}
            </select></label>
            <label>{app.text(T::From)}<input type="date" name="since" bind:value=since/></label>
            <label>{app.text(T::To)}<input type="date" name="until" bind:value=until/></label>
            <button class="primary" type="submit">{app.text(T::Apply)}</button>
            <a class="button secondary" href=move || href.get() download="audit.csv">{app.text(T::ExportCsv)}</a>
        </form>
        <table class="audit">
            <thead><tr><th>{app.text(T::When)}</th><th>{app.text(T::Who)}</th><th>{app.text(T::Action)}</th><th>{app.text(T::Target)}</th><th>{app.text(T::Outcome)}</th></tr></thead>
            <tbody>
                {move || entries.get().into_iter().map(|a| view! {
                    <tr><td>{app.time(a.at)}</td><td>{a.actor_name.clone()}</td><td>{a.action.clone()}</td><td>{a.target.clone().unwrap_or_default()}</td><td>{a.outcome.clone()}</td></tr>
                }).collect_view()}
            </tbody>
        </table>
        <Show when=move || next.with(|n| n.is_some())>
            <button class="secondary" on:click=move |_| load(next.get_untracked())>{app.text(T::LoadMore)}</button>
        </Show>
    }
}

/// `YYYY-MM-DD` (a date input's value) as milliseconds at the start of that day, UTC.
fn day_ms(day: &str) -> Option<i64> {
    let mut parts = day.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (parts.next()??, parts.next()??, parts.next()??);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Days from 1970-01-01 (the civil-from-days inverse, proleptic Gregorian).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) * 86_400_000)
}

fn encode(text: &str) -> String {
    js_sys::encode_uri_component(text).into()
}

#[cfg(test)]
mod tests {
    #[test]
    fn days_are_read_as_utc_midnights() {
        assert_eq!(super::day_ms("1970-01-01"), Some(0));
        assert_eq!(super::day_ms("2026-12-07"), Some(1_796_601_600_000));
        assert_eq!(super::day_ms("2024-02-29"), Some(1_709_164_800_000));
        assert_eq!(super::day_ms("2026-13-01"), None);
        assert_eq!(super::day_ms(""), None);
    }
}
