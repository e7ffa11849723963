//! `switchboard export`: every stored message, paged through the store's scan, as JSON lines or
//! CSV. Written to a temporary file beside the target and renamed into place at the end, so an
//! interrupted export never leaves a half-written file where a complete one was expected. Safe
//! while the server runs (SQLite is opened read-only; WAL readers never block the writer).

use std::io::Write;
use std::path::Path;

use switchboard_shared::ExportRecord;

use crate::store::{MessageRecord, Store, StoreError, MAX_PAGE};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Jsonl,
    Csv,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot encode a record: {0}")]
    Encode(String),
}

pub fn to_export_record(m: MessageRecord) -> ExportRecord {
    let timestamp = jiff::Timestamp::from_millisecond(m.at_ms)
        .map(|t| t.to_string())
        .unwrap_or_default();
    ExportRecord {
        tenant: m.tenant,
        number: m.number,
        conversation_id: m.conversation,
        wamid: m.wamid,
        direction: m.direction,
        kind: m.kind,
        text: m.text,
        status: m.status,
        timestamp,
        customer: m.customer,
    }
}

/// Writes every message to `out` (or stdout for `-`). Returns how many were written.
pub async fn export(store: &dyn Store, format: Format, out: &Path) -> Result<u64, ExportError> {
    let to_stdout = out == Path::new("-");
    let tmp = out.with_extension(format!("partial-{}", std::process::id()));
    let io = |source| ExportError::Io {
        path: out.display().to_string(),
        source,
    };
    let sink: Box<dyn Write> = if to_stdout {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(std::fs::File::create(&tmp).map_err(io)?)
    };
    let encode = |e: &dyn std::fmt::Display| ExportError::Encode(e.to_string());
    let mut jsonl = None;
    let mut csv = None;
    match format {
        Format::Jsonl => jsonl = Some(std::io::BufWriter::new(sink)),
        Format::Csv => {
            let mut w = csv::Writer::from_writer(sink);
            w.write_record([
                "tenant",
                "number",
                "conversation_id",
                "wamid",
                "direction",
                "type",
                "text",
                "status",
                "timestamp",
                "customer",
            ])
            .map_err(|e| encode(&e))?;
            csv = Some(w);
        }
    }
    let mut written = 0u64;
    let mut cursor = None;
    loop {
        let page = store.scan_messages(cursor.as_ref(), MAX_PAGE).await?;
        for message in page.items {
            let r = to_export_record(message);
            if let Some(sink) = jsonl.as_mut() {
                serde_json::to_writer(&mut *sink, &r).map_err(|e| encode(&e))?;
                sink.write_all(b"\n").map_err(io)?;
            }
            if let Some(w) = csv.as_mut() {
                w.write_record([
                    r.tenant.as_str(),
                    r.number.as_str(),
                    r.conversation_id.as_str(),
                    r.wamid.as_str(),
                    r.direction.as_str(),
                    &r.kind,
                    r.text.as_deref().unwrap_or(""),
                    r.status.as_str(),
                    &r.timestamp,
                    r.customer.as_str(),
                ])
                .map_err(|e| encode(&e))?;
            }
            written += 1;
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    if let Some(mut sink) = jsonl {
        sink.flush().map_err(io)?;
    }
    if let Some(mut w) = csv {
        w.flush().map_err(io)?;
    }
    if !to_stdout {
        std::fs::rename(&tmp, out).map_err(io)?;
    }
    Ok(written)
}
