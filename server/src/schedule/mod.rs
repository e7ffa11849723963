//! Business hours as a pure decision: whether a schedule is open at an instant, when it next
//! opens or closes, and how to tell a customer when it opens, in their language. No I/O and no
//! clock: callers pass the instant.
//!
//! Owns: checking a schedule before it is saved (each bad field named: times, overlaps, the
//! zone, duplicated dates, the reply's placeholders), compiling it, evaluating it with the time
//! zone database embedded in the binary (jiff's bundled tzdb: the answer never depends on the
//! host's `/usr/share/zoneinfo`), and reading holiday calendars (`ics`). Must not: store, send
//! or read the time.
//!
//! The rules of time: an interval belongs to the day it starts on, so a Friday `22:00`–`06:00`
//! shift runs into Saturday even when Saturday is a holiday; an override replaces its day's
//! weekday intervals. Local times that do not exist (the hour skipped when clocks go forward)
//! move to the first instant after the gap; local times that happen twice (the hour repeated
//! when clocks go back) take the first. Touching intervals (`09:00`–`13:00`, `13:00`–`18:00`,
//! or Monday's `22:00`–`24:00` and Tuesday's `00:00`–`06:00`) are one opening.

pub mod ics;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use jiff::civil::{Date, Time};
use jiff::tz::{TimeZone, TimeZoneDatabase};
use jiff::{Timestamp, ToSpan, Zoned};
use switchboard_shared::schedule::*;

/// How far ahead the next opening is looked for.
pub const HORIZON_DAYS: i64 = 400;
/// The longest off-hours reply (WhatsApp's limit on a text).
pub const MAX_REPLY_CHARS: usize = 4096;
/// The languages replies and `{{next_open}}` come in.
pub const LANGUAGES: [&str; 2] = ["en", "ru"];

const DAY_MINUTES: u16 = 24 * 60;

/// The IANA time zone database compiled into the binary.
pub fn zones() -> &'static TimeZoneDatabase {
    static DB: OnceLock<TimeZoneDatabase> = OnceLock::new();
    DB.get_or_init(TimeZoneDatabase::bundled)
}

/// Why a schedule cannot be saved, with the field to fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleError {
    pub field: String,
    pub message: String,
}

fn error(field: impl Into<String>, message: impl Into<String>) -> ScheduleError {
    ScheduleError {
        field: field.into(),
        message: message.into(),
    }
}

/// An interval in minutes from its day's midnight; `to` past [`DAY_MINUTES`] runs into the next
/// day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Span {
    from: u16,
    to: u16,
}

/// A checked, compiled schedule.
#[derive(Clone, Debug)]
pub struct Hours {
    zone: TimeZone,
    /// Monday first, each day's spans by start.
    week: [Vec<Span>; 7],
    overrides: BTreeMap<Date, Vec<Span>>,
}

/// Where a schedule stands at an instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    pub open: bool,
    /// When it next opens (closed) or closes (open); `None`: not within [`HORIZON_DAYS`].
    pub next_change: Option<Timestamp>,
}

fn parse_time(s: &str, end: bool) -> Option<u16> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    match (h, m) {
        (24, 0) if end => Some(DAY_MINUTES),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

fn show(minutes: u16) -> String {
    let m = minutes % DAY_MINUTES;
    let (h, m) = (m / 60, m % 60);
    if minutes == DAY_MINUTES {
        "24:00".into()
    } else {
        format!("{h:02}:{m:02}")
    }
}

/// Checks and compiles one day's intervals (`field` is where they are: `week.mon`).
fn day(field: &str, intervals: &[Interval]) -> Result<Vec<Span>, ScheduleError> {
    if intervals.len() > MAX_INTERVALS_PER_DAY {
        return Err(error(
            field,
            format!("at most {MAX_INTERVALS_PER_DAY} intervals a day"),
        ));
    }
    let mut spans = Vec::with_capacity(intervals.len());
    for (i, interval) in intervals.iter().enumerate() {
        let from = parse_time(&interval.from, false).ok_or_else(|| {
            error(
                format!("{field}[{i}].from"),
                format!(
                    "`{}` is not a time of day: `HH:MM`, 00:00 to 23:59",
                    interval.from
                ),
            )
        })?;
        let to = parse_time(&interval.to, true).ok_or_else(|| {
            error(
                format!("{field}[{i}].to"),
                format!(
                    "`{}` is not a time of day: `HH:MM`, 00:00 to 24:00",
                    interval.to
                ),
            )
        })?;
        if from == to % DAY_MINUTES && to != DAY_MINUTES {
            return Err(error(
                format!("{field}[{i}]"),
                "an empty interval; a whole day is 00:00 to 24:00",
            ));
        }
        let to = if to <= from { to + DAY_MINUTES } else { to };
        spans.push((i, Span { from, to }));
    }
    spans.sort_by_key(|(_, s)| *s);
    for pair in spans.windows(2) {
        let ((a, first), (b, second)) = (pair[0], pair[1]);
        if second.from < first.to {
            let (lo, hi) = (a.min(b), a.max(b));
            return Err(error(
                format!("{field}[{hi}]"),
                format!(
                    "{}–{} overlaps {field}[{lo}] ({}–{})",
                    intervals[hi].from, intervals[hi].to, intervals[lo].from, intervals[lo].to,
                ),
            ));
        }
    }
    Ok(spans.into_iter().map(|(_, s)| s).collect())
}

/// A weekday's spans running past midnight must not overlap the next day's.
fn check_spill(week: &[Vec<Span>; 7]) -> Result<(), ScheduleError> {
    const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    for d in 0..7 {
        let next = (d + 1) % 7;
        for (i, s) in week[d].iter().enumerate() {
            let spill = s.to.saturating_sub(DAY_MINUTES);
            if spill == 0 {
                continue;
            }
            if let Some(j) = week[next].iter().position(|n| n.from < spill) {
                return Err(error(
                    format!("week.{}[{i}]", NAMES[d]),
                    format!(
                        "runs past midnight to {} and overlaps week.{}[{j}], which opens at {}",
                        show(spill),
                        NAMES[next],
                        show(week[next][j].from)
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The `{{…}}` placeholders a reply may use.
const PLACEHOLDERS: [&str; 1] = ["next_open"];

fn check_reply(field: &str, text: &str) -> Result<(), ScheduleError> {
    if switchboard_shared::text::is_blank(text) {
        return Err(error(field, "a reply needs visible text"));
    }
    if text.chars().count() > MAX_REPLY_CHARS {
        return Err(error(
            field,
            format!("a reply is at most {MAX_REPLY_CHARS} characters"),
        ));
    }
    let mut rest = text;
    while let Some(at) = rest.find("{{") {
        let after = &rest[at + 2..];
        let Some(end) = after.find("}}") else {
            return Err(error(field, "a `{{` without its `}}`"));
        };
        let name = after[..end].trim();
        if !PLACEHOLDERS.contains(&name) {
            return Err(error(
                field,
                format!("no placeholder `{{{{{name}}}}}`; the one there is: `{{{{next_open}}}}`"),
            ));
        }
        rest = &after[end + 2..];
    }
    Ok(())
}

impl Hours {
    /// Checks a schedule as given (each bad field named) and compiles it. The workspace's
    /// numbers and the other schedules are the caller's to check.
    pub fn compile(input: &ScheduleInput) -> Result<Self, ScheduleError> {
        let name = input.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(error("name", "a name of 1 to 100 characters"));
        }
        let zone = zones().get(input.time_zone.trim()).map_err(|_| {
            error(
                "time_zone",
                format!(
                    "`{}` is not an IANA time zone (such as `Europe/Moscow` or `America/New_York`)",
                    input.time_zone
                ),
            )
        })?;
        let mut week: [Vec<Span>; 7] = Default::default();
        for (d, (name, intervals)) in input.week.days().into_iter().enumerate() {
            week[d] = day(&format!("week.{name}"), intervals)?;
        }
        check_spill(&week)?;
        if input.overrides.len() > MAX_OVERRIDES {
            return Err(error(
                "overrides",
                format!("at most {MAX_OVERRIDES} dated exceptions"),
            ));
        }
        let mut overrides = BTreeMap::new();
        let mut seen: BTreeMap<Date, usize> = BTreeMap::new();
        for (i, o) in input.overrides.iter().enumerate() {
            let date: Date = o
                .date
                .trim()
                .parse()
                .ok()
                .filter(|_| o.date.trim().len() == 10)
                .ok_or_else(|| {
                    error(
                        format!("overrides[{i}].date"),
                        format!("`{}` is not a date: `YYYY-MM-DD`", o.date),
                    )
                })?;
            if let Some(first) = seen.insert(date, i) {
                return Err(error(
                    format!("overrides[{i}].date"),
                    format!("{date} is already overrides[{first}]"),
                ));
            }
            if o.name.chars().count() > 100 {
                return Err(error(
                    format!("overrides[{i}].name"),
                    "at most 100 characters",
                ));
            }
            overrides.insert(date, day(&format!("overrides[{i}].hours"), &o.hours)?);
        }
        if let Some(reply) = &input.off_hours_reply {
            check_reply("off_hours_reply.text", &reply.text)?;
            for (lang, text) in &reply.texts {
                if !LANGUAGES.contains(&lang.as_str()) {
                    return Err(error(
                        format!("off_hours_reply.texts.{lang}"),
                        "replies by language are `en` or `ru`",
                    ));
                }
                check_reply(&format!("off_hours_reply.texts.{lang}"), text)?;
            }
        }
        Ok(Self {
            zone,
            week,
            overrides,
        })
    }

    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    fn spans(&self, date: Date) -> &[Span] {
        self.overrides
            .get(&date)
            .unwrap_or_else(|| &self.week[date.weekday().to_monday_zero_offset() as usize])
    }

    /// A span of `date` as instants.
    fn instants(&self, date: Date, span: Span) -> Option<(Timestamp, Timestamp)> {
        let at = |minutes: u16| -> Option<Timestamp> {
            let day = date
                .checked_add(i64::from(minutes / DAY_MINUTES).days())
                .ok()?;
            let m = minutes % DAY_MINUTES;
            let time = Time::new((m / 60) as i8, (m % 60) as i8, 0, 0).ok()?;
            self.zone
                .to_ambiguous_zoned(day.to_datetime(time))
                .compatible()
                .ok()
                .map(|z| z.timestamp())
        };
        Some((at(span.from)?, at(span.to)?))
    }

    /// How long the schedule is open between `from` and `to` (business time, for reports: a
    /// question asked on Friday evening and answered on Monday at 09:05 waited five minutes).
    /// Walks the days between them only, merging intervals that overlap or touch.
    pub fn open_ms(&self, from: Timestamp, to: Timestamp) -> i64 {
        if to <= from {
            return 0;
        }
        let (first, last) = (
            from.to_zoned(self.zone.clone()).date(),
            to.to_zoned(self.zone.clone()).date(),
        );
        let mut spans: Vec<(Timestamp, Timestamp)> = Vec::new();
        let mut day = first.yesterday().unwrap_or(first);
        while day <= last {
            for span in self.spans(day) {
                if let Some((a, b)) = self.instants(day, *span) {
                    let (a, b) = (a.max(from), b.min(to));
                    if a < b {
                        spans.push((a, b));
                    }
                }
            }
            match day.tomorrow() {
                Ok(next) => day = next,
                Err(_) => break,
            }
        }
        spans.sort_unstable();
        let mut total = 0;
        let mut current: Option<(Timestamp, Timestamp)> = None;
        for (a, b) in spans {
            match &mut current {
                Some((_, end)) if a <= *end => *end = (*end).max(b),
                _ => {
                    if let Some((s, e)) = current.replace((a, b)) {
                        total += e.as_millisecond() - s.as_millisecond();
                    }
                }
            }
        }
        if let Some((s, e)) = current {
            total += e.as_millisecond() - s.as_millisecond();
        }
        total
    }

    /// Whether the schedule is open at `at` (cheap: the day and the one before, for intervals
    /// past midnight).
    pub fn is_open(&self, at: Timestamp) -> bool {
        let today = at.to_zoned(self.zone.clone()).date();
        [today.yesterday().ok(), Some(today)]
            .into_iter()
            .flatten()
            .any(|d| {
                self.spans(d).iter().any(|s| {
                    self.instants(d, *s)
                        .is_some_and(|(from, to)| from <= at && at < to)
                })
            })
    }

    /// Whether it is open at `at`, and when that changes.
    pub fn state(&self, at: Timestamp) -> State {
        let today = at.to_zoned(self.zone.clone()).date();
        let mut current: Option<(Timestamp, Timestamp)> = None;
        for offset in -1..=HORIZON_DAYS {
            let Ok(d) = today.checked_add(offset.days()) else {
                break;
            };
            for span in self.spans(d) {
                let Some((from, to)) = self.instants(d, *span) else {
                    continue;
                };
                match &mut current {
                    Some((_, end)) if from <= *end => *end = (*end).max(to),
                    _ => {
                        if let Some((start, end)) = current.filter(|(_, end)| *end > at) {
                            return if start <= at {
                                State {
                                    open: true,
                                    next_change: Some(end),
                                }
                            } else {
                                State {
                                    open: false,
                                    next_change: Some(start),
                                }
                            };
                        }
                        current = Some((from, to));
                    }
                }
            }
        }
        match current.filter(|(_, end)| *end > at) {
            Some((start, _)) if start <= at => State {
                open: true,
                next_change: None,
            },
            Some((start, _)) => State {
                open: false,
                next_change: Some(start),
            },
            None => State {
                open: false,
                next_change: None,
            },
        }
    }

    /// When it next opens after `at` (`at` itself when open); `None` within the horizon.
    pub fn next_open(&self, at: Timestamp) -> Option<Timestamp> {
        let state = self.state(at);
        if state.open {
            Some(at)
        } else {
            state.next_change
        }
    }

    /// `{{next_open}}` in `lang`, seen from `now`: `today at 18:00`, `tomorrow at 09:00`,
    /// `on Monday at 09:00`, `on 2 January at 09:00` (and `сегодня в 18:00`, `завтра в 09:00`,
    /// `в понедельник в 09:00`, `2 января в 09:00`), in the schedule's zone.
    pub fn describe_next_open(&self, now: Timestamp, lang: &str) -> String {
        let ru = lang == "ru";
        let Some(next) = self.next_open(now) else {
            return if ru {
                "как только сможем".into()
            } else {
                "as soon as we can".into()
            };
        };
        let now = now.to_zoned(self.zone.clone());
        let next = next.to_zoned(self.zone.clone());
        phrase(&now, &next, ru)
    }

    /// Renders an off-hours reply's text for `lang` at `now`.
    pub fn render(&self, text: &str, now: Timestamp, lang: &str) -> String {
        if !text.contains("{{") {
            return text.to_owned();
        }
        let when = self.describe_next_open(now, lang);
        let mut out = String::with_capacity(text.len() + when.len());
        let mut rest = text;
        while let Some(at) = rest.find("{{") {
            out.push_str(&rest[..at]);
            let after = &rest[at + 2..];
            match after.find("}}") {
                Some(end) if after[..end].trim() == "next_open" => {
                    out.push_str(&when);
                    rest = &after[end + 2..];
                }
                _ => {
                    out.push_str("{{");
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }
}

fn phrase(now: &Zoned, next: &Zoned, ru: bool) -> String {
    const EN_DAYS: [&str; 7] = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    // Russian takes the accusative after «в», and «во» before «вторник».
    const RU_DAYS: [&str; 7] = [
        "в понедельник",
        "во вторник",
        "в среду",
        "в четверг",
        "в пятницу",
        "в субботу",
        "в воскресенье",
    ];
    const EN_MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    const RU_MONTHS: [&str; 12] = [
        "января",
        "февраля",
        "марта",
        "апреля",
        "мая",
        "июня",
        "июля",
        "августа",
        "сентября",
        "октября",
        "ноября",
        "декабря",
    ];
    let time = format!("{:02}:{:02}", next.hour(), next.minute());
    let days = now
        .date()
        .until(next.date())
        .map_or(i64::from(i32::MAX), |s| i64::from(s.get_days()));
    let weekday = next.date().weekday().to_monday_zero_offset() as usize;
    let month = (next.month() - 1) as usize;
    let year = if next.year() != now.year() {
        format!(" {}", next.year())
    } else {
        String::new()
    };
    match (days, ru) {
        (0, false) => format!("today at {time}"),
        (0, true) => format!("сегодня в {time}"),
        (1, false) => format!("tomorrow at {time}"),
        (1, true) => format!("завтра в {time}"),
        (2..=6, false) => format!("on {} at {time}", EN_DAYS[weekday]),
        (2..=6, true) => format!("{} в {time}", RU_DAYS[weekday]),
        (_, false) => format!("on {} {}{year} at {time}", next.day(), EN_MONTHS[month]),
        (_, true) => format!("{} {}{year} в {time}", next.day(), RU_MONTHS[month]),
    }
}

#[cfg(test)]
mod tests;
