//! A conversation's transcript as a file: every message oldest first, as JSON lines or as one
//! self-contained HTML page (for an audit, a customer's request, a colleague without access).
//! Messages that are not plain text read as a sentence (a location with a map link, a contact
//! card, a chosen button, an order); numbers are masked as the caller must see them.

use std::fmt::Write as _;

use switchboard_shared::api::Message;
use switchboard_shared::{Direction, ErrorCode};

use super::conversations::message_dto;
use super::{ApiResult, Ctx, Failure};
use crate::service::{commands, describe};
use crate::store::Cursor;
use crate::web::{HeaderValue, StatusCode};

/// The most messages a transcript holds (`switchboard export` takes everything).
const MAX_MESSAGES: usize = 50_000;

/// `GET conversations/{id}/transcript?format=html|jsonl`.
pub async fn transcript(ctx: Ctx) -> ApiResult {
    let format = match ctx.req.query("format").unwrap_or("html") {
        f @ ("html" | "jsonl") => f,
        other => {
            return Err(Failure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::BadQuery,
                format!("`format` is html or jsonl, not `{other}`"),
            )
            .on_field("format"))
        }
    };
    let id = switchboard_shared::ConversationId::from(ctx.req.param(0));
    let (conversation, _) = commands::visible(&ctx.principal, &ctx.scope, &id).await?;
    let mut messages = Vec::new();
    let mut cursor: Option<Cursor> = None;
    loop {
        let page = ctx
            .scope
            .history(&conversation.id, cursor.as_ref(), crate::store::MAX_PAGE)
            .await?;
        messages.extend(page.items);
        if messages.len() > MAX_MESSAGES {
            return Err(Failure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::BadRequest,
                format!(
                    "more than {MAX_MESSAGES} messages: use `switchboard export` for a \
                     conversation this long"
                ),
            ));
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    messages.reverse();
    let lines: Vec<(Message, Option<String>)> = messages
        .into_iter()
        .map(|m| {
            let said = describe(&m.kind, &m.raw);
            (message_dto(&ctx, m), said)
        })
        .collect();
    let (body, content_type) = if format == "jsonl" {
        let mut out = Vec::new();
        for (message, said) in &lines {
            let mut value = serde_json::to_value(message).unwrap_or_default();
            if let (Some(said), Some(object)) = (said, value.as_object_mut()) {
                object.insert("description".into(), said.clone().into());
            }
            out.extend_from_slice(value.to_string().as_bytes());
            out.push(b'\n');
        }
        (out, "application/x-ndjson")
    } else {
        let customer = lines
            .first()
            .map(|(m, _)| m.customer.clone())
            .unwrap_or_default();
        let title = format!(
            "Conversation with {} on {}",
            customer,
            conversation.number.as_str()
        );
        (
            html(&title, &lines).into_bytes(),
            "text/html; charset=utf-8",
        )
    };
    let mut response = crate::web::Response::new(body.into());
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static(content_type));
    headers.insert("cache-control", HeaderValue::from_static("no-store"));
    // A downloaded page runs nothing and loads nothing.
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    let name = format!(
        "attachment; filename=\"conversation-{}.{format}\"",
        conversation.id.as_str()
    );
    if let Ok(v) = HeaderValue::from_str(&name) {
        headers.insert("content-disposition", v);
    }
    Ok(response)
}

/// The HTML page: one block per message, the customer's on the left, the business's on the
/// right, each with its UTC time, kind and status.
fn html(title: &str, lines: &[(Message, Option<String>)]) -> String {
    let e = |s: &str| html_escape::encode_text(s).into_owned();
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{}</title><style>\
         body{{font:15px/1.4 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}}\
         .m{{margin:.5rem 0;padding:.5rem .75rem;border-radius:.5rem;background:#f1f3f4;max-width:80%}}\
         .out{{margin-left:auto;background:#dcf8c6}}.meta{{color:#5f6368;font-size:12px}}\
         .said{{font-style:italic}}</style></head><body><h1>{}</h1><p class=\"meta\">{} messages, \
         times in UTC</p>",
        e(title),
        e(title),
        lines.len()
    );
    for (m, said) in lines {
        let when = jiff::Timestamp::from_millisecond(m.at)
            .map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default();
        let side = if m.direction == Direction::Outbound {
            "m out"
        } else {
            "m"
        };
        let _ = write!(
            out,
            "<div class=\"{side}\"><div class=\"meta\">{} · {} · {}</div>",
            e(&when),
            e(&m.kind),
            e(m.status.as_str())
        );
        if let Some(text) = m.text.as_deref().filter(|t| !t.is_empty()) {
            let _ = write!(out, "<div>{}</div>", e(text).replace('\n', "<br>"));
        }
        if let Some(said) = said {
            let _ = write!(out, "<div class=\"said\">{}</div>", e(said));
        }
        out.push_str("</div>");
    }
    out.push_str("</body></html>");
    out
}
