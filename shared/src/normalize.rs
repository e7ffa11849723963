//! The one text normaliser for matching words in people's messages: the outgoing word filter,
//! keyword rules, stop keywords and search all fold text here, on the server and in the WASM
//! composer alike, so a word matches the same way wherever it is checked.
//!
//! Owns: folding a text into comparable units (case, compatibility forms, marks, invisible
//! characters, Latin/Cyrillic look-alikes, common leetspeak, spacing and punctuation inside
//! words, repeated letters) and the map from every unit back to the original text's bytes.
//! Must not: alter or store the folded text as if it were the message (it is for comparing
//! only), or decide what a match means (that is [`crate::phrase`] and its users).
//!
//! The folding, per character: compatibility decomposition (NFKD: full-width letters, ligatures,
//! superscripts) with combining marks dropped (so ё folds to е and é to e; й stays itself), lower
//! case, then for letters outside ASCII the confusable prototype of Unicode's UTS #39 skeleton
//! (the tables are Unicode's, from `unicode-security`): Cyrillic а, е, о, р, с… become Latin
//! a, e, o, p, c…, and where only the capital has a Latin prototype (В, Н, Т, К, М) that one is
//! taken, marked as a loose look-alike. Default-ignorable characters (zero-width spaces and
//! joiners, soft hyphens) vanish without a trace.
//!
//! Then per whitespace-separated token: in a word with a letter, digits and `@`/`$` read as the
//! letters they stand for (`fr33` is `free`); punctuation inside a token is a soft word boundary
//! that does not split the letters (`f.r.e.e`, `fr-ee`); one-character tokens in a row, a single
//! space apart, may be one spaced-out word (`f r e e`); and a run of the same letter is one unit
//! that remembers its length, so `freeee` matches `free` but `fre` does not.

use crate::text::is_invisible;

/// What separates a unit from the one before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Boundary {
    /// Inside a word.
    None,
    /// Punctuation or a symbol: a word may end here, or go on (`fr-ee`).
    Soft,
    /// Whitespace, or the start of the text.
    Hard,
}

/// One folded letter (or digit), possibly repeated, and where it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unit {
    pub ch: char,
    /// How many times the letter repeats in a row (`freee`: the `e` unit has 3).
    pub run: u16,
    /// What separates it from the unit before.
    pub before: Boundary,
    /// The original text's bytes this unit covers (`start..end`).
    pub start: u32,
    pub end: u32,
    /// The scripts of the letters it came from ([`LATIN`], [`CYRILLIC`]).
    pub scripts: u8,
    /// Whether it came from a loose look-alike (Cyrillic в as b, з as 3): such a letter alone
    /// in a word of another script is that script's own word, not a disguise.
    pub weak: bool,
    /// Whether its run crossed a soft boundary (`b b` of `a b b i r d`): at the edge of a match
    /// the extra letters may belong to a neighbouring one-letter word.
    pub joined: bool,
}

/// A text folded for matching: [`Normalized::text`] holds one character per unit (runs
/// collapsed, no separators), for a multi-pattern automaton to run over.
#[derive(Clone, Debug, Default)]
pub struct Normalized {
    text: String,
    units: Vec<Unit>,
    /// For each byte of `text`, the unit it belongs to.
    unit_of_byte: Vec<u32>,
}

impl Normalized {
    /// One character per unit, runs collapsed and separators left out.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn units(&self) -> &[Unit] {
        &self.units
    }

    /// The unit at byte `at` of [`Normalized::text`].
    pub fn unit_at(&self, at: usize) -> usize {
        self.unit_of_byte
            .get(at)
            .map_or(self.units.len(), |&u| u as usize)
    }

    /// Whether a word may start at unit `i`.
    pub fn starts_word(&self, i: usize) -> bool {
        self.units
            .get(i)
            .is_some_and(|u| u.before != Boundary::None)
    }

    /// Whether a word may end after unit `i` (the next unit is separated, or there is none).
    pub fn ends_word(&self, i: usize) -> bool {
        self.units
            .get(i + 1)
            .is_none_or(|u| u.before != Boundary::None)
    }

    /// The original text's byte range that units `from..to` cover.
    pub fn span(&self, from: usize, to: usize) -> (usize, usize) {
        match (
            self.units.get(from),
            to.checked_sub(1).and_then(|l| self.units.get(l)),
        ) {
            (Some(a), Some(b)) => (a.start as usize, b.end as usize),
            _ => (0, 0),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }
}

/// What a folded character is, for tokenising.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Letter,
    Digit,
    /// `@` or `$`: a letter inside a word, punctuation elsewhere.
    Leet,
    Punct,
    Space,
}

#[derive(Clone, Copy, Debug)]
struct Sym {
    ch: char,
    class: Class,
    script: u8,
    weak: bool,
    start: u32,
    end: u32,
}

/// The script bit of a Latin letter in [`Unit::scripts`].
pub const LATIN: u8 = 1;
/// The script bit of a Cyrillic letter in [`Unit::scripts`].
pub const CYRILLIC: u8 = 2;

/// The script bit of a character (Latin, Cyrillic, or none for anything else), by its block.
pub fn script_of(c: char) -> u8 {
    match c as u32 {
        0x41..=0x5A
        | 0x61..=0x7A
        | 0xAA
        | 0xBA
        | 0xC0..=0x24F
        | 0x1D00..=0x1D7F
        | 0x1E00..=0x1EFF
        | 0x2C60..=0x2C7F
        | 0xA720..=0xA7FF
        | 0xAB30..=0xAB6F
        | 0xFB00..=0xFB06
        | 0xFF21..=0xFF3A
        | 0xFF41..=0xFF5A
            if c.is_alphabetic() =>
        {
            LATIN
        }
        0x400..=0x52F | 0x1C80..=0x1C8F | 0x2DE0..=0x2DFF | 0xA640..=0xA69F => CYRILLIC,
        _ => 0,
    }
}
fn classify(c: char) -> Class {
    if c.is_whitespace() {
        Class::Space
    } else if c.is_ascii_digit() {
        Class::Digit
    } else if c == '@' || c == '$' {
        Class::Leet
    } else if c.is_alphanumeric() {
        Class::Letter
    } else {
        Class::Punct
    }
}

/// The letter a digit or symbol stands for inside a word (the common leetspeak substitutions).
fn leet(c: char) -> Option<char> {
    Some(match c {
        '0' => 'o',
        '1' => 'i',
        '3' => 'e',
        '4' => 'a',
        '5' => 's',
        '8' => 'b',
        '7' => 't',
        '9' => 'g',
        '@' => 'a',
        '$' => 's',
        _ => return None,
    })
}

// The fold table, derived from Unicode's data by `build.rs`.
include!(concat!(env!("OUT_DIR"), "/fold_table.rs"));

/// Folds one character into zero or more comparable characters (see the module head).
/// Returns whether a loose look-alike was used (the prototype of the capital letter).
pub fn fold_char(c: char, out: &mut impl FnMut(char)) -> bool {
    if c.is_ascii() {
        out(c.to_ascii_lowercase());
        return false;
    }
    if is_invisible(c) {
        return false;
    }
    match FOLD.binary_search_by_key(&(c as u32), |&(k, _)| k) {
        Ok(i) => {
            let packed = FOLD[i].1 as usize;
            let (offset, len) = (packed >> 8, (packed >> 1) & 0x7F);
            FOLD_TEXT[offset..offset + len].chars().for_each(&mut *out);
            packed & 1 == 1
        }
        Err(_) => {
            c.to_lowercase().for_each(&mut *out);
            false
        }
    }
}

/// Folds `original` for matching (see the module head).
pub fn normalize(original: &str) -> Normalized {
    let mut syms = Vec::with_capacity(original.len());
    for (start, c) in original.char_indices() {
        let end = (start + c.len_utf8()) as u32;
        let start = start as u32;
        let script = if c.is_ascii() {
            if c.is_ascii_alphabetic() {
                LATIN
            } else {
                0
            }
        } else {
            script_of(c)
        };
        let first = syms.len();
        let weak = fold_char(c, &mut |ch| {
            syms.push(Sym {
                ch,
                class: classify(ch),
                script,
                weak: false,
                start,
                end,
            })
        });
        if weak {
            syms[first..].iter_mut().for_each(|s| s.weak = true);
        }
    }
    let mut out = Normalized {
        text: String::with_capacity(original.len()),
        units: Vec::with_capacity(syms.len()),
        unit_of_byte: Vec::with_capacity(original.len()),
    };
    // Tokens (whitespace-separated), with how many letters and digits each holds and whether
    // it has a letter; a run of one-character tokens counts as one word for the leetspeak test.
    // Each token with the whitespace before it (a line break counts as two: spaced-out letters
    // never run on across lines or across a double space).
    let mut tokens: Vec<(&[Sym], usize)> = Vec::new();
    let (mut i, mut gap) = (0, 0);
    while i < syms.len() {
        if syms[i].class == Class::Space {
            gap += if syms[i].ch == '\n' { 2 } else { 1 };
            i += 1;
            continue;
        }
        let j = syms[i..]
            .iter()
            .position(|s| s.class == Class::Space)
            .map_or(syms.len(), |p| i + p);
        tokens.push((&syms[i..j], gap));
        gap = 0;
        i = j;
    }
    // Per token: whether it holds anything to match, whether that is one letter (repeated or
    // not: `f r EEEE`), and whether it has a letter.
    let content: Vec<(bool, bool, bool)> = tokens
        .iter()
        .map(|(t, _)| {
            // One original character, perhaps repeated (`EEEE`), whatever it folds to.
            let mut content = t
                .iter()
                .filter(|s| matches!(s.class, Class::Letter | Class::Digit | Class::Leet));
            let first = content.next();
            let single = first.is_some_and(|f| {
                let first_char = &original[f.start as usize..f.end as usize];
                content.all(|s| {
                    &original[s.start as usize..s.end as usize] == first_char || s.start == f.start
                })
            });
            let letter = t.iter().any(|s| s.class == Class::Letter);
            (first.is_some(), single, letter)
        })
        .collect();
    let mut wordy = vec![false; tokens.len()];
    let mut i = 0;
    while i < tokens.len() {
        let mut j = i + 1;
        if content[i].1 {
            while j < tokens.len() && content[j].1 && tokens[j].1 == 1 {
                j += 1;
            }
        }
        let any = content[i..j].iter().any(|c| c.2);
        wordy[i..j].fill(any);
        i = j;
    }
    let mut pending = Boundary::Hard;
    let mut last_single = false;
    for (k, &(token, gap)) in tokens.iter().enumerate() {
        let (any, single, _) = content[k];
        let has_letter = wordy[k];
        if !any {
            // Punctuation alone (a dash, an emoji): a word boundary, nothing to match.
            pending = Boundary::Hard;
            last_single = false;
            continue;
        }
        if single && last_single && gap == 1 {
            // `f r e e`: one-character tokens in a row may be one spaced-out word, so the
            // spaces between them are soft boundaries (a word may also end at each).
            pending = Boundary::Soft;
        }
        for s in token.iter() {
            let ch = match s.class {
                Class::Letter => s.ch,
                Class::Digit | Class::Leet if has_letter => leet(s.ch).unwrap_or(s.ch),
                Class::Digit => s.ch,
                _ => {
                    pending = pending.max(Boundary::Soft);
                    continue;
                }
            };
            out.push(ch, s, pending);
            pending = Boundary::None;
        }
        pending = Boundary::Hard;
        last_single = single;
    }
    out
}

impl Normalized {
    fn push(&mut self, ch: char, s: &Sym, before: Boundary) {
        if let Some(last) = self.units.last_mut() {
            // A repeated letter is one unit, also across punctuation (`f.r.e.e`), never across
            // whitespace (`free entry` keeps its two words).
            if last.ch == ch && before != Boundary::Hard {
                last.run = last.run.saturating_add(1);
                last.end = s.end;
                last.scripts |= s.script;
                last.weak |= s.weak;
                last.joined |= before == Boundary::Soft;
                return;
            }
        }
        let index = self.units.len() as u32;
        self.units.push(Unit {
            ch,
            run: 1,
            before,
            start: s.start,
            end: s.end,
            scripts: s.script,
            weak: s.weak,
            joined: false,
        });
        self.text.push(ch);
        self.unit_of_byte
            .resize(self.unit_of_byte.len() + ch.len_utf8(), index);
    }
}

/// The longest search term kept, in characters (longer ones are not words people search for:
/// links, codes, base64).
pub const MAX_TERM_CHARS: usize = 40;

/// A text's search terms: its words (runs of letters and digits) folded like everything else
/// here, so `order#123` is `order` and `123`, with a repeated letter kept at most twice
/// (`freeee` and `free` are one term, `to` and `too` two), each once, in order of appearance.
/// The index and the query both go through it, so a search matches whatever the folding
/// equates: case, ё/е, look-alike letters, full-width forms.
pub fn search_terms(text: &str) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for (_, word) in search_words(text) {
        if word.chars().count() <= MAX_TERM_CHARS && !terms.contains(&word) {
            terms.push(word);
        }
    }
    terms
}

/// Every word of `text` with where it lies (bytes of `text`) and its folded form, as
/// [`search_terms`] reads them (before dropping long and repeated ones): for showing where a
/// search matched.
pub fn search_words(text: &str) -> Vec<(std::ops::Range<usize>, String)> {
    // Words first, each folded alone: punctuation splits (and never joins letters, as it may
    // for the filter), and digits next to letters through `#` stay digits. Inside a word:
    // letters and digits, and what folds to nothing (combining marks such as Arabic harakat,
    // invisible characters).
    let inside = |c: char| {
        let mut produced = false;
        c.is_alphanumeric() || {
            fold_char(c, &mut |_| produced = true);
            !produced
        }
    };
    let mut words = Vec::new();
    let mut start = None;
    for (at, c) in text.char_indices().chain([(text.len(), ' ')]) {
        match (inside(c) && at < text.len(), start) {
            (true, None) => start = Some(at),
            (false, Some(from)) => {
                let piece = &text[from..at];
                let mut word = String::new();
                for unit in normalize(piece).units() {
                    for _ in 0..unit.run.clamp(1, 2) {
                        word.push(unit.ch);
                    }
                }
                if !word.is_empty() {
                    words.push((from..at, word));
                }
                start = None;
            }
            _ => {}
        }
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folded(text: &str) -> String {
        normalize(text).text().to_owned()
    }

    #[test]
    fn evasions_fold_to_the_same_letters() {
        let free = folded("free");
        assert_eq!(free, "fre");
        for evasion in [
            "FREE",
            "FrEe",
            "fr33",
            "f r e e",
            "f.r.e.e",
            "f-r-e-e",
            "fr\u{200B}ee",
            "fr\u{0435}\u{0435}",
            "\u{FF46}\u{FF52}\u{FF45}\u{FF45}",
            "freeeeee",
            "ffrreeee",
        ] {
            assert_eq!(folded(evasion), free, "{evasion}");
        }
        let ru = folded("бесплатно");
        for evasion in [
            "БЕСПЛАТНО",
            "бeсплaтнo",
            "б е с п л а т н о",
            "бес-плат-но",
            "бесплаaатно",
            "6есплатно",
        ] {
            assert_eq!(folded(evasion), ru, "{evasion}");
        }
        assert_eq!(folded("ёлка"), folded("елка"));
    }

    #[test]
    fn runs_remember_their_length_and_units_map_back() {
        let n = normalize("Get FREEE now");
        let e = n
            .units()
            .iter()
            .find(|u| u.ch == 'e' && u.run == 3)
            .unwrap();
        assert_eq!(&"Get FREEE now"[e.start as usize..e.end as usize], "EEE");
        let at = n.text().find("fre").unwrap();
        let first = n.unit_at(at);
        assert!(n.starts_word(first));
        assert!(n.ends_word(first + 2));
        assert_eq!(n.span(first, first + 3), (4, 9));
    }

    #[test]
    fn numbers_stay_numbers_and_boundaries_are_kept() {
        // No letter in the token: digits are digits, not leetspeak.
        assert_eq!(folded("call 100"), "cal10");
        let n = normalize("carefree, free!");
        let units = n.units();
        assert_eq!(units[0].before, Boundary::Hard);
        // `carefree`: no boundary before its `f`.
        let f = units.iter().position(|u| u.ch == 'f').unwrap();
        assert_eq!(units[f].before, Boundary::None);
        assert!(normalize("").is_empty());
        assert!(normalize(" \u{200B} —  ").is_empty());
    }

    #[test]
    fn search_terms_fold_split_and_keep_two_of_a_run() {
        assert_eq!(
            search_terms("Order#123, please!"),
            ["order", "123", "please"]
        );
        assert_eq!(search_terms("FREEEE free"), ["free"]);
        assert_eq!(search_terms("to too"), ["to", "too"]);
        // ё/е and case fold; Latin look-alikes inside a Cyrillic word fold as the word does.
        assert_eq!(search_terms("Ёлка"), search_terms("елка"));
        assert_eq!(search_terms("ЦЕНА"), search_terms("цена"));
        assert_eq!(search_terms("مرحبا بك"), search_terms("مرحبا  بك"));
        assert_eq!(search_terms("مرحبا بك").len(), 2);
        assert!(search_terms("?!… — ...").is_empty());
        assert!(
            search_terms(&"abcdefghij".repeat(5)).is_empty(),
            "longer than a word"
        );
    }
}
