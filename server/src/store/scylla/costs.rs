//! The cost ledger on ScyllaDB: one partition per (tenant, month). Which of a message's priced
//! statuses makes its line is decided by a lightweight transaction on `charge_keys`, whose row
//! keeps the winning line; the month's row is then upserted from it, so a stop between the two
//! is repaired by the next priced status (or the redelivery) of the same message.

use std::str::FromStr;

use async_trait::async_trait;
use rust_decimal::Decimal;
use scylla::statement::prepared::PreparedStatement;
use switchboard_shared::costs::{Charge, PriceCategory, PricingType};
use switchboard_shared::{PhoneNumberId, TeamId, TenantId, Wamid};

use super::{first_row, lwt_applied, rows_of, unavailable, Preparer, ScyllaStore};
use crate::domain::*;
use crate::store::page::*;
use crate::store::{check_limit, CostStore, StoreError, StoreResult};

row! {
    /// A ledger line (`charges_by_month`).
    struct ChargeRow {
        tenant: String,
        month: String,
        wamid: String,
        at_ms: i64,
        number: String,
        country: String,
        category: String,
        pricing_type: String,
        model: String,
        team: Option<String>,
        sender: Option<String>,
        campaign: Option<String>,
        price: Option<String>,
    }
}

impl ChargeRow {
    fn of(c: &ChargeRecord) -> Self {
        Self {
            tenant: c.tenant.as_str().to_owned(),
            month: c.month.clone(),
            wamid: c.wamid.as_str().to_owned(),
            at_ms: c.at_ms,
            number: c.number.as_str().to_owned(),
            country: c.country.clone(),
            category: c.category.as_str().to_owned(),
            pricing_type: c.pricing_type.as_str().to_owned(),
            model: c.model.clone(),
            team: c.team.as_ref().map(|t| t.as_str().to_owned()),
            sender: c.sender.clone(),
            campaign: c.campaign.clone(),
            price: c.price.map(|p| p.to_string()),
        }
    }

    fn into_record(self) -> StoreResult<ChargeRecord> {
        let corrupt = |what: &str, v: &str| StoreError::Corrupt(format!("ledger {what} `{v}`"));
        Ok(ChargeRecord {
            category: PriceCategory::parse(&self.category)
                .ok_or_else(|| corrupt("category", &self.category))?,
            pricing_type: PricingType::parse(&self.pricing_type)
                .ok_or_else(|| corrupt("pricing type", &self.pricing_type))?,
            price: match &self.price {
                Some(p) => Some(Decimal::from_str(p).map_err(|_| corrupt("price", p))?),
                None => None,
            },
            tenant: TenantId::new(self.tenant),
            wamid: Wamid::new(self.wamid),
            at_ms: self.at_ms,
            month: self.month,
            number: PhoneNumberId::new(self.number),
            country: self.country,
            model: self.model,
            team: self.team.map(TeamId::new),
            sender: self.sender,
            campaign: self.campaign,
        })
    }
}

/// The line a key row keeps: the wire form of the charge.
fn line_of(c: &ChargeRecord) -> String {
    serde_json::to_string(&c.wire()).expect("a charge serializes")
}

fn record_of_line(tenant: &TenantId, month: String, line: &str) -> StoreResult<ChargeRecord> {
    let c: Charge = serde_json::from_str(line)
        .map_err(|e| StoreError::Corrupt(format!("ledger key line: {e}")))?;
    Ok(ChargeRecord {
        tenant: tenant.clone(),
        wamid: Wamid::new(c.wamid),
        at_ms: c.at,
        month,
        number: PhoneNumberId::new(c.number),
        country: c.country,
        category: c.category,
        pricing_type: c.pricing_type,
        model: c.pricing_model,
        team: c.team.map(TeamId::new),
        sender: c.sender,
        campaign: c.campaign,
        price: match c.price {
            Some(p) => Some(
                Decimal::from_str(&p)
                    .map_err(|_| StoreError::Corrupt(format!("ledger price `{p}`")))?,
            ),
            None => None,
        },
    })
}

/// Statements of the cost ledger.
pub(super) struct Statements {
    claim: PreparedStatement,
    get_key: PreparedStatement,
    upsert: PreparedStatement,
    get: PreparedStatement,
    page: PreparedStatement,
}

impl Statements {
    pub(super) async fn prepare(p: &Preparer<'_>) -> StoreResult<Self> {
        let ks = p.keyspace;
        let columns = ChargeRow::COLUMNS;
        Ok(Self {
            claim: p
                .prepare(
                    format!(
                        "INSERT INTO {ks}.charge_keys (tenant, wamid, month, line)
                         VALUES (?, ?, ?, ?) IF NOT EXISTS"
                    ),
                    false,
                )
                .await?,
            get_key: p
                .prepare(
                    format!(
                        "SELECT month, line FROM {ks}.charge_keys WHERE tenant = ? AND wamid = ?"
                    ),
                    true,
                )
                .await?,
            upsert: p
                .prepare(
                    format!(
                        "INSERT INTO {ks}.charges_by_month ({columns}) VALUES ({})",
                        super::markers(columns)
                    ),
                    true,
                )
                .await?,
            get: p
                .prepare(
                    format!(
                        "SELECT {columns} FROM {ks}.charges_by_month
                         WHERE tenant = ? AND month = ? AND wamid = ?"
                    ),
                    true,
                )
                .await?,
            page: p
                .prepare(
                    format!(
                        "SELECT {columns} FROM {ks}.charges_by_month
                         WHERE tenant = ? AND month = ? AND wamid > ? LIMIT ?"
                    ),
                    true,
                )
                .await?,
        })
    }
}

impl ScyllaStore {
    /// Writes a message's ledger line unless it has one; whether it was new (see the module).
    pub(super) async fn insert_charge(&self, c: &ChargeRecord) -> StoreResult<bool> {
        let claimed = self
            .session
            .execute_unpaged(
                &self.costs.claim,
                (
                    c.tenant.as_str(),
                    c.wamid.as_str(),
                    c.month.as_str(),
                    line_of(c),
                ),
            )
            .await
            .map_err(unavailable)?;
        let new = lwt_applied(claimed)?;
        let line = if new {
            c.clone()
        } else {
            let (month, line): (String, String) = first_row(
                self.session
                    .execute_unpaged(&self.costs.get_key, (c.tenant.as_str(), c.wamid.as_str()))
                    .await
                    .map_err(unavailable)?,
            )?
            .ok_or_else(|| StoreError::Corrupt("a claimed ledger key vanished".into()))?;
            record_of_line(&c.tenant, month, &line)?
        };
        self.session
            .execute_unpaged(&self.costs.upsert, &ChargeRow::of(&line))
            .await
            .map_err(unavailable)?;
        Ok(new)
    }
}

#[async_trait]
impl CostStore for ScyllaStore {
    async fn get_charge(
        &self,
        tenant: &TenantId,
        wamid: &Wamid,
    ) -> StoreResult<Option<ChargeRecord>> {
        let key: Option<(String, String)> = first_row(
            self.session
                .execute_unpaged(&self.costs.get_key, (tenant.as_str(), wamid.as_str()))
                .await
                .map_err(unavailable)?,
        )?;
        let Some((month, _)) = key else {
            return Ok(None);
        };
        first_row::<ChargeRow>(
            self.session
                .execute_unpaged(
                    &self.costs.get,
                    (tenant.as_str(), month.as_str(), wamid.as_str()),
                )
                .await
                .map_err(unavailable)?,
        )?
        .map(ChargeRow::into_record)
        .transpose()
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
        let rows: Vec<ChargeRow> = rows_of(
            self.session
                .execute_unpaged(
                    &self.costs.page,
                    (tenant.as_str(), month, after.as_str(), limit as i32),
                )
                .await
                .map_err(unavailable)?,
        )?;
        let items = rows
            .into_iter()
            .map(ChargeRow::into_record)
            .collect::<StoreResult<Vec<_>>>()?;
        let next = (items.len() == limit)
            .then(|| items.last().map(|c| Cursor::after_text(c.wamid.as_str())))
            .flatten();
        Ok(Page { items, next })
    }
}
