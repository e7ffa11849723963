//! The cost ledger over REST: reports by month, number, team, campaign, country or category;
//! the reconciliation export (every priced message); the rate card, read and replaced.

use jiff::civil::Date;
use switchboard_shared::costs::CostGroup;
use switchboard_shared::ErrorCode;

use crate::web::StatusCode;

use super::{json, ApiResult, Ctx, Failure};
use crate::service::costs::{utc_day, CostError};

impl From<CostError> for Failure {
    fn from(e: CostError) -> Self {
        match e {
            CostError::BadCard(problems) => {
                let mut f = Failure::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorCode::BadFile,
                    format!(
                        "the rate card was not replaced: {} bad lines (the first: line {}: {})",
                        problems.len(),
                        problems[0].line,
                        problems[0].reason
                    ),
                );
                f.rows = problems
                    .into_iter()
                    .map(|p| switchboard_shared::error::RowProblem {
                        line: p.line,
                        reason: p.reason,
                    })
                    .collect();
                f
            }
            CostError::Invalid { field, message } => Failure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidValue,
                message,
            )
            .on_field(field),
            CostError::Store(e) => e.into(),
        }
    }
}

/// `from` and `to` (`YYYY-MM-DD`, UTC; `to` exclusive), by default this month so far and the
/// rest of it.
fn range(ctx: &Ctx) -> Result<(Date, Date), Failure> {
    let day = |name: &str, default: Date| -> Result<Date, Failure> {
        match ctx.req.query(name) {
            None => Ok(default),
            Some(text) => text.parse().map_err(|_| {
                Failure::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorCode::BadQuery,
                    format!("`{name}` is a day (YYYY-MM-DD), not `{text}`"),
                )
                .on_field(name)
            }),
        }
    };
    let today = utc_day(crate::domain::now_ms());
    let month = today.first_of_month();
    let next = month
        .checked_add(jiff::Span::new().months(1))
        .unwrap_or(Date::MAX);
    Ok((day("from", month)?, day("to", next)?))
}

/// `GET costs?group_by=month|number|team|campaign|country|category&from=&to=`.
pub async fn report(ctx: Ctx) -> ApiResult {
    let group_by = match ctx.req.query("group_by") {
        None => CostGroup::Month,
        Some(text) => CostGroup::parse(text).ok_or_else(|| {
            Failure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::BadQuery,
                format!(
                    "`group_by` is one of {}, not `{text}`",
                    CostGroup::ALL.map(|g| g.as_str()).join(", ")
                ),
            )
            .on_field("group_by")
        })?,
    };
    let (from, to) = range(&ctx)?;
    let mut report = ctx.costs.report(&ctx.scope, group_by, from, to).await?;
    if group_by == CostGroup::Campaign {
        let names = ctx.campaigns.names(&ctx.scope).await?;
        for line in &mut report.lines {
            line.label = names.get(&line.key).cloned();
        }
    }
    json(StatusCode::OK, &report)
}

/// `GET costs/charges?from=&to=`: every priced message of the range as CSV, for reconciling
/// with Meta's invoice.
pub async fn export(ctx: Ctx) -> ApiResult {
    let (from, to) = range(&ctx)?;
    let lines = ctx.costs.lines(&ctx.scope, from, to).await?;
    let rows = lines.into_iter().map(|c| {
        let wire = c.wire();
        [
            wire.wamid,
            c.at_ms.to_string(),
            c.month,
            wire.number,
            wire.country,
            wire.category.as_str().to_owned(),
            wire.pricing_type.as_str().to_owned(),
            wire.pricing_model,
            wire.team.unwrap_or_default(),
            wire.sender.unwrap_or_default(),
            wire.campaign.unwrap_or_default(),
            wire.price.unwrap_or_default(),
        ]
    });
    super::csv_attachment(
        &format!("charges-{from}-{to}"),
        &[
            "wamid",
            "at",
            "month",
            "number",
            "country",
            "category",
            "pricing_type",
            "pricing_model",
            "team",
            "sender",
            "campaign",
            "price_usd",
        ],
        rows,
    )
}

/// `GET costs/rate-card`.
pub async fn rate_card(ctx: Ctx) -> ApiResult {
    let card = ctx.costs.rate_card(&ctx.scope).await?;
    json(StatusCode::OK, &card)
}

/// `PUT costs/rate-card` with the card as CSV (docs/costs.md): replaced whole, or refused whole
/// with every bad line (`422 bad_file`, `rows`).
pub async fn replace_rate_card(ctx: Ctx) -> ApiResult {
    let Ok(text) = std::str::from_utf8(&ctx.req.body) else {
        return Err(Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::BadFile,
            "the rate card must be UTF-8 text (CSV)",
        ));
    };
    let card = ctx
        .costs
        .replace_rate_card(&ctx.principal, &ctx.scope, text)
        .await?;
    json(StatusCode::OK, &card)
}
