//! Cloud API wire types for `POST /{version}/{phone_number_id}/messages` and the media endpoints.
//! Shared by the client (which sends them) and the simulator (which receives them). They
//! round-trip Meta's own request examples (see the tests), so what we send is what Meta documents.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

fn whatsapp() -> String {
    "whatsapp".to_owned()
}

/// A message send request.
///
/// Meta accepts a text message without `"type"` (its own "preview URL" example omits it), so
/// deserialisation defaults the type to `text` when a `text` object is present.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Value")]
pub struct SendRequest {
    #[serde(default = "whatsapp")]
    pub messaging_product: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_type: Option<String>,
    /// The customer's phone number (any formatting Meta accepts) or wa_id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// A business-scoped user id, instead of `to` (2026).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
    /// Makes the message a reply to an earlier one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<ReplyContext>,
    /// Echoed back in status webhooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub biz_opaque_callback_data: Option<String>,
    #[serde(flatten)]
    pub content: Content,
}

impl SendRequest {
    pub fn new(to: impl Into<String>, content: Content) -> Self {
        Self {
            messaging_product: whatsapp(),
            recipient_type: Some("individual".into()),
            to: Some(to.into()),
            recipient: None,
            context: None,
            biz_opaque_callback_data: None,
            content,
        }
    }

    pub fn replying_to(mut self, wamid: impl Into<String>) -> Self {
        self.context = Some(ReplyContext {
            message_id: wamid.into(),
        });
        self
    }

    /// Who the message is for: `to`, else `recipient`.
    pub fn recipient_id(&self) -> Option<&str> {
        self.to.as_deref().or(self.recipient.as_deref())
    }
}

/// The same fields as [`SendRequest`], deserialised after the `type` default is applied.
#[derive(Deserialize)]
struct SendRequestRepr {
    #[serde(default = "whatsapp")]
    messaging_product: String,
    #[serde(default)]
    recipient_type: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    recipient: Option<String>,
    #[serde(default)]
    context: Option<ReplyContext>,
    #[serde(default)]
    biz_opaque_callback_data: Option<String>,
    #[serde(flatten)]
    content: Content,
}

impl TryFrom<Value> for SendRequest {
    type Error = serde_json::Error;

    fn try_from(mut value: Value) -> Result<Self, Self::Error> {
        if let Some(map) = value.as_object_mut() {
            if !map.contains_key("type") && map.contains_key("text") {
                map.insert("type".into(), Value::String("text".into()));
            }
        }
        let r: SendRequestRepr = serde_json::from_value(value)?;
        Ok(SendRequest {
            messaging_product: r.messaging_product,
            recipient_type: r.recipient_type,
            to: r.to,
            recipient: r.recipient,
            context: r.context,
            biz_opaque_callback_data: r.biz_opaque_callback_data,
            content: r.content,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplyContext {
    pub message_id: String,
}

/// The message body, tagged by `type` exactly as on the wire.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Content {
    Text { text: Text },
    Image { image: Media },
    Audio { audio: Media },
    Video { video: Media },
    Document { document: Media },
    Sticker { sticker: Media },
    Template { template: Template },
    Interactive { interactive: Box<Interactive> },
    Reaction { reaction: Reaction },
    Location { location: Location },
    Contacts { contacts: Vec<ContactCard> },
}

impl Content {
    pub fn text(body: impl Into<String>) -> Self {
        Content::Text {
            text: Text {
                body: body.into(),
                preview_url: None,
            },
        }
    }

    pub fn interactive(interactive: Interactive) -> Self {
        Content::Interactive {
            interactive: Box::new(interactive),
        }
    }

    /// WhatsApp's type string.
    pub fn kind(&self) -> &'static str {
        match self {
            Content::Text { .. } => "text",
            Content::Image { .. } => "image",
            Content::Audio { .. } => "audio",
            Content::Video { .. } => "video",
            Content::Document { .. } => "document",
            Content::Sticker { .. } => "sticker",
            Content::Template { .. } => "template",
            Content::Interactive { .. } => "interactive",
            Content::Reaction { .. } => "reaction",
            Content::Location { .. } => "location",
            Content::Contacts { .. } => "contacts",
        }
    }

    /// The text a person reads: body, caption, template name or emoji.
    pub fn summary(&self) -> Option<String> {
        match self {
            Content::Text { text } => Some(text.body.clone()),
            Content::Image { image: m }
            | Content::Video { video: m }
            | Content::Document { document: m } => m.caption.clone(),
            Content::Interactive { interactive } => Some(interactive.body.text.clone()),
            Content::Reaction { reaction } => {
                Some(reaction.emoji.clone()).filter(|e| !e.is_empty())
            }
            Content::Template { template } => Some(format!("[template {}]", template.name)),
            Content::Location { location } => location.name.clone(),
            Content::Audio { .. } | Content::Sticker { .. } | Content::Contacts { .. } => None,
        }
    }

    /// Only templates may be sent outside the 24-hour customer-service window.
    pub fn is_template(&self) -> bool {
        matches!(self, Content::Template { .. })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Text {
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_url: Option<bool>,
}

/// Media by uploaded `id` or by `link`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Media {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Template {
    pub name: String,
    pub language: TemplateLanguage,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<TemplateComponent>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TemplateLanguage {
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
}

impl TemplateLanguage {
    /// A language with the `deterministic` policy, which Meta's OpenAPI document requires.
    pub fn new(code: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            policy: Some("deterministic".into()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TemplateComponent {
    /// `header`, `body` or `button`.
    #[serde(rename = "type")]
    pub kind: String,
    /// For buttons: `quick_reply`, `url`, `flow`, `catalog`, `copy_code`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_type: Option<String>,
    /// For buttons: the button's position, as a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<TemplateParameter>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TemplateParameter {
    Text {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parameter_name: Option<String>,
    },
    Currency {
        currency: Currency,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parameter_name: Option<String>,
    },
    DateTime {
        date_time: DateTime,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parameter_name: Option<String>,
    },
    Image {
        image: Media,
    },
    Video {
        video: Media,
    },
    Document {
        document: Media,
    },
    Payload {
        payload: String,
    },
    Action {
        action: Map<String, Value>,
    },
    CouponCode {
        coupon_code: String,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Currency {
    pub fallback_value: String,
    pub code: String,
    pub amount_1000: i64,
}

/// A date parameter: the fallback text plus whatever calendar fields were given.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DateTime {
    pub fallback_value: String,
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interactive {
    /// `button` (reply buttons) or `list`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<InteractiveHeader>,
    pub body: TextOnly,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<TextOnly>,
    pub action: InteractiveAction,
}

impl Interactive {
    /// Reply buttons (at most three).
    pub fn buttons(body: impl Into<String>, buttons: &[(&str, &str)]) -> Self {
        Self {
            kind: "button".into(),
            header: None,
            body: TextOnly { text: body.into() },
            footer: None,
            action: InteractiveAction {
                buttons: buttons
                    .iter()
                    .map(|(id, title)| ReplyButton {
                        kind: "reply".into(),
                        reply: ButtonReply {
                            id: (*id).into(),
                            title: (*title).into(),
                        },
                    })
                    .collect(),
                button: None,
                sections: Vec::new(),
            },
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TextOnly {
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InteractiveHeader {
    /// `text`, `image`, `video` or `document`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Media>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<Media>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<Media>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InteractiveAction {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<ReplyButton>,
    /// The list's menu button label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sections: Vec<ListSection>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplyButton {
    #[serde(rename = "type")]
    pub kind: String,
    pub reply: ButtonReply,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ButtonReply {
    pub id: String,
    pub title: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ListSection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub rows: Vec<ListRow>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ListRow {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reaction {
    pub message_id: String,
    /// Empty removes the reaction.
    pub emoji: String,
}

/// Coordinates are strings in Meta's OpenAPI document and numbers in its examples; the Graph API
/// takes both. We send strings (valid per the spec) and accept either.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Location {
    #[serde(with = "coordinate")]
    pub latitude: f64,
    #[serde(with = "coordinate")]
    pub longitude: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// A contact card. Its many optional parts are kept as Meta shapes them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContactCard {
    pub name: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthday: Option<String>,
}

/// Marks a received message (and those before it) read, optionally showing a typing indicator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MarkRead {
    #[serde(default = "whatsapp")]
    pub messaging_product: String,
    pub status: String,
    pub message_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typing_indicator: Option<TypingIndicator>,
}

impl MarkRead {
    pub fn new(message_id: impl Into<String>, typing: bool) -> Self {
        Self {
            messaging_product: whatsapp(),
            status: "read".into(),
            message_id: message_id.into(),
            typing_indicator: typing.then(|| TypingIndicator {
                kind: "text".into(),
            }),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TypingIndicator {
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SendResponse {
    pub messaging_product: String,
    #[serde(default)]
    pub contacts: Vec<SentContact>,
    pub messages: Vec<SentMessage>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SentContact {
    pub input: String,
    pub wa_id: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SentMessage {
    pub id: String,
    /// `accepted`, `held_for_quality_assessment` or `paused`, for paced templates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_status: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SuccessResponse {
    pub success: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MediaUploaded {
    pub id: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MediaInfo {
    pub messaging_product: String,
    pub url: String,
    pub mime_type: String,
    pub sha256: String,
    /// A string in Meta's spec.
    pub file_size: Value,
    pub id: String,
}

/// What `POST /{waba-id}/message_templates` answers: the new template's id and where it stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TemplateCreated {
    pub id: String,
    /// `PENDING` until reviewed (`APPROVED` at once for some authentication templates).
    pub status: String,
    pub category: String,
}

/// `GET /{phone-number-id}`: what Meta says of a business number.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhoneNumberInfo {
    pub id: String,
    #[serde(default)]
    pub display_phone_number: Option<String>,
    #[serde(default)]
    pub verified_name: Option<String>,
    /// `GREEN`, `YELLOW`, `RED` or `NA`.
    #[serde(default)]
    pub quality_rating: Option<String>,
    #[serde(default)]
    pub throughput: Option<Throughput>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    /// `STANDARD` (80 messages per second), `HIGH` (1,000) or `NOT_APPLICABLE`.
    pub level: String,
}

impl PhoneNumberInfo {
    /// The number's tier in messages per second, when Meta says it.
    pub fn mps(&self) -> Option<u32> {
        match self.throughput.as_ref()?.level.as_str() {
            "STANDARD" => Some(80),
            "HIGH" => Some(1_000),
            _ => None,
        }
    }
}

/// A page of `GET /{waba-id}/message_templates`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TemplateList {
    pub data: Vec<TemplateInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paging: Option<TemplatePaging>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TemplatePaging {
    /// The next page's full URL; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// One template as the management API lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TemplateInfo {
    pub id: String,
    pub name: String,
    pub language: String,
    /// `APPROVED`, `PENDING`, `REJECTED`, `PAUSED`, `DISABLED`, …
    pub status: String,
    /// `MARKETING`, `UTILITY` or `AUTHENTICATION`.
    pub category: String,
    /// `POSITIONAL` (`{{1}}`) or `NAMED` (`{{order_id}}`); Meta leaves it out for positional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter_format: Option<String>,
    /// Meta's quality rating (`GREEN`, `YELLOW`, `RED`, `UNKNOWN`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality_score: Option<QualityScore>,
    #[serde(default)]
    pub components: Vec<TemplateComponentInfo>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QualityScore {
    pub score: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TemplateComponentInfo {
    /// `HEADER`, `BODY`, `FOOTER`, `BUTTONS`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// A `BUTTONS` component's buttons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<TemplateButtonWire>,
}

/// A template's button as Meta lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TemplateButtonWire {
    /// `QUICK_REPLY`, `URL`, `PHONE_NUMBER`, `COPY_CODE`, `OTP`, `FLOW`, …
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl TemplateInfo {
    /// The body text with its `{{n}}` placeholders.
    pub fn body(&self) -> &str {
        self.components
            .iter()
            .find(|c| c.kind.eq_ignore_ascii_case("body"))
            .and_then(|c| c.text.as_deref())
            .unwrap_or("")
    }

    /// How many values the body takes: its highest `{{n}}`.
    pub fn body_params(&self) -> u32 {
        let body = self.body();
        let mut highest = 0;
        let mut rest = body;
        while let Some(start) = rest.find("{{") {
            rest = &rest[start + 2..];
            if let Some(end) = rest.find("}}") {
                if let Ok(n) = rest[..end].trim().parse::<u32>() {
                    highest = highest.max(n);
                }
                rest = &rest[end + 2..];
            }
        }
        highest
    }
}

/// Meta's error envelope: `{"error": {...}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GraphErrorBody {
    pub error: GraphError,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GraphError {
    pub message: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub code: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_subcode: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_data: Option<GraphErrorData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fbtrace_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GraphErrorData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging_product: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

mod coordinate {
    use serde::{de::Error as _, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&value.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::Number(n) => n
                .as_f64()
                .ok_or_else(|| D::Error::custom("not a coordinate")),
            serde_json::Value::String(s) => s.trim().parse().map_err(D::Error::custom),
            _ => Err(D::Error::custom(
                "a coordinate is a number or a numeric string",
            )),
        }
    }
}
