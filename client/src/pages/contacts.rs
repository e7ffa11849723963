//! Contacts: the list (search, tag and segment filters, bulk tagging), a contact's page
//! (attributes, tags, consent with its evidence, notes, conversations), the import wizard
//! (upload, dry run with the first rejected rows, commit with a progress bar, rejected rows to
//! download, undo) and the segment editor with its live count.

use std::collections::{BTreeMap, HashSet};

use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;
use switchboard_shared::api::{CustomerConversation, Page};
use switchboard_shared::contacts::*;
use switchboard_shared::ids::{ContactId, ImportId};
use switchboard_shared::permissions::Permission;

use crate::app::{encode, App};
use crate::i18n::T;
use crate::net;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sub {
    List,
    Import,
    Segments,
    StopWords,
}

#[component]
pub(crate) fn ContactsView() -> impl IntoView {
    let app = expect_context::<App>();
    let sub = RwSignal::new(Sub::List);
    let tab = move |s: Sub, label: T| {
        view! {
            <button class="tab" class:active=move || sub.get() == s on:click=move |_| sub.set(s)>{app.text(label)}</button>
        }
    };
    view! {
        <main class="contacts">
            <div class="tabs">
                {tab(Sub::List, T::Contacts)}
                <Show when=move || app.can(Permission::ContactsImport)>{tab(Sub::Import, T::Import)}</Show>
                {tab(Sub::Segments, T::Segments)}
                <Show when=move || app.can(Permission::SettingsAutomation)>{tab(Sub::StopWords, T::StopWordsTab)}</Show>
            </div>
            {move || match sub.get() {
                Sub::List => view! { <ContactList/> }.into_any(),
                Sub::Import => view! { <ImportWizard/> }.into_any(),
                Sub::Segments => view! { <SegmentEditor/> }.into_any(),
                Sub::StopWords => view! { <StopWordsEditor/> }.into_any(),
            }}
        </main>
    }
}

/// The workspace's stop words, one per line: saved whole against the version shown, or given
/// back for the server's list.
#[component]
fn StopWordsEditor() -> impl IntoView {
    let app = expect_context::<App>();
    const PATH: &str = "/api/v1/settings/stop-words";
    let list = RwSignal::new(None::<StopWords>);
    let text = RwSignal::new(String::new());
    let shown = move |l: StopWords| {
        text.set(l.words.join("\n"));
        list.set(Some(l));
    };
    let load = move || {
        spawn_local(async move {
            match net::get::<StopWords>(PATH).await {
                Ok(l) => shown(l),
                Err(e) => app.fail(e.message),
            }
        })
    };
    load();
    let save = move |ev: ev::SubmitEvent| {
        ev.prevent_default();
        let change = StopWordsChange {
            words: text
                .get_untracked()
                .lines()
                .map(str::trim)
                .filter(|w| !w.is_empty())
                .map(str::to_owned)
                .collect(),
            version: list.with_untracked(|l| l.as_ref().and_then(|l| l.version)),
        };
        spawn_local(async move {
            match app.write::<StopWords, _>("PUT", PATH, &change).await {
                Ok(l) => shown(l),
                Err(e) => app.fail(e.message),
            }
        });
    };
    let reset = move |_| {
        spawn_local(async move {
            match net::call::<StopWords>("DELETE", PATH, None, app.csrf_token().as_deref()).await {
                Ok(l) => shown(l),
                Err(e) => app.fail(e.message),
            }
        });
    };
    view! {
        <form class="stop-words card" on:submit=save>
            <p class="hint" class:saved=move || list.with(|l| l.as_ref().is_some_and(|l| l.saved))>
                {move || app.text(if list.with(|l| l.as_ref().is_some_and(|l| l.saved)) { T::StopWordsSaved } else { T::StopWordsServer })}
            </p>
            <textarea rows="10" prop:value=move || text.get() on:input=move |e| text.set(event_target_value(&e))></textarea>
            <div class="actions">
                <button class="primary" type="submit">{app.text(T::Save)}</button>
                <Show when=move || list.with(|l| l.as_ref().is_some_and(|l| l.saved))>
                    <button class="ghost reset" type="button" on:click=reset>{app.text(T::UseServerList)}</button>
                </Show>
            </div>
        </form>
    }
}

/// The tag catalogue, loaded once per view.
fn catalogue() -> RwSignal<Vec<Tag>> {
    let tags = RwSignal::new(Vec::<Tag>::new());
    spawn_local(async move {
        if let Ok(t) = net::get::<Vec<Tag>>("/api/v1/tags").await {
            tags.set(t);
        }
    });
    tags
}

#[component]
fn ContactList() -> impl IntoView {
    let app = expect_context::<App>();
    let q = RwSignal::new(String::new());
    let tag = RwSignal::new(String::new());
    let items = RwSignal::new(Vec::<Contact>::new());
    let next = RwSignal::new(None::<String>);
    let selected = RwSignal::new(None::<ContactId>);
    let checked = RwSignal::new(HashSet::<ContactId>::new());
    let bulk_tag = RwSignal::new(String::new());
    let tags = catalogue();
    // Answers to an older query are dropped.
    let generation = StoredValue::new(0u32);
    let load = move |more: bool| {
        let query = q.get_untracked();
        let query = query.trim();
        if !query.is_empty() && query.chars().count() < 2 {
            return;
        }
        generation.update_value(|g| *g += 1);
        let mine = generation.get_value();
        let mut path = String::from("/api/v1/contacts?limit=50");
        if !query.is_empty() {
            path.push_str(&format!("&q={}", encode(query)));
        }
        let t = tag.get_untracked();
        if !t.is_empty() {
            path.push_str(&format!("&tag={}", encode(&t)));
        }
        if more {
            match next.get_untracked() {
                Some(c) => path.push_str(&format!("&cursor={}", encode(&c))),
                None => return,
            }
        }
        spawn_local(async move {
            match net::get::<Page<Contact>>(&path).await {
                // The list may be gone (another tab) by the time the answer comes.
                Ok(page) if generation.try_get_value() == Some(mine) => {
                    if more {
                        items.update(|i| i.extend(page.items));
                    } else {
                        items.set(page.items);
                    }
                    next.set(page.next);
                }
                Ok(_) => {}
                Err(e) => app.fail(e.message),
            }
        });
    };
    load(false);
    let apply_bulk = move |_| {
        let name = bulk_tag.get_untracked();
        let ids: Vec<ContactId> = checked.get_untracked().into_iter().collect();
        if name.is_empty() || ids.is_empty() {
            return;
        }
        let csrf = app.csrf_token();
        spawn_local(async move {
            let body = BulkTags {
                contacts: ids,
                add: vec![name],
                remove: vec![],
            };
            match net::write::<BulkResult, _>(
                "POST",
                "/api/v1/contacts/bulk-tags",
                &body,
                csrf.as_deref(),
            )
            .await
            {
                Ok(_) => {
                    checked.set(HashSet::new());
                    load(false);
                }
                Err(e) => app.fail(e.message),
            }
        });
    };
    view! {
        <div class="contacts-split" class:open=move || selected.with(Option::is_some)>
            <section class="contact-list">
                <div class="filters">
                    <input type="search" class="search" aria-label=app.text(T::SearchContacts)
                        placeholder=app.text(T::SearchContacts)
                        prop:value=move || q.get()
                        on:input=move |e| { q.set(event_target_value(&e)); load(false); }/>
                    <select aria-label=app.text(T::Tags) on:change=move |e| { tag.set(event_target_value(&e)); load(false); }>
                        <option value="">{app.text(T::AllTags)}</option>
                        {move || tags.get().into_iter().map(|t| view! { <option value=t.name.clone()>{t.name.clone()}</option> }).collect_view()}
                    </select>
                </div>
                <Show when=move || checked.with(|c| !c.is_empty()) && app.can(Permission::ContactsEdit)>
                    <div class="bulk">
                        <span>{move || format!("{} {}", checked.with(HashSet::len), app.t(T::Selected))}</span>
                        <select aria-label=app.text(T::AddTag) on:change=move |e| bulk_tag.set(event_target_value(&e))>
                            <option value="">{app.text(T::AddTag)}</option>
                            {move || tags.get().into_iter().map(|t| view! { <option value=t.name.clone()>{t.name.clone()}</option> }).collect_view()}
                        </select>
                        <button class="primary" on:click=apply_bulk>{app.text(T::Apply)}</button>
                    </div>
                </Show>
                <ul class="rows" role="list">
                    {move || items.get().into_iter().map(|c| {
                        let id = c.id.clone();
                        let (id_check, id_open, id_sel) = (id.clone(), id.clone(), id.clone());
                        let label = c.name.clone().unwrap_or_else(|| c.phone.clone().unwrap_or_default());
                        view! {
                            <li class="row contact" class:active=move || selected.get().as_ref() == Some(&id_sel)>
                                <input type="checkbox" aria-label=label.clone()
                                    prop:checked=move || checked.with(|s| s.contains(&id_check))
                                    on:change=move |e| {
                                        let on = event_target_checked(&e);
                                        let id = id.clone();
                                        checked.update(|s| { if on { s.insert(id); } else { s.remove(&id); } });
                                    }/>
                                <button class="ghost open" on:click=move |_| selected.set(Some(id_open.clone()))>
                                    <b>{label}</b>
                                    <span class="muted">{c.phone.clone().unwrap_or_default()}" "{c.country.clone().unwrap_or_default()}</span>
                                    <span class="chips">{c.tags.iter().map(|t| view! { <span class="chip">{t.clone()}</span> }).collect_view()}</span>
                                    {(c.consent.marketing == Marketing::OptedOut).then(|| view! { <span class="badge out">{app.text(T::OptedOut)}</span> })}
                                </button>
                            </li>
                        }
                    }).collect_view()}
                </ul>
                <Show when=move || items.with(Vec::is_empty)>
                    <p class="empty">{app.text(T::NoContacts)}</p>
                </Show>
                <Show when=move || next.with(Option::is_some)>
                    <button class="secondary more" on:click=move |_| load(true)>{app.text(T::LoadMore)}</button>
                </Show>
            </section>
            {move || selected.get().map(|id| view! {
                <ContactPanel id=id on_close=Callback::new(move |()| { selected.set(None); load(false); })/>
            })}
        </div>
    }
}

/// One contact, editable by those who may.
#[component]
pub(crate) fn ContactPanel(id: ContactId, on_close: Callback<()>) -> impl IntoView {
    let app = expect_context::<App>();
    let contact = RwSignal::new(None::<Contact>);
    let notes = RwSignal::new(Vec::<ContactNote>::new());
    let history = RwSignal::new(Vec::<ConsentEvidence>::new());
    let conversations = RwSignal::new(Vec::<CustomerConversation>::new());
    let defs = RwSignal::new(Vec::<AttributeDef>::new());
    let tags = catalogue();
    let name = RwSignal::new(String::new());
    let values = RwSignal::new(BTreeMap::<String, String>::new());
    let note = RwSignal::new(String::new());
    let reason = RwSignal::new(String::new());
    let marketing = RwSignal::new(String::from("opted_in"));
    let id = StoredValue::new(id);
    let reload = move || {
        let id = id.get_value();
        spawn_local(async move {
            match net::get::<Contact>(&format!("/api/v1/contacts/{id}")).await {
                Ok(c) => {
                    name.set(c.name.clone().unwrap_or_default());
                    values.set(
                        c.attributes
                            .iter()
                            .map(|(k, v)| {
                                (
                                    k.clone(),
                                    v.as_str()
                                        .map(str::to_owned)
                                        .unwrap_or_else(|| v.to_string()),
                                )
                            })
                            .collect(),
                    );
                    contact.set(Some(c));
                }
                Err(e) => app.fail(e.message),
            }
            if let Ok(p) =
                net::get::<Page<ContactNote>>(&format!("/api/v1/contacts/{id}/notes")).await
            {
                notes.set(p.items);
            }
            if let Ok(p) =
                net::get::<Page<ConsentEvidence>>(&format!("/api/v1/contacts/{id}/consent")).await
            {
                history.set(p.items);
            }
            if let Ok(c) = net::get::<Vec<CustomerConversation>>(&format!(
                "/api/v1/contacts/{id}/conversations"
            ))
            .await
            {
                conversations.set(c);
            }
        });
    };
    reload();
    spawn_local(async move {
        if let Ok(d) = net::get::<Vec<AttributeDef>>("/api/v1/attributes").await {
            defs.set(d);
        }
    });
    let patch = move |body: ContactPatch| {
        let id = id.get_value();
        let csrf = app.csrf_token();
        spawn_local(async move {
            match net::write::<Contact, _>(
                "PATCH",
                &format!("/api/v1/contacts/{id}"),
                &body,
                csrf.as_deref(),
            )
            .await
            {
                Ok(c) => {
                    contact.set(Some(c));
                    if let Ok(p) =
                        net::get::<Page<ConsentEvidence>>(&format!("/api/v1/contacts/{id}/consent"))
                            .await
                    {
                        history.set(p.items);
                    }
                }
                Err(e) => app.fail(e.message),
            }
        });
    };
    let editable = move || app.can(Permission::ContactsEdit);
    let save_main = move |e: ev::SubmitEvent| {
        e.prevent_default();
        let kinds = defs.get_untracked();
        let mut attributes = BTreeMap::new();
        for (key, text) in values.get_untracked() {
            let Some(def) = kinds.iter().find(|d| d.key == key) else {
                continue;
            };
            let value = if text.trim().is_empty() {
                serde_json::Value::Null
            } else {
                match def.kind {
                    AttributeKind::Number => text
                        .trim()
                        .replace(',', ".")
                        .parse::<f64>()
                        .map(serde_json::Value::from)
                        .unwrap_or(serde_json::Value::String(text.clone())),
                    AttributeKind::Boolean => serde_json::Value::Bool(text == "true"),
                    _ => serde_json::Value::String(text.clone()),
                }
            };
            attributes.insert(key, value);
        }
        patch(ContactPatch {
            name: Some(name.get_untracked()),
            attributes: Some(attributes),
            ..Default::default()
        });
    };
    let set_tags = move |list: Vec<String>| {
        patch(ContactPatch {
            tags: Some(list),
            ..Default::default()
        })
    };
    let save_consent = move |e: ev::SubmitEvent| {
        e.prevent_default();
        let m = Marketing::parse(&marketing.get_untracked()).unwrap_or_default();
        patch(ContactPatch {
            consent: Some(ConsentInput {
                marketing: m,
                reason: reason.get_untracked(),
            }),
            ..Default::default()
        });
        reason.set(String::new());
    };
    let add_note = move |e: ev::SubmitEvent| {
        e.prevent_default();
        let body = ContactNoteInput {
            body: note.get_untracked(),
        };
        let (id, csrf) = (id.get_value(), app.csrf_token());
        spawn_local(async move {
            match net::write::<ContactNote, _>(
                "POST",
                &format!("/api/v1/contacts/{id}/notes"),
                &body,
                csrf.as_deref(),
            )
            .await
            {
                Ok(_) => {
                    note.set(String::new());
                    reload();
                }
                Err(e) => app.fail(e.message),
            }
        });
    };
    let lang = move || app.session.lang.get().locale();
    view! {
        <aside class="contact-panel details" aria-label=app.text(T::Contact)>
            <button class="ghost back" on:click=move |_| on_close.run(())>{app.text(T::Back)}</button>
            {move || contact.get().map(|c| {
                let current_tags = c.tags.clone();
                let tags_remove = current_tags.clone();
                view! {
                    <h2>{c.name.clone().unwrap_or_else(|| c.phone.clone().unwrap_or_default())}</h2>
                    <dl>
                        <dt>{app.text(T::Phone)}</dt><dd>{c.phone.clone().unwrap_or_else(|| "—".into())}</dd>
                        <dt>{app.text(T::Country)}</dt><dd>{c.country.clone().unwrap_or_else(|| "—".into())}</dd>
                        {c.profile_name.clone().map(|p| view! { <dt>"WhatsApp"</dt><dd>{p}</dd> })}
                        {c.username.clone().map(|u| view! { <dt>"@"</dt><dd>{u}</dd> })}
                        <dt>{app.text(T::LastMessage)}</dt><dd>{c.last_inbound_at.map(|t| net::format_time(t, lang())).unwrap_or_else(|| "—".into())}</dd>
                    </dl>
                    <h3>{app.text(T::Tags)}</h3>
                    <div class="chips">
                        {current_tags.iter().map(|t| {
                            let (t2, list) = (t.clone(), tags_remove.clone());
                            view! { <span class="chip">{t.clone()}
                                {editable().then(|| view! { <button class="ghost x" aria-label=t2.clone()
                                    on:click=move |_| set_tags(list.iter().filter(|x| **x != t2).cloned().collect())>"×"</button> })}
                            </span> }
                        }).collect_view()}
                    </div>
                    <Show when=editable>
                        <select aria-label=app.text(T::AddTag) on:change={
                            let list = current_tags.clone();
                            move |e| {
                                let t = event_target_value(&e);
                                if !t.is_empty() && !list.contains(&t) {
                                    let mut all = list.clone();
                                    all.push(t);
                                    set_tags(all);
                                }
                            }
                        }>
                            <option value="">{app.text(T::AddTag)}</option>
                            {move || tags.get().into_iter().map(|t| view! { <option value=t.name.clone()>{t.name.clone()}</option> }).collect_view()}
                        </select>
                    </Show>
                    <h3>{app.text(T::Consent)}</h3>
                    <p class="consent"><b>{app.text(consent_label(c.consent.marketing))}</b>
                        {c.consent.evidence.clone().map(|e| view! { " · "{app.text(source_label(e.source))}" · "{net::format_time(e.at, lang())}<br/><q>{e.text.clone()}</q> })}
                    </p>
                }
            })}
            <form class="inline-form" on:submit=save_main>
                <label>{app.text(T::Name)}<input prop:value=move || name.get() disabled=move || !editable() on:input=move |e| name.set(event_target_value(&e))/></label>
                {move || defs.get().into_iter().map(|d| {
                    let key = d.key.clone();
                    let key_in = key.clone();
                    let input = match &d.kind {
                        AttributeKind::Choice { options } => {
                            let options = options.clone();
                            view! {
                                <select disabled=move || !editable() on:change=move |e| { let v = event_target_value(&e); values.update(|m| { m.insert(key_in.clone(), v); }); }>
                                    <option value="">"—"</option>
                                    {options.into_iter().map(|o| { let (o2, v, k) = (o.clone(), o.clone(), key.clone()); view! { <option value=v selected=move || values.with(|m| m.get(&k) == Some(&o2))>{o}</option> } }).collect_view()}
                                </select>
                            }.into_any()
                        }
                        kind => {
                            let ty = match kind { AttributeKind::Number => "number", AttributeKind::Date => "date", AttributeKind::Link => "url", _ => "text" };
                            let k = key.clone();
                            view! { <input type=ty disabled=move || !editable() prop:value=move || values.with(|m| m.get(&k).cloned().unwrap_or_default())
                                on:input=move |e| { let v = event_target_value(&e); values.update(|m| { m.insert(key_in.clone(), v); }); }/> }.into_any()
                        }
                    };
                    view! { <label>{d.label.clone()}{input}</label> }
                }).collect_view()}
                <Show when=editable><button class="primary" type="submit">{app.text(T::Save)}</button></Show>
            </form>
            <Show when=editable>
                <form class="inline-form" on:submit=save_consent>
                    <label>{app.text(T::SetConsent)}
                        <select on:change=move |e| marketing.set(event_target_value(&e))>
                            <option value="opted_in">{app.text(T::OptedIn)}</option>
                            <option value="opted_out">{app.text(T::OptedOut)}</option>
                        </select>
                    </label>
                    <label>{app.text(T::Reason)}<input required bind:value=reason/></label>
                    <button class="secondary" type="submit">{app.text(T::Save)}</button>
                </form>
            </Show>
            <details class="history"><summary>{app.text(T::ConsentHistory)}</summary>
                <ul>{move || history.get().into_iter().map(|e| view! {
                    <li>{net::format_time(e.at, lang())}" · "{app.text(consent_label(e.marketing))}" · "{app.text(source_label(e.source))}" · "{e.text.clone()}</li>
                }).collect_view()}</ul>
            </details>
            <h3>{app.text(T::Notes)}</h3>
            <Show when=editable>
                <form class="inline-form" on:submit=add_note>
                    <textarea rows="2" required aria-label=app.text(T::AddNote) bind:value=note></textarea>
                    <button class="secondary" type="submit">{app.text(T::SaveNote)}</button>
                </form>
            </Show>
            <ul class="notes">{move || notes.get().into_iter().map(|n| view! {
                <li><b>{n.author_name.clone()}</b>" · "{net::format_time(n.at, lang())}<p>{n.body.clone()}</p></li>
            }).collect_view()}</ul>
            <h3>{app.text(T::Conversations)}</h3>
            <ul class="conversations">{move || conversations.get().into_iter().map(|c| {
                let id = c.conversation.id.clone();
                view! { <li><button class="ghost" on:click=move |_| {
                    app.inbox.view.set(crate::app::View::Inbox);
                    app.open_conversation(id.clone());
                }>{c.display_phone_number.clone()}" · "{net::format_time(c.conversation.last_message_at, lang())}</button></li> }
            }).collect_view()}</ul>
        </aside>
    }
}

fn consent_label(m: Marketing) -> T {
    match m {
        Marketing::OptedIn => T::OptedIn,
        Marketing::OptedOut => T::OptedOut,
        Marketing::Unknown => T::ConsentUnknown,
    }
}

fn source_label(s: ConsentSource) -> T {
    match s {
        ConsentSource::Webhook => T::SourceWebhook,
        ConsentSource::Keyword => T::SourceKeyword,
        ConsentSource::SendFailure => T::SourceSendFailure,
        ConsentSource::Manual => T::SourceManual,
        ConsentSource::Import => T::SourceImport,
    }
}

/// Polls an import every half second while it runs.
fn follow(id: ImportId, into: RwSignal<Option<ImportStatus>>) {
    let app = expect_context::<App>();
    spawn_local(async move {
        loop {
            match net::get::<ImportStatus>(&format!("/api/v1/contacts/imports/{id}")).await {
                Ok(s) => {
                    let running = s.state == ImportState::Running;
                    into.set(Some(s));
                    if !running {
                        return;
                    }
                }
                Err(e) => {
                    app.fail(e.message);
                    return;
                }
            }
            net::sleep_ms(500).await;
        }
    });
}

#[component]
fn ImportWizard() -> impl IntoView {
    let app = expect_context::<App>();
    let region = RwSignal::new(String::from("RU"));
    let every_row = RwSignal::new(String::new());
    let file = RwSignal::new_local(None::<web_sys::File>);
    let uploading = RwSignal::new(None::<f64>);
    let dry = RwSignal::new(None::<ImportStatus>);
    let real = RwSignal::new(None::<ImportStatus>);
    let history = RwSignal::new(Vec::<ImportStatus>::new());
    let load_history = move || {
        spawn_local(async move {
            if let Ok(h) = net::get::<Vec<ImportStatus>>("/api/v1/contacts/imports").await {
                history.set(h);
            }
        });
    };
    load_history();
    let check = move |_| {
        let Some(f) = file.get_untracked() else {
            return;
        };
        let mut path = format!(
            "/api/v1/contacts/imports?dry_run=true&default_region={}&file_name={}",
            encode(&region.get_untracked()),
            encode(&f.name())
        );
        let tag = every_row.get_untracked();
        if !tag.trim().is_empty() {
            path.push_str(&format!("&tag={}", encode(tag.trim())));
        }
        let csrf = app.csrf_token();
        dry.set(None);
        real.set(None);
        uploading.set(Some(0.0));
        spawn_local(async move {
            let sent = net::upload::<ImportStarted>("POST", &path, &f, csrf.as_deref(), move |p| {
                uploading.set(Some(p))
            })
            .await;
            uploading.set(None);
            match sent {
                Ok(started) => follow(started.id, dry),
                Err(e) => app.fail(e.message),
            }
        });
    };
    let commit = move |_| {
        let Some(d) = dry.get_untracked() else { return };
        let csrf = app.csrf_token();
        spawn_local(async move {
            match net::call::<ImportStarted>(
                "POST",
                &format!("/api/v1/contacts/imports/{}/commit", d.id),
                None,
                csrf.as_deref(),
            )
            .await
            {
                Ok(started) => follow(started.id, real),
                Err(e) => app.fail(e.message),
            }
        });
    };
    let undo = move |_| {
        let Some(r) = real.get_untracked() else {
            return;
        };
        let csrf = app.csrf_token();
        spawn_local(async move {
            match net::call::<ImportStatus>(
                "POST",
                &format!("/api/v1/contacts/imports/{}/undo", r.id),
                None,
                csrf.as_deref(),
            )
            .await
            {
                Ok(_) => {
                    follow(r.id.clone(), real);
                    load_history();
                }
                Err(e) => app.fail(e.message),
            }
        });
    };
    let counts = move |s: &ImportStatus| {
        view! {
            <div class="cards counts">
                <div class="card stat"><b>{s.total}</b><span>{app.text(T::Rows)}</span></div>
                <div class="card stat"><b>{s.created}</b><span>{app.text(T::Create)}</span></div>
                <div class="card stat"><b>{s.updated}</b><span>{app.text(T::Update)}</span></div>
                <div class="card stat"><b>{s.unchanged}</b><span>{app.text(T::Unchanged)}</span></div>
                <div class="card stat"><b>{s.rejected}</b><span>{app.text(T::Rejected)}</span></div>
            </div>
        }
    };
    view! {
        <section class="import">
            <div class="card inline-form">
                <label>{app.text(T::ContactFile)}
                    <input type="file" accept=".csv,.txt,text/csv,text/plain"
                        on:change=move |e| {
                            use wasm_bindgen::JsCast;
                            let input: web_sys::HtmlInputElement = e.target().unwrap().unchecked_into();
                            file.set(input.files().and_then(|f| f.get(0)));
                        }/>
                </label>
                <label>{app.text(T::DefaultRegion)}
                    <select on:change=move |e| region.set(event_target_value(&e))>
                        {["RU", "KZ", "BY", "UZ", "KG", "AM", "UA", "US", "GB", "DE", "TR", "AE", "IN", "BR"].into_iter()
                            .map(|r| view! { <option value=r>{r}</option> }).collect_view()}
                    </select>
                </label>
                <label>{app.text(T::TagEveryRow)}
                    <input maxlength="64" bind:value=every_row/>
                </label>
                <button class="primary" disabled=move || file.with(Option::is_none) || uploading.get().is_some() on:click=check>{app.text(T::CheckFile)}</button>
                {move || uploading.get().map(|p| view! { <progress max="1" value=crate::decimal(p, 3) aria-label=app.text(T::Uploading)></progress> })}
            </div>
            {move || dry.get().map(|s| {
                let rejected: Vec<RowVerdict> = s.preview.iter().filter(|v| v.verdict == Verdict::Reject).cloned().collect();
                let done = s.state == ImportState::Done;
                view! {
                    <div class="card preview">
                        <h3>{app.text(T::DryRun)}" · "{s.file_name.clone().unwrap_or_default()}" · "{s.charset.clone()}" · "{s.delimiter.clone()}</h3>
                        {(s.state == ImportState::Failed).then(|| view! { <p class="error" role="alert">{s.error.clone().unwrap_or_default()}</p> })}
                        {counts(&s)}
                        <table class="mapping"><tbody>
                            {s.mapping.iter().map(|m| view! { <tr><td>{m.header.clone()}</td><td>"→ "{m.field.clone()}</td></tr> }).collect_view()}
                        </tbody></table>
                        {(!s.new_tags.is_empty()).then(|| view! { <p>{app.text(T::NewTags)}": "{s.new_tags.join(", ")}</p> })}
                        {(!rejected.is_empty()).then(|| view! {
                            <h4>{app.text(T::FirstRejected)}</h4>
                            <ul class="rejects">{rejected.into_iter().map(|v| view! { <li>{v.line}": "{v.reason.unwrap_or_default()}</li> }).collect_view()}</ul>
                        })}
                        <a class="secondary button" href=format!("/api/v1/contacts/imports/{}/errors", s.id) download="">{app.text(T::DownloadRejected)}</a>
                        <button class="primary" disabled=move || !done || real.with(Option::is_some) on:click=commit>{app.text(T::ImportNow)}</button>
                    </div>
                }
            })}
            {move || real.get().map(|s| {
                let fraction = if s.bytes_total > 0 { s.bytes_done as f64 / s.bytes_total as f64 } else { 0.0 };
                let state = s.state;
                view! {
                    <div class="card progress">
                        <h3>{app.text(T::Importing)}</h3>
                        <progress max="1" value=crate::decimal(fraction, 3) aria-label=app.text(T::Importing)></progress>
                        <p>{format!("{}%", crate::decimal(fraction * 100.0, 0))}" · "{crate::decimal(s.rows_per_second, 0)}" "{app.text(T::RowsPerSecond)}
                            {s.eta_seconds.map(|e| format!(" · {e} s"))}</p>
                        {counts(&s)}
                        {(state == ImportState::Failed).then(|| view! { <p class="error" role="alert">{s.error.clone().unwrap_or_default()}</p> })}
                        {(state == ImportState::Undone).then(|| view! { <p role="status">{app.text(T::Undone)}" "{s.error.clone().unwrap_or_default()}</p> })}
                        <a class="secondary button" href=format!("/api/v1/contacts/imports/{}/errors", s.id) download="">{app.text(T::DownloadRejected)}</a>
                        <button class="secondary" disabled=move || state != ImportState::Done on:click=undo>{app.text(T::Undo)}</button>
                    </div>
                }
            })}
            <h3>{app.text(T::RecentImports)}</h3>
            <ul class="imports">{move || history.get().into_iter().map(|s| view! {
                <li>{s.file_name.clone().unwrap_or_else(|| s.id.to_string())}" · "{s.state.as_str()}{if s.dry_run { " (dry run)" } else { "" }}
                    " · "{s.created}"/"{s.updated}"/"{s.unchanged}"/"{s.rejected}</li>
            }).collect_view()}</ul>
        </section>
    }
}

/// One clause of the segment editor.
#[derive(Clone, Debug, PartialEq)]
struct Clause {
    kind: String,
    value: String,
    negate: bool,
}

impl Clause {
    fn filter(&self) -> Option<Filter> {
        let v = self.value.trim();
        let f = match self.kind.as_str() {
            "tag" if !v.is_empty() => Filter::Tag(v.to_owned()),
            "country" if !v.is_empty() => Filter::Country(v.to_uppercase()),
            "consent" => Filter::Consent(Marketing::parse(v).unwrap_or_default()),
            "attribute_set" if !v.is_empty() => Filter::Attribute(AttributeTest {
                key: v.to_owned(),
                op: AttributeOp::IsSet,
                value: None,
            }),
            "inbound_within" => Filter::LastInbound(TimeTest::WithinDays(v.parse().ok()?)),
            "open" => Filter::OpenConversation(true),
            _ => return None,
        };
        Some(if self.negate {
            Filter::Not(Box::new(f))
        } else {
            f
        })
    }
}

#[component]
fn SegmentEditor() -> impl IntoView {
    let app = expect_context::<App>();
    let segments = RwSignal::new(Vec::<Segment>::new());
    let name = RwSignal::new(String::new());
    let clauses = RwSignal::new(vec![Clause {
        kind: "tag".into(),
        value: String::new(),
        negate: false,
    }]);
    let count = RwSignal::new(None::<u64>);
    let problem = RwSignal::new(None::<String>);
    let tags = catalogue();
    let load = move || {
        spawn_local(async move {
            if let Ok(s) = net::get::<Vec<Segment>>("/api/v1/segments").await {
                segments.set(s);
            }
        });
    };
    load();
    let generation = StoredValue::new(0u32);
    let filter = move || {
        Filter::All(
            clauses
                .get_untracked()
                .iter()
                .filter_map(Clause::filter)
                .collect(),
        )
    };
    let recount = move || {
        generation.update_value(|g| *g += 1);
        let mine = generation.get_value();
        let body = FilterInput { filter: filter() };
        let csrf = app.csrf_token();
        spawn_local(async move {
            let answer = net::write::<SegmentCount, _>(
                "POST",
                "/api/v1/segments/count",
                &body,
                csrf.as_deref(),
            )
            .await;
            if generation.try_get_value() != Some(mine) {
                return;
            }
            match answer {
                Ok(c) => {
                    count.set(Some(c.count));
                    problem.set(None);
                }
                Err(e) => {
                    count.set(None);
                    problem.set(Some(e.message));
                }
            }
        });
    };
    recount();
    let edit = move |i: usize, f: Box<dyn Fn(&mut Clause)>| {
        clauses.update(|c| {
            if let Some(c) = c.get_mut(i) {
                f(c);
            }
        });
        recount();
    };
    let save = move |e: ev::SubmitEvent| {
        e.prevent_default();
        let body = SegmentInput {
            name: name.get_untracked(),
            filter: filter(),
        };
        let csrf = app.csrf_token();
        spawn_local(async move {
            match net::write::<Segment, _>("POST", "/api/v1/segments", &body, csrf.as_deref()).await
            {
                Ok(_) => {
                    name.set(String::new());
                    load();
                }
                Err(e) => app.fail(e.message),
            }
        });
    };
    view! {
        <section class="segments">
            <form class="card inline-form segment-editor" on:submit=save>
                <label>{app.text(T::SegmentName)}<input required bind:value=name/></label>
                <p class="muted">{app.text(T::AllOf)}</p>
                {move || clauses.get().into_iter().enumerate().map(|(i, c)| view! {
                    <div class="clause">
                        <label class="check"><input type="checkbox" prop:checked=c.negate
                            on:change=move |e| { let on = event_target_checked(&e); edit(i, Box::new(move |c| c.negate = on)); }/>{app.text(T::Not)}</label>
                        <select aria-label=app.text(T::Condition) on:change=move |e| { let v = event_target_value(&e); edit(i, Box::new(move |c| { c.kind = v.clone(); c.value.clear(); })); }>
                            {[("tag", T::Tag), ("country", T::Country), ("consent", T::Consent), ("attribute_set", T::AttributeSet), ("inbound_within", T::InboundWithin), ("open", T::OpenConversation)]
                                .into_iter().map(|(k, label)| view! { <option value=k selected=c.kind == k>{app.text(label)}</option> }).collect_view()}
                        </select>
                        {match c.kind.as_str() {
                            "tag" => view! {
                                <select aria-label=app.text(T::Tag) on:change=move |e| { let v = event_target_value(&e); edit(i, Box::new(move |c| c.value = v.clone())); }>
                                    <option value="">"—"</option>
                                    {move || tags.get().into_iter().map(|t| view! { <option value=t.name.clone()>{t.name.clone()}</option> }).collect_view()}
                                </select>
                            }.into_any(),
                            "consent" => view! {
                                <select aria-label=app.text(T::Consent) on:change=move |e| { let v = event_target_value(&e); edit(i, Box::new(move |c| c.value = v.clone())); }>
                                    <option value="unknown">{app.text(T::ConsentUnknown)}</option>
                                    <option value="opted_in">{app.text(T::OptedIn)}</option>
                                    <option value="opted_out">{app.text(T::OptedOut)}</option>
                                </select>
                            }.into_any(),
                            "open" => ().into_any(),
                            _ => view! {
                                <input aria-label=app.text(T::Value) prop:value=c.value.clone()
                                    on:change=move |e| { let v = event_target_value(&e); edit(i, Box::new(move |c| c.value = v.clone())); }/>
                            }.into_any(),
                        }}
                        <button class="ghost x" type="button" aria-label="×"
                            on:click=move |_| { clauses.update(|c| { c.remove(i); }); recount(); }>"×"</button>
                    </div>
                }).collect_view()}
                <button class="secondary" type="button" on:click=move |_| { clauses.update(|c| c.push(Clause { kind: "tag".into(), value: String::new(), negate: false })); recount(); }>{app.text(T::AddCondition)}</button>
                <p class="live-count" role="status">{move || match (count.get(), problem.get()) {
                    (_, Some(p)) => p,
                    (Some(n), None) => format!("{} {n}", app.t(T::Matching)),
                    (None, None) => app.t(T::Loading).to_owned(),
                }}</p>
                <button class="primary" type="submit" disabled=move || !app.can(Permission::ContactsEdit)>{app.text(T::SaveSegment)}</button>
            </form>
            <ul class="segment-list">{move || segments.get().into_iter().map(|s| {
                let count = RwSignal::new(None::<u64>);
                let id = s.id.clone();
                spawn_local(async move {
                    if let Ok(c) = net::get::<SegmentCount>(&format!("/api/v1/segments/{id}/count")).await {
                        count.set(Some(c.count));
                    }
                });
                view! { <li><b>{s.name.clone()}</b>" · "{move || count.get().map(|c| c.to_string()).unwrap_or_else(|| "…".into())}</li> }
            }).collect_view()}</ul>
        </section>
    }
}
