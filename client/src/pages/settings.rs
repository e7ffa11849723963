//! The signed-in person's own settings.

use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;
use switchboard_shared::ids::TeamId;
use switchboard_shared::permissions::Permission;
use switchboard_shared::replies::{ReplyScope, SavedReply, SavedReplyInput};

use crate::app::{encode, App};
use crate::components::{NotificationSettings, ACCEPT};
use crate::i18n::T;
use crate::net;
use crate::shell::*;

/// The person's account and language, and the saved replies they may use: their own, and
/// (with `replies.manage`) their teams' and the workspace's, offered by `/shortcut` in the
/// composer.
#[component]
pub(crate) fn SettingsView() -> impl IntoView {
    let app = expect_context::<App>();
    let shortcut = RwSignal::new(String::new());
    let reply = RwSignal::new(String::new());
    // `personal`, `workspace`, or a team's id.
    let share = RwSignal::new("personal".to_owned());
    let manages = move || app.can(Permission::RepliesManage);
    let my_teams = move || {
        app.session.me.with(|m| {
            m.as_ref()
                .and_then(|m| m.as_ref())
                .map(|m| {
                    m.teams
                        .iter()
                        .cloned()
                        .zip(m.team_names.iter().cloned())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
    };
    let add = move |e: ev::SubmitEvent| {
        e.prevent_default();
        let (scope, team) = match share.get_untracked().as_str() {
            "personal" => (ReplyScope::Personal, None),
            "workspace" => (ReplyScope::Workspace, None),
            team => (ReplyScope::Team, Some(TeamId::from(team))),
        };
        let body = SavedReplyInput {
            shortcut: shortcut.get_untracked(),
            text: reply.get_untracked(),
            scope: Some(scope),
            team,
            version: None,
        };
        spawn_local(async move {
            match app
                .write::<SavedReply, _>("POST", "/api/v1/saved-replies", &body)
                .await
            {
                Ok(_) => {
                    shortcut.set(String::new());
                    reply.set(String::new());
                    app.reload_replies().await;
                }
                Err(e) => app.fail(e.message),
            }
        });
    };
    let remove = move |id: String| {
        spawn_local(async move {
            let path = format!("/api/v1/saved-replies/{id}");
            match net::call::<()>("DELETE", &path, None, app.csrf_token().as_deref()).await {
                Ok(()) => app.reload_replies().await,
                Err(e) => app.fail(e.message),
            }
        });
    };
    // A reply's file: sent with it, its text the caption (checked by WhatsApp's rules on the
    // server, which says why when it refuses one).
    let attach = move |id: String, e: ev::Event| {
        let input = event_target::<web_sys::HtmlInputElement>(&e);
        let Some(file) = input.files().and_then(|files| files.get(0)) else {
            return;
        };
        input.set_value("");
        let path = format!(
            "/api/v1/saved-replies/{id}/attachment?filename={}",
            encode(&file.name())
        );
        let csrf = app.csrf_token();
        spawn_local(async move {
            match net::upload::<SavedReply>("PUT", &path, &file, csrf.as_deref(), |_| {}).await {
                Ok(_) => app.reload_replies().await,
                Err(e) => app.fail(e.message),
            }
        });
    };
    // The file input beside the button (a hidden input is out of the keyboard's reach).
    let pick_file = |e: &ev::MouseEvent| {
        use wasm_bindgen::JsCast;
        let input = e
            .current_target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|button| button.next_element_sibling())
            .and_then(|next| next.dyn_into::<web_sys::HtmlInputElement>().ok());
        if let Some(input) = input {
            input.click();
        }
    };
    let detach = move |id: String| {
        spawn_local(async move {
            let path = format!("/api/v1/saved-replies/{id}/attachment");
            let csrf = app.csrf_token();
            match net::call::<SavedReply>("DELETE", &path, None, csrf.as_deref()).await {
                Ok(_) => app.reload_replies().await,
                Err(e) => app.fail(e.message),
            }
        });
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
    let team_name = move |team: &Option<TeamId>| {
        my_teams()
            .into_iter()
            .find(|(id, _)| Some(id) == team.as_ref())
            .map(|(_, name)| name)
            .unwrap_or_else(|| app.t(T::ReplyTeam).to_owned())
    };
    view! {
        <main class="settings">
            <section class="card account">
                <p class="who">{who}</p>
                <label>{app.text(T::Language)}" "<LangPicker/></label>
                <button class="secondary signout" on:click=move |_| app.sign_out()>{app.text(T::SignOut)}</button>
            </section>
            <NotificationSettings/>
            <Show when=move || app.can(Permission::ConversationsReply)>
                <h2>{app.text(T::CannedReplies)}</h2>
                <p class="hint">{app.text(T::ReplyVariables)}</p>
                <form class="card inline-form saved-reply-form" on:submit=add>
                    <label>{app.text(T::CannedShortcut)}<input required bind:value=shortcut/></label>
                    <label>{app.text(T::CannedText)}<textarea required rows="2" bind:value=reply></textarea></label>
                    <Show when=manages>
                        <label>{app.text(T::ReplyFor)}<select bind:value=share>
                            <option value="personal">{app.text(T::ReplyPersonal)}</option>
                            {move || my_teams().into_iter().map(|(id, name)| view! {
                                <option value=id.to_string()>{name}</option>
                            }).collect_view()}
                            <option value="workspace">{app.text(T::ReplyWorkspace)}</option>
                        </select></label>
                    </Show>
                    <button class="primary" type="submit">{app.text(T::CannedAdd)}</button>
                </form>
                <ul class="canned-list">
                    {move || app.session.replies.get().into_iter().map(|r| {
                        let id = r.id.clone();
                        let mine = r.scope == ReplyScope::Personal;
                        let label = match r.scope {
                            ReplyScope::Personal => app.t(T::ReplyPersonal).to_owned(),
                            ReplyScope::Team => team_name(&r.team),
                            ReplyScope::Workspace => app.t(T::ReplyWorkspace).to_owned(),
                        };
                        let file = r.attachment.clone().map(|f| {
                            let href = format!("/api/v1/saved-replies/{}/attachment", r.id);
                            view! { <a class="reply-file" href=href target="_blank" rel="noopener">"📎 "{f.filename.unwrap_or(f.kind)}</a> }
                        });
                        let has_file = r.attachment.is_some();
                        let (for_attach, for_detach) = (id.clone(), id.clone());
                        view! { <li data-shortcut=r.shortcut.clone()><b>"/"{r.shortcut.clone()}</b>" "<span class="hint">"("{label}")"</span>" "{r.text.clone()}" "{file}
                            {(mine || manages()).then(|| view! {
                                <button class="ghost attach-file" aria-label=app.text(T::Attach) title=app.text(T::Attach)
                                    on:click=move |e: ev::MouseEvent| pick_file(&e)>"📎"</button>
                                <input type="file" class="hidden-file" accept=ACCEPT
                                    on:change=move |e| attach(for_attach.clone(), e)/>
                                {has_file.then(|| view! {
                                    <button class="ghost detach-file" on:click=move |_| detach(for_detach.clone())>{app.text(T::RemoveFile)}</button>
                                })}
                                <button class="ghost x" aria-label=app.text(T::Remove) on:click=move |_| remove(id.clone())>"×"</button>
                            })}
                        </li> }
                    }).collect_view()}
                </ul>
            </Show>
        </main>
    }
}
