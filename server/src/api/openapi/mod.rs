//! The REST API's OpenAPI 3.1 document, served at `/api/openapi.json`. It is generated: the paths,
//! methods and permissions come from the route table ([`super::routes`]), the schemas from the
//! wire types in `switchboard-shared` (the same types the handlers serialise), so it cannot drift
//! from the code. A unit test fails when a route has no entry in [`operation`].

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{json, Map, Value};
use switchboard_shared::api::*;
use switchboard_shared::automation::{AutomationReport, AutomationTest, Rule, RuleInput};
use switchboard_shared::campaign::{
    Campaign, CampaignCost, CampaignInput, NewTemplate, Preflight, Recipient, SenderTemplates,
    SubmittedTemplate,
};
use switchboard_shared::compliance::{FilterCheckInput, FilterReport, TermList, TermListInput};
use switchboard_shared::contacts::*;
use switchboard_shared::costs::{CostReport, RateCard};
use switchboard_shared::flow::{Flow, FlowInput};
use switchboard_shared::protocol::{AgentState, BoardStats};
use switchboard_shared::schedule::{HolidayImport, Schedule, ScheduleInput};

use super::{routes, Access, BodyKind};

mod integrations;
mod records;

type Make = fn(&mut SchemaGenerator) -> Schema;

fn schema<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// What a route takes and answers, beyond what the route table says.
struct Operation {
    summary: &'static str,
    request: Option<Make>,
    status: u16,
    /// `None`: no body (204), or a non-JSON body (described in `summary`).
    response: Option<Make>,
    query: &'static [Query],
    /// Other media types the success may come as (a `format` query asks for them), as text.
    also: &'static [&'static str],
    /// An upload whose body may be left out (a query names the file instead).
    body_optional: bool,
}

/// A query parameter: its name, what it means, and the values it takes.
type Query = (&'static str, &'static str, Kind);

/// What a query parameter's values look like, for the document's schema (and so for clients'
/// generators and for schemathesis, which sends what the schema allows).
#[derive(Clone, Copy)]
enum Kind {
    /// Free text.
    Text,
    /// A page size: 1 to this many.
    Limit(u32),
    /// A time in Unix milliseconds.
    Millis,
    /// A calendar day, `YYYY-MM-DD`.
    Day,
    /// `true` or `false`.
    Flag,
    /// One of these words.
    OneOf(&'static [&'static str]),
    /// Required free text (the operation means nothing without it).
    Needed,
    /// A whole number, 0 or more (a version).
    Whole,
}

impl Kind {
    fn schema(self) -> Value {
        match self {
            Kind::Text => json!({"type": "string"}),
            Kind::Needed => json!({"type": "string", "minLength": 1}),
            Kind::Limit(max) => json!({"type": "integer", "minimum": 1, "maximum": max}),
            Kind::Millis | Kind::Whole => json!({"type": "integer", "minimum": 0}),
            Kind::Day => json!({"type": "string",
                                "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}),
            Kind::Flag => json!({"type": "boolean"}),
            Kind::OneOf(values) => json!({"type": "string", "enum": values}),
        }
    }
}

const fn op(
    summary: &'static str,
    request: Option<Make>,
    status: u16,
    response: Option<Make>,
) -> Operation {
    Operation {
        summary,
        request,
        status,
        response,
        query: &[],
        also: &[],
        body_optional: false,
    }
}

const CURSOR: Query = ("cursor", "the `next` of the previous page", Kind::Text);
const LIMIT: Query = ("limit", "items per page (at most 500)", Kind::Limit(500));
const PAGED: &[Query] = &[CURSOR, LIMIT];

/// Every route's operation. Adding a route without adding it here fails the unit test.
fn operation(method: &str, path: &str) -> Option<Operation> {
    Some(match (method, path) {
        ("POST", "auth/login") => op(
            "Sign in; sets the session cookie (`sb_session`) for the PWA",
            Some(schema::<LoginRequest>),
            200,
            Some(schema::<LoginResponse>),
        ),
        ("POST", "auth/token") => op(
            "Sign in for a bearer session token (`sbs_…`)",
            Some(schema::<LoginRequest>),
            200,
            Some(schema::<TokenResponse>),
        ),
        ("POST", "setup") => op(
            "Create the first owner with the one-time setup token",
            Some(schema::<SetupRequest>),
            201,
            Some(schema::<User>),
        ),
        ("GET", "auth/me") => op(
            "Who the caller is and what they may do",
            None,
            200,
            Some(schema::<Me>),
        ),
        ("POST", "auth/logout") => op("End this session", None, 204, None),
        ("POST", "auth/logout-everywhere") => {
            op("End every session of the caller", None, 204, None)
        }
        ("POST", "auth/password") => op(
            "Change one's password; this session is renewed, the others end",
            Some(schema::<ChangePassword>),
            200,
            Some(schema::<TokenResponse>),
        ),
        ("GET", "tenant") => op("The caller's workspace", None, 200, Some(schema::<Tenant>)),
        ("PATCH", "tenant") => op(
            "Rename the workspace",
            Some(schema::<UpdateTenant>),
            200,
            Some(schema::<Tenant>),
        ),
        ("GET", "settings/routing") => op(
            "The workspace's routing settings in force (the server's defaults until it saves \
             its own), per number",
            None,
            200,
            Some(schema::<RoutingSettings>),
        ),
        ("PATCH", "settings/routing") => op(
            "Change the workspace's routing (strategy, capacity, deadlines, SLA, queue notice, \
             numbers' own strategies); in force for its next decision, for this workspace only",
            Some(schema::<RoutingPatch>),
            200,
            Some(schema::<RoutingSettings>),
        ),
        ("GET", "users") => Operation {
            query: PAGED,
            ..op("Users, by email", None, 200, Some(schema::<Page<User>>))
        },
        ("POST", "users") => op(
            "Create a user",
            Some(schema::<CreateUser>),
            201,
            Some(schema::<User>),
        ),
        ("GET", "users/{id}") => op("One user", None, 200, Some(schema::<User>)),
        ("PATCH", "users/{id}") => op(
            "Change a user's name, role or password, or disable them",
            Some(schema::<UpdateUser>),
            200,
            Some(schema::<User>),
        ),
        ("GET", "roles") => op(
            "Preset and custom roles",
            None,
            200,
            Some(schema::<Vec<Role>>),
        ),
        ("POST", "roles") => op(
            "Create a custom role",
            Some(schema::<RoleInput>),
            201,
            Some(schema::<Role>),
        ),
        ("PUT", "roles/{id}") => op(
            "Replace a custom role",
            Some(schema::<RoleInput>),
            200,
            Some(schema::<Role>),
        ),
        ("DELETE", "roles/{id}") => op("Delete an unused custom role", None, 204, None),
        ("GET", "teams") => op("Teams", None, 200, Some(schema::<Vec<Team>>)),
        ("POST", "teams") => op(
            "Create a team",
            Some(schema::<TeamInput>),
            201,
            Some(schema::<Team>),
        ),
        ("PUT", "teams/{id}") => op(
            "Replace a team",
            Some(schema::<TeamInput>),
            200,
            Some(schema::<Team>),
        ),
        ("DELETE", "teams/{id}") => op("Delete a team", None, 204, None),
        ("GET", "api-keys") => op(
            "API keys, revoked ones included",
            None,
            200,
            Some(schema::<Vec<ApiKey>>),
        ),
        ("POST", "api-keys") => op(
            "Create an API key; its secret is in this answer only",
            Some(schema::<CreateApiKey>),
            201,
            Some(schema::<ApiKeyCreated>),
        ),
        ("DELETE", "api-keys/{id}") => op("Revoke an API key", None, 204, None),
        ("GET", "audit") => Operation {
            query: &[
                ("actor", "`user:u_…`, `api_key:k_…`", Kind::Text),
                ("action", "an action, or a prefix such as `user`", Kind::Text),
                ("target", "`user:u_…`, `conversation:c_…`, …", Kind::Text),
                (
                    "outcome",
                    "`ok`, `denied`, `failed` or `not_found`",
                    Kind::OneOf(&crate::domain::AUDIT_OUTCOMES),
                ),
                ("since", "Unix milliseconds", Kind::Millis),
                ("until", "Unix milliseconds", Kind::Millis),
                CURSOR,
                LIMIT,
            ],
            ..op(
                "The audit log, newest first",
                None,
                200,
                Some(schema::<Page<AuditEntry>>),
            )
        },
        ("GET", "audit/export") => Operation {
            query: &[("format", "`jsonl` or `csv`", Kind::OneOf(&["jsonl", "csv"]))],
            ..op(
                "The whole audit log as JSON lines or CSV (a file download)",
                None,
                200,
                None,
            )
        },
        ("GET", "agents") => op(
            "Every agent's presence and status (then follow the `board` topic)",
            None,
            200,
            Some(schema::<Vec<AgentState>>),
        ),
        ("GET", "board") => op(
            "The supervisor board's figures now (then follow the `board` topic)",
            None,
            200,
            Some(schema::<BoardStats>),
        ),
        ("GET", "conversations") => Operation {
            query: &[
                (
                    "state",
                    "`open` (default: queued or assigned), `queued`, `assigned`, `resolved` or \
                     `all`",
                    Kind::OneOf(&["open", "queued", "assigned", "resolved", "all"]),
                ),
                ("number", "a phone_number_id", Kind::Text),
                ("team", "a team's id: conversations on its numbers", Kind::Text),
                ("assignee", "`me`, `none` or a user id", Kind::Text),
                ("agent", "`me` or a user id: assigned to them, or theirs last", Kind::Text),
                ("tag", "a conversation tag", Kind::Text),
                ("contact", "a contact's id: their conversations", Kind::Text),
                (
                    "from",
                    "first day of last activity, YYYY-MM-DD, UTC (with resolved ones: 30 days \
                     before `to` by default)",
                    Kind::Day,
                ),
                (
                    "to",
                    "the day after the last, YYYY-MM-DD, UTC (with resolved ones: tomorrow by \
                     default; at most 366 days after `from`)",
                    Kind::Day,
                ),
                CURSOR,
                ("limit", "items per page (at most 200)", Kind::Limit(200)),
            ],
            ..op(
                "The conversations the caller may see: open ones by id (the inbox), or with \
                 resolved ones (the archive) by the day of their last activity, newest first; \
                 a page may be short when filters are narrow, with `next` to go on",
                None,
                200,
                Some(schema::<Page<Conversation>>),
            )
        },
        ("POST", "conversations/{id}/messages") => op(
            "Reply to the customer: stored, then sent at the number's pace (202); \
             `message_stored` or `send_failed` follows on the streams",
            Some(schema::<OutgoingMessage>),
            202,
            Some(schema::<Send>),
        ),
        ("GET", "conversations/{id}/customer") => op(
            "The customer, and their conversations with each of the workspace's numbers that \
             the caller may see",
            None,
            200,
            Some(schema::<CustomerProfile>),
        ),
        ("POST", "conversations/{id}/reactions") => op(
            "React to one of the conversation's messages (an empty emoji takes it back); sent \
             like a reply (202)",
            Some(schema::<ReactionInput>),
            202,
            Some(schema::<Send>),
        ),
        ("POST", "conversations/{id}/media") => Operation {
            query: &[
                (
                    "filename",
                    "the file's name, shown to the customer for documents",
                    Kind::Text,
                ),
                (
                    "saved_reply",
                    "a saved reply's id: its file is sent, and the body is left out",
                    Kind::Text,
                ),
            ],
            body_optional: true,
            ..op(
                "Upload a file to send: the body is the file, `Content-Type` its type (or no \
                 body and `saved_reply`: that reply's file); WhatsApp's size limit for the kind \
                 applies (413), and unsupported types are 415",
                None,
                201,
                Some(schema::<Uploaded>),
            )
        },
        ("GET", "conversations/{id}/templates") => op(
            "The approved templates of the conversation's number (the only messages WhatsApp \
             delivers outside the 24-hour window)",
            None,
            200,
            Some(schema::<Page<MessageTemplate>>),
        ),
        ("GET", "conversations/{id}/messages/{key}/media") => op(
            "The file a message carries, with its own `Content-Type` (not JSON): the copy kept \
             when WhatsApp's has expired; 410 `media_gone` when neither has it",
            None,
            200,
            None,
        ),
        ("POST", "conversations/{id}/assign") => op(
            "Give the conversation to a connected agent (a transfer if someone had it)",
            Some(schema::<AssignTo>),
            200,
            Some(schema::<Conversation>),
        ),
        ("POST", "conversations/{id}/resolve") => op(
            "Resolve the conversation",
            None,
            200,
            Some(schema::<Conversation>),
        ),
        ("POST", "conversations/{id}/reopen") => op(
            "Reopen a resolved conversation and route it",
            None,
            200,
            Some(schema::<Conversation>),
        ),
        ("GET", "conversations/{id}") => {
            op("One conversation", None, 200, Some(schema::<Conversation>))
        }
        ("GET", "conversations/{id}/messages") => Operation {
            query: PAGED,
            ..op(
                "The conversation's messages, newest first",
                None,
                200,
                Some(schema::<Page<Message>>),
            )
        },
        ("GET", "contacts") => Operation {
            query: &[
                ("q", "words of a name (each begins a different word of the contact's name, in any order: `ivanov` and `ivan iv` find Ivan Ivanov; the longest needs two letters), or a number prefix (digits; needs `contacts.phone.view`; at least two)", Kind::Text),
                ("tag", "only contacts with this tag", Kind::Text),
                ("segment", "a segment's members (alone, without q or tag)", Kind::Text),
                CURSOR,
                LIMIT,
            ],
            ..op(
                "Contacts: by the word of the name found or by number when searching, else by id",
                None,
                200,
                Some(schema::<Page<Contact>>),
            )
        },
        ("POST", "contacts") => op(
            "Create a contact from a number (any format; national ones with `default_region`)              or a BSUID (422 `invalid_phone` says why a number is refused; 409 if it exists)",
            Some(schema::<NewContact>),
            201,
            Some(schema::<Contact>),
        ),
        ("POST", "contacts/bulk-tags") => op(
            "Add and remove catalogue tags on up to 500 contacts",
            Some(schema::<BulkTags>),
            200,
            Some(schema::<BulkResult>),
        ),
        ("GET", "contacts/export") => Operation {
            query: &[
                ("format", "`csv` (default; formula cells guarded) or `jsonl`", Kind::OneOf(&["csv", "jsonl"])),
                ("tag", "only contacts with this tag", Kind::Text),
                ("segment", "only a segment's members", Kind::Text),
            ],
            ..op(
                "Every matching contact, streamed as a file download; numbers masked without                  `contacts.phone.view`",
                None,
                200,
                None,
            )
        },
        ("GET", "contacts/imports") => op(
            "The latest 100 imports, newest first",
            None,
            200,
            Some(schema::<Vec<ImportStatus>>),
        ),
        ("POST", "contacts/imports") => Operation {
            query: &[
                ("dry_run", "`true`: decide every row and write only the report", Kind::Flag),
                ("default_region", "ISO 3166 code for national numbers (`RU`)", Kind::Text),
                ("charset", "the file's charset when it is not detected (or use `Content-Type: text/csv; charset=…`)", Kind::Text),
                ("mapping", "JSON object of header to field: phone, name, first_name, last_name, tags, marketing, attribute:<key>, ignore", Kind::Text),
                ("file_name", "the file's name, shown in the import list", Kind::Text),
                ("tag", "a tag every row gets besides its own (a campaign's audience from a file)", Kind::Text),
            ],
            ..op(
                "Import contacts from a CSV file (the body, up to `contacts.import_max_mib`):                  202 with the import's id, then follow it on the `contacts` topic or read it;                  a file that cannot be imported at all is refused at once (422 `bad_file`, 415                  `unknown_charset`, 413)",
                None,
                202,
                Some(schema::<ImportStarted>),
            )
        },
        ("GET", "contacts/imports/{id}") => op(
            "An import's state, counts, progress, mapping and first verdicts",
            None,
            200,
            Some(schema::<ImportStatus>),
        ),
        ("GET", "contacts/imports/{id}/errors") => op(
            "The rejected rows as CSV: line, reason, then the row as read",
            None,
            200,
            None,
        ),
        ("POST", "contacts/imports/{id}/undo") => op(
            "Undo a finished import: contacts it made are removed, those it changed restored,              unless changed since (409 `not_undoable` for a dry run, a running or undone one)",
            None,
            202,
            Some(schema::<ImportStatus>),
        ),
        ("POST", "contacts/imports/{id}/commit") => op(
            "Import a finished dry run's file for real (kept 24 hours)",
            None,
            202,
            Some(schema::<ImportStarted>),
        ),
        ("GET", "contacts/{id}") => op("One contact", None, 200, Some(schema::<Contact>)),
        ("PATCH", "contacts/{id}") => op(
            "Change a contact's name, tags, attributes (`null` removes one) or consent (with \
             its reason)",
            Some(schema::<ContactPatch>),
            200,
            Some(schema::<Contact>),
        ),
        ("DELETE", "contacts/{id}") => op(
            "Erase a customer: the contact, notes, consent history, and every message, \
             conversation and note with them; answers the receipt",
            None,
            200,
            Some(schema::<ErasureReceipt>),
        ),
        ("POST", "contacts/{id}/merge") => op(
            "Fold another contact into this one (its number or BSUID, tags, attributes, notes \
             and consent history); the other is removed",
            Some(schema::<MergeInput>),
            200,
            Some(schema::<Contact>),
        ),
        ("GET", "contacts/{id}/notes") => Operation {
            query: PAGED,
            ..op(
                "Notes on the contact, newest first",
                None,
                200,
                Some(schema::<Page<ContactNote>>),
            )
        },
        ("POST", "contacts/{id}/notes") => op(
            "Add a note on the contact",
            Some(schema::<ContactNoteInput>),
            201,
            Some(schema::<ContactNote>),
        ),
        ("GET", "contacts/{id}/consent") => Operation {
            query: PAGED,
            ..op(
                "Every consent change with its evidence, newest first",
                None,
                200,
                Some(schema::<Page<ConsentEvidence>>),
            )
        },
        ("GET", "contacts/{id}/conversations") => op(
            "The customer's conversations the caller may see, on every number",
            None,
            200,
            Some(schema::<Vec<CustomerConversation>>),
        ),
        ("GET", "tags") => op("The tag catalogue", None, 200, Some(schema::<Vec<Tag>>)),
        ("PUT", "tags") => op(
            "Create a tag or change its colour (names compare case-insensitively)",
            Some(schema::<Tag>),
            200,
            Some(schema::<Tag>),
        ),
        ("DELETE", "tags") => Operation {
            query: &[("name", "the tag", Kind::Needed)],
            ..op(
                "Remove a tag from the catalogue and from every contact",
                None,
                200,
                Some(schema::<Stripped>),
            )
        },
        ("GET", "attributes") => op(
            "The attribute definitions",
            None,
            200,
            Some(schema::<Vec<AttributeDef>>),
        ),
        ("PUT", "attributes/{key}") => op(
            "Define an attribute or change its label, options or pattern (its type stays)",
            Some(schema::<AttributeDef>),
            200,
            Some(schema::<AttributeDef>),
        ),
        ("DELETE", "attributes/{key}") => op(
            "Remove a definition and every contact's value of it",
            None,
            200,
            Some(schema::<Stripped>),
        ),
        ("GET", "segments") => op("Saved segments", None, 200, Some(schema::<Vec<Segment>>)),
        ("POST", "segments") => op(
            "Save a segment (docs/segments.md: the filter language); 422 `invalid_filter` says \
             what is wrong",
            Some(schema::<SegmentInput>),
            201,
            Some(schema::<Segment>),
        ),
        ("POST", "segments/count") => op(
            "Count a filter before saving it",
            Some(schema::<FilterInput>),
            200,
            Some(schema::<SegmentCount>),
        ),
        ("GET", "segments/{id}") => op("One segment", None, 200, Some(schema::<Segment>)),
        ("PUT", "segments/{id}") => op(
            "Rename a segment or change its filter",
            Some(schema::<SegmentInput>),
            200,
            Some(schema::<Segment>),
        ),
        ("DELETE", "segments/{id}") => op("Delete a segment", None, 204, None),
        ("GET", "segments/{id}/count") => op(
            "How many contacts the segment holds now",
            None,
            200,
            Some(schema::<SegmentCount>),
        ),
        ("GET", "segments/{id}/contacts") => Operation {
            query: PAGED,
            ..op(
                "The segment's members, by id",
                None,
                200,
                Some(schema::<Page<Contact>>),
            )
        },
        ("GET", "segments/{id}/explain/{contact}") => op(
            "Whether a contact is in the segment, clause by clause",
            None,
            200,
            Some(schema::<Explanation>),
        ),
        ("GET", "sends/{id}") => op("Where a reply stands", None, 200, Some(schema::<Send>)),
        ("GET", "automation/rules") => op(
            "Keyword rules, highest priority first, with their hits since the server started",
            None,
            200,
            Some(schema::<Page<Rule>>),
        ),
        ("POST", "automation/rules") => op(
            "Make a keyword rule (docs/automation.md); 422 `invalid_value` names the field \
             (`match.keywords[2]`, `actions[0].add_tags[1]`)",
            Some(schema::<RuleInput>),
            201,
            Some(schema::<Rule>),
        ),
        ("GET", "automation/rules/{id}") => op("One rule", None, 200, Some(schema::<Rule>)),
        ("PUT", "automation/rules/{id}") => op(
            "Replace a rule whole; with `version`, only over that version (409 otherwise)",
            Some(schema::<RuleInput>),
            200,
            Some(schema::<Rule>),
        ),
        ("DELETE", "automation/rules/{id}") => op("Delete a rule", None, 204, None),
        ("GET", "automation/schedules") => op(
            "Business-hours schedules by name, each with whether it is open now",
            None,
            200,
            Some(schema::<Page<Schedule>>),
        ),
        ("POST", "automation/schedules") => op(
            "Make a schedule (docs/automation.md: hours past midnight, holidays, time zones); 422 \
             `invalid_value` names the field (`week.tue[1]`, `time_zone`)",
            Some(schema::<ScheduleInput>),
            201,
            Some(schema::<Schedule>),
        ),
        ("GET", "automation/schedules/{id}") => {
            op("One schedule", None, 200, Some(schema::<Schedule>))
        }
        ("PUT", "automation/schedules/{id}") => op(
            "Replace a schedule whole; with `version`, only over that version (409 otherwise)",
            Some(schema::<ScheduleInput>),
            200,
            Some(schema::<Schedule>),
        ),
        ("DELETE", "automation/schedules/{id}") => {
            op("Delete a schedule no rule goes by", None, 204, None)
        }
        ("POST", "automation/schedules/{id}/holidays") => Operation {
            query: &[(
                "replace",
                "`true`: the calendar's days replace the schedule's closed days; `false` \
                 (default): they are added",
                Kind::Flag,
            )],
            ..op(
                "Read a holiday calendar (an .ics file, as the body) into closed days; events \
                 not taken are listed with their reason",
                None,
                200,
                Some(schema::<HolidayImport>),
            )
        },
        ("GET", "automation/flows") => op(
            "Bot flows by name, with their runs since the server started",
            None,
            200,
            Some(schema::<Page<Flow>>),
        ),
        ("POST", "automation/flows") => op(
            "Make a bot flow (docs/flows.md); 422 `invalid_value` names the step and field \
             (`nodes.menu.options[3].title`)",
            Some(schema::<FlowInput>),
            201,
            Some(schema::<Flow>),
        ),
        ("GET", "automation/flows/{id}") => op("One flow", None, 200, Some(schema::<Flow>)),
        ("PUT", "automation/flows/{id}") => op(
            "Replace a flow whole (runs under way keep their version); with `version`, only \
             over that version (409 otherwise)",
            Some(schema::<FlowInput>),
            200,
            Some(schema::<Flow>),
        ),
        ("DELETE", "automation/flows/{id}") => {
            op("Delete a flow no rule starts", None, 204, None)
        }
        ("POST", "automation/test") => op(
            "Which rules a message would fire, in order, and why others would not; nothing is sent",
            Some(schema::<AutomationTest>),
            200,
            Some(schema::<AutomationReport>),
        ),
        ("POST", "templates") => op(
            "Submit a new message template, as Meta's API takes it, to the number's WhatsApp \
             Business Account: checked against Meta's rules first (422 naming the field), then \
             PENDING until Meta's status webhook",
            Some(schema::<NewTemplate>),
            201,
            Some(schema::<SubmittedTemplate>),
        ),
        ("GET", "templates") => Operation {
            query: &[(
                "status",
                "`approved` (the default: those a campaign may send) or `all` (every template, \
                 with its review status)",
                Kind::OneOf(&["approved", "all"]),
            )],
            ..op(
                "Each of the tenant's numbers with its templates (name, language, category, \
                 status, body and how many values it takes); a number whose templates could not \
                 be read carries `error`",
                None,
                200,
                Some(schema::<Page<SenderTemplates>>),
            )
        },
        ("GET", "campaigns") => op(
            "Broadcast campaigns, newest first, each with its state and funnel",
            None,
            200,
            Some(schema::<Page<Campaign>>),
        ),
        ("POST", "campaigns") => op(
            "Make a draft campaign: an approved template, an audience (`segment` or `tag`), \
             the variables' values from contact attributes or fields with fallbacks, the \
             numbers, an optional start and pace (docs/campaigns.md); 422 names the field",
            Some(schema::<CampaignInput>),
            201,
            Some(schema::<Campaign>),
        ),
        ("GET", "campaigns/{id}") => op(
            "One campaign: its state, counts (queued, sent, delivered, read, replied, clicked, \
             failed, skipped), why it paused, and the pre-flight it started with",
            None,
            200,
            Some(schema::<Campaign>),
        ),
        ("PATCH", "campaigns/{id}") => op(
            "Replace a draft's fields whole; 409 once it started",
            Some(schema::<CampaignInput>),
            200,
            Some(schema::<Campaign>),
        ),
        ("POST", "campaigns/{id}/preflight") => op(
            "Who it would reach after suppression (opted out, no deliverable number, marketing \
             to +1, the frequency cap, a missing value, a blocked value), the cost by country \
             from the rate card, the ETA and a sample message; nothing is sent",
            None,
            200,
            Some(schema::<Preflight>),
        ),
        ("POST", "campaigns/{id}/start") => op(
            "Start a draft now, or schedule it for its `start_at`; 422 when the template is not \
             approved, the audience is empty or the start has passed; 409 if it started already",
            None,
            200,
            Some(schema::<Campaign>),
        ),
        ("POST", "campaigns/{id}/pause") => {
            op("Pause a running or scheduled campaign", None, 200, Some(schema::<Campaign>))
        }
        ("POST", "campaigns/{id}/resume") => op(
            "Resume a paused campaign where it stopped",
            None,
            200,
            Some(schema::<Campaign>),
        ),
        ("POST", "campaigns/{id}/cancel") => op(
            "Cancel: nothing more is sent",
            None,
            200,
            Some(schema::<Campaign>),
        ),
        ("POST", "campaigns/{id}/retry") => op(
            "A new draft linked to this one, for its failed recipients",
            None,
            201,
            Some(schema::<Campaign>),
        ),
        ("GET", "campaigns/{id}/cost") => op(
            "What pre-flight estimated when it started against what Meta priced its messages \
             so far (the cost ledger), in USD as exact decimal text",
            None,
            200,
            Some(schema::<CampaignCost>),
        ),
        ("GET", "campaigns/{id}/recipients") => Operation {
            query: &[
                ("state", "queued, sent, delivered, read, replied, failed or skipped", Kind::OneOf(&["queued", "sent", "delivered", "read", "replied", "failed", "skipped"])),
                CURSOR,
                LIMIT,
            ],
            ..op(
                "A page of the campaign's recipients with their state and reason (numbers \
                 masked without `contacts.phone.view`)",
                None,
                200,
                Some(schema::<Page<Recipient>>),
            )
        },
        ("GET", "costs") => Operation {
            query: &[
                (
                    "group_by",
                    "month (default), number, team, campaign, country or category",
                    Kind::OneOf(&["month", "number", "team", "campaign", "country", "category"]),
                ),
                ("from", "first day, YYYY-MM-DD, UTC (default: this month's first)", Kind::Day),
                ("to", "day after the last, YYYY-MM-DD, UTC (default: next month's first)", Kind::Day),
            ],
            ..op(
                "What Meta priced, summed by a group: messages, billed, unpriced (billed but \
                 not on the rate card) and the amount in USD (exact decimal text); docs/costs.md",
                None,
                200,
                Some(schema::<CostReport>),
            )
        },
        ("GET", "costs/charges") => Operation {
            query: &[
                ("from", "first day, YYYY-MM-DD, UTC", Kind::Day),
                ("to", "day after the last, YYYY-MM-DD, UTC", Kind::Day),
            ],
            ..op(
                "Every priced message of the range as CSV (text/csv), one line each, to \
                 reconcile with Meta's invoice",
                None,
                200,
                None,
            )
        },
        ("GET", "costs/rate-card") => op(
            "The rate card messages are priced by: the shipped one (its source and date) or \
             the workspace's upload",
            None,
            200,
            Some(schema::<RateCard>),
        ),
        ("PUT", "costs/rate-card") => op(
            "Replace the rate card with a CSV file (the body; docs/costs.md): checked whole, \
             refused whole with every bad line (422 `bad_file`, `rows`); audited",
            None,
            200,
            Some(schema::<RateCard>),
        ),
        ("GET", "compliance/term-lists") => op(
            "The word filter's term lists",
            None,
            200,
            Some(schema::<Page<TermList>>),
        ),
        ("POST", "compliance/term-lists") => op(
            "Make a term list (docs/compliance.md: how terms match); 422 `invalid_value` names \
             the field (`terms[3]`), `too_many` a limit",
            Some(schema::<TermListInput>),
            201,
            Some(schema::<TermList>),
        ),
        ("GET", "compliance/term-lists/{id}") => {
            op("One term list", None, 200, Some(schema::<TermList>))
        }
        ("PUT", "compliance/term-lists/{id}") => op(
            "Replace a term list whole; with `version`, only over that version (409 otherwise)",
            Some(schema::<TermListInput>),
            200,
            Some(schema::<TermList>),
        ),
        ("DELETE", "compliance/term-lists/{id}") => op("Delete a term list", None, 204, None),
        ("POST", "compliance/check") => op(
            "What the term lists find in a text, and the verdict a send would get",
            Some(schema::<FilterCheckInput>),
            200,
            Some(schema::<FilterReport>),
        ),
        ("GET", "compliance/filter") => op(
            "The enabled term lists, for a composer to run the same filter while someone types",
            None,
            200,
            Some(schema::<Page<TermList>>),
        ),
        ("GET", "conversations/{id}/notes") => Operation {
            query: PAGED,
            ..op(
                "Internal notes, newest first",
                None,
                200,
                Some(schema::<Page<Note>>),
            )
        },
        ("GET", "conversations/{id}/mentionable") => op(
            "The colleagues who may read the conversation, so may be mentioned in its notes",
            None,
            200,
            Some(schema::<Vec<Colleague>>),
        ),
        ("POST", "conversations/{id}/notes") => op(
            "Add an internal note; `@{u_…}` mentions notify colleagues who may read it",
            Some(schema::<NoteInput>),
            201,
            Some(schema::<Note>),
        ),
        ("PUT", "conversations/{id}/tags") => op(
            "Replace the conversation's tags (`lang:`/`skill:` tags steer routing)",
            Some(schema::<TagsInput>),
            200,
            Some(schema::<Conversation>),
        ),
        ("GET", "agents/{id}/profile") => op(
            "An agent's routing skills and capacity",
            None,
            200,
            Some(schema::<AgentProfile>),
        ),
        ("PUT", "agents/{id}/profile") => op(
            "Set an agent's routing skills and capacity (applies at once)",
            Some(schema::<AgentProfile>),
            200,
            Some(schema::<AgentProfile>),
        ),
        ("PUT", "agents/me/status") => op(
            "Set one's own working status",
            Some(schema::<StatusInput>),
            200,
            Some(schema::<AgentState>),
        ),
        _ => return integrations::operation(method, path),
    })
}

/// The error body every refusal has.
fn error_schema(generator: &mut SchemaGenerator) -> Value {
    let matches = generator.subschema_for::<Vec<switchboard_shared::compliance::FilterMatch>>();
    json!({
        "type": "object",
        "required": ["error"],
        "properties": {"error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "stable, e.g. `not_found`, `forbidden`, `outside_window`"},
                "message": {"type": "string", "description": "for people"},
                "field": {"type": "string", "description": "the request field it is about (`terms[3]`), when one"},
                "matches": {
                    "description": "`blocked_by_filter` and `needs_confirmation`: what the word filter found, where",
                    "allOf": [matches]
                }
            }
        }}
    })
}

/// The `{name}` segments of a route's path, in order.
fn path_parameters(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
}

/// The whole document.
pub fn document() -> Value {
    let mut generator = SchemaGenerator::new(
        schemars::generate::SchemaSettings::draft2020_12().with(|s| {
            s.definitions_path = "/components/schemas".into();
        }),
    );
    let mut paths = Map::new();
    for route in routes() {
        let method = route.method.as_str();
        let Some(op) = operation(method, route.path) else {
            continue;
        };
        let mut parameters: Vec<Value> = Vec::new();
        for name in path_parameters(route.path) {
            parameters.push(
                json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}),
            );
        }
        for (name, description, kind) in op.query {
            let required = matches!(kind, Kind::Needed);
            parameters.push(json!({"name": name, "in": "query", "required": required,
                                   "allowEmptyValue": !required,
                                   "description": description, "schema": kind.schema()}));
        }
        let mut responses = Map::new();
        let mut success = match op.response {
            Some(make) => json!({"description": "success",
                "content": {"application/json": {"schema": make(&mut generator)}}}),
            None => json!({"description": "success"}),
        };
        for media in op.also {
            success["content"][*media] = json!({"schema": {"type": "string"}});
        }
        responses.insert(op.status.to_string(), success);
        let error = json!({"description": "refused; see `error.code`",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
        responses.insert("default".into(), error);
        let (permission, security) = match route.access {
            Access::Public => ("public".to_owned(), json!([])),
            Access::SignedIn => (
                "any signed-in caller".to_owned(),
                json!([{"bearer": []}, {"cookie": []}]),
            ),
            Access::Needs(p) => (
                format!("`{}`", p.as_str()),
                json!([{"bearer": []}, {"cookie": []}]),
            ),
        };
        let mut operation = json!({
            "summary": op.summary,
            "description": format!("Access: {permission}. Audit action: `{}`.", route.action),
            "operationId": route.action,
            "parameters": parameters,
            "responses": responses,
            "security": security,
        });
        if let Some(make) = op.request {
            operation["requestBody"] = json!({"required": true,
                "content": {"application/json": {"schema": make(&mut generator)}}});
        }
        match route.body {
            BodyKind::Upload => {
                operation["requestBody"] = json!({"required": !op.body_optional,
                    "content": {"*/*": {"schema": {"type": "string",
                                                   "contentMediaType": "application/octet-stream"}}}});
            }
            BodyKind::Spool => {
                operation["requestBody"] = json!({"required": true,
                    "content": {"text/csv": {"schema": {"type": "string"}}}});
            }
            BodyKind::Empty | BodyKind::Json | BodyKind::LargeJson => {}
        }
        let entry = paths
            .entry(format!("/api/v1/{}", route.path))
            .or_insert_with(|| json!({}));
        entry[method.to_ascii_lowercase()] = operation;
    }
    let error = error_schema(&mut generator);
    let mut schemas: Map<String, Value> = generator.take_definitions(true).into_iter().collect();
    schemas.insert("Error".into(), error);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Switchboard REST API",
            "version": "1",
            "description": "Conversations, inbox actions, administration and the audit log. Live \
                events come over the WebSocket API at /ws (docs/protocol.md). Every write \
                authenticated by cookie needs the X-CSRF-Token header; bearer credentials do not. \
                A query parameter sent empty (`?tag=`) is the same as one left out.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "a session token (`sbs_…`) or an API key (`sbk_…`)"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "sb_session"},
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented_and_every_reference_resolves() {
        for route in routes() {
            assert!(
                operation(route.method.as_str(), route.path).is_some(),
                "{} {} has no OpenAPI operation: add it to `operation`",
                route.method,
                route.path
            );
        }
        let doc = document();
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("#/components/schemas/") {
            rest = &rest[at + "#/components/schemas/".len()..];
            let name: String = rest.chars().take_while(|c| *c != '"').collect();
            assert!(schemas.contains_key(&name), "dangling reference to {name}");
        }
        let paths = doc["paths"].as_object().unwrap();
        let operations: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
        assert_eq!(operations, routes().len());
        for (path, item) in paths {
            for (method, operation) in item.as_object().unwrap() {
                let declared: Vec<&str> = operation["parameters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|p| p["in"] == "path")
                    .map(|p| p["name"].as_str().unwrap())
                    .collect();
                let named: Vec<&str> = path_parameters(path).collect();
                assert_eq!(declared, named, "{method} {path}: path parameters");
            }
        }
        assert_eq!(
            doc["paths"]["/api/v1/conversations/{id}/messages"]["post"]["responses"]["202"]
                ["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Send"
        );
    }
}
