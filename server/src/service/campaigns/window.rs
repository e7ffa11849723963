//! A campaign's daily window in each recipient's local time: whether a recipient may be sent to
//! now, and if not, when. The zone is their number's country's (`server/data/country-zones.tsv`,
//! one zone per country, from IANA's zone.tab); a number whose country is unknown (a BSUID)
//! uses the campaign's `time_zone`, or UTC. The window itself is evaluated by the business-hours
//! core ([`crate::schedule::Hours`]): every day of the week with the same interval, daylight
//! saving time as the zone has it, an interval past midnight running into the next day.
//!
//! Must not: read the clock (callers pass the instant) or store anything.

use std::collections::HashMap;
use std::sync::OnceLock;

use jiff::Timestamp;
use switchboard_shared::schedule::{Interval, ScheduleInput, Week};

use crate::domain::contact::country_of;
use crate::schedule::{Hours, ScheduleError};

/// Country (ISO 3166 alpha-2) → IANA zone, read once from the embedded table.
fn country_zones() -> &'static HashMap<&'static str, &'static str> {
    static TABLE: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    TABLE.get_or_init(|| {
        include_str!("../../../data/country-zones.tsv")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with("country\t"))
            .filter_map(|l| l.split_once('\t'))
            .collect()
    })
}

/// The zone a recipient's local time is read in.
pub fn zone_of(wa_id: &str, fallback: &str) -> String {
    match country_of(wa_id) {
        Some(country) => zone_of_country(country.as_str(), fallback),
        None => fallback.to_owned(),
    }
}

/// The zone of a country (ISO 3166 alpha-2), or `fallback` for one the table lacks or none.
pub fn zone_of_country(country: &str, fallback: &str) -> String {
    country_zones()
        .get(country)
        .copied()
        .unwrap_or(fallback)
        .to_owned()
}

/// Open-sending steps the ETA simulates at most (the step grows with the campaign's length).
const ETA_STEPS: u64 = 2_000;
/// Beyond this the ETA is not worth a number.
const ETA_HORIZON_SECS: i64 = 31 * 86_400;

/// How long sending `groups` (recipients per zone) at `rate` a second takes from `start`, when
/// each may be sent to only inside the daily `window` of their zone: the campaign sends to
/// whoever's window is open, at its pace, and waits when every remaining one's is shut.
/// Simulated in steps (a minute, longer for long campaigns), jumping over the hours when every
/// window is shut. `None` past 31 days.
pub fn eta_seconds(
    window: &Interval,
    groups: &[(String, u64)],
    rate: f64,
    start: Timestamp,
) -> Option<u64> {
    let total: u64 = groups.iter().map(|(_, n)| n).sum();
    if total == 0 || rate <= 0.0 {
        return Some(0);
    }
    let step = ((total as f64 / rate / ETA_STEPS as f64).ceil() as i64).max(60);
    let mut open: Vec<(Hours, f64)> = Vec::with_capacity(groups.len());
    for (zone, n) in groups {
        let hours = Hours::compile(&every_day(window, zone))
            .or_else(|_| Hours::compile(&every_day(window, "UTC")))
            .ok()?;
        open.push((hours, *n as f64));
    }
    let (mut at, mut elapsed) = (start, 0i64);
    while elapsed <= ETA_HORIZON_SECS {
        let ready: Vec<usize> = (0..open.len())
            .filter(|&i| open[i].1 > 0.0 && open[i].0.is_open(at))
            .collect();
        if ready.is_empty() {
            // Every remaining window is shut: on to the first to open.
            let next = open
                .iter()
                .filter(|(_, left)| *left > 0.0)
                .filter_map(|(h, _)| h.next_open(at))
                .min()?;
            let gap = (next.as_second() - at.as_second()).max(1);
            elapsed += gap;
            at = next.max(at + jiff::SignedDuration::from_secs(1));
            continue;
        }
        let mut budget = rate * step as f64;
        for i in ready {
            let take = open[i].1.min(budget);
            open[i].1 -= take;
            budget -= take;
        }
        if open.iter().all(|(_, left)| *left <= 0.0) {
            let used = rate * step as f64 - budget;
            return Some((elapsed as f64 + used / rate).ceil() as u64);
        }
        elapsed += step;
        at += jiff::SignedDuration::from_secs(step);
    }
    None
}

fn every_day(window: &Interval, zone: &str) -> ScheduleInput {
    let day = vec![window.clone()];
    ScheduleInput {
        name: "campaign window".into(),
        time_zone: zone.to_owned(),
        week: Week {
            mon: day.clone(),
            tue: day.clone(),
            wed: day.clone(),
            thu: day.clone(),
            fri: day.clone(),
            sat: day.clone(),
            sun: day,
        },
        overrides: Vec::new(),
        default: false,
        numbers: Vec::new(),
        off_hours_reply: None,
        version: None,
    }
}

/// Checks a window before a campaign is saved; the error names `from` or `to`.
pub fn check(window: &Interval) -> Result<(), ScheduleError> {
    if window.from == window.to {
        return Err(ScheduleError {
            field: "from".into(),
            message: "the window must not be empty (`from` equals `to`)".into(),
        });
    }
    Hours::compile(&every_day(window, "UTC"))
        .map(|_| ())
        .map_err(|mut e| {
            // The schedule names `week.mon[0].from`; a campaign has one window.
            e.field = e.field.rsplit('.').next().unwrap_or("from").to_owned();
            e
        })
}

/// One campaign's window, compiled once per zone its recipients are in.
pub struct LocalWindow {
    window: Interval,
    fallback: String,
    by_zone: HashMap<String, Hours>,
}

impl LocalWindow {
    pub fn new(window: Interval, fallback_zone: Option<&str>) -> Self {
        Self {
            window,
            fallback: fallback_zone.unwrap_or("UTC").to_owned(),
            by_zone: HashMap::new(),
        }
    }

    /// `None` when `wa_id` may be sent to at `now`; otherwise when their window next opens.
    pub fn closed_until(&mut self, wa_id: &str, now: Timestamp) -> Option<Timestamp> {
        let zone = zone_of(wa_id, &self.fallback);
        if !self.by_zone.contains_key(&zone) {
            // A zone the bundled database lacks cannot happen for the table's zones; the
            // fallback was checked when the campaign was saved. Were it to, the window is
            // read in UTC rather than never.
            let hours = Hours::compile(&every_day(&self.window, &zone))
                .or_else(|_| Hours::compile(&every_day(&self.window, "UTC")))
                .ok()?;
            self.by_zone.insert(zone.clone(), hours);
        }
        let hours = &self.by_zone[&zone];
        if hours.is_open(now) {
            None
        } else {
            hours.next_open(now)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("a timestamp")
    }

    fn window(from: &str, to: &str) -> LocalWindow {
        LocalWindow::new(
            Interval {
                from: from.into(),
                to: to.into(),
            },
            None,
        )
    }

    #[test]
    fn each_recipient_waits_for_nine_in_their_own_country() {
        let mut w = window("09:00", "20:00");
        let now = at("2026-12-07T05:00:00Z");
        // Berlin is at 06:00 (UTC+1 in winter): opens at 08:00Z.
        assert_eq!(
            w.closed_until("4915112345678", now),
            Some(at("2026-12-07T08:00:00Z"))
        );
        // Moscow (UTC+3) is at 08:00: opens at 06:00Z.
        assert_eq!(
            w.closed_until("79161234567", now),
            Some(at("2026-12-07T06:00:00Z"))
        );
        // New York (UTC-5) is at midnight: opens at 14:00Z.
        assert_eq!(
            w.closed_until("12125550123", now),
            Some(at("2026-12-07T14:00:00Z"))
        );
        // Singapore (UTC+8) is at 13:00: inside.
        assert_eq!(w.closed_until("6591234567", now), None);
        // After 20:00 in Moscow it waits for tomorrow's nine.
        assert_eq!(
            w.closed_until("79161234567", at("2026-12-07T17:30:00Z")),
            Some(at("2026-12-08T06:00:00Z"))
        );
    }

    #[test]
    fn summer_time_and_unknown_countries() {
        let mut w = window("09:00", "20:00");
        // Berlin in July is UTC+2: 09:00 local is 07:00Z.
        assert_eq!(
            w.closed_until("4915112345678", at("2026-07-01T06:00:00Z")),
            Some(at("2026-07-01T07:00:00Z"))
        );
        // A BSUID has no country: the campaign's zone (here UTC).
        assert_eq!(
            w.closed_until("US.1234567890abcdef", at("2026-07-01T06:00:00Z")),
            Some(at("2026-07-01T09:00:00Z"))
        );
        let mut w = LocalWindow::new(
            Interval {
                from: "09:00".into(),
                to: "20:00".into(),
            },
            Some("Asia/Tokyo"),
        );
        assert_eq!(
            w.closed_until("US.1234567890abcdef", at("2026-07-01T06:00:00Z")),
            None,
            "15:00 in Tokyo"
        );
    }

    #[test]
    fn a_window_past_midnight_and_bad_windows() {
        let mut w = window("22:00", "02:00");
        assert_eq!(
            w.closed_until("4915112345678", at("2026-12-07T23:30:00Z")),
            None,
            "00:30 in Berlin"
        );
        assert!(check(&Interval {
            from: "09:00".into(),
            to: "20:00".into()
        })
        .is_ok());
        let e = check(&Interval {
            from: "25:00".into(),
            to: "20:00".into(),
        })
        .expect_err("no such time");
        assert_eq!(e.field, "from", "{e:?}");
        assert!(check(&Interval {
            from: "09:00".into(),
            to: "09:00".into()
        })
        .is_err());
    }

    #[test]
    fn the_eta_waits_for_each_zone_s_window() {
        let w = Interval {
            from: "09:00".into(),
            to: "10:00".into(),
        };
        // 06:00 UTC: Moscow (UTC+3) is open at 09:00 local; Berlin (UTC+1 in winter) opens at
        // 08:00 UTC, two hours on.
        let start = at("2026-12-07T06:00:00Z");
        let moscow = vec![("Europe/Moscow".to_owned(), 60)];
        assert_eq!(eta_seconds(&w, &moscow, 1.0, start), Some(60));
        let both = vec![
            ("Europe/Moscow".to_owned(), 60),
            ("Europe/Berlin".to_owned(), 60),
        ];
        assert_eq!(eta_seconds(&w, &both, 1.0, start), Some(2 * 3600 + 60));
        // More than an hour's worth at Moscow's window: the rest waits for the next morning.
        let long = vec![("Europe/Moscow".to_owned(), 3_600 + 60)];
        assert_eq!(eta_seconds(&w, &long, 1.0, start), Some(86_400 + 60));
        // Nobody to send to, or a pace that never finishes within the horizon.
        assert_eq!(eta_seconds(&w, &[], 1.0, start), Some(0));
        assert_eq!(eta_seconds(&w, &long, 0.0001, start), None);
    }

    #[test]
    fn every_zone_in_the_table_is_in_the_bundled_database() {
        for (country, zone) in country_zones() {
            assert!(
                crate::schedule::zones().get(zone).is_ok(),
                "{country}: {zone}"
            );
        }
        assert!(country_zones().len() > 240);
        assert_eq!(country_zones()["RU"], "Europe/Moscow");
    }
}
