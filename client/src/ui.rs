//! The views. Phone first: one pane at a time below 760 px, list and conversation side by side
//! above, the customer's details as a third column on wide screens.

use leptos::ev;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use switchboard_shared::api::{
    ApiKey, AuditEntry, Conversation, CreateUser, CustomerProfile, LoginRequest, LoginResponse,
    MediaInput, MessageParts, MessageTemplate, Number, OutgoingMessage, Page, Role,
    RoutingSettings, Team, TemplateInput, UpdateUser, Uploaded, User,
};
use switchboard_shared::ids::ConversationId;
use switchboard_shared::permissions::Permission;
use switchboard_shared::protocol::{AgentStatus, ClientFrame, ConversationState, Presence};
use switchboard_shared::{Direction, MessageStatus};

use crate::app::{display_name, encode, App, Link, Quote, View};
use crate::i18n::{self, Lang, T};
use crate::model::{self, Delivery, Tab};
use crate::net;
use wasm_bindgen::JsCast as _;

/// The height of one inbox row, in CSS pixels (the virtualised list relies on it).
const ROW_HEIGHT: f64 = 68.0;

#[component]
pub fn Root() -> impl IntoView {
    let app = App::new();
    provide_context(app);
    app.start();
    view! {
        {move || match app.me.get() {
            None => view! { <div class="splash">{move || app.t(T::Loading)}</div> }.into_any(),
            Some(None) => view! { <Login/> }.into_any(),
            Some(Some(_)) => view! { <Shell/> }.into_any(),
        }}
        <Toast/>
    }
}

#[component]
fn Toast() -> impl IntoView {
    let app = expect_context::<App>();
    view! {
        <Show when=move || app.toast.with(Option::is_some)>
            <div class="toast" role="alert" on:click=move |_| app.toast.set(None)>
                {move || app.toast.get().unwrap_or_default()}
            </div>
        </Show>
    }
}

#[component]
fn LangPicker() -> impl IntoView {
    let app = expect_context::<App>();
    view! {
        <select class="lang" aria-label=move || app.t(T::Language)
            on:change=move |e| app.set_lang(if event_target_value(&e) == "ru" { Lang::Ru } else { Lang::En })>
            {Lang::ALL.into_iter().map(|l| view! {
                <option value=l.code() selected=move || app.lang.get() == l>{l.name()}</option>
            }).collect_view()}
        </select>
    }
}

#[component]
fn Login() -> impl IntoView {
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
                <div class="brand"><span class="logo">"◎"</span>{move || app.t(T::AppName)}</div>
                <h1>{move || app.t(T::SignInTitle)}</h1>
                <label>{move || app.t(T::Email)}
                    <input type="email" name="email" autocomplete="username" required
                        prop:value=move || email.get()
                        on:input=move |e| email.set(event_target_value(&e))/>
                </label>
                <label>{move || app.t(T::Password)}
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
fn Shell() -> impl IntoView {
    let app = expect_context::<App>();
    let nav = move |view: View, label: T| {
        view! {
            <button class="nav" class:active=move || app.view.get() == view
                on:click=move |_| app.view.set(view)>{move || app.t(label)}</button>
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
        app.me
            .with(|m| {
                m.as_ref()
                    .and_then(|m| m.as_ref())
                    .map(|m| m.tenant_name.clone())
            })
            .unwrap_or_default()
    };
    view! {
        <div class="shell" class:conversation-open=move || app.open.with(Option::is_some) && app.view.get() == View::Inbox>
            <header class="top">
                <span class="brand"><span class="logo">"◎"</span><span class="tenant">{tenant}</span></span>
                <nav>
                    <Show when=has_inbox>{nav(View::Inbox, T::Inbox)}</Show>
                    <Show when=move || app.can(Permission::BoardView)>{nav(View::Board, T::Board)}</Show>
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
                        <option value="available" selected=move || app.status.get() == AgentStatus::Available>{move || app.t(T::StatusAvailable)}</option>
                        <option value="busy" selected=move || app.status.get() == AgentStatus::Busy>{move || app.t(T::StatusBusy)}</option>
                        <option value="break" selected=move || app.status.get() == AgentStatus::Break>{move || app.t(T::StatusBreak)}</option>
                    </select>
                </Show>
            </header>
            {move || match app.link.get() {
                Link::Live => ().into_any(),
                Link::Offline => view! { <div class="banner offline" role="status">{move || app.t(T::Offline)}</div> }.into_any(),
                Link::Connecting => view! { <div class="banner connecting" role="status">{move || app.t(T::Reconnecting)}</div> }.into_any(),
            }}
            {move || match app.view.get() {
                View::Inbox => view! { <InboxView/> }.into_any(),
                View::Board => view! { <BoardView/> }.into_any(),
                View::Admin => view! { <AdminView/> }.into_any(),
                View::Settings => view! { <SettingsView/> }.into_any(),
            }}
        </div>
    }
}

fn tab_label(tab: Tab) -> T {
    match tab {
        Tab::Mine => T::TabMine,
        Tab::Unassigned => T::TabUnassigned,
        Tab::Team => T::TabTeam,
        Tab::All => T::TabAll,
    }
}

#[component]
fn InboxView() -> impl IntoView {
    let app = expect_context::<App>();
    view! {
        <div class="inbox">
            <ConversationList/>
            {move || match app.open.get() {
                Some(id) => view! { <ConversationPane id=id/> }.into_any(),
                None => view! { <div class="pane empty-pane">{move || app.t(T::Select)}</div> }.into_any(),
            }}
        </div>
    }
}

#[component]
fn ConversationList() -> impl IntoView {
    let app = expect_context::<App>();
    let tabs = move || {
        app.me.with(|m| match m {
            Some(Some(me)) => Tab::for_permissions(&me.permissions, me.user.is_some()),
            _ => Vec::new(),
        })
    };
    let rows = Memo::new(move |_| {
        let me = app.me_id();
        let tab = app.tab.get();
        let query = app.query.get();
        app.inbox.with(|i| i.list(tab, me.as_ref(), &query))
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
                        app.inbox.with(|i| i.unread(tab, me.as_ref()))
                    };
                    view! {
                        <button role="tab" class="tab" class:active=move || app.tab.get() == tab
                            aria-selected=move || (app.tab.get() == tab).to_string()
                            on:click=move |_| app.tab.set(tab)>
                            {move || app.t(tab_label(tab))}
                            <Show when=move || { count() > 0 }>
                                <span class="badge" title=move || i18n::unread(app.lang.get(), count())>{count}</span>
                            </Show>
                        </button>
                    }
                }).collect_view()}
            </div>
            <input class="search" type="search" placeholder=move || app.t(T::Search)
                prop:value=move || app.query.get()
                on:input=move |e| app.query.set(event_target_value(&e))/>
            <div class="rows" node_ref=scroller on:scroll=on_scroll>
                {move || {
                    if !app.inbox_loaded.get() {
                        return view! { <p class="hint">{move || app.t(T::Loading)}</p> }.into_any();
                    }
                    let total = rows.with(Vec::len);
                    if total == 0 {
                        return view! { <p class="hint">{move || app.t(T::NoConversations)}</p> }.into_any();
                    }
                    let range = model::visible_range(scroll_top.get(), viewport.get(), ROW_HEIGHT, total, 8);
                    let start = range.start;
                    let shown: Vec<(usize, std::sync::Arc<model::Row>)> = rows.with(|r| {
                        r[range].iter().cloned().enumerate().map(|(i, row)| (start + i, row)).collect()
                    });
                    view! {
                        <div class="spacer" style=format!("height:{}px", total as f64 * ROW_HEIGHT)>
                            {shown.into_iter().map(|(i, row)| view! { <ListRow row=row top=i as f64 * ROW_HEIGHT/> }).collect_view()}
                        </div>
                    }.into_any()
                }}
            </div>
        </aside>
    }
}

#[component]
fn ListRow(row: std::sync::Arc<model::Row>, top: f64) -> impl IntoView {
    let app = expect_context::<App>();
    let c = row.conversation.clone();
    let id = c.id.clone();
    let selected = {
        let id = id.clone();
        move || app.open.with(|o| o.as_ref() == Some(&id))
    };
    let waiting = c.waiting_since;
    let at = c.last_message_at;
    let state = c.state;
    view! {
        <button class="row" class:selected=selected class:unread={row.unread > 0}
            style=format!("top:{top}px;height:{ROW_HEIGHT}px")
            data-conversation=id.to_string()
            on:click=move |_| app.open_conversation(id.clone())>
            <span class="avatar">{initials(&display_name(&c))}</span>
            <span class="main">
                <span class="line1">
                    <span class="name">{display_name(&c)}</span>
                    <span class="time">{move || net::format_time(at, app.lang.get().locale())}</span>
                </span>
                <span class="line2">
                    <span class="preview">{row.preview.clone().unwrap_or_else(|| c.tags.join(" · "))}</span>
                    {(row.unread > 0).then(|| view! { <span class="badge">{row.unread}</span> })}
                </span>
                <span class="line3">
                    {state_badge(state)}
                    {waiting.map(|w| view! {
                        <span class="wait" class:late=move || { app.now.get() - w > 120_000 }>
                            {move || i18n::duration(app.lang.get(), app.now.get() - w)}
                        </span>
                    })}
                </span>
            </span>
        </button>
    }
}

fn initials(name: &str) -> String {
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

fn state_badge(state: Option<ConversationState>) -> impl IntoView {
    let app = expect_context::<App>();
    state.map(|s| {
        let (class, key) = match s {
            ConversationState::Queued => ("state queued", T::StateQueued),
            ConversationState::Assigned => ("state assigned", T::StateAssigned),
            ConversationState::Resolved => ("state resolved", T::StateResolved),
        };
        view! { <span class=class>{move || app.t(key)}</span> }
    })
}

const EMOJI: &[&str] = &[
    "😀", "😂", "😊", "😍", "🙏", "👍", "👋", "🙌", "🎉", "❤️", "🔥", "✅", "❌", "⏳", "📦", "🚚",
    "💳", "📞", "📍", "😔", "😅", "🤝", "👌", "⭐",
];

#[component]
fn ConversationPane(id: ConversationId) -> impl IntoView {
    let app = expect_context::<App>();
    let conversation = {
        let id = id.clone();
        Memo::new(move |_| {
            app.inbox
                .with(|i| i.get(id.as_str()).map(|r| r.conversation.clone()))
        })
    };
    let details = RwSignal::new(false);
    // The message whose actions (reply, react) are open.
    let selected = RwSignal::new(None::<String>);
    let reactions = Memo::new(move |_| app.transcript.with(|t| t.reactions()));
    let id_bubbles = id.clone();
    let messages = NodeRef::<html::Div>::new();
    let stick_to_bottom = RwSignal::new(true);
    // Keep the newest message in view as they arrive, unless the user scrolled up to read.
    Effect::new(move |previous: Option<(usize, Option<String>)>| {
        let (len, first) = app
            .transcript
            .with(|t| (t.lines.len(), t.lines.first().map(|l| l.id.clone())));
        let older_loaded = previous
            .as_ref()
            .is_some_and(|(_, f)| f.is_some() && *f != first);
        if let Some(el) = messages.get() {
            if older_loaded {
                // Older messages went in above: keep what the user was reading in place.
                let before = el.scroll_height();
                request_animation_frame(move || {
                    el.set_scroll_top(el.scroll_top() + el.scroll_height() - before);
                });
            } else if stick_to_bottom.get_untracked() {
                request_animation_frame(move || el.set_scroll_top(el.scroll_height()));
            }
        }
        (len, first)
    });
    let on_scroll = move |_| {
        if let Some(el) = messages.get() {
            stick_to_bottom.set(el.scroll_height() - el.scroll_top() - el.client_height() < 80);
            if el.scroll_top() < 120 {
                app.load_older();
            }
        }
    };
    let title = move || conversation.with(|c| c.as_ref().map(display_name).unwrap_or_default());
    let state = move || conversation.with(|c| c.as_ref().and_then(|c| c.state));
    let resolved = move || state() == Some(ConversationState::Resolved);
    let id_resolve = id.clone();
    let id_assign = id.clone();
    let can_assign =
        move || app.can(Permission::ConversationsAssign) && app.can(Permission::BoardView);
    view! {
        <section class="pane conversation" class:with-details=move || details.get()>
            <header class="conv-head">
                <button class="ghost back" aria-label=move || app.t(T::Back) on:click=move |_| app.close_conversation()>"←"</button>
                <div class="who">
                    <strong class="title">{title}</strong>
                    <span class="sub">{move || conversation.with(|c| c.as_ref().map(|c| c.customer.clone()).unwrap_or_default())}</span>
                </div>
                {move || state_badge(state())}
                <Show when=move || app.can(Permission::ConversationsResolve)>
                    {
                        let id = id_resolve.clone();
                        move || {
                            let id = id.clone();
                            if resolved() {
                                view! { <button class="secondary" on:click=move |_| app.command(ClientFrame::Reopen { id: None, conversation: id.clone() })>{move || app.t(T::Reopen)}</button> }.into_any()
                            } else {
                                view! { <button class="secondary resolve" on:click=move |_| app.command(ClientFrame::Resolve { id: None, conversation: id.clone() })>{move || app.t(T::Resolve)}</button> }.into_any()
                            }
                        }
                    }
                </Show>
                <Show when=can_assign>
                    {
                        let id = id_assign.clone();
                        view! {
                            <select class="assign" aria-label=move || app.t(T::Assign) on:change=move |e| {
                                let agent = event_target_value(&e);
                                if !agent.is_empty() {
                                    app.command(ClientFrame::Assign { id: None, conversation: id.clone(), agent: agent.as_str().into() });
                                }
                            }>
                                <option value="">{move || app.t(T::Assign)}</option>
                                {move || app.agents.get().into_iter().filter(|a| a.presence != Presence::Offline).map(|a| view! {
                                    <option value=a.user.to_string()>{a.name.clone()}</option>
                                }).collect_view()}
                            </select>
                        }
                    }
                </Show>
                <button class="ghost details-toggle" on:click=move |_| details.update(|d| *d = !*d)>{move || app.t(T::Sidebar)}</button>
            </header>
            <div class="messages" node_ref=messages on:scroll=on_scroll>
                {move || app.transcript.with(|t| t.complete).then(|| view! { <p class="start">{move || app.t(T::StartOfConversation)}</p> })}
                <Show when=move || app.loading_older.get()>
                    <p class="hint">{move || app.t(T::LoadOlder)}</p>
                </Show>
                <For each=move || app.transcript.with(|t| t.shown())
                    key=|l| (l.id.clone(), format!("{:?}", l.delivery), l.wamid.clone())
                    children=move |line| view! { <Bubble line=line conversation=id_bubbles.clone() reactions=reactions selected=selected/> }/>
            </div>
            <Composer id=id.clone() conversation=conversation/>
            <Show when=move || details.get()>
                <Details id=id.clone() conversation=conversation/>
            </Show>
        </section>
    }
}

/// The reactions offered on a message, as on a phone.
const QUICK_REACTIONS: [&str; 6] = ["👍", "❤️", "😂", "😮", "😢", "🙏"];

#[component]
fn Bubble(
    line: model::Line,
    conversation: ConversationId,
    reactions: Memo<model::Reactions>,
    selected: RwSignal<Option<String>>,
) -> impl IntoView {
    let app = expect_context::<App>();
    let outbound = line.direction == Direction::Outbound;
    let at = line.at;
    let stored = line.wamid.is_some();
    let media_url = format!(
        "/api/v1/conversations/{conversation}/messages/{}/media",
        encode(&line.id)
    );
    let filename = line
        .parts
        .media
        .as_ref()
        .and_then(|m| m.filename.clone())
        .unwrap_or_else(|| line.kind.clone());
    let has_media = line.parts.media.is_some()
        || matches!(
            line.kind.as_str(),
            "image" | "video" | "audio" | "document" | "sticker"
        );
    let media = has_media.then(|| match (stored, line.kind.as_str()) {
        (false, _) => view! { <p class="file">"📎 "{filename.clone()}</p> }.into_any(),
        (true, "image" | "sticker") => view! { <img class="media" src=media_url.clone() alt=filename.clone() loading="lazy"/> }.into_any(),
        (true, "video") => view! { <video class="media" src=media_url.clone() controls=true preload="metadata"></video> }.into_any(),
        (true, "audio") => view! { <audio class="media" src=media_url.clone() controls=true preload="none"></audio> }.into_any(),
        (true, _) => view! { <a class="file" href=media_url.clone() download=filename.clone()>"📄 "{filename.clone()}</a> }.into_any(),
    });
    let text = match (&line.text, has_media) {
        (Some(t), _) => Some(t.clone()),
        (None, true) => None,
        (None, false) => Some(format!("[{}]", line.kind)),
    };
    let quote = line.parts.reply_to.clone().map(|wamid| {
        view! {
            <blockquote class="quote">
                {move || app.transcript.with(|t| t.by_wamid(&wamid).map(|l| l.snippet()))
                    .unwrap_or_else(|| app.t(T::EarlierMessage).to_owned())}
            </blockquote>
        }
    });
    let wamid = line.wamid.clone().unwrap_or_default();
    let on_this = {
        let wamid = wamid.clone();
        move || reactions.with(|r| r.get(&wamid).cloned().unwrap_or_default())
    };
    let (ticks, label, failed): (&str, Option<T>, Option<String>) = match &line.delivery {
        Delivery::Local => ("🕓", Some(T::Queued), None),
        Delivery::Queued => ("🕓", Some(T::Queued), None),
        Delivery::Failed(reason) => ("⚠", Some(T::FailedToSend), Some(reason.clone())),
        Delivery::Status(s) => match crate::ticks(line.direction, *s) {
            None => ("", None, None),
            Some(crate::Ticks::Pending) => ("🕓", None, None),
            Some(crate::Ticks::Sent) => ("✓", None, None),
            Some(crate::Ticks::Delivered) => ("✓✓", None, None),
            Some(crate::Ticks::Read) => ("✓✓", None, None),
            Some(crate::Ticks::Failed) => ("⚠", Some(T::FailedToSend), None),
        },
    };
    let status_name = match &line.delivery {
        Delivery::Local => "local",
        Delivery::Queued => "queued",
        Delivery::Failed(_) => "failed",
        Delivery::Status(MessageStatus::Read | MessageStatus::Played) => "read",
        Delivery::Status(MessageStatus::Delivered) => "delivered",
        Delivery::Status(MessageStatus::Sent) => "sent",
        Delivery::Status(_) => "pending",
    };
    let id = line.id.clone();
    let is_selected = {
        let id = id.clone();
        move || selected.with(|s| s.as_deref() == Some(id.as_str()))
    };
    let can_act = stored && app.can(Permission::ConversationsReply);
    let toggle = {
        let id = id.clone();
        move |e: ev::MouseEvent| {
            // Clicks on the actions themselves, a link or a player are theirs, not the bubble's
            // (events are delegated, so stopping them in the actions bar is too late).
            let inner = e
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .and_then(|el| el.closest(".actions, a, audio, video").ok().flatten())
                .is_some();
            if can_act && !inner {
                selected.update(|s| {
                    *s = if s.as_deref() == Some(id.as_str()) {
                        None
                    } else {
                        Some(id.clone())
                    }
                });
            }
        }
    };
    let snippet = line.snippet();
    let on_this_actions = on_this.clone();
    let actions = move || {
        let (id, wamid, snippet, conversation) = (
            id.clone(),
            wamid.clone(),
            snippet.clone(),
            conversation.clone(),
        );
        let mine = on_this_actions()
            .into_iter()
            .find(|(d, _)| *d == Direction::Outbound)
            .map(|(_, e)| e);
        view! {
            <div class="actions">
                {QUICK_REACTIONS.iter().map(|emoji| {
                    let (id, conversation) = (id.clone(), conversation.clone());
                    let chosen = mine.as_deref() == Some(*emoji);
                    view! {
                        <button class="ghost react" class:chosen=chosen on:click=move |_| {
                            // The same emoji again takes the reaction back.
                            let emoji = if chosen { String::new() } else { (*emoji).to_owned() };
                            app.react(conversation.clone(), id.clone(), emoji);
                            selected.set(None);
                        }>{*emoji}</button>
                    }
                }).collect_view()}
                <button class="secondary reply-to" on:click=move |_| {
                    app.replying.set(Some(Quote { key: id.clone(), wamid: wamid.clone(), snippet: snippet.clone() }));
                    selected.set(None);
                }>{move || app.t(T::Reply)}</button>
            </div>
        }
    };
    view! {
        <div class="bubble" class:out=outbound class:in=!outbound data-status=status_name data-key=line.id.clone() on:click=toggle>
            {quote}
            {media}
            {text.map(|text| view! { <p class="text">{text}</p> })}
            <span class="meta">
                <span class="time">{move || net::format_time(at, app.lang.get().locale())}</span>
                {outbound.then(|| view! { <span class="ticks" class:read=status_name == "read" title=move || label.map(|l| app.t(l)).unwrap_or_default()>{ticks}</span> })}
            </span>
            {failed.map(|reason| view! { <p class="failure">{move || app.t(T::FailedToSend)}": "{reason.clone()}</p> })}
            {move || {
                let list = on_this();
                (!list.is_empty()).then(|| view! {
                    <span class="reactions">{list.into_iter().map(|(_, e)| e).collect::<Vec<_>>().join(" ")}</span>
                })
            }}
            <Show when=is_selected.clone()>{actions.clone()}</Show>
        </div>
    }
}

/// A file being attached: uploading, then ready to send.
#[derive(Clone, Debug, PartialEq)]
struct Attachment {
    /// Which pick this is (a cancelled upload's answer is ignored).
    pick: u32,
    name: String,
    progress: f64,
    uploaded: Option<Uploaded>,
}

/// The file types WhatsApp takes (the server checks them too).
const ACCEPT: &str = "image/jpeg,image/png,image/webp,video/mp4,video/3gpp,audio/aac,audio/amr,\
    audio/mpeg,audio/mp4,audio/ogg,application/pdf,text/plain,application/msword,\
    application/vnd.ms-excel,application/vnd.ms-powerpoint,\
    application/vnd.openxmlformats-officedocument.wordprocessingml.document,\
    application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,\
    application/vnd.openxmlformats-officedocument.presentationml.presentation";

#[component]
fn Composer(id: ConversationId, conversation: Memo<Option<Conversation>>) -> impl IntoView {
    let app = expect_context::<App>();
    let id = StoredValue::new(id);
    let text = RwSignal::new(String::new());
    let emoji = RwSignal::new(false);
    let attachment = RwSignal::new(None::<Attachment>);
    let picks = StoredValue::new(0u32);
    let area = NodeRef::<html::Textarea>::new();
    let file_input = NodeRef::<html::Input>::new();
    let last_typing = StoredValue::new(0i64);
    let window_open = move || {
        conversation
            .with(|c| model::window_open(c.as_ref().and_then(|c| c.last_inbound_at), app.now.get()))
    };
    let suggestions = move || {
        let typed = text.get();
        app.canned.with(|c| {
            model::canned_matches(&typed, c)
                .into_iter()
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    let uploading = move || attachment.with(|a| a.as_ref().is_some_and(|a| a.uploaded.is_none()));
    let send = move || {
        let body = text.get_untracked().trim().to_owned();
        let ready = attachment.with_untracked(|a| a.as_ref().and_then(|a| a.uploaded.clone()));
        if uploading() {
            return;
        }
        let quote = app.replying.get_untracked();
        match ready {
            Some(file) => {
                let caption = Some(body).filter(|b| !b.is_empty());
                let outgoing = OutgoingMessage {
                    text: caption.clone(),
                    media: Some(MediaInput {
                        id: file.id.clone(),
                        kind: file.kind.clone(),
                        filename: file.filename.clone(),
                    }),
                    reply_to: quote.as_ref().map(|q| q.key.clone()),
                    ..OutgoingMessage::default()
                };
                let parts = MessageParts {
                    reply_to: quote.map(|q| q.wamid),
                    media: Some(Box::new(switchboard_shared::api::MediaRef {
                        id: file.id,
                        mime_type: Some(file.mime_type),
                        filename: file.filename.or(Some(file.kind.clone())),
                    })),
                    ..MessageParts::default()
                };
                app.send_rich(id.get_value(), outgoing, &file.kind, caption, parts);
                attachment.set(None);
            }
            None if body.is_empty() => return,
            None => app.reply(id.get_value(), body, quote),
        }
        app.replying.set(None);
        text.set(String::new());
        emoji.set(false);
    };
    let picked = move |_| {
        let Some(file) = file_input
            .get()
            .and_then(|i| i.files())
            .and_then(|files| files.get(0))
        else {
            return;
        };
        let pick = picks.get_value() + 1;
        picks.set_value(pick);
        attachment.set(Some(Attachment {
            pick,
            name: file.name(),
            progress: 0.0,
            uploaded: None,
        }));
        if let Some(input) = file_input.get() {
            input.set_value("");
        }
        let conversation = id.get_value();
        let csrf = app.csrf_token();
        spawn_local(async move {
            let path = format!(
                "/api/v1/conversations/{conversation}/media?filename={}",
                encode(&file.name())
            );
            let progress = move |p: f64| {
                attachment.update(|a| {
                    if let Some(a) = a.as_mut().filter(|a| a.pick == pick) {
                        a.progress = p;
                    }
                })
            };
            let result = net::upload::<Uploaded>(&path, &file, csrf.as_deref(), progress).await;
            let current = attachment.with_untracked(|a| a.as_ref().is_some_and(|a| a.pick == pick));
            if !current {
                return;
            }
            match result {
                Ok(uploaded) => attachment.update(|a| {
                    if let Some(a) = a.as_mut() {
                        a.progress = 1.0;
                        a.uploaded = Some(uploaded);
                    }
                }),
                Err(e) => {
                    attachment.set(None);
                    app.fail(e.message);
                }
            }
        });
    };
    let typed = move |e: ev::Event| {
        text.set(event_target_value(&e));
        // "typing…" for the customer, at most every 20 s.
        let now = net::now_ms();
        if now - last_typing.get_value() > 20_000 {
            last_typing.set_value(now);
            app.command_quiet(ClientFrame::Typing {
                id: None,
                conversation: id.get_value(),
            });
        }
    };
    view! {
        <Show when=move || app.can(Permission::ConversationsReply)>
            <Show when=window_open fallback=move || view! { <TemplatePicker id=id.get_value()/> }>
                <div class="composer">
                    <Show when=move || !suggestions().is_empty()>
                        <ul class="canned" role="listbox">
                            {move || suggestions().into_iter().map(|(shortcut, reply)| {
                                let r = reply.clone();
                                view! { <li role="option" on:click=move |_| text.set(r.clone())><b>"/"{shortcut}</b>" "{reply}</li> }
                            }).collect_view()}
                        </ul>
                    </Show>
                    {move || app.replying.get().map(|q| view! {
                        <div class="replying">
                            <span>"↩ "{q.snippet}</span>
                            <button class="ghost" aria-label=move || app.t(T::Cancel) on:click=move |_| app.replying.set(None)>"✕"</button>
                        </div>
                    })}
                    {move || attachment.get().map(|a| view! {
                        <div class="attachment" data-ready=a.uploaded.is_some().to_string()>
                            <span class="name">"📎 "{a.name.clone()}</span>
                            {a.uploaded.is_none().then(|| view! {
                                <progress max="1" value=a.progress aria-label=move || app.t(T::Uploading)></progress>
                                <span class="percent">{format!("{:.0}%", a.progress * 100.0)}</span>
                            })}
                            <button class="ghost" aria-label=move || app.t(T::Remove) on:click=move |_| attachment.set(None)>"✕"</button>
                        </div>
                    })}
                    <Show when=move || emoji.get()>
                        <div class="emoji-grid">
                            {EMOJI.iter().map(|e| view! {
                                <button class="ghost" on:click=move |_| {
                                    text.update(|t| t.push_str(e));
                                    if let Some(a) = area.get() { let _ = a.focus(); }
                                }>{*e}</button>
                            }).collect_view()}
                        </div>
                    </Show>
                    <div class="compose-row">
                        <button class="ghost" aria-label=move || app.t(T::Emoji) on:click=move |_| emoji.update(|v| *v = !*v)>"☺"</button>
                        <button class="ghost attach" aria-label=move || app.t(T::Attach) title=move || app.t(T::Attach)
                            on:click=move |_| { if let Some(i) = file_input.get() { i.click(); } }>"📎"</button>
                        <input type="file" class="hidden-file" accept=ACCEPT node_ref=file_input on:change=picked/>
                        <textarea node_ref=area rows="1"
                            placeholder=move || if attachment.with(|a| a.is_some()) { app.t(T::Caption) } else { app.t(T::TypeMessage) }
                            title=move || app.t(T::CannedHint)
                            prop:value=move || text.get()
                            on:input=typed
                            on:keydown=move |e: ev::KeyboardEvent| {
                                if e.key() == "Enter" && !e.shift_key() {
                                    e.prevent_default();
                                    send();
                                }
                            }></textarea>
                        <button class="primary send" aria-label=move || app.t(T::Send) disabled=uploading on:click=move |_| send()>{move || app.t(T::Send)}</button>
                    </div>
                </div>
            </Show>
        </Show>
    }
}

/// Outside the 24-hour window: the number's approved templates, their values, and a preview.
#[component]
fn TemplatePicker(id: ConversationId) -> impl IntoView {
    let app = expect_context::<App>();
    let templates = RwSignal::new(None::<Result<Vec<MessageTemplate>, String>>);
    let chosen = RwSignal::new(None::<MessageTemplate>);
    let values = RwSignal::new(Vec::<String>::new());
    let open = RwSignal::new(false);
    let conversation = StoredValue::new(id);
    let load = move || {
        open.set(true);
        if templates.with_untracked(|t| t.is_some()) {
            return;
        }
        spawn_local(async move {
            let path = format!(
                "/api/v1/conversations/{}/templates",
                conversation.get_value()
            );
            let result = net::get::<Page<MessageTemplate>>(&path)
                .await
                .map(|p| p.items)
                .map_err(|e| e.message);
            templates.set(Some(result));
        });
    };
    let preview = move || {
        chosen.get().map(|t| {
            let mut body = t.body.clone();
            for (i, v) in values.get().iter().enumerate() {
                if !v.is_empty() {
                    body = body.replace(&format!("{{{{{}}}}}", i + 1), v);
                }
            }
            body
        })
    };
    let send = move |_| {
        let Some(t) = chosen.get_untracked() else {
            return;
        };
        let params = values.get_untracked();
        let shown = preview();
        let body = OutgoingMessage {
            template: Some(TemplateInput {
                name: t.name,
                language: t.language,
                params,
            }),
            ..OutgoingMessage::default()
        };
        app.send_rich(
            conversation.get_value(),
            body,
            "template",
            shown,
            MessageParts::default(),
        );
        chosen.set(None);
        open.set(false);
    };
    view! {
        <div class="window-closed">
            <p>{move || app.t(T::OutsideWindow)}</p>
            <Show when=move || !open.get()>
                <button class="primary send-template" on:click=move |_| load()>{move || app.t(T::SendTemplate)}</button>
            </Show>
            <Show when=move || open.get()>
                {move || match templates.get() {
                    None => view! { <p class="hint">"…"</p> }.into_any(),
                    Some(Err(message)) => view! { <p class="failure">{message}</p> }.into_any(),
                    Some(Ok(list)) if list.is_empty() => view! { <p class="hint">{move || app.t(T::NoTemplates)}</p> }.into_any(),
                    Some(Ok(list)) => view! {
                        <ul class="templates">
                            {list.into_iter().map(|t| {
                                let pick = t.clone();
                                let this = (t.name.clone(), t.language.clone());
                                let is_chosen = move || chosen.with(|c| c.as_ref().is_some_and(|c| (c.name.clone(), c.language.clone()) == this));
                                view! {
                                    <li class="template" class:chosen=is_chosen on:click=move |_| {
                                        values.set(vec![String::new(); pick.params as usize]);
                                        chosen.set(Some(pick.clone()));
                                    }>
                                        <b>{t.name.clone()}</b>" · "{t.language.clone()}
                                        <p class="body">{t.body.clone()}</p>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                }}
                {move || chosen.get().map(|t| view! {
                    <div class="template-form">
                        {(0..t.params as usize).map(|i| view! {
                            <input class="template-value" placeholder=move || format!("{} {}", app.t(T::TemplateValue), i + 1)
                                prop:value=move || values.with(|v| v.get(i).cloned().unwrap_or_default())
                                on:input=move |e| {
                                    let v = event_target_value(&e);
                                    values.update(|vals| if let Some(x) = vals.get_mut(i) { *x = v; });
                                }/>
                        }).collect_view()}
                        <p class="preview">{preview}</p>
                        <div class="row">
                            <button class="secondary" on:click=move |_| { chosen.set(None); open.set(false); }>{move || app.t(T::Cancel)}</button>
                            <button class="primary" disabled=move || values.with(|v| v.iter().any(|x| x.trim().is_empty())) on:click=send>{move || app.t(T::Send)}</button>
                        </div>
                    </div>
                })}
            </Show>
        </div>
    }
}

#[component]
fn Details(id: ConversationId, conversation: Memo<Option<Conversation>>) -> impl IntoView {
    let app = expect_context::<App>();
    let new_tag = RwSignal::new(String::new());
    let note = RwSignal::new(String::new());
    let tags =
        move || conversation.with(|c| c.as_ref().map(|c| c.tags.clone()).unwrap_or_default());
    let agent_name = move |user: Option<switchboard_shared::ids::UserId>| match user {
        None => app.t(T::Nobody).to_owned(),
        Some(u) => app
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
    let id_current = id.clone();
    let can_edit_tags =
        move || app.can(Permission::ContactsEdit) || app.can(Permission::ConversationsReply);
    view! {
        <aside class="details">
            <h2>{move || app.t(T::Customer)}</h2>
            <dl>
                <dt>{move || app.t(T::Name)}</dt><dd>{move || conversation.with(|c| c.as_ref().map(display_name).unwrap_or_default())}</dd>
                <dt>"WhatsApp"</dt><dd>{move || conversation.with(|c| c.as_ref().map(|c| c.customer.clone()).unwrap_or_default())}</dd>
                <dt>{move || app.t(T::Number)}</dt><dd>{move || conversation.with(|c| c.as_ref().map(|c| c.number.to_string()).unwrap_or_default())}</dd>
                <dt>{move || app.t(T::Assignee)}</dt><dd>{move || agent_name(conversation.with(|c| c.as_ref().and_then(|c| c.assignee.clone())))}</dd>
                <dt>{move || app.t(T::Waiting)}</dt><dd>{move || conversation.with(|c| c.as_ref().and_then(|c| c.waiting_since)).map(|w| net::format_time(w, app.lang.get().locale())).unwrap_or_else(|| "—".into())}</dd>
            </dl>
            <Show when=move || profile.with(|p| p.as_ref().is_some_and(|p| p.conversations.len() > 1))>
                <h2>{move || app.t(T::CustomerConversations)}</h2>
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
                                    {this.then(|| view! { <span class="hint">" · "{move || app.t(T::ThisConversation)}</span> })}
                                    <span class="time">{move || net::format_time(at, app.lang.get().locale())}</span>
                                </li>
                            }
                        }).collect_view()
                    }
                </ul>
            </Show>
            <h2>{move || app.t(T::Tags)}</h2>
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
                            <input placeholder=move || app.t(T::AddTag) prop:value=move || new_tag.get() on:input=move |e| new_tag.set(event_target_value(&e))/>
                        </form>
                    }
                }
            </Show>
            <h2>{move || app.t(T::Notes)}</h2>
            <Show when=move || app.can(Permission::ConversationsNote)>
                {
                    let id = id_note.clone();
                    view! {
                        <form class="note-form" on:submit=move |e: ev::SubmitEvent| {
                            e.prevent_default();
                            let text = note.get_untracked().trim().to_owned();
                            if text.is_empty() { return; }
                            app.add_note(id.clone(), text);
                            note.set(String::new());
                        }>
                            <textarea rows="2" placeholder=move || app.t(T::AddNote) prop:value=move || note.get() on:input=move |e| note.set(event_target_value(&e))></textarea>
                            <button class="secondary" type="submit">{move || app.t(T::SaveNote)}</button>
                        </form>
                    }
                }
            </Show>
            <ul class="notes">
                <For each=move || app.notes.get() key=|n| n.id.clone() children=move |n| view! {
                    <li><b>{n.author_name.clone()}</b>" · "<span class="time">{move || net::format_time(n.at, app.lang.get().locale())}</span><p>{n.text.clone()}</p></li>
                }/>
            </ul>
        </aside>
    }
}

#[component]
fn BoardView() -> impl IntoView {
    let app = expect_context::<App>();
    let board = move || app.board.get().unwrap_or_default();
    let lang = move || app.lang.get();
    let ms = move |v: Option<i64>| {
        v.map(|v| i18n::duration(lang(), v))
            .unwrap_or_else(|| "—".into())
    };
    let agent_name = move |u: &switchboard_shared::ids::UserId| {
        app.agents
            .with(|a| a.iter().find(|a| &a.user == u).map(|a| a.name.clone()))
            .unwrap_or_else(|| u.to_string())
    };
    view! {
        <main class="board">
            <section class="cards">
                <div class="stat"><span class="label">{move || app.t(T::Queue)}</span>
                    <span class="value" data-figure="queue">{move || net::format_number(board().queue_depth as f64, lang().locale())}</span>
                    <span class="sub">{move || board().oldest_queued_since.map(|s| format!("{}: {}", app.t(T::OldestWait), i18n::duration(lang(), app.now.get() - s))).unwrap_or_default()}</span></div>
                <div class="stat"><span class="label">{move || app.t(T::FirstResponseMedian)}</span>
                    <span class="value">{move || ms(board().first_response_median_ms)}</span>
                    <span class="sub">{move || format!("{}: {}", app.t(T::FirstResponsesToday), net::format_number(board().first_responses_today as f64, lang().locale()))}</span></div>
                <div class="stat"><span class="label">{move || app.t(T::FirstResponseP90)}</span>
                    <span class="value">{move || ms(board().first_response_p90_ms)}</span></div>
                <div class="stat"><span class="label">{move || app.t(T::ResolvedLastHour)}</span>
                    <span class="value">{move || net::format_number(board().resolved_last_hour as f64, lang().locale())}</span></div>
            </section>
            <section class="chart">
                <h2>{move || app.t(T::Queue)}</h2>
                <QueueChart/>
            </section>
            <section>
                <h2>{move || app.t(T::AtRisk)}</h2>
                <Show when=move || board().at_risk.is_empty()>
                    <p class="sub">{move || app.t(T::None)}</p>
                </Show>
                <ul class="risk">
                    {move || board().at_risk.into_iter().map(|r| {
                        let id = r.conversation.clone();
                        let who = r.assignee.as_ref().map(agent_name).unwrap_or_else(|| app.t(T::Nobody).to_owned());
                        view! {
                            <li class:breached=r.breached>
                                <button class="link" on:click=move |_| app.open_conversation(id.clone())>{r.conversation.to_string()}</button>
                                <span>{who}</span>
                                <span class="wait">{move || i18n::duration(lang(), app.now.get() - r.waiting_since)}</span>
                                {r.breached.then(|| view! { <span class="state breached">{move || app.t(T::Breached)}</span> })}
                            </li>
                        }
                    }).collect_view()}
                </ul>
            </section>
            <section>
                <h2>{move || app.t(T::Agents)}</h2>
                <table class="agents">
                    <thead><tr><th>{move || app.t(T::Name)}</th><th>{move || app.t(T::Presence)}</th><th>{move || app.t(T::State)}</th><th>{move || app.t(T::Load)}</th></tr></thead>
                    <tbody>
                        {move || app.agents.get().into_iter().map(|a| {
                            let load = board().agents.into_iter().find(|l| l.user == a.user);
                            let (active, capacity) = load.map(|l| (l.active, l.capacity)).unwrap_or((0, 0));
                            let pct = (active * 100).checked_div(capacity).unwrap_or(0).min(100);
                            let presence = match a.presence { Presence::Online => T::Online, Presence::Away => T::Away, Presence::Offline => T::OfflinePresence };
                            let status = match a.status { AgentStatus::Available => T::StatusAvailable, AgentStatus::Busy => T::StatusBusy, AgentStatus::Break => T::StatusBreak };
                            view! {
                                <tr>
                                    <td>{a.name.clone()}</td>
                                    <td><span class=format!("dot {:?}", a.presence).to_lowercase()></span>{move || app.t(presence)}</td>
                                    <td>{move || app.t(status)}</td>
                                    <td><div class="bar"><div class="fill" style=format!("width:{pct}%")></div></div><span class="sub">{if capacity == 0 { "—".to_owned() } else { format!("{active}/{capacity}") }}</span></td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </section>
        </main>
    }
}

/// Queue depth over the time this page has been open, from the board's own events.
#[component]
fn QueueChart() -> impl IntoView {
    let app = expect_context::<App>();
    let path = move || {
        let mut history = app.queue_history.get();
        // The depth holds until the next change: extend the last reading to now.
        if let Some(&(_, last)) = history.last() {
            history.push((app.now.get(), last));
        }
        if history.len() < 2 {
            return String::new();
        }
        let (t0, t1) = (
            history[0].0,
            history[history.len() - 1].0.max(history[0].0 + 1),
        );
        let max = history.iter().map(|h| h.1).max().unwrap_or(0).max(1) as f64;
        history
            .iter()
            .map(|(t, q)| {
                let x = (t - t0) as f64 / (t1 - t0) as f64 * 300.0;
                let y = 60.0 - *q as f64 / max * 56.0;
                format!("{x:.1},{y:.1}")
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    view! {
        <svg class="spark" viewBox="0 0 300 60" preserveAspectRatio="none" role="img" aria-label="queue">
            <polyline points=path fill="none" stroke="currentColor" stroke-width="2"/>
        </svg>
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum AdminTab {
    Users,
    Roles,
    Teams,
    Numbers,
    Routing,
    Keys,
    Audit,
}

#[component]
fn AdminView() -> impl IntoView {
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
                    <button class="tab" class:active=move || current.get() == tab on:click=move |_| current.set(tab)>{move || app.t(label)}</button>
                }).collect_view()}
            </div>
            {move || match current.get() {
                AdminTab::Users => view! { <UsersAdmin/> }.into_any(),
                AdminTab::Roles => view! { <RolesAdmin/> }.into_any(),
                AdminTab::Teams => view! { <TeamsAdmin/> }.into_any(),
                AdminTab::Numbers => view! { <NumbersAdmin/> }.into_any(),
                AdminTab::Routing => view! { <RoutingAdmin/> }.into_any(),
                AdminTab::Keys => view! { <KeysAdmin/> }.into_any(),
                AdminTab::Audit => view! { <AuditAdmin/> }.into_any(),
            }}
        </main>
    }
}

/// Loads a list once into a signal; failures go to the toast.
fn fetch_into<T: serde::de::DeserializeOwned + Send + Sync + 'static>(
    path: &'static str,
    into: RwSignal<Option<T>>,
) {
    let app = expect_context::<App>();
    spawn_local(async move {
        match net::get::<T>(path).await {
            Ok(v) => into.set(Some(v)),
            Err(e) => app.fail(e.message),
        }
    });
}

#[component]
fn UsersAdmin() -> impl IntoView {
    let app = expect_context::<App>();
    let users = RwSignal::new(None::<Page<User>>);
    fetch_into("/api/v1/users?limit=500", users);
    // Custom roles too, for those who may see them; else the presets.
    let roles = RwSignal::new(None::<Vec<Role>>);
    if app.can(Permission::RolesManage) {
        fetch_into("/api/v1/roles", roles);
    }
    let role_names = move || -> Vec<(String, String)> {
        match roles.get() {
            Some(list) => list.into_iter().map(|r| (r.id, r.name)).collect(),
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
        view! { <label>{move || app.t(label)}<input type=kind required prop:value=move || sig.get() on:input=move |e| sig.set(event_target_value(&e))/></label> }
    };
    view! {
        <form class="card inline-form" on:submit=create>
            {field(name, T::Name, "text")}
            {field(email, T::Email, "email")}
            <label>{move || app.t(T::Role)}
                <select on:change=move |e| role.set(event_target_value(&e))>
                    {move || role_names().into_iter().map(|(id, name)| {
                        let selected = id.clone();
                        view! { <option value=id selected=move || role.get() == selected>{name}</option> }
                    }).collect_view()}
                </select>
            </label>
            {field(password, T::Password, "password")}
            <button class="primary" type="submit">{move || app.t(T::CreateUser)}</button>
        </form>
        <table>
            <thead><tr><th>{move || app.t(T::Name)}</th><th>{move || app.t(T::Email)}</th><th>{move || app.t(T::Role)}</th><th>{move || app.t(T::State)}</th></tr></thead>
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
                            {move || app.t(if disabled { T::Enable } else { T::Disable })}
                        </button></td></tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn RolesAdmin() -> impl IntoView {
    let app = expect_context::<App>();
    let roles = RwSignal::new(None::<Vec<Role>>);
    fetch_into("/api/v1/roles", roles);
    view! {
        <table>
            <thead><tr><th>{move || app.t(T::Role)}</th><th>{move || app.t(T::Permissions)}</th></tr></thead>
            <tbody>
                {move || roles.get().unwrap_or_default().into_iter().map(|r| view! {
                    <tr><td>{r.name}{r.preset.then_some(" ★")}</td>
                    <td class="sub">{r.permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")}</td></tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn TeamsAdmin() -> impl IntoView {
    let app = expect_context::<App>();
    let teams = RwSignal::new(None::<Vec<Team>>);
    fetch_into("/api/v1/teams", teams);
    view! {
        <table>
            <thead><tr><th>{move || app.t(T::Name)}</th><th>{move || app.t(T::Members)}</th><th>{move || app.t(T::Numbers)}</th></tr></thead>
            <tbody>
                {move || teams.get().unwrap_or_default().into_iter().map(|t| view! {
                    <tr><td>{t.name}</td><td>{t.members.len()}</td><td>{t.numbers.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ")}</td></tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn NumbersAdmin() -> impl IntoView {
    let app = expect_context::<App>();
    let numbers = RwSignal::new(None::<Vec<Number>>);
    fetch_into("/api/v1/numbers", numbers);
    view! {
        <table>
            <thead><tr><th>{move || app.t(T::Number)}</th><th>"Phone number ID"</th><th>"WABA"</th></tr></thead>
            <tbody>
                {move || numbers.get().unwrap_or_default().into_iter().map(|n| view! {
                    <tr><td>{format!("+{}", n.display_phone_number)}</td><td>{n.phone_number_id.to_string()}</td><td>{n.waba_id.unwrap_or_default()}</td></tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// The routing in force: it is set in the configuration file, so this screen shows it.
#[component]
fn RoutingAdmin() -> impl IntoView {
    let app = expect_context::<App>();
    let routing = RwSignal::new(None::<RoutingSettings>);
    fetch_into("/api/v1/routing", routing);
    let strategy = move |s: &str| {
        app.t(if s == "round_robin" {
            T::RoundRobin
        } else {
            T::LeastLoad
        })
    };
    let duration = move |secs: u64| {
        if secs == 0 {
            app.t(T::Never).to_owned()
        } else {
            i18n::duration(app.lang.get(), secs as i64 * 1000)
        }
    };
    view! {
        {move || routing.get().map(|r| view! {
            <section class="routing">
                <p class="hint">{move || app.t(T::RoutingSource)}</p>
                <dl>
                    <dt>{move || app.t(T::Strategy)}</dt><dd>{strategy(&r.strategy)}</dd>
                    <dt>{move || app.t(T::Capacity)}</dt><dd>{r.capacity}</dd>
                    <dt>{move || app.t(T::ReplyDeadline)}</dt><dd>{duration(r.reply_deadline_secs)}</dd>
                    <dt>{move || app.t(T::OfflineGrace)}</dt><dd>{duration(r.offline_grace_secs)}</dd>
                    <dt>{move || app.t(T::SlaTarget)}</dt><dd>{duration(r.sla_secs)}</dd>
                    <dt>{move || app.t(T::QueueNotice)}</dt><dd>{if r.queue_notice.is_empty() { "—".to_owned() } else { r.queue_notice.clone() }}</dd>
                </dl>
                <table>
                    <thead><tr><th>{move || app.t(T::Number)}</th><th>{move || app.t(T::Strategy)}</th></tr></thead>
                    <tbody>
                        {r.numbers.iter().map(|n| view! {
                            <tr><td>{format!("+{}", n.display_phone_number)}</td><td>{strategy(&n.strategy)}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </section>
        })}
    }
}

#[component]
fn KeysAdmin() -> impl IntoView {
    let app = expect_context::<App>();
    let keys = RwSignal::new(None::<Vec<ApiKey>>);
    fetch_into("/api/v1/api-keys", keys);
    view! {
        <table>
            <thead><tr><th>{move || app.t(T::Name)}</th><th>{move || app.t(T::Permissions)}</th><th>{move || app.t(T::Created)}</th><th>{move || app.t(T::State)}</th></tr></thead>
            <tbody>
                {move || keys.get().unwrap_or_default().into_iter().map(|k| view! {
                    <tr><td>{k.name}</td><td>{k.permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")}</td>
                    <td>{move || net::format_time(k.created_at, app.lang.get().locale())}</td>
                    <td>{move || app.t(if k.revoked_at.is_some() { T::Disabled } else { T::Active })}</td></tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn AuditAdmin() -> impl IntoView {
    let app = expect_context::<App>();
    let entries = RwSignal::new(None::<Page<AuditEntry>>);
    fetch_into("/api/v1/audit?limit=200", entries);
    view! {
        <table>
            <thead><tr><th>{move || app.t(T::When)}</th><th>{move || app.t(T::Who)}</th><th>{move || app.t(T::Action)}</th><th>{move || app.t(T::Target)}</th><th>{move || app.t(T::Outcome)}</th></tr></thead>
            <tbody>
                {move || entries.get().map(|p| p.items).unwrap_or_default().into_iter().map(|a| view! {
                    <tr><td>{move || net::format_time(a.at, app.lang.get().locale())}</td><td>{a.actor_name.clone()}</td><td>{a.action.clone()}</td><td>{a.target.clone().unwrap_or_default()}</td><td>{a.outcome.clone()}</td></tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// The user's own saved replies (kept in this browser), offered by `/shortcut` in the composer.
#[component]
fn SettingsView() -> impl IntoView {
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
        let mut all = app.canned.get_untracked();
        all.retain(|(k, _)| *k != s);
        all.push((s, r));
        all.sort();
        app.save_canned(all);
        shortcut.set(String::new());
        reply.set(String::new());
    };
    let who = move || {
        app.me
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
                <label>{move || app.t(T::Language)}" "<LangPicker/></label>
                <button class="secondary" on:click=move |_| net::ask_to_notify()>{move || app.t(T::Notifications)}</button>
                <button class="secondary signout" on:click=move |_| app.sign_out()>{move || app.t(T::SignOut)}</button>
            </section>
            <h2>{move || app.t(T::CannedReplies)}</h2>
            <form class="card inline-form" on:submit=add>
                <label>{move || app.t(T::CannedShortcut)}<input required prop:value=move || shortcut.get() on:input=move |e| shortcut.set(event_target_value(&e))/></label>
                <label>{move || app.t(T::CannedText)}<textarea required rows="2" prop:value=move || reply.get() on:input=move |e| reply.set(event_target_value(&e))></textarea></label>
                <button class="primary" type="submit">{move || app.t(T::CannedAdd)}</button>
            </form>
            <ul class="canned-list">
                {move || app.canned.get().into_iter().map(|(s, r)| {
                    let key = s.clone();
                    view! { <li><b>"/"{s}</b>" "{r}<button class="ghost x" on:click=move |_| {
                        let rest: Vec<(String, String)> = app.canned.get_untracked().into_iter().filter(|(k, _)| *k != key).collect();
                        app.save_canned(rest);
                    }>"×"</button></li> }
                }).collect_view()}
            </ul>
        </main>
    }
}
