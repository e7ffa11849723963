//! The operations of the records a workspace keeps and reads back: transcripts, search,
//! reports, the satisfaction survey, and retention.

use switchboard_shared::api::*;
use switchboard_shared::contacts::{StopWords, StopWordsChange};
use switchboard_shared::reports::{
    AgentActivityReport, ConversationReport, CsatReport, DurationReport, ReportOverview,
    SurveySettings,
};
use switchboard_shared::retention::{Hold, NewHold, PurgeReport, RetentionPolicy, RetentionStatus};

use super::{op, schema, Kind, Operation, Query, CURSOR};

const REPORT_QUERY: &[Query] = &[
    (
        "group_by",
        "day (default), agent, team, number or country",
        Kind::OneOf(&["day", "agent", "team", "number", "country"]),
    ),
    (
        "from",
        "first day, YYYY-MM-DD, UTC (default: 30 days before `to`)",
        Kind::Day,
    ),
    (
        "to",
        "day after the last, YYYY-MM-DD, UTC (default: tomorrow); at most 366 days",
        Kind::Day,
    ),
    (
        "format",
        "json (default) or csv",
        Kind::OneOf(&["json", "csv"]),
    ),
    (
        "clock",
        "wall (default), or business: durations count only while the number's schedule is open",
        Kind::OneOf(&["wall", "business"]),
    ),
];

const AGENTS_QUERY: &[Query] = &[
    (
        "group_by",
        "agent (default), team (the teams each agent belongs to) or day",
        Kind::OneOf(&["agent", "team", "day"]),
    ),
    REPORT_QUERY[1],
    REPORT_QUERY[2],
    REPORT_QUERY[3],
];

/// The operation of one of these routes, if it is one.
pub(super) fn operation(method: &str, path: &str) -> Option<Operation> {
    Some(match (method, path) {
        ("GET", "conversations/{id}/transcript") => Operation {
            query: &[(
                "format",
                "`html` (default: one self-contained page) or `jsonl` (one message per line)",
                Kind::OneOf(&["html", "jsonl"]),
            )],
            ..op(
                "The conversation's every message, oldest first, as a file to keep or hand on \
                 (text/html or application/x-ndjson): a message that is not plain text also \
                 reads as a sentence (`description` in JSON lines), numbers masked as for the \
                 caller",
                None,
                200,
                None,
            )
        },
        ("GET", "search") => Operation {
            query: &[
                (
                    "q",
                    "words to find, all of them (at most 200 characters, 8 words); folded as \
                     the word filter folds: case, ё/е, look-alike letters",
                    Kind::Needed,
                ),
                CURSOR,
                ("limit", "items per page (at most 100)", Kind::Limit(100)),
            ],
            ..op(
                "Messages whose text holds every word of `q`, in the conversations the caller \
                 may see, newest first, each with a snippet; a page may be short, with `next` \
                 to go on; 422 `bad_query` on `q` for a query without words or too long",
                None,
                200,
                Some(schema::<Page<SearchResult>>),
            )
        },
        ("GET", "reports/conversations") => Operation {
            also: &["text/csv"],
            query: REPORT_QUERY,
            ..op(
                "Episodes opened in the range (a conversation from its first message, or the \
                 one that reopened it, to its resolution), grouped: volumes in and out, \
                 unanswered, and first response and resolution times as spreads (median, p90, \
                 p99 interpolated between ranks; mean; sample σ); with `format=csv`, the same \
                 as text/csv with a total line; docs/reports.md",
                None,
                200,
                Some(schema::<ConversationReport>),
            )
        },
        ("GET", "reports/first-response") => Operation {
            also: &["text/csv"],
            query: REPORT_QUERY,
            ..op(
                "First response times per group (from the customer's first message to a \
                 person's first answer; automatic messages do not answer): n, median_ms, \
                 p90_ms, p99_ms, mean_ms, stddev_ms, min_ms, max_ms, and `pending` (not \
                 answered yet); `format=csv` for text/csv",
                None,
                200,
                Some(schema::<DurationReport>),
            )
        },
        ("GET", "reports/resolution") => Operation {
            also: &["text/csv"],
            query: REPORT_QUERY,
            ..op(
                "Resolution times per group (from the first message to the resolution), as \
                 `reports/first-response`; `pending` counts episodes still open",
                None,
                200,
                Some(schema::<DurationReport>),
            )
        },
        ("GET", "reports/agents") => Operation {
            also: &["text/csv"],
            query: AGENTS_QUERY,
            ..op(
                "Agents' working time over the range from their presence (online, idle past \
                 the away timeout, available, on a break; milliseconds), how many conversations \
                 they held at once (time-weighted mean, peak) and the episodes opened in the \
                 range they handled, answered first and resolved; `format=csv` for text/csv; \
                 422 `bad_query` on `group_by` for a grouping this report has not",
                None,
                200,
                Some(schema::<AgentActivityReport>),
            )
        },
        ("GET", "reports/overview") => Operation {
            also: &["text/html"],
            query: &[
                (
                    "from",
                    "first day, YYYY-MM-DD, UTC (default: 30 days before `to`)",
                    Kind::Day,
                ),
                (
                    "to",
                    "day after the last, YYYY-MM-DD, UTC (default: tomorrow); at most 366 days",
                    Kind::Day,
                ),
                (
                    "format",
                    "json (default), or html: the report page",
                    Kind::OneOf(&["json", "html"]),
                ),
                (
                    "lang",
                    "the page's language: en (default) or ru",
                    Kind::OneOf(&["en", "ru"]),
                ),
            ],
            ..op(
                "Everything the report page shows, in one pass: the totals, every day of the \
                 range, teams and countries with their spreads, the first response histogram, \
                 CSAT in total and by team; with `format=html`, the page itself (text/html, \
                 SVG charts, no script)",
                None,
                200,
                Some(schema::<ReportOverview>),
            )
        },
        ("GET", "reports/csat") => Operation {
            also: &["text/csv"],
            // Scores have no clock.
            query: &REPORT_QUERY[..4],
            ..op(
                "Satisfaction scores (1–5) of the surveys sent when episodes opened in the \
                 range were resolved, per group (by agent: who had the conversation): sent, n, \
                 response_rate, mean, the sample stddev, a 95% confidence interval of the mean \
                 (Student's t), how many gave each score, and the newest comments; \
                 `format=csv` for text/csv",
                None,
                200,
                Some(schema::<CsatReport>),
            )
        },
        ("GET", "settings/stop-words") => op(
            "The workspace's stop words: a customer whose whole message is one of them (case, \
             width and the punctuation around it aside) is opted out of marketing, with the \
             message as evidence; the server's list until the workspace saves its own",
            None,
            200,
            Some(schema::<StopWords>),
        ),
        ("PUT", "settings/stop-words") => op(
            "Replaces the workspace's stop words whole (1 to 200, each at most 64 characters \
             with a letter or digit; a word spelt twice is kept once); `version`, when sent, \
             must be the stored one (409 otherwise); in force for the next webhook",
            Some(schema::<StopWordsChange>),
            200,
            Some(schema::<StopWords>),
        ),
        ("DELETE", "settings/stop-words") => op(
            "Goes back to the server's stop words (404 when the workspace saved none)",
            None,
            200,
            Some(schema::<StopWords>),
        ),
        ("GET", "surveys/csat") => op(
            "The satisfaction survey sent after a resolution: on or off, texts per language, \
             the response window and the reminder (the defaults, off, until saved)",
            None,
            200,
            Some(schema::<SurveySettings>),
        ),
        ("PUT", "surveys/csat") => op(
            "Replaces the survey's settings whole; `version`, when sent, must be the stored one \
             (409 otherwise); texts within WhatsApp's list limits (each bad field named)",
            Some(schema::<SurveySettings>),
            200,
            Some(schema::<SurveySettings>),
        ),
        ("GET", "retention/policy") => op(
            "The workspace's retention policy: days kept for message text, files, messages and \
             the audit log, per number and team (empty, keeping everything, until saved)",
            None,
            200,
            Some(schema::<RetentionPolicy>),
        ),
        ("PUT", "retention/policy") => op(
            "Replaces the policy whole: each period 90 to 1825 days or null (forever), messages \
             kept at least as long as their text and files (422 naming the field); `version`, \
             when sent, must be the stored one (409 otherwise). A conversation follows its \
             number's periods, else the longest of its teams', else the default",
            Some(schema::<RetentionPolicy>),
            200,
            Some(schema::<RetentionPolicy>),
        ),
        ("GET", "retention/holds") => op(
            "Legal holds, oldest first: what they cover is never purged",
            None,
            200,
            Some(schema::<Vec<Hold>>),
        ),
        ("POST", "retention/holds") => op(
            "Places a legal hold on a contact, a conversation, a number or a date range (422 \
             when the target does not exist)",
            Some(schema::<NewHold>),
            201,
            Some(schema::<Hold>),
        ),
        ("DELETE", "retention/holds/{id}") => op(
            "Releases a legal hold (the audit log keeps what it was)",
            None,
            204,
            None,
        ),
        ("POST", "retention/dry-run") => op(
            "What a purge would remove now (conversations, messages, texts, files and bytes, \
             what holds keep), removing nothing",
            None,
            200,
            Some(schema::<PurgeReport>),
        ),
        ("POST", "retention/purge") => op(
            "Starts a purge now (it also runs daily in the configured window); 409 while one \
             runs. Its receipt goes to the audit log (`retention.purge`)",
            None,
            202,
            Some(schema::<RetentionStatus>),
        ),
        ("GET", "retention/status") => op(
            "Whether a purge runs, how far it is, and the last purge's receipt",
            None,
            200,
            Some(schema::<RetentionStatus>),
        ),
        _ => return None,
    })
}
