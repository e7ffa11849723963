//! The outgoing word filter: any JSON as a term list, checked as the API checks it; a list that
//! passes is compiled and scans the text after the `\0`. Must never panic; every match lies on
//! character boundaries of the text and quotes it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_shared::compliance::{check_list, Filter, TermList, TermListInput};
use switchboard_shared::TermListId;

fuzz_target!(|data: &[u8]| {
    let (json, text) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b"free money"[..]),
    };
    let Ok(input) = serde_json::from_slice::<TermListInput>(json) else {
        return;
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    if check_list(&input).is_err() {
        return;
    }
    let list = TermList {
        id: TermListId::new("tl_fuzz"),
        name: input.name,
        category: input.category.unwrap_or_default(),
        action: input.action,
        fit: input.fit,
        terms: input.terms,
        exceptions: input.exceptions,
        patterns: input.patterns,
        teams: Vec::new(),
        numbers: Vec::new(),
        enabled: true,
        version: 1,
        updated_at: 0,
        updated_by: String::new(),
    };
    let filter = Filter::compile(&[list]).expect("a checked list compiles");
    for m in filter.scan(text, None) {
        assert!(m.start <= m.end && m.end <= text.len());
        assert!(text.is_char_boundary(m.start) && text.is_char_boundary(m.end));
        assert_eq!(m.text, text[m.start..m.end]);
    }
});
