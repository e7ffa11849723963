//! Holiday calendars: an iCalendar file (RFC 5545, `.ics`, as governments and calendar apps
//! publish them) read into the closed days it names.
//!
//! Taken: all-day `VEVENT`s (`DTSTART;VALUE=DATE`), several days long through `DTEND` or
//! `DURATION`, repeating every year or every few years (`RRULE:FREQ=YEARLY`, with `INTERVAL`,
//! `COUNT`, `UNTIL` and `EXDATE`). Not taken, each named with its reason: events with a time of
//! day, cancelled ones, other recurrences (`BYDAY`: "the last Monday of May"; a calendar that
//! lists each year's date is read fine). Days before `today` are counted, not listed.

use std::collections::BTreeMap;

use icalendar::parser::{read_calendar, unfold, Component, Property};
use jiff::civil::Date;
use jiff::ToSpan;
use switchboard_shared::schedule::{HolidaySkipped, MAX_ICS_BYTES};

/// The deepest nesting of `BEGIN:` blocks read (a calendar holds events holding alarms).
const MAX_DEPTH: usize = 8;
/// The most events one file has.
pub const MAX_EVENTS: usize = 10_000;
/// The longest event, in days.
const MAX_EVENT_DAYS: i64 = 31;

/// What a calendar file holds.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Holidays {
    /// Each closed day from `today` to `until`, with the events' names.
    pub days: BTreeMap<Date, String>,
    pub skipped: Vec<HolidaySkipped>,
    /// Days before `today`, not taken.
    pub past: usize,
}

/// Reads a calendar file; closed days from `today` to `until` (both included). An `Err` says
/// why the file as a whole cannot be read.
pub fn read(text: &str, today: Date, until: Date) -> Result<Holidays, String> {
    if text.len() > MAX_ICS_BYTES {
        return Err(format!(
            "a calendar file is at most {} KiB",
            MAX_ICS_BYTES / 1024
        ));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let unfolded = unfold(text);
    // The parser descends one call per nested block: refuse deep nesting before it does.
    let mut depth = 0usize;
    let mut events = 0usize;
    for line in unfolded.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(name) = line.strip_prefix("BEGIN:") {
            depth += 1;
            if depth > MAX_DEPTH {
                return Err(format!(
                    "blocks nested more than {MAX_DEPTH} deep: not a calendar"
                ));
            }
            if name.eq_ignore_ascii_case("VEVENT") {
                events += 1;
            }
        } else if line.starts_with("END:") {
            depth = depth.saturating_sub(1);
        }
    }
    if events > MAX_EVENTS {
        return Err(format!("at most {MAX_EVENTS} events in one file"));
    }
    let calendar = read_calendar(&unfolded).map_err(|e| {
        let first = e
            .lines()
            .find(|l| !l.trim().is_empty() && !l.starts_with("error:"))
            .unwrap_or("");
        format!("not an iCalendar file (RFC 5545): {}", first.trim())
    })?;
    let mut found = Vec::new();
    collect_events(&calendar.components, &mut found);
    if found.is_empty() && !unfolded.contains("BEGIN:VCALENDAR") {
        return Err("not an iCalendar file: no `BEGIN:VCALENDAR`".into());
    }
    let mut out = Holidays::default();
    for event in found {
        let label = event_label(event);
        match occurrences(event, today, until) {
            Ok((days, past)) => {
                out.past += past;
                for d in days {
                    out.days
                        .entry(d)
                        .and_modify(|name| {
                            if !name.split(" / ").any(|n| n == label) {
                                name.push_str(" / ");
                                name.push_str(&label);
                            }
                        })
                        .or_insert_with(|| label.clone());
                }
            }
            Err(reason) => out.skipped.push(HolidaySkipped {
                event: label,
                reason,
            }),
        }
    }
    for name in out.days.values_mut() {
        if name.chars().count() > 100 {
            *name = name.chars().take(99).chain(['…']).collect();
        }
    }
    Ok(out)
}

fn collect_events<'a>(components: &'a [Component<'a>], out: &mut Vec<&'a Component<'a>>) {
    for c in components {
        if c.name.as_str().eq_ignore_ascii_case("VEVENT") {
            out.push(c);
        } else {
            collect_events(&c.components, out);
        }
    }
}

fn prop<'a>(event: &'a Component<'a>, name: &str) -> Option<&'a Property<'a>> {
    event
        .properties
        .iter()
        .find(|p| p.name.as_str().eq_ignore_ascii_case(name))
}

fn event_label(event: &Component<'_>) -> String {
    let text = prop(event, "SUMMARY")
        .map(|p| p.val.clone().unescape_text().as_str().trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| prop(event, "UID").map(|p| p.val.as_str().trim().to_owned()))
        .unwrap_or_else(|| "an event without a name".into());
    text.chars().take(100).collect()
}

/// `YYYYMMDD` (a date value), or why not.
fn date_value(value: &str) -> Result<Date, String> {
    let v = value.trim();
    if v.len() == 8 && v.bytes().all(|b| b.is_ascii_digit()) {
        let (y, m, d) = (&v[..4], &v[4..6], &v[6..]);
        let (y, m, d): (i16, i8, i8) = (
            y.parse().map_err(|_| "a bad year")?,
            m.parse().map_err(|_| "a bad month")?,
            d.parse().map_err(|_| "a bad day")?,
        );
        return Date::new(y, m, d).map_err(|_| format!("`{v}` is not a date"));
    }
    if let (Some(b'T'), Some(h), Some(m)) = (v.as_bytes().get(8), v.get(9..11), v.get(11..13)) {
        return Err(format!("not an all-day event (it starts at {h}:{m})"));
    }
    Err(format!("`{v}` is not a date (`YYYYMMDD`)"))
}

/// `P<n>D` or `P<n>W`: a length in days.
fn duration_days(value: &str) -> Result<i64, String> {
    let v = value.trim().trim_start_matches('+');
    let bad = || format!("a duration `{v}` that is not whole days (`P1D`, `P2W`)");
    let body = v.strip_prefix('P').ok_or_else(bad)?;
    // The unit is the last character, whatever its width.
    let at = body.char_indices().next_back().map_or(0, |(i, _)| i);
    let (n, unit) = body.split_at(at);
    let n: i64 = n.parse().map_err(|_| bad())?;
    match unit {
        "D" => Ok(n),
        "W" => n.checked_mul(7).ok_or_else(bad),
        _ => Err(bad()),
    }
}

/// A yearly recurrence: every `interval` years, at most `count` times, up to `until`.
struct Yearly {
    interval: i16,
    count: Option<u32>,
    until: Option<Date>,
}

fn yearly(rule: &str, start: Date) -> Result<Yearly, String> {
    let not_taken = || {
        format!("a recurrence other than yearly on the same date (`RRULE:{rule}`); list each date instead")
    };
    let mut out = Yearly {
        interval: 1,
        count: None,
        until: None,
    };
    let mut freq = None;
    for part in rule.split(';').filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').ok_or_else(not_taken)?;
        match key.to_ascii_uppercase().as_str() {
            "FREQ" => freq = Some(value.to_ascii_uppercase()),
            "INTERVAL" => {
                out.interval = value
                    .parse()
                    .ok()
                    .filter(|i| (1..=100).contains(i))
                    .ok_or_else(not_taken)?
            }
            "COUNT" => out.count = Some(value.parse().map_err(|_| not_taken())?),
            "UNTIL" => out.until = Some(date_value(value.get(..8).unwrap_or(value))?),
            "BYMONTH" if value.parse::<i8>().ok() == Some(start.month()) => {}
            "BYMONTHDAY" if value.parse::<i8>().ok() == Some(start.day()) => {}
            "WKST" => {}
            _ => return Err(not_taken()),
        }
    }
    if freq.as_deref() != Some("YEARLY") {
        return Err(not_taken());
    }
    Ok(out)
}

/// The days an event closes from `today` to `until`, and how many it closed before `today`.
fn occurrences(
    event: &Component<'_>,
    today: Date,
    until: Date,
) -> Result<(Vec<Date>, usize), String> {
    if prop(event, "STATUS").is_some_and(|p| p.val.as_str().eq_ignore_ascii_case("CANCELLED")) {
        return Err("cancelled".into());
    }
    let start = prop(event, "DTSTART").ok_or("no start date (`DTSTART`)")?;
    let start = date_value(start.val.as_str())?;
    let days = match (prop(event, "DTEND"), prop(event, "DURATION")) {
        (Some(end), _) => {
            let end = date_value(end.val.as_str())?;
            i64::from(start.until(end).map_err(|e| e.to_string())?.get_days())
        }
        (None, Some(d)) => duration_days(d.val.as_str())?,
        (None, None) => 1,
    };
    if !(1..=MAX_EVENT_DAYS).contains(&days) {
        return Err(format!(
            "lasts {days} days; a closed period is 1 to {MAX_EVENT_DAYS} days"
        ));
    }
    let mut excluded = Vec::new();
    for p in event
        .properties
        .iter()
        .filter(|p| p.name.as_str().eq_ignore_ascii_case("EXDATE"))
    {
        for v in p.val.as_str().split(',') {
            excluded.push(date_value(v.get(..8).unwrap_or(v))?);
        }
    }
    let starts: Vec<Date> = match prop(event, "RRULE") {
        None => vec![start],
        Some(rule) => {
            let rule = yearly(rule.val.as_str(), start)?;
            let mut starts = Vec::new();
            let mut year = start.year();
            let mut n = 0u32;
            while year <= until.year() {
                // A yearly event on 29 February happens in leap years only (RFC 5545 §3.3.10).
                if let Ok(d) = Date::new(year, start.month(), start.day()) {
                    n += 1;
                    if rule.count.is_some_and(|c| n > c) || rule.until.is_some_and(|u| d > u) {
                        break;
                    }
                    starts.push(d);
                }
                year = match year.checked_add(rule.interval) {
                    Some(y) => y,
                    None => break,
                };
            }
            starts
        }
    };
    let (mut out, mut past) = (Vec::new(), 0usize);
    for s in starts.into_iter().filter(|s| !excluded.contains(s)) {
        for i in 0..days {
            let Ok(d) = s.checked_add(i.days()) else {
                break;
            };
            if d < today {
                past += 1;
            } else if d <= until {
                out.push(d);
            }
        }
    }
    Ok((out, past))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> Date {
        s.parse().unwrap()
    }

    const CALENDAR: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n\
BEGIN:VEVENT\r\nUID:1\r\nDTSTART;VALUE=DATE:20270101\r\nDTEND;VALUE=DATE:20270103\r\n\
SUMMARY:New Year\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:2\r\nDTSTART;VALUE=DATE:20200308\r\nRRULE:FREQ=YEARLY\r\n\
SUMMARY:Women's\r\n  Day\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:3\r\nDTSTART;VALUE=DATE:20200525\r\nRRULE:FREQ=YEARLY;BYDAY=-1MO;BYMONTH=5\r\n\
SUMMARY:Memorial Day\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:4\r\nDTSTART:20270610T090000Z\r\nSUMMARY:Meeting\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:5\r\nDTSTART;VALUE=DATE:20261201\r\nSUMMARY:Gone\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";

    #[test]
    fn all_day_events_and_yearly_repeats_become_closed_days() {
        let h = read(CALENDAR, date("2026-12-05"), date("2028-12-31")).unwrap();
        let days: Vec<String> = h.days.keys().map(|d| d.to_string()).collect();
        assert_eq!(
            days,
            ["2027-01-01", "2027-01-02", "2027-03-08", "2028-03-08"]
        );
        // Folded lines are unfolded (RFC 5545 §3.1).
        assert_eq!(h.days[&date("2027-03-08")], "Women's Day");
        let reasons: Vec<(&str, &str)> = h
            .skipped
            .iter()
            .map(|s| (s.event.as_str(), s.reason.as_str()))
            .collect();
        assert_eq!(reasons.len(), 2, "{reasons:?}");
        assert!(reasons[0].0 == "Memorial Day" && reasons[0].1.contains("BYDAY"));
        assert!(reasons[1].0 == "Meeting" && reasons[1].1.contains("09:00"));
        // 2020–2026's 8 March and 1 December 2026 are past.
        assert_eq!(h.past, 8);
    }

    #[test]
    fn bad_files_are_refused_whole() {
        let today = date("2026-12-05");
        let until = date("2027-12-31");
        assert!(read("hello", today, until).is_err());
        let deep = "BEGIN:VCALENDAR\n".repeat(50);
        assert!(read(&deep, today, until).unwrap_err().contains("nested"));
        let huge = "X".repeat(MAX_ICS_BYTES + 1);
        assert!(read(&huge, today, until).unwrap_err().contains("KiB"));
    }

    /// Found by the `ics` fuzz target (fuzz/regressions/ics/): byte offsets inside a
    /// multi-byte character, and a duration of weeks that overflowed.
    #[test]
    fn odd_characters_and_huge_durations_are_reasons_not_panics() {
        let ics = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;VALUE=DATE:20270101\nDURATION:P1Ϭ\n\
SUMMARY:A\nEND:VEVENT\nBEGIN:VEVENT\nDTSTART;VALUE=DATE:20270102\nDURATION:P9223372036854775807W\n\
SUMMARY:B\nEND:VEVENT\nBEGIN:VEVENT\nDTSTART:20270103TϬϬϬϬϬϬ\nSUMMARY:C\nEND:VEVENT\n\
BEGIN:VEVENT\nDTSTART;VALUE=DATE:20270104\nRRULE:FREQ=YEARLY;UNTIL=2030ϬϬϬϬ\nSUMMARY:D\n\
END:VEVENT\nEND:VCALENDAR\n";
        let h = read(ics, date("2026-12-05"), date("2029-12-31")).unwrap();
        assert!(h.days.is_empty(), "{h:?}");
        assert_eq!(h.skipped.len(), 4, "{h:?}");
    }

    #[test]
    fn leap_days_repeat_in_leap_years_only_and_counts_stop() {
        let ics = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;VALUE=DATE:20240229\n\
RRULE:FREQ=YEARLY;COUNT=3\nSUMMARY:Leap\nEND:VEVENT\nEND:VCALENDAR\n";
        let h = read(ics, date("2024-01-01"), date("2040-12-31")).unwrap();
        let days: Vec<String> = h.days.keys().map(|d| d.to_string()).collect();
        assert_eq!(days, ["2024-02-29", "2028-02-29", "2032-02-29"]);
    }
}
