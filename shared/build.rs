//! Derives the normaliser's fold table from Unicode's own data at build time, so the WASM
//! client carries a few thousand entries instead of the Unicode crates' whole tables (they
//! stay build dependencies: nothing here is hand-written).
//!
//! For every character of the blocks where look-alikes, compatibility forms and combining marks
//! live (Latin, Greek, Cyrillic, Armenian, Cherokee, IPA, punctuation and spaces, letterlike
//! symbols, enclosed and full-width forms, mathematical alphanumerics), it folds the character
//! the way `normalize.rs` documents: compatibility decomposition (`unicode-normalization`),
//! combining marks dropped, lower case, and the UTS #39 confusable prototype
//! (`unicode-security`), taking the capital's prototype when only that one is Latin (flagged
//! "loose"). Characters whose fold is plain lower-casing are left out (the runtime lower-cases
//! what the table does not hold), and so is everything outside those blocks.

use std::fmt::Write as _;

use unicode_normalization::char::{decompose_compatible, is_combining_mark};

const BLOCKS: &[(u32, u32)] = &[
    (0x00A0, 0x058F), // Latin-1 to Latin Extended-B, IPA, modifiers, marks, Greek, Cyrillic, Armenian
    (0x13A0, 0x13FF), // Cherokee
    (0x1AB0, 0x1AFF), // combining marks extended
    (0x1C80, 0x1C8F), // Cyrillic Extended-C
    (0x1D00, 0x1FFF), // phonetic extensions, marks supplement, Latin Extended Additional, Greek Extended
    (0x2000, 0x218F), // punctuation, spaces, super/subscripts, marks for symbols, letterlike, number forms
    (0x2460, 0x24FF), // enclosed alphanumerics
    (0x2C60, 0x2C7F), // Latin Extended-C
    (0x2DE0, 0x2DFF), // Cyrillic Extended-A
    (0xA640, 0xA69F), // Cyrillic Extended-B
    (0xA720, 0xA7FF), // Latin Extended-D
    (0xAB30, 0xAB6F), // Latin Extended-E
    (0xFB00, 0xFB06), // Latin ligatures
    (0xFE20, 0xFE2F), // combining half marks
    (0xFF00, 0xFFEF), // full-width and half-width forms
    (0x1D400, 0x1D7FF), // mathematical alphanumeric symbols
    (0x1F100, 0x1F1FF), // enclosed alphanumeric supplement
];

/// The lower-cased UTS #39 prototype of one character, marks dropped.
fn prototype(c: char) -> String {
    let mut buf = [0u8; 4];
    unicode_security::skeleton(c.encode_utf8(&mut buf))
        .filter(|p| !is_combining_mark(*p))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The fold of one character outside ASCII, and whether a loose look-alike was used.
fn fold(c: char) -> (String, bool) {
    // й is a letter of its own in Russian (инвестиций is not инвестиции), not и with a mark.
    if c == 'й' || c == 'Й' {
        return ("й".into(), false);
    }
    let mut folded = String::new();
    let mut weak = false;
    decompose_compatible(c, |d| {
        if is_combining_mark(d) {
            return;
        }
        for lower in d.to_lowercase() {
            // Only letters and digits have look-alikes worth folding: the skeleton of a dash is
            // a Katakana letter, which would turn punctuation into a word.
            if lower.is_ascii() || !lower.is_alphanumeric() {
                folded.push(lower);
                continue;
            }
            let small = prototype(lower);
            if small.chars().count() > 1 {
                // ы (ьі), ю (іо): a letter some way from any one Latin letter stays itself.
                folded.push(lower);
                continue;
            }
            if small.is_ascii() {
                folded.push_str(&small);
                continue;
            }
            let mut upper = lower.to_uppercase();
            let capital = match (upper.next(), upper.next()) {
                (Some(u), None) => Some(prototype(u)),
                _ => None,
            };
            match capital {
                Some(cap) if cap.is_ascii() && cap.chars().count() == 1 => {
                    folded.push_str(&cap);
                    weak = true;
                }
                _ => folded.push_str(&small),
            }
        }
    });
    (folded, weak)
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let mut entries = String::new();
    let mut text = String::new();
    let mut count = 0usize;
    for &(from, to) in BLOCKS {
        for code in from..=to {
            let Some(c) = char::from_u32(code) else {
                continue;
            };
            let (folded, weak) = fold(c);
            let plain: String = c.to_lowercase().collect();
            if folded == plain && !weak {
                continue;
            }
            let (offset, len) = (text.len(), folded.len());
            assert!(
                len < 128 && offset < (1 << 24),
                "fold table entry too large"
            );
            text.push_str(&folded);
            let packed = (offset << 8) | (len << 1) | usize::from(weak);
            writeln!(entries, "    (0x{code:X}, 0x{packed:X}),").expect("write to a string");
            count += 1;
        }
    }
    let out = format!(
        "/// `(character, offset << 8 | byte length << 1 | loose)` into [`FOLD_TEXT`], by character.\n\
         pub(crate) static FOLD: [(u32, u32); {count}] = [\n{entries}];\n\n\
         /// The folds of [`FOLD`], one after another.\n\
         pub(crate) static FOLD_TEXT: &str = {text:?};\n"
    );
    let path = std::path::Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("fold_table.rs");
    std::fs::write(path, out).expect("write the fold table");
}
