//! Reports over conversations on the wire: what they are grouped by, and the figures of each
//! group. Durations are milliseconds; percentiles are interpolated between the closest ranks
//! (the common definition: NumPy's default, R's type 7, a spreadsheet's `PERCENTILE.INC`), so
//! the median of an even count is the mean of the middle two.

use serde::{Deserialize, Serialize};

/// What a report's rows are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReportGroup {
    /// The agent: for first responses, who answered; otherwise who has or had the conversation.
    Agent,
    /// Each team whose numbers include the conversation's (a number in two teams counts in
    /// both).
    Team,
    Number,
    /// From the customer's number (ISO 3166).
    Country,
    /// The UTC day the episode opened (`YYYY-MM-DD`).
    Day,
}

impl ReportGroup {
    pub const ALL: [ReportGroup; 5] = [
        ReportGroup::Agent,
        ReportGroup::Team,
        ReportGroup::Number,
        ReportGroup::Country,
        ReportGroup::Day,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReportGroup::Agent => "agent",
            ReportGroup::Team => "team",
            ReportGroup::Number => "number",
            ReportGroup::Country => "country",
            ReportGroup::Day => "day",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == text)
    }
}

/// How durations are counted: all the time (`wall`, the default), or only while the number's
/// business hours are open (`business`: the schedule that names the number, else the default
/// one; a number without either counts all the time).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReportClock {
    #[default]
    Wall,
    Business,
}

impl ReportClock {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "wall" => Some(Self::Wall),
            "business" => Some(Self::Business),
            _ => None,
        }
    }
}

/// A spread of durations: how many, and where they fall. Empty groups have `n = 0` and no
/// figures.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Durations {
    pub n: u64,
    pub median_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub mean_ms: Option<f64>,
    /// The sample standard deviation (n − 1); none below two.
    pub stddev_ms: Option<f64>,
    pub min_ms: Option<i64>,
    pub max_ms: Option<i64>,
}

/// One row of a conversation report.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ReportRow {
    /// The group's id (`u_…`, `t_…`, a number's id, a country code, a day); `null` for what
    /// has none (no agent, no team, an unknown country).
    pub key: Option<String>,
    /// What people call it (an agent's or team's name, a number's display).
    pub label: Option<String>,
    /// Episodes opened in the range (a conversation reopened counts again).
    pub conversations: u64,
    pub resolved: u64,
    /// Episodes nobody has answered yet (automatic messages do not answer).
    pub unanswered: u64,
    pub messages_in: u64,
    pub messages_out: u64,
    /// From the customer's first message to a person's first answer.
    pub first_response: Durations,
    /// From the first message to the resolution.
    pub resolution: Durations,
}

/// A report over the episodes opened from `from` to `to` (UTC days, `to` excluded).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ConversationReport {
    pub group_by: ReportGroup,
    pub clock: ReportClock,
    pub from: String,
    pub to: String,
    /// By key (days in order; others by volume, largest first).
    pub groups: Vec<ReportRow>,
    /// Every episode once (a conversation in two teams counts once here).
    pub total: ReportRow,
}

/// One measure of a report, flat per group: `GET reports/first-response` and
/// `reports/resolution`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DurationReport {
    pub group_by: ReportGroup,
    pub clock: ReportClock,
    pub from: String,
    pub to: String,
    pub groups: Vec<DurationRow>,
    pub total: DurationRow,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DurationRow {
    pub key: Option<String>,
    pub label: Option<String>,
    #[serde(flatten)]
    pub durations: Durations,
    /// Episodes of the group without this measure yet (not answered, not resolved).
    pub pending: u64,
}

/// One row of the agents' report (`GET reports/agents`): working time from presence, how many
/// conversations they held at once, and the episodes they handled. Durations in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AgentActivityRow {
    /// The agent's id, or the day (`YYYY-MM-DD`).
    pub key: Option<String>,
    pub label: Option<String>,
    /// Connected to the app (a socket open), active or idle.
    pub online_ms: i64,
    /// The part of `online_ms` spent idle past the away timeout.
    pub idle_ms: i64,
    /// Active with the status "available": the time routing could offer conversations.
    pub available_ms: i64,
    /// Connected with the status "break".
    pub break_ms: i64,
    /// The mean number of conversations held at once while online (none when never online).
    pub concurrency_mean: Option<f64>,
    /// The most conversations held at once.
    pub concurrency_peak: u32,
    /// Distinct agents with online time in the group.
    pub agents: u32,
    /// Distinct days with online time in the group.
    pub days: u32,
    /// Episodes opened in the range that the agent has or had last.
    pub conversations: u64,
    pub resolved: u64,
    /// Episodes the agent answered first.
    pub first_responses: u64,
}

/// The agents' report over the days from `from` to `to` (UTC, `to` excluded), grouped by
/// agent or day.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AgentActivityReport {
    pub group_by: ReportGroup,
    pub from: String,
    pub to: String,
    /// By agent: the most online first; by day: in order.
    pub groups: Vec<AgentActivityRow>,
    pub total: AgentActivityRow,
}

/// The satisfaction survey sent after a conversation is resolved (`PUT /api/v1/surveys/csat`):
/// a WhatsApp list of five scores, one reminder, a response window, an optional comment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SurveySettings {
    /// Read: the stored version (none until saved). Written: when sent, it must be the stored
    /// one (`409` otherwise), so a change made since is not overwritten.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    pub enabled: bool,
    /// The language used when the customer's country has no texts of its own (`en`, `ru`, …).
    #[cfg_attr(feature = "schema", schemars(length(min = 2, max = 8)))]
    pub default_language: String,
    /// Texts per language; `default_language` must be among them.
    pub texts: std::collections::BTreeMap<String, SurveyTexts>,
    /// How long after the survey a score is taken (1 to 168 hours); later, the customer's
    /// message reopens the conversation as any other.
    pub window_hours: u32,
    /// One reminder this long after the survey when there is no answer (1 to 1,380 minutes:
    /// inside WhatsApp's 24-hour window); none when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reminder_after_minutes: Option<u32>,
}

/// A survey's texts in one language, within WhatsApp's limits for a list message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SurveyTexts {
    /// The message body (at most 1,024 characters).
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 1024)))]
    pub question: String,
    /// The list's button (at most 20 characters).
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 20)))]
    pub button: String,
    /// The five choices, worst first (at most 24 characters each).
    pub labels: [String; 5],
    /// Sent after the score (or the comment).
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 1024)))]
    pub thanks: String,
    /// The reminder's body.
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 1024)))]
    pub reminder: String,
    /// Asked after the score; the customer's next text (within 30 minutes) is the comment.
    /// None: no comment is asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment_prompt: Option<String>,
}

impl SurveySettings {
    /// The settings of a workspace that never saved any: off, with texts in English and
    /// Russian to start from.
    pub fn defaults() -> Self {
        let en = SurveyTexts {
            question: "How would you rate the help you received?".into(),
            button: "Rate".into(),
            labels: [
                "1 – Very poor".into(),
                "2 – Poor".into(),
                "3 – OK".into(),
                "4 – Good".into(),
                "5 – Excellent".into(),
            ],
            thanks: "Thank you for your feedback!".into(),
            reminder: "We would love to hear how we did: one tap is enough.".into(),
            comment_prompt: Some("Anything you would like to add? Just write it here.".into()),
        };
        let ru = SurveyTexts {
            question: "Как вы оцените полученную помощь?".into(),
            button: "Оценить".into(),
            labels: [
                "1 – Очень плохо".into(),
                "2 – Плохо".into(),
                "3 – Нормально".into(),
                "4 – Хорошо".into(),
                "5 – Отлично".into(),
            ],
            thanks: "Спасибо за отзыв!".into(),
            reminder: "Нам важно ваше мнение: достаточно одного нажатия.".into(),
            comment_prompt: Some("Хотите что-то добавить? Просто напишите здесь.".into()),
        };
        Self {
            version: None,
            enabled: false,
            default_language: "en".into(),
            texts: [("en".to_owned(), en), ("ru".to_owned(), ru)].into(),
            window_hours: 24,
            reminder_after_minutes: Some(120),
        }
    }
}

/// CSAT per group (`GET /api/v1/reports/csat`): scores 1–5.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CsatReport {
    pub group_by: ReportGroup,
    pub from: String,
    pub to: String,
    pub groups: Vec<CsatRow>,
    pub total: CsatRow,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CsatRow {
    pub key: Option<String>,
    pub label: Option<String>,
    /// Surveys sent.
    pub sent: u64,
    /// Scores received.
    pub n: u64,
    /// n / sent; none when nothing was sent.
    pub response_rate: Option<f64>,
    pub mean: Option<f64>,
    /// The sample standard deviation (n − 1); none below two scores.
    pub stddev: Option<f64>,
    /// The 95% confidence interval of the mean, `[low, high]`, from Student's t with n − 1
    /// degrees of freedom; none below two scores.
    pub ci95: Option<[f64; 2]>,
    /// How many gave 1, 2, 3, 4 and 5.
    pub distribution: [u64; 5],
    /// The newest comments (at most 20 per group).
    pub comments: Vec<CsatComment>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CsatComment {
    pub conversation_id: crate::ConversationId,
    pub score: u8,
    pub comment: String,
    pub at: i64,
}

/// Everything a supervisor's report page shows, in one pass over the range
/// (`GET /api/v1/reports/overview`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ReportOverview {
    pub from: String,
    pub to: String,
    pub total: ReportRow,
    /// Every day of the range, in order (days without episodes too).
    pub by_day: Vec<ReportRow>,
    pub by_team: Vec<ReportRow>,
    pub by_country: Vec<ReportRow>,
    /// How many first responses fell in each bucket.
    pub first_response_histogram: Vec<HistogramBucket>,
    pub csat: CsatRow,
    pub csat_by_team: Vec<CsatRow>,
    /// Each agent's working time and the episodes they handled (`reports/agents` by agent).
    #[serde(default)]
    pub agents: Vec<AgentActivityRow>,
}

/// A histogram bucket: values up to `upto_ms` (and above the previous bucket's); the last has
/// none.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct HistogramBucket {
    pub upto_ms: Option<i64>,
    pub count: u64,
}

/// The first response histogram's bucket edges: 1, 5, 15 and 60 minutes, 4 and 24 hours.
pub const FIRST_RESPONSE_EDGES_MS: [i64; 6] =
    [60_000, 300_000, 900_000, 3_600_000, 14_400_000, 86_400_000];

/// Percentile `q` (0..=1) of sorted values, interpolated between the closest ranks.
pub fn percentile(sorted: &[i64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let h = last as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(last);
    let (a, b) = (sorted[lo] as f64, sorted[hi] as f64);
    Some(a + (h - lo as f64) * (b - a))
}

impl Durations {
    /// The figures of `values`, sorted in place.
    pub fn of(values: &mut [i64]) -> Self {
        values.sort_unstable();
        let n = values.len();
        if n == 0 {
            return Self::default();
        }
        let mean = values.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
        let stddev = (n > 1).then(|| {
            let squares: f64 = values.iter().map(|&v| (v as f64 - mean).powi(2)).sum();
            (squares / (n - 1) as f64).sqrt()
        });
        Self {
            n: n as u64,
            median_ms: percentile(values, 0.5),
            p90_ms: percentile(values, 0.9),
            p99_ms: percentile(values, 0.99),
            mean_ms: Some(mean),
            stddev_ms: stddev,
            min_ms: values.first().copied(),
            max_ms: values.last().copied(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_between_ranks() {
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(percentile(&[7], 0.99), Some(7.0));
        assert_eq!(percentile(&[1, 2], 0.5), Some(1.5));
        assert_eq!(percentile(&[1, 2, 3, 4, 5], 0.5), Some(3.0));
        let hundred: Vec<i64> = (1..=100).collect();
        // NumPy: percentile(range(1, 101), 90) == 90.1, 99 → 99.01.
        assert!((percentile(&hundred, 0.9).unwrap() - 90.1).abs() < 1e-9);
        assert!((percentile(&hundred, 0.99).unwrap() - 99.01).abs() < 1e-9);
    }

    #[test]
    fn spreads_use_the_sample_deviation() {
        let mut v = vec![4, 2, 9, 4, 5, 5, 7, 4];
        let d = Durations::of(&mut v);
        assert_eq!(d.n, 8);
        assert_eq!(d.median_ms, Some(4.5));
        assert_eq!(d.mean_ms, Some(5.0));
        // Σ(x − 5)² = 32; 32 / 7.
        assert!((d.stddev_ms.unwrap() - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
        assert_eq!((d.min_ms, d.max_ms), (Some(2), Some(9)));
        assert_eq!(Durations::of(&mut [3]).stddev_ms, None);
        assert_eq!(Durations::of(&mut []), Durations::default());
    }
}
