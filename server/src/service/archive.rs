//! The archive: every conversation, open or resolved, found by what a supervisor asks (state,
//! numbers, agent, tag, customer, days) among those the caller may see.
//!
//! Owns: the filter and the bounded scan that applies it. Open conversations are read from the
//! open index (by id, as the inbox lists them); anything that includes resolved ones from the
//! archive's index (by the day of last activity, newest first). Must not: check permissions
//! beyond visibility (the route table did), or shape the wire answer.

use std::collections::BTreeSet;
use std::ops::Range;

use switchboard_shared::{PhoneNumberId, UserId, WaId};

use crate::auth::{Principal, TenantScope};
use crate::domain::{day_bucket, ThreadRecord, ThreadState, UnixMillis};
use crate::store::{Cursor, Page, StoreResult};

/// The most conversations one listing reads while filtering, so a narrow filter over a huge
/// history answers a short page (with a cursor to go on) instead of scanning everything.
pub const SCAN_BUDGET: usize = 2_000;

/// The longest range of days one archive listing covers (a year and a day).
pub const MAX_DAYS: i64 = 366;

/// Which conversations by state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum States {
    /// Open: queued or assigned (the inbox).
    Open,
    Queued,
    Assigned,
    Resolved,
    /// Open and resolved.
    All,
}

impl States {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "open" => Self::Open,
            "queued" => Self::Queued,
            "assigned" => Self::Assigned,
            "resolved" => Self::Resolved,
            "all" => Self::All,
            _ => return None,
        })
    }

    pub const NAMES: &'static str = "open, queued, assigned, resolved or all";

    fn admits(self, state: ThreadState) -> bool {
        match self {
            Self::Open => state != ThreadState::Resolved,
            Self::Queued => state == ThreadState::Queued,
            Self::Assigned => state == ThreadState::Assigned,
            Self::Resolved => state == ThreadState::Resolved,
            Self::All => true,
        }
    }

    /// Whether the open index holds every conversation these states admit.
    fn only_open(self) -> bool {
        matches!(self, Self::Open | Self::Queued | Self::Assigned)
    }
}

/// What a listing keeps. Every field given must hold.
#[derive(Clone, Debug)]
pub struct Filter {
    pub states: States,
    /// On one of these numbers (a number asked for, a team's numbers, or both intersected).
    pub numbers: Option<BTreeSet<PhoneNumberId>>,
    /// With this assignee, `Some(None)` for none (open conversations).
    pub assignee: Option<Option<UserId>>,
    /// Handled by this agent: assigned to them now, or theirs last.
    pub agent: Option<UserId>,
    pub tag: Option<String>,
    /// With this customer (a `wa_id` or a BSUID): a contact's conversations.
    pub customers: Option<Vec<WaId>>,
    /// Last active on one of these days (days since the epoch).
    pub days: Range<i64>,
}

impl Filter {
    fn admits(&self, t: &ThreadRecord) -> bool {
        let day = day_bucket(t.updated_at);
        self.states.admits(t.state)
            && self.days.contains(&day)
            && self.numbers.as_ref().is_none_or(|n| n.contains(&t.number))
            && self.assignee.as_ref().is_none_or(|a| t.assignee == *a)
            && self
                .agent
                .as_ref()
                .is_none_or(|a| t.assignee.as_ref() == Some(a) || t.last_agent.as_ref() == Some(a))
            && self.tag.as_ref().is_none_or(|tag| t.tags.contains(tag))
            && self
                .customers
                .as_ref()
                .is_none_or(|c| c.contains(&t.customer))
    }
}

/// The days from `from` to `to` (both days since the epoch, `to` excluded), checked: `to` after
/// `from`, at most [`MAX_DAYS`] apart. Defaults: the last 30 days up to today.
pub fn days(
    from: Option<i64>,
    to: Option<i64>,
    now: UnixMillis,
) -> Result<Range<i64>, &'static str> {
    let to = to.unwrap_or(day_bucket(now) + 1);
    let from = from.unwrap_or(to - 30);
    if from >= to {
        return Err("`from` is a day before `to`");
    }
    if to - from > MAX_DAYS {
        return Err("a listing covers at most 366 days: narrow `from` and `to`");
    }
    Ok(from..to)
}

/// One page of the conversations `filter` keeps that `principal` may see, `limit` at most,
/// reading at most [`SCAN_BUDGET`] conversations: a page may be short with a cursor to go on.
pub async fn list(
    scope: &TenantScope,
    principal: &Principal,
    filter: &Filter,
    cursor: Option<Cursor>,
    limit: usize,
) -> StoreResult<Page<ThreadRecord>> {
    let by_id = filter.states.only_open();
    let mut cursor = cursor;
    let mut picked = Vec::new();
    let mut scanned = 0;
    let next = loop {
        let page = if by_id {
            scope.open_threads(cursor.as_ref(), 200).await?
        } else {
            scope
                .threads_by_activity(filter.days.clone(), cursor.as_ref(), 200)
                .await?
        };
        let mut resume = None;
        for t in page.items {
            scanned += 1;
            let wanted = filter.admits(&t) && principal.sees(&t.number, t.assignee.as_ref());
            let stop = picked.len() + usize::from(wanted) == limit || scanned >= SCAN_BUDGET;
            if stop {
                resume = Some(if by_id {
                    Cursor::after_text(t.conversation.as_str())
                } else {
                    Cursor::after_day(&t)
                });
            }
            if wanted {
                picked.push(t);
            }
            if stop {
                break;
            }
        }
        match (resume, page.next) {
            (Some(at), _) => break Some(at),
            (None, Some(more)) => cursor = Some(more),
            (None, None) => break None,
        }
    };
    Ok(Page {
        items: picked,
        next,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    #[test]
    fn days_default_to_the_last_thirty_and_are_bounded() {
        let now = 20_000 * DAY + 5;
        assert_eq!(days(None, None, now), Ok(19_971..20_001));
        assert!(days(Some(19_000), None, now).is_err(), "over 366 days");
        assert_eq!(days(Some(19_990), Some(19_995), now), Ok(19_990..19_995));
        assert!(days(Some(19_995), Some(19_995), now).is_err());
        assert!(days(Some(19_000), Some(19_367), now).is_err());
        assert_eq!(days(Some(19_000), Some(19_366), now), Ok(19_000..19_366));
    }

    #[test]
    fn the_filter_keeps_what_every_given_field_says() {
        let t = ThreadRecord {
            tenant: "t".into(),
            conversation: "c_1".into(),
            number: PhoneNumberId::from("n1"),
            customer: WaId::from("4915112345678"),
            state: ThreadState::Resolved,
            assignee: None,
            last_agent: Some(UserId::from("u_ada")),
            tags: vec!["vip".into()],
            waiting_since: None,
            last_inbound_at: None,
            last_inbound_wamid: None,
            opened_at: 0,
            updated_at: 10 * DAY + 1,
            episode: Default::default(),
        };
        let all = Filter {
            states: States::All,
            numbers: None,
            assignee: None,
            agent: None,
            tag: None,
            customers: None,
            days: 0..20,
        };
        assert!(all.admits(&t));
        let with = |f: fn(&mut Filter)| {
            let mut filter = all.clone();
            f(&mut filter);
            filter.admits(&t)
        };
        assert!(!with(|f| f.states = States::Open));
        assert!(with(|f| f.states = States::Resolved));
        assert!(with(|f| f.agent = Some(UserId::from("u_ada"))));
        assert!(!with(|f| f.agent = Some(UserId::from("u_bob"))));
        assert!(!with(|f| f.tag = Some("gold".into())));
        assert!(with(|f| f.tag = Some("vip".into())));
        assert!(!with(|f| f.days = 11..20));
        assert!(!with(
            |f| f.numbers = Some(BTreeSet::from([PhoneNumberId::from("n2")]))
        ));
        assert!(with(
            |f| f.customers = Some(vec![WaId::from("4915112345678")])
        ));
        assert!(!with(|f| f.customers = Some(vec![])));
    }
}
