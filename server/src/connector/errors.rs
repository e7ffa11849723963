//! Cloud API errors, typed by what they mean and what to do about them.

use std::time::Duration;

use super::wire::GraphError;

/// What a Graph error code means (Meta's "error codes" page), for the codes Switchboard acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// 130429: the number's throughput (80 msg/s by default) was reached.
    ThroughputLimit,
    /// 131056: too many messages to the same recipient in a short time.
    PairRateLimit,
    /// 131047: more than 24 h since the customer last wrote; only templates may be sent.
    ReEngagementRequired,
    /// 131026: the recipient cannot receive the message (not on WhatsApp, old client, ...).
    Undeliverable,
    /// 131049: not delivered to keep ecosystem engagement healthy (marketing limits).
    EcosystemEngagement,
    /// 131030: a test number may only message numbers on its allowed list.
    RecipientNotAllowed,
    /// 132000: the template's parameter count does not match.
    TemplateParamMismatch,
    /// 132001: no such template in that language (or not approved).
    TemplateNotFound,
    /// 190: the access token expired or was invalidated.
    AccessTokenExpired,
    /// 100: an invalid or missing parameter.
    InvalidParameter,
    /// 1, 2, 131000, 131016: Meta-side failure or temporary overload.
    Transient,
    /// 131057: the account is in maintenance (e.g. a throughput upgrade).
    Maintenance,
    /// 4, 80007: app- or account-level API call rate limit.
    ApiRateLimit,
    /// Any other code: not retried.
    Other,
}

impl ErrorKind {
    pub fn from_code(code: i64) -> Self {
        match code {
            130429 => Self::ThroughputLimit,
            131056 => Self::PairRateLimit,
            131047 => Self::ReEngagementRequired,
            131026 => Self::Undeliverable,
            131049 => Self::EcosystemEngagement,
            131030 => Self::RecipientNotAllowed,
            132000 => Self::TemplateParamMismatch,
            132001 => Self::TemplateNotFound,
            190 => Self::AccessTokenExpired,
            100 => Self::InvalidParameter,
            1 | 2 | 131000 | 131016 => Self::Transient,
            131057 => Self::Maintenance,
            4 | 80007 => Self::ApiRateLimit,
            _ => Self::Other,
        }
    }

    /// Whether sending again later can succeed without changing the request.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            Self::ThroughputLimit
                | Self::PairRateLimit
                | Self::Transient
                | Self::Maintenance
                | Self::ApiRateLimit
        )
    }

    /// The documented advice, for operators and agents.
    pub fn advice(self) -> &'static str {
        match self {
            Self::ThroughputLimit => {
                "the number's message throughput was reached; slow down and retry"
            }
            Self::PairRateLimit => {
                "too many messages to this customer in a short time; wait before sending again"
            }
            Self::ReEngagementRequired => {
                "more than 24 hours since the customer last wrote; send an approved template"
            }
            Self::Undeliverable => {
                "the recipient cannot receive this message; do not retry blindly"
            }
            Self::EcosystemEngagement => {
                "Meta limited marketing messages to this user; wait at least 24 hours"
            }
            Self::RecipientNotAllowed => {
                "a test number may only message its allowed recipients; add the number"
            }
            Self::TemplateParamMismatch => "the template's parameters do not match its definition",
            Self::TemplateNotFound => {
                "the template does not exist in that language or is not approved"
            }
            Self::AccessTokenExpired => "the access token expired; configure a new one",
            Self::InvalidParameter => "the request has an invalid parameter",
            Self::Transient => "temporary failure at Meta; retry later",
            Self::Maintenance => "the account is in maintenance; retry in a minute",
            Self::ApiRateLimit => "the API call rate limit was reached; back off",
            Self::Other => "see Meta's error-code reference",
        }
    }

    /// The least time to wait before retrying `attempt` (0-based), before jitter. Meta advises
    /// 4^X seconds after a pair-rate failure; others back off exponentially from 200 ms.
    pub fn backoff(self, attempt: u32) -> Duration {
        match self {
            Self::PairRateLimit => Duration::from_secs(4u64.saturating_pow(attempt).min(64)),
            Self::Maintenance => Duration::from_secs(5 * u64::from(attempt + 1)),
            _ => Duration::from_millis(200u64.saturating_mul(1 << attempt.min(6))),
        }
    }
}

/// What Meta's error codes on a failed message mean, as an agent reads it: `131047: more than
/// 24 hours since the customer last wrote; send an approved template` (each code, `; `
/// between). `None` without codes.
pub fn describe(codes: &[i64]) -> Option<String> {
    (!codes.is_empty()).then(|| {
        codes
            .iter()
            .map(|&code| format!("{code}: {}", ErrorKind::from_code(code).advice()))
            .collect::<Vec<_>>()
            .join("; ")
    })
}

/// A failed Cloud API call.
#[derive(Clone, Debug, thiserror::Error, PartialEq)]
pub enum CloudApiError {
    /// Meta answered with its error shape.
    #[error("Cloud API error {code} (HTTP {http_status}): {message}")]
    Api {
        http_status: u16,
        code: i64,
        subcode: Option<i64>,
        kind: ErrorKind,
        message: String,
        details: Option<String>,
        fbtrace_id: Option<String>,
    },
    /// A non-success answer without Meta's error shape (a proxy page, a bare 502).
    #[error("Cloud API answered HTTP {http_status} without an error body")]
    Http { http_status: u16, body: String },
    /// The connection could not be made: nothing was sent, so a retry cannot duplicate.
    #[error("could not connect to the Cloud API: {0}")]
    Connect(String),
    /// The request may or may not have reached Meta (timeout, connection lost mid-way). Never
    /// retried automatically: the status webhook settles what happened.
    #[error("outcome unknown: {0}")]
    Ambiguous(String),
    /// The answer was not the documented shape.
    #[error("unexpected Cloud API answer: {0}")]
    Decode(String),
    /// The request could not be built (bad URL, unserialisable body).
    #[error("invalid request: {0}")]
    Request(String),
}

impl CloudApiError {
    pub fn from_graph(http_status: u16, error: GraphError) -> Self {
        let details = error.error_data.and_then(|d| d.details);
        CloudApiError::Api {
            http_status,
            code: error.code,
            subcode: error.error_subcode,
            kind: ErrorKind::from_code(error.code),
            message: error.message,
            details,
            fbtrace_id: error.fbtrace_id,
        }
    }

    pub fn code(&self) -> Option<i64> {
        match self {
            CloudApiError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            CloudApiError::Api { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// Whether this exact request may be sent again with no risk of a duplicate message.
    pub fn is_retryable(&self) -> bool {
        match self {
            CloudApiError::Api { kind, .. } => kind.is_retryable(),
            CloudApiError::Http { http_status, .. } => *http_status >= 500 || *http_status == 429,
            CloudApiError::Connect(_) => true,
            CloudApiError::Ambiguous(_) | CloudApiError::Decode(_) | CloudApiError::Request(_) => {
                false
            }
        }
    }

    pub fn backoff(&self, attempt: u32) -> Duration {
        self.kind().unwrap_or(ErrorKind::Transient).backoff(attempt)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn failures_read_as_what_the_codes_mean() {
        assert_eq!(super::describe(&[]), None);
        assert_eq!(
            super::describe(&[131047]).as_deref(),
            Some("131047: more than 24 hours since the customer last wrote; send an approved template")
        );
        assert_eq!(
            super::describe(&[131026, 999]).as_deref(),
            Some("131026: the recipient cannot receive this message; do not retry blindly; 999: see Meta's error-code reference")
        );
    }

    use super::*;

    #[test]
    fn documented_codes_map_to_kinds_and_retry_advice() {
        let retry = [130429, 131056, 131000, 131016, 1, 2, 131057, 4, 80007];
        let never = [
            131047, 131026, 131049, 131030, 132000, 132001, 190, 100, 368,
        ];
        for code in retry {
            assert!(ErrorKind::from_code(code).is_retryable(), "{code}");
        }
        for code in never {
            assert!(!ErrorKind::from_code(code).is_retryable(), "{code}");
        }
        assert_eq!(ErrorKind::PairRateLimit.backoff(2), Duration::from_secs(16));
        assert!(ErrorKind::ThroughputLimit.backoff(1) > ErrorKind::ThroughputLimit.backoff(0));
    }

    #[test]
    fn server_errors_retry_but_ambiguous_outcomes_never_do() {
        assert!(CloudApiError::Http {
            http_status: 503,
            body: String::new()
        }
        .is_retryable());
        assert!(!CloudApiError::Http {
            http_status: 400,
            body: String::new()
        }
        .is_retryable());
        assert!(CloudApiError::Connect("refused".into()).is_retryable());
        assert!(!CloudApiError::Ambiguous("timeout".into()).is_retryable());
    }
}
