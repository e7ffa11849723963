//! Business hours on the wire: a schedule is a time zone, opening intervals per weekday, and
//! dated exceptions (holidays that close a day, special days that open one). Rules use one as a
//! condition, and a schedule may answer customers who write while it is closed
//! (docs/automation.md). Times of day are `HH:MM` in the schedule's zone; instants are Unix
//! milliseconds.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::{PhoneNumberId, ScheduleId};

/// The most schedules a workspace has.
pub const MAX_SCHEDULES_PER_TENANT: usize = 100;
/// The most opening intervals one day has.
pub const MAX_INTERVALS_PER_DAY: usize = 12;
/// The most dated exceptions one schedule has (ten years of a country's public holidays).
pub const MAX_OVERRIDES: usize = 1_000;
/// The largest calendar file taken.
pub const MAX_ICS_BYTES: usize = 1024 * 1024;

/// One opening interval. `to` may be `24:00` (the end of the day); a `to` at or before `from`
/// runs past midnight into the next day (`22:00`–`06:00`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Interval {
    pub from: String,
    pub to: String,
}

/// Opening intervals per weekday; a day left out is closed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Week {
    #[serde(default)]
    pub mon: Vec<Interval>,
    #[serde(default)]
    pub tue: Vec<Interval>,
    #[serde(default)]
    pub wed: Vec<Interval>,
    #[serde(default)]
    pub thu: Vec<Interval>,
    #[serde(default)]
    pub fri: Vec<Interval>,
    #[serde(default)]
    pub sat: Vec<Interval>,
    #[serde(default)]
    pub sun: Vec<Interval>,
}

impl Week {
    /// The days Monday first, with their field names.
    pub fn days(&self) -> [(&'static str, &[Interval]); 7] {
        [
            ("mon", &self.mon),
            ("tue", &self.tue),
            ("wed", &self.wed),
            ("thu", &self.thu),
            ("fri", &self.fri),
            ("sat", &self.sat),
            ("sun", &self.sun),
        ]
    }
}

/// A dated exception: the day's own intervals instead of its weekday's (none: closed all day).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DateOverride {
    /// `YYYY-MM-DD`, in the schedule's zone.
    pub date: String,
    /// What the day is (`New Year`), shown to admins.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub hours: Vec<Interval>,
}

/// What a schedule answers a customer who writes while it is closed, at most once per contact
/// per closed period. `{{next_open}}` becomes when it opens next, in the contact's language
/// (`tomorrow at 09:00`, `в понедельник в 09:00`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct OffHoursReply {
    /// The reply when there is none in the contact's language.
    pub text: String,
    /// Replies by language (`ru`, `en`): the contact's attribute `language`, or else the
    /// language of the customer's message.
    #[serde(default)]
    pub texts: BTreeMap<String, String>,
}

/// `POST /api/v1/automation/schedules`, `PUT …/{id}`: a whole schedule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ScheduleInput {
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 100)))]
    pub name: String,
    /// An IANA time zone (`Europe/Moscow`); daylight saving time follows the zone's rules.
    pub time_zone: String,
    pub week: Week,
    #[serde(default)]
    pub overrides: Vec<DateOverride>,
    /// The workspace's schedule for numbers no schedule names (at most one).
    #[serde(default)]
    pub default: bool,
    /// The numbers whose hours these are (a number is in at most one schedule).
    #[serde(default)]
    pub numbers: Vec<PhoneNumberId>,
    #[serde(default)]
    pub off_hours_reply: Option<OffHoursReply>,
    /// On `PUT`: the version read; a schedule changed since is not overwritten (409).
    #[serde(default)]
    pub version: Option<u64>,
}

/// A schedule, with where it stands now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Schedule {
    pub id: ScheduleId,
    pub name: String,
    pub time_zone: String,
    pub week: Week,
    pub overrides: Vec<DateOverride>,
    pub default: bool,
    pub numbers: Vec<PhoneNumberId>,
    pub off_hours_reply: Option<OffHoursReply>,
    /// Whether it is open at the time of the answer.
    pub open_now: bool,
    /// When it next opens (if closed) or closes (if open); none within a year: never.
    pub next_change: Option<i64>,
    pub version: u64,
    pub updated_at: i64,
    pub updated_by: String,
}

/// `POST /api/v1/automation/schedules/{id}/holidays?replace=…`: what a calendar file added.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct HolidayImport {
    /// Closed days added (or replaced, when a date was already there).
    pub added: usize,
    /// Events not taken, and why (in the past, not all-day, a recurrence not understood).
    pub skipped: Vec<HolidaySkipped>,
    /// Days before today in the file, not taken.
    pub past: usize,
    pub schedule: Option<Schedule>,
}

/// A calendar event not taken.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct HolidaySkipped {
    /// The event's `SUMMARY` (or `UID`).
    pub event: String,
    pub reason: String,
}
