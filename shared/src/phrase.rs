//! Finding many phrases in a text at once, through the [`crate::normalize`] folding: one
//! Aho-Corasick automaton over every phrase, built once when the phrases change and run once
//! per text, whatever the number of phrases.
//!
//! Owns: compiling phrases (with their word-boundary rules) and reporting where each occurs.
//! Must not: know what a phrase is for (a blocked term, an exception, a keyword); callers tag
//! each phrase with their own index.
//!
//! A phrase is matched as a whole word unless the caller asks for `contains`; in a word phrase a
//! leading or trailing `*` lets the word go on that way (`бесплатн*` matches бесплатно and
//! бесплатный). Between the phrase's own words any boundary will do (`free shipping` matches
//! `free-shipping`); inside its words only punctuation may appear (`fr.ee`), never whitespace
//! that would join two innocent words into a term.

use aho_corasick::automaton::Automaton;
use aho_corasick::nfa::contiguous::NFA;
use aho_corasick::{Input, MatchKind};

use crate::normalize::{normalize, script_of, Boundary, Normalized, CYRILLIC, LATIN};

/// How a phrase must sit in the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fit {
    /// A whole word (or words); `*` at either end lets the word go on.
    Word,
    /// Anywhere, even inside a longer word.
    Contains,
}

/// Why a phrase cannot be compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PhraseError {
    /// Nothing left to match once folded (only punctuation, spaces or invisible characters).
    Empty { phrase: String },
    /// Longer than [`MAX_PHRASE_CHARS`].
    TooLong { phrase: String },
}

impl std::fmt::Display for PhraseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PhraseError::Empty { phrase } => {
                write!(f, "`{phrase}` has no letters or digits to match")
            }
            PhraseError::TooLong { phrase } => write!(
                f,
                "`{}…` is longer than {MAX_PHRASE_CHARS} characters",
                phrase.chars().take(20).collect::<String>()
            ),
        }
    }
}

/// The longest phrase accepted.
pub const MAX_PHRASE_CHARS: usize = 200;

#[derive(Clone, Debug)]
struct Compiled {
    /// The caller's tag.
    owner: usize,
    /// Each unit's minimum run.
    runs: Vec<u16>,
    /// Each unit's boundary in the phrase (the first one's is ignored).
    joins: Vec<Boundary>,
    word_start: bool,
    word_end: bool,
    /// A whole-word phrase with `*` at its start or end.
    open_start: bool,
    open_end: bool,
    /// The script of the phrase's letters when it has one ([`LATIN`] or [`CYRILLIC`]), else 0.
    script: u8,
}

/// Where a phrase occurs: its owner's tag and the units `from..to` of the normalised text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found {
    pub owner: usize,
    pub from: usize,
    pub to: usize,
}

/// A compiled set of phrases.
#[derive(Clone, Debug)]
pub struct PhraseSet {
    /// A contiguous NFA, the automaton the crate's own `AhoCorasick` picks for large pattern
    /// sets, used directly so the client does not carry the other kinds' builders.
    automaton: Option<NFA>,
    /// For each automaton pattern, the phrases that fold to it.
    by_pattern: Vec<Vec<Compiled>>,
}

impl PhraseSet {
    /// Compiles `(owner, phrase, fit)` triples. Phrases that fold to the same letters share one
    /// automaton pattern.
    pub fn build<'a>(
        phrases: impl IntoIterator<Item = (usize, &'a str, Fit)>,
    ) -> Result<Self, PhraseError> {
        let mut patterns: Vec<String> = Vec::new();
        let mut by_pattern: Vec<Vec<Compiled>> = Vec::new();
        let mut index: std::collections::HashMap<String, usize> = Default::default();
        for (owner, phrase, fit) in phrases {
            if phrase.chars().count() > MAX_PHRASE_CHARS {
                return Err(PhraseError::TooLong {
                    phrase: phrase.to_owned(),
                });
            }
            let trimmed = phrase.trim();
            let (open_start, rest) = match trimmed.strip_prefix('*') {
                Some(r) => (true, r),
                None => (false, trimmed),
            };
            let (open_end, body) = match rest.strip_suffix('*') {
                Some(r) => (true, r),
                None => (false, rest),
            };
            let folded = normalize(body);
            if folded.is_empty() {
                return Err(PhraseError::Empty {
                    phrase: phrase.to_owned(),
                });
            }
            let compiled = Compiled {
                owner,
                runs: folded.units().iter().map(|u| u.run).collect(),
                joins: folded.units().iter().map(|u| u.before).collect(),
                word_start: fit == Fit::Word && !open_start,
                word_end: fit == Fit::Word && !open_end,
                open_start: fit == Fit::Word && open_start,
                open_end: fit == Fit::Word && open_end,
                script: match body
                    .chars()
                    .filter(|c| c.is_alphabetic())
                    .fold(0, |acc, c| acc | script_of(c))
                {
                    s @ (LATIN | CYRILLIC) => s,
                    _ => 0,
                },
            };
            let slot = *index.entry(folded.text().to_owned()).or_insert_with(|| {
                patterns.push(folded.text().to_owned());
                by_pattern.push(Vec::new());
                patterns.len() - 1
            });
            by_pattern[slot].push(compiled);
        }
        let automaton = if patterns.is_empty() {
            None
        } else {
            Some(
                NFA::builder()
                    .match_kind(MatchKind::Standard)
                    .build(&patterns)
                    .map_err(|e| PhraseError::TooLong {
                        phrase: e.to_string(),
                    })?,
            )
        };
        Ok(Self {
            automaton,
            by_pattern,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.by_pattern.is_empty()
    }

    /// Every occurrence of every phrase in `text` (overlapping ones too), in text order.
    pub fn find(&self, text: &Normalized, mut found: impl FnMut(Found)) {
        let Some(automaton) = &self.automaton else {
            return;
        };
        let Ok(matches) = automaton.try_find_overlapping_iter(Input::new(text.text())) else {
            return;
        };
        for m in matches {
            let from = text.unit_at(m.start());
            let to = text.unit_at(m.end());
            let units = &text.units()[from..to];
            for c in &self.by_pattern[m.pattern().as_usize()] {
                let last = units.len() - 1;
                let fits = units.iter().zip(&c.runs).enumerate().all(|(j, (u, &run))| {
                    // At an edge where the phrase may sit inside a longer word, the word's own
                    // letters may double the edge (`ship` in `shipping`); so may a one-letter
                    // word beside a spaced-out one (`b b i r d`).
                    let open = (j == 0 && (!c.word_start || u.joined))
                        || (j == last && (!c.word_end || u.joined));
                    if open {
                        u.run >= run
                    } else {
                        runs_fit(u.run, run)
                    }
                }) && units
                    .iter()
                    .zip(&c.joins)
                    .skip(1)
                    .all(|(u, &join)| match join {
                        // Inside a word of the phrase: punctuation may intervene, spaces not.
                        Boundary::None => u.before != Boundary::Hard,
                        // Between the phrase's words: some boundary.
                        _ => u.before != Boundary::None,
                    })
                    && (!c.word_start || text.starts_word(from))
                    && (!c.word_end || text.ends_word(to - 1))
                    && !other_script_word(units, c.script);
                if fits {
                    // A word left open by `*` is reported whole (`бесплатн*` in БЕСПЛАТНАЯ marks
                    // the word, not its first eight letters).
                    let (mut from, mut to) = (from, to);
                    if c.open_start {
                        while from > 0 && !text.starts_word(from) {
                            from -= 1;
                        }
                    }
                    if c.open_end {
                        while !text.ends_word(to - 1) {
                            to += 1;
                        }
                    }
                    found(Found {
                        owner: c.owner,
                        from,
                        to,
                    });
                }
            }
        }
    }
}

/// Whether the matched units are a word of another script that only loosely looks like the
/// phrase: no letter of the phrase's script, and some loose look-alike (Russian `везет` folds
/// like `bet`, but nobody disguises `bet` that way; `рау` for `pay` is all close look-alikes and
/// is a disguise).
fn other_script_word(units: &[crate::normalize::Unit], script: u8) -> bool {
    script != 0 && units.iter().all(|u| u.scripts & script == 0) && units.iter().any(|u| u.weak)
}

/// Whether a letter repeated `found` times stands for the phrase's `wanted`: the same count, or
/// drawn out to three or more (`freeee`). A doubled letter alone is a different word as often as
/// not (`chanel`, `channel`), so it is no evasion.
fn runs_fit(found: u16, wanted: u16) -> bool {
    found == wanted || (found >= 3 && found >= wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(phrases: &[(&str, Fit)], text: &str) -> Vec<(usize, String)> {
        let set =
            PhraseSet::build(phrases.iter().enumerate().map(|(i, (p, f))| (i, *p, *f))).unwrap();
        let n = normalize(text);
        let mut out = Vec::new();
        set.find(&n, |f| {
            let (a, b) = n.span(f.from, f.to);
            out.push((f.owner, text[a..b].to_owned()));
        });
        out
    }

    #[test]
    fn whole_words_match_and_innocent_words_do_not() {
        let p = [("free", Fit::Word)];
        assert_eq!(hits(&p, "Get it FR33 today"), vec![(0, "FR33".into())]);
        assert_eq!(hits(&p, "f r e e gift"), vec![(0, "f r e e".into())]);
        assert_eq!(hits(&p, "a f f r e e"), vec![(0, "f f r e e".into())]);
        assert_eq!(hits(&p, "(free)"), vec![(0, "free".into())]);
        assert!(hits(&p, "carefree days").is_empty());
        assert!(hits(&p, "freedom").is_empty());
        assert!(hits(&p, "a fre offer").is_empty());
        assert!(hits(&p, "of reel").is_empty());
        assert_eq!(hits(&[("free", Fit::Contains)], "carefree").len(), 1);
        assert_eq!(hits(&[("ship", Fit::Contains)], "shipping").len(), 1);
    }

    #[test]
    fn stars_open_a_word_and_phrases_span_boundaries() {
        let p = [("бесплатн*", Fit::Word), ("free shipping", Fit::Word)];
        assert_eq!(
            hits(&p, "Доставка БЕСПЛАТНАЯ!"),
            vec![(0, "БЕСПЛАТНАЯ".into())]
        );
        assert_eq!(hits(&p, "free-shipping").len(), 1);
        assert_eq!(hits(&p, "FREE   SHIPPING").len(), 1);
        assert!(hits(&p, "freeshipping").is_empty());
        assert!(hits(&p, "небесплатно").is_empty());
    }

    #[test]
    fn empty_phrases_are_refused() {
        assert!(matches!(
            PhraseSet::build([(0, " *-* ", Fit::Word)]),
            Err(PhraseError::Empty { .. })
        ));
        let set = PhraseSet::build(std::iter::empty()).unwrap();
        assert!(set.is_empty());
        set.find(&normalize("anything"), |_| panic!("no phrases"));
    }
}
