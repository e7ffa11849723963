//! The archive: every conversation the person may read, open or resolved, by state, agent, tag
//! and day range, page by page; a search of every message's words with the text around the
//! match; each conversation opened in the inbox's view, or downloaded as its transcript.

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchboard_shared::api::{Conversation, ConversationState, Page, SearchResult};
use switchboard_shared::ids::ConversationId;

use crate::app::{display_name, encode, App};
use crate::i18n::T;
use crate::net;

#[component]
pub(crate) fn ArchiveView() -> impl IntoView {
    let app = expect_context::<App>();
    let state = RwSignal::new("resolved".to_owned());
    let tag = RwSignal::new(String::new());
    let from = RwSignal::new(net::utc_day(-29));
    let to = RwSignal::new(net::utc_day(1));
    let query = RwSignal::new(String::new());
    let list = RwSignal::new(Vec::<Conversation>::new());
    let next = RwSignal::new(None::<String>);
    let hits = RwSignal::new(None::<Vec<SearchResult>>);
    let hits_next = RwSignal::new(None::<String>);
    let filters = move || {
        let mut q = format!(
            "state={}&from={}&to={}",
            encode(&state.get()),
            encode(&from.get()),
            encode(&to.get())
        );
        let t = tag.get();
        if !t.trim().is_empty() {
            q.push_str(&format!("&tag={}", encode(t.trim())));
        }
        q
    };
    let generation = StoredValue::new(0u32);
    let load = move |more: bool| {
        let cursor = if more { next.get_untracked() } else { None };
        let mut path = format!("/api/v1/conversations?{}&limit=50", filters());
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={}", encode(c)));
        }
        generation.update_value(|g| *g += 1);
        let mine = generation.get_value();
        spawn_local(async move {
            let answer = net::get::<Page<Conversation>>(&path).await;
            if generation.try_get_value() != Some(mine) {
                return;
            }
            match answer {
                Ok(page) => {
                    if more {
                        list.update(|l| l.extend(page.items));
                    } else {
                        list.set(page.items);
                    }
                    next.set(page.next);
                }
                Err(e) => app.fail(e.message),
            }
        });
    };
    Effect::new(move |_| {
        filters();
        load(false);
    });
    let search = move |more: bool| {
        let q = query.get_untracked();
        if q.trim().is_empty() {
            hits.set(None);
            return;
        }
        let mut path = format!("/api/v1/search?q={}&limit=20", encode(q.trim()));
        if let Some(c) = hits_next.get_untracked().filter(|_| more) {
            path.push_str(&format!("&cursor={}", encode(&c)));
        }
        spawn_local(async move {
            match net::get::<Page<SearchResult>>(&path).await {
                Ok(page) => {
                    if more {
                        hits.update(|h| h.get_or_insert_with(Vec::new).extend(page.items));
                    } else {
                        hits.set(Some(page.items));
                    }
                    hits_next.set(page.next);
                }
                Err(e) => app.fail(e.message),
            }
        });
    };
    let open = move |id: ConversationId| app.open_conversation(id);
    let lang = move || app.session.lang.get();
    let when = move |at: i64| net::format_time(at, lang().locale());
    let state_label = move |s: Option<ConversationState>| match s {
        Some(ConversationState::Queued) => app.t(T::StateQueued),
        Some(ConversationState::Assigned) => app.t(T::StateAssigned),
        Some(ConversationState::Resolved) => app.t(T::StateResolved),
        None => "",
    };
    let date = move |sig: RwSignal<String>, label: T| {
        view! { <label>{app.text(label)}<input type="date" prop:value=move || sig.get() on:change=move |e| sig.set(event_target_value(&e))/></label> }
    };
    view! {
        <main class="archive">
            <div class="toolbar"><h1>{app.text(T::Archive)}</h1></div>
            <form class="search" role="search" on:submit=move |e| { e.prevent_default(); search(false); }>
                <input type="search" class="archive-search" placeholder=app.text(T::SearchMessages) bind:value=query/>
                <button class="primary" type="submit">{app.text(T::SearchButton)}</button>
            </form>
            {move || hits.get().map(|found| view! {
                <section class="hits">
                    <h2>{app.text(T::Found)}{format!(" ({})", found.len())}</h2>
                    {found.is_empty().then(|| view! { <p class="empty">{app.text(T::NothingFound)}</p> })}
                    <ul>
                        {found.into_iter().map(|h| {
                            let id = h.conversation_id.clone();
                            view! {
                                <li class="hit" on:click=move |_| open(id.clone())>
                                    <span class="hint">{when(h.message.at)}</span>
                                    <p>{h.snippet.clone()}</p>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                    <Show when=move || hits_next.get().is_some()>
                        <button class="secondary" on:click=move |_| search(true)>{app.text(T::LoadMore)}</button>
                    </Show>
                </section>
            })}
            <div class="inline">
                <label>{app.text(T::State)}<select class="archive-state" on:change=move |e| state.set(event_target_value(&e))>
                    <option value="resolved">{app.text(T::StateResolved)}</option>
                    <option value="open">{app.text(T::StateOpen)}</option>
                    <option value="all">{app.text(T::TabAll)}</option>
                </select></label>
                <label>{app.text(T::TagFilter)}<input class="archive-tag" bind:value=tag/></label>
                {date(from, T::From)}{date(to, T::To)}
            </div>
            <table class="archive-list">
                <thead><tr><th>{app.text(T::Customer)}</th><th>{app.text(T::State)}</th><th>{app.text(T::LastMessage)}</th><th>{app.text(T::Tags)}</th><th></th></tr></thead>
                <tbody>
                    {move || list.get().into_iter().map(|c| {
                        let id = c.id.clone();
                        let file = format!("/api/v1/conversations/{}/transcript?format=html", c.id);
                        view! {
                            <tr data-conversation=c.id.to_string()>
                                <td><button class="link" on:click=move |_| open(id.clone())>{display_name(&c)}</button></td>
                                <td>{state_label(c.state)}</td>
                                <td>{when(c.last_message_at)}</td>
                                <td>{c.tags.join(", ")}</td>
                                <td><a class="transcript" href=file download="">{app.text(T::Transcript)}</a></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            <Show when=move || list.with(Vec::is_empty)>
                <p class="empty">{app.text(T::NothingFound)}</p>
            </Show>
            <Show when=move || next.get().is_some()>
                <button class="secondary" on:click=move |_| load(true)>{app.text(T::LoadMore)}</button>
            </Show>
        </main>
    }
}
