//! Agents' working time as the inbox task keeps it: credited at each tick and stored every
//! [`ACTIVITY_EVERY`] (see `domain::activity`).

use super::*;

/// How often agents' working time is stored (a stop loses at most this much of it).
pub(super) const ACTIVITY_EVERY: i64 = 30_000;

impl Worker {
    /// Credits agents' time up to `now` with the loads routing holds, and stores the figures
    /// that changed when `store` (every [`ACTIVITY_EVERY`] and at shutdown). A failed write is
    /// offered again with the next.
    pub(super) async fn account_activity(&mut self, now: i64, store: bool) {
        let mut changed = Vec::new();
        for inbox in self.tenants.values_mut() {
            let loads = inbox
                .engine
                .loads()
                .into_iter()
                .map(|(user, active, _)| (user, u32::try_from(active).unwrap_or(u32::MAX)));
            inbox.activity.tick(now, loads);
            if store {
                changed.extend(inbox.activity.take_changed(now));
            }
        }
        if changed.is_empty() {
            return;
        }
        if let Err(error) = self.store.put_agent_days(&changed).await {
            tracing::warn!(%error, "could not store agents' working time; retrying");
            for row in changed {
                if let Some(inbox) = self.tenants.get_mut(&row.tenant) {
                    inbox.activity.unwritten(vec![row]);
                }
            }
        }
    }
}
