//! Contact files as people make them: UTF-8 with or without a BOM, UTF-16 (Excel's "Unicode
//! text"), Windows-1251 and other legacy charsets (declared, or detected by `chardetng`), `,`
//! `;` or tab between fields, quoted fields with new lines inside. Reading streams the file
//! through a decoder (`encoding_rs_io`) into the `csv` parser; nothing here holds the file.
//!
//! Owns: charset and delimiter detection, header aliases, the column mapping. Must not: touch
//! the store.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use encoding_rs::Encoding;

use crate::domain::{fold, AttributeSchema};

/// How much of the file detection looks at.
pub const HEAD_BYTES: usize = 64 * 1024;

/// Why a file cannot be imported at all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("the file is empty")]
    Empty,
    #[error("this is not a text file (it holds binary data); export the sheet as CSV")]
    Binary,
    #[error("unknown charset `{0}` (try utf-8, windows-1251, utf-16le, koi8-r, iso-8859-1)")]
    UnknownCharset(String),
    #[error("the file has a header and no rows")]
    HeaderOnly,
    #[error("{0}")]
    Mapping(String),
    #[error("the file could not be read as CSV: {0}")]
    NotCsv(String),
}

/// What detection found in the head of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sniffed {
    pub encoding: &'static Encoding,
    pub delimiter: u8,
    pub headers: Vec<String>,
}

impl Sniffed {
    pub fn delimiter_name(&self) -> &'static str {
        match self.delimiter {
            b';' => ";",
            b'\t' => "tab",
            _ => ",",
        }
    }
}

/// The charset of a file: declared (a label encoding_rs knows), else its BOM, else UTF-8 when
/// the head is valid UTF-8, else chardetng's guess (Windows-1251 for Excel files in Russian).
pub fn detect_encoding(
    head: &[u8],
    declared: Option<&str>,
    region: Option<&str>,
) -> Result<&'static Encoding, FileError> {
    if let Some(label) = declared.map(str::trim).filter(|l| !l.is_empty()) {
        return Encoding::for_label(label.as_bytes())
            .ok_or_else(|| FileError::UnknownCharset(label.to_owned()));
    }
    if let Some((encoding, _)) = Encoding::for_bom(head) {
        return Ok(encoding);
    }
    match std::str::from_utf8(head) {
        Ok(_) => return Ok(encoding_rs::UTF_8),
        // Cut inside a character at the end of the head: still UTF-8.
        Err(e) if e.error_len().is_none() => return Ok(encoding_rs::UTF_8),
        Err(_) => {}
    }
    // The import's default region is the best hint there is for a short file: chardetng
    // weighs legacy encodings by the top-level domain (`ru` favours Windows-1251).
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(head, head.len() < HEAD_BYTES);
    let tld = region.map(str::to_ascii_lowercase);
    Ok(detector.guess(
        tld.as_deref().map(str::as_bytes),
        chardetng::Utf8Detection::Allow,
    ))
}

/// Looks at the head of a file (its first [`HEAD_BYTES`]; `whole` when that is all of it):
/// charset, binary content, delimiter, header, and whether any row follows the header.
pub fn sniff(
    head: &[u8],
    declared: Option<&str>,
    region: Option<&str>,
    whole: bool,
) -> Result<Sniffed, FileError> {
    if head.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(FileError::Empty);
    }
    let encoding = detect_encoding(head, declared, region)?;
    let (text, _, _) = encoding.decode(head);
    let text = text.trim_start_matches('\u{feff}');
    let controls = text
        .chars()
        .filter(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        .count();
    if controls > 0 && controls * 100 > text.chars().count().max(1) || text.contains('\0') {
        return Err(FileError::Binary);
    }
    let first_line = first_record(text);
    let delimiter = [b',', b';', b'\t']
        .into_iter()
        .map(|d| (count_outside_quotes(first_line, d as char), d))
        .max_by_key(|(n, d)| (*n, *d == b','))
        .filter(|(n, _)| *n > 0)
        .map_or(b',', |(_, d)| d);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let headers: Vec<String> = match records.next() {
        Some(Ok(r)) => r.iter().map(|h| h.trim().to_owned()).collect(),
        Some(Err(e)) => return Err(FileError::NotCsv(e.to_string())),
        None => return Err(FileError::Empty),
    };
    if headers.iter().all(String::is_empty) {
        return Err(FileError::NotCsv(
            "the first line (the header) is empty".into(),
        ));
    }
    let has_row = records
        .filter_map(Result::ok)
        .any(|r| r.iter().any(|f| !f.trim().is_empty()));
    if whole && !has_row {
        return Err(FileError::HeaderOnly);
    }
    Ok(Sniffed {
        encoding,
        delimiter,
        headers,
    })
}

/// The first record of the text: up to the first new line outside quotes.
fn first_record(text: &str) -> &str {
    let mut quoted = false;
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '\n' | '\r' if !quoted => return &text[..i],
            _ => {}
        }
    }
    text
}

fn count_outside_quotes(line: &str, d: char) -> usize {
    let mut quoted = false;
    let mut n = 0;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c == d && !quoted => n += 1,
            _ => {}
        }
    }
    n
}

/// What a column of the file becomes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Field {
    Phone,
    Name,
    FirstName,
    LastName,
    Tags,
    Marketing,
    Attribute(String),
    Ignore,
}

impl Field {
    pub fn label(&self) -> String {
        match self {
            Field::Phone => "phone".into(),
            Field::Name => "name".into(),
            Field::FirstName => "first_name".into(),
            Field::LastName => "last_name".into(),
            Field::Tags => "tags".into(),
            Field::Marketing => "marketing".into(),
            Field::Attribute(k) => format!("attribute:{k}"),
            Field::Ignore => "ignore".into(),
        }
    }

    /// A field by its label ([`Field::label`]), as a mapping names it; `None` for no field.
    pub fn from_label(text: &str) -> Option<Field> {
        Some(match text.trim() {
            "phone" => Field::Phone,
            "name" => Field::Name,
            "first_name" => Field::FirstName,
            "last_name" => Field::LastName,
            "tags" => Field::Tags,
            "marketing" => Field::Marketing,
            "ignore" | "" => Field::Ignore,
            other => Field::Attribute(other.strip_prefix("attribute:")?.to_owned()),
        })
    }

    fn parse(text: &str, schema: &AttributeSchema) -> Result<Field, String> {
        match Field::from_label(text) {
            Some(Field::Attribute(key)) if schema.get(&key).is_none() => {
                Err(format!("no attribute `{key}` is defined"))
            }
            Some(field) => Ok(field),
            None => Err(format!(
                "`{}` is not a field: phone, name, first_name, last_name, tags, marketing, attribute:<key> or ignore",
                text.trim()
            )),
        }
    }
}

/// Header spellings each field is recognised by (compared folded: case, width, spaces).
const ALIASES: &[(&[&str], Field)] = &[
    (
        &[
            "phone",
            "phone number",
            "phone_number",
            "phonenumber",
            "mobile",
            "mobile phone",
            "mobile number",
            "cell",
            "cellphone",
            "number",
            "msisdn",
            "whatsapp",
            "whatsapp number",
            "wa_id",
            "tel",
            "telephone",
            "телефон",
            "номер",
            "номер телефона",
            "мобильный",
            "мобильный телефон",
            "моб. телефон",
            "сотовый",
            "тел",
            "тел.",
            "whatsapp номер",
        ],
        Field::Phone,
    ),
    (
        &[
            "name",
            "full name",
            "full_name",
            "fullname",
            "contact",
            "contact name",
            "customer",
            "client",
            "имя",
            "фио",
            "ф.и.о.",
            "клиент",
            "контакт",
            "полное имя",
        ],
        Field::Name,
    ),
    (
        &["first name", "first_name", "firstname", "given name"],
        Field::FirstName,
    ),
    (
        &[
            "last name",
            "last_name",
            "lastname",
            "surname",
            "family name",
            "фамилия",
        ],
        Field::LastName,
    ),
    (
        &[
            "tags",
            "tag",
            "labels",
            "label",
            "теги",
            "тег",
            "метки",
            "метка",
        ],
        Field::Tags,
    ),
    (
        &[
            "marketing",
            "consent",
            "opt_in",
            "opt in",
            "opted_in",
            "subscribed",
            "subscription",
            "согласие",
            "подписка",
            "рассылка",
        ],
        Field::Marketing,
    ),
];

/// Maps each header to a field: the caller's `overrides` (header → field name) first, then the
/// aliases, then attribute keys and labels; anything else is ignored. Exactly one phone column.
pub fn map_columns(
    headers: &[String],
    overrides: &BTreeMap<String, String>,
    schema: &AttributeSchema,
    attribute_defs: &[switchboard_shared::contacts::AttributeDef],
) -> Result<Vec<Field>, FileError> {
    let mut fields = Vec::with_capacity(headers.len());
    for header in headers {
        let given = overrides
            .iter()
            .find(|(h, _)| h.trim() == header.trim() || fold(h) == fold(header));
        let field = match given {
            Some((_, f)) => Field::parse(f, schema).map_err(FileError::Mapping)?,
            None => {
                let folded = fold(header).replace(['_', '-'], " ");
                let by_alias = ALIASES.iter().find(|(names, _)| {
                    names
                        .iter()
                        .any(|n| fold(n).replace(['_', '-'], " ") == folded)
                });
                match by_alias {
                    Some((_, f)) => f.clone(),
                    None => attribute_defs
                        .iter()
                        .find(|d| fold(&d.key) == fold(header) || fold(&d.label) == fold(header))
                        .map_or(Field::Ignore, |d| Field::Attribute(d.key.clone())),
                }
            }
        };
        // A field named twice: the first column keeps it.
        if field != Field::Ignore && fields.contains(&field) {
            fields.push(Field::Ignore);
        } else {
            fields.push(field);
        }
    }
    if !fields.contains(&Field::Phone) {
        return Err(FileError::Mapping(format!(
            "no phone column among {}: name one `phone` (or телефон, mobile, number…) or map it",
            headers
                .iter()
                .map(|h| format!("`{h}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(fields)
}

/// A reader counting the raw bytes taken from the file (progress, in the file's own bytes).
pub struct Counted<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Windows line ends (`\r\n`) as `\n`, inside quoted fields too: the `csv` crate counts a
/// record that follows a `\r\n` as starting on the line before, and a rejected row must name
/// the line a person finds it on. A lone `\r` stays.
pub struct Lf<R> {
    inner: R,
    /// A `\r` that ended the previous read, waiting to see what follows it.
    held_cr: bool,
    /// Bytes converted and not handed out yet, from `at`.
    ready: Vec<u8>,
    at: usize,
}

impl<R> Lf<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            held_cr: false,
            ready: Vec::new(),
            at: 0,
        }
    }
}

impl<R: Read> Read for Lf<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.ready.len() {
            let mut raw = [0u8; 8192];
            let n = self.inner.read(&mut raw)?;
            self.ready.clear();
            self.at = 0;
            if n == 0 {
                if std::mem::take(&mut self.held_cr) {
                    self.ready.push(b'\r');
                    continue;
                }
                return Ok(0);
            }
            if std::mem::take(&mut self.held_cr) && raw[0] != b'\n' {
                self.ready.push(b'\r');
            }
            for i in 0..n {
                match raw[i] {
                    b'\r' if i + 1 == n => self.held_cr = true,
                    b'\r' if raw[i + 1] == b'\n' => {}
                    b => self.ready.push(b),
                }
            }
        }
        let n = out.len().min(self.ready.len() - self.at);
        out[..n].copy_from_slice(&self.ready[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// The CSV records of a file, decoded as it streams; the header is the first record.
pub type Records = RecordsOf<std::fs::File>;
/// The CSV records of any byte source (the fuzzer reads from memory).
pub type RecordsOf<R> = csv::Reader<Lf<encoding_rs_io::DecodeReaderBytes<Counted<R>, Vec<u8>>>>;

/// Opens a file for reading with what [`sniff`] found; `read` counts the file's bytes consumed.
pub fn open<R: std::io::Read>(file: R, sniffed: &Sniffed, read: Arc<AtomicU64>) -> RecordsOf<R> {
    let decoded = encoding_rs_io::DecodeReaderBytesBuilder::new()
        .encoding(Some(sniffed.encoding))
        .bom_override(true)
        .strip_bom(true)
        .build(Counted { inner: file, read });
    csv::ReaderBuilder::new()
        .delimiter(sniffed.delimiter)
        .has_headers(true)
        .flexible(true)
        .from_reader(Lf::new(decoded))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charsets_are_declared_marked_or_detected() {
        let utf8 = "телефон;имя\n+79161234567;Анна\n".as_bytes();
        assert_eq!(
            detect_encoding(utf8, None, None).unwrap(),
            encoding_rs::UTF_8
        );
        let (cp1251, _, _) = encoding_rs::WINDOWS_1251.encode(
            "Телефон;Имя;Город\n8 916 123-45-67;Анна Петрова;Москва\n89161234568;Борис Иванов;Санкт-Петербург\n",
        );
        assert_eq!(
            detect_encoding(&cp1251, None, None).unwrap(),
            encoding_rs::WINDOWS_1251
        );
        let sniffed = sniff(&cp1251, None, None, true).unwrap();
        assert_eq!(sniffed.delimiter, b';');
        assert_eq!(sniffed.headers, vec!["Телефон", "Имя", "Город"]);
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend_from_slice(b"phone,name\n1,2\n");
        let s = sniff(&bom, None, None, true).unwrap();
        assert_eq!(s.headers, vec!["phone", "name"]);
        // Excel's "Unicode text": UTF-16LE with its BOM, tab-separated.
        let mut utf16 = vec![0xFF, 0xFE];
        for unit in "phone\tname\n+79161234567\tАнна\n".encode_utf16() {
            utf16.extend_from_slice(&unit.to_le_bytes());
        }
        let s = sniff(&utf16, None, None, true).unwrap();
        assert_eq!(s.encoding, encoding_rs::UTF_16LE);
        assert_eq!(
            (s.delimiter, s.headers.clone()),
            (b'\t', vec!["phone".into(), "name".into()])
        );
        assert_eq!(
            detect_encoding(b"a", Some("klingon"), None),
            Err(FileError::UnknownCharset("klingon".into()))
        );
        assert_eq!(
            detect_encoding(b"a", Some("cp1251"), None).unwrap(),
            encoding_rs::WINDOWS_1251
        );
    }

    #[test]
    fn a_short_windows_1251_file_is_read_with_the_region_as_a_hint() {
        let (bytes, _, _) = encoding_rs::WINDOWS_1251
            .encode("Телефон;ФИО;Теги\r\n8 916 700-00-01;Зоя Браузерова;браузер\r\n");
        let s = sniff(&bytes, None, Some("RU"), true).unwrap();
        assert_eq!(s.encoding, encoding_rs::WINDOWS_1251);
        assert_eq!(s.headers, vec!["Телефон", "ФИО", "Теги"]);
    }

    #[test]
    fn bad_files_are_named_for_what_they_are() {
        assert_eq!(sniff(b"", None, None, true), Err(FileError::Empty));
        assert_eq!(sniff(b" \n\r\n", None, None, true), Err(FileError::Empty));
        assert_eq!(
            sniff(b"phone,name\n", None, None, true),
            Err(FileError::HeaderOnly)
        );
        assert_eq!(
            sniff(b"phone,name\n,\n", None, None, true),
            Err(FileError::HeaderOnly)
        );
        assert!(
            sniff(b"phone,name\n", None, None, false).is_ok(),
            "the rest may follow"
        );
        let junk: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
        assert_eq!(sniff(&junk, None, None, true), Err(FileError::Binary));
        assert_eq!(
            sniff(b"%PDF-1.7\n\x00\x01\x02", None, None, true),
            Err(FileError::Binary)
        );
    }

    #[test]
    fn delimiters_and_quoted_new_lines() {
        let text = b"phone\tname\tnote\n1\t\"a, b\"\t\"line\nbreak\"\n";
        let s = sniff(text, None, None, true).unwrap();
        assert_eq!(s.delimiter, b'\t');
        let s = sniff(b"\"phone;x\",name\n1,2\n", None, None, true).unwrap();
        assert_eq!(s.delimiter, b',');
        assert_eq!(s.headers, vec!["phone;x", "name"]);
        let s = sniff(b"phone\n+1\n", None, None, true).unwrap();
        assert_eq!(s.headers, vec!["phone"]);
    }

    #[test]
    fn windows_line_ends_become_unix_ones_across_reads() {
        let text = b"a;b\r\n1;\"x\r\ny\"\r\n2;3\rz\r";
        for chunk in 1..=7 {
            struct Slow<'a>(&'a [u8], usize);
            impl Read for Slow<'_> {
                fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                    let n = self.0.len().min(self.1).min(out.len());
                    out[..n].copy_from_slice(&self.0[..n]);
                    self.0 = &self.0[n..];
                    Ok(n)
                }
            }
            let mut lf = Lf::new(Slow(text, chunk));
            let mut got = Vec::new();
            let mut small = [0u8; 3];
            loop {
                let n = lf.read(&mut small).unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&small[..n]);
            }
            assert_eq!(got, b"a;b\n1;\"x\ny\"\n2;3\rz\r", "chunks of {chunk}");
        }
    }

    #[test]
    fn headers_map_by_alias_attribute_or_override() {
        let defs = vec![switchboard_shared::contacts::AttributeDef {
            key: "city".into(),
            label: "Город".into(),
            kind: switchboard_shared::contacts::AttributeKind::Text,
            pattern: None,
        }];
        let schema = AttributeSchema::new(&defs).unwrap();
        let headers: Vec<String> = ["Телефон", "ФИО", "Город", "Теги", "Phone_Number", "Notes"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let fields = map_columns(&headers, &BTreeMap::new(), &schema, &defs).unwrap();
        assert_eq!(
            fields,
            vec![
                Field::Phone,
                Field::Name,
                Field::Attribute("city".into()),
                Field::Tags,
                Field::Ignore,
                Field::Ignore
            ]
        );
        let overrides = BTreeMap::from([
            ("Город".to_owned(), "ignore".to_owned()),
            ("Notes".to_owned(), "attribute:city".to_owned()),
        ]);
        let fields = map_columns(&headers, &overrides, &schema, &defs).unwrap();
        assert_eq!(fields[2], Field::Ignore);
        assert_eq!(fields[5], Field::Attribute("city".into()));
        let bad = BTreeMap::from([("Notes".to_owned(), "attribute:nope".to_owned())]);
        assert!(map_columns(&headers, &bad, &schema, &defs).is_err());
        let none: Vec<String> = vec!["name".into(), "email".into()];
        assert!(matches!(
            map_columns(&none, &BTreeMap::new(), &schema, &defs),
            Err(FileError::Mapping(m)) if m.contains("no phone column")
        ));
    }
}
