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
    country_of(wa_id)
        .and_then(|c| country_zones().get(c.as_str()).copied())
        .unwrap_or(fallback)
        .to_owned()
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
