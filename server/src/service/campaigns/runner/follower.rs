//! The campaigns' follower: the outbox's and Meta's answers, account notices and customers'
//! replies move recipients along; statuses it did not hear are settled from the store; the
//! recipients' moves and the counts are written back. A child of the runner, whose tally and
//! transitions it uses.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use switchboard_shared::campaign::{CampaignState, RecipientState};
use switchboard_shared::{CampaignId, MessageStatus, SendId, TenantId};
use tokio::sync::broadcast::error::RecvError;

use super::super::alarms::{account_alarm, same_number, AccountAlarm};
use super::super::{read_doc, CampaignError, Campaigns, PAGE};
use super::{Live, REPLY_WINDOW_MS, SENDS_CACHED_MS};
use crate::domain::*;
use crate::service::Events;
use crate::store::StoreError;

impl Campaigns {
    /// Follows the outbox's and Meta's answers and the customers' replies; writes the counts
    /// back and announces them about once a second.
    pub fn follow(&self, events: &Events) {
        let mut rx = events.subscribe("campaigns");
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                let event = tokio::select! {
                    _ = this.inner.shutdown.cancelled() => return,
                    event = rx.recv() => event,
                };
                let result = match event {
                    Ok(event) => this.on_event(event).await,
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "campaigns lagged behind the event bus; their recipients' statuses are settled from the store");
                        let live: Vec<(TenantId, CampaignId)> = this
                            .inner
                            .runs
                            .live
                            .iter()
                            .map(|e| e.key().clone())
                            .collect();
                        for (tenant, id) in live {
                            this.settle_later(tenant, id);
                        }
                        Ok(())
                    }
                    Err(RecvError::Closed) => return,
                };
                if let Err(e) = result {
                    tracing::warn!(error = %e, "campaigns: a recipient's progress was not stored");
                }
            }
        });
        let this = self.clone();
        events.follow_notices(self.inner.shutdown.clone(), move |notice| {
            let this = this.clone();
            async move {
                match notice {
                    Some((tenant, event)) => this.on_notice(&tenant, &event).await,
                    None => tracing::warn!("campaigns missed account notices"),
                }
            }
        });
        let this = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(200));
            let mut ticks = 0u64;
            loop {
                tokio::select! {
                    _ = this.inner.shutdown.cancelled() => {
                        this.write_all_pending().await;
                        return;
                    }
                    _ = tick.tick() => {
                        this.write_all_pending().await;
                        ticks += 1;
                        if ticks.is_multiple_of(5) {
                            this.flush_counts().await;
                        }
                        if ticks.is_multiple_of(300) {
                            this.forget_old(now_ms());
                        }
                    }
                }
            }
        });
    }

    /// Lets go of what memory holds for sends and replies past its time, once a minute:
    /// otherwise a server that sends campaigns keeps an entry for every recipient (a reply
    /// after the window is not the campaign's; a late status reads the send's record).
    fn forget_old(&self, now: i64) {
        self.inner
            .recent
            .retain(|_, (_, at)| now - *at <= REPLY_WINDOW_MS);
        self.inner
            .sends
            .retain(|_, (_, _, at)| now - *at <= SENDS_CACHED_MS);
    }

    /// A number's quality drop or a template Meta paused, disabled or rated red: every running
    /// or scheduled campaign that sends from that number or with that template pauses, its
    /// reason saying which webhook; resuming is a person's call.
    async fn on_notice(&self, tenant: &TenantId, event: &AccountEvent) {
        let Some(alarm) = account_alarm(&event.field, &event.raw) else {
            return;
        };
        let items = match self
            .inner
            .store
            .list_items(tenant, ItemKind::Campaign)
            .await
        {
            Ok(items) => items,
            Err(e) => {
                tracing::error!(error = %e, ?alarm, "could not read the campaigns an alarm touches");
                return;
            }
        };
        for item in items {
            let Ok(doc) = read_doc(&item) else { continue };
            if !matches!(doc.state, CampaignState::Running | CampaignState::Scheduled) {
                continue;
            }
            let (touched, reason) = match &alarm {
                AccountAlarm::Number { display, reason } => (
                    doc.input.numbers.iter().any(|n| {
                        event.number.as_ref() == Some(n)
                            || self
                                .inner
                                .outbound
                                .entry(tenant, n)
                                .is_ok_and(|e| same_number(&e.display_phone_number, display))
                    }),
                    reason,
                ),
                AccountAlarm::Template {
                    name,
                    language,
                    reason,
                } => (
                    &doc.input.template.name == name
                        && language
                            .as_ref()
                            .is_none_or(|l| l == &doc.input.template.language),
                    reason,
                ),
            };
            if touched {
                self.auto_pause(tenant, &CampaignId::new(item.id.clone()), reason.clone())
                    .await;
            }
        }
    }

    async fn on_event(&self, event: DomainEvent) -> Result<(), StoreError> {
        match event {
            DomainEvent::MessageSent {
                message,
                outbox: Some(send),
                author: Some(author),
            } => {
                if let Some(id) = author.strip_prefix(CAMPAIGN_AUTHOR) {
                    self.transition(
                        &message.tenant,
                        &CampaignId::new(id.to_owned()),
                        &message.customer,
                        RecipientState::Sent,
                        None,
                        Some(SendId::new(send)),
                        false,
                    )
                    .await?;
                }
            }
            DomainEvent::SendFailed { send } => {
                if let Some(id) = send.campaign() {
                    self.transition(
                        &send.tenant,
                        &CampaignId::new(id.to_owned()),
                        &send.customer,
                        RecipientState::Failed,
                        send.error.clone(),
                        Some(send.id.clone()),
                        false,
                    )
                    .await?;
                }
            }
            DomainEvent::StatusUpdated { tenant, status } => {
                let to = match status.status {
                    MessageStatus::Delivered => RecipientState::Delivered,
                    MessageStatus::Read => RecipientState::Read,
                    MessageStatus::Failed => RecipientState::Failed,
                    _ => return Ok(()),
                };
                let Some(callback) = &status.callback else {
                    return Ok(());
                };
                let send_id = SendId::new(callback.clone());
                let known = self.inner.sends.get(&send_id).map(|e| e.clone());
                let (id, customer) = match known {
                    Some((id, customer, _)) => (id, customer),
                    // Sent before a start: the outbox's record says whose it is.
                    None => match self.inner.store.get_send(&tenant, &send_id).await? {
                        Some(send) => match send.campaign().map(CampaignId::new) {
                            Some(id) => (id, send.customer),
                            None => return Ok(()),
                        },
                        None => return Ok(()),
                    },
                };
                if to == RecipientState::Read || to == RecipientState::Failed {
                    self.inner.sends.remove(&send_id);
                }
                {
                    let reason = (to == RecipientState::Failed).then(|| {
                        let codes: Vec<String> =
                            status.error_codes.iter().map(i64::to_string).collect();
                        format!("Meta refused it ({})", codes.join(", "))
                    });
                    self.transition(&tenant, &id, &customer, to, reason, None, false)
                        .await?;
                }
            }
            DomainEvent::MessageReceived {
                tenant, message, ..
            } => {
                let key = (tenant.clone(), message.customer.clone());
                let Some((id, at)) = self.inner.recent.get(&key).map(|c| c.clone()) else {
                    return Ok(());
                };
                if now_ms() - at > REPLY_WINDOW_MS {
                    self.inner.recent.remove(&key);
                    return Ok(());
                }
                let tapped = message.kind == "button" || message.raw.contains("\"button_reply\"");
                self.transition(
                    &tenant,
                    &id,
                    &message.customer,
                    RecipientState::Replied,
                    None,
                    None,
                    tapped,
                )
                .await?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Writes every campaign's waiting moves.
    async fn write_all_pending(&self) {
        let lives: Vec<Arc<Live>> = self
            .inner
            .runs
            .live
            .iter()
            .map(|e| Arc::clone(e.value()))
            .collect();
        for live in lives {
            self.write_pending(&live).await;
        }
    }

    /// Writes the counts of every campaign that moved, and announces them.
    async fn flush_counts(&self) {
        let dirty: Vec<((TenantId, CampaignId), Arc<Live>)> = self
            .inner
            .runs
            .live
            .iter()
            .filter(|e| e.value().dirty.swap(false, Ordering::SeqCst))
            .map(|e| (e.key().clone(), Arc::clone(e.value())))
            .collect();
        for ((tenant, id), live) in dirty {
            let counts = live.tally.lock().await.counts();
            match self
                .update(&tenant, &id, "campaigns", None, |d| {
                    d.counts = counts;
                    Ok(())
                })
                .await
            {
                Ok((_, doc)) => self.announce(&tenant, &id, &doc),
                Err(e) => {
                    live.dirty.store(true, Ordering::SeqCst);
                    tracing::warn!(campaign = %id, error = %e, "could not store a campaign's counts");
                }
            }
        }
    }

    /// Statuses Meta reported that the campaign did not hear: stored just before a crash (with
    /// the recipient's move still in memory), or published while the follower lagged behind
    /// the bus. Each recipient whose message went is looked up (its send by the campaign's key,
    /// the message's latest status by its wamid) and moved on. Returns how many were looked up.
    pub(super) async fn settle_statuses(
        &self,
        tenant: &TenantId,
        id: &CampaignId,
    ) -> Result<usize, CampaignError> {
        let author = format!("{CAMPAIGN_AUTHOR}{id}");
        let store = &self.inner.store;
        let mut cursor = None;
        let mut looked = 0;
        loop {
            let page = store.recipients(tenant, id, cursor.as_ref(), PAGE).await?;
            for r in &page.items {
                let open = matches!(
                    r.state,
                    RecipientState::Queued | RecipientState::Sent | RecipientState::Delivered
                );
                let Some(number) = r.number.as_ref().filter(|_| open) else {
                    continue;
                };
                let send = match &r.send {
                    Some(send) => send.clone(),
                    None => {
                        let conversation =
                            store.id_keys().conversation_id(tenant, number, &r.wa_id);
                        send_id(tenant, &conversation, &author, id.as_str())
                    }
                };
                looked += 1;
                let Some(wamid) = store.get_send(tenant, &send).await?.and_then(|s| s.wamid) else {
                    continue;
                };
                let Some(status) = store.latest_status(tenant, &wamid).await? else {
                    continue;
                };
                let (to, reason) = match status.status {
                    MessageStatus::Delivered => (RecipientState::Delivered, None),
                    MessageStatus::Read => (RecipientState::Read, None),
                    MessageStatus::Failed => {
                        let codes: Vec<String> =
                            status.error_codes.iter().map(i64::to_string).collect();
                        (
                            RecipientState::Failed,
                            Some(format!("Meta refused it ({})", codes.join(", "))),
                        )
                    }
                    _ => continue,
                };
                self.transition(tenant, id, &r.wa_id, to, reason, Some(send), false)
                    .await?;
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(looked),
            }
        }
    }

    /// [`Self::settle_statuses`] on its own task, logged.
    pub(super) fn settle_later(&self, tenant: TenantId, id: CampaignId) {
        let this = self.clone();
        tokio::spawn(async move {
            match this.settle_statuses(&tenant, &id).await {
                Ok(looked) => {
                    tracing::debug!(campaign = %id, looked, "campaign: statuses settled")
                }
                Err(e) => {
                    tracing::warn!(campaign = %id, error = %e, "campaign: statuses not settled")
                }
            }
        });
    }
}
