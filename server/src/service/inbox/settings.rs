//! Each workspace's routing settings in the inbox task: read from the store when a workspace is
//! first routed and again at most every [`ROUTING_TTL`] (another server on a shared store may
//! have changed them), and at once when this server's API changed them
//! (`Command::RoutingChanged`); and the queue notice they may set.

use std::time::Duration;

use super::*;
use crate::config::RoutingConfig;

/// How long a workspace's settings are used before they are read again.
const ROUTING_TTL: Duration = Duration::from_secs(2);

impl Worker {
    /// The workspace's routing settings as last read (the defaults until read).
    pub(super) fn routing(&self, tenant: &TenantId) -> Arc<RoutingConfig> {
        self.tenants
            .get(tenant)
            .map_or_else(|| Arc::clone(&self.defaults), |t| Arc::clone(&t.routing))
    }

    /// Reads the workspace's settings again when they are older than [`ROUTING_TTL`], or now
    /// when `force`d. A store that does not answer leaves the last ones in force.
    pub(super) async fn load_routing(&mut self, tenant: &TenantId, force: bool) {
        let fresh = self
            .tenants
            .get(tenant)
            .and_then(|t| t.routing_read)
            .is_some_and(|at| at.elapsed() < ROUTING_TTL);
        if fresh && !force {
            return;
        }
        let read =
            crate::service::settings::routing(self.store.as_ref(), tenant, &self.defaults).await;
        match read {
            Ok((config, _)) => {
                let inbox = self.tenant(tenant);
                if *inbox.routing != config {
                    inbox.engine.set_strategy(config.strategy);
                    inbox.routing = Arc::new(config);
                }
                inbox.routing_read = Some(Instant::now());
            }
            Err(error) => {
                tracing::warn!(%error, %tenant, "routing settings unavailable; the last ones stay");
            }
        }
    }

    /// Tells a customer who just joined the queue their place and the estimated wait, when the
    /// tenant configured a notice (`[routing] queue_notice`). Sent through the outbox, keyed by
    /// the customer's message, so it goes once.
    pub(super) fn tell_queue_position(
        &mut self,
        thread: &ThreadRecord,
        message: &InboundMessage,
        now: i64,
    ) {
        let routing = self.routing(&thread.tenant);
        if routing.queue_notice.trim().is_empty() {
            return;
        }
        let Some(waiting) = self
            .tenant(&thread.tenant)
            .engine
            .waiting(now)
            .into_iter()
            .find(|w| w.conversation == thread.conversation)
        else {
            return;
        };
        let minutes = (waiting.eta_ms + 59_999) / 60_000;
        let text = routing
            .queue_notice
            .replace("{position}", &waiting.position.to_string())
            .replace("{minutes}", &minutes.max(1).to_string());
        let outbox = self.outbox.clone();
        let (tenant, number, customer) = (
            thread.tenant.clone(),
            thread.number.clone(),
            thread.customer.clone(),
        );
        let key = format!("queue-notice-{}", message.key);
        // Storing the notice waits for the disk: not on the routing task.
        tokio::spawn(async move {
            let send = NewSend {
                tenant: &tenant,
                number: &number,
                customer: &customer,
                content: Content::text(&text),
                text: None,
                reply_to: None,
                author: "routing",
                client_key: Some(&key),
            };
            if let Err(error) = outbox.enqueue(send).await {
                tracing::warn!(%error, "could not queue the queue notice");
            }
        });
    }
}
