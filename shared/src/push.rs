//! Web Push on the wire: the server's application key (VAPID, RFC 8292) that a browser
//! subscribes with, a subscription as the browser hands it over (`PushSubscription.toJSON()`),
//! the devices a person has subscribed, and what a notification carries to the app's service
//! worker once decrypted.

use serde::{Deserialize, Serialize};

/// `GET push/key`: what a browser needs to subscribe.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PushKey {
    /// The server's VAPID public key: an uncompressed P-256 point, base64url without padding,
    /// as `pushManager.subscribe({applicationServerKey})` takes it.
    pub public_key: String,
    /// Whether this server sends notifications at all (`[push] enabled`).
    pub enabled: bool,
}

/// A subscription's keys (RFC 8291), base64url as the browser gives them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PushKeys {
    /// The browser's P-256 public key (65 bytes once decoded).
    pub p256dh: String,
    /// The authentication secret (16 bytes once decoded).
    pub auth: String,
}

/// `POST push/subscriptions`: the browser's `PushSubscription.toJSON()`, and a name for the
/// device the person will recognise in their list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PushSubscriptionInput {
    /// The push service's URL for this browser (`https://`).
    pub endpoint: String,
    /// When the push service will end the subscription (Unix milliseconds), if it says.
    #[serde(default, rename = "expirationTime")]
    pub expiration_time: Option<i64>,
    pub keys: PushKeys,
    /// "Chrome on Android"; the browser's own description when left out.
    #[serde(default)]
    pub device: Option<String>,
}

/// One subscribed device, as its owner sees it (the endpoint is a capability: only its host is
/// shown).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PushDevice {
    pub id: String,
    pub device: String,
    /// The push service (`fcm.googleapis.com`).
    pub service: String,
    pub created_at: i64,
    /// When a notification last reached the push service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sent_at: Option<i64>,
    /// Why the last attempt failed, while it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// `POST push/subscriptions/{id}/test`: what the push service answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PushTestResult {
    pub delivered: bool,
    /// The push service's HTTP status, when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Why a person is notified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum PushReason {
    /// A conversation was given to them.
    Assigned,
    /// A colleague mentioned them in a note.
    Mentioned,
    /// The customer of a conversation of theirs wrote.
    CustomerWrote,
    /// They asked for a test notification.
    Test,
}

/// What the service worker receives (the decrypted body of a push message).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PushNotice {
    pub reason: PushReason,
    /// In English; the service worker words it in the device's language from `reason` and
    /// `name` where it can.
    pub title: String,
    /// Whom it is about: the customer (their contact name, else their masked number), or the
    /// colleague who mentioned the person.
    pub name: String,
    pub body: String,
    /// Where a tap opens the app (`/#/c/<conversation>`).
    pub url: String,
    /// Notices with one tag replace each other (one per conversation).
    pub tag: String,
    pub at: i64,
}

/// The longest device name kept.
pub const MAX_DEVICE_NAME: usize = 80;
/// The most devices a person subscribes; a new one beyond replaces their oldest.
pub const MAX_DEVICES: usize = 10;
