//! Customers: the contact record, how a number is read (libphonenumber's metadata through the
//! `phonenumber` crate, never hand-written rules), typed attributes, the tag catalogue, consent
//! and its stop keywords, and the segment filter's meaning (`matches`, `explain`), which every
//! backend must agree with (the SQLite backend compiles filters to SQL; the conformance suite
//! checks its answers against [`Filter::matches`]).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;
use switchboard_shared::contacts::{ConsentEvidence, Filter, ImportState, Marketing};
use switchboard_shared::{ContactId, ImportId, SegmentId, TenantId, UserId};
use unicode_normalization::UnicodeNormalization as _;

use super::UnixMillis;

/// Tags one contact may carry.
pub const MAX_CONTACT_TAGS: usize = 100;
/// Tags in a tenant's catalogue.
pub const MAX_CATALOGUE_TAGS: usize = 1000;
/// Attribute definitions per tenant.
pub const MAX_ATTRIBUTES: usize = 100;
/// Segments per tenant.
pub const MAX_SEGMENTS: usize = 500;
/// The longest text attribute value and note.
pub const MAX_TEXT: usize = 2000;

/// A customer of one tenant.
#[derive(Clone, Debug, PartialEq)]
pub struct ContactRecord {
    pub tenant: TenantId,
    pub id: ContactId,
    /// E.164 digits without `+` (WhatsApp's `wa_id` form), unique in the tenant.
    pub phone: Option<String>,
    /// The business-scoped user id, unique in the tenant.
    pub bsuid: Option<String>,
    pub username: Option<String>,
    /// The name the business gave.
    pub name: Option<String>,
    /// The name on the WhatsApp profile (from webhooks).
    pub profile_name: Option<String>,
    /// ISO 3166 alpha-2, from the number.
    pub country: Option<String>,
    /// Catalogue spellings, in the order given, no duplicates.
    pub tags: Vec<String>,
    pub attributes: BTreeMap<String, Value>,
    pub marketing: Marketing,
    pub consent: Option<ConsentEvidence>,
    pub last_inbound_at: Option<UnixMillis>,
    pub last_outbound_at: Option<UnixMillis>,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

impl ContactRecord {
    /// A new contact known by a number and/or a BSUID.
    pub fn new(
        tenant: TenantId,
        id: ContactId,
        phone: Option<String>,
        bsuid: Option<String>,
        at: UnixMillis,
    ) -> Self {
        let country = phone.as_deref().and_then(country_of);
        Self {
            tenant,
            id,
            phone,
            bsuid,
            username: None,
            name: None,
            profile_name: None,
            country,
            tags: Vec::new(),
            attributes: BTreeMap::new(),
            marketing: Marketing::Unknown,
            consent: None,
            last_inbound_at: None,
            last_outbound_at: None,
            created_at: at,
            updated_at: at,
        }
    }

    /// The name people see: the given one, else the WhatsApp profile's.
    pub fn display_name(&self) -> Option<&str> {
        self.name.as_deref().or(self.profile_name.as_deref())
    }

    /// The ids conversations know this customer by (`WaId`s).
    pub fn wa_ids(&self) -> Vec<String> {
        self.phone
            .iter()
            .chain(self.bsuid.iter())
            .cloned()
            .collect()
    }

    /// Applies a consent change unless a later one is already recorded (a redelivered or
    /// late webhook never undoes a newer choice). Returns whether anything changed.
    pub fn apply_consent(&mut self, evidence: &ConsentEvidence) -> bool {
        if self
            .consent
            .as_ref()
            .is_some_and(|current| current.at > evidence.at || current == evidence)
        {
            return false;
        }
        self.marketing = evidence.marketing;
        self.consent = Some(evidence.clone());
        true
    }

    /// The fields a person or an import edits (what an undo restores and what "unchanged"
    /// compares).
    pub fn editable(&self) -> Editable {
        Editable {
            name: self.name.clone(),
            tags: self.tags.clone(),
            attributes: self.attributes.clone(),
        }
    }
}

/// What a person or an import may change on a contact.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Editable {
    pub name: Option<String>,
    pub tags: Vec<String>,
    pub attributes: BTreeMap<String, Value>,
}

/// One consent change in a contact's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentRecord {
    pub tenant: TenantId,
    pub contact: ContactId,
    pub evidence: ConsentEvidence,
}

/// A consent change that arrived with a webhook, for the customer a conversation knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentChange {
    /// `wa_id` or BSUID.
    pub customer: String,
    pub evidence: ConsentEvidence,
}

/// What one webhook says about one customer, merged from its events: the profile, the latest
/// message's time, consent changes. Stores apply it to the customer's contact (made when new).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContactTouch {
    /// The `wa_id` (a number) or, for a customer without one, the BSUID.
    pub customer: String,
    pub bsuid: Option<String>,
    pub profile_name: Option<String>,
    pub username: Option<String>,
    pub inbound_at: Option<UnixMillis>,
    pub outbound_at: Option<UnixMillis>,
    pub consent: Vec<ConsentEvidence>,
}

impl ContactTouch {
    pub fn phone(&self) -> Option<&str> {
        is_phone_wa_id(&self.customer).then_some(self.customer.as_str())
    }

    pub fn bsuid(&self) -> Option<&str> {
        self.bsuid
            .as_deref()
            .or((!is_phone_wa_id(&self.customer)).then_some(self.customer.as_str()))
    }

    /// Applies it; whether anything changed. Times only move forward; consent follows
    /// [`ContactRecord::apply_consent`].
    pub fn apply(&self, c: &mut ContactRecord, at: UnixMillis) -> bool {
        let before = c.clone();
        if c.phone.is_none() {
            if let Some(p) = self.phone() {
                c.phone = Some(p.to_owned());
                c.country = country_of(p);
            }
        }
        if c.bsuid.is_none() {
            c.bsuid = self.bsuid().map(str::to_owned);
        }
        if let Some(name) = &self.profile_name {
            c.profile_name = Some(name.clone());
        }
        if let Some(u) = &self.username {
            c.username = Some(u.clone());
        }
        if let Some(t) = self.inbound_at {
            c.last_inbound_at = Some(c.last_inbound_at.map_or(t, |have| have.max(t)));
        }
        if let Some(t) = self.outbound_at {
            c.last_outbound_at = Some(c.last_outbound_at.map_or(t, |have| have.max(t)));
        }
        for e in &self.consent {
            c.apply_consent(e);
        }
        let changed = *c != before;
        if changed {
            c.updated_at = c.updated_at.max(at);
        }
        changed
    }
}

/// What a webhook's events say about each customer, one touch per (tenant, customer).
pub fn contact_touches(
    events: &[(TenantId, super::InboundEvent)],
) -> Vec<(TenantId, ContactTouch)> {
    use super::InboundEvent as E;
    fn at(out: &mut Vec<(TenantId, ContactTouch)>, tenant: &TenantId, customer: &str) -> usize {
        match out
            .iter()
            .position(|(t, c)| t == tenant && c.customer == customer)
        {
            Some(i) => i,
            None => {
                out.push((
                    tenant.clone(),
                    ContactTouch {
                        customer: customer.to_owned(),
                        ..Default::default()
                    },
                ));
                out.len() - 1
            }
        }
    }
    let mut out: Vec<(TenantId, ContactTouch)> = Vec::new();
    for (tenant, event) in events {
        match event {
            E::Contact(u) if !u.wa_id.as_str().is_empty() => {
                let i = at(&mut out, tenant, u.wa_id.as_str());
                let touch = &mut out[i].1;
                touch.profile_name = u.name.clone().or(touch.profile_name.take());
                touch.bsuid = u.user_id.clone().or(touch.bsuid.take());
                touch.username = u.username.clone().or(touch.username.take());
            }
            E::Message(m) if !m.customer.as_str().is_empty() => {
                let i = at(&mut out, tenant, m.customer.as_str());
                let touch = &mut out[i].1;
                touch.inbound_at = Some(touch.inbound_at.map_or(m.at_ms, |t| t.max(m.at_ms)));
            }
            E::Consent(change) if !change.customer.is_empty() => {
                let i = at(&mut out, tenant, &change.customer);
                out[i].1.consent.push(change.evidence.clone());
            }
            _ => {}
        }
    }
    out
}

/// A note on a contact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactNoteRecord {
    pub tenant: TenantId,
    pub contact: ContactId,
    pub id: String,
    pub author: UserId,
    pub author_name: String,
    pub body: String,
    pub at_ms: UnixMillis,
}

/// A tag of the tenant's catalogue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagRecord {
    pub tenant: TenantId,
    pub name: String,
    pub colour: String,
}

/// A saved segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentRecord {
    pub tenant: TenantId,
    pub id: SegmentId,
    pub name: String,
    pub filter: Filter,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

/// An import job: its options, where its file waits, and how far it got (a restart resumes
/// after `rows_done`).
#[derive(Clone, Debug, PartialEq)]
pub struct ImportRecord {
    pub tenant: TenantId,
    pub id: ImportId,
    pub state: ImportState,
    pub dry_run: bool,
    pub by: UserId,
    pub file_name: Option<String>,
    /// The spooled file's name in the import directory.
    pub file: String,
    pub bytes_total: u64,
    pub options: ImportOptions,
    pub progress: ImportProgress,
    pub error: Option<String>,
    pub started_at: UnixMillis,
    pub finished_at: Option<UnixMillis>,
}

/// How an import reads its file.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImportOptions {
    /// ISO 3166 alpha-2 for national numbers.
    pub default_region: Option<String>,
    /// Declared charset (`windows-1251`); detected when absent.
    pub charset: Option<String>,
    /// Header → field (`phone`, `name`, `tags`, `marketing`, `attribute:<key>`, `ignore`);
    /// headers not named here are mapped by their aliases.
    pub mapping: BTreeMap<String, String>,
    /// A tag every row of the file gets besides its own (a campaign's audience from a file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// An import's counters, checkpointed with each committed chunk.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ImportProgress {
    pub charset: String,
    pub delimiter: String,
    pub mapping: Vec<(String, String)>,
    pub rows_done: u64,
    pub bytes_done: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
    pub duplicates: u64,
    pub new_tags: Vec<String>,
    pub preview: Vec<switchboard_shared::contacts::RowVerdict>,
    /// Milliseconds spent working (across restarts), for the rate.
    pub busy_ms: u64,
}

/// What undoing an import must do for one contact it wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct UndoEntry {
    pub contact: ContactId,
    /// The contact's editable fields before the import; `None` when the import created it.
    pub before: Option<Editable>,
    /// Its `updated_at` as the import left it: a later change means someone else touched it.
    pub written_at: UnixMillis,
}

/// A rejected row, kept for the errors download.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectedRow {
    pub line: u64,
    /// The row's fields as read.
    pub fields: Vec<String>,
    pub reason: String,
}

pub use switchboard_shared::contacts::ErasureReceipt;

// ---------------------------------------------------------------------------------------------
// Numbers

/// A region code for national numbers (`RU`).
pub type Region = phonenumber::country::Id;

/// Reads an ISO 3166 alpha-2 region code.
pub fn region(code: &str) -> Option<Region> {
    code.trim().to_ascii_uppercase().parse().ok()
}

/// A number read from what a person typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedPhone {
    /// E.164 digits without `+`.
    pub digits: String,
    pub country: Option<String>,
}

/// Why a number was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("no phone number")]
    Empty,
    #[error("not a phone number")]
    NotANumber,
    #[error("a national number needs a default region (or write it with +country code)")]
    NeedsRegion,
    #[error("not a valid number for its country")]
    Invalid,
    #[error("a fixed line: WhatsApp customers are on mobile numbers")]
    FixedLine,
    #[error("not a number a person uses ({0})")]
    NotPersonal(&'static str),
}

/// Reads a number as people write it (`+7 916 123-45-67`, `8 (916) 123-45-67` with region RU,
/// `(916) 123-4567` with US), validated against libphonenumber's metadata. A fixed line, a toll
/// free, premium or shared-cost number is refused: customers write from mobiles.
pub fn parse_phone(text: &str, default_region: Option<Region>) -> Result<ParsedPhone, PhoneError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(PhoneError::Empty);
    }
    if !trimmed.chars().any(|c| c.is_ascii_digit()) {
        return Err(PhoneError::NotANumber);
    }
    // `00` is the international prefix of most of the world (Russia's own is `810`).
    let owned;
    let trimmed = match trimmed.strip_prefix("00") {
        Some(rest) => {
            owned = format!("+{rest}");
            owned.as_str()
        }
        None => trimmed,
    };
    let international = trimmed.starts_with('+');
    let number = match phonenumber::parse(default_region, trimmed) {
        Ok(n) => n,
        Err(_) if !international && default_region.is_none() => {
            return Err(PhoneError::NeedsRegion)
        }
        Err(_) => return Err(PhoneError::NotANumber),
    };
    if !number.is_valid() {
        // Digits alone without a region: perhaps an international number missing its `+`.
        if !international && trimmed.chars().all(|c| c.is_ascii_digit()) {
            if let Ok(n) = phonenumber::parse(None, format!("+{trimmed}")) {
                if n.is_valid() {
                    return finish(&n);
                }
            }
        }
        return Err(if default_region.is_none() && !international {
            PhoneError::NeedsRegion
        } else {
            PhoneError::Invalid
        });
    }
    finish(&number)
}

fn finish(number: &phonenumber::PhoneNumber) -> Result<ParsedPhone, PhoneError> {
    use phonenumber::Type;
    match number.number_type(&phonenumber::metadata::DATABASE) {
        Type::FixedLine => return Err(PhoneError::FixedLine),
        Type::TollFree => return Err(PhoneError::NotPersonal("toll free")),
        Type::PremiumRate => return Err(PhoneError::NotPersonal("premium rate")),
        Type::SharedCost => return Err(PhoneError::NotPersonal("shared cost")),
        Type::Pager => return Err(PhoneError::NotPersonal("pager")),
        Type::Voicemail => return Err(PhoneError::NotPersonal("voicemail")),
        Type::ShortCode | Type::Emergency => return Err(PhoneError::NotPersonal("short code")),
        _ => {}
    }
    let e164 = number.format().mode(phonenumber::Mode::E164).to_string();
    Ok(ParsedPhone {
        digits: e164.trim_start_matches('+').to_owned(),
        country: number.country().id().map(|id| id.as_ref().to_owned()),
    })
}

/// Whether a `wa_id` is a number (digits only) rather than a BSUID.
pub fn is_phone_wa_id(wa_id: &str) -> bool {
    (6..=15).contains(&wa_id.len()) && wa_id.bytes().all(|b| b.is_ascii_digit())
}

/// The country of an E.164 number (digits without `+`), when its metadata knows it.
pub fn country_of(digits: &str) -> Option<String> {
    if !is_phone_wa_id(digits) {
        return None;
    }
    let number = phonenumber::parse(None, format!("+{digits}")).ok()?;
    number.country().id().map(|id| id.as_ref().to_owned())
}

/// The number as people read it: `+79161234567`.
pub fn e164(digits: &str) -> String {
    format!("+{digits}")
}

// ---------------------------------------------------------------------------------------------
// Text: names, keywords, tags

/// Text folded for matching: Unicode NFKC, lower case, words separated by single spaces,
/// punctuation and symbols at either end removed ("  Stop!! " and "ＳＴＯＰ" read `stop`).
pub fn fold(text: &str) -> String {
    let nfkc: String = text.nfkc().collect::<String>().to_lowercase();
    let words: Vec<&str> = nfkc.split_whitespace().collect();
    words
        .join(" ")
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_owned()
}

/// The words that opt a customer out of marketing when a message says just that.
#[derive(Clone, Debug)]
pub struct StopKeywords(HashSet<String>);

impl StopKeywords {
    pub fn new<S: AsRef<str>>(words: &[S]) -> Self {
        Self(
            words
                .iter()
                .map(|w| fold(w.as_ref()))
                .filter(|w| !w.is_empty())
                .collect(),
        )
    }

    /// Whether the whole message is a stop keyword (a sentence that merely contains one, like
    /// "don't stop the delivery", is not).
    pub fn matches(&self, text: &str) -> bool {
        text.len() <= 64 && self.0.contains(&fold(text))
    }
}

/// A tag name as stored: trimmed, 1 to 64 characters, nothing invisible.
pub fn check_tag_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err("a tag is 1 to 64 characters".into());
    }
    if name.chars().any(|c| c.is_control()) || switchboard_shared::text::check_name(name).is_err() {
        return Err(format!(
            "the tag `{name}` holds invisible or control characters"
        ));
    }
    Ok(name.to_owned())
}

/// A colour as `#rrggbb`.
pub fn check_colour(colour: &str) -> Result<String, String> {
    let c = colour.trim().to_ascii_lowercase();
    if c.len() == 7 && c.starts_with('#') && c[1..].bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(c)
    } else {
        Err(format!("colour `{colour}` is not #rrggbb"))
    }
}

/// Why a list of tags cannot go on a contact.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    #[error("no tag `{0}` in the catalogue")]
    Unknown(String),
    #[error("{0} tags: a contact carries at most {MAX_CONTACT_TAGS}")]
    TooMany(usize),
}

/// The tenant's tags, found case-insensitively.
#[derive(Clone, Debug, Default)]
pub struct TagCatalogue(HashMap<String, String>);

impl TagCatalogue {
    pub fn new(tags: &[TagRecord]) -> Self {
        Self(
            tags.iter()
                .map(|t| (t.name.to_lowercase(), t.name.clone()))
                .collect(),
        )
    }

    /// The catalogue's spelling of a tag.
    pub fn find(&self, name: &str) -> Option<&str> {
        self.0.get(&name.trim().to_lowercase()).map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn insert(&mut self, name: &str) {
        self.0.insert(name.to_lowercase(), name.to_owned());
    }

    /// Tags in the catalogue's spelling, in order, without repeats.
    pub fn resolve<S: AsRef<str>>(&self, names: &[S]) -> Result<Vec<String>, TagError> {
        let mut out: Vec<String> = Vec::with_capacity(names.len());
        for name in names {
            let found = self
                .find(name.as_ref())
                .ok_or_else(|| TagError::Unknown(name.as_ref().trim().to_owned()))?;
            if !out.iter().any(|t| t == found) {
                out.push(found.to_owned());
            }
        }
        if out.len() > MAX_CONTACT_TAGS {
            return Err(TagError::TooMany(out.len()));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_people_write_them_become_e164() {
        let ru = region("RU");
        for text in [
            "8 916 123-45-67",
            "+7 (916) 123-45-67",
            "89161234567",
            "79161234567",
            "007 916 1234567",
        ] {
            let p = parse_phone(text, ru).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(p.digits, "79161234567", "{text}");
            assert_eq!(p.country.as_deref(), Some("RU"));
        }
        let us = parse_phone("(650) 555-1234", region("US"));
        assert!(us.is_ok() || us == Err(PhoneError::Invalid), "{us:?}");
        let us = parse_phone("(201) 555-0123", region("US")).unwrap();
        assert_eq!(us.digits, "12015550123");
        assert_eq!(
            parse_phone("+44 20 7946 0958", None),
            Err(PhoneError::FixedLine)
        );
        assert_eq!(
            parse_phone("8 495 123-45-67", ru),
            Err(PhoneError::FixedLine)
        );
        assert_eq!(parse_phone("call me", ru), Err(PhoneError::NotANumber));
        assert_eq!(parse_phone("   ", ru), Err(PhoneError::Empty));
        assert_eq!(parse_phone("916 123", ru), Err(PhoneError::Invalid));
        assert_eq!(
            parse_phone("8 916 123-45-67", None),
            Err(PhoneError::NeedsRegion)
        );
        assert_eq!(country_of("79161234567").as_deref(), Some("RU"));
        assert_eq!(country_of("US.1349"), None);
    }

    #[test]
    fn stop_keywords_match_the_whole_normalised_message_only() {
        let stop = StopKeywords::new(&["STOP", "UNSUBSCRIBE", "СТОП", "ОТПИСАТЬСЯ"]);
        for yes in [
            "STOP",
            " stop! ",
            "Стоп",
            "СТОП.",
            "ＳＴＯＰ",
            "отписаться",
            "Unsubscribe",
        ] {
            assert!(stop.matches(yes), "{yes}");
        }
        for no in ["don't stop the delivery", "stopwatch", "", "стопка"] {
            assert!(!stop.matches(no), "{no}");
        }
    }
}
