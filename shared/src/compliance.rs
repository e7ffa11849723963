//! The outgoing sensitive-word filter: term lists on the wire, and the compiled [`Filter`] that
//! both the server (which decides, on every outbound path) and the WASM composer (which shows
//! the matches as an agent types) run, so the two can never disagree.
//!
//! Owns: term lists' shape and limits, compiling them into one automaton, scanning a text into
//! matches with the original text's byte spans, and the verdict (clear, warn, block).
//! Must not: store lists, audit, or decide who may override (the server's business).

use serde::{Deserialize, Serialize};

use crate::ids::{PhoneNumberId, TeamId, TermListId};
use crate::normalize::normalize;
use crate::phrase::{Fit, PhraseSet};

/// The most terms one list holds.
pub const MAX_TERMS_PER_LIST: usize = 50_000;
/// The most terms a tenant's lists hold together.
pub const MAX_TERMS_PER_TENANT: usize = 200_000;
/// The most exceptions one list holds.
pub const MAX_EXCEPTIONS_PER_LIST: usize = 5_000;
/// The most lists a tenant has.
pub const MAX_LISTS_PER_TENANT: usize = 100;

/// What a list does when one of its terms is in a message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum FilterAction {
    /// Nothing leaves; a person with `compliance.override` may send it anyway, with a reason.
    #[default]
    Block,
    /// The sender must confirm (`confirm_warnings`) before it leaves.
    Warn,
}

impl FilterAction {
    pub fn as_str(self) -> &'static str {
        match self {
            FilterAction::Block => "block",
            FilterAction::Warn => "warn",
        }
    }
}

/// How a list's terms must sit in a message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum TermFit {
    /// Whole words: `free` is not found in `carefree`; a term ending in `*` matches any word
    /// it begins (`бесплатн*`).
    #[default]
    Word,
    /// Anywhere, even inside a longer word.
    Contains,
}

impl TermFit {
    pub fn as_str(self) -> &'static str {
        match self {
            TermFit::Word => "word",
            TermFit::Contains => "contains",
        }
    }
}

/// A kind of content found by its shape rather than by a word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum PatternKind {
    /// A payment card number: 13 to 19 digits (spaces or dashes between groups allowed) that
    /// pass the Luhn check.
    CardNumber,
}

impl PatternKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PatternKind::CardNumber => "card_number",
        }
    }
}

/// A tenant's term list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TermList {
    pub id: TermListId,
    pub name: String,
    /// What the terms are about (`spam`, `gambling`, `payment data`), shown with each match.
    pub category: String,
    pub action: FilterAction,
    #[serde(rename = "match")]
    pub fit: TermFit,
    pub terms: Vec<String>,
    /// Phrases that are fine even though they contain a term (`free shipping` while `free` is
    /// blocked).
    pub exceptions: Vec<String>,
    pub patterns: Vec<PatternKind>,
    /// The teams whose numbers the list applies to; empty: every number.
    pub teams: Vec<TeamId>,
    /// The numbers of those teams, worked out when read (meaningful only when `teams` is not
    /// empty: a list of teams with no numbers applies nowhere).
    pub numbers: Vec<PhoneNumberId>,
    pub enabled: bool,
    /// Increases with every change; send it back as `version` to update only what you read.
    pub version: u64,
    pub updated_at: i64,
    pub updated_by: String,
}

/// `POST /api/v1/compliance/term-lists`, `PUT …/{id}`: a whole list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TermListInput {
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 100)))]
    pub name: String,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub action: FilterAction,
    #[serde(default, rename = "match")]
    pub fit: TermFit,
    #[serde(default)]
    pub terms: Vec<String>,
    #[serde(default)]
    pub exceptions: Vec<String>,
    #[serde(default)]
    pub patterns: Vec<PatternKind>,
    #[serde(default)]
    pub teams: Vec<TeamId>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// On `PUT`: the version read; a list changed since is not overwritten (409).
    #[serde(default)]
    pub version: Option<u64>,
}

fn yes() -> bool {
    true
}

/// One term (or pattern) found in a text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FilterMatch {
    pub list: TermListId,
    pub list_name: String,
    pub category: String,
    pub action: FilterAction,
    /// The term as the list spells it, or the pattern's name (`card_number`).
    pub term: String,
    /// Where in the checked text, as UTF-8 byte offsets (`start..end`).
    pub start: usize,
    pub end: usize,
    /// The matched text as written.
    pub text: String,
    /// Which part of the message (`text`, `caption`, `template value 2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// `POST /api/v1/compliance/check`: a text to try against the tenant's lists.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct FilterCheckInput {
    pub text: String,
    /// Check as if sent on this number (lists limited to some teams apply only to theirs).
    #[serde(default)]
    pub number: Option<PhoneNumberId>,
}

/// What a check found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FilterReport {
    pub verdict: Verdict,
    pub matches: Vec<FilterMatch>,
}

/// What the matches mean for a send.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    #[default]
    Clear,
    /// Only warn lists matched: it goes once the sender confirms.
    Warn,
    /// A block list matched: it goes only with an override.
    Block,
}

impl Verdict {
    pub fn of(matches: &[FilterMatch]) -> Verdict {
        if matches.iter().any(|m| m.action == FilterAction::Block) {
            Verdict::Block
        } else if matches.is_empty() {
            Verdict::Clear
        } else {
            Verdict::Warn
        }
    }
}

/// Why a list cannot be saved, with the field to fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListError {
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for ListError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}`: {}", self.field, self.message)
    }
}

impl std::error::Error for ListError {}

fn list_error(field: impl Into<String>, message: impl Into<String>) -> ListError {
    ListError {
        field: field.into(),
        message: message.into(),
    }
}

/// Checks a list before it is saved: a visible name, terms within the limits that each fold to
/// something matchable, and something to look for.
pub fn check_list(input: &TermListInput) -> Result<(), ListError> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(list_error("name", "a name of 1 to 100 characters"));
    }
    if let Err(e) = crate::text::check_name(name) {
        return Err(list_error("name", format!("the name {}", e.describe())));
    }
    if input
        .category
        .as_deref()
        .is_some_and(|c| c.chars().count() > 60)
    {
        return Err(list_error("category", "at most 60 characters"));
    }
    if input.terms.len() > MAX_TERMS_PER_LIST {
        return Err(list_error(
            "terms",
            format!(
                "{} terms; a list holds at most {MAX_TERMS_PER_LIST} (split it into several lists)",
                input.terms.len()
            ),
        ));
    }
    if input.exceptions.len() > MAX_EXCEPTIONS_PER_LIST {
        return Err(list_error(
            "exceptions",
            format!(
                "{} exceptions; a list holds at most {MAX_EXCEPTIONS_PER_LIST}",
                input.exceptions.len()
            ),
        ));
    }
    if input.terms.is_empty() && input.patterns.is_empty() {
        return Err(list_error(
            "terms",
            "give at least one term or pattern to look for",
        ));
    }
    let fit = phrase_fit(input.fit);
    for (field, phrases) in [("terms", &input.terms), ("exceptions", &input.exceptions)] {
        for (i, p) in phrases.iter().enumerate() {
            PhraseSet::build([(0, p.as_str(), fit)])
                .map_err(|e| list_error(format!("{field}[{i}]"), e.to_string()))?;
        }
    }
    Ok(())
}

fn phrase_fit(fit: TermFit) -> Fit {
    match fit {
        TermFit::Word => Fit::Word,
        TermFit::Contains => Fit::Contains,
    }
}

/// One list as the compiled filter needs it.
#[derive(Clone, Debug)]
struct ListMeta {
    id: TermListId,
    name: String,
    category: String,
    action: FilterAction,
    /// Whether the list is limited to some teams' numbers (`numbers`, possibly none).
    scoped: bool,
    numbers: Vec<PhoneNumberId>,
    terms: Vec<String>,
    cards: bool,
}

/// A tenant's enabled lists compiled into one automaton for terms and one for exceptions:
/// built once per change, then [`Filter::scan`] per message.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    lists: Vec<ListMeta>,
    /// Owner: an index into `refs`.
    terms: Option<PhraseSet>,
    /// `(list, term)` for each compiled term.
    refs: Vec<(u32, u32)>,
    /// Owner: the list's index.
    exceptions: Option<PhraseSet>,
}

impl Filter {
    /// Compiles the enabled lists (disabled ones are left out). Lists are checked when saved, so
    /// an error here means a stored list no longer compiles; it names the list.
    pub fn compile(lists: &[TermList]) -> Result<Filter, ListError> {
        let enabled: Vec<&TermList> = lists.iter().filter(|l| l.enabled).collect();
        let mut refs = Vec::new();
        let mut term_phrases = Vec::new();
        let mut exception_phrases = Vec::new();
        for (li, list) in enabled.iter().enumerate() {
            let fit = phrase_fit(list.fit);
            for (ti, term) in list.terms.iter().enumerate() {
                term_phrases.push((refs.len(), term.as_str(), fit));
                refs.push((li as u32, ti as u32));
            }
            for e in &list.exceptions {
                exception_phrases.push((li, e.as_str(), Fit::Word));
            }
        }
        let broken = |e: crate::phrase::PhraseError| list_error("terms", e.to_string());
        let terms = if term_phrases.is_empty() {
            None
        } else {
            Some(PhraseSet::build(term_phrases).map_err(broken)?)
        };
        let exceptions = if exception_phrases.is_empty() {
            None
        } else {
            Some(PhraseSet::build(exception_phrases).map_err(broken)?)
        };
        Ok(Filter {
            lists: enabled
                .iter()
                .map(|l| ListMeta {
                    id: l.id.clone(),
                    name: l.name.clone(),
                    category: l.category.clone(),
                    action: l.action,
                    scoped: !l.teams.is_empty(),
                    numbers: l.numbers.clone(),
                    terms: l.terms.clone(),
                    cards: l.patterns.contains(&PatternKind::CardNumber),
                })
                .collect(),
            terms,
            refs,
            exceptions,
        })
    }

    /// Every match in `text` of the lists that apply on `number` (`None`: every list, those
    /// limited to some teams' numbers too), in text order. A list's exceptions hide its matches
    /// that lie inside them.
    pub fn scan(&self, text: &str, number: Option<&PhoneNumberId>) -> Vec<FilterMatch> {
        if self.lists.is_empty() || text.is_empty() {
            return Vec::new();
        }
        let applies = |li: usize| {
            let list = &self.lists[li];
            !list.scoped || number.is_none_or(|n| list.numbers.contains(n))
        };
        let folded = normalize(text);
        let mut excepted: Vec<(usize, usize, usize)> = Vec::new();
        if let Some(set) = &self.exceptions {
            set.find(&folded, |f| excepted.push((f.owner, f.from, f.to)));
        }
        let mut out = Vec::new();
        if let Some(set) = &self.terms {
            set.find(&folded, |f| {
                let (li, ti) = self.refs[f.owner];
                let li = li as usize;
                if !applies(li)
                    || excepted
                        .iter()
                        .any(|&(l, a, b)| l == li && a <= f.from && f.to <= b)
                {
                    return;
                }
                let (start, end) = folded.span(f.from, f.to);
                let list = &self.lists[li];
                out.push(FilterMatch {
                    list: list.id.clone(),
                    list_name: list.name.clone(),
                    category: list.category.clone(),
                    action: list.action,
                    term: list.terms[ti as usize].clone(),
                    start,
                    end,
                    text: text[start..end].to_owned(),
                    field: None,
                });
            });
        }
        let card_lists: Vec<usize> = (0..self.lists.len())
            .filter(|&li| self.lists[li].cards && applies(li))
            .collect();
        if !card_lists.is_empty() {
            for (start, end) in card_numbers(text) {
                for &li in &card_lists {
                    let list = &self.lists[li];
                    out.push(FilterMatch {
                        list: list.id.clone(),
                        list_name: list.name.clone(),
                        category: list.category.clone(),
                        action: list.action,
                        term: PatternKind::CardNumber.as_str().to_owned(),
                        start,
                        end,
                        text: text[start..end].to_owned(),
                        field: None,
                    });
                }
            }
        }
        out.sort_by(|a, b| {
            (a.start, a.end, &a.list, &a.term).cmp(&(b.start, b.end, &b.list, &b.term))
        });
        out.dedup_by(|a, b| {
            a.start == b.start && a.end == b.end && a.list == b.list && a.term == b.term
        });
        out
    }
}

/// The digit a character is (ASCII or full-width), if it is one.
fn digit(c: char) -> Option<u32> {
    match c {
        '0'..='9' => Some(c as u32 - '0' as u32),
        '\u{FF10}'..='\u{FF19}' => Some(c as u32 - 0xFF10),
        _ => None,
    }
}

/// Whether the digits pass the Luhn check (payment card numbers do; most other numbers fail).
pub fn luhn(digits: &[u32]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The byte spans of card numbers in `text`: 13 to 19 digits, single spaces or dashes between
/// them allowed, not part of a longer number, passing Luhn.
pub fn card_numbers(text: &str) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    let mut digits: Vec<u32> = Vec::new();
    let mut start = 0;
    let mut end = 0;
    let mut gap = false;
    let mut flush = |digits: &mut Vec<u32>, start: usize, end: usize| {
        if (13..=19).contains(&digits.len()) && luhn(digits) {
            found.push((start, end));
        }
        digits.clear();
    };
    for (i, c) in text.char_indices() {
        if let Some(d) = digit(c) {
            if digits.is_empty() {
                start = i;
            }
            digits.push(d);
            end = i + c.len_utf8();
            gap = false;
        } else if (c == ' ' || c == '-') && !digits.is_empty() && !gap {
            gap = true;
        } else {
            flush(&mut digits, start, end);
            gap = false;
        }
    }
    flush(&mut digits, start, end);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(id: &str, action: FilterAction, terms: &[&str], exceptions: &[&str]) -> TermList {
        TermList {
            id: TermListId::new(id),
            name: id.into(),
            category: "spam".into(),
            action,
            fit: TermFit::Word,
            terms: terms.iter().map(|t| (*t).to_owned()).collect(),
            exceptions: exceptions.iter().map(|t| (*t).to_owned()).collect(),
            patterns: vec![],
            teams: vec![],
            numbers: vec![],
            enabled: true,
            version: 1,
            updated_at: 0,
            updated_by: "u".into(),
        }
    }

    #[test]
    fn exceptions_hide_their_own_matches_and_verdicts_follow_the_action() {
        let filter = Filter::compile(&[
            list(
                "spam",
                FilterAction::Block,
                &["free", "win"],
                &["free shipping"],
            ),
            list("soft", FilterAction::Warn, &["cheap"], &[]),
        ])
        .unwrap();
        assert!(filter.scan("Free shipping on all orders", None).is_empty());
        let m = filter.scan("FR33 gift, free shipping too", None);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].text, "FR33");
        assert_eq!(Verdict::of(&m), Verdict::Block);
        let m = filter.scan("a cheap one", None);
        assert_eq!(Verdict::of(&m), Verdict::Warn);
        assert_eq!(&"a cheap one"[m[0].start..m[0].end], "cheap");
        assert!(filter.scan("a winner's window", None).is_empty());
    }

    #[test]
    fn team_lists_apply_on_their_numbers_only_and_disabled_lists_not_at_all() {
        let mut sales = list("sales", FilterAction::Block, &["discount"], &[]);
        sales.teams = vec![TeamId::new("t_sales")];
        sales.numbers = vec![PhoneNumberId::new("111")];
        let mut off = list("off", FilterAction::Block, &["hello"], &[]);
        off.enabled = false;
        let filter = Filter::compile(&[sales, off]).unwrap();
        assert_eq!(
            filter
                .scan("big discount", Some(&PhoneNumberId::new("111")))
                .len(),
            1
        );
        assert!(filter
            .scan("big discount", Some(&PhoneNumberId::new("222")))
            .is_empty());
        assert!(filter.scan("hello", None).is_empty());
    }

    #[test]
    fn card_numbers_are_found_by_luhn_and_other_numbers_are_not() {
        assert_eq!(card_numbers("card 4111 1111 1111 1111 ok"), vec![(5, 24)]);
        assert_eq!(card_numbers("4111-1111-1111-1111").len(), 1);
        assert!(card_numbers("order 4111 1111 1111 1112").is_empty());
        assert!(card_numbers("call +7 916 123 45 67").is_empty());
        assert!(card_numbers("41111111111111111111111").is_empty());
        let mut cards = list("pay", FilterAction::Block, &[], &[]);
        cards.patterns = vec![PatternKind::CardNumber];
        let filter = Filter::compile(&[cards]).unwrap();
        let m = filter.scan("my card: 5500 0000 0000 0004", None);
        assert_eq!(m[0].term, "card_number");
    }

    #[test]
    fn lists_are_checked_with_the_field_named() {
        let ok = TermListInput {
            name: "Spam".into(),
            terms: vec!["free".into()],
            enabled: true,
            ..Default::default()
        };
        assert_eq!(check_list(&ok), Ok(()));
        let bad = TermListInput {
            terms: vec!["free".into(), " -- ".into()],
            ..ok.clone()
        };
        assert_eq!(check_list(&bad).unwrap_err().field, "terms[1]");
        let huge = TermListInput {
            terms: vec!["x".into(); MAX_TERMS_PER_LIST + 1],
            ..ok.clone()
        };
        assert!(check_list(&huge).unwrap_err().message.contains("at most"));
        let nothing = TermListInput {
            terms: vec![],
            ..ok
        };
        assert_eq!(check_list(&nothing).unwrap_err().field, "terms");
    }
}
