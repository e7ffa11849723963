//! The operations of what a workspace connects and runs at run time: its numbers, outbound
//! webhooks, the CRM connector and card, and saved replies.

use switchboard_shared::api::*;
use switchboard_shared::crm::{CrmCard, CrmConnector, CrmConnectorInput};
use switchboard_shared::push::{PushDevice, PushKey, PushSubscriptionInput, PushTestResult};
use switchboard_shared::replies::{SavedReply, SavedReplyInput};
use switchboard_shared::webhooks::{
    DeliveryView, EndpointPatch, EndpointSecret, EndpointView, NewEndpoint,
};

use super::{op, schema, Kind, Operation, PAGED};

pub(super) fn operation(method: &str, path: &str) -> Option<Operation> {
    Some(match (method, path) {
        ("GET", "numbers") => op(
            "The workspace's WhatsApp numbers: who manages each, its tier, and what Meta last said",
            None,
            200,
            Some(schema::<Vec<Number>>),
        ),
        ("POST", "numbers") => op(
            "Connect a number at run time; checked with Meta (a refused token is saved, with \
             Meta's answer in `problem`); its secrets are sealed and never shown again",
            Some(schema::<NewNumber>),
            201,
            Some(schema::<Number>),
        ),
        ("PATCH", "numbers/{id}") => op(
            "Change, disable (`enabled: false`) or re-enable a number connected at run time",
            Some(schema::<NumberPatch>),
            200,
            Some(schema::<Number>),
        ),
        ("DELETE", "numbers/{id}") => op(
            "Remove a connected number's connection and secrets; its conversations stay",
            None,
            204,
            None,
        ),
        ("GET", "webhooks") => op(
            "The workspace's outbound webhook endpoints (never their secrets)",
            None,
            200,
            Some(schema::<Vec<EndpointView>>),
        ),
        ("POST", "webhooks") => op(
            "Subscribe an endpoint to event types; the answer holds its `whsec_` secret, shown \
             this once. Takes `conversations.read.all` and `contacts.phone.view` too",
            Some(schema::<NewEndpoint>),
            201,
            Some(schema::<EndpointSecret>),
        ),
        ("GET", "webhooks/{id}") => op("One endpoint", None, 200, Some(schema::<EndpointView>)),
        ("PATCH", "webhooks/{id}") => op(
            "Change an endpoint's URL, events or description, or turn it off or back on",
            Some(schema::<EndpointPatch>),
            200,
            Some(schema::<EndpointView>),
        ),
        ("DELETE", "webhooks/{id}") => op(
            "Remove an endpoint; its delivery log stays readable",
            None,
            204,
            None,
        ),
        ("POST", "webhooks/{id}/rotate") => op(
            "A new secret (shown once); the previous one also signs for 24 hours",
            None,
            200,
            Some(schema::<EndpointSecret>),
        ),
        ("GET", "webhooks/{id}/deliveries") => Operation {
            query: PAGED,
            ..op(
                "The endpoint's deliveries, newest first: each body as sent, its state and attempts",
                None,
                200,
                Some(schema::<Page<DeliveryView>>),
            )
        },
        ("POST", "webhooks/{id}/deliveries/{delivery}/replay") => op(
            "Send a delivery again now, with the same `webhook-id`; answers with its new attempt",
            None,
            200,
            Some(schema::<DeliveryView>),
        ),
        ("GET", "settings/crm") => op(
            "The workspace's CRM connector (never its header's value); 404 when none is saved",
            None,
            200,
            Some(schema::<CrmConnector>),
        ),
        ("PUT", "settings/crm") => op(
            "Save the CRM connector whole: URL template, method, auth header (write-only), \
             JSONPath fields and who sees each, budget, freshness",
            Some(schema::<CrmConnectorInput>),
            200,
            Some(schema::<CrmConnector>),
        ),
        ("GET", "conversations/{id}/crm") => op(
            "The customer's CRM card within the connector's budget (500 ms by default): fresh, \
             or older with its age while it is asked again, or unavailable with the reason",
            None,
            200,
            Some(schema::<CrmCard>),
        ),
        ("GET", "saved-replies") => op(
            "The saved replies the caller may use: their own, their teams' and the workspace's, \
             by shortcut",
            None,
            200,
            Some(schema::<Vec<SavedReply>>),
        ),
        ("POST", "saved-replies") => op(
            "Save a reply: personal (default), a team's or the workspace's (those two take \
             `replies.manage`); its text may name `{{contact.name}}`, `{{contact.<attribute>}}` \
             and `{{agent.name}}`",
            Some(schema::<SavedReplyInput>),
            201,
            Some(schema::<SavedReply>),
        ),
        ("PUT", "saved-replies/{id}") => op(
            "Replace a saved reply whole (against `version`, when given)",
            Some(schema::<SavedReplyInput>),
            200,
            Some(schema::<SavedReply>),
        ),
        ("DELETE", "saved-replies/{id}") => op(
            "Remove a saved reply (and let its file go)",
            None,
            204,
            None,
        ),
        ("GET", "saved-replies/{id}/attachment") => op(
            "The reply's file, with its own `Content-Type` (not JSON), for whoever may use the \
             reply",
            None,
            200,
            None,
        ),
        ("PUT", "saved-replies/{id}/attachment") => Operation {
            query: &[
                (
                    "filename",
                    "the file's name, shown to the customer for documents",
                    Kind::Text,
                ),
                (
                    "version",
                    "the reply's version read: a change made since is a 409",
                    Kind::Whole,
                ),
            ],
            ..op(
                "Give the reply a file (replacing its file): the body is the file, \
                 `Content-Type` its type, checked by WhatsApp's rules for its kind (413, 415, \
                 422) and kept by the server; the reply's text is its caption",
                None,
                200,
                Some(schema::<SavedReply>),
            )
        },
        ("DELETE", "saved-replies/{id}/attachment") => Operation {
            query: &[(
                "version",
                "the reply's version read: a change made since is a 409",
                Kind::Whole,
            )],
            ..op("Take the reply's file away", None, 200, Some(schema::<SavedReply>))
        },
        ("GET", "push/key") => op(
            "The server's VAPID public key, for `pushManager.subscribe({applicationServerKey})`",
            None,
            200,
            Some(schema::<PushKey>),
        ),
        ("GET", "push/subscriptions") => op(
            "The caller's devices subscribed to Web Push",
            None,
            200,
            Some(schema::<Vec<PushDevice>>),
        ),
        ("POST", "push/subscriptions") => op(
            "Subscribe one of the caller's devices: the browser's `PushSubscription.toJSON()` \
             (an `https` endpoint at a public address; the same endpoint again replaces its keys; \
             past ten devices the oldest goes). Assignments, mentions and customers' replies are \
             pushed to it while the person has no app open",
            Some(schema::<PushSubscriptionInput>),
            201,
            Some(schema::<PushDevice>),
        ),
        ("DELETE", "push/subscriptions/{id}") => {
            op("Unsubscribe one of the caller's devices", None, 204, None)
        }
        ("POST", "push/subscriptions/{id}/test") => op(
            "Push a test notification to one of the caller's devices now, and say what its push \
             service answered (a device whose subscription ended is removed)",
            None,
            200,
            Some(schema::<PushTestResult>),
        ),
        _ => return super::records::operation(method, path),
    })
}
