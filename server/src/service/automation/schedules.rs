//! Business-hours schedules at run time, and what admins do to them.
//!
//! Owns: each tenant's schedules compiled once per change (`crate::schedule::Hours`), which
//! schedule a number goes by (the one naming it, else the workspace's default), the schedule use
//! cases (checked against the workspace: its numbers, the other schedules, the rules that use
//! one) and holiday calendars merged in. Must not: decide what is open when (the pure core does)
//! or know HTTP.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use jiff::Timestamp;
use switchboard_shared::schedule::*;
use switchboard_shared::{PhoneNumberId, ScheduleId, TenantId};

use super::super::documents::{invalid, DocumentActor, DocumentError, DocumentKind};
use super::{Automation, FRESH};
use crate::auth::TenantScope;
use crate::domain::*;
use crate::schedule::{ics, Hours};
use crate::store::StoreError;

const SCHEDULES: DocumentKind = DocumentKind {
    kind: ItemKind::Schedule,
    prefix: "sc",
    noun: "schedule",
    limit: MAX_SCHEDULES_PER_TENANT,
};

/// How many years of a holiday calendar are taken.
const HOLIDAY_YEARS: i16 = 3;

/// One schedule, compiled.
pub struct HoursEntry {
    pub item: AutomationItem,
    pub doc: ScheduleInput,
    pub hours: Hours,
}

/// A tenant's schedules, compiled.
pub struct TenantHours {
    made: Instant,
    entries: Vec<HoursEntry>,
}

impl TenantHours {
    pub fn by_id(&self, id: &str) -> Option<&HoursEntry> {
        self.entries.iter().find(|e| e.item.id == id)
    }

    /// The schedule a number goes by: the one naming it, else the default (`None`: any number,
    /// so the default).
    pub fn for_number(&self, number: Option<&PhoneNumberId>) -> Option<&HoursEntry> {
        number
            .and_then(|n| self.entries.iter().find(|e| e.doc.numbers.contains(n)))
            .or_else(|| self.entries.iter().find(|e| e.doc.default))
    }

    /// Whether the business is open at `at` by `schedule` (or by the number's): `None` when no
    /// such schedule exists.
    pub fn open(
        &self,
        schedule: Option<&ScheduleId>,
        number: Option<&PhoneNumberId>,
        at: Timestamp,
    ) -> Option<bool> {
        let entry = match schedule {
            Some(id) => self.by_id(id.as_str()),
            None => self.for_number(number),
        }?;
        Some(entry.hours.is_open(at))
    }
}

fn wire(entry: &HoursEntry, now: Timestamp) -> Schedule {
    let state = entry.hours.state(now);
    let doc = &entry.doc;
    Schedule {
        id: ScheduleId::new(entry.item.id.clone()),
        name: doc.name.clone(),
        time_zone: doc.time_zone.clone(),
        week: doc.week.clone(),
        overrides: doc.overrides.clone(),
        default: doc.default,
        numbers: doc.numbers.clone(),
        off_hours_reply: doc.off_hours_reply.clone(),
        open_now: state.open,
        next_change: state.next_change.map(|t| t.as_millisecond()),
        version: entry.item.version,
        updated_at: entry.item.updated_at,
        updated_by: entry.item.updated_by.clone(),
    }
}

fn now() -> Timestamp {
    instant(now_ms())
}

impl Automation {
    /// The tenant's schedules, compiled (again if they changed or went stale).
    pub async fn hours(&self, tenant: &TenantId) -> Result<Arc<TenantHours>, StoreError> {
        if let Some(h) = self.inner.hours.get(tenant) {
            if h.made.elapsed() < FRESH {
                return Ok(Arc::clone(&h));
            }
        }
        let mut entries = Vec::new();
        for item in self
            .inner
            .store
            .list_items(tenant, ItemKind::Schedule)
            .await?
        {
            let compiled = serde_json::from_str::<ScheduleInput>(&item.body)
                .map_err(|e| e.to_string())
                .and_then(|doc| {
                    Hours::compile(&doc)
                        .map(|hours| (doc, hours))
                        .map_err(|e| format!("{}: {}", e.field, e.message))
                });
            match compiled {
                Ok((doc, hours)) => entries.push(HoursEntry { item, doc, hours }),
                Err(e) => {
                    tracing::error!(schedule = %item.id, error = %e, "a stored schedule is unreadable; skipped")
                }
            }
        }
        entries.sort_by(|a, b| a.doc.name.cmp(&b.doc.name).then(a.item.id.cmp(&b.item.id)));
        let hours = Arc::new(TenantHours {
            made: Instant::now(),
            entries,
        });
        self.inner.hours.insert(tenant.clone(), Arc::clone(&hours));
        Ok(hours)
    }

    fn forget_hours(&self, tenant: &TenantId) {
        self.inner.hours.remove(tenant);
        // Rules' conditions name schedules: they are read again with them.
        self.forget(tenant);
    }

    /// The tenant's schedules by name, each with where it stands now.
    pub async fn schedules(&self, scope: &TenantScope) -> Result<Vec<Schedule>, StoreError> {
        let hours = self.hours(scope.tenant()).await?;
        let now = now();
        Ok(hours.entries.iter().map(|e| wire(e, now)).collect())
    }

    pub async fn schedule(
        &self,
        scope: &TenantScope,
        id: &ScheduleId,
    ) -> Result<Schedule, DocumentError> {
        let (item, doc) = SCHEDULES.read::<ScheduleInput>(scope, id.as_str()).await?;
        let hours = Hours::compile(&doc)
            .map_err(|e| StoreError::Corrupt(format!("schedule {id}: {}", e.message)))?;
        Ok(wire(&HoursEntry { item, doc, hours }, now()))
    }

    /// Checks a schedule against itself (the pure core) and the workspace: its numbers exist and
    /// are in no other schedule, at most one schedule is the default.
    async fn checked_schedule(
        &self,
        scope: &TenantScope,
        mut input: ScheduleInput,
        replacing: Option<&str>,
    ) -> Result<(ScheduleInput, Hours), DocumentError> {
        let hours = Hours::compile(&input).map_err(|e| invalid(e.field, e.message))?;
        input.name = input.name.trim().to_owned();
        input.time_zone = input.time_zone.trim().to_owned();
        input.version = None;
        let numbers: BTreeSet<PhoneNumberId> = scope
            .numbers()
            .await?
            .into_iter()
            .map(|n| n.phone_number_id)
            .collect();
        let mut seen = BTreeSet::new();
        for (i, n) in input.numbers.iter().enumerate() {
            if !numbers.contains(n) {
                return Err(invalid(
                    format!("numbers[{i}]"),
                    format!("no number `{n}` in this workspace"),
                ));
            }
            if !seen.insert(n) {
                return Err(invalid(format!("numbers[{i}]"), format!("`{n}` twice")));
            }
        }
        let tenant = self.hours(scope.tenant()).await?;
        for other in tenant
            .entries
            .iter()
            .filter(|e| Some(e.item.id.as_str()) != replacing)
        {
            if let Some((i, n)) = input
                .numbers
                .iter()
                .enumerate()
                .find(|(_, n)| other.doc.numbers.contains(n))
            {
                return Err(invalid(
                    format!("numbers[{i}]"),
                    format!(
                        "`{n}` goes by the schedule `{}` ({}); a number has one schedule",
                        other.doc.name, other.item.id
                    ),
                ));
            }
            if input.default && other.doc.default {
                return Err(invalid(
                    "default",
                    format!(
                        "`{}` ({}) is the default schedule; a workspace has one",
                        other.doc.name, other.item.id
                    ),
                ));
            }
        }
        Ok((input, hours))
    }

    pub async fn create_schedule(
        &self,
        actor: &DocumentActor<'_>,
        input: ScheduleInput,
    ) -> Result<Schedule, DocumentError> {
        let (doc, hours) = self.checked_schedule(actor.scope, input, None).await?;
        let item = SCHEDULES.create(actor, &doc).await?;
        self.forget_hours(actor.scope.tenant());
        Ok(wire(&HoursEntry { item, doc, hours }, now()))
    }

    pub async fn replace_schedule(
        &self,
        actor: &DocumentActor<'_>,
        id: &ScheduleId,
        input: ScheduleInput,
    ) -> Result<Schedule, DocumentError> {
        let (current, _) = SCHEDULES
            .read::<ScheduleInput>(actor.scope, id.as_str())
            .await?;
        let version = input.version;
        let (doc, hours) = self
            .checked_schedule(actor.scope, input, Some(id.as_str()))
            .await?;
        let item = SCHEDULES.replace(actor, current, version, &doc).await?;
        self.forget_hours(actor.scope.tenant());
        Ok(wire(&HoursEntry { item, doc, hours }, now()))
    }

    /// Deletes a schedule no rule names.
    pub async fn delete_schedule(
        &self,
        actor: &DocumentActor<'_>,
        id: &ScheduleId,
    ) -> Result<(), DocumentError> {
        let compiled = self.compiled(actor.scope.tenant()).await?;
        if let Some((item, doc)) = compiled
            .rules
            .iter()
            .find(|(_, d)| d.conditions.schedule.as_ref() == Some(id))
        {
            return Err(DocumentError::Conflict(format!(
                "the rule `{}` ({}) goes by this schedule; change the rule first",
                doc.name, item.id
            )));
        }
        SCHEDULES.delete(actor, id.as_str()).await?;
        self.forget_hours(actor.scope.tenant());
        Ok(())
    }

    /// Merges a holiday calendar (`.ics`) into a schedule as closed days, from today for
    /// [`HOLIDAY_YEARS`] years. With `replace`, the schedule's closed days are the calendar's
    /// (days it opens specially are kept); otherwise the calendar's days are added, replacing
    /// what was set for the same dates.
    pub async fn import_holidays(
        &self,
        actor: &DocumentActor<'_>,
        id: &ScheduleId,
        calendar: &str,
        replace: bool,
    ) -> Result<HolidayImport, DocumentError> {
        let (current, mut doc) = SCHEDULES
            .read::<ScheduleInput>(actor.scope, id.as_str())
            .await?;
        let hours = Hours::compile(&doc)
            .map_err(|e| StoreError::Corrupt(format!("schedule {id}: {}", e.message)))?;
        let today = now().to_zoned(hours.zone().clone()).date();
        let until = jiff::civil::Date::new(today.year().saturating_add(HOLIDAY_YEARS), 12, 31)
            .unwrap_or(today);
        let text = calendar.to_owned();
        let read = tokio::task::spawn_blocking(move || ics::read(&text, today, until))
            .await
            .map_err(|e| StoreError::Unavailable(format!("reading a calendar: {e}")))?
            .map_err(|e| invalid("ics", e))?;
        if replace {
            doc.overrides.retain(|o| !o.hours.is_empty());
        }
        let added = read.days.len();
        doc.overrides.retain(|o| {
            o.date
                .parse::<jiff::civil::Date>()
                .map_or(true, |d| !read.days.contains_key(&d))
        });
        doc.overrides
            .extend(read.days.into_iter().map(|(date, name)| DateOverride {
                date: date.to_string(),
                name,
                hours: Vec::new(),
            }));
        doc.overrides.sort_by(|a, b| a.date.cmp(&b.date));
        if doc.overrides.len() > MAX_OVERRIDES {
            return Err(DocumentError::TooMany(format!(
                "the schedule would hold {} dated exceptions; the most is {MAX_OVERRIDES}",
                doc.overrides.len()
            )));
        }
        let (doc, hours) = self
            .checked_schedule(actor.scope, doc, Some(id.as_str()))
            .await?;
        let item = SCHEDULES.replace(actor, current, None, &doc).await?;
        self.forget_hours(actor.scope.tenant());
        Ok(HolidayImport {
            added,
            skipped: read.skipped,
            past: read.past,
            schedule: Some(wire(&HoursEntry { item, doc, hours }, now())),
        })
    }
}
