//! The governed way out: a message from the business to a customer, one attempt at a time,
//! paced by the per-number [`Governor`]. An agent's reply first passes the compliance checks
//! (the place the sensitive-word filter and other outgoing rules plug in) and the 24-hour window.
//! What to send, and whether to try again, is the outbox's business (`service::outbox`).

use std::sync::Arc;

use switchboard_shared::api::{TemplateHeaderValue, TemplateInput};
use switchboard_shared::interactive::InteractiveInput;
use switchboard_shared::{PhoneNumberId, TenantId, WaId, Wamid};

use super::{NumberDirectory, NumberEntry};
use crate::connector::wire::{
    ButtonReply, Content, Interactive, InteractiveAction, ListRow, ListSection, MarkRead, Media,
    Reaction, ReplyButton, SendRequest, TemplateInfo, TextOnly,
};
use crate::connector::{template_send, CloudApi, CloudApiError};
use crate::domain::ThreadRecord;
use crate::governor::Governor;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// The tenant has no such number (also for another tenant's number: existence never leaks).
    #[error("no such number")]
    UnknownNumber,
    #[error(transparent)]
    Api(#[from] CloudApiError),
    #[error("could not store the send: {0}")]
    Store(#[from] StoreError),
    /// A compliance check refused the message; nothing was sent.
    #[error("{0}")]
    Rejected(String),
    /// Free-form messages reach a customer only within 24 hours of their last message.
    #[error(
        "the customer last wrote more than 24 hours ago, so WhatsApp accepts only a template \
         message now: send an approved template (`template` content) to reopen the conversation"
    )]
    OutsideWindow { last_inbound_at: Option<i64> },
    /// Templates live in a WhatsApp Business Account, and the number was configured without one.
    #[error(
        "the number has no `waba_id` configured, so its templates cannot be listed or sent; \
         add it to the number's configuration"
    )]
    NoWaba,
    /// The client's key names an earlier send of different content: resending with a key must
    /// repeat the message, never change it (the first one stands, and nothing new is queued).
    #[error(
        "this key was already used for a different message in this conversation; use a new key \
         for a new message"
    )]
    KeyReused,
    /// A new template breaks one of Meta's rules; nothing was submitted.
    #[error(transparent)]
    Template(#[from] crate::connector::templates::TemplateProblem),
}

/// How long after a customer's message the business may answer free-form (Meta's customer
/// service window).
pub const SERVICE_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;
/// WhatsApp's limit on a text message body.
pub const MAX_TEXT_CHARS: usize = 4096;
/// WhatsApp's limit on a media caption.
pub const MAX_CAPTION_CHARS: usize = 1024;
/// How long a number's template list is reused before it is asked for again.
const TEMPLATES_TTL: std::time::Duration = std::time::Duration::from_secs(300);

/// A WABA's templates and when they were fetched.
type FetchedTemplates = (std::time::Instant, Arc<Vec<TemplateInfo>>);

/// What a person asks to send to a customer, before it becomes a Cloud API message.
#[derive(Clone, Debug, PartialEq)]
pub enum Draft {
    Text(String),
    /// An uploaded file by its WhatsApp media id.
    Media {
        /// `image`, `video`, `audio`, `document` or `sticker`.
        kind: String,
        id: String,
        caption: Option<String>,
        filename: Option<String>,
    },
    /// An approved template with its values (body, header, buttons).
    Template(TemplateInput),
    /// Reply buttons or a list (WhatsApp's limits checked).
    Interactive(InteractiveInput),
    /// An emoji on one of the conversation's messages; empty takes it back.
    Reaction {
        to: Wamid,
        emoji: String,
    },
}

/// A draft checked and turned into a Cloud API message, with the text history shows for it.
#[derive(Clone, Debug, PartialEq)]
pub struct Checked {
    pub content: Content,
    pub text: Option<String>,
}

impl Draft {
    /// The parts a person wrote, for the word filter: `(field, text)`.
    pub fn filter_parts(&self) -> Vec<(String, &str)> {
        match self {
            Draft::Text(t) => vec![("text".to_owned(), t.as_str())],
            Draft::Media {
                caption: Some(c), ..
            } => vec![("caption".to_owned(), c.as_str())],
            Draft::Media { caption: None, .. } | Draft::Reaction { .. } => Vec::new(),
            Draft::Interactive(m) => m.texts(),
            Draft::Template(t) => {
                let mut parts: Vec<(String, &str)> = t
                    .params
                    .iter()
                    .enumerate()
                    .map(|(i, p)| (format!("template value {}", i + 1), p.as_str()))
                    .chain(
                        t.named
                            .iter()
                            .map(|(n, v)| (format!("template value `{n}`"), v.as_str())),
                    )
                    .collect();
                if let Some(TemplateHeaderValue::Text { text }) = &t.header {
                    parts.push(("template header".to_owned(), text.as_str()));
                }
                parts
            }
        }
    }

    /// Whether WhatsApp delivers it outside the 24-hour window (templates only).
    pub fn opens_window(&self) -> bool {
        matches!(self, Draft::Template(_))
    }

    /// Checks the draft against WhatsApp's rules (and, for a template, the number's approved
    /// templates) and builds the message. `Err` says why not, for a person to read.
    pub fn check(
        self,
        checks: &[Box<dyn Compliance>],
        tenant: &TenantId,
        templates: &[TemplateInfo],
    ) -> Result<Checked, String> {
        let text_checks = |text: &str| checks.iter().try_for_each(|c| c.check(tenant, text));
        match self {
            Draft::Text(text) => {
                text_checks(&text)?;
                Ok(Checked {
                    text: Some(text.clone()),
                    content: Content::text(text),
                })
            }
            Draft::Media {
                kind,
                id,
                caption,
                filename,
            } => {
                if id.is_empty() || id.len() > 128 || !id.chars().all(|c| c.is_ascii_alphanumeric())
                {
                    return Err("the media id is not one an upload returned".into());
                }
                let caption = caption.filter(|c| !c.trim().is_empty());
                if let Some(c) = &caption {
                    if !matches!(kind.as_str(), "image" | "video" | "document") {
                        return Err(format!("a {kind} cannot have a caption"));
                    }
                    let chars = c.chars().count();
                    if chars > MAX_CAPTION_CHARS {
                        return Err(format!(
                            "the caption has {chars} characters; WhatsApp allows {MAX_CAPTION_CHARS}"
                        ));
                    }
                    text_checks(c)?;
                }
                let filename = filename
                    .filter(|_| kind == "document")
                    .map(|f| f.chars().filter(|c| !c.is_control()).take(240).collect());
                let media = Media {
                    id: Some(id),
                    link: None,
                    caption: caption.clone(),
                    filename,
                };
                let content = match kind.as_str() {
                    "image" => Content::Image { image: media },
                    "video" => Content::Video { video: media },
                    "audio" => Content::Audio { audio: media },
                    "document" => Content::Document { document: media },
                    "sticker" => Content::Sticker { sticker: media },
                    other => {
                        return Err(format!(
                            "`{other}` is not a media kind (image, video, audio, document, sticker)"
                        ))
                    }
                };
                Ok(Checked {
                    content,
                    text: caption,
                })
            }
            Draft::Template(input) => {
                let known = templates
                    .iter()
                    .filter(|t| t.name == input.name && t.language == input.language)
                    .find(|t| t.status == "APPROVED")
                    .ok_or_else(|| {
                        format!(
                            "the number has no approved template `{}` in `{}`",
                            input.name, input.language
                        )
                    })?;
                let (template, rendered) = template_send::build(known, input)?;
                Ok(Checked {
                    content: Content::Template { template },
                    text: Some(rendered),
                })
            }
            Draft::Interactive(m) => {
                m.check()
                    .map_err(|e| format!("`interactive.{}`: {}", e.field, e.message))?;
                for (_, t) in m.texts() {
                    text_checks(t)?;
                }
                let choices: Vec<String> =
                    m.choices().iter().map(|(_, t)| (*t).to_owned()).collect();
                let interactive = Interactive {
                    kind: if m.list.is_some() { "list" } else { "button" }.into(),
                    header: None,
                    body: TextOnly {
                        text: m.body.clone(),
                    },
                    footer: m.footer.clone().map(|text| TextOnly { text }),
                    action: InteractiveAction {
                        buttons: m
                            .buttons
                            .iter()
                            .map(|b| ReplyButton {
                                kind: "reply".into(),
                                reply: ButtonReply {
                                    id: b.id.clone(),
                                    title: b.title.clone(),
                                },
                            })
                            .collect(),
                        button: m.list.as_ref().map(|l| l.button.clone()),
                        sections: m
                            .list
                            .iter()
                            .flat_map(|l| &l.sections)
                            .map(|s| ListSection {
                                title: s.title.clone(),
                                rows: s
                                    .rows
                                    .iter()
                                    .map(|r| ListRow {
                                        id: r.id.clone(),
                                        title: r.title.clone(),
                                        description: r.description.clone(),
                                    })
                                    .collect(),
                            })
                            .collect(),
                    },
                };
                Ok(Checked {
                    // History shows the body and the choices offered.
                    text: Some(format!("{}\n[{}]", m.body, choices.join(" | "))),
                    content: Content::interactive(interactive),
                })
            }
            Draft::Reaction { to, emoji } => {
                let plausible = emoji.chars().count() <= 16
                    && !emoji
                        .chars()
                        .any(|c| c.is_ascii_alphanumeric() || c.is_whitespace() || c.is_control());
                if !plausible {
                    return Err("a reaction is one emoji (or empty, to take it back)".into());
                }
                Ok(Checked {
                    text: Some(emoji.clone()).filter(|e| !e.is_empty()),
                    content: Content::Reaction {
                        reaction: Reaction {
                            message_id: to.into_string(),
                            emoji,
                        },
                    },
                })
            }
        }
    }
}

/// An outgoing check: returns why a message may not go out.
pub trait Compliance: Send + Sync {
    fn check(&self, tenant: &TenantId, text: &str) -> Result<(), String>;
}

/// What every reply must satisfy whatever the tenant configured: some text, within WhatsApp's
/// length limit, and no control characters a phone would show as boxes.
pub struct BasicChecks;

impl Compliance for BasicChecks {
    fn check(&self, _tenant: &TenantId, text: &str) -> Result<(), String> {
        if switchboard_shared::text::is_blank(text) {
            return Err("the message is empty (nothing in it is visible)".into());
        }
        let chars = text.chars().count();
        if chars > MAX_TEXT_CHARS {
            return Err(format!(
                "the message has {chars} characters; WhatsApp allows {MAX_TEXT_CHARS}"
            ));
        }
        if text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
        {
            return Err("the message contains control characters".into());
        }
        Ok(())
    }
}

/// The governed way out to the Cloud API: compliance checks, the service window, and one
/// schedule per number. It sends single attempts; the [`Outbox`](super::outbox::Outbox) decides
/// what to retry and when.
pub struct Outbound {
    api: CloudApi,
    numbers: NumberDirectory,
    checks: Vec<Box<dyn Compliance>>,
    /// One schedule per number (a std mutex: held for arithmetic only, never across `.await`).
    governors: std::sync::Mutex<std::collections::HashMap<PhoneNumberId, Governor>>,
    /// Each WABA's templates and when they were fetched.
    templates: std::sync::Mutex<std::collections::HashMap<String, FetchedTemplates>>,
}

impl Outbound {
    pub fn new(api: CloudApi, numbers: NumberDirectory) -> Self {
        Self {
            api,
            numbers,
            checks: vec![Box::new(BasicChecks)],
            governors: Default::default(),
            templates: Default::default(),
        }
    }

    /// The tenant's number (another tenant's is unknown: existence never leaks).
    pub fn entry(
        &self,
        tenant: &TenantId,
        number: &PhoneNumberId,
    ) -> Result<Arc<NumberEntry>, OutboundError> {
        self.numbers
            .get(number)
            .filter(|e| &e.tenant == tenant && e.enabled)
            .ok_or(OutboundError::UnknownNumber)
    }

    /// Runs `f` on the number's schedule (made at its tier on first use).
    fn governed<T>(&self, entry: &NumberEntry, f: impl FnOnce(&mut Governor, i64) -> T) -> T {
        let now = crate::domain::now_ms();
        let mut map = self.governors.lock().unwrap_or_else(|p| p.into_inner());
        let g = map
            .entry(entry.phone_number_id.clone())
            .or_insert_with(|| Governor::new(entry.mps));
        if g.mps() != entry.mps.max(1) {
            g.retier(entry.mps);
        }
        f(g, now)
    }

    /// Waits until the governor lets a message to `customer` leave `entry`'s number: first the
    /// customer's pacing, then (once that time has come) the number's throughput.
    pub async fn wait_turn(&self, entry: &NumberEntry, customer: &WaId) {
        for step in 0..2 {
            let (at, now) = self.governed(entry, |g, now| {
                let at = if step == 0 {
                    g.recipient_slot(customer, now)
                } else {
                    g.number_slot(now)
                };
                (at, now)
            });
            if at > now {
                metrics::counter!("switchboard_governor_delayed_total").increment(1);
                tokio::time::sleep(std::time::Duration::from_millis((at - now) as u64)).await;
            }
        }
    }

    /// Whether an agent's message may go, and what it becomes: WhatsApp's rules and the
    /// compliance checks, then the 24-hour window (templates alone go outside it). `now` is
    /// passed in so the window is testable.
    pub async fn check_draft(
        &self,
        thread: &ThreadRecord,
        draft: Draft,
        now: i64,
    ) -> Result<Checked, OutboundError> {
        let opens_window = draft.opens_window();
        let templates = if opens_window {
            let entry = self.entry(&thread.tenant, &thread.number)?;
            self.templates(&entry).await?
        } else {
            Arc::default()
        };
        let checked = draft
            .check(&self.checks, &thread.tenant, &templates)
            .map_err(OutboundError::Rejected)?;
        let open = thread
            .last_inbound_at
            .is_some_and(|at| now - at < SERVICE_WINDOW_MS);
        if !open && !opens_window {
            return Err(OutboundError::OutsideWindow {
                last_inbound_at: thread.last_inbound_at,
            });
        }
        Ok(checked)
    }

    /// A template message to anyone, inside the window or not (a campaign's): the number's
    /// approved template with this recipient's body values (in the order of the body's
    /// parameters, numbered or named) and the campaign's header and button values, checked as
    /// an agent's would be.
    pub async fn check_template(
        &self,
        tenant: &TenantId,
        number: &PhoneNumberId,
        template: &switchboard_shared::campaign::TemplateRef,
        params: Vec<String>,
    ) -> Result<Checked, OutboundError> {
        let entry = self.entry(tenant, number)?;
        let templates = self.templates(&entry).await?;
        let input = template_send::campaign_input(&templates, template, params);
        Draft::Template(input)
            .check(&self.checks, tenant, &templates)
            .map_err(OutboundError::Rejected)
    }

    /// The number's message templates, from its WhatsApp Business Account (reused for five
    /// minutes).
    pub async fn templates(
        &self,
        entry: &NumberEntry,
    ) -> Result<Arc<Vec<TemplateInfo>>, OutboundError> {
        let waba = entry.waba_id.as_deref().ok_or(OutboundError::NoWaba)?;
        let cached = {
            let map = self.templates.lock().unwrap_or_else(|p| p.into_inner());
            map.get(waba)
                .filter(|(at, _)| at.elapsed() < TEMPLATES_TTL)
                .map(|(_, list)| Arc::clone(list))
        };
        if let Some(list) = cached {
            return Ok(list);
        }
        let list = Arc::new(self.api.templates(&entry.endpoint, waba).await?);
        self.templates
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                waba.to_owned(),
                (std::time::Instant::now(), Arc::clone(&list)),
            );
        Ok(list)
    }

    /// Submits a new template to the number's WhatsApp Business Account, once it keeps Meta's
    /// rules; the account's template list is read again on its next use.
    pub async fn submit_template(
        &self,
        entry: &NumberEntry,
        template: &serde_json::Value,
    ) -> Result<crate::connector::wire::TemplateCreated, OutboundError> {
        crate::connector::templates::check(template)?;
        let waba = entry.waba_id.as_deref().ok_or(OutboundError::NoWaba)?;
        let created = self
            .api
            .create_template(&entry.endpoint, waba, template)
            .await?;
        self.forget_templates(waba);
        Ok(created)
    }

    /// Reads a workspace's template lists again when Meta says a template's status, quality or
    /// category changed (the account notice does not name the account, so every account of
    /// the workspace's numbers).
    pub fn follow_templates(
        self: &Arc<Self>,
        events: &super::Events,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        let this = Arc::clone(self);
        events.follow_notices(shutdown, move |notice| {
            match notice {
                Some((tenant, event)) if event.field.contains("template") => {
                    for entry in this.numbers.entries() {
                        if entry.tenant == tenant {
                            if let Some(waba) = entry.waba_id.as_deref() {
                                this.forget_templates(waba);
                            }
                        }
                    }
                }
                Some(_) => {}
                // Something about templates may be among the missed: read all again.
                None => this
                    .templates
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clear(),
            }
            std::future::ready(())
        });
    }

    /// Drops a WhatsApp Business Account's cached template list (a template was made, or Meta
    /// said one's status or quality changed).
    pub fn forget_templates(&self, waba: &str) {
        self.templates
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(waba);
    }

    /// Uploads a file for the number; WhatsApp keeps it 30 days. Returns its media id.
    pub async fn upload(
        &self,
        entry: &NumberEntry,
        bytes: &[u8],
        mime_type: &str,
        filename: &str,
    ) -> Result<String, OutboundError> {
        Ok(self
            .api
            .upload_media(&entry.endpoint, bytes, mime_type, filename)
            .await?)
    }

    /// Downloads a message's file: its MIME type and bytes.
    pub async fn download(
        &self,
        entry: &NumberEntry,
        media_id: &str,
    ) -> Result<(String, bytes::Bytes), OutboundError> {
        let info = self.api.media_info(&entry.endpoint, media_id).await?;
        let bytes = self.api.download_media(&entry.endpoint, &info.url).await?;
        Ok((info.mime_type, bytes))
    }

    /// One attempt to send, at the governor's pace (call [`Outbound::wait_turn`] first).
    /// Throttling answers push the number's or the customer's schedule back.
    pub async fn attempt(
        &self,
        entry: &NumberEntry,
        request: &SendRequest,
        idempotency_key: &str,
    ) -> Result<Wamid, CloudApiError> {
        let result = self
            .api
            .send_once(&entry.endpoint, request, idempotency_key)
            .await;
        let customer = request.recipient_id().map(WaId::from);
        self.governed(entry, |g, now| {
            let code = result.as_ref().err().and_then(CloudApiError::code);
            match code {
                Some(130429) => {
                    g.throttled(None, now);
                }
                Some(131056) => {
                    g.throttled(customer.as_ref(), now);
                }
                _ if result.is_ok() => g.accepted(),
                _ => {}
            }
            // A message refused for throughput or a passing fault never reached the customer.
            let undelivered = result
                .as_ref()
                .err()
                .is_some_and(|e| code != Some(131056) && e.is_retryable());
            if let (true, Some(c)) = (undelivered, customer.as_ref()) {
                g.not_delivered(c);
            }
        });
        let response = result?;
        response
            .messages
            .first()
            .map(|m| Wamid::new(m.id.clone()))
            .ok_or_else(|| CloudApiError::Decode("no message id in the answer".into()))
    }

    /// Marks a customer's message read, showing a typing indicator.
    pub async fn mark_read(
        &self,
        tenant: &TenantId,
        number: &PhoneNumberId,
        wamid: &Wamid,
        typing: bool,
    ) -> Result<(), OutboundError> {
        let entry = self.entry(tenant, number)?;
        self.api
            .mark_read(&entry.endpoint, &MarkRead::new(wamid.as_str(), typing))
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::wire::TemplateComponentInfo;

    fn template(name: &str, status: &str, body: &str) -> TemplateInfo {
        TemplateInfo {
            id: "1".into(),
            name: name.into(),
            language: "en_US".into(),
            status: status.into(),
            category: "UTILITY".into(),
            parameter_format: None,
            quality_score: None,
            components: vec![TemplateComponentInfo {
                kind: "BODY".into(),
                format: None,
                text: Some(body.into()),
                buttons: Vec::new(),
            }],
        }
    }

    fn check(draft: Draft, templates: &[TemplateInfo]) -> Result<Checked, String> {
        let checks: Vec<Box<dyn Compliance>> = vec![Box::new(BasicChecks)];
        draft.check(&checks, &TenantId::from("t"), templates)
    }

    #[test]
    fn a_template_is_rendered_for_history_and_sent_with_its_values() {
        let known = [
            template(
                "order_update",
                "APPROVED",
                "Hi {{1}}, order {{2}} ships. {{1}}!",
            ),
            template("follow_up", "REJECTED", "Hello {{1}}"),
        ];
        assert_eq!(known[0].body_params(), 2);
        let draft = |name: &str, params: &[&str]| {
            Draft::Template(TemplateInput {
                name: name.into(),
                language: "en_US".into(),
                params: params.iter().map(|p| (*p).to_owned()).collect(),
                ..TemplateInput::default()
            })
        };
        let ok = check(draft("order_update", &["Ann", "A-1"]), &known).unwrap();
        assert_eq!(ok.text.as_deref(), Some("Hi Ann, order A-1 ships. Ann!"));
        let Content::Template { template } = ok.content else {
            panic!("a template")
        };
        assert_eq!(template.components[0].parameters.len(), 2);
        assert!(check(draft("order_update", &["Ann"]), &known)
            .unwrap_err()
            .contains("takes 2 values"));
        assert!(check(draft("follow_up", &["Ann"]), &known)
            .unwrap_err()
            .contains("no approved template"));
        for bad in ["", "a\nb", "a\tb", "a    b"] {
            assert!(
                check(draft("order_update", &["Ann", bad]), &known).is_err(),
                "{bad:?}"
            );
        }
        assert!(draft("x", &[]).opens_window());
        assert!(!Draft::Text("x".into()).opens_window());
    }

    #[test]
    fn media_follow_whatsapp_s_rules_for_captions_and_names() {
        let media = |kind: &str, caption: Option<&str>| Draft::Media {
            kind: kind.into(),
            id: "1037543291543636".into(),
            caption: caption.map(str::to_owned),
            filename: Some("a\u{7}b.pdf".into()),
        };
        let doc = check(media("document", Some("Invoice")), &[]).unwrap();
        let Content::Document { document } = &doc.content else {
            panic!("a document")
        };
        assert_eq!(document.filename.as_deref(), Some("ab.pdf"));
        assert_eq!(doc.text.as_deref(), Some("Invoice"));
        // Only documents carry a name; audio and stickers carry no caption.
        let Content::Image { image } = check(media("image", None), &[]).unwrap().content else {
            panic!("an image")
        };
        assert_eq!(image.filename, None);
        assert!(check(media("audio", Some("listen")), &[]).is_err());
        assert!(
            check(media("audio", Some("  ")), &[]).is_ok(),
            "a blank caption is none"
        );
        assert!(check(media("hologram", None), &[]).is_err());
        let long = "x".repeat(MAX_CAPTION_CHARS + 1);
        assert!(check(media("image", Some(&long)), &[]).is_err());
        let bad_id = Draft::Media {
            kind: "image".into(),
            id: "../../etc".into(),
            caption: None,
            filename: None,
        };
        assert!(check(bad_id, &[]).is_err());
    }

    #[test]
    fn a_reaction_is_one_emoji_or_nothing() {
        let react = |emoji: &str| Draft::Reaction {
            to: Wamid::from("wamid.A"),
            emoji: emoji.into(),
        };
        for ok in ["👍", "❤️", "👨‍👩‍👧‍👦", ""] {
            let c = check(react(ok), &[]).unwrap();
            assert_eq!(c.text.is_none(), ok.is_empty(), "{ok}");
        }
        for bad in ["ok", "👍 👍", "a👍", "\u{7}"] {
            assert!(check(react(bad), &[]).is_err(), "{bad:?}");
        }
    }
}
