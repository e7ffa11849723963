//! How well the outgoing word filter catches evasions and leaves ordinary messages alone, on a
//! corpus generated here from a fixed seed:
//!
//! - the term list: 100 risky English and Russian terms written for this test plus 400 words
//!   drawn from the middle of wordfreq's frequency lists (`tests/corpus/`), 500 in all;
//! - evasions: 25 per term (12,500), each term disguised by one to three of: mixed case,
//!   spacing out, punctuation inside, zero-width characters, Latin/Cyrillic look-alikes,
//!   leetspeak, repeated letters, full-width letters; set inside a sentence of ordinary words;
//! - clean messages: 100,000 sentences of 3 to 30 words from the 20,000 most frequent English
//!   and Russian words (none of them a term, or for a `*` term a word it begins), with numbers,
//!   prices, phone numbers, emoji and punctuation mixed in.
//!
//! Recall must be at least 99% and false positives at most 0.5% (issue 20's figures); the
//! measured rates are printed (`cargo test -p switchboard-shared --test filter_quality --
//! --nocapture`) and recorded in docs/benchmarks.md.

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use switchboard_shared::compliance::{Filter, MAX_TERMS_PER_LIST};
use switchboard_shared::compliance::{FilterAction, TermFit, TermList};
use switchboard_shared::TermListId;

const RISKY: &[&str] = &[
    // English.
    "free",
    "win",
    "winner",
    "prize",
    "lottery",
    "casino",
    "bet",
    "betting",
    "jackpot",
    "cash",
    "loan",
    "payday",
    "credit",
    "debt",
    "crypto",
    "bitcoin",
    "investment",
    "profit",
    "guaranteed",
    "bonus",
    "gift card",
    "click here",
    "limited offer",
    "act now",
    "urgent",
    "password",
    "verify account",
    "wire transfer",
    "western union",
    "viagra",
    "pills",
    "pharmacy",
    "weight loss",
    "adult",
    "dating",
    "hookup",
    "gamble",
    "poker",
    "slots",
    "forex",
    "claim now",
    "cheap",
    "promo code",
    "earn money",
    "work from home",
    "no risk",
    "million",
    "exclusive deal",
    "refinance",
    "inheritance",
    // Russian.
    "бесплатно",
    "бесплатн*",
    "выигрыш",
    "выиграй",
    "приз",
    "лотерея",
    "казино",
    "ставки",
    "джекпот",
    "кредит",
    "займ",
    "микрозайм",
    "долг",
    "крипта",
    "криптовалюта",
    "биткоин",
    "инвестиции",
    "прибыль",
    "гарантия",
    "бонус",
    "подарок",
    "скидка",
    "срочно",
    "пароль",
    "перевод на карту",
    "виагра",
    "таблетки",
    "похудение",
    "знакомства",
    "интим",
    "покер",
    "слоты",
    "форекс",
    "заработок",
    "заработай",
    "халява",
    "розыгрыш",
    "промокод",
    "кешбэк",
    "наличные",
    "обнал",
    "взлом",
    "букмекер",
    "тотализатор",
    "лохотрон",
    "пирамида",
    "без вложений",
    "легкие деньги",
    "миллион",
    "наследство",
];

fn words(lang: &str) -> Vec<String> {
    let path = format!(
        "{}/../tests/corpus/words-{lang}.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .map(str::to_owned)
        .collect()
}

fn terms(en: &[String], ru: &[String]) -> Vec<String> {
    let mut terms: Vec<String> = RISKY.iter().map(|t| (*t).to_owned()).collect();
    let mut pick = |list: &[String], n: usize| {
        let middle: Vec<&String> = list[2000..]
            .iter()
            .filter(|w| w.chars().count() >= 5)
            .collect();
        let step = middle.len() / n;
        for w in middle.iter().step_by(step).take(n) {
            if !terms.contains(w) {
                terms.push((*w).clone());
            }
        }
    };
    pick(en, 210);
    pick(ru, 210);
    terms.truncate(500);
    assert_eq!(terms.len(), 500);
    terms
}

/// Whether an ordinary word is (or, for a `*` term, begins as) a term: such words are hits,
/// not false positives, so clean messages leave them out.
fn is_term(word: &str, terms: &[String]) -> bool {
    let fold = |w: &str| w.to_lowercase().replace('ё', "е");
    let w = fold(word);
    terms.iter().any(|t| match t.strip_suffix('*') {
        Some(stem) => w.starts_with(&fold(stem)),
        None => fold(t).split(' ').any(|part| part == w),
    })
}

const LATIN_TO_CYRILLIC: &[(char, char)] = &[
    ('a', 'а'),
    ('e', 'е'),
    ('o', 'о'),
    ('p', 'р'),
    ('c', 'с'),
    ('x', 'х'),
    ('y', 'у'),
    ('i', 'і'),
    ('k', 'к'),
    ('s', 'ѕ'),
    ('j', 'ј'),
    ('h', 'һ'),
];
const CYRILLIC_TO_LATIN: &[(char, char)] = &[
    ('а', 'a'),
    ('е', 'e'),
    ('о', 'o'),
    ('р', 'p'),
    ('с', 'c'),
    ('х', 'x'),
    ('у', 'y'),
    ('к', 'k'),
    ('м', 'M'),
    ('т', 'T'),
    ('н', 'H'),
    ('в', 'B'),
];
const LEET: &[(char, &[char])] = &[
    ('a', &['4', '@']),
    ('e', &['3']),
    ('o', &['0']),
    ('i', &['1']),
    ('s', &['5', '$']),
    ('t', &['7']),
    ('b', &['8']),
    ('о', &['0']),
    ('б', &['6']),
    ('з', &['3']),
    ('а', &['@']),
];
const INVISIBLE: &[char] = &['\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}'];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Evasion {
    Case,
    Spaced,
    Punctuation,
    Invisible,
    LookAlike,
    Leet,
    Repeat,
    FullWidth,
}

const EVASIONS: &[Evasion] = &[
    Evasion::Case,
    Evasion::Spaced,
    Evasion::Punctuation,
    Evasion::Invisible,
    Evasion::LookAlike,
    Evasion::Leet,
    Evasion::Repeat,
    Evasion::FullWidth,
];

/// Disguises each word of `term` (a `*` term is used with an ending).
fn evade(term: &str, rng: &mut StdRng) -> String {
    let base = match term.strip_suffix('*') {
        Some(stem) => format!("{stem}ый"),
        None => term.to_owned(),
    };
    let n = rng.random_range(1..=3);
    let mut chosen: Vec<Evasion> = Vec::new();
    while chosen.len() < n {
        let e = *EVASIONS.choose(rng).unwrap();
        // Spacing out and punctuation are two ways of splitting one word: one per evasion.
        let clash = matches!(e, Evasion::Spaced | Evasion::Punctuation)
            && chosen
                .iter()
                .any(|c| matches!(c, Evasion::Spaced | Evasion::Punctuation));
        if !chosen.contains(&e) && !clash {
            chosen.push(e);
        }
    }
    let words: Vec<String> = base
        .split(' ')
        .map(|w| {
            let mut letters: Vec<String> = w.chars().map(String::from).collect();
            for e in &chosen {
                letters = apply(*e, letters, rng);
            }
            let joiner = if chosen.contains(&Evasion::Spaced) {
                " "
            } else if chosen.contains(&Evasion::Punctuation) {
                *[".", "-", "_", "*", "~"].choose(rng).unwrap()
            } else {
                ""
            };
            letters.join(joiner)
        })
        .collect();
    // Spaced-out words keep a double space between them, as a person would type it.
    let gap = if chosen.contains(&Evasion::Spaced) {
        "  "
    } else {
        " "
    };
    words.join(gap)
}

fn apply(e: Evasion, letters: Vec<String>, rng: &mut StdRng) -> Vec<String> {
    letters
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            let c = l.chars().last().unwrap();
            match e {
                Evasion::Case if rng.random_bool(0.5) => l.to_uppercase(),
                Evasion::Invisible if i > 0 && rng.random_bool(0.4) => {
                    format!("{}{l}", INVISIBLE.choose(rng).unwrap())
                }
                Evasion::LookAlike if rng.random_bool(0.6) => {
                    let table = if c.is_ascii() {
                        LATIN_TO_CYRILLIC
                    } else {
                        CYRILLIC_TO_LATIN
                    };
                    match table.iter().find(|(from, _)| *from == c) {
                        Some((_, to)) => l.replace(c, &to.to_string()),
                        None => l,
                    }
                }
                Evasion::Leet if rng.random_bool(0.5) => match LEET.iter().find(|(f, _)| *f == c) {
                    Some((_, to)) => l.replace(c, &to.choose(rng).unwrap().to_string()),
                    None => l,
                },
                Evasion::Repeat if rng.random_bool(0.3) => {
                    let times = rng.random_range(3..=5);
                    l.repeat(times)
                }
                Evasion::FullWidth if c.is_ascii_alphabetic() => {
                    let (base, wide) = if c.is_ascii_lowercase() {
                        ('a', 0xFF41)
                    } else {
                        ('A', 0xFF21)
                    };
                    let to = char::from_u32(c as u32 - base as u32 + wide).unwrap();
                    l.replace(c, &to.to_string())
                }
                _ => l,
            }
        })
        .collect()
}

fn sentence(vocabulary: &[&String], rng: &mut StdRng, from: usize, to: usize) -> String {
    let n = rng.random_range(from..=to);
    let mut out = String::new();
    for i in 0..n {
        if i > 0 {
            out.push(' ');
        }
        match rng.random_range(0..40) {
            0 => out.push_str(&format!("{}", rng.random_range(1..5000))),
            1 => out.push_str(&format!(
                "{}.{:02}$",
                rng.random_range(1..999),
                rng.random_range(0..99)
            )),
            2 => out.push_str(&format!(
                "+7 9{:02} {:03}-{:02}-{:02}",
                rng.random_range(0..99),
                rng.random_range(0..999),
                rng.random_range(0..99),
                rng.random_range(0..99)
            )),
            3 => out.push_str(["🙂", "👍", "—", "(", ")", "…"].choose(rng).unwrap()),
            _ => {
                let w = vocabulary.choose(rng).unwrap();
                if rng.random_bool(0.1) {
                    let mut c = w.chars();
                    let first = c.next().unwrap().to_uppercase().collect::<String>();
                    out.push_str(&format!("{first}{}", c.as_str()));
                } else {
                    out.push_str(w);
                }
                if rng.random_bool(0.12) {
                    out.push_str([",", ".", "!", "?", ":", ";"].choose(rng).unwrap());
                }
            }
        }
    }
    out
}

fn list(terms: &[String]) -> TermList {
    TermList {
        id: TermListId::new("tl_quality"),
        name: "quality".into(),
        category: "spam".into(),
        action: FilterAction::Block,
        fit: TermFit::Word,
        terms: terms.to_vec(),
        exceptions: vec![],
        patterns: vec![],
        teams: vec![],
        numbers: vec![],
        enabled: true,
        version: 1,
        updated_at: 0,
        updated_by: "test".into(),
    }
}

#[test]
fn evasions_are_caught_and_ordinary_messages_pass() {
    let (en, ru) = (words("en"), words("ru"));
    let terms = terms(&en, &ru);
    assert!(terms.len() <= MAX_TERMS_PER_LIST);
    let filter = Filter::compile(&[list(&terms)]).unwrap();
    let vocabulary: Vec<&String> = en
        .iter()
        .chain(ru.iter())
        .filter(|w| !is_term(w, &terms))
        .collect();
    let mut rng = StdRng::seed_from_u64(20);

    let mut missed = Vec::new();
    let mut total = 0;
    for term in &terms {
        for _ in 0..25 {
            let disguised = evade(term, &mut rng);
            let text = format!(
                "{} {disguised} {}",
                sentence(&vocabulary, &mut rng, 0, 8),
                sentence(&vocabulary, &mut rng, 0, 8)
            );
            total += 1;
            if !filter.scan(&text, None).iter().any(|m| &m.term == term) {
                missed.push(disguised);
            }
        }
    }
    let recall = 1.0 - missed.len() as f64 / total as f64;

    let clean = 100_000;
    let mut flagged = Vec::new();
    for _ in 0..clean {
        let text = sentence(&vocabulary, &mut rng, 3, 30);
        let found = filter.scan(&text, None);
        if let Some(m) = found.first() {
            flagged.push(format!("{:?} ({:?}) in {text:?}", m.text, m.term));
        }
    }
    let false_positives = flagged.len() as f64 / clean as f64;
    println!(
        "evasions: {total}, missed {} (recall {:.2}%); clean messages: {clean}, flagged {} \
         (false positives {:.3}%)",
        missed.len(),
        recall * 100.0,
        flagged.len(),
        false_positives * 100.0
    );
    println!("missed, first 20: {:?}", &missed[..missed.len().min(20)]);
    println!(
        "flagged, first 20: {:#?}",
        &flagged[..flagged.len().min(20)]
    );
    assert!(recall >= 0.99, "recall {recall}");
    assert!(
        false_positives <= 0.005,
        "false positives {false_positives}"
    );
}
