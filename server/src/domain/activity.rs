//! Agents' working time: how long each agent was online on a UTC day, how much of it idle,
//! available or on a break, and how many conversations they held at once. The inbox task keeps
//! an [`Activity`] per tenant as presence and load change and stores each day's figures whole
//! ([`AgentDayRecord`], an idempotent upsert of running totals), so a restart continues the day
//! from what was last written.
//!
//! Pure bookkeeping with the clock passed in. Time is credited in intervals between two
//! observations (a presence change, the inbox's tick): an interval is split at UTC midnight and
//! counted under the state that held during it. The inbox tells each change of an agent's
//! load as it routes ([`Activity::load`]) and every agent's load at each tick.

use std::collections::{BTreeSet, HashMap};

use switchboard_shared::protocol::{AgentStatus, Presence};
use switchboard_shared::{TenantId, UserId};

use super::{day_bucket, UnixMillis, DAY_MS};

/// One agent's figures for one UTC day. Durations in milliseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentDayRecord {
    pub tenant: TenantId,
    /// Days since the epoch ([`day_bucket`]).
    pub day: i64,
    pub user: UserId,
    /// Connected (a socket open), active or idle.
    pub online_ms: i64,
    /// The part of `online_ms` the agent was idle past the away timeout.
    pub idle_ms: i64,
    /// Active and available: the time routing could offer them conversations.
    pub available_ms: i64,
    /// Connected with the status "break".
    pub break_ms: i64,
    /// Conversations held × time, while connected: divided by `online_ms`, the mean number of
    /// conversations they worked at once.
    pub load_ms: i64,
    /// The most conversations seen assigned to them at once while connected.
    pub peak_load: u32,
    /// When these figures were last credited.
    pub updated_at: UnixMillis,
}

impl AgentDayRecord {
    /// A day with nothing credited yet.
    pub fn empty(tenant: TenantId, day: i64, user: UserId) -> Self {
        Self {
            tenant,
            day,
            user,
            online_ms: 0,
            idle_ms: 0,
            available_ms: 0,
            break_ms: 0,
            load_ms: 0,
            peak_load: 0,
            updated_at: 0,
        }
    }

    /// The mean number of conversations held at once while online (none when never online).
    pub fn mean_load(&self) -> Option<f64> {
        (self.online_ms > 0).then(|| self.load_ms as f64 / self.online_ms as f64)
    }
}

/// What an agent is doing now, as last observed.
#[derive(Clone, Copy, Debug)]
struct Live {
    presence: Presence,
    status: AgentStatus,
    load: u32,
    /// Credited up to here.
    since: UnixMillis,
}

/// One tenant's agents: their live state and the figures of the days not yet stored.
#[derive(Debug)]
pub struct Activity {
    tenant: TenantId,
    live: HashMap<UserId, Live>,
    /// Figures by (day, user): today's, and a finished day's until it is taken.
    days: HashMap<(i64, UserId), AgentDayRecord>,
    /// What changed since the last [`Activity::take_changed`].
    changed: BTreeSet<(i64, UserId)>,
}

impl Activity {
    pub fn new(tenant: TenantId) -> Self {
        Self {
            tenant,
            live: HashMap::new(),
            days: HashMap::new(),
            changed: BTreeSet::new(),
        }
    }

    /// Continues from stored figures (today's, read back at a start).
    pub fn restore(&mut self, rows: impl IntoIterator<Item = AgentDayRecord>) {
        for row in rows.into_iter().filter(|r| r.tenant == self.tenant) {
            self.days.insert((row.day, row.user.clone()), row);
        }
    }

    fn record(&mut self, day: i64, user: &UserId) -> &mut AgentDayRecord {
        let tenant = &self.tenant;
        self.days
            .entry((day, user.clone()))
            .or_insert_with(|| AgentDayRecord::empty(tenant.clone(), day, user.clone()))
    }

    /// Credits `user`'s time from their last observation to `now`, under the state that held.
    fn credit(&mut self, user: &UserId, now: UnixMillis) {
        let Some(live) = self.live.get(user).copied() else {
            return;
        };
        let connected = live.presence != Presence::Offline;
        let mut from = live.since;
        // A clock that stepped back credits nothing and restarts from `now`.
        while from < now {
            let day = day_bucket(from);
            let until = now.min((day + 1) * DAY_MS);
            let span = until - from;
            if connected {
                let record = self.record(day, user);
                record.online_ms += span;
                if live.presence == Presence::Away {
                    record.idle_ms += span;
                }
                match live.status {
                    AgentStatus::Available if live.presence == Presence::Online => {
                        record.available_ms += span
                    }
                    AgentStatus::Break => record.break_ms += span,
                    _ => {}
                }
                record.load_ms += span * i64::from(live.load);
                record.peak_load = record.peak_load.max(live.load);
                record.updated_at = until;
                self.changed.insert((day, user.clone()));
            }
            from = until;
        }
        if let Some(live) = self.live.get_mut(user) {
            live.since = now;
        }
    }

    /// The agent's presence or status changed (or was first seen).
    pub fn agent(
        &mut self,
        user: &UserId,
        presence: Presence,
        status: AgentStatus,
        now: UnixMillis,
    ) {
        self.credit(user, now);
        let live = self.live.entry(user.clone()).or_insert(Live {
            presence,
            status,
            load: 0,
            since: now,
        });
        live.presence = presence;
        live.status = status;
        if presence != Presence::Offline {
            let load = live.load;
            let day = day_bucket(now);
            let record = self.record(day, user);
            record.peak_load = record.peak_load.max(load);
            record.updated_at = record.updated_at.max(now);
            self.changed.insert((day, user.clone()));
        }
    }

    /// The agent's load changed (a conversation assigned to them, or taken from them).
    pub fn load(&mut self, user: &UserId, load: u32, now: UnixMillis) {
        self.credit(user, now);
        let Some(live) = self.live.get_mut(user) else {
            return;
        };
        live.load = load;
        if live.presence != Presence::Offline && load > 0 {
            let day = day_bucket(now);
            let record = self.record(day, user);
            if load > record.peak_load {
                record.peak_load = load;
                self.changed.insert((day, user.clone()));
            }
        }
    }

    /// The inbox's tick: credits everyone up to `now`, then takes each agent's current load
    /// (`loads`: agents holding conversations; everyone else holds none), in case a change of
    /// load was not told.
    pub fn tick(&mut self, now: UnixMillis, loads: impl IntoIterator<Item = (UserId, u32)>) {
        let users: Vec<UserId> = self.live.keys().cloned().collect();
        for user in &users {
            self.credit(user, now);
        }
        let loads: HashMap<UserId, u32> = loads.into_iter().collect();
        for user in users {
            self.load(&user, loads.get(&user).copied().unwrap_or(0), now);
        }
        let day = day_bucket(now);
        // Offline agents whose day is over need not be remembered.
        self.live
            .retain(|_, l| l.presence != Presence::Offline || day_bucket(l.since) == day);
    }

    /// The figures changed since the last call, to be stored whole; finished days are dropped
    /// from memory once taken (nothing credits them any more).
    pub fn take_changed(&mut self, now: UnixMillis) -> Vec<AgentDayRecord> {
        let today = day_bucket(now);
        let changed = std::mem::take(&mut self.changed);
        let rows = changed
            .iter()
            .filter_map(|key| self.days.get(key).cloned())
            .collect();
        self.days.retain(|(day, _), _| *day >= today);
        rows
    }

    /// Puts figures back as changed (their write failed; the next flush tries again).
    pub fn unwritten(&mut self, rows: Vec<AgentDayRecord>) {
        for row in rows {
            let key = (row.day, row.user.clone());
            self.changed.insert(key.clone());
            self.days.entry(key).or_insert(row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn day_of(rows: &[AgentDayRecord], day: i64) -> &AgentDayRecord {
        rows.iter()
            .find(|r| r.day == day)
            .expect("a row for the day")
    }

    #[test]
    fn time_is_credited_to_the_state_that_held() {
        let (t, u) = (TenantId::from("t"), UserId::from("u"));
        let start = 20_000 * DAY_MS + 8 * 60 * MIN;
        let mut a = Activity::new(t);
        a.agent(&u, Presence::Online, AgentStatus::Available, start);
        // Two conversations for 10 minutes, then one for 20.
        a.tick(start, [(u.clone(), 2)]);
        a.tick(start + 10 * MIN, [(u.clone(), 1)]);
        a.agent(&u, Presence::Online, AgentStatus::Break, start + 30 * MIN);
        a.tick(start + 30 * MIN, []);
        a.agent(&u, Presence::Away, AgentStatus::Break, start + 45 * MIN);
        a.agent(&u, Presence::Offline, AgentStatus::Break, start + 60 * MIN);
        // Offline time counts for nothing.
        a.tick(start + 120 * MIN, []);
        let rows = a.take_changed(start + 120 * MIN);
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(r.online_ms, 60 * MIN);
        assert_eq!(r.available_ms, 30 * MIN);
        assert_eq!(r.break_ms, 30 * MIN);
        assert_eq!(r.idle_ms, 15 * MIN);
        assert_eq!(r.load_ms, 2 * 10 * MIN + 20 * MIN);
        assert_eq!(r.peak_load, 2);
        assert_eq!(r.mean_load(), Some(40.0 / 60.0));
        assert!(a.take_changed(start + 120 * MIN).is_empty(), "taken once");
    }

    #[test]
    fn a_shift_over_midnight_is_split_between_the_days() {
        let (t, u) = (TenantId::from("t"), UserId::from("u"));
        let midnight = 20_001 * DAY_MS;
        let mut a = Activity::new(t.clone());
        a.agent(
            &u,
            Presence::Online,
            AgentStatus::Available,
            midnight - 30 * MIN,
        );
        a.tick(midnight + 45 * MIN, []);
        let rows = a.take_changed(midnight + 45 * MIN);
        assert_eq!(day_of(&rows, 20_000).online_ms, 30 * MIN);
        assert_eq!(day_of(&rows, 20_001).online_ms, 45 * MIN);
        // A restart continues today's figures from the stored ones.
        let mut again = Activity::new(t);
        again.restore(rows.into_iter().filter(|r| r.day == 20_001));
        again.agent(
            &u,
            Presence::Online,
            AgentStatus::Available,
            midnight + 50 * MIN,
        );
        again.tick(midnight + 60 * MIN, []);
        let rows = again.take_changed(midnight + 60 * MIN);
        assert_eq!(day_of(&rows, 20_001).online_ms, 55 * MIN);
    }

    #[test]
    fn figures_that_could_not_be_written_are_offered_again() {
        let (t, u) = (TenantId::from("t"), UserId::from("u"));
        let mut a = Activity::new(t);
        a.agent(&u, Presence::Online, AgentStatus::Busy, 0);
        a.tick(MIN, []);
        let rows = a.take_changed(MIN);
        a.unwritten(rows.clone());
        assert_eq!(a.take_changed(MIN), rows);
        a.tick(2 * MIN, []);
        assert_eq!(a.take_changed(2 * MIN)[0].online_ms, 2 * MIN);
    }

    #[test]
    fn a_clock_that_steps_back_credits_nothing() {
        let (t, u) = (TenantId::from("t"), UserId::from("u"));
        let mut a = Activity::new(t);
        a.agent(&u, Presence::Online, AgentStatus::Available, 10 * MIN);
        a.tick(5 * MIN, []);
        a.tick(6 * MIN, []);
        assert_eq!(a.take_changed(6 * MIN)[0].online_ms, MIN);
    }
}
