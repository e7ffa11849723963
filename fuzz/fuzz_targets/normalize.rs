//! The text normaliser every matcher shares: any text folded. Must never panic, and every unit
//! (and every span mapped back) must lie inside the original, on character boundaries, in order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_shared::normalize::normalize;

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
});
