//! One conversation: its messages, the composer and the customer's details.

use leptos::html;
use leptos::prelude::*;
use switchboard_shared::ids::ConversationId;
use switchboard_shared::permissions::Permission;
use switchboard_shared::protocol::{ClientFrame, ConversationState, Presence};

use crate::app::{display_name, App};
use crate::components::*;
use crate::i18n::T;

#[component]
pub(crate) fn ConversationPane(id: ConversationId) -> impl IntoView {
    let app = expect_context::<App>();
    let conversation = {
        let id = id.clone();
        Memo::new(move |_| {
            app.inbox
                .list
                .with(|i| i.get(id.as_str()).map(|r| r.conversation.clone()))
        })
    };
    let details = RwSignal::new(false);
    // The message whose actions (reply, react) are open.
    let selected = RwSignal::new(None::<String>);
    let reactions = Memo::new(move |_| app.inbox.transcript.with(|t| t.reactions()));
    let id_bubbles = id.clone();
    let messages = NodeRef::<html::Div>::new();
    let stick_to_bottom = RwSignal::new(true);
    // Keep the newest message in view as they arrive, unless the user scrolled up to read.
    Effect::new(move |previous: Option<(usize, Option<String>)>| {
        let (len, first) = app
            .inbox
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
                <button class="ghost back" aria-label=app.text(T::Back) on:click=move |_| app.close_conversation()>"←"</button>
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
                                view! { <button class="secondary" on:click=move |_| app.command(ClientFrame::Reopen { id: None, conversation: id.clone() })>{app.text(T::Reopen)}</button> }.into_any()
                            } else {
                                view! { <button class="secondary resolve" on:click=move |_| app.command(ClientFrame::Resolve { id: None, conversation: id.clone() })>{app.text(T::Resolve)}</button> }.into_any()
                            }
                        }
                    }
                </Show>
                <Show when=can_assign>
                    {
                        let id = id_assign.clone();
                        view! {
                            <select class="assign" aria-label=app.text(T::Assign) on:change=move |e| {
                                let agent = event_target_value(&e);
                                if !agent.is_empty() {
                                    app.command(ClientFrame::Assign { id: None, conversation: id.clone(), agent: agent.as_str().into() });
                                }
                            }>
                                <option value="">{app.text(T::Assign)}</option>
                                {move || app.inbox.agents.get().into_iter().filter(|a| a.presence != Presence::Offline).map(|a| view! {
                                    <option value=a.user.to_string()>{a.name.clone()}</option>
                                }).collect_view()}
                            </select>
                        }
                    }
                </Show>
                <button class="ghost details-toggle" on:click=move |_| details.update(|d| *d = !*d)>{app.text(T::Sidebar)}</button>
            </header>
            <div class="messages" node_ref=messages on:scroll=on_scroll>
                {move || app.inbox.transcript.with(|t| t.complete).then(|| view! { <p class="start">{app.text(T::StartOfConversation)}</p> })}
                <Show when=move || app.inbox.loading_older.get()>
                    <p class="hint">{app.text(T::LoadOlder)}</p>
                </Show>
                <For each=move || app.inbox.transcript.with(|t| t.shown())
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
