//! Newtype identifiers. Each wraps the string form it has on the wire, so a `Wamid` can never be
//! passed where a `PhoneNumberId` is expected. They carry no validation beyond non-emptiness where
//! noted: WhatsApp's formats change (BSUIDs arrived in 2026) and the store must keep what it gets.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }
    };
}

string_id!(
    /// A workspace: owns numbers, users, contacts and conversations. A short slug such as `demo`.
    TenantId
);
string_id!(
    /// Meta's id of a business phone number (`metadata.phone_number_id`), e.g. `106540352242922`.
    PhoneNumberId
);
string_id!(
    /// A WhatsApp message id (`wamid.…`). Meta's published examples reuse the same id for
    /// different messages, so the store keys messages by [`MessageKey`], not by this alone.
    Wamid
);
string_id!(
    /// A customer's WhatsApp id (`wa_id`, usually the phone number in E.164 without `+`), or a
    /// business-scoped user id (`US.1349…`) when the customer has no phone number on file.
    WaId
);
string_id!(
    /// A conversation thread between one business number and one customer within a tenant.
    ConversationId
);
string_id!(
    /// The store's idempotency key for one message: derived from the wamid and the message's
    /// identity (sender, type, timestamp) so redelivered webhooks are plain upserts.
    MessageKey
);
string_id!(
    /// A person who signs in: an agent, supervisor or administrator of one tenant.
    UserId
);
string_id!(
    /// A team (`t_…`): users who share the conversations of some numbers.
    TeamId
);
string_id!(
    /// A tenant's own role (`r_…`); preset roles are named (`owner`, `agent`, …) instead.
    RoleId
);
string_id!(
    /// The public part of an API key (`k_…`), unique across tenants.
    ApiKeyId
);
string_id!(
    /// A send in the outbox (`o_…`), derived from the conversation, the author and their key.
    SendId
);
string_id!(
    /// A customer record (`c_…`), derived from the identity it was first known by (a keyed
    /// digest of the number or the BSUID), so an inbound message finds or makes it without a
    /// read first. A merge keeps the surviving contact's id.
    ContactId
);
string_id!(
    /// A contact import (`imp_…`).
    ImportId
);
string_id!(
    /// A saved segment (`seg_…`).
    SegmentId
);
string_id!(
    /// A term list of the outgoing word filter (`tl_…`).
    TermListId
);
string_id!(
    /// A keyword rule (`ar_…`).
    RuleId
);
string_id!(
    /// A business-hours schedule (`sc_…`).
    ScheduleId
);
string_id!(
    /// A bot flow (`fl_…`).
    FlowId
);
string_id!(
    /// A broadcast campaign (`cp_…`).
    CampaignId
);
