//! `switchboard export`: every stored message, paged through the store's scan, as JSON lines or
//! CSV. Written to a temporary file beside the target and renamed into place at the end, so an
//! interrupted export never leaves a half-written file where a complete one was expected. Safe
//! while the server runs (SQLite is opened read-only; WAL readers never block the writer).

use std::io::Write;
use std::path::Path;

use switchboard_shared::ExportRecord;

use crate::store::{Store, StoreError, MAX_PAGE};

use crate::domain::MessageRecord;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Jsonl,
    Csv,
}

/// What to export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// Every stored message with its latest status.
    Messages,
    /// Account-level webhook events: template status and quality, number quality, account
    /// updates, user preferences, value-level errors, and fields nobody documented yet.
    Events,
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
    let timestamp = rfc3339(m.at_ms);
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

/// One line of `switchboard export --kind events`.
#[derive(serde::Serialize)]
struct EventLine<'a> {
    tenant: &'a str,
    number: Option<&'a str>,
    field: &'a str,
    timestamp: String,
    value: serde_json::Value,
}

fn rfc3339(at_ms: i64) -> String {
    jiff::Timestamp::from_millisecond(at_ms)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// A cell as every CSV the product writes has it: text a spreadsheet would run as a formula
/// (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`, so it is
/// shown, never evaluated (OWASP's CSV injection rule). Audit lines carry attacker-controlled
/// text (a failed sign-in's User-Agent `=HYPERLINK(…)`), and so do messages.
pub fn csv_cell(text: &str) -> std::borrow::Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{text}"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// JSON lines or CSV, over any sink.
enum Encoder {
    Jsonl(std::io::BufWriter<Box<dyn Write>>),
    Csv(Box<csv::Writer<Box<dyn Write>>>),
}

impl Encoder {
    fn new(format: Format, sink: Box<dyn Write>, header: &[&str]) -> Result<Self, ExportError> {
        Ok(match format {
            Format::Jsonl => Encoder::Jsonl(std::io::BufWriter::new(sink)),
            Format::Csv => {
                let mut w = csv::Writer::from_writer(sink);
                w.write_record(header).map_err(encode_error)?;
                Encoder::Csv(Box::new(w))
            }
        })
    }

    fn write(&mut self, json: &impl serde::Serialize, fields: &[&str]) -> Result<(), ExportError> {
        match self {
            Encoder::Jsonl(sink) => {
                serde_json::to_writer(&mut *sink, json).map_err(encode_error)?;
                sink.write_all(b"\n").map_err(encode_error)
            }
            Encoder::Csv(w) => w
                .write_record(fields.iter().map(|f| csv_cell(f).into_owned()))
                .map_err(encode_error),
        }
    }

    fn finish(self) -> Result<(), ExportError> {
        match self {
            Encoder::Jsonl(mut sink) => sink.flush().map_err(encode_error),
            Encoder::Csv(mut w) => w.flush().map_err(encode_error),
        }
    }
}

fn encode_error(e: impl std::fmt::Display) -> ExportError {
    ExportError::Encode(e.to_string())
}

const MESSAGE_COLUMNS: &[&str] = &[
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
];
const EVENT_COLUMNS: &[&str] = &["tenant", "number", "field", "timestamp", "value"];

/// Writes every message (or event) to `out` (or stdout for `-`). Returns how many were written.
pub async fn export(
    store: &dyn Store,
    kind: Kind,
    format: Format,
    out: &Path,
) -> Result<u64, ExportError> {
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
    let header = match kind {
        Kind::Messages => MESSAGE_COLUMNS,
        Kind::Events => EVENT_COLUMNS,
    };
    let result = async {
        let mut encoder = Encoder::new(format, sink, header)?;
        let written = match kind {
            Kind::Messages => write_messages(store, &mut encoder).await?,
            Kind::Events => write_events(store, &mut encoder).await?,
        };
        encoder.finish()?;
        Ok(written)
    }
    .await;
    if to_stdout {
        return result;
    }
    match result {
        Ok(written) => {
            std::fs::rename(&tmp, out).map_err(io)?;
            Ok(written)
        }
        Err(e) => {
            // Nothing half-written is left behind.
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

async fn write_messages(store: &dyn Store, encoder: &mut Encoder) -> Result<u64, ExportError> {
    let mut written = 0;
    let mut cursor = None;
    loop {
        let page = store.scan_messages(cursor.as_ref(), MAX_PAGE).await?;
        for message in page.items {
            let r = to_export_record(message);
            encoder.write(
                &r,
                &[
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
                ],
            )?;
            written += 1;
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(written),
        }
    }
}

async fn write_events(store: &dyn Store, encoder: &mut Encoder) -> Result<u64, ExportError> {
    let mut written = 0;
    for tenant in store.list_tenants().await? {
        let mut cursor = None;
        loop {
            let page = store
                .account_events(&tenant.id, cursor.as_ref(), MAX_PAGE)
                .await?;
            for e in page.items {
                let line = EventLine {
                    tenant: e.tenant.as_str(),
                    number: e.number.as_ref().map(|n| n.as_str()),
                    field: &e.field,
                    timestamp: rfc3339(e.at_ms),
                    value: serde_json::from_str(&e.raw)
                        .unwrap_or_else(|_| serde_json::Value::String(e.raw.clone())),
                };
                encoder.write(
                    &line,
                    &[
                        line.tenant,
                        line.number.unwrap_or(""),
                        line.field,
                        &line.timestamp,
                        &e.raw,
                    ],
                )?;
                written += 1;
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    #[test]
    fn formulas_are_shown_not_run() {
        assert_eq!(super::csv_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        for f in ["+1", "-1+2", "@SUM(A1)", "\tx", "\rx"] {
            assert!(super::csv_cell(f).starts_with('\''), "{f}");
        }
        assert_eq!(super::csv_cell("plain, text"), "plain, text");
        assert_eq!(super::csv_cell("79161234567"), "79161234567");
    }
}
