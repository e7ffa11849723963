//! The cost ledger's use cases: pricing each priced status of a webhook (its ledger line, stored
//! with the status in the same ingest), the workspace's rate card (shipped, or uploaded and
//! audited), and reports and the reconciliation export over the ledger.
//!
//! Owns: who a line is attributed to (the number's team, the outbox send's author and campaign),
//! the monthly volume a tiered price is chosen by, the rate-card cache. Must not: decide a
//! price (`crate::costs` does) or speak HTTP.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use rust_decimal::Decimal;
use switchboard_shared::costs::{CostGroup, CostLine, CostReport, PriceCategory, RateCard};
use switchboard_shared::{SendId, TenantId};

use crate::auth::{Principal, TenantScope};
use crate::costs::{month_of, pricing_of, Card, RowProblem, CURRENCY, SHIPPED};
use crate::domain::*;
use crate::store::{Store, StoreError};

/// The id of a workspace's uploaded rate card (one per workspace).
const CARD_ID: &str = "current";

/// How long a workspace's rate card and teams are reused before they are read again (an
/// upload through this server replaces its cache at once).
const FRESH: Duration = Duration::from_secs(30);

/// The longest a cost report may span.
pub const MAX_REPORT_MONTHS: usize = 36;

/// Why a rate card upload was refused.
#[derive(Debug, thiserror::Error)]
pub enum CostError {
    #[error("the rate card has {} bad lines", .0.len())]
    BadCard(Vec<RowProblem>),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A workspace's rate card, compiled, and where it came from.
struct Loaded {
    card: Card,
    origin: &'static str,
    updated_at: Option<i64>,
    updated_by: Option<String>,
    read: Instant,
}

#[derive(Clone)]
pub struct Costs {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    shipped: Card,
    cards: DashMap<TenantId, Arc<Loaded>>,
    teams: DashMap<TenantId, (Instant, Arc<[TeamRecord]>)>,
    /// Billed messages so far by (tenant, month, country, category): the volume a tiered price
    /// is chosen by. Counted from the ledger the first time a month is priced after a start.
    volumes: DashMap<(TenantId, String, String, PriceCategory), u64>,
    counted: DashMap<(TenantId, String), ()>,
    /// One month counted at a time (the count reads the month's ledger).
    counting: tokio::sync::Mutex<()>,
}

impl Costs {
    pub fn new(store: Arc<dyn Store>) -> Self {
        let shipped = Card::parse(SHIPPED).expect("the shipped rate card is checked by its tests");
        Self {
            inner: Arc::new(Inner {
                store,
                shipped,
                cards: DashMap::new(),
                teams: DashMap::new(),
                volumes: DashMap::new(),
                counted: DashMap::new(),
                counting: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// The ledger lines of a webhook's priced statuses that have none yet, to be stored with
    /// them. A status without a `pricing` object Meta documents is not priced.
    pub async fn charges(
        &self,
        events: &[(TenantId, InboundEvent)],
    ) -> Result<Vec<(TenantId, InboundEvent)>, StoreError> {
        let mut lines: Vec<(TenantId, InboundEvent)> = Vec::new();
        for (tenant, event) in events {
            let InboundEvent::Status(status) = event else {
                continue;
            };
            let Some(pricing) = pricing_of(&status.raw) else {
                continue;
            };
            let seen = lines.iter().any(|(t, e)| {
                t == tenant && matches!(e, InboundEvent::Charge(c) if c.wamid == status.wamid)
            });
            if seen
                || self
                    .inner
                    .store
                    .get_charge(tenant, &status.wamid)
                    .await?
                    .is_some()
            {
                continue;
            }
            let day = utc_day(status.at_ms);
            let month = month_of(day);
            let country = country_of(status.recipient.as_str()).unwrap_or_default();
            let (sender, campaign) = match &status.callback {
                Some(id) => match self
                    .inner
                    .store
                    .get_send(tenant, &SendId::new(id.clone()))
                    .await?
                {
                    Some(send) if send.tenant == *tenant => {
                        let campaign = send.campaign().map(str::to_owned);
                        (Some(send.author), campaign)
                    }
                    _ => (None, None),
                },
                None => (None, None),
            };
            let team = self
                .teams(tenant)
                .await?
                .iter()
                .filter(|t| t.numbers.contains(&status.number))
                .map(|t| t.id.clone())
                .min();
            let price = if pricing.pricing_type.billed() {
                let volume = self
                    .next_volume(tenant, &month, &country, pricing.category)
                    .await?;
                self.card(tenant)
                    .await?
                    .card
                    .price(&country, pricing.category, day, volume)
            } else {
                Some(Decimal::ZERO)
            };
            lines.push((
                tenant.clone(),
                InboundEvent::Charge(ChargeRecord {
                    tenant: tenant.clone(),
                    wamid: status.wamid.clone(),
                    at_ms: status.at_ms,
                    month,
                    number: status.number.clone(),
                    country,
                    category: pricing.category,
                    pricing_type: pricing.pricing_type,
                    model: pricing.model,
                    team,
                    sender,
                    campaign,
                    price,
                }),
            ));
        }
        Ok(lines)
    }

    /// The volume of this billed message (0 for the month's first of its country and category),
    /// counting the month's ledger once after a start.
    async fn next_volume(
        &self,
        tenant: &TenantId,
        month: &str,
        country: &str,
        category: PriceCategory,
    ) -> Result<u64, StoreError> {
        let month_key = (tenant.clone(), month.to_owned());
        if !self.inner.counted.contains_key(&month_key) {
            let _one = self.inner.counting.lock().await;
            if !self.inner.counted.contains_key(&month_key) {
                let mut cursor = None;
                loop {
                    let page = self
                        .inner
                        .store
                        .charges(tenant, month, cursor.as_ref(), crate::store::MAX_PAGE)
                        .await?;
                    for c in &page.items {
                        if c.pricing_type.billed() {
                            *self
                                .inner
                                .volumes
                                .entry((
                                    tenant.clone(),
                                    month.to_owned(),
                                    c.country.clone(),
                                    c.category,
                                ))
                                .or_default() += 1;
                        }
                    }
                    match page.next {
                        Some(next) => cursor = Some(next),
                        None => break,
                    }
                }
                self.inner.counted.insert(month_key, ());
            }
        }
        let mut volume = self
            .inner
            .volumes
            .entry((
                tenant.clone(),
                month.to_owned(),
                country.to_owned(),
                category,
            ))
            .or_default();
        let this = *volume;
        *volume += 1;
        Ok(this)
    }

    /// What `messages` more billed messages of `category` to `country` would cost at today's
    /// prices, after this month's volume so far: the amount, and how many the card does not
    /// price.
    pub async fn quote(
        &self,
        tenant: &TenantId,
        country: &str,
        category: PriceCategory,
        messages: u64,
        day: Date,
    ) -> Result<(Decimal, u64), StoreError> {
        let month = month_of(day);
        // Counted like the ledger's next line would be, without taking a place.
        let first = self.next_volume(tenant, &month, country, category).await?;
        if let Some(mut v) =
            self.inner
                .volumes
                .get_mut(&(tenant.clone(), month, country.to_owned(), category))
        {
            *v -= 1;
        }
        let card = self.card(tenant).await?;
        let (mut amount, mut unpriced) = (Decimal::ZERO, 0);
        for i in 0..messages {
            match card.card.price(country, category, day, first + i) {
                Some(p) => amount += p,
                None => unpriced += 1,
            }
        }
        Ok((amount, unpriced))
    }

    async fn teams(&self, tenant: &TenantId) -> Result<Arc<[TeamRecord]>, StoreError> {
        if let Some(t) = self.inner.teams.get(tenant) {
            if t.0.elapsed() < FRESH {
                return Ok(Arc::clone(&t.1));
            }
        }
        let teams: Arc<[TeamRecord]> = self.inner.store.list_teams(tenant).await?.into();
        self.inner
            .teams
            .insert(tenant.clone(), (Instant::now(), Arc::clone(&teams)));
        Ok(teams)
    }

    /// The workspace's rate card: its upload, else the shipped one.
    async fn card(&self, tenant: &TenantId) -> Result<Arc<Loaded>, StoreError> {
        if let Some(c) = self.inner.cards.get(tenant) {
            if c.read.elapsed() < FRESH {
                return Ok(Arc::clone(&c));
            }
        }
        let loaded = match self
            .inner
            .store
            .get_item(tenant, ItemKind::RateCard, CARD_ID)
            .await?
        {
            Some(item) => {
                let doc: StoredCard = serde_json::from_str(&item.body)
                    .map_err(|e| StoreError::Corrupt(format!("rate card: {e}")))?;
                let card = Card::parse(&doc.text).map_err(|p| {
                    StoreError::Corrupt(format!("stored rate card: {} bad lines", p.len()))
                })?;
                Loaded {
                    card,
                    origin: "uploaded",
                    updated_at: Some(item.updated_at),
                    updated_by: Some(item.updated_by),
                    read: Instant::now(),
                }
            }
            None => Loaded {
                card: self.inner.shipped.clone(),
                origin: "shipped",
                updated_at: None,
                updated_by: None,
                read: Instant::now(),
            },
        };
        let loaded = Arc::new(loaded);
        self.inner.cards.insert(tenant.clone(), Arc::clone(&loaded));
        Ok(loaded)
    }

    /// `GET costs/rate-card`.
    pub async fn rate_card(&self, scope: &TenantScope) -> Result<RateCard, StoreError> {
        let loaded = self.card(scope.tenant()).await?;
        Ok(loaded
            .card
            .wire(loaded.origin, loaded.updated_at, loaded.updated_by.clone()))
    }

    /// `PUT costs/rate-card`: replaces the workspace's card with a CSV file, checked whole (a
    /// bad line refuses the file, with every bad line's reason), audited with the card's source
    /// and size before and after. Lines already in the ledger keep the price they were booked at.
    pub async fn replace_rate_card(
        &self,
        principal: &Principal,
        scope: &TenantScope,
        text: &str,
    ) -> Result<RateCard, CostError> {
        let card = Card::parse(text).map_err(CostError::BadCard)?;
        let before = self.card(scope.tenant()).await?;
        let current = scope.automation_item(ItemKind::RateCard, CARD_ID).await?;
        let now = now_ms();
        let item = AutomationItem {
            tenant: scope.tenant().clone(),
            kind: ItemKind::RateCard,
            id: CARD_ID.to_owned(),
            version: current.as_ref().map_or(1, |c| c.version + 1),
            updated_at: now,
            updated_by: principal.actor_id(),
            body: serde_json::to_string(&StoredCard {
                text: text.to_owned(),
            })
            .map_err(|e| StoreError::Invalid(e.to_string()))?,
        };
        let mut audit = principal.audit("rate_card.replace", Some("rate_card".into()), "ok");
        audit.before = Some(summary(&before.card, before.origin));
        audit.after = Some(summary(&card, "uploaded"));
        scope.put_automation_item(item, audit).await?;
        let loaded = Arc::new(Loaded {
            card,
            origin: "uploaded",
            updated_at: Some(now),
            updated_by: Some(principal.actor_id()),
            read: Instant::now(),
        });
        self.inner
            .cards
            .insert(scope.tenant().clone(), Arc::clone(&loaded));
        Ok(loaded
            .card
            .wire(loaded.origin, loaded.updated_at, loaded.updated_by.clone()))
    }

    /// Every ledger line of the days `[from, to)` (UTC), month by month.
    pub async fn lines(
        &self,
        scope: &TenantScope,
        from: Date,
        to: Date,
    ) -> Result<Vec<ChargeRecord>, CostError> {
        let months = months_between(from, to)?;
        let (start, end) = (start_ms(from), start_ms(to));
        let mut all = Vec::new();
        for month in months {
            let mut cursor = None;
            loop {
                let page = scope
                    .charges(&month, cursor.as_ref(), crate::store::MAX_PAGE)
                    .await?;
                all.extend(
                    page.items
                        .into_iter()
                        .filter(|c| (start..end).contains(&c.at_ms)),
                );
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        all.sort_by(|a, b| (a.at_ms, &a.wamid).cmp(&(b.at_ms, &b.wamid)));
        Ok(all)
    }

    /// `GET costs?group_by=&from=&to=`: the ledger's lines of `[from, to)` summed by a group.
    pub async fn report(
        &self,
        scope: &TenantScope,
        group_by: CostGroup,
        from: Date,
        to: Date,
    ) -> Result<CostReport, CostError> {
        let lines = self.lines(scope, from, to).await?;
        let mut groups: BTreeMap<String, Sum> = BTreeMap::new();
        let mut total = Sum::default();
        for c in &lines {
            let key = match group_by {
                CostGroup::Month => c.month.clone(),
                CostGroup::Number => c.number.as_str().to_owned(),
                CostGroup::Team => c
                    .team
                    .as_ref()
                    .map(|t| t.as_str().to_owned())
                    .unwrap_or_default(),
                CostGroup::Campaign => c.campaign.clone().unwrap_or_default(),
                CostGroup::Country => c.country.clone(),
                CostGroup::Category => c.category.as_str().to_owned(),
            };
            groups.entry(key).or_default().add(c);
            total.add(c);
        }
        let mut lines: Vec<CostLine> = groups.into_iter().map(|(k, s)| s.line(k)).collect();
        // Numbers and teams by the names people know them by (campaigns: the caller's, which
        // owns them).
        let labels: HashMap<String, String> = match group_by {
            CostGroup::Number => scope
                .numbers()
                .await?
                .into_iter()
                .map(|n| {
                    let dialled = format!("+{}", n.display_phone_number);
                    (n.phone_number_id.as_str().to_owned(), dialled)
                })
                .collect(),
            CostGroup::Team => self
                .teams(scope.tenant())
                .await?
                .iter()
                .map(|t| (t.id.as_str().to_owned(), t.name.clone()))
                .collect(),
            _ => HashMap::new(),
        };
        for line in &mut lines {
            line.label = labels.get(&line.key).cloned();
        }
        Ok(CostReport {
            group_by,
            from: from.to_string(),
            to: to.to_string(),
            currency: CURRENCY.to_owned(),
            lines,
            total: total.line(String::new()),
        })
    }
}

/// What the automation item of an uploaded card holds: the file as uploaded.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredCard {
    text: String,
}

/// The audit's view of a card: its source and size, not every price.
fn summary(card: &Card, origin: &str) -> String {
    serde_json::json!({
        "origin": origin,
        "source": card.source,
        "rows": card.rows.len(),
    })
    .to_string()
}

#[derive(Default)]
struct Sum {
    messages: u64,
    billed: u64,
    unpriced: u64,
    amount: Decimal,
}

impl Sum {
    fn add(&mut self, c: &ChargeRecord) {
        self.messages += 1;
        if c.pricing_type.billed() {
            self.billed += 1;
            match c.price {
                Some(p) => self.amount += p,
                None => self.unpriced += 1,
            }
        }
    }

    fn line(self, key: String) -> CostLine {
        CostLine {
            key,
            messages: self.messages,
            billed: self.billed,
            unpriced: self.unpriced,
            amount: self.amount.normalize().to_string(),
            label: None,
        }
    }
}

/// The UTC day of a moment.
pub fn utc_day(at_ms: UnixMillis) -> Date {
    instant(at_ms).to_zoned(TimeZone::UTC).date()
}

/// Midnight UTC of a day, in Unix ms.
fn start_ms(day: Date) -> UnixMillis {
    day.to_zoned(TimeZone::UTC)
        .map(|z| z.timestamp().as_millisecond())
        .unwrap_or(i64::MAX)
}

/// The months a day range touches (`to` exclusive), at most [`MAX_REPORT_MONTHS`].
fn months_between(from: Date, to: Date) -> Result<Vec<String>, CostError> {
    if to <= from {
        return Err(CostError::Invalid {
            field: "to".into(),
            message: format!("`to` ({to}) must be after `from` ({from})"),
        });
    }
    let mut months = Vec::new();
    let mut day = from.first_of_month();
    while day < to {
        months.push(month_of(day));
        if months.len() > MAX_REPORT_MONTHS {
            return Err(CostError::Invalid {
                field: "to".into(),
                message: format!("a report spans at most {MAX_REPORT_MONTHS} months"),
            });
        }
        day = day
            .checked_add(jiff::Span::new().months(1))
            .map_err(|_| CostError::Invalid {
                field: "to".into(),
                message: "out of range".into(),
            })?;
    }
    Ok(months)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_of_a_range() {
        let d = |s: &str| s.parse::<Date>().unwrap();
        assert_eq!(
            months_between(d("2026-11-15"), d("2027-01-01")).unwrap(),
            vec!["2026-11", "2026-12"]
        );
        assert_eq!(
            months_between(d("2026-11-01"), d("2026-11-02")).unwrap(),
            vec!["2026-11"]
        );
        assert!(months_between(d("2026-11-02"), d("2026-11-02")).is_err());
        assert!(months_between(d("2020-01-01"), d("2026-01-01")).is_err());
        assert_eq!(utc_day(1_764_547_199_999).to_string(), "2025-11-30");
        assert_eq!(start_ms(d("2025-12-01")), 1_764_547_200_000);
    }
}
