//! The normaliser and the filter on hostile text: random strings from pools of awkward
//! characters (combining marks, invisible and direction characters, look-alikes, leetspeak
//! symbols, full-width forms, emoji, surrogates' neighbours, whitespace of every kind), as
//! terms and as messages. Nothing may panic, and every match must be a span of the text on
//! character boundaries whose `text` is exactly that span. Fixed seed, so a failure reproduces.

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use switchboard_shared::compliance::{
    check_list, Filter, FilterAction, PatternKind, TermFit, TermList, TermListInput,
};
use switchboard_shared::normalize::normalize;
use switchboard_shared::TermListId;

const POOL: &[char] = &[
    'a',
    'e',
    'o',
    'f',
    'r',
    'A',
    'E',
    'Z',
    'а',
    'е',
    'о',
    'р',
    'с',
    'б',
    'в',
    'з',
    'й',
    'ё',
    'Ё',
    'ы',
    'ю',
    'Ю',
    '0',
    '1',
    '3',
    '4',
    '5',
    '7',
    '8',
    '@',
    '$',
    '*',
    '-',
    '.',
    '_',
    '!',
    ' ',
    '\n',
    '\t',
    '\u{00A0}',
    '\u{2003}',
    '\u{200B}',
    '\u{200D}',
    '\u{2060}',
    '\u{FEFF}',
    '\u{00AD}',
    '\u{202E}',
    '\u{0301}',
    '\u{0308}',
    '\u{0306}',
    '\u{FF46}',
    '\u{FF52}',
    '\u{FF45}',
    '\u{FF10}',
    '\u{FB01}',
    'ß',
    'İ',
    'ı',
    'ǅ',
    'Ω',
    'ℌ',
    '𝔣',
    '𝐫',
    '🅵',
    '😀',
    '👍',
    '\u{1F3FD}',
    '中',
    '한',
    'ع',
    '\u{0000}',
    '\u{FFFD}',
    '\u{E000}',
    '\u{10FFFF}',
];

fn random_text(rng: &mut StdRng, max: usize) -> String {
    let n = rng.random_range(0..=max);
    (0..n).map(|_| *POOL.choose(rng).unwrap()).collect()
}

#[test]
fn hostile_text_never_panics_and_every_span_is_the_text() {
    let mut rng = StdRng::seed_from_u64(24);
    for round in 0..300 {
        let terms: Vec<String> = (0..rng.random_range(1..30))
            .map(|_| random_text(&mut rng, 12))
            .collect();
        let input = TermListInput {
            name: "fuzz".into(),
            terms: terms.clone(),
            exceptions: vec![random_text(&mut rng, 8)],
            fit: if round % 2 == 0 {
                TermFit::Word
            } else {
                TermFit::Contains
            },
            enabled: true,
            ..Default::default()
        };
        // Terms with nothing to match are refused by the check; the rest must compile.
        let terms: Vec<String> = terms
            .into_iter()
            .filter(|t| {
                check_list(&TermListInput {
                    terms: vec![t.clone()],
                    exceptions: vec![],
                    ..input.clone()
                })
                .is_ok()
            })
            .collect();
        let exceptions: Vec<String> = input
            .exceptions
            .iter()
            .filter(|e| !normalize(e.trim_matches('*')).is_empty())
            .cloned()
            .collect();
        let list = TermList {
            id: TermListId::new("tl_fuzz"),
            name: "fuzz".into(),
            category: "fuzz".into(),
            action: FilterAction::Block,
            fit: input.fit,
            terms,
            exceptions,
            patterns: vec![PatternKind::CardNumber],
            teams: vec![],
            numbers: vec![],
            enabled: true,
            version: 1,
            updated_at: 0,
            updated_by: "fuzz".into(),
        };
        let filter = Filter::compile(&[list]).expect("checked terms compile");
        for _ in 0..100 {
            let text = random_text(&mut rng, 200);
            for m in filter.scan(&text, None) {
                assert!(m.start <= m.end && m.end <= text.len(), "{m:?} in {text:?}");
                assert!(
                    text.is_char_boundary(m.start) && text.is_char_boundary(m.end),
                    "{m:?} in {text:?}"
                );
                assert_eq!(m.text, text[m.start..m.end], "{text:?}");
            }
        }
    }
}
