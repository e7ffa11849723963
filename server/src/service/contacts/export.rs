//! Contacts as the API shows them, and as an export writes them: CSV (a spreadsheet opens it:
//! UTF-8 with a BOM, and every cell that a spreadsheet would run as a formula, one beginning
//! with `=`, `+`, `-` or `@`, guarded with a leading `'`) or JSON lines. The caller's masking
//! applies to both.

use switchboard_shared::contacts::{AttributeDef, Consent, Contact};

use crate::domain::{e164, ContactRecord};

/// A contact on the wire; the number masked unless `phones`.
pub fn to_wire(c: &ContactRecord, phones: bool) -> Contact {
    Contact {
        id: c.id.clone(),
        phone: c.phone.as_deref().map(|p| {
            if phones {
                e164(p)
            } else {
                switchboard_shared::api::mask_phone(p)
            }
        }),
        bsuid: c.bsuid.clone(),
        username: c.username.clone(),
        name: c.display_name().map(str::to_owned),
        profile_name: c.profile_name.clone(),
        country: c.country.clone(),
        tags: c.tags.clone(),
        attributes: c.attributes.clone(),
        consent: Consent {
            marketing: c.marketing,
            evidence: c.consent.clone(),
        },
        last_inbound_at: c.last_inbound_at,
        last_outbound_at: c.last_outbound_at,
        created_at: c.created_at,
        updated_at: c.updated_at,
    }
}

/// An export's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Jsonl,
}

/// A cell a spreadsheet shows as text: `=`, `+`, `-`, `@` (and tab, carriage return) first get
/// a `'` before them (OWASP's advice against CSV injection).
pub fn guard(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

/// The first bytes of an export: the CSV header (after a BOM), nothing for JSON lines.
pub fn head(format: Format, defs: &[AttributeDef]) -> Vec<u8> {
    match format {
        Format::Jsonl => Vec::new(),
        Format::Csv => {
            let mut header: Vec<String> = [
                "id",
                "phone",
                "bsuid",
                "name",
                "country",
                "tags",
                "marketing",
                "consent_source",
                "consent_at",
                "last_inbound_at",
                "last_outbound_at",
            ]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
            header.extend(defs.iter().map(|d| d.key.clone()));
            let mut out = "\u{feff}".as_bytes().to_vec();
            out.extend(csv_line(&header));
            out
        }
    }
}

fn csv_line(cells: &[String]) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    let _ = w.write_record(cells.iter().map(|c| guard(c)));
    w.into_inner().unwrap_or_default()
}

fn time(t: Option<i64>) -> String {
    t.and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map(|ts| ts.to_string())
        .unwrap_or_default()
}

/// One contact as one line of the export.
pub fn line(format: Format, c: &ContactRecord, phones: bool, defs: &[AttributeDef]) -> Vec<u8> {
    let wire = to_wire(c, phones);
    match format {
        Format::Jsonl => {
            let mut out = serde_json::to_vec(&wire).unwrap_or_default();
            out.push(b'\n');
            out
        }
        Format::Csv => {
            let mut cells = vec![
                wire.id.to_string(),
                wire.phone.unwrap_or_default(),
                wire.bsuid.unwrap_or_default(),
                wire.name.unwrap_or_default(),
                wire.country.unwrap_or_default(),
                wire.tags.join(", "),
                wire.consent.marketing.as_str().to_owned(),
                wire.consent
                    .evidence
                    .as_ref()
                    .map(|e| e.source.as_str().to_owned())
                    .unwrap_or_default(),
                time(wire.consent.evidence.as_ref().map(|e| e.at)),
                time(wire.last_inbound_at),
                time(wire.last_outbound_at),
            ];
            cells.extend(defs.iter().map(|d| match wire.attributes.get(&d.key) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
                None => String::new(),
            }));
            csv_line(&cells)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_guarded_and_round_trip_as_text() {
        assert_eq!(guard("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(guard("+79161234567"), "'+79161234567");
        assert_eq!(guard("-1"), "'-1");
        assert_eq!(guard("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(guard("Anna"), "Anna");
        let line = csv_line(&["=1+1".into(), "a,b".into(), "x\ny".into()]);
        assert_eq!(String::from_utf8(line).unwrap(), "'=1+1,\"a,b\",\"x\ny\"\n");
    }
}
