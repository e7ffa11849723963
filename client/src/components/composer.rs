//! The reply composer (text, attachments, quotes, the offline queue) and the template picker.

use leptos::ev;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use switchboard_shared::api::CustomerProfile;
use switchboard_shared::api::{
    Conversation, MediaInput, MessageParts, MessageTemplate, OutgoingMessage, Page, Uploaded,
};
use switchboard_shared::contacts::Contact;
use switchboard_shared::ids::ConversationId;
use switchboard_shared::permissions::Permission;
use switchboard_shared::protocol::ClientFrame;
use switchboard_shared::replies::{self, SavedReply};

use switchboard_shared::compliance::{
    FilterAction, FilterCheckInput, FilterMatch, FilterReport, Verdict,
};

use crate::app::{encode, App, FilterAck};
use crate::i18n::T;
use crate::model::{self, body_label, TemplateDraft};
use crate::net;

pub(crate) const EMOJI: &[&str] = &[
    "😀", "😂", "😊", "😍", "🙏", "👍", "👋", "🙌", "🎉", "❤️", "🔥", "✅", "❌", "⏳", "📦", "🚚",
    "💳", "📞", "📍", "😔", "😅", "🤝", "👌", "⭐",
];

/// A file being attached: uploading, then ready to send.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Attachment {
    /// Which pick this is (a cancelled upload's answer is ignored).
    pick: u32,
    name: String,
    progress: f64,
    uploaded: Option<Uploaded>,
}

/// The file types WhatsApp takes (the server checks them too).
pub(crate) const ACCEPT: &str =
    "image/jpeg,image/png,image/webp,video/mp4,video/3gpp,audio/aac,audio/amr,\
    audio/mpeg,audio/mp4,audio/ogg,application/pdf,text/plain,application/msword,\
    application/vnd.ms-excel,application/vnd.ms-powerpoint,\
    application/vnd.openxmlformats-officedocument.wordprocessingml.document,\
    application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,\
    application/vnd.openxmlformats-officedocument.presentationml.presentation";

#[component]
pub(crate) fn Composer(
    id: ConversationId,
    conversation: Memo<Option<Conversation>>,
) -> impl IntoView {
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
        conversation.with(|c| {
            model::window_open(
                c.as_ref().and_then(|c| c.last_inbound_at),
                app.session.now.get(),
            )
        })
    };
    let suggestions = move || {
        let typed = text.get();
        app.session.replies.with(|all| {
            replies::matching(&typed, all)
                .into_iter()
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    // An upload's answer, for the pick it was for (a later pick or a cancel wins).
    let settle = move |pick: u32, result: Result<Uploaded, net::Failure>| {
        if !attachment.with_untracked(|a| a.as_ref().is_some_and(|a| a.pick == pick)) {
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
    };
    // A reply's file: the server sends its kept copy to WhatsApp for this conversation's number
    // (nothing goes through the phone), and the composer holds it as if the agent had picked it.
    let attach_reply_file = move |reply: &SavedReply| {
        let Some(file) = reply.attachment.clone() else {
            return;
        };
        let pick = picks.get_value() + 1;
        picks.set_value(pick);
        attachment.set(Some(Attachment {
            pick,
            name: file.filename.clone().unwrap_or(file.kind.clone()),
            progress: 0.0,
            uploaded: None,
        }));
        let path = format!(
            "/api/v1/conversations/{}/media?saved_reply={}",
            id.get_value(),
            encode(&reply.id)
        );
        let csrf = app.csrf_token();
        spawn_local(async move {
            settle(
                pick,
                net::call::<Uploaded>("POST", &path, None, csrf.as_deref()).await,
            );
        });
    };
    // A chosen reply goes into the draft with its variables filled in: the customer's name and
    // number, the agent's name, and (read only when the reply names one) the contact's attributes;
    // its file, if it has one, is attached.
    let use_reply = move |reply: SavedReply| {
        attach_reply_file(&reply);
        let (name, phone) = conversation.with_untracked(|c| {
            c.as_ref()
                .map(|c| (crate::app::display_name(c), c.customer.clone()))
                .unwrap_or_default()
        });
        let agent = app.session.me.with_untracked(|m| {
            m.as_ref()
                .and_then(|m| m.as_ref())
                .and_then(|m| m.user.as_ref())
                .map(|u| u.name.clone())
                .unwrap_or_default()
        });
        let basic = [
            ("contact.name".to_owned(), name),
            ("contact.phone".to_owned(), phone),
            ("agent.name".to_owned(), agent),
        ];
        let wants_attributes = replies::variables(&reply.text)
            .iter()
            .any(|v| v.starts_with("contact.") && !basic.iter().any(|(k, _)| k == v));
        let fill = move |extra: Vec<(String, String)>| {
            let vars: Vec<(&str, &str)> = basic
                .iter()
                .chain(extra.iter())
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            text.set(replies::fill(&reply.text, &vars));
        };
        if !wants_attributes {
            fill(Vec::new());
            return;
        }
        let path = format!("/api/v1/conversations/{}/customer", id.get_value());
        spawn_local(async move {
            let mut extra = Vec::new();
            let contact = net::get::<CustomerProfile>(&path)
                .await
                .ok()
                .and_then(|p| p.contact);
            if let Some(contact) = contact {
                if let Ok(c) = net::get::<Contact>(&format!("/api/v1/contacts/{contact}")).await {
                    for (key, value) in c.attributes {
                        let shown = match value {
                            serde_json::Value::String(s) => s,
                            serde_json::Value::Null => String::new(),
                            other => other.to_string(),
                        };
                        extra.push((format!("contact.{key}"), shown));
                    }
                }
            }
            fill(extra);
        });
    };
    let uploading = move || attachment.with(|a| a.as_ref().is_some_and(|a| a.uploaded.is_none()));
    // The word filter, asked as the agent types (a quarter second after the last key): the
    // server's own check, so what is marked is exactly what a send would be refused for.
    let scan_ms = StoredValue::new(0.0f64);
    let found = RwSignal::new(Vec::<FilterMatch>::new());
    let asked = StoredValue::new(0u32);
    Effect::new(move |_| {
        let draft = text.get();
        let number = conversation.with_untracked(|c| c.as_ref().map(|c| c.number.clone()));
        let ask = asked.get_value().wrapping_add(1);
        asked.set_value(ask);
        if draft.trim().is_empty() {
            found.set(Vec::new());
            return;
        }
        spawn_local(async move {
            net::sleep_ms(250).await;
            if asked.try_get_value() != Some(ask) {
                return;
            }
            let started = net::precise_ms();
            let input = FilterCheckInput {
                text: draft.clone(),
                number,
            };
            let report = app
                .write::<FilterReport, _>("POST", "/api/v1/compliance/check", &input)
                .await;
            if asked.try_get_value() != Some(ask) {
                return;
            }
            if let Ok(report) = report {
                scan_ms.set_value(net::precise_ms() - started);
                found.set(report.matches);
            }
        });
    });
    let verdict = move || Verdict::of(&found.get());
    let confirm = RwSignal::new(false);
    let reason = RwSignal::new(String::new());
    let may_override = move || app.can(Permission::ComplianceOverride);
    // What the sender says about the findings, or `None` while the draft may not go.
    let ack = move || -> Option<FilterAck> {
        match verdict() {
            Verdict::Clear => Some(FilterAck::default()),
            Verdict::Warn => confirm.get().then_some(FilterAck {
                confirm_warnings: true,
                override_reason: None,
            }),
            Verdict::Block => {
                let r = reason.get().trim().to_owned();
                (may_override() && !r.is_empty()).then_some(FilterAck {
                    confirm_warnings: true,
                    override_reason: Some(r),
                })
            }
        }
    };
    let send = move || {
        let body = text.get_untracked().trim().to_owned();
        let ready = attachment.with_untracked(|a| a.as_ref().and_then(|a| a.uploaded.clone()));
        if uploading() {
            return;
        }
        let Some(ack) = untrack(ack) else {
            return;
        };
        let quote = app.inbox.replying.get_untracked();
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
                    confirm_warnings: ack.confirm_warnings,
                    override_reason: ack.override_reason.clone(),
                    ..OutgoingMessage::default()
                };
                let parts = MessageParts {
                    reply_to: quote.map(|q| q.wamid),
                    media: Some(Box::new(switchboard_shared::api::MediaRef {
                        copy: None,
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
            None => app.reply(id.get_value(), body, quote, ack),
        }
        app.inbox.replying.set(None);
        text.set(String::new());
        emoji.set(false);
        confirm.set(false);
        reason.set(String::new());
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
            settle(
                pick,
                net::upload::<Uploaded>("POST", &path, &file, csrf.as_deref(), progress).await,
            );
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
                            {move || suggestions().into_iter().map(|reply| {
                                let (shortcut, shown) = (reply.shortcut.clone(), reply.text.clone());
                                view! { <li role="option" on:click=move |_| use_reply(reply.clone())><b>"/"{shortcut}</b>" "{shown}</li> }
                            }).collect_view()}
                        </ul>
                    </Show>
                    {move || app.inbox.replying.get().map(|q| view! {
                        <div class="replying">
                            <span>"↩ "{q.snippet}</span>
                            <button class="ghost" aria-label=app.text(T::Cancel) on:click=move |_| app.inbox.replying.set(None)>"✕"</button>
                        </div>
                    })}
                    {move || attachment.get().map(|a| view! {
                        <div class="attachment" data-ready=a.uploaded.is_some().to_string()>
                            <span class="name">"📎 "{a.name.clone()}</span>
                            {a.uploaded.is_none().then(|| view! {
                                <progress max="1" value=crate::decimal(a.progress, 3) aria-label=app.text(T::Uploading)></progress>
                                <span class="percent">{format!("{}%", crate::decimal(a.progress * 100.0, 0))}</span>
                            })}
                            <button class="ghost" aria-label=app.text(T::Remove) on:click=move |_| attachment.set(None)>"✕"</button>
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
                    <Show when=move || !found.with(Vec::is_empty)>
                        <FilterFindings found=found scan_ms=scan_ms confirm=confirm reason=reason/>
                    </Show>
                    <div class="compose-row">
                        <button class="ghost" aria-label=app.text(T::Emoji) on:click=move |_| emoji.update(|v| *v = !*v)>"☺"</button>
                        <button class="ghost attach" aria-label=app.text(T::Attach) title=app.text(T::Attach)
                            on:click=move |_| { if let Some(i) = file_input.get() { i.click(); } }>"📎"</button>
                        <input type="file" class="hidden-file" accept=ACCEPT node_ref=file_input on:change=picked/>
                        <textarea node_ref=area rows="1"
                            placeholder=move || if attachment.with(|a| a.is_some()) { app.t(T::Caption) } else { app.t(T::TypeMessage) }
                            title=app.text(T::CannedHint)
                            prop:value=move || text.get()
                            on:input=typed
                            on:keydown=move |e: ev::KeyboardEvent| {
                                if e.key() == "Enter" && !e.shift_key() {
                                    e.prevent_default();
                                    send();
                                }
                            }></textarea>
                        <button class="primary send" aria-label=app.text(T::Send) disabled=move || uploading() || ack().is_none() on:click=move |_| send()>{app.text(T::Send)}</button>
                    </div>
                </div>
            </Show>
        </Show>
    }
}

/// What the word filter found in the draft: the words, whether they block or warn, and what the
/// sender may do (change them; confirm a warning; with the right to, give a reason to send a
/// blocked message anyway).
#[component]
fn FilterFindings(
    found: RwSignal<Vec<FilterMatch>>,
    scan_ms: StoredValue<f64>,
    confirm: RwSignal<bool>,
    reason: RwSignal<String>,
) -> impl IntoView {
    let app = expect_context::<App>();
    let blocked = move || Verdict::of(&found.get()) == Verdict::Block;
    let words = move || {
        let mut words: Vec<String> = found
            .get()
            .into_iter()
            .filter(|m| !blocked() || m.action == FilterAction::Block)
            .map(|m| format!("«{}» ({})", m.text, m.list_name))
            .collect();
        words.dedup();
        words.join(", ")
    };
    view! {
        <div class="filter-hits" role="status"
            data-verdict=move || if blocked() { "block" } else { "warn" }
            data-scan-ms=move || { found.track(); crate::decimal(scan_ms.get_value(), 3) }>
            <p class="filter-title">{move || if blocked() { app.t(T::FilterBlocked) } else { app.t(T::FilterWarned) }}</p>
            <p class="filter-terms">{words}</p>
            <Show when=move || !blocked()>
                <label class="filter-confirm">
                    <input type="checkbox" prop:checked=move || confirm.get()
                        on:change=move |e| confirm.set(event_target_checked(&e))/>
                    {app.text(T::SendAnyway)}
                </label>
            </Show>
            <Show when=move || blocked() && app.can(Permission::ComplianceOverride)>
                <input class="filter-reason" type="text" maxlength="500"
                    placeholder=app.text(T::OverrideReason)
                    aria-label=app.text(T::OverrideReason)
                    prop:value=move || reason.get()
                    on:input=move |e| reason.set(event_target_value(&e))/>
            </Show>
        </div>
    }
}

/// Outside the 24-hour window: the number's approved templates, their values (the header's,
/// the body's by position or name, and the buttons' that take one), and a preview.
#[component]
pub(crate) fn TemplatePicker(id: ConversationId) -> impl IntoView {
    let app = expect_context::<App>();
    let templates = RwSignal::new(None::<Result<Vec<MessageTemplate>, String>>);
    let chosen = RwSignal::new(None::<MessageTemplate>);
    let draft = RwSignal::new(TemplateDraft::default());
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
    let preview = move || chosen.get().map(|t| draft.with(|d| d.preview(&t)));
    let send = move |_| {
        let Some(t) = chosen.get_untracked() else {
            return;
        };
        let input = draft.with_untracked(|d| d.input(&t));
        let shown = preview();
        let body = OutgoingMessage {
            template: Some(input),
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
            <p>{app.text(T::OutsideWindow)}</p>
            <Show when=move || !open.get()>
                <button class="primary send-template" on:click=move |_| load()>{app.text(T::SendTemplate)}</button>
            </Show>
            <Show when=move || open.get()>
                {move || match templates.get() {
                    None => view! { <p class="hint">"…"</p> }.into_any(),
                    Some(Err(message)) => view! { <p class="failure">{message}</p> }.into_any(),
                    Some(Ok(list)) if list.is_empty() => view! { <p class="hint">{app.text(T::NoTemplates)}</p> }.into_any(),
                    Some(Ok(list)) => view! {
                        <ul class="templates">
                            {list.into_iter().map(|t| {
                                let pick = t.clone();
                                let this = (t.name.clone(), t.language.clone());
                                let is_chosen = move || chosen.with(|c| c.as_ref().is_some_and(|c| (c.name.clone(), c.language.clone()) == this));
                                view! {
                                    <li class="template" class:chosen=is_chosen on:click=move |_| {
                                        draft.set(TemplateDraft::for_template(&pick));
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
                {move || chosen.get().map(|t| {
                    let header = t.header.clone().filter(|h| h.takes_value).map(|h| {
                        let label = if h.format == "text" {
                            h.text.clone().unwrap_or_default()
                        } else {
                            format!("{} (https://…)", h.format)
                        };
                        view! {
                            <label class="template-header">{app.text(T::TemplateHeader)}
                                <input class="template-header-value" placeholder=label
                                    prop:value=move || draft.with(|d| d.header.clone())
                                    on:input=move |e| { let v = event_target_value(&e); draft.update(|d| d.header = v); }/>
                            </label>
                        }
                    });
                    let buttons = t.buttons.iter().filter(|b| b.takes_value).map(|b| {
                        let i = b.index as usize;
                        let label = match &b.url {
                            Some(url) => format!("{} · {url}", b.text),
                            None => b.text.clone(),
                        };
                        view! {
                            <label class="template-button">{label}
                                <input class="template-button-value"
                                    prop:value=move || draft.with(|d| d.buttons.get(i).cloned().unwrap_or_default())
                                    on:input=move |e| {
                                        let v = event_target_value(&e);
                                        draft.update(|d| if let Some(x) = d.buttons.get_mut(i) { *x = v; });
                                    }/>
                            </label>
                        }
                    }).collect_view();
                    let body = (0..t.params as usize).map(|i| {
                        let label = body_label(&t, i);
                        view! {
                            <input class="template-value" placeholder=move || format!("{} {label}", app.t(T::TemplateValue))
                                prop:value=move || draft.with(|d| d.body.get(i).cloned().unwrap_or_default())
                                on:input=move |e| {
                                    let v = event_target_value(&e);
                                    draft.update(|d| if let Some(x) = d.body.get_mut(i) { *x = v; });
                                }/>
                        }
                    }).collect_view();
                    let ready = {
                        let t = t.clone();
                        move || draft.with(|d| d.complete(&t))
                    };
                    view! {
                        <div class="template-form">
                            {header}
                            {body}
                            {buttons}
                            <p class="preview">{preview}</p>
                            <div class="row">
                                <button class="secondary" on:click=move |_| { chosen.set(None); open.set(false); }>{app.text(T::Cancel)}</button>
                                <button class="primary" disabled=move || !ready() on:click=send>{app.text(T::Send)}</button>
                            </div>
                        </div>
                    }
                })}
            </Show>
        </div>
    }
}
