//! The routing engine: who gets a conversation. Pure code with the clock passed in; one engine
//! per tenant, driven by one task (`service::inbox`), so it needs no locks and every decision is
//! reproducible in a test.
//!
//! Owns: agents' routing view (connected and available, capacity, skills, active conversations),
//! assignments, the waiting queue with positions and estimated waits, and the policies that
//! choose an agent. Must not: do I/O, read a clock, or know sockets.
//!
//! Choosing, in order (each step among *eligible* agents: connected, status available, under
//! capacity, and in the conversation's pool, i.e. the teams owning its number when any does):
//! 1. sticky: the conversation's last agent, when eligible;
//! 2. agents holding every skill the conversation asks for (`lang:ru`, `skill:billing` tags);
//! 3. any agent of the pool (the skill fallback);
//! 4. otherwise the conversation waits in the queue, first come first served, and is given to
//!    the first agent who frees up or comes online.
//!
//! Among several candidates, `round_robin` takes the one assigned least recently and
//! `least_load` the one with the lowest load relative to capacity (then least recently).
//! Automatic routing never exceeds an agent's capacity and never picks an agent who is not
//! connected; a supervisor's manual assignment may exceed capacity (their call), but never
//! targets a disconnected agent either.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use serde::{Deserialize, Serialize};
use switchboard_shared::{ConversationId, UserId};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    RoundRobin,
    #[default]
    LeastLoad,
}

impl Strategy {
    /// Its name in the configuration and the API (as serde spells it).
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::RoundRobin => "round_robin",
            Strategy::LeastLoad => "least_load",
        }
    }
}

/// How an agent looks to routing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentView {
    /// At least one socket open.
    pub connected: bool,
    /// Status `available` (not busy, not on a break).
    pub available: bool,
    pub capacity: u32,
    pub skills: BTreeSet<String>,
}

/// A conversation asking for an agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ticket {
    pub conversation: ConversationId,
    /// The agents allowed to take it (the members of the teams owning the number); `None` when
    /// no team owns the number: everyone.
    pub pool: Option<BTreeSet<UserId>>,
    /// Skills asked for (from the conversation's `lang:` and `skill:` tags).
    pub skills: BTreeSet<String>,
    /// The agent who handled it last (or the contact's owner), preferred when eligible.
    pub sticky: Option<UserId>,
    /// When the customer started waiting.
    pub since_ms: i64,
    /// How to pick among candidates for this conversation (its number's strategy), instead of
    /// the tenant's.
    pub strategy: Option<Strategy>,
}

/// Why an agent was chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Sticky,
    Skills,
    Pool,
    Queue,
    Manual,
}

/// What changed; the caller persists and announces each change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Assigned {
        conversation: ConversationId,
        agent: UserId,
        previous: Option<UserId>,
        reason: Reason,
    },
    /// Waiting for an agent at `position` (1-based).
    Queued {
        conversation: ConversationId,
        position: usize,
        previous: Option<UserId>,
    },
}

/// One waiting conversation, as supervisors see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiting {
    pub conversation: ConversationId,
    pub position: usize,
    pub waited_ms: i64,
    /// Estimated wait from the recent handling times and the agents there to take it.
    pub eta_ms: i64,
}

#[derive(Clone, Debug)]
struct Slot {
    view: AgentView,
    active: BTreeSet<ConversationId>,
    /// The engine's turn counter when this agent last got a conversation (round robin).
    last_turn: u64,
    /// When the agent's last socket closed.
    offline_since: Option<i64>,
}

#[derive(Clone, Debug)]
struct Assignment {
    agent: UserId,
    ticket: Ticket,
    at_ms: i64,
    /// Whether the agent has replied since being given the conversation.
    replied: bool,
}

/// What ranks an agent with room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Standing {
    active: u32,
    capacity: u32,
    last_turn: u64,
}

/// An agent in least-load order: lowest load relative to capacity, then assigned least
/// recently, then by id (the order [`Engine::order`] and a scan in id order give).
#[derive(Clone, Debug)]
struct ByLoad(Standing, UserId);

impl Ord for ByLoad {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let (a, b) = (&self.0, &other.0);
        // a.active / a.capacity against b's, without division.
        let la = u64::from(a.active) * u64::from(b.capacity.max(1));
        let lb = u64::from(b.active) * u64::from(a.capacity.max(1));
        la.cmp(&lb)
            .then(a.last_turn.cmp(&b.last_turn))
            .then_with(|| self.1.cmp(&other.1))
    }
}

impl PartialOrd for ByLoad {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for ByLoad {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for ByLoad {}

/// Handling times remembered for the estimate.
const HANDLE_SAMPLES: usize = 50;
/// Assumed handling time before any conversation was resolved.
const DEFAULT_HANDLE_MS: i64 = 5 * 60 * 1000;

/// Routing for one tenant.
#[derive(Clone, Debug, Default)]
pub struct Engine {
    strategy: Strategy,
    agents: BTreeMap<UserId, Slot>,
    assigned: HashMap<ConversationId, Assignment>,
    queue: VecDeque<Ticket>,
    /// The conversations in `queue`, so that "is it waiting?" on every customer message does not
    /// scan a queue that can hold tens of thousands (issue 5's ingest: 480 µs a webhook).
    queued: HashSet<ConversationId>,
    /// The agents with room (connected, available, under capacity) and where they stand.
    /// Choosing looks only at these, so offline and full agents cost nothing per conversation.
    open: BTreeMap<UserId, Standing>,
    /// `open` in least-load order, then round-robin order: choosing for a conversation any free
    /// agent may take is the first entry, not a scan of the tenant's agents.
    by_load: BTreeSet<ByLoad>,
    by_turn: BTreeSet<(u64, UserId)>,
    turn: u64,
    handle_ms: VecDeque<i64>,
}

impl Engine {
    pub fn new(strategy: Strategy) -> Self {
        Self {
            strategy,
            ..Self::default()
        }
    }

    /// The strategy for numbers without their own (a workspace changed its settings).
    pub fn set_strategy(&mut self, strategy: Strategy) {
        self.strategy = strategy;
    }

    fn has_room(slot: &Slot) -> bool {
        slot.view.connected
            && slot.view.available
            && (slot.active.len() as u32) < slot.view.capacity
    }

    fn eligible(&self, user: &UserId, ticket: &Ticket) -> bool {
        self.agents.get(user).is_some_and(Self::has_room)
            && ticket.pool.as_ref().is_none_or(|p| p.contains(user))
    }

    /// Keeps `open` and its orders true to the agent's slot after anything that may change
    /// their room or rank.
    fn touch(&mut self, user: &UserId) {
        let now = self
            .agents
            .get(user)
            .filter(|s| Self::has_room(s))
            .map(|s| Standing {
                active: s.active.len() as u32,
                capacity: s.view.capacity,
                last_turn: s.last_turn,
            });
        let before = self.open.get(user).copied();
        if before == now {
            return;
        }
        if let Some(before) = before {
            self.open.remove(user);
            self.by_load.remove(&ByLoad(before, user.clone()));
            self.by_turn.remove(&(before.last_turn, user.clone()));
        }
        if let Some(now) = now {
            self.open.insert(user.clone(), now);
            self.by_load.insert(ByLoad(now, user.clone()));
            self.by_turn.insert((now.last_turn, user.clone()));
        }
    }

    /// The agent for `ticket` among every agent with room (skipping `exclude`).
    fn choose(&self, ticket: &Ticket, exclude: Option<&UserId>) -> Option<(UserId, Reason)> {
        if let Some(pool) = ticket.pool.as_ref().filter(|p| p.len() < self.open.len()) {
            // A team's few members instead of the whole tenant's free agents.
            return self.choose_among(
                ticket,
                exclude,
                pool.iter().filter(|u| self.open.contains_key(*u)),
            );
        }
        if let Some(sticky) = ticket.sticky.as_ref().filter(|s| Some(*s) != exclude) {
            if self.eligible(sticky, ticket) {
                return Some((sticky.clone(), Reason::Sticky));
            }
        }
        // Free agents best first: the first one who may take it is the pool's pick; with
        // skills asked for, the first who also has them.
        let ranked: Box<dyn Iterator<Item = &UserId>> =
            match ticket.strategy.unwrap_or(self.strategy) {
                Strategy::LeastLoad => Box::new(self.by_load.iter().map(|k| &k.1)),
                Strategy::RoundRobin => Box::new(self.by_turn.iter().map(|(_, u)| u)),
            };
        let mut any = None;
        for user in ranked {
            if Some(user) == exclude || !ticket.pool.as_ref().is_none_or(|p| p.contains(user)) {
                continue;
            }
            if ticket.skills.is_empty() {
                return Some((user.clone(), Reason::Pool));
            }
            if self
                .agents
                .get(user)
                .is_some_and(|s| ticket.skills.is_subset(&s.view.skills))
            {
                return Some((user.clone(), Reason::Skills));
            }
            any.get_or_insert(user);
        }
        any.map(|u| (u.clone(), Reason::Pool))
    }

    /// Sticky first, then the best agent holding every skill asked for, then the best of the
    /// pool; `candidates` in `UserId` order, so ties go the same way every time. One pass, no
    /// allocation: this runs for every new conversation and every waiting one an agent frees
    /// up for.
    fn choose_among<'a>(
        &'a self,
        ticket: &Ticket,
        exclude: Option<&UserId>,
        candidates: impl Iterator<Item = &'a UserId>,
    ) -> Option<(UserId, Reason)> {
        if let Some(sticky) = ticket.sticky.as_ref().filter(|s| Some(*s) != exclude) {
            if self.eligible(sticky, ticket) {
                return Some((sticky.clone(), Reason::Sticky));
            }
        }
        let strategy = ticket.strategy.unwrap_or(self.strategy);
        let better = |slot: &Slot, best: Option<(&UserId, &Slot)>| {
            best.is_none_or(|(_, b)| self.order(strategy, slot, b).is_lt())
        };
        let mut skilled: Option<(&UserId, &Slot)> = None;
        let mut any: Option<(&UserId, &Slot)> = None;
        for user in candidates {
            if Some(user) == exclude || !self.eligible(user, ticket) {
                continue;
            }
            let Some(slot) = self.agents.get(user) else {
                continue;
            };
            if !ticket.skills.is_empty()
                && ticket.skills.is_subset(&slot.view.skills)
                && better(slot, skilled)
            {
                skilled = Some((user, slot));
            }
            if better(slot, any) {
                any = Some((user, slot));
            }
        }
        skilled
            .map(|(u, _)| (u.clone(), Reason::Skills))
            .or_else(|| any.map(|(u, _)| (u.clone(), Reason::Pool)))
    }

    fn order(&self, strategy: Strategy, a: &Slot, b: &Slot) -> std::cmp::Ordering {
        match strategy {
            Strategy::RoundRobin => a.last_turn.cmp(&b.last_turn),
            Strategy::LeastLoad => {
                // a.load / a.cap < b.load / b.cap, compared without division.
                let la = a.active.len() as u64 * u64::from(b.view.capacity.max(1));
                let lb = b.active.len() as u64 * u64::from(a.view.capacity.max(1));
                la.cmp(&lb).then(a.last_turn.cmp(&b.last_turn))
            }
        }
    }

    fn give(&mut self, ticket: Ticket, agent: &UserId, now: i64) {
        self.turn += 1;
        if let Some(slot) = self.agents.get_mut(agent) {
            slot.active.insert(ticket.conversation.clone());
            slot.last_turn = self.turn;
        }
        self.touch(agent);
        self.assigned.insert(
            ticket.conversation.clone(),
            Assignment {
                agent: agent.clone(),
                ticket,
                at_ms: now,
                replied: false,
            },
        );
    }

    /// Takes a conversation away from its agent; returns the agent and the ticket.
    fn take(&mut self, conversation: &ConversationId) -> Option<Assignment> {
        let a = self.assigned.remove(conversation)?;
        if let Some(slot) = self.agents.get_mut(&a.agent) {
            slot.active.remove(conversation);
        }
        self.touch(&a.agent);
        Some(a)
    }

    fn unqueue(&mut self, conversation: &ConversationId) -> Option<Ticket> {
        if !self.queued.remove(conversation) {
            return None;
        }
        let i = self
            .queue
            .iter()
            .position(|t| &t.conversation == conversation)?;
        self.queue.remove(i)
    }

    /// Routes `ticket` (skipping `exclude`) or queues it. Returns the change.
    fn place(
        &mut self,
        ticket: Ticket,
        previous: Option<UserId>,
        exclude: Option<&UserId>,
        now: i64,
    ) -> Change {
        let conversation = ticket.conversation.clone();
        match self.choose(&ticket, exclude) {
            Some((agent, reason)) => {
                self.give(ticket, &agent, now);
                Change::Assigned {
                    conversation,
                    agent,
                    previous,
                    reason,
                }
            }
            None => {
                self.queued.insert(ticket.conversation.clone());
                self.queue.push_back(ticket);
                Change::Queued {
                    conversation,
                    position: self.queue.len(),
                    previous,
                }
            }
        }
    }

    /// A conversation that needs an agent (a new one, or a resolved one the customer reopened).
    /// Does nothing for one already assigned or waiting.
    pub fn route(&mut self, ticket: Ticket, now: i64) -> Option<Change> {
        if self.assigned.contains_key(&ticket.conversation)
            || self.queued.contains(&ticket.conversation)
        {
            return None;
        }
        Some(self.place(ticket, None, None, now))
    }

    /// Restores an assignment (or a waiting place) read back from the store at start-up. The
    /// agent counts as gone since `now`, so they have the grace period to reconnect before their
    /// conversations move.
    pub fn restore(&mut self, ticket: Ticket, agent: Option<&UserId>, replied: bool, now: i64) {
        let Some(agent) = agent else {
            self.queued.insert(ticket.conversation.clone());
            self.queue.push_back(ticket);
            return;
        };
        self.agents.entry(agent.clone()).or_insert_with(|| Slot {
            view: AgentView {
                connected: false,
                available: true,
                capacity: 0,
                skills: BTreeSet::new(),
            },
            active: BTreeSet::new(),
            last_turn: 0,
            offline_since: Some(now),
        });
        let conversation = ticket.conversation.clone();
        self.give(ticket, agent, now);
        if let Some(a) = self.assigned.get_mut(&conversation) {
            a.replied = replied;
        }
    }

    /// An agent's routing view changed (connected, status, capacity or skills). Returns the
    /// conversations the change lets waiting customers have.
    pub fn agent(&mut self, user: &UserId, view: AgentView, now: i64) -> Vec<Change> {
        let slot = self.agents.entry(user.clone()).or_insert_with(|| Slot {
            view: view.clone(),
            active: BTreeSet::new(),
            last_turn: 0,
            offline_since: None,
        });
        if view.connected {
            slot.offline_since = None;
        } else if slot.view.connected || slot.offline_since.is_none() {
            slot.offline_since = Some(now);
        }
        slot.view = view;
        self.touch(user);
        self.drain(now, std::slice::from_ref(user))
    }

    /// How routing sees an agent now, if it knows them.
    pub fn view(&self, user: &UserId) -> Option<&AgentView> {
        self.agents.get(user).map(|slot| &slot.view)
    }

    /// A conversation's skills changed (its tags were edited). They count the next time it is
    /// routed: skills only rank agents who may take it, so a waiting one stays waiting (nobody
    /// had room for it) and an assigned one keeps its agent.
    pub fn retag(&mut self, conversation: &ConversationId, skills: BTreeSet<String>) {
        if let Some(a) = self.assigned.get_mut(conversation) {
            a.ticket.skills = skills;
        } else if self.queued.contains(conversation) {
            if let Some(ticket) = self
                .queue
                .iter_mut()
                .find(|t| &t.conversation == conversation)
            {
                ticket.skills = skills;
            }
        }
    }

    /// Gives waiting conversations, oldest first, to the agents in `gained`: those whose room
    /// just grew. Nobody else can take one: a conversation waits only when no agent may take it
    /// (the property test checks this after every operation), and only `gained` changed since.
    /// So the work is one pass over the queue that stops once they are full, not the queue
    /// times the tenant's agents on every presence change (issue 5's reconnect of 5,000 agents).
    fn drain(&mut self, now: i64, gained: &[UserId]) -> Vec<Change> {
        let mut gained: Vec<UserId> = gained
            .iter()
            .filter(|u| self.open.contains_key(*u))
            .cloned()
            .collect();
        gained.sort();
        gained.dedup();
        let mut changes = Vec::new();
        let mut i = 0;
        while i < self.queue.len() && !gained.is_empty() {
            let Some((agent, _)) = self.choose_among(&self.queue[i], None, gained.iter()) else {
                i += 1;
                continue;
            };
            let Some(ticket) = self.queue.remove(i) else {
                break;
            };
            self.queued.remove(&ticket.conversation);
            let conversation = ticket.conversation.clone();
            self.give(ticket, &agent, now);
            changes.push(Change::Assigned {
                conversation,
                agent,
                previous: None,
                reason: Reason::Queue,
            });
            gained.retain(|u| self.open.contains_key(u));
        }
        changes
    }

    /// The agent answered the customer.
    pub fn replied(&mut self, conversation: &ConversationId) {
        if let Some(a) = self.assigned.get_mut(conversation) {
            a.replied = true;
        }
    }

    /// The customer wrote again: the agent owes a reply (restarts the deadline).
    pub fn customer_wrote(&mut self, conversation: &ConversationId, now: i64) {
        if let Some(a) = self.assigned.get_mut(conversation) {
            if a.replied {
                a.replied = false;
                a.at_ms = now;
            }
        }
    }

    /// The conversation is resolved: its agent has room again, which may let a waiting one in.
    pub fn resolve(&mut self, conversation: &ConversationId, now: i64) -> Vec<Change> {
        self.unqueue(conversation);
        let Some(a) = self.take(conversation) else {
            return Vec::new();
        };
        self.handle_ms.push_back((now - a.ticket.since_ms).max(0));
        while self.handle_ms.len() > HANDLE_SAMPLES {
            self.handle_ms.pop_front();
        }
        self.drain(now, &[a.agent])
    }

    /// A supervisor gives the conversation to `agent` (assign, or transfer from someone else).
    /// `None` when the agent is not connected: a conversation never goes to someone not there.
    pub fn assign(
        &mut self,
        conversation: &ConversationId,
        agent: &UserId,
        fallback: Ticket,
        now: i64,
    ) -> Option<Vec<Change>> {
        if !self.agents.get(agent).is_some_and(|s| s.view.connected) {
            return None;
        }
        let previous = self.take(conversation);
        let ticket = previous
            .as_ref()
            .map(|a| a.ticket.clone())
            .or_else(|| self.unqueue(conversation))
            .unwrap_or(fallback);
        let previous = previous.map(|a| a.agent);
        self.give(ticket, agent, now);
        let mut changes = vec![Change::Assigned {
            conversation: conversation.clone(),
            agent: agent.clone(),
            previous: previous.clone(),
            reason: Reason::Manual,
        }];
        if let Some(previous) = &previous {
            changes.extend(self.drain(now, std::slice::from_ref(previous)));
        }
        Some(changes)
    }

    /// Re-routes conversations whose agent has been gone longer than `grace_ms`, and those whose
    /// agent owes a reply for longer than `deadline_ms` (0: no deadline). The current agent is
    /// skipped; with nobody else there, the conversation waits in the queue.
    pub fn tick(&mut self, now: i64, grace_ms: i64, deadline_ms: i64) -> Vec<Change> {
        let gone: BTreeSet<UserId> = self
            .agents
            .iter()
            .filter(|(_, s)| s.offline_since.is_some_and(|t| now - t >= grace_ms))
            .map(|(u, _)| u.clone())
            .collect();
        let mut due: Vec<(i64, ConversationId)> = self
            .assigned
            .iter()
            .filter(|(_, a)| {
                gone.contains(&a.agent)
                    || (deadline_ms > 0 && !a.replied && now - a.at_ms >= deadline_ms)
            })
            .map(|(c, a)| (a.at_ms, c.clone()))
            .collect();
        due.sort();
        let mut changes = Vec::new();
        let mut freed = Vec::new();
        for (_, conversation) in due {
            let Some(a) = self.take(&conversation) else {
                continue;
            };
            // Skipping the agent who let it lapse; waiting customers then go to whoever is
            // first free, which may be that agent again once they are back.
            changes.push(self.place(a.ticket, Some(a.agent.clone()), Some(&a.agent), now));
            freed.push(a.agent);
        }
        changes.extend(self.drain(now, &freed));
        changes
    }

    pub fn assignee(&self, conversation: &ConversationId) -> Option<&UserId> {
        self.assigned.get(conversation).map(|a| &a.agent)
    }

    /// An agent's active conversations.
    pub fn load(&self, user: &UserId) -> usize {
        self.agents.get(user).map_or(0, |s| s.active.len())
    }

    /// The queue, oldest first, with estimated waits.
    pub fn waiting(&self, now: i64) -> Vec<Waiting> {
        let handle = if self.handle_ms.is_empty() {
            DEFAULT_HANDLE_MS
        } else {
            let mut v: Vec<i64> = self.handle_ms.iter().copied().collect();
            v.sort_unstable();
            v[v.len() / 2]
        };
        let seats: i64 = self
            .agents
            .values()
            .filter(|s| s.view.connected && s.view.available)
            .map(|s| i64::from(s.view.capacity))
            .sum::<i64>()
            .max(1);
        self.queue
            .iter()
            .enumerate()
            .map(|(i, t)| Waiting {
                conversation: t.conversation.clone(),
                position: i + 1,
                waited_ms: (now - t.since_ms).max(0),
                eta_ms: handle * (i as i64 + 1) / seats,
            })
            .collect()
    }

    /// How many conversations `user` holds.
    pub fn load_of(&self, user: &UserId) -> usize {
        self.agents.get(user).map_or(0, |s| s.active.len())
    }

    /// Every agent routing knows, with their active conversations and capacity.
    pub fn loads(&self) -> Vec<(UserId, usize, u32)> {
        self.agents
            .iter()
            .map(|(u, s)| (u.clone(), s.active.len(), s.view.capacity))
            .collect()
    }

    pub fn position(&self, conversation: &ConversationId) -> Option<usize> {
        if !self.queued.contains(conversation) {
            return None;
        }
        self.queue
            .iter()
            .position(|t| &t.conversation == conversation)
            .map(|i| i + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::{any, prop, prop_assert, prop_assert_eq, prop_oneof, proptest, Just};
    use proptest::strategy::Strategy as _;

    fn user(i: usize) -> UserId {
        UserId::new(format!("u{i}"))
    }

    #[test]
    fn strategy_names_are_serde_s() {
        for s in [Strategy::RoundRobin, Strategy::LeastLoad] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }

    fn conv(i: usize) -> ConversationId {
        ConversationId::new(format!("c{i}"))
    }

    fn view(connected: bool, capacity: u32, skills: &[&str]) -> AgentView {
        AgentView {
            connected,
            available: true,
            capacity,
            skills: skills.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn ticket(i: usize) -> Ticket {
        Ticket {
            conversation: conv(i),
            pool: None,
            skills: BTreeSet::new(),
            sticky: None,
            since_ms: 0,
            strategy: None,
        }
    }

    fn assigned_to(change: &Change) -> Option<&UserId> {
        match change {
            Change::Assigned { agent, .. } => Some(agent),
            Change::Queued { .. } => None,
        }
    }

    #[test]
    fn sticky_then_skills_then_pool_then_queue() {
        let mut e = Engine::new(Strategy::LeastLoad);
        e.agent(&user(1), view(true, 2, &[]), 0);
        e.agent(&user(2), view(true, 2, &["lang:ru"]), 0);
        let mut t = ticket(1);
        t.sticky = Some(user(1));
        t.skills = ["lang:ru".to_string()].into();
        let c = e.route(t, 0).unwrap();
        assert!(
            matches!(c, Change::Assigned { ref agent, reason: Reason::Sticky, .. } if *agent == user(1))
        );
        let mut t = ticket(2);
        t.skills = ["lang:ru".to_string()].into();
        let c = e.route(t, 0).unwrap();
        assert!(
            matches!(c, Change::Assigned { ref agent, reason: Reason::Skills, .. } if *agent == user(2))
        );
        let mut t = ticket(3);
        t.skills = ["lang:ar".to_string()].into();
        let c = e.route(t, 0).unwrap();
        assert!(
            matches!(
                c,
                Change::Assigned {
                    reason: Reason::Pool,
                    ..
                }
            ),
            "{c:?}"
        );
        e.route(ticket(4), 0);
        assert!(matches!(
            e.route(ticket(5), 0),
            Some(Change::Queued { position: 1, .. })
        ));
        assert!(matches!(
            e.route(ticket(6), 0),
            Some(Change::Queued { position: 2, .. })
        ));
        assert_eq!(e.route(ticket(5), 0), None, "already waiting");
        let w = e.waiting(60_000);
        assert_eq!((w[0].position, w[0].waited_ms), (1, 60_000));
        assert!(w[1].eta_ms > w[0].eta_ms);
        // Resolving lets the first in the queue in.
        let freed = e.resolve(&conv(1), 120_000);
        assert_eq!(
            freed,
            vec![Change::Assigned {
                conversation: conv(5),
                agent: user(1),
                previous: None,
                reason: Reason::Queue
            }]
        );
        assert_eq!(e.position(&conv(6)), Some(1));
    }

    #[test]
    fn the_pool_limits_who_may_take_it() {
        let mut e = Engine::new(Strategy::RoundRobin);
        e.agent(&user(1), view(true, 5, &[]), 0);
        e.agent(&user(2), view(true, 5, &[]), 0);
        let mut t = ticket(1);
        t.pool = Some([user(2)].into());
        for i in 0..3 {
            let mut t = t.clone();
            t.conversation = conv(i);
            assert_eq!(assigned_to(&e.route(t, 0).unwrap()), Some(&user(2)));
        }
        t.pool = Some([user(9)].into());
        t.conversation = conv(9);
        assert!(matches!(e.route(t, 0), Some(Change::Queued { .. })));
    }

    #[test]
    fn gone_agents_lose_their_conversations_after_the_grace_period() {
        let mut e = Engine::new(Strategy::LeastLoad);
        e.agent(&user(1), view(true, 5, &[]), 0);
        e.route(ticket(1), 0);
        e.agent(&user(1), view(false, 5, &[]), 1_000);
        assert!(
            e.tick(30_000, 60_000, 0).is_empty(),
            "within the grace period"
        );
        // Nobody else: the customer waits, and does not go back to the absent agent.
        let c = e.tick(61_000, 60_000, 0);
        assert!(matches!(&c[..], [Change::Queued { previous: Some(p), .. }] if *p == user(1)));
        e.agent(&user(2), view(true, 5, &[]), 62_000);
        assert_eq!(e.assignee(&conv(1)), Some(&user(2)));
    }

    #[test]
    fn an_unanswered_conversation_moves_at_the_deadline() {
        let mut e = Engine::new(Strategy::LeastLoad);
        e.agent(&user(1), view(true, 5, &[]), 0);
        e.route(ticket(1), 0);
        e.agent(&user(2), view(true, 5, &[]), 0);
        e.route(ticket(2), 0);
        e.replied(&conv(2));
        assert!(e.tick(299_000, 60_000, 300_000).is_empty());
        let c = e.tick(300_000, 60_000, 300_000);
        assert_eq!(
            c,
            vec![Change::Assigned {
                conversation: conv(1),
                agent: user(2),
                previous: Some(user(1)),
                reason: Reason::Pool
            }]
        );
        // The customer writes again: the new agent owes a reply from now.
        e.replied(&conv(1));
        e.customer_wrote(&conv(1), 400_000);
        assert!(e.tick(600_000, 60_000, 300_000).is_empty());
        assert_eq!(e.tick(700_000, 60_000, 300_000).len(), 1);
    }

    #[test]
    fn manual_assignment_never_targets_someone_not_there() {
        let mut e = Engine::new(Strategy::LeastLoad);
        e.agent(&user(1), view(true, 1, &[]), 0);
        e.agent(&user(2), view(false, 1, &[]), 0);
        e.route(ticket(1), 0);
        assert_eq!(e.assign(&conv(1), &user(2), ticket(1), 0), None);
        e.agent(&user(2), view(true, 1, &[]), 0);
        let c = e.assign(&conv(1), &user(2), ticket(1), 0).unwrap();
        assert!(
            matches!(&c[0], Change::Assigned { previous: Some(p), reason: Reason::Manual, .. } if *p == user(1))
        );
        assert_eq!((e.load(&user(1)), e.load(&user(2))), (0, 1));
    }

    #[test]
    fn least_load_breaks_ties_by_who_waited_longest() {
        let mut e = Engine::new(Strategy::LeastLoad);
        e.agent(&user(1), view(true, 10, &[]), 0);
        e.agent(&user(2), view(true, 10, &[]), 0);
        assert_eq!(assigned_to(&e.route(ticket(1), 0).unwrap()), Some(&user(1)));
        e.resolve(&conv(1), 0);
        // Both free again: the one who has not had a conversation yet goes first.
        assert_eq!(assigned_to(&e.route(ticket(2), 0).unwrap()), Some(&user(2)));
        assert_eq!(assigned_to(&e.route(ticket(3), 0).unwrap()), Some(&user(1)));
    }

    #[test]
    fn round_robin_is_fair() {
        let mut e = Engine::new(Strategy::RoundRobin);
        for i in 0..4 {
            e.agent(&user(i), view(true, 100, &[]), 0);
        }
        for c in 0..40 {
            e.route(ticket(c), 0);
        }
        for i in 0..4 {
            assert_eq!(e.load(&user(i)), 10);
        }
    }

    #[test]
    fn a_number_can_choose_its_own_strategy() {
        // The tenant balances by load; this number's conversations go round the agents.
        let mut e = Engine::new(Strategy::LeastLoad);
        e.agent(&user(1), view(true, 100, &[]), 0);
        e.agent(&user(2), view(true, 100, &[]), 0);
        // Agent 1 is busier, so least-load would pick agent 2 every time.
        for c in 0..4 {
            let mut t = ticket(100 + c);
            t.pool = Some([user(1)].into());
            e.route(t, 0);
        }
        let mut picked = Vec::new();
        for c in 0..4 {
            let mut t = ticket(c);
            t.strategy = Some(Strategy::RoundRobin);
            picked.push(assigned_to(&e.route(t, 0).unwrap()).cloned().unwrap());
        }
        assert!(
            picked.contains(&user(1)) && picked.contains(&user(2)),
            "{picked:?}"
        );
        let t = ticket(50);
        assert_eq!(
            assigned_to(&e.route(t, 0).unwrap()),
            Some(&user(2)),
            "the tenant's rule"
        );
    }

    #[derive(Clone, Debug)]
    enum Op {
        Agent {
            user: usize,
            connected: bool,
            available: bool,
            capacity: u32,
            skills: Vec<&'static str>,
        },
        Route {
            conv: usize,
            pool: Option<Vec<usize>>,
            sticky: Option<usize>,
            skills: Vec<&'static str>,
            strategy: Option<Strategy>,
        },
        Resolve(usize),
        Replied(usize),
        Assign(usize, usize),
        Tick(i64),
    }

    fn skills() -> impl proptest::strategy::Strategy<Value = Vec<&'static str>> {
        prop::sample::subsequence(vec!["lang:ru", "skill:billing"], 0..=2)
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        prop_oneof![
            1 => (0..5usize, any::<bool>(), prop::bool::weighted(0.8), 0..4u32, skills()).prop_map(
                |(user, connected, available, capacity, skills)| Op::Agent {
                    user,
                    connected,
                    available,
                    capacity,
                    skills,
                }
            ),
            3 => (
                0..30usize,
                prop::option::of(prop::collection::vec(0..5usize, 1..3)),
                prop::option::of(0..5usize),
                skills(),
                prop::option::of(prop_oneof![Just(Strategy::RoundRobin), Just(Strategy::LeastLoad)]),
            )
                .prop_map(|(conv, pool, sticky, skills, strategy)| Op::Route {
                    conv,
                    pool,
                    sticky,
                    skills,
                    strategy,
                }),
            1 => (0..30usize).prop_map(Op::Resolve),
            1 => (0..30usize).prop_map(Op::Replied),
            1 => (0..30usize, 0..5usize).prop_map(|(c, u)| Op::Assign(c, u)),
            1 => (0..120_000i64).prop_map(Op::Tick),
        ]
    }

    proptest! {
        /// Whatever happens: nobody is given more than their capacity, nobody disconnected is
        /// given anything, every routed conversation is either with one agent or waiting, and
        /// nobody waits while an agent who could take them is free.
        #[test]
        fn routing_invariants_hold(ops in prop::collection::vec(op(), 1..200), rr in any::<bool>()) {
            let mut e = Engine::new(if rr { Strategy::RoundRobin } else { Strategy::LeastLoad });
            let mut views: BTreeMap<usize, AgentView> = BTreeMap::new();
            let mut open: BTreeSet<usize> = BTreeSet::new();
            let mut now = 0;
            for op in ops {
                let changes = match op {
                    Op::Agent { user: u, connected, available, capacity, skills } => {
                        let skills = skills.into_iter().map(String::from).collect();
                        let v = AgentView { connected, available, capacity, skills };
                        views.insert(u, v.clone());
                        e.agent(&user(u), v, now)
                    }
                    Op::Route { conv: c, pool, sticky, skills, strategy } => {
                        open.insert(c);
                        let t = Ticket {
                            conversation: conv(c),
                            pool: pool.map(|p| p.into_iter().map(user).collect()),
                            skills: skills.into_iter().map(String::from).collect(),
                            sticky: sticky.map(user),
                            since_ms: now,
                            strategy,
                        };
                        // The ranked choice is the one a scan of every free agent makes.
                        prop_assert_eq!(
                            e.choose(&t, None),
                            e.choose_among(&t, None, e.open.keys())
                        );
                        e.route(t, now).into_iter().collect()
                    }
                    Op::Resolve(c) => {
                        open.remove(&c);
                        e.resolve(&conv(c), now)
                    }
                    Op::Replied(c) => {
                        e.replied(&conv(c));
                        Vec::new()
                    }
                    Op::Assign(c, u) if open.contains(&c) => {
                        let mut t = ticket(c);
                        t.since_ms = now;
                        e.assign(&conv(c), &user(u), t, now).unwrap_or_default()
                    }
                    Op::Assign(..) => Vec::new(),
                    Op::Tick(d) => {
                        now += d;
                        e.tick(now, 60_000, 90_000)
                    }
                };
                // Nobody disconnected is given anything; routing picks only the available.
                for change in &changes {
                    if let Change::Assigned { agent, reason, .. } = change {
                        let u: usize = agent.as_str()[1..].parse().unwrap();
                        let v = &views[&u];
                        prop_assert!(
                            v.connected && (v.available || *reason == Reason::Manual),
                            "{change:?} to {v:?}"
                        );
                    }
                }
                // A supervisor may give someone more than their capacity; routing never does.
                for change in &changes {
                    if let Change::Assigned { agent, reason, .. } = change {
                        let u: usize = agent.as_str()[1..].parse().unwrap();
                        prop_assert!(
                            *reason == Reason::Manual || e.load(agent) as u32 <= views[&u].capacity,
                            "{agent} over capacity"
                        );
                    }
                }
                // `open` is exactly the agents with room.
                for (u, v) in &views {
                    let room = v.connected && v.available && (e.load(&user(*u)) as u32) < v.capacity;
                    prop_assert_eq!(e.open.contains_key(&user(*u)), room, "u{}", u);
                }
                for c in &open {
                    let with = e.assignee(&conv(*c)).is_some();
                    let waiting = e.position(&conv(*c)).is_some();
                    prop_assert!(with != waiting, "c{c}: assigned {with}, waiting {waiting}");
                }
                prop_assert_eq!(e.by_load.len(), e.open.len());
                prop_assert_eq!(e.by_turn.len(), e.open.len());
                // The index of waiting conversations is exactly the queue.
                prop_assert_eq!(e.queued.len(), e.queue.len());
                prop_assert!(e.queue.iter().all(|t| e.queued.contains(&t.conversation)));
                for w in e.waiting(now) {
                    let t = e.queue[w.position - 1].clone();
                    prop_assert!(e.choose(&t, None).is_none(), "{t:?} waits beside a free agent");
                }
            }
        }
    }
}
