//! The audit log: filtered, paged reads and a whole export (JSON lines or CSV).

use crate::web::{HeaderValue, StatusCode};
use switchboard_shared::api::{AuditEntry, Page};
use switchboard_shared::ErrorCode;

use super::{json, ApiResult, Ctx, Failure};
use crate::domain::{AuditQuery, AuditRecord, AUDIT_OUTCOMES};
use crate::store::{Cursor, MAX_PAGE};

/// The most lines one export holds; narrow the time range for more.
const EXPORT_MAX: usize = 100_000;

fn entry(r: AuditRecord) -> AuditEntry {
    let parse = |v: Option<String>| v.and_then(|s| serde_json::from_str(&s).ok());
    AuditEntry {
        id: r.id,
        at: r.at_ms,
        actor: r.actor,
        actor_name: r.actor_name,
        action: r.action,
        target: r.target,
        outcome: r.outcome,
        ip: r.ip,
        user_agent: r.user_agent,
        before: parse(r.before),
        after: parse(r.after),
    }
}

fn filters(ctx: &Ctx) -> Result<AuditQuery, Failure> {
    let time = |name: &str| -> Result<Option<i64>, Failure> {
        ctx.req
            .query(name)
            .map(|v| {
                v.parse::<i64>().ok().filter(|ms| *ms >= 0).ok_or_else(|| {
                    Failure::bad_request(format!("{name} is a time in Unix milliseconds"))
                })
            })
            .transpose()
    };
    let text = |name: &str| ctx.req.query(name).map(str::to_owned);
    Ok(AuditQuery {
        actor: text("actor"),
        action: text("action"),
        target: text("target"),
        outcome: match text("outcome") {
            Some(o) if !AUDIT_OUTCOMES.contains(&o.as_str()) => {
                return Err(Failure::bad_request(format!(
                    "outcome is one of {}, not `{o}`",
                    AUDIT_OUTCOMES.join(", ")
                )))
            }
            o => o,
        },
        since_ms: time("since")?,
        until_ms: time("until")?,
    })
}

/// `GET audit?actor=&action=&target=&outcome=&since=&until=&cursor=&limit=`.
pub async fn query(ctx: Ctx) -> ApiResult {
    let q = filters(&ctx)?;
    let limit = ctx.req.limit(100, MAX_PAGE)?;
    let cursor = ctx.req.query("cursor").map(Cursor::from_token);
    let page = ctx.scope.audit_log(&q, cursor.as_ref(), limit).await?;
    json(
        StatusCode::OK,
        &Page {
            items: page.items.into_iter().map(entry).collect(),
            next: page.next.map(|c| c.as_str().to_owned()),
        },
    )
}

/// `GET audit/export?format=jsonl|csv` with the same filters: every matching line, newest first.
pub async fn export(ctx: Ctx) -> ApiResult {
    let q = filters(&ctx)?;
    let format = ctx.req.query("format").unwrap_or("jsonl");
    if !matches!(format, "jsonl" | "csv") {
        return Err(Failure::bad_request("format is jsonl or csv"));
    }
    let mut lines = Vec::new();
    let mut cursor = None;
    loop {
        let page = ctx.scope.audit_log(&q, cursor.as_ref(), MAX_PAGE).await?;
        lines.extend(page.items);
        if lines.len() > EXPORT_MAX {
            return Err(Failure::bad_request(format!(
                "more than {EXPORT_MAX} lines match; narrow it with since/until"
            )));
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let failure =
        |e: String| Failure::new(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal, e);
    let (body, content_type) = if format == "csv" {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record([
            "id",
            "at",
            "actor",
            "actor_name",
            "action",
            "target",
            "outcome",
            "ip",
            "user_agent",
            "before",
            "after",
        ])
        .map_err(|e| failure(e.to_string()))?;
        for r in lines {
            let at = r.at_ms.to_string();
            let cells = [
                r.id.as_str(),
                at.as_str(),
                r.actor.as_str(),
                r.actor_name.as_str(),
                r.action.as_str(),
                r.target.as_deref().unwrap_or(""),
                r.outcome.as_str(),
                r.ip.as_deref().unwrap_or(""),
                r.user_agent.as_deref().unwrap_or(""),
                r.before.as_deref().unwrap_or(""),
                r.after.as_deref().unwrap_or(""),
            ];
            w.write_record(cells.map(|c| crate::export::csv_cell(c).into_owned()))
                .map_err(|e| failure(e.to_string()))?;
        }
        (
            w.into_inner().map_err(|e| failure(e.to_string()))?,
            "text/csv; charset=utf-8",
        )
    } else {
        let mut out = Vec::new();
        for r in lines {
            serde_json::to_writer(&mut out, &entry(r)).map_err(|e| failure(e.to_string()))?;
            out.push(b'\n');
        }
        (out, "application/x-ndjson")
    };
    let mut response = crate::web::Response::new(body.into());
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static(content_type));
    headers.insert("cache-control", HeaderValue::from_static("no-store"));
    let name = format!("attachment; filename=\"audit.{format}\"");
    if let Ok(v) = HeaderValue::from_str(&name) {
        headers.insert("content-disposition", v);
    }
    Ok(response)
}
