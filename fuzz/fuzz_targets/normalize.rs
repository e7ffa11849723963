//! The text normaliser every matcher shares: any text folded. Must never panic, and every unit
//! (and every span mapped back) must lie inside the original, on character boundaries, in order.
//! Search's words lie inside the original too, and its terms are words: non-empty, no space,
//! not too long, each once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_shared::normalize::{normalize, search_terms, search_words, MAX_TERM_CHARS};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let folded = normalize(text);
    let units = folded.units();
    let mut last = 0usize;
    for u in units {
        let (start, end) = (u.start as usize, u.end as usize);
        assert!(
            start < end && end <= text.len(),
            "{start}..{end} of {}",
            text.len()
        );
        assert!(text.is_char_boundary(start) && text.is_char_boundary(end));
        assert!(start >= last, "units in order");
        last = start;
    }
    assert_eq!(folded.text().chars().count(), units.len());
    for from in 0..units.len().min(8) {
        for to in from + 1..=units.len().min(from + 8) {
            let (s, e) = folded.span(from, to);
            assert!(s <= e && e <= text.len());
            assert!(text.is_char_boundary(s) && text.is_char_boundary(e));
        }
    }
    let mut end = 0;
    for (range, word) in search_words(text) {
        assert!(range.start >= end && range.start < range.end && range.end <= text.len());
        assert!(text.is_char_boundary(range.start) && text.is_char_boundary(range.end));
        assert!(!word.is_empty());
        end = range.end;
    }
    let terms = search_terms(text);
    for (i, term) in terms.iter().enumerate() {
        assert!(!term.is_empty() && term.chars().count() <= MAX_TERM_CHARS);
        assert!(!term.contains(char::is_whitespace), "{term:?}");
        assert!(!terms[..i].contains(term), "{term:?} twice");
    }
});
