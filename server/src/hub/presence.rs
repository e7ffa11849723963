//! Presence: whether each agent is there (online, away, offline, from their sockets and
//! activity) and what they say about themselves (available, busy, break). Pure bookkeeping in a
//! dashmap with the clock passed in; every method returns the agent's new state when something
//! a supervisor sees changed, and nothing otherwise. No method awaits, so no map guard is ever held
//! across `.await`.
//!
//! An agent on a phone and a desktop has two connections and is one agent: online while either
//! is open and active.

use dashmap::DashMap;
use switchboard_shared::protocol::{AgentState, AgentStatus, Presence};
use switchboard_shared::{TenantId, UserId};

#[derive(Clone, Debug)]
struct Entry {
    name: String,
    connections: u32,
    status: AgentStatus,
    presence: Presence,
    last_activity: Option<i64>,
    /// Whether routing offers this user conversations (see `Presences::connected`).
    routable: bool,
    /// Connections whose app is in view (see [`Presences::in_view`]).
    in_view: u32,
}

impl Entry {
    fn state(&self, user: &UserId) -> AgentState {
        AgentState {
            user: user.clone(),
            name: self.name.clone(),
            presence: self.presence,
            status: self.status,
            connections: self.connections,
            last_activity: self.last_activity,
        }
    }
}

pub struct Presences {
    map: DashMap<(TenantId, UserId), Entry>,
    away_after_ms: i64,
}

impl Presences {
    pub fn new(away_after_ms: i64) -> Self {
        Self {
            map: DashMap::new(),
            away_after_ms,
        }
    }

    /// Applies `f` to the agent's entry (made on first sight) and returns their state if what a
    /// supervisor sees (presence or status) changed.
    fn update(
        &self,
        tenant: &TenantId,
        user: &UserId,
        name: Option<&str>,
        f: impl FnOnce(&mut Entry),
    ) -> Option<AgentState> {
        let mut entry = self
            .map
            .entry((tenant.clone(), user.clone()))
            .or_insert_with(|| Entry {
                name: name.unwrap_or_default().to_owned(),
                connections: 0,
                status: AgentStatus::Available,
                presence: Presence::Offline,
                last_activity: None,
                routable: false,
                in_view: 0,
            });
        if let Some(name) = name {
            entry.name = name.to_owned();
        }
        let before = (entry.presence, entry.status);
        f(&mut entry);
        ((entry.presence, entry.status) != before).then(|| entry.state(user))
    }

    /// A socket of the user opened. `routable`: whether routing should offer them
    /// conversations (people who work an inbox, not those who oversee every conversation).
    pub fn connected(
        &self,
        tenant: &TenantId,
        user: &UserId,
        name: &str,
        routable: bool,
        now: i64,
    ) -> Option<AgentState> {
        self.update(tenant, user, Some(name), |e| {
            e.routable = routable;
            e.connections += 1;
            e.in_view += 1;
            e.presence = Presence::Online;
            e.last_activity = Some(now);
        })
    }

    /// A socket of the user closed; `in_view`: whether its app was in view last.
    pub fn disconnected(
        &self,
        tenant: &TenantId,
        user: &UserId,
        in_view: bool,
    ) -> Option<AgentState> {
        self.update(tenant, user, None, |e| {
            e.connections = e.connections.saturating_sub(1);
            if in_view {
                e.in_view = e.in_view.saturating_sub(1);
            }
            if e.connections == 0 {
                e.presence = Presence::Offline;
            }
        })
    }

    /// A frame from the agent: they are here.
    pub fn active(&self, tenant: &TenantId, user: &UserId, now: i64) -> Option<AgentState> {
        self.update(tenant, user, None, |e| {
            e.last_activity = Some(now);
            if e.connections > 0 {
                e.presence = Presence::Online;
            }
        })
    }

    pub fn set_status(
        &self,
        tenant: &TenantId,
        user: &UserId,
        status: AgentStatus,
        now: i64,
    ) -> Option<AgentState> {
        self.update(tenant, user, None, |e| {
            e.status = status;
            e.last_activity = Some(now);
            if e.connections > 0 {
                e.presence = Presence::Online;
            }
        })
    }

    /// Marks connected agents idle for longer than the away timeout as away.
    pub fn sweep(&self, now: i64) -> Vec<(TenantId, AgentState)> {
        let mut changed = Vec::new();
        for mut item in self.map.iter_mut() {
            let idle = item
                .last_activity
                .is_none_or(|at| now - at > self.away_after_ms);
            if item.presence == Presence::Online && idle {
                item.presence = Presence::Away;
                let (tenant, user) = item.key().clone();
                changed.push((tenant, item.state(&user)));
            }
        }
        changed
    }

    /// One of the user's connections went in or out of view (its app was shown or hidden); a
    /// connection starts in view. Nothing a supervisor sees changes.
    pub fn in_view(&self, tenant: &TenantId, user: &UserId, shown: bool) {
        self.update(tenant, user, None, |e| {
            e.in_view = if shown {
                (e.in_view + 1).min(e.connections)
            } else {
                e.in_view.saturating_sub(1)
            };
        });
    }

    /// Whether the user has the app in view somewhere: Web Push waits until they do not.
    pub fn is_watching(&self, tenant: &TenantId, user: &UserId) -> bool {
        self.map
            .get(&(tenant.clone(), user.clone()))
            .is_some_and(|e| e.in_view > 0)
    }

    /// Whether routing offers the user conversations.
    pub fn routable(&self, tenant: &TenantId, user: &UserId) -> bool {
        self.map
            .get(&(tenant.clone(), user.clone()))
            .is_some_and(|e| e.routable)
    }

    /// What is known of a user (offline and available when never seen).
    pub fn of(&self, tenant: &TenantId, user: &UserId, name: &str) -> AgentState {
        self.map
            .get(&(tenant.clone(), user.clone()))
            .map(|e| e.state(user))
            .unwrap_or_else(|| AgentState {
                user: user.clone(),
                name: name.to_owned(),
                presence: Presence::Offline,
                status: AgentStatus::Available,
                connections: 0,
                last_activity: None,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_devices_are_one_agent_who_leaves_with_the_last_socket() {
        let p = Presences::new(300_000);
        let (t, u) = (TenantId::from("t"), UserId::from("u"));
        let first = p.connected(&t, &u, "Ada", true, 0).unwrap();
        assert_eq!(first.presence, Presence::Online);
        assert_eq!(
            p.connected(&t, &u, "Ada", true, 1),
            None,
            "a second device changes nothing seen"
        );
        assert_eq!(
            p.disconnected(&t, &u, true),
            None,
            "still on the other device"
        );
        let gone = p.disconnected(&t, &u, true).unwrap();
        assert_eq!((gone.presence, gone.connections), (Presence::Offline, 0));
    }

    #[test]
    fn a_person_is_watching_while_one_of_their_apps_is_in_view() {
        let p = Presences::new(300_000);
        let (t, u) = (TenantId::from("t"), UserId::from("u"));
        assert!(!p.is_watching(&t, &u), "never seen");
        p.connected(&t, &u, "Ada", true, 0);
        p.connected(&t, &u, "Ada", true, 0);
        assert!(p.is_watching(&t, &u), "a connection starts in view");
        p.in_view(&t, &u, false);
        assert!(p.is_watching(&t, &u), "the desktop is still in view");
        p.in_view(&t, &u, false);
        assert!(!p.is_watching(&t, &u), "both hidden: pushes go out");
        p.in_view(&t, &u, true);
        p.disconnected(&t, &u, true);
        assert!(!p.is_watching(&t, &u), "the one in view closed");
        p.disconnected(&t, &u, false);
        assert!(!p.is_watching(&t, &u));
        p.in_view(&t, &u, true);
        assert!(!p.is_watching(&t, &u), "no connection is in view");
    }

    #[test]
    fn idle_agents_turn_away_and_come_back_with_activity() {
        let p = Presences::new(300_000);
        let (t, u) = (TenantId::from("t"), UserId::from("u"));
        p.connected(&t, &u, "Ada", true, 0);
        assert!(p.sweep(299_000).is_empty());
        let away = p.sweep(300_001);
        assert_eq!(away[0].1.presence, Presence::Away);
        assert!(p.sweep(400_000).is_empty(), "said once");
        assert_eq!(
            p.active(&t, &u, 400_001).unwrap().presence,
            Presence::Online
        );
        assert_eq!(p.active(&t, &u, 400_002), None);
    }

    #[test]
    fn manual_status_is_kept_across_reconnects() {
        let p = Presences::new(300_000);
        let (t, u) = (TenantId::from("t"), UserId::from("u"));
        p.connected(&t, &u, "Ada", true, 0);
        assert_eq!(
            p.set_status(&t, &u, AgentStatus::Break, 1).unwrap().status,
            AgentStatus::Break
        );
        p.disconnected(&t, &u, true);
        let back = p.connected(&t, &u, "Ada", true, 2).unwrap();
        assert_eq!(
            (back.presence, back.status),
            (Presence::Online, AgentStatus::Break)
        );
        assert_eq!(
            p.of(&t, &UserId::from("x"), "X").presence,
            Presence::Offline
        );
    }
}
