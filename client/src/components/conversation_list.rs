//! The virtualised conversation list and its rows.

use leptos::html;
use leptos::prelude::*;
use switchboard_shared::protocol::ConversationState;

use crate::app::{display_name, App};
use crate::i18n::{self, T};
use crate::model::{self, Tab};
use crate::shell::*;

/// The height of one inbox row, in CSS pixels (the virtualised list relies on it).
pub(crate) const ROW_HEIGHT: f64 = 68.0;

#[component]
pub(crate) fn ConversationList() -> impl IntoView {
    let app = expect_context::<App>();
    let tabs = move || {
        app.session.me.with(|m| match m {
            Some(Some(me)) => Tab::for_permissions(&me.permissions, me.user.is_some()),
            _ => Vec::new(),
        })
    };
    let rows = Memo::new(move |_| {
        let me = app.me_id();
        let tab = app.inbox.tab.get();
        let query = app.inbox.query.get();
        app.inbox.list.with(|i| i.list(tab, me.as_ref(), &query))
    });
    let scroll_top = RwSignal::new(0.0f64);
    let viewport = RwSignal::new(800.0f64);
    let scroller = NodeRef::<html::Div>::new();
    let on_scroll = move |_| {
        if let Some(el) = scroller.get() {
            scroll_top.set(el.scroll_top() as f64);
            viewport.set(el.client_height() as f64);
        }
    };
    view! {
        <aside class="list">
            <div class="tabs" role="tablist">
                {move || tabs().into_iter().map(|tab| {
                    let count = move || {
                        let me = app.me_id();
                        app.inbox.list.with(|i| i.unread(tab, me.as_ref()))
                    };
                    view! {
                        <button role="tab" class="tab" class:active=move || app.inbox.tab.get() == tab
                            aria-selected=move || (app.inbox.tab.get() == tab).to_string()
                            on:click=move |_| app.inbox.tab.set(tab)>
                            {app.text(tab_label(tab))}
                            <Show when=move || { count() > 0 }>
                                <span class="badge" title=move || i18n::unread(app.session.lang.get(), count())>{count}</span>
                            </Show>
                        </button>
                    }
                }).collect_view()}
            </div>
            <input class="search" type="search" placeholder=app.text(T::Search)
                prop:value=move || app.inbox.query.get()
                on:input=move |e| app.inbox.query.set(event_target_value(&e))/>
            <div class="rows" node_ref=scroller on:scroll=on_scroll>
                {move || {
                    if !app.inbox.loaded.get() {
                        return view! { <p class="hint">{app.text(T::Loading)}</p> }.into_any();
                    }
                    let total = rows.with(Vec::len);
                    if total == 0 {
                        return view! { <p class="hint">{app.text(T::NoConversations)}</p> }.into_any();
                    }
                    let range = model::visible_range(scroll_top.get(), viewport.get(), ROW_HEIGHT, total, 8);
                    let start = range.start;
                    let shown: Vec<(usize, std::sync::Arc<model::Row>)> = rows.with(|r| {
                        r[range].iter().cloned().enumerate().map(|(i, row)| (start + i, row)).collect()
                    });
                    view! {
                        <div class="spacer" style=format!("height:{}px", px(total as f64 * ROW_HEIGHT))>
                            {shown.into_iter().map(|(i, row)| view! { <ListRow row=row top=i as f64 * ROW_HEIGHT/> }).collect_view()}
                        </div>
                    }.into_any()
                }}
            </div>
        </aside>
    }
}

/// Whole pixels: rows sit on whole pixels anyway, and formatting an `f64` would bring the
/// float-printing algorithms into the module (some 10 KB of WASM) for these two styles.
fn px(v: f64) -> i64 {
    v.round() as i64
}

#[component]
pub(crate) fn ListRow(row: std::sync::Arc<model::Row>, top: f64) -> impl IntoView {
    let app = expect_context::<App>();
    let c = row.conversation.clone();
    let id = c.id.clone();
    let selected = {
        let id = id.clone();
        move || app.inbox.open.with(|o| o.as_ref() == Some(&id))
    };
    let waiting = c.waiting_since;
    let at = c.last_message_at;
    let state = c.state;
    view! {
        <button class="row" class:selected=selected class:unread={row.unread > 0}
            style=format!("top:{}px;height:{}px", px(top), px(ROW_HEIGHT))
            data-conversation=id.to_string()
            on:click=move |_| app.open_conversation(id.clone())>
            <span class="avatar">{initials(&display_name(&c))}</span>
            <span class="main">
                <span class="line1">
                    <span class="name">{display_name(&c)}</span>
                    <span class="time">{app.time(at)}</span>
                </span>
                <span class="line2">
                    <span class="preview">{row.preview.clone().unwrap_or_else(|| c.tags.join(" · "))}</span>
                    {(row.unread > 0).then(|| view! { <span class="badge">{row.unread}</span> })}
                </span>
                <span class="line3">
                    {state_badge(state)}
                    {waiting.map(|w| view! {
                        <span class="wait" class:late=move || { app.session.now.get() - w > 120_000 }>
                            {move || i18n::duration(app.session.lang.get(), app.session.now.get() - w)}
                        </span>
                    })}
                </span>
            </span>
        </button>
    }
}

pub(crate) fn initials(name: &str) -> String {
    let letters: String = name
        .split_whitespace()
        .filter_map(|w| w.chars().find(|c| c.is_alphanumeric()))
        .take(2)
        .collect();
    if letters.is_empty() {
        "#".into()
    } else {
        letters.to_uppercase()
    }
}

pub(crate) fn state_badge(state: Option<ConversationState>) -> impl IntoView {
    let app = expect_context::<App>();
    state.map(|s| {
        let (class, key) = match s {
            ConversationState::Queued => ("state queued", T::StateQueued),
            ConversationState::Assigned => ("state assigned", T::StateAssigned),
            ConversationState::Resolved => ("state resolved", T::StateResolved),
        };
        view! { <span class=class>{app.text(key)}</span> }
    })
}
