//! Agents' working time: agent-days are rewritten whole and read back by day, then user.

use switchboard_shared::{TenantId, UserId};

use super::*;
use crate::store::Store;

pub async fn agent_days_are_rewritten_whole_and_read_back_by_day(store: &dyn Store) {
    let (tenant, other) = (fresh_tenant("activity"), fresh_tenant("activity-other"));
    let first = day_bucket(T0);
    let day = |tenant: &TenantId, d: i64, user: &str, online: i64| AgentDayRecord {
        online_ms: online,
        idle_ms: online / 4,
        available_ms: online / 2,
        break_ms: online / 8,
        load_ms: online * 3 / 2,
        peak_load: 3,
        updated_at: (first + d) * DAY_MS + online,
        ..AgentDayRecord::empty(tenant.clone(), first + d, UserId::new(user))
    };
    let mut written = Vec::new();
    for d in 0..3 {
        for user in ["u_b", "u_a", "u_c"] {
            written.push(day(&tenant, d, user, 60_000 * (d + 1)));
        }
    }
    store.put_agent_days(&written).await.unwrap();
    store
        .put_agent_days(&[day(&other, 0, "u_a", 1)])
        .await
        .unwrap();
    // The running totals grow: a second write replaces the row, it does not add to it.
    let grown = day(&tenant, 1, "u_a", 600_000);
    store
        .put_agent_days(std::slice::from_ref(&grown))
        .await
        .unwrap();
    store
        .put_agent_days(std::slice::from_ref(&grown))
        .await
        .unwrap();
    store.put_agent_days(&[]).await.unwrap();

    let read = |days: std::ops::Range<i64>, limit: usize| {
        let tenant = tenant.clone();
        every_page(limit, move |cursor| {
            let (days, tenant) = (days.clone(), tenant.clone());
            async move {
                store
                    .agent_days(&tenant, days, cursor.as_ref(), limit)
                    .await
            }
        })
    };
    for limit in [1, 2, 4, 500] {
        let all = read(first..first + 3, limit).await;
        let keys: Vec<(i64, &str)> = all
            .iter()
            .map(|d| (d.day - first, d.user.as_str()))
            .collect();
        assert_eq!(
            keys,
            [0, 1, 2]
                .iter()
                .flat_map(|d| ["u_a", "u_b", "u_c"].map(|u| (*d, u)))
                .collect::<Vec<_>>(),
            "by day, then user, at page size {limit}"
        );
        assert_eq!(all[3], grown, "the latest write whole");
        assert_eq!(all[0], day(&tenant, 0, "u_a", 60_000));
    }
    assert_eq!(read(first + 2..first + 9, 2).await.len(), 3);
    assert!(read(first - 5..first, 2).await.is_empty());
    assert_eq!(
        store
            .agent_days(&other, first..first + 1, None, 10)
            .await
            .unwrap()
            .items
            .len(),
        1,
        "another tenant's days stay apart"
    );
}
