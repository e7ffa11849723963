//! Holiday calendars: any text as an `.ics` file. Must never panic (nesting and size are
//! refused before the parser descends), and every day taken lies in the window asked.
#![no_main]

use jiff::civil::Date;
use libfuzzer_sys::fuzz_target;
use switchboard_server::schedule::ics;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let today = Date::constant(2026, 12, 5);
    let until = Date::constant(2029, 12, 31);
    if let Ok(holidays) = ics::read(text, today, until) {
        for day in holidays.days.keys() {
            assert!(*day >= today && *day <= until);
        }
    }
});
