//! The inbox task's ordering rule as a value: nobody is told of a state the store does not have,
//! and what is told goes out in the order it happened.
//!
//! Owns: which records wait to be written (staged states in the order they were made, a later
//! state of the same record replacing the earlier in place; bookkeeping-only changes, which may
//! wait longer), which announcements wait for those writes, and what one write takes and then
//! releases. Must not: do I/O or read a clock (the inbox task writes and publishes; this only
//! decides, so the rule is unit-tested here rather than only end to end).

use std::collections::HashMap;
use std::hash::Hash;

/// A record with a key, so that a later state of it replaces an earlier one.
pub trait Keyed {
    type Key: Clone + Eq + Hash;
    fn key(&self) -> Self::Key;
}

/// Records waiting to be written, with their audit lines (`A`), and events (`E`) held until then.
pub struct Staging<R: Keyed, A, E> {
    /// States to write before any event held after them, in the order they were staged.
    staged: Vec<(R, Option<A>)>,
    staged_at: HashMap<R::Key, usize>,
    /// Bookkeeping-only changes: written with the next batch, but nothing waits for them.
    dirty: HashMap<R::Key, R>,
    /// Audit lines displaced when two staged states of one record each had one.
    audits: Vec<A>,
    /// Events made while something was staged, in order.
    held: Vec<E>,
}

/// One write's worth: the records (each staged state with the newest bookkeeping folded in,
/// then bookkeeping-only records), loose audit lines, and the events to publish once written.
pub struct Batch<R, A, E> {
    pub writes: Vec<(R, Option<A>)>,
    pub audits: Vec<A>,
    pub release: Vec<E>,
}

impl<R: Keyed, A, E> Default for Staging<R, A, E> {
    fn default() -> Self {
        Self {
            staged: Vec::new(),
            staged_at: HashMap::new(),
            dirty: HashMap::new(),
            audits: Vec::new(),
            held: Vec::new(),
        }
    }
}

impl<R: Keyed, A, E> Staging<R, A, E> {
    /// A new state to store before anything announced after it.
    pub fn stage(&mut self, record: R, audit: Option<A>) {
        let key = record.key();
        self.dirty.remove(&key);
        match self.staged_at.get(&key) {
            Some(&i) => {
                let (earlier, earlier_audit) = &mut self.staged[i];
                *earlier = record;
                if let Some(displaced) = audit.and_then(|a| earlier_audit.replace(a)) {
                    // Two people's actions on one record in one batch: neither line is lost.
                    self.audits.push(displaced);
                }
            }
            None => {
                self.staged_at.insert(key, self.staged.len());
                self.staged.push((record, audit));
            }
        }
    }

    /// A change of bookkeeping only: the newest copy is written with the next batch.
    pub fn touch(&mut self, record: R) {
        self.dirty.insert(record.key(), record);
    }

    /// The record was just written directly: what waited for it is superseded.
    pub fn written(&mut self, key: &R::Key) {
        self.dirty.remove(key);
    }

    /// An event to publish: given back when it may go out now, held when states before it wait.
    pub fn announce(&mut self, event: E) -> Option<E> {
        if self.staged.is_empty() {
            Some(event)
        } else {
            self.held.push(event);
            None
        }
    }

    /// The newest unwritten copy of a record, when one waits (newer than what the store has).
    pub fn newest(&self, key: &R::Key) -> Option<&R> {
        self.dirty.get(key).or_else(|| {
            self.staged_at
                .get(key)
                .and_then(|&i| self.staged.get(i))
                .map(|(r, _)| r)
        })
    }

    /// Records waiting to be written.
    pub fn unwritten(&self) -> usize {
        self.staged.len() + self.dirty.len()
    }

    /// Everything to write now, and the events to publish after the write (`None` when nothing
    /// waits).
    pub fn take(&mut self) -> Option<Batch<R, A, E>> {
        if self.staged.is_empty() && self.dirty.is_empty() {
            return None;
        }
        self.staged_at.clear();
        let mut writes = std::mem::take(&mut self.staged);
        for (record, _) in &mut writes {
            // Bookkeeping made after the staged state is the newer copy of the whole record.
            if let Some(newer) = self.dirty.remove(&record.key()) {
                *record = newer;
            }
        }
        writes.extend(self.dirty.drain().map(|(_, r)| (r, None)));
        Some(Batch {
            writes,
            audits: std::mem::take(&mut self.audits),
            release: std::mem::take(&mut self.held),
        })
    }

    /// A write that failed: the record is written again with the next batch, unless a newer
    /// copy already waits.
    pub fn failed(&mut self, record: R) {
        self.dirty.entry(record.key()).or_insert(record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_unwritten_copy_is_found_until_it_is_written() {
        let mut s: Staging<Rec, (), ()> = Staging::default();
        assert_eq!(s.newest(&"a"), None);
        s.stage(Rec("a", 1), None);
        assert_eq!(s.newest(&"a"), Some(&Rec("a", 1)));
        s.touch(Rec("a", 2));
        assert_eq!(
            s.newest(&"a"),
            Some(&Rec("a", 2)),
            "bookkeeping after the state"
        );
        s.take();
        assert_eq!(s.newest(&"a"), None);
    }

    #[derive(Clone, Debug, PartialEq)]
    struct Rec(&'static str, u32);

    impl Keyed for Rec {
        type Key = &'static str;
        fn key(&self) -> &'static str {
            self.0
        }
    }

    type S = Staging<Rec, &'static str, &'static str>;

    #[test]
    fn with_nothing_staged_an_event_goes_out_at_once() {
        let mut s = S::default();
        assert_eq!(s.announce("e1"), Some("e1"));
        s.touch(Rec("a", 1));
        assert_eq!(
            s.announce("e2"),
            Some("e2"),
            "bookkeeping holds nothing back"
        );
    }

    #[test]
    fn events_wait_for_the_states_before_them_and_keep_their_order() {
        let mut s = S::default();
        s.stage(Rec("a", 1), Some("assign a"));
        assert_eq!(s.announce("a assigned"), None);
        assert_eq!(s.announce("message in a"), None);
        s.stage(Rec("b", 1), None);
        assert_eq!(s.announce("b queued"), None);
        let batch = s.take().unwrap();
        assert_eq!(
            batch.writes,
            vec![(Rec("a", 1), Some("assign a")), (Rec("b", 1), None)]
        );
        assert_eq!(
            batch.release,
            vec!["a assigned", "message in a", "b queued"]
        );
        assert!(s.take().is_none());
        assert_eq!(s.announce("later"), Some("later"));
    }

    #[test]
    fn a_later_state_replaces_the_earlier_in_place_and_keeps_both_audit_lines() {
        let mut s = S::default();
        s.stage(Rec("a", 1), Some("first"));
        s.stage(Rec("b", 1), None);
        s.stage(Rec("a", 2), Some("second"));
        let batch = s.take().unwrap();
        assert_eq!(
            batch.writes,
            vec![(Rec("a", 2), Some("second")), (Rec("b", 1), None)]
        );
        assert_eq!(batch.audits, vec!["first"]);
    }

    #[test]
    fn newer_bookkeeping_is_folded_into_the_staged_state() {
        let mut s = S::default();
        s.touch(Rec("a", 1));
        s.stage(Rec("a", 2), None);
        s.touch(Rec("a", 3));
        s.touch(Rec("c", 1));
        let batch = s.take().unwrap();
        assert_eq!(batch.writes, vec![(Rec("a", 3), None), (Rec("c", 1), None)]);
    }

    #[test]
    fn a_failed_write_is_retried_unless_a_newer_copy_waits() {
        let mut s = S::default();
        s.failed(Rec("a", 1));
        s.touch(Rec("b", 2));
        s.failed(Rec("b", 1));
        let mut writes = s.take().unwrap().writes;
        writes.sort_by_key(|(r, _)| r.0);
        assert_eq!(writes, vec![(Rec("a", 1), None), (Rec("b", 2), None)]);
    }

    #[test]
    fn a_direct_write_supersedes_waiting_bookkeeping() {
        let mut s = S::default();
        s.touch(Rec("a", 1));
        s.written(&"a");
        assert!(s.take().is_none());
    }
}
