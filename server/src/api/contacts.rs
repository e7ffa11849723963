//! Contacts over REST: the records, notes and consent; the tag catalogue and attribute
//! definitions; segments with live counts; imports (the file is the body, spooled to disk) and
//! exports (streamed). Each handler reads its input, calls `service::contacts`, and writes the
//! answer; customers' numbers are masked unless the caller holds `contacts.phone.view`.

use std::collections::BTreeMap;

use switchboard_shared::api::{CustomerConversation, Page};
use switchboard_shared::contacts::*;
use switchboard_shared::{ContactId, ErrorCode, ImportId, Permission, SegmentId, WaId};

use super::{json, ApiResult, Ctx, Failure};
use crate::domain::*;
use crate::service::contacts::export::{self, to_wire, Format};
use crate::service::contacts::import::{status, Upload};
use crate::service::contacts::{Actor, ContactError, ErrorKind};
use crate::store::{ContactQuery, Cursor, MAX_PAGE};
use crate::web::{HeaderValue, StatusCode};

impl From<ContactError> for Failure {
    fn from(e: ContactError) -> Self {
        let status = match e.kind {
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Invalid => match e.code {
                ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
                ErrorCode::UnknownCharset => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            },
        };
        Failure::new(status, e.code, e.message)
    }
}

fn actor(ctx: &Ctx) -> Actor<'_> {
    Actor {
        principal: &ctx.principal,
        scope: &ctx.scope,
        action: ctx.action,
    }
}

fn phones(ctx: &Ctx) -> bool {
    ctx.principal.can(Permission::ContactsPhoneView)
}

fn contact_id(ctx: &Ctx) -> ContactId {
    ContactId::new(ctx.req.param(0))
}

fn cursor(ctx: &Ctx) -> Option<Cursor> {
    ctx.req.query("cursor").map(Cursor::from_token)
}

fn page_of<T, U>(page: crate::store::Page<T>, f: impl Fn(T) -> U) -> Page<U> {
    Page {
        items: page.items.into_iter().map(f).collect(),
        next: page.next.map(|c| c.as_str().to_owned()),
    }
}

/// `?q=`: a name (folded) or, for callers who see numbers, a number prefix (its digits).
fn search(ctx: &Ctx, q: &str) -> Result<ContactQuery, Failure> {
    let q = q.trim();
    let digits: String = q.chars().filter(char::is_ascii_digit).collect();
    let numeric =
        !digits.is_empty() && q.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c));
    let prefix = if numeric { digits } else { fold(q) };
    // A name is found by any of its words; the longest word of the query is looked up.
    let walk = if numeric {
        prefix.chars().count()
    } else {
        NameQuery::new(&prefix).map_or(0, |n| n.walk().chars().count())
    };
    if walk < 2 {
        return Err(Failure::bad_request(
            "q needs a word of at least two letters, or at least two digits of a number",
        ));
    }
    Ok(ContactQuery {
        prefix: Some(prefix),
        by_phone: numeric && phones(ctx),
        tag: None,
    })
}

/// `GET contacts?q=&tag=&segment=&limit=&cursor=`.
pub async fn list(ctx: Ctx) -> ApiResult {
    let limit = ctx.req.limit(50, MAX_PAGE)?;
    let cursor = cursor(&ctx);
    let show = phones(&ctx);
    if let Some(segment) = ctx.req.query("segment") {
        if ctx.req.query("q").is_some() || ctx.req.query("tag").is_some() {
            return Err(Failure::bad_request(
                "segment lists its members alone; put a tag or a search in the segment's filter",
            ));
        }
        let s = ctx
            .contacts
            .segment(&ctx.scope, &SegmentId::from(segment))
            .await?;
        let page = ctx
            .contacts
            .members(&ctx.scope, &s.filter, cursor.as_ref(), limit)
            .await?;
        return json(StatusCode::OK, &page_of(page, |c| to_wire(&c, show)));
    }
    let mut query = match ctx.req.query("q").filter(|q| !q.trim().is_empty()) {
        Some(q) => search(&ctx, q)?,
        None => ContactQuery::default(),
    };
    query.tag = ctx.req.query("tag").map(str::to_owned);
    let page = ctx.scope.contacts(&query, cursor.as_ref(), limit).await?;
    json(StatusCode::OK, &page_of(page, |c| to_wire(&c, show)))
}

/// `POST contacts`.
pub async fn create(ctx: Ctx) -> ApiResult {
    let input: NewContact = ctx.req.json()?;
    let c = ctx.contacts.create(&actor(&ctx), input).await?;
    json(StatusCode::CREATED, &to_wire(&c, phones(&ctx)))
}

/// `GET contacts/{id}`.
pub async fn get(ctx: Ctx) -> ApiResult {
    let c = ctx.contacts.get(&ctx.scope, &contact_id(&ctx)).await?;
    json(StatusCode::OK, &to_wire(&c, phones(&ctx)))
}

/// `PATCH contacts/{id}`.
pub async fn patch(ctx: Ctx) -> ApiResult {
    let input: ContactPatch = ctx.req.json()?;
    let c = ctx
        .contacts
        .patch(&actor(&ctx), &contact_id(&ctx), input)
        .await?;
    json(StatusCode::OK, &to_wire(&c, phones(&ctx)))
}

/// `DELETE contacts/{id}`: erases the customer (their messages and conversations too) and
/// answers the receipt.
/// Refused (409) while a legal hold covers the customer; their kept files are deleted too.
pub async fn erase(ctx: Ctx) -> ApiResult {
    let id = contact_id(&ctx);
    let contact = ctx
        .scope
        .contact(&id)
        .await?
        .ok_or_else(|| Failure::not_found("contact"))?;
    let (hold, media) = crate::service::retention::before_erasure(&ctx.scope, &contact).await?;
    if let Some(hold) = hold {
        return Err(Failure::conflict(
            ErrorCode::UnderLegalHold,
            format!(
                "legal hold {} ({}) covers this customer's conversations: release it before \
                 erasing them",
                hold.id, hold.reason
            ),
        ));
    }
    let receipt = ctx.contacts.erase(&actor(&ctx), &id).await?;
    ctx.media.purge(&ctx.scope, &media, true).await?;
    json(StatusCode::OK, &receipt)
}

/// `POST contacts/{id}/merge` `{"from": "<id>"}`.
pub async fn merge(ctx: Ctx) -> ApiResult {
    let input: MergeInput = ctx.req.json()?;
    let c = ctx
        .contacts
        .merge(&actor(&ctx), &contact_id(&ctx), &input.from)
        .await?;
    json(StatusCode::OK, &to_wire(&c, phones(&ctx)))
}

/// `POST contacts/bulk-tags`.
pub async fn bulk_tags(ctx: Ctx) -> ApiResult {
    let input: BulkTags = ctx.req.json()?;
    let result = ctx.contacts.bulk_tags(&actor(&ctx), input).await?;
    json(StatusCode::OK, &result)
}

fn note_dto(n: ContactNoteRecord) -> ContactNote {
    ContactNote {
        id: n.id,
        author: n.author,
        author_name: n.author_name,
        body: n.body,
        at: n.at_ms,
    }
}

/// `GET contacts/{id}/notes`, newest first.
pub async fn notes(ctx: Ctx) -> ApiResult {
    let id = contact_id(&ctx);
    ctx.contacts.get(&ctx.scope, &id).await?;
    let limit = ctx.req.limit(50, MAX_PAGE)?;
    let page = ctx
        .scope
        .contact_notes(&id, cursor(&ctx).as_ref(), limit)
        .await?;
    json(StatusCode::OK, &page_of(page, note_dto))
}

/// `POST contacts/{id}/notes`.
pub async fn add_note(ctx: Ctx) -> ApiResult {
    let input: ContactNoteInput = ctx.req.json()?;
    let note = ctx
        .contacts
        .add_note(&actor(&ctx), &contact_id(&ctx), &input.body)
        .await?;
    json(StatusCode::CREATED, &note_dto(note))
}

/// `GET contacts/{id}/consent`: every consent change, newest first, with its evidence.
pub async fn consent(ctx: Ctx) -> ApiResult {
    let id = contact_id(&ctx);
    ctx.contacts.get(&ctx.scope, &id).await?;
    let limit = ctx.req.limit(50, MAX_PAGE)?;
    let page = ctx
        .scope
        .consent_history(&id, cursor(&ctx).as_ref(), limit)
        .await?;
    json(StatusCode::OK, &page_of(page, |e| e))
}

/// `GET contacts/{id}/conversations`: the customer's conversations the caller may see, on
/// every number of the workspace, newest first.
pub async fn conversations(ctx: Ctx) -> ApiResult {
    let c = ctx.contacts.get(&ctx.scope, &contact_id(&ctx)).await?;
    let mut out = Vec::new();
    for number in ctx.scope.numbers().await? {
        for customer in c.wa_ids() {
            let id = ctx
                .scope
                .conversation_id(&number.phone_number_id, &WaId::new(customer));
            let Some(record) = ctx.scope.conversation(&id).await? else {
                continue;
            };
            let thread = ctx.scope.thread(&id).await?;
            let assignee = thread.as_ref().and_then(|t| t.assignee.as_ref());
            if !ctx.principal.sees(&record.number, assignee) {
                continue;
            }
            out.push(CustomerConversation {
                conversation: super::conversations::dto(&ctx, record, thread),
                display_phone_number: number.display_phone_number.clone(),
            });
        }
    }
    out.sort_by_key(|c| std::cmp::Reverse(c.conversation.last_message_at));
    json(StatusCode::OK, &out)
}

/// `GET contacts/export?format=csv|jsonl&tag=&segment=`: every matching contact, streamed.
pub async fn export(ctx: Ctx) -> ApiResult {
    let format = match ctx.req.query("format").unwrap_or("csv") {
        "csv" => Format::Csv,
        "jsonl" => Format::Jsonl,
        other => {
            return Err(Failure::bad_request(format!(
                "format is csv or jsonl, not `{other}`"
            )))
        }
    };
    let filter = match ctx.req.query("segment") {
        Some(s) => Some(
            ctx.contacts
                .segment(&ctx.scope, &SegmentId::from(s))
                .await?
                .filter,
        ),
        None => None,
    };
    let tag = ctx.req.query("tag").map(str::to_owned);
    let defs = ctx.scope.attributes().await?;
    let show = phones(&ctx);
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let (scope, contacts) = (ctx.scope.clone(), ctx.contacts.clone());
    tokio::spawn(async move {
        let send = |bytes: Vec<u8>| tx.send(Ok(bytes::Bytes::from(bytes)));
        if send(export::head(format, &defs)).await.is_err() {
            return;
        }
        let mut cursor = None;
        loop {
            let page = match &filter {
                Some(f) => contacts.members(&scope, f, cursor.as_ref(), MAX_PAGE).await,
                None => {
                    let query = ContactQuery {
                        tag: tag.clone(),
                        ..Default::default()
                    };
                    scope
                        .contacts(&query, cursor.as_ref(), MAX_PAGE)
                        .await
                        .map_err(Into::into)
                }
            };
            let page = match page {
                Ok(p) => p,
                Err(e) => {
                    // The body ends early; a client sees a truncated transfer, not a short file.
                    let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                    return;
                }
            };
            let mut chunk = Vec::with_capacity(page.items.len() * 160);
            for c in &page.items {
                chunk.extend(export::line(format, c, show, &defs));
            }
            if send(chunk).await.is_err() {
                return;
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => return,
            }
        }
    });
    let (content_type, name) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "contacts.csv"),
        Format::Jsonl => ("application/x-ndjson", "contacts.jsonl"),
    };
    let mut response = crate::web::streaming(content_type, rx);
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        response.headers_mut().insert("content-disposition", v);
    }
    Ok(response)
}

// --- Imports -------------------------------------------------------------------------------------

/// `POST contacts/imports?dry_run=&default_region=&charset=&mapping=&file_name=` with the file
/// as the body: `202 {"id"}`.
pub async fn start_import(mut ctx: Ctx) -> ApiResult {
    let spooled = ctx
        .req
        .spooled
        .take()
        .ok_or_else(|| Failure::bad_request("send the file as the body"))?;
    let content_type = ctx
        .req
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("text/csv");
    let media = content_type.split(';').next().unwrap_or("").trim();
    if !matches!(
        media,
        "text/csv"
            | "text/plain"
            | "application/csv"
            | "text/tab-separated-values"
            | "application/vnd.ms-excel"
            | "application/octet-stream"
    ) {
        return Err(Failure::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            format!("send the contacts as text/csv, not {media}"),
        ));
    }
    let declared = content_type
        .split(';')
        .skip(1)
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
        .map(|(_, v)| v.trim().trim_matches('"').to_owned());
    let dry_run = match ctx.req.query("dry_run") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(Failure::bad_request(format!(
                "dry_run is true or false, not `{other}`"
            )))
        }
    };
    let mapping: BTreeMap<String, String> = match ctx.req.query("mapping") {
        None => BTreeMap::new(),
        Some(text) => serde_json::from_str(text).map_err(|e| {
            Failure::bad_request(format!("mapping is a JSON object of header to field ({e})"))
        })?,
    };
    let tag = match ctx.req.query("tag") {
        None => None,
        Some(t) => Some(check_tag_name(t).map_err(|m| {
            Failure::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidValue, m)
                .on_field("tag")
        })?),
    };
    let options = ImportOptions {
        default_region: ctx.req.query("default_region").map(str::to_owned),
        charset: ctx.req.query("charset").map(str::to_owned).or(declared),
        mapping,
        tag,
    };
    let upload = Upload {
        path: spooled.path.clone(),
        bytes: spooled.bytes,
        file_name: ctx.req.query("file_name").map(str::to_owned),
    };
    let import = ctx
        .contacts
        .imports
        .start(&actor(&ctx), upload, options, dry_run)
        .await?;
    drop(spooled);
    json(StatusCode::ACCEPTED, &ImportStarted { id: import.id })
}

fn import_id(ctx: &Ctx) -> ImportId {
    ImportId::new(ctx.req.param(0))
}

async fn import_of(ctx: &Ctx) -> Result<ImportRecord, Failure> {
    ctx.scope
        .import(&import_id(ctx))
        .await?
        .ok_or_else(|| Failure::not_found("import"))
}

/// `GET contacts/imports`: the latest 100, newest first.
pub async fn list_imports(ctx: Ctx) -> ApiResult {
    let show = phones(&ctx);
    let all: Vec<ImportStatus> = ctx
        .scope
        .imports()
        .await?
        .iter()
        .map(|i| status(i, show))
        .collect();
    json(StatusCode::OK, &all)
}

/// `GET contacts/imports/{id}`.
pub async fn get_import(ctx: Ctx) -> ApiResult {
    let import = import_of(&ctx).await?;
    json(StatusCode::OK, &status(&import, phones(&ctx)))
}

/// `GET contacts/imports/{id}/errors`: the rejected rows as CSV, each with its line and reason.
pub async fn import_errors(ctx: Ctx) -> ApiResult {
    let import = import_of(&ctx).await?;
    let headers: Vec<String> = import
        .progress
        .mapping
        .iter()
        .map(|(h, _)| h.clone())
        .collect();
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let scope = ctx.scope.clone();
    tokio::spawn(async move {
        let line = |cells: Vec<String>| {
            let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
            let _ = w.write_record(cells.iter().map(|c| export::guard(c)));
            w.into_inner().unwrap_or_default()
        };
        let mut head = "\u{feff}".as_bytes().to_vec();
        let mut first = vec!["line".to_owned(), "reason".to_owned()];
        first.extend(headers);
        head.extend(line(first));
        if tx.send(Ok(bytes::Bytes::from(head))).await.is_err() {
            return;
        }
        let mut cursor = None;
        loop {
            let page = match scope
                .rejected_rows(&import.id, cursor.as_ref(), MAX_PAGE)
                .await
            {
                Ok(p) => p,
                Err(e) => {
                    let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                    return;
                }
            };
            let mut chunk = Vec::new();
            for r in page.items {
                let mut cells = vec![r.line.to_string(), r.reason];
                cells.extend(r.fields);
                chunk.extend(line(cells));
            }
            if tx.send(Ok(bytes::Bytes::from(chunk))).await.is_err() {
                return;
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => return,
            }
        }
    });
    let mut response = crate::web::streaming("text/csv; charset=utf-8", rx);
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}-rejected.csv\"",
        import_id(&ctx)
    )) {
        response.headers_mut().insert("content-disposition", v);
    }
    Ok(response)
}

/// `POST contacts/imports/{id}/undo`.
pub async fn undo_import(ctx: Ctx) -> ApiResult {
    let import = ctx
        .contacts
        .imports
        .undo(&actor(&ctx), &import_id(&ctx))
        .await?;
    json(StatusCode::ACCEPTED, &status(&import, phones(&ctx)))
}

/// `POST contacts/imports/{id}/commit`: imports a finished dry run's file for real.
pub async fn commit_import(ctx: Ctx) -> ApiResult {
    let import = ctx
        .contacts
        .imports
        .commit(&actor(&ctx), &import_id(&ctx))
        .await?;
    json(StatusCode::ACCEPTED, &ImportStarted { id: import.id })
}

// --- The catalogue and definitions -------------------------------------------------------------

/// `GET tags`.
pub async fn list_tags(ctx: Ctx) -> ApiResult {
    let tags: Vec<Tag> = ctx
        .scope
        .tags()
        .await?
        .into_iter()
        .map(|t| Tag {
            name: t.name,
            colour: t.colour,
        })
        .collect();
    json(StatusCode::OK, &tags)
}

/// `PUT tags` `{"name", "colour"}`: creates or recolours (names compare case-insensitively).
pub async fn put_tag(ctx: Ctx) -> ApiResult {
    let input: Tag = ctx.req.json()?;
    let t = ctx.contacts.put_tag(&actor(&ctx), input).await?;
    json(
        StatusCode::OK,
        &Tag {
            name: t.name,
            colour: t.colour,
        },
    )
}

/// `DELETE tags?name=`: removes the tag from the catalogue and from every contact.
pub async fn delete_tag(ctx: Ctx) -> ApiResult {
    let name = ctx
        .req
        .query("name")
        .ok_or_else(|| Failure::bad_request("name the tag: ?name="))?
        .to_owned();
    let stripped = ctx.contacts.delete_tag(&actor(&ctx), &name).await?;
    json(StatusCode::OK, &Stripped { contacts: stripped })
}

/// `GET attributes`.
pub async fn list_attributes(ctx: Ctx) -> ApiResult {
    json(StatusCode::OK, &ctx.scope.attributes().await?)
}

/// `PUT attributes/{key}`.
pub async fn put_attribute(ctx: Ctx) -> ApiResult {
    let def: AttributeDef = ctx.req.json()?;
    if def.key != ctx.req.param(0) {
        return Err(Failure::bad_request(
            "the key in the body is not the key in the path",
        ));
    }
    ctx.contacts
        .put_attribute(&actor(&ctx), def.clone())
        .await?;
    json(StatusCode::OK, &def)
}

/// `DELETE attributes/{key}`: removes the definition and every contact's value.
pub async fn delete_attribute(ctx: Ctx) -> ApiResult {
    let stripped = ctx
        .contacts
        .delete_attribute(&actor(&ctx), ctx.req.param(0))
        .await?;
    json(StatusCode::OK, &Stripped { contacts: stripped })
}

// --- Segments ------------------------------------------------------------------------------------

fn segment_dto(s: SegmentRecord) -> Segment {
    Segment {
        id: s.id,
        name: s.name,
        filter: s.filter,
        created_at: s.created_at,
        updated_at: s.updated_at,
    }
}

fn segment_id(ctx: &Ctx) -> SegmentId {
    SegmentId::new(ctx.req.param(0))
}

/// `GET segments`.
pub async fn list_segments(ctx: Ctx) -> ApiResult {
    let all: Vec<Segment> = ctx
        .scope
        .segments()
        .await?
        .into_iter()
        .map(segment_dto)
        .collect();
    json(StatusCode::OK, &all)
}

/// `POST segments`.
pub async fn create_segment(ctx: Ctx) -> ApiResult {
    let input: SegmentInput = ctx.req.json()?;
    let s = ctx.contacts.put_segment(&actor(&ctx), None, input).await?;
    json(StatusCode::CREATED, &segment_dto(s))
}

/// `GET segments/{id}`.
pub async fn get_segment(ctx: Ctx) -> ApiResult {
    let s = ctx.contacts.segment(&ctx.scope, &segment_id(&ctx)).await?;
    json(StatusCode::OK, &segment_dto(s))
}

/// `PUT segments/{id}`.
pub async fn update_segment(ctx: Ctx) -> ApiResult {
    let input: SegmentInput = ctx.req.json()?;
    let s = ctx
        .contacts
        .put_segment(&actor(&ctx), Some(&segment_id(&ctx)), input)
        .await?;
    json(StatusCode::OK, &segment_dto(s))
}

/// `DELETE segments/{id}`.
pub async fn delete_segment(ctx: Ctx) -> ApiResult {
    let id = segment_id(&ctx);
    ctx.contacts.segment(&ctx.scope, &id).await?;
    let line = ctx
        .principal
        .audit(ctx.action, Some(format!("segment:{id}")), "ok");
    ctx.scope.delete_segment(&id, line).await?;
    super::no_content()
}

/// `GET segments/{id}/count`.
pub async fn count_segment(ctx: Ctx) -> ApiResult {
    let s = ctx.contacts.segment(&ctx.scope, &segment_id(&ctx)).await?;
    let count = ctx.contacts.count(&ctx.scope, &s.filter).await?;
    json(StatusCode::OK, &SegmentCount { count })
}

/// `POST segments/count` `{"filter"}`: the count of a filter not saved yet (the editor's live
/// count).
pub async fn count_filter(ctx: Ctx) -> ApiResult {
    let body: FilterInput = ctx.req.json()?;
    ctx.contacts.check_filter(&ctx.scope, &body.filter).await?;
    let count = ctx.contacts.count(&ctx.scope, &body.filter).await?;
    json(StatusCode::OK, &SegmentCount { count })
}

/// `GET segments/{id}/contacts`.
pub async fn segment_contacts(ctx: Ctx) -> ApiResult {
    let s = ctx.contacts.segment(&ctx.scope, &segment_id(&ctx)).await?;
    let limit = ctx.req.limit(50, MAX_PAGE)?;
    let page = ctx
        .contacts
        .members(&ctx.scope, &s.filter, cursor(&ctx).as_ref(), limit)
        .await?;
    let show = phones(&ctx);
    json(StatusCode::OK, &page_of(page, |c| to_wire(&c, show)))
}

/// `GET segments/{id}/explain/{contact}`: why a contact is (not) in the segment.
pub async fn explain_segment(ctx: Ctx) -> ApiResult {
    let s = ctx.contacts.segment(&ctx.scope, &segment_id(&ctx)).await?;
    let contact = ContactId::new(ctx.req.param(1));
    let why = ctx
        .contacts
        .explain(&ctx.scope, &s.filter, &contact)
        .await?;
    json(StatusCode::OK, &why)
}

/// `GET settings/stop-words`: the workspace's stop words, else the server's.
pub async fn stop_words(ctx: Ctx) -> ApiResult {
    json(
        StatusCode::OK,
        &ctx.contacts.stop_words.view(&ctx.scope).await?,
    )
}

/// `PUT settings/stop-words`: replaces the workspace's list whole; in force for the next webhook.
pub async fn replace_stop_words(ctx: Ctx) -> ApiResult {
    let change: StopWordsChange = ctx.req.json()?;
    let actor = super::automation::actor(&ctx);
    json(
        StatusCode::OK,
        &ctx.contacts.stop_words.change(&actor, change).await?,
    )
}

/// `DELETE settings/stop-words`: back to the server's list.
pub async fn reset_stop_words(ctx: Ctx) -> ApiResult {
    let actor = super::automation::actor(&ctx);
    json(
        StatusCode::OK,
        &ctx.contacts.stop_words.reset(&actor).await?,
    )
}
