//! Reports over REST: conversations (volumes, first response and resolution spreads) and CSAT,
//! grouped by agent, team, number, country or day, whole or one measure at a time, as JSON or
//! CSV; and the satisfaction survey's settings.

use switchboard_shared::reports::{Durations, ReportGroup, SurveySettings};
use switchboard_shared::ErrorCode;

use crate::domain::now_ms;
use crate::service::csat::SurveyError;
use crate::service::{archive, csat, reports};
use crate::web::{HeaderValue, StatusCode};

use super::{json, ApiResult, Ctx, Failure};

fn bad(field: &str, message: String) -> Failure {
    Failure::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::BadQuery,
        message,
    )
    .on_field(field)
}

/// The asked-for grouping (by day when none), days (the last 30 by default, at most 366) and
/// whether the answer is CSV.
fn query(ctx: &Ctx) -> Result<(ReportGroup, std::ops::Range<i64>, bool), Failure> {
    let group_by = match ctx.req.query("group_by") {
        None => ReportGroup::Day,
        Some(text) => ReportGroup::parse(text).ok_or_else(|| {
            bad(
                "group_by",
                format!(
                    "`group_by` is one of {}, not `{text}`",
                    ReportGroup::ALL.map(|g| g.as_str()).join(", ")
                ),
            )
        })?,
    };
    let (from, to) = (ctx.req.day("from")?, ctx.req.day("to")?);
    let days = archive::days(from, to, now_ms()).map_err(|m| bad("from", m.to_owned()))?;
    let csv = match ctx.req.query("format").unwrap_or("json") {
        "json" => false,
        "csv" => true,
        other => {
            return Err(bad(
                "format",
                format!("`format` is json or csv, not `{other}`"),
            ))
        }
    };
    Ok((group_by, days, csv))
}

/// The tenant's schedules when `clock=business` is asked for.
async fn hours(
    ctx: &Ctx,
) -> Result<Option<std::sync::Arc<crate::service::automation::TenantHours>>, Failure> {
    match ctx.req.query("clock").unwrap_or("wall") {
        "wall" => Ok(None),
        "business" => Ok(Some(ctx.automation.hours(ctx.scope.tenant()).await?)),
        other => Err(bad(
            "clock",
            format!("`clock` is wall or business, not `{other}`"),
        )),
    }
}

fn figure(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.1}")).unwrap_or_default()
}

fn duration_cells(d: &Durations) -> [String; 8] {
    [
        d.n.to_string(),
        figure(d.median_ms),
        figure(d.p90_ms),
        figure(d.p99_ms),
        figure(d.mean_ms),
        figure(d.stddev_ms),
        d.min_ms.map(|v| v.to_string()).unwrap_or_default(),
        d.max_ms.map(|v| v.to_string()).unwrap_or_default(),
    ]
}

const DURATION_COLUMNS: [&str; 8] = [
    "n",
    "median_ms",
    "p90_ms",
    "p99_ms",
    "mean_ms",
    "stddev_ms",
    "min_ms",
    "max_ms",
];

/// Each group with its label, then the total labelled `total`: a report's CSV lines.
fn with_total<'a, R>(
    groups: &'a [R],
    total: &'a R,
    label: impl Fn(&R) -> Option<&String>,
) -> impl Iterator<Item = (&'a R, String)> {
    groups
        .iter()
        .map(move |r| (r, label(r).cloned().unwrap_or_default()))
        .chain([(total, "total".to_owned())])
}

/// A report's file name: `{noun}-by-{group}-{from}-{to}`.
fn file_name(noun: &str, group_by: ReportGroup, from: &str, to: &str) -> String {
    format!("{noun}-by-{}-{from}-{to}", group_by.as_str())
}

/// `GET reports/conversations?group_by=&from=&to=&format=json|csv`.
pub async fn conversations(ctx: Ctx) -> ApiResult {
    let (group_by, days, as_csv) = query(&ctx)?;
    let hours = hours(&ctx).await?;
    let report = reports::conversations(&ctx.scope, group_by, days, hours.as_deref()).await?;
    if !as_csv {
        return json(StatusCode::OK, &report);
    }
    let mut header: Vec<String> = [
        "key",
        "label",
        "conversations",
        "resolved",
        "unanswered",
        "messages_in",
        "messages_out",
    ]
    .map(str::to_owned)
    .into();
    for measure in ["first_response", "resolution"] {
        header.extend(DURATION_COLUMNS.map(|c| format!("{measure}_{c}")));
    }
    let rows = with_total(&report.groups, &report.total, |r| r.label.as_ref()).map(|(r, label)| {
        let mut cells = vec![
            r.key.clone().unwrap_or_default(),
            label,
            r.conversations.to_string(),
            r.resolved.to_string(),
            r.unanswered.to_string(),
            r.messages_in.to_string(),
            r.messages_out.to_string(),
        ];
        cells.extend(duration_cells(&r.first_response));
        cells.extend(duration_cells(&r.resolution));
        cells
    });
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let name = file_name("conversations", group_by, &report.from, &report.to);
    super::csv_attachment(&name, &header, rows)
}

async fn measure(ctx: Ctx, measure: reports::Measure, noun: &str) -> ApiResult {
    let (group_by, days, as_csv) = query(&ctx)?;
    let hours = hours(&ctx).await?;
    let report = reports::measure(
        reports::conversations(&ctx.scope, group_by, days, hours.as_deref()).await?,
        measure,
    );
    if !as_csv {
        return json(StatusCode::OK, &report);
    }
    let mut header = vec!["key", "label", "pending"];
    header.extend(DURATION_COLUMNS);
    let rows = with_total(&report.groups, &report.total, |g| g.label.as_ref()).map(|(g, label)| {
        let mut cells = vec![
            g.key.clone().unwrap_or_default(),
            label,
            g.pending.to_string(),
        ];
        cells.extend(duration_cells(&g.durations));
        cells
    });
    let name = file_name(noun, group_by, &report.from, &report.to);
    super::csv_attachment(&name, &header, rows)
}

/// `GET reports/first-response?group_by=&from=&to=&format=json|csv`.
pub async fn first_response(ctx: Ctx) -> ApiResult {
    measure(ctx, reports::Measure::FirstResponse, "first-response").await
}

/// `GET reports/resolution?group_by=&from=&to=&format=json|csv`.
pub async fn resolution(ctx: Ctx) -> ApiResult {
    measure(ctx, reports::Measure::Resolution, "resolution").await
}

/// `GET reports/csat?group_by=&from=&to=&format=json|csv`.
pub async fn csat_report(ctx: Ctx) -> ApiResult {
    let (group_by, days, as_csv) = query(&ctx)?;
    let report = reports::csat(&ctx.scope, group_by, days).await?;
    if !as_csv {
        return json(StatusCode::OK, &report);
    }
    let header = [
        "key",
        "label",
        "sent",
        "n",
        "response_rate",
        "mean",
        "stddev",
        "ci95_low",
        "ci95_high",
        "scored_1",
        "scored_2",
        "scored_3",
        "scored_4",
        "scored_5",
    ];
    let precise = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_default();
    let rows = with_total(&report.groups, &report.total, |r| r.label.as_ref()).map(|(r, label)| {
        let mut cells = vec![
            r.key.clone().unwrap_or_default(),
            label,
            r.sent.to_string(),
            r.n.to_string(),
            precise(r.response_rate),
            precise(r.mean),
            precise(r.stddev),
            precise(r.ci95.map(|c| c[0])),
            precise(r.ci95.map(|c| c[1])),
        ];
        cells.extend(r.distribution.iter().map(u64::to_string));
        cells
    });
    let name = file_name("csat", group_by, &report.from, &report.to);
    super::csv_attachment(&name, &header, rows)
}

/// `GET reports/agents?group_by=agent|team|day&from=&to=&format=json|csv`: agents' working
/// time, concurrency and the episodes they handled.
pub async fn agents(ctx: Ctx) -> ApiResult {
    let (group_by, days, as_csv) = query(&ctx)?;
    let group_by = match ctx.req.query("group_by") {
        None => reports::agents::GROUPS[0],
        Some(_) if reports::agents::GROUPS.contains(&group_by) => group_by,
        Some(text) => {
            return Err(bad(
                "group_by",
                format!("the agents' report is grouped by agent, team or day, not `{text}`"),
            ))
        }
    };
    let report = reports::agents::report(&ctx.scope, group_by, days).await?;
    if !as_csv {
        return json(StatusCode::OK, &report);
    }
    let header = [
        "key",
        "label",
        "online_ms",
        "idle_ms",
        "available_ms",
        "break_ms",
        "concurrency_mean",
        "concurrency_peak",
        "agents",
        "days",
        "conversations",
        "resolved",
        "first_responses",
    ];
    let rows = with_total(&report.groups, &report.total, |r| r.label.as_ref()).map(|(r, label)| {
        vec![
            r.key.clone().unwrap_or_default(),
            label,
            r.online_ms.to_string(),
            r.idle_ms.to_string(),
            r.available_ms.to_string(),
            r.break_ms.to_string(),
            r.concurrency_mean
                .map(|v| format!("{v:.3}"))
                .unwrap_or_default(),
            r.concurrency_peak.to_string(),
            r.agents.to_string(),
            r.days.to_string(),
            r.conversations.to_string(),
            r.resolved.to_string(),
            r.first_responses.to_string(),
        ]
    });
    let name = file_name("agents", group_by, &report.from, &report.to);
    super::csv_attachment(&name, &header, rows)
}

impl From<SurveyError> for Failure {
    fn from(e: SurveyError) -> Self {
        match e {
            SurveyError::Invalid { field, message } => Failure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidValue,
                format!("`{field}`: {message}"),
            )
            .on_field(field),
            SurveyError::Conflict(m) => Failure::conflict(ErrorCode::Conflict, m),
            SurveyError::Store(e) => e.into(),
        }
    }
}

/// `GET surveys/csat`: the satisfaction survey's settings (the defaults, off, until saved).
pub async fn survey(ctx: Ctx) -> ApiResult {
    json(StatusCode::OK, &csat::read(&ctx.scope).await?)
}

/// `PUT surveys/csat`: replaces them whole (`version`, when sent, must be the stored one).
pub async fn replace_survey(ctx: Ctx) -> ApiResult {
    let settings: SurveySettings = ctx.req.json()?;
    let saved = csat::replace(&ctx.principal, &ctx.scope, settings).await?;
    json(StatusCode::OK, &saved)
}

/// `GET reports/overview?from=&to=&format=json|html&lang=en|ru`: the report page's figures in one
/// pass, or the page itself (self-contained HTML with SVG charts; it runs no script).
pub async fn overview(ctx: Ctx) -> ApiResult {
    let (from, to) = (ctx.req.day("from")?, ctx.req.day("to")?);
    let days = archive::days(from, to, now_ms()).map_err(|m| bad("from", m.to_owned()))?;
    let html = match ctx.req.query("format").unwrap_or("json") {
        "json" => false,
        "html" => true,
        other => {
            return Err(bad(
                "format",
                format!("`format` is json or html, not `{other}`"),
            ))
        }
    };
    let lang = match ctx.req.query("lang").unwrap_or("en") {
        l @ ("en" | "ru") => l,
        other => return Err(bad("lang", format!("`lang` is en or ru, not `{other}`"))),
    };
    let overview = reports::overview(&ctx.scope, days).await?;
    if !html {
        return json(StatusCode::OK, &overview);
    }
    let mut response =
        crate::web::Response::new(super::report_page::render(&overview, lang).into());
    let headers = response.headers_mut();
    headers.insert(
        "content-type",
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert("cache-control", HeaderValue::from_static("no-store"));
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    Ok(response)
}
