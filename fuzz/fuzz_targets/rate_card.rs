//! Rate cards: any text as an uploaded CSV. Must never panic; a card that reads prices what it
//! says (every row's own day, country, category and lower volume find a price, and none is
//! negative), and a refused one names lines that exist.
#![no_main]

use std::str::FromStr;

use jiff::civil::Date;
use libfuzzer_sys::fuzz_target;
use switchboard_server::costs::Card;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Card::parse(text) {
        Ok(card) => {
            for row in &card.rows {
                let day = Date::from_str(&row.effective_from).expect("a read date");
                let price = card
                    .price(&row.country, row.category, day, row.volume_from)
                    .expect("a row prices its own start");
                assert!(!price.is_sign_negative() || price.is_zero());
            }
        }
        Err(problems) => {
            assert!(!problems.is_empty());
            let lines = text.lines().count() as u64 + 1;
            for p in problems {
                assert!(
                    p.line >= 1 && p.line <= lines.max(2),
                    "{} of {lines}",
                    p.line
                );
                assert!(!p.reason.is_empty());
            }
        }
    }
});
