//! Each workspace's routing settings in the inbox task: read from the store when a workspace is
//! first routed and again at most every [`ROUTING_TTL`] (another server on a shared store may
//! have changed them), and at once when this server's API changed them
//! (`Command::RoutingChanged`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_shared::TenantId;

use super::Worker;
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
}
