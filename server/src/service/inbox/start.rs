//! What the inbox task reads back when the server starts: agents' routing profiles, every
//! tenant's open conversations (into routing, first come first served), today's board figures
//! the survey reminders still due, from the stored episodes, and agents' working time today.

use super::*;

impl Worker {
    /// Reads every tenant's open conversations back into routing.
    pub(super) async fn restore(&mut self) -> Result<(), StoreError> {
        let now = now_ms();
        for tenant in self.store.list_tenants().await? {
            // The workspace's own routing settings, before any of its conversations is routed.
            self.load_routing(&tenant.id, true).await;
            let mut cursor = None;
            loop {
                let page = self
                    .store
                    .profiles(&tenant.id, cursor.as_ref(), crate::store::MAX_PAGE)
                    .await?;
                for p in page.items {
                    self.profiles.insert((p.tenant.clone(), p.user.clone()), p);
                }
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            let mut cursor = None;
            let mut threads = Vec::new();
            loop {
                let page = self
                    .store
                    .open_threads(&tenant.id, cursor.as_ref(), crate::store::MAX_PAGE)
                    .await?;
                threads.extend(page.items);
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            // Today's board, from the episodes of yesterday and today (an episode answered
            // today may have opened yesterday).
            let today = crate::domain::day_bucket(now);
            let mut episodes = Vec::new();
            let mut cursor = None;
            loop {
                let page = self
                    .store
                    .episodes(
                        &tenant.id,
                        today - 1..today + 1,
                        cursor.as_ref(),
                        crate::store::MAX_PAGE,
                    )
                    .await?;
                episodes.extend(page.items);
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            self.tenant(&tenant.id).figures = Figures::restore(&episodes, now);
            // Agents' working time continues from today's stored figures.
            let mut cursor = None;
            loop {
                let page = self
                    .store
                    .agent_days(
                        &tenant.id,
                        today..today + 1,
                        cursor.as_ref(),
                        crate::store::MAX_PAGE,
                    )
                    .await?;
                self.tenant(&tenant.id).activity.restore(page.items);
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            self.restore_reminders(&episodes).await;
            // The queue is first come, first served.
            threads.sort_by_key(|t| (t.waiting_since.unwrap_or(t.opened_at), t.opened_at));
            for thread in threads {
                let ticket = self.ticket(&thread).await;
                let replied = thread.waiting_since.is_none();
                let inbox = self.tenant(&tenant.id);
                inbox
                    .engine
                    .restore(ticket, thread.assignee.as_ref(), replied, now);
                inbox.open.insert(thread.conversation.clone(), thread);
            }
        }
        Ok(())
    }
}
