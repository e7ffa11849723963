//! The customer's details beside a conversation: profile, tags, notes, assignment.

use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;
use switchboard_shared::api::{Colleague, Conversation, CustomerProfile};
use switchboard_shared::ids::ConversationId;
use switchboard_shared::permissions::Permission;

use crate::app::{display_name, App};
use crate::components::*;
use crate::i18n::T;
use crate::model;
use crate::net;

#[component]
pub(crate) fn Details(
    id: ConversationId,
    conversation: Memo<Option<Conversation>>,
) -> impl IntoView {
    let app = expect_context::<App>();
    let new_tag = RwSignal::new(String::new());
    let note = RwSignal::new(String::new());
    let tags =
        move || conversation.with(|c| c.as_ref().map(|c| c.tags.clone()).unwrap_or_default());
    let agent_name = move |user: Option<switchboard_shared::ids::UserId>| match user {
        None => app.t(T::Nobody).to_owned(),
        Some(u) => app
            .inbox
            .agents
            .with(|a| a.iter().find(|a| a.user == u).map(|a| a.name.clone()))
            .unwrap_or_else(|| {
                if Some(&u) == app.me_id().as_ref() {
                    app.t(T::Me).to_owned()
                } else {
                    u.to_string()
                }
            }),
    };
    let id_tags = id.clone();
    let id_remove = id.clone();
    let id_note = id.clone();
    // The customer's conversations with every number the user may read (loaded once per open).
    let profile = RwSignal::new(None::<CustomerProfile>);
    {
        let id = id.clone();
        spawn_local(async move {
            let path = format!("/api/v1/conversations/{id}/customer");
            if let Ok(p) = net::get::<CustomerProfile>(&path).await {
                profile.set(Some(p));
            }
        });
    }
    // Colleagues who may read this conversation: offered after `@` in a note, and the names
    // shown for the mentions in notes.
    let colleagues = RwSignal::new(Vec::<Colleague>::new());
    if app.can(Permission::ConversationsNote) {
        let path = format!("/api/v1/conversations/{id}/mentionable");
        spawn_local(async move {
            if let Ok(list) = net::get::<Vec<Colleague>>(&path).await {
                colleagues.set(list);
            }
        });
    }
    // The names picked in the note being written, with their ids.
    let picked = StoredValue::new(Vec::<(String, String)>::new());
    let offered = move || {
        let typed = note.with(|t| model::mention_query(t).map(str::to_lowercase))?;
        let list: Vec<Colleague> = colleagues.with(|c| {
            c.iter()
                .filter(|c| {
                    c.name.to_lowercase().starts_with(&typed)
                        || c.name.to_lowercase().contains(&format!(" {typed}"))
                })
                .take(8)
                .cloned()
                .collect()
        });
        (!list.is_empty()).then_some(list)
    };
    let pick = move |c: Colleague| {
        note.update(|t| {
            if let Some(at) = t.rfind('@') {
                t.truncate(at);
                t.push_str(&format!("@{} ", c.name));
            }
        });
        picked.update_value(|p| p.push((c.name.clone(), c.id.to_string())));
    };
    let names = move || {
        colleagues.with(|c| {
            c.iter()
                .map(|c| (c.id.to_string(), c.name.clone()))
                .collect::<Vec<_>>()
        })
    };
    let id_current = id.clone();
    let can_edit_tags =
        move || app.can(Permission::ContactsEdit) || app.can(Permission::ConversationsReply);
    view! {
        <aside class="details">
            <h2>{app.text(T::Customer)}</h2>
            <dl>
                <dt>{app.text(T::Name)}</dt><dd>{move || conversation.with(|c| c.as_ref().map(display_name).unwrap_or_default())}</dd>
                <dt>"WhatsApp"</dt><dd>{move || conversation.with(|c| c.as_ref().map(|c| c.customer.clone()).unwrap_or_default())}</dd>
                <dt>{app.text(T::Number)}</dt><dd>{move || conversation.with(|c| c.as_ref().map(|c| c.number.to_string()).unwrap_or_default())}</dd>
                <dt>{app.text(T::Assignee)}</dt><dd>{move || agent_name(conversation.with(|c| c.as_ref().and_then(|c| c.assignee.clone())))}</dd>
                <dt>{app.text(T::Waiting)}</dt><dd>{move || conversation.with(|c| c.as_ref().and_then(|c| c.waiting_since)).map(|w| net::format_time(w, app.session.lang.get().locale())).unwrap_or_else(|| "—".into())}</dd>
            </dl>
            <Show when=move || profile.with(|p| p.as_ref().is_some_and(|p| p.conversations.len() > 1))>
                <h2>{app.text(T::CustomerConversations)}</h2>
                <ul class="customer-conversations">
                    {
                        let current = id_current.clone();
                        move || profile.get().map(|p| p.conversations).unwrap_or_default().into_iter().map(|c| {
                            let this = c.conversation.id == current;
                            let target = c.conversation.id.clone();
                            let at = c.conversation.last_message_at;
                            view! {
                                <li class:current=this on:click=move |_| if !this { app.open_conversation(target.clone()) }>
                                    <b>"+"{c.display_phone_number.clone()}</b>
                                    {state_badge(c.conversation.state)}
                                    {this.then(|| view! { <span class="hint">" · "{app.text(T::ThisConversation)}</span> })}
                                    <span class="time">{app.time(at)}</span>
                                </li>
                            }
                        }).collect_view()
                    }
                </ul>
            </Show>
            <CrmCardView id=id.clone()/>
            {move || profile.with(|p| p.as_ref().and_then(|p| p.contact.clone()))
                .filter(|_| app.can(Permission::ContactsRead))
                .map(|id| view! { <ContactSummary id=id/> })}
            <h2>{app.text(T::Tags)}</h2>
            <div class="chips">
                {move || tags().into_iter().map(|tag| {
                    let id = id_remove.clone();
                    let t = tag.clone();
                    view! {
                        <span class="chip">{tag.clone()}
                            <Show when=can_edit_tags>
                                {
                                    let id = id.clone();
                                    let t = t.clone();
                                    view! { <button class="ghost x" aria-label="×" on:click=move |_| {
                                        let rest: Vec<String> = tags().into_iter().filter(|x| *x != t).collect();
                                        app.set_tags(id.clone(), rest);
                                    }>"×"</button> }
                                }
                            </Show>
                        </span>
                    }
                }).collect_view()}
            </div>
            <Show when=can_edit_tags>
                {
                    let id = id_tags.clone();
                    view! {
                        <form class="inline" on:submit=move |e: ev::SubmitEvent| {
                            e.prevent_default();
                            let tag = new_tag.get_untracked().trim().to_owned();
                            if tag.is_empty() { return; }
                            let mut all = tags();
                            if !all.contains(&tag) { all.push(tag); }
                            app.set_tags(id.clone(), all);
                            new_tag.set(String::new());
                        }>
                            <input placeholder=app.text(T::AddTag) bind:value=new_tag/>
                        </form>
                    }
                }
            </Show>
            <h2>{app.text(T::Notes)}</h2>
            <Show when=move || app.can(Permission::ConversationsNote)>
                {
                    let id = id_note.clone();
                    view! {
                        <form class="note-form" on:submit=move |e: ev::SubmitEvent| {
                            e.prevent_default();
                            let text = note.get_untracked().trim().to_owned();
                            if text.is_empty() { return; }
                            let text = picked.with_value(|p| model::encode_mentions(&text, p));
                            app.add_note(id.clone(), text);
                            note.set(String::new());
                            picked.set_value(Vec::new());
                        }>
                            <textarea rows="2" placeholder=app.text(T::AddNote) bind:value=note></textarea>
                            {move || offered().map(|list| view! {
                                <ul class="canned mentions" role="listbox" aria-label=app.text(T::Mention)>
                                    {list.into_iter().map(|c| {
                                        let name = c.name.clone();
                                        view! { <li role="option" on:click=move |_| pick(c.clone())>"@"{name}</li> }
                                    }).collect_view()}
                                </ul>
                            })}
                            <button class="secondary" type="submit">{app.text(T::SaveNote)}</button>
                        </form>
                    }
                }
            </Show>
            <ul class="notes">
                <For each=move || app.inbox.notes.get() key=|n| n.id.clone() children=move |n| view! {
                    <li><b>{n.author_name.clone()}</b>" · "<span class="time">{app.time(n.at)}</span><p>{move || model::show_mentions(&n.text, &names())}</p></li>
                }/>
            </ul>
        </aside>
    }
}

/// The customer's contact beside the conversation: customer-level tags (editable from the
/// catalogue) and marketing consent.
#[component]
fn ContactSummary(id: switchboard_shared::ids::ContactId) -> impl IntoView {
    use switchboard_shared::contacts::{Contact, ContactPatch, Marketing, Tag};
    let app = expect_context::<App>();
    let contact = RwSignal::new(None::<Contact>);
    let catalogue = RwSignal::new(Vec::<Tag>::new());
    let id = StoredValue::new(id);
    let path = format!("/api/v1/contacts/{}", id.get_value());
    spawn_local(async move {
        if let Ok(c) = net::get::<Contact>(&path).await {
            contact.set(Some(c));
        }
        if let Ok(t) = net::get::<Vec<Tag>>("/api/v1/tags").await {
            catalogue.set(t);
        }
    });
    let set_tags = move |tags: Vec<String>| {
        let csrf = app.csrf_token();
        let path = format!("/api/v1/contacts/{}", id.get_value());
        spawn_local(async move {
            let body = ContactPatch {
                tags: Some(tags),
                ..Default::default()
            };
            match net::write::<Contact, _>("PATCH", &path, &body, csrf.as_deref()).await {
                Ok(c) => contact.set(Some(c)),
                Err(e) => app.fail(e.message),
            }
        });
    };
    let editable = move || app.can(Permission::ContactsEdit);
    view! {
        <section class="contact-summary" aria-label=app.text(T::Contact)>
            <h2>{app.text(T::Contact)}</h2>
            {move || contact.get().map(|c| {
                let current = c.tags.clone();
                let for_add = c.tags.clone();
                view! {
                    <p class="consent">{move || app.t(match c.consent.marketing {
                        Marketing::OptedIn => T::OptedIn,
                        Marketing::OptedOut => T::OptedOut,
                        Marketing::Unknown => T::ConsentUnknown,
                    })}</p>
                    <div class="chips customer-tags">
                        {current.iter().map(|t| {
                            let (t2, list) = (t.clone(), current.clone());
                            view! { <span class="chip">{t.clone()}
                                {editable().then(|| view! { <button class="ghost x" aria-label=t2.clone()
                                    on:click=move |_| set_tags(list.iter().filter(|x| **x != t2).cloned().collect())>"×"</button> })}
                            </span> }
                        }).collect_view()}
                    </div>
                    {editable().then(|| view! {
                        <select aria-label=app.text(T::AddTag) on:change=move |e| {
                            let t = event_target_value(&e);
                            if !t.is_empty() && !for_add.contains(&t) {
                                let mut all = for_add.clone();
                                all.push(t);
                                set_tags(all);
                            }
                        }>
                            <option value="">{app.text(T::AddTag)}</option>
                            {move || catalogue.get().into_iter().map(|t| view! { <option value=t.name.clone()>{t.name.clone()}</option> }).collect_view()}
                        </select>
                    })}
                }
            })}
        </section>
    }
}
