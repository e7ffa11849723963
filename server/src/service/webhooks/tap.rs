//! The broker the services publish through, with integrations listening in: it hands every
//! event on to the real broker (the hub) unchanged, what subscribers follow (assignments,
//! resolutions, campaigns' progress, surveys answered) to [`Webhooks`], an assignment to the
//! CRM card's prefetch, and what people are notified of on their phones to [`Push`]. Events
//! reach it after the state they describe is stored (the inbox's rule), so a delivery never
//! announces what the store does not have.

use std::sync::Arc;

use switchboard_shared::protocol::{HubEvent, Topic};
use switchboard_shared::{TenantId, UserId};

use super::events::{self, Progress};
use super::Webhooks;
use crate::domain::{now_ms, TeamRecord};
use crate::service::broker::{Broker, Fact};
use crate::service::crm::Crm;
use crate::service::push::Push;

pub struct Tap {
    inner: Arc<dyn Broker>,
    hooks: Webhooks,
    crm: Crm,
    push: Push,
    progress: Progress,
}

impl Tap {
    pub fn new(inner: Arc<dyn Broker>, hooks: Webhooks, crm: Crm, push: Push) -> Self {
        Self {
            inner,
            hooks,
            crm,
            push,
            progress: Progress::default(),
        }
    }
}

impl Broker for Tap {
    fn fan_out(
        &self,
        tenant: &TenantId,
        event: &HubEvent,
        teams: &[TeamRecord],
        inboxes: &[&UserId],
    ) {
        self.inner.fan_out(tenant, event, teams, inboxes);
        self.push.notice(tenant, event, inboxes);
        if let Some(e) = events::of_hub(tenant, event) {
            // The agent it went to will open it: their CRM card is asked for now.
            if e.event == switchboard_shared::webhooks::EventType::ConversationAssigned {
                if let HubEvent::ConversationChanged { customer, .. } = event {
                    self.crm
                        .prefetch(tenant, &switchboard_shared::WaId::from(customer.as_str()));
                }
            }
            self.hooks.emit(e);
        }
    }

    fn announce(&self, tenant: &TenantId, topic: &Topic, event: &HubEvent) {
        self.inner.announce(tenant, topic, event);
        if self.hooks.wants(
            tenant,
            switchboard_shared::webhooks::EventType::CampaignProgress,
        ) {
            if let Some(e) = self.progress.of(tenant, event, now_ms()) {
                self.hooks.emit(e);
            }
        }
    }

    fn tell(&self, tenant: &TenantId, fact: &Fact) {
        self.inner.tell(tenant, fact);
        self.hooks.emit(events::of_fact(tenant, fact));
    }

    fn lost_events(&self) {
        self.inner.lost_events();
    }
}
