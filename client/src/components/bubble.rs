//! One message as a bubble: text, media, quote, reactions, delivery.

use leptos::ev;
use leptos::prelude::*;
use switchboard_shared::ids::ConversationId;
use switchboard_shared::permissions::Permission;
use switchboard_shared::{Direction, MessageStatus};

use crate::app::{encode, App, Quote};
use crate::i18n::T;
use crate::model::{self, Delivery};
use wasm_bindgen::JsCast as _;

/// The reactions offered on a message, as on a phone.
pub(crate) const QUICK_REACTIONS: [&str; 6] = ["👍", "❤️", "😂", "😮", "😢", "🙏"];

#[component]
pub(crate) fn Bubble(
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
    // A file deleted by retention, or dropped by WhatsApp before a copy, is not fetched.
    let gone = line.parts.media.as_ref().is_some_and(|m| {
        matches!(
            m.copy,
            Some(
                switchboard_shared::api::MediaCopy::Purged
                    | switchboard_shared::api::MediaCopy::Lost
            )
        )
    });
    let media = has_media.then(|| match (stored && !gone, line.kind.as_str()) {
        (false, _) => view! {
            <p class=if gone { "file gone" } else { "file" }>{if gone { "🗑 " } else { "📎 " }}{filename.clone()}</p>
        }
        .into_any(),
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
                {move || app.inbox.transcript.with(|t| t.by_wamid(&wamid).map(|l| l.snippet()))
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
                    app.inbox.replying.set(Some(Quote { key: id.clone(), wamid: wamid.clone(), snippet: snippet.clone() }));
                    selected.set(None);
                }>{app.text(T::Reply)}</button>
            </div>
        }
    };
    view! {
        <div class="bubble" class:out=outbound class:in=!outbound data-status=status_name data-key=line.id.clone() on:click=toggle>
            {quote}
            {media}
            {text.map(|text| view! { <p class="text">{text}</p> })}
            <span class="meta">
                <span class="time">{app.time(at)}</span>
                {outbound.then(|| view! { <span class="ticks" class:read=status_name == "read" title=move || label.map(|l| app.t(l)).unwrap_or_default()>{ticks}</span> })}
            </span>
            {failed.map(|reason| view! { <p class="failure">{app.text(T::FailedToSend)}": "{reason.clone()}</p> })}
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
