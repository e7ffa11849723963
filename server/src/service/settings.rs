//! A workspace's settings at run time, starting with routing: the configuration's `[routing]`
//! is the server's default; a workspace that saves its own gets them instead, at once (the
//! inbox is told), audited with what they were and became, and never another workspace's.
//!
//! Owns: reading a workspace's settings over the defaults, checking a change, the lost-update
//! check (through `documents`). Must not: route (the inbox does), or know HTTP.

use std::collections::BTreeMap;

use switchboard_shared::api::RoutingPatch;
use switchboard_shared::TenantId;

use super::documents::{invalid, replace_single, DocumentActor, DocumentError};
use crate::auth::{Principal, TenantScope};
use crate::config::RoutingConfig;
use crate::domain::{AutomationItem, ItemKind, NumberRecord};
use crate::routing::Strategy;
use crate::store::{Store, StoreError, StoreResult};

/// The id of a workspace's routing document.
const ROUTING_ID: &str = "routing";

/// A workspace's routing settings, for the inbox: its saved ones (and their version), else
/// the defaults.
pub async fn routing(
    store: &dyn Store,
    tenant: &TenantId,
    defaults: &RoutingConfig,
) -> StoreResult<(RoutingConfig, Option<u64>)> {
    decode(
        store
            .get_item(tenant, ItemKind::Routing, ROUTING_ID)
            .await?,
        defaults,
    )
}

/// [`routing`] for a caller, through their scope.
pub async fn routing_in(
    scope: &TenantScope,
    defaults: &RoutingConfig,
) -> StoreResult<(RoutingConfig, Option<u64>)> {
    decode(
        scope.automation_item(ItemKind::Routing, ROUTING_ID).await?,
        defaults,
    )
}

fn decode(
    item: Option<AutomationItem>,
    defaults: &RoutingConfig,
) -> StoreResult<(RoutingConfig, Option<u64>)> {
    match item {
        Some(item) => {
            let config = serde_json::from_str(&item.body).map_err(|e| {
                StoreError::Corrupt(format!("routing settings of {}: {e}", item.tenant))
            })?;
            Ok((config, Some(item.version)))
        }
        None => Ok((defaults.clone(), None)),
    }
}

/// Applies `patch` to the workspace's settings (the defaults, when never saved), checks the
/// result whole, and saves it against the version read. Returns what is now in force.
pub async fn change_routing(
    principal: &Principal,
    scope: &TenantScope,
    defaults: &RoutingConfig,
    patch: RoutingPatch,
) -> Result<(RoutingConfig, u64), DocumentError> {
    let (mut config, stored) = routing_in(scope, defaults).await?;
    let asked = patch.version.or(stored);
    if let Some(name) = &patch.strategy {
        config.strategy =
            strategy(name).ok_or_else(|| invalid("strategy", "`least_load` or `round_robin`"))?;
    }
    if let Some(capacity) = patch.capacity {
        config.capacity = capacity;
    }
    if let Some(secs) = patch.reply_deadline_secs {
        config.reply_deadline_secs = secs;
    }
    if let Some(secs) = patch.offline_grace_secs {
        config.offline_grace_secs = secs;
    }
    if let Some(secs) = patch.sla_secs {
        config.sla_secs = secs;
    }
    if let Some(notice) = patch.queue_notice {
        config.queue_notice = notice.trim().to_owned();
    }
    if let Some(numbers) = patch.numbers {
        let owned = scope.numbers().await?;
        apply_numbers(&mut config.numbers, numbers, &owned)?;
    }
    check(&config)?;
    let actor = DocumentActor {
        principal,
        scope,
        action: "routing.update",
    };
    let version = replace_single(
        &actor,
        ItemKind::Routing,
        ("routing", ROUTING_ID),
        asked,
        &config,
    )
    .await?;
    Ok((config, version))
}

fn strategy(name: &str) -> Option<Strategy> {
    [Strategy::LeastLoad, Strategy::RoundRobin]
        .into_iter()
        .find(|s| s.as_str() == name)
}

/// Numbers' own strategies: each must be the workspace's; an empty name drops the number's own.
fn apply_numbers(
    into: &mut BTreeMap<String, Strategy>,
    numbers: BTreeMap<String, String>,
    owned: &[NumberRecord],
) -> Result<(), DocumentError> {
    for (number, name) in numbers {
        if !owned.iter().any(|n| n.phone_number_id.as_str() == number) {
            return Err(invalid(
                "numbers",
                format!("no number `{number}` in this workspace"),
            ));
        }
        if name.is_empty() {
            into.remove(&number);
        } else {
            let s = strategy(&name).ok_or_else(|| {
                invalid(
                    "numbers",
                    format!("`{number}`: `least_load`, `round_robin` or \"\" (the default)"),
                )
            })?;
            into.insert(number, s);
        }
    }
    Ok(())
}

/// The limits a workspace's settings keep (the configuration's defaults are the operator's).
fn check(c: &RoutingConfig) -> Result<(), DocumentError> {
    if !(1..=100).contains(&c.capacity) {
        return Err(invalid("capacity", "1 to 100 conversations at once"));
    }
    if c.reply_deadline_secs != 0 && !(30..=86_400).contains(&c.reply_deadline_secs) {
        return Err(invalid(
            "reply_deadline_secs",
            "0 (never) or 30 to 86400 seconds",
        ));
    }
    if c.offline_grace_secs > 3_600 {
        return Err(invalid("offline_grace_secs", "0 to 3600 seconds"));
    }
    if !(10..=86_400).contains(&c.sla_secs) {
        return Err(invalid("sla_secs", "10 to 86400 seconds"));
    }
    if c.queue_notice.chars().count() > 1_000 {
        return Err(invalid("queue_notice", "at most 1000 characters"));
    }
    if c.queue_notice
        .chars()
        .any(|ch| ch.is_control() && ch != '\n')
    {
        return Err(invalid("queue_notice", "no control characters"));
    }
    // A placeholder spelled wrong would reach customers as it is.
    let mut rest = c.queue_notice.as_str();
    while let Some(open) = rest.find('{') {
        let after = &rest[open..];
        let Some(close) = after.find('}') else { break };
        let name = &after[..=close];
        if name != "{position}" && name != "{minutes}" {
            return Err(invalid(
                "queue_notice",
                format!("`{name}`: only {{position}} and {{minutes}} are filled in"),
            ));
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> RoutingConfig {
        RoutingConfig {
            strategy: Strategy::LeastLoad,
            capacity: 5,
            reply_deadline_secs: 300,
            offline_grace_secs: 60,
            sla_secs: 120,
            queue_notice: String::new(),
            numbers: BTreeMap::new(),
        }
    }

    fn field(c: RoutingConfig) -> String {
        match check(&c) {
            Err(DocumentError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn settings_keep_their_limits_and_placeholders_are_checked() {
        assert!(check(&defaults()).is_ok());
        assert_eq!(
            field(RoutingConfig {
                capacity: 0,
                ..defaults()
            }),
            "capacity"
        );
        assert_eq!(
            field(RoutingConfig {
                reply_deadline_secs: 5,
                ..defaults()
            }),
            "reply_deadline_secs"
        );
        assert!(check(&RoutingConfig {
            reply_deadline_secs: 0,
            ..defaults()
        })
        .is_ok());
        assert_eq!(
            field(RoutingConfig {
                sla_secs: 1,
                ..defaults()
            }),
            "sla_secs"
        );
        assert!(check(&RoutingConfig {
            queue_notice: "You are number {position}, about {minutes} min.".into(),
            ..defaults()
        })
        .is_ok());
        assert_eq!(
            field(RoutingConfig {
                queue_notice: "You are number {posiiton}.".into(),
                ..defaults()
            }),
            "queue_notice"
        );
    }

    #[test]
    fn numbers_strategies_name_the_workspace_s_numbers() {
        let owned = vec![NumberRecord {
            tenant: TenantId::from("acme"),
            phone_number_id: "111".into(),
            display_phone_number: "1555".into(),
            waba_id: None,
        }];
        let mut map = BTreeMap::new();
        apply_numbers(
            &mut map,
            BTreeMap::from([("111".to_owned(), "round_robin".to_owned())]),
            &owned,
        )
        .unwrap();
        assert_eq!(map.get("111"), Some(&Strategy::RoundRobin));
        apply_numbers(
            &mut map,
            BTreeMap::from([("111".to_owned(), String::new())]),
            &owned,
        )
        .unwrap();
        assert!(map.is_empty());
        assert!(apply_numbers(
            &mut map,
            BTreeMap::from([("222".to_owned(), "round_robin".to_owned())]),
            &owned
        )
        .is_err());
        assert!(apply_numbers(
            &mut map,
            BTreeMap::from([("111".to_owned(), "random".to_owned())]),
            &owned
        )
        .is_err());
    }
}
