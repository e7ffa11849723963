//! The cost ledger: a key row per message decides its one line; lines by (tenant, month).

use std::str::FromStr;

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};
use rust_decimal::Decimal;
use switchboard_shared::costs::{PriceCategory, PricingType};
use switchboard_shared::{PhoneNumberId, TeamId, TenantId, Wamid};

use super::{unavailable, SqliteStore};
use crate::domain::*;
use crate::store::page::*;
use crate::store::{check_limit, CostStore, StoreError, StoreResult};

const COLUMNS: &str = "wamid, at_ms, month, number, country, category, pricing_type, model, \
                       team, sender, campaign, price";

/// Writes a message's ledger line unless it has one; whether it was new. Runs inside the
/// ingest transaction, with the status that priced it.
pub(super) fn insert_charge(conn: &Connection, c: &ChargeRecord) -> StoreResult<bool> {
    let new = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO charge_keys (tenant, wamid, month) VALUES (?1, ?2, ?3)",
        )
        .and_then(|mut s| s.execute(params![c.tenant.as_str(), c.wamid.as_str(), c.month]))
        .map_err(unavailable)?
        > 0;
    if new {
        conn.prepare_cached(&format!(
            "INSERT INTO charges_by_month (tenant, {COLUMNS})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
        ))
        .and_then(|mut s| {
            s.execute(params![
                c.tenant.as_str(),
                c.wamid.as_str(),
                c.at_ms,
                c.month,
                c.number.as_str(),
                c.country,
                c.category.as_str(),
                c.pricing_type.as_str(),
                c.model,
                c.team.as_ref().map(|t| t.as_str()),
                c.sender,
                c.campaign,
                c.price.map(|p| p.to_string()),
            ])
        })
        .map_err(unavailable)?;
    }
    Ok(new)
}

fn charge(
    tenant: &TenantId,
    r: &rusqlite::Row<'_>,
) -> rusqlite::Result<Result<ChargeRecord, StoreError>> {
    let category: String = r.get(5)?;
    let pricing_type: String = r.get(6)?;
    let price: Option<String> = r.get(11)?;
    let corrupt = |what: &str, v: &str| StoreError::Corrupt(format!("ledger {what} `{v}`"));
    let Some(category) = PriceCategory::parse(&category) else {
        return Ok(Err(corrupt("category", &category)));
    };
    let Some(pricing_type) = PricingType::parse(&pricing_type) else {
        return Ok(Err(corrupt("pricing type", &pricing_type)));
    };
    let price = match price {
        Some(p) => match Decimal::from_str(&p) {
            Ok(p) => Some(p),
            Err(_) => return Ok(Err(corrupt("price", &p))),
        },
        None => None,
    };
    Ok(Ok(ChargeRecord {
        tenant: tenant.clone(),
        wamid: Wamid::new(r.get::<_, String>(0)?),
        at_ms: r.get(1)?,
        month: r.get(2)?,
        number: PhoneNumberId::new(r.get::<_, String>(3)?),
        country: r.get(4)?,
        category,
        pricing_type,
        model: r.get(7)?,
        team: r.get::<_, Option<String>>(8)?.map(TeamId::new),
        sender: r.get(9)?,
        campaign: r.get(10)?,
        price,
    }))
}

#[async_trait]
impl CostStore for SqliteStore {
    async fn get_charge(
        &self,
        tenant: &TenantId,
        wamid: &Wamid,
    ) -> StoreResult<Option<ChargeRecord>> {
        let (t, w) = (tenant.clone(), wamid.clone());
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM charges_by_month WHERE tenant = ?1 AND month =
                   (SELECT month FROM charge_keys WHERE tenant = ?1 AND wamid = ?2)
                 AND wamid = ?2"
            ))
            .and_then(|mut s| {
                s.query_row(params![t.as_str(), w.as_str()], |r| charge(&t, r))
                    .optional()
            })
            .map_err(unavailable)?
            .transpose()
        })
        .await
    }

    async fn charges(
        &self,
        tenant: &TenantId,
        month: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<ChargeRecord>> {
        let limit = check_limit(limit)?;
        let after = Cursor::decode_text(cursor)?;
        let (t, month) = (tenant.clone(), month.to_owned());
        self.read(move |conn| {
            let rows: Vec<ChargeRecord> = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM charges_by_month
                     WHERE tenant = ?1 AND month = ?2 AND wamid > ?3 ORDER BY wamid LIMIT ?4"
                ))
                .and_then(|mut s| {
                    s.query_map(params![t.as_str(), month, after, limit as i64], |r| {
                        charge(&t, r)
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(unavailable)?
                .into_iter()
                .collect::<Result<_, _>>()?;
            let next = (rows.len() == limit)
                .then(|| rows.last().map(|c| Cursor::after_text(c.wamid.as_str())))
                .flatten();
            Ok(Page { items: rows, next })
        })
        .await
    }
}
