//! Business hours: any JSON as a schedule, checked as the API checks it; a schedule that
//! passes is asked where it stands at the instant in the first 8 bytes after the `\0`, and
//! renders its reply, and counts its open time over the next days (business-hours reports).
//! Must never panic; the next change lies after the instant asked, `is_open` agrees with
//! `state`, and open time is never negative nor longer than the span asked.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_server::schedule::Hours;
use switchboard_shared::schedule::ScheduleInput;

fuzz_target!(|data: &[u8]| {
    let (json, rest) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(input) = serde_json::from_slice::<ScheduleInput>(json) else {
        return;
    };
    let Ok(hours) = Hours::compile(&input) else {
        return;
    };
    let mut raw = [0u8; 8];
    for (r, b) in raw.iter_mut().zip(rest) {
        *r = *b;
    }
    // Within 1970..2100: the years schedules are about.
    let ms = (u64::from_le_bytes(raw) % 4_102_444_800_000) as i64;
    let at = jiff::Timestamp::from_millisecond(ms).expect("in range");
    let state = hours.state(at);
    if let Some(next) = state.next_change {
        assert!(next > at);
    }
    assert_eq!(hours.is_open(at), state.open);
    // Up to about ten days later, from the same bytes.
    let span_ms = ((ms as u64).rotate_left(17) % 864_000_000) as i64;
    let until = jiff::Timestamp::from_millisecond(ms + span_ms).expect("in range");
    let open = hours.open_ms(at, until);
    assert!((0..=span_ms).contains(&open), "{open} of {span_ms}");
    let _ = hours.render("{{next_open}} {{ next_open }} {{x", at, "ru");
    let _ = hours.describe_next_open(at, "en");
});
