//! What a message costs, decided without I/O: the rate card read from CSV and checked whole,
//! looked up by country, category, day and monthly volume; the `pricing` object of a status
//! webhook read in both its shapes (before v24, with `conversation`; from v24, without).
//!
//! Owns: the rate card's format and rules, and money arithmetic (`rust_decimal`, never floats).
//! Must not: read the store or the clock (the day is given), or know who sent a message.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use jiff::civil::Date;
use rust_decimal::Decimal;
use serde_json::Value;
use switchboard_shared::costs::{PriceCategory, PricingType, RateCard, RateCardRow};

/// The rate card shipped in the binary (its first comment line says where the prices are from).
pub const SHIPPED: &str = include_str!("../data/rate-card.csv");

/// The most rows a card may have (about 250 countries × 7 categories × a few periods and bands).
pub const MAX_ROWS: usize = 50_000;

/// Every rate card's currency.
pub const CURRENCY: &str = "USD";

/// Why a line of a rate card was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowProblem {
    /// 1-based line of the file (comments and the header count).
    pub line: u64,
    pub reason: String,
}

/// A rate card checked and ready for lookups.
#[derive(Clone, Debug)]
pub struct Card {
    pub source: String,
    pub rows: Vec<RateCardRow>,
    /// By (country, category): the priced bands, each (from, to, volume_from, volume_to, price).
    index: BTreeMap<(String, PriceCategory), Vec<Band>>,
}

#[derive(Clone, Debug)]
struct Band {
    from: Date,
    to: Option<Date>,
    volume_from: u64,
    volume_to: Option<u64>,
    price: Decimal,
    line: u64,
}

impl Band {
    fn covers(&self, day: Date, volume: u64) -> bool {
        self.from <= day
            && self.to.is_none_or(|to| day < to)
            && self.volume_from <= volume
            && self.volume_to.is_none_or(|to| volume < to)
    }

    fn overlaps(&self, other: &Band) -> bool {
        let days =
            self.from < other.to.unwrap_or(Date::MAX) && other.from < self.to.unwrap_or(Date::MAX);
        let volumes = self.volume_from < other.volume_to.unwrap_or(u64::MAX)
            && other.volume_from < self.volume_to.unwrap_or(u64::MAX);
        days && volumes
    }
}

/// The columns of a rate card file, in this order.
pub const HEADER: [&str; 7] = [
    "effective_from",
    "effective_to",
    "country",
    "category",
    "volume_from",
    "volume_to",
    "price",
];

impl Card {
    /// Reads a rate card file: `#` comment lines first (the first one is the card's source),
    /// then the header ([`HEADER`]), then one price per line. Refused whole, with every bad
    /// line's reason, when any line is wrong: a date that is not `YYYY-MM-DD` or ends before it
    /// starts, a country that is not ISO 3166 alpha-2 or `*`, an unknown category, a volume band
    /// that ends before it starts, a price that is negative or not a decimal, or two prices for
    /// the same country, category, days and volume.
    pub fn parse(text: &str) -> Result<Card, Vec<RowProblem>> {
        let mut problems = Vec::new();
        let mut source = String::new();
        let mut skipped = 0u64;
        for line in text.lines() {
            let trimmed = line.trim();
            if let Some(comment) = trimmed.strip_prefix('#') {
                if source.is_empty() {
                    source = comment.trim().to_owned();
                }
                skipped += 1;
            } else if trimmed.is_empty() {
                skipped += 1;
            } else {
                break;
            }
        }
        let body: String = text
            .lines()
            .skip(skipped as usize)
            .collect::<Vec<_>>()
            .join("\n");
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .trim(csv::Trim::All)
            .flexible(true)
            .from_reader(body.as_bytes());
        let header_line = skipped + 1;
        match reader.headers() {
            Ok(h) => {
                let names: Vec<String> = h.iter().map(|s| s.to_ascii_lowercase()).collect();
                if names != HEADER {
                    return Err(vec![RowProblem {
                        line: header_line,
                        reason: format!("the header must be `{}`", HEADER.join(",")),
                    }]);
                }
            }
            Err(e) => {
                return Err(vec![RowProblem {
                    line: header_line,
                    reason: format!("no header: {e}"),
                }])
            }
        }
        let mut rows = Vec::new();
        let mut index: BTreeMap<(String, PriceCategory), Vec<Band>> = BTreeMap::new();
        for (i, record) in reader.records().enumerate() {
            // Where the record starts in the file (a quoted field may span lines).
            let position = match &record {
                Ok(r) => r.position().map(|p| p.line()),
                Err(e) => e.position().map(|p| p.line()),
            };
            let line = position.map_or(header_line + 1 + i as u64, |l| skipped + l);
            if rows.len() >= MAX_ROWS {
                problems.push(RowProblem {
                    line,
                    reason: format!("a rate card has at most {MAX_ROWS} prices"),
                });
                break;
            }
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    problems.push(RowProblem {
                        line,
                        reason: format!("not a CSV line: {e}"),
                    });
                    continue;
                }
            };
            match read_row(&record) {
                Ok((row, band)) => {
                    let bands = index
                        .entry((row.country.clone(), row.category))
                        .or_default();
                    if let Some(other) = bands.iter().find(|b| b.overlaps(&band)) {
                        problems.push(RowProblem {
                            line,
                            reason: format!(
                                "overlaps line {} ({} {}: the same days and volumes priced twice)",
                                other.line,
                                row.country,
                                row.category.as_str()
                            ),
                        });
                        continue;
                    }
                    bands.push(Band { line, ..band });
                    rows.push(row);
                }
                Err(reason) => problems.push(RowProblem { line, reason }),
            }
        }
        if problems.is_empty() && rows.is_empty() {
            problems.push(RowProblem {
                line: header_line,
                reason: "the rate card has no prices".into(),
            });
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Card {
            source,
            rows,
            index,
        })
    }

    /// The price of one message of `category` to `country` on `day`, the `volume`-th (from 0)
    /// of its category to that country this month; the card's `*` row when the country has
    /// none; `None` when neither prices it.
    pub fn price(
        &self,
        country: &str,
        category: PriceCategory,
        day: Date,
        volume: u64,
    ) -> Option<Decimal> {
        let find = |country: &str| {
            self.index
                .get(&(country.to_owned(), category))?
                .iter()
                .find(|b| b.covers(day, volume))
                .map(|b| b.price)
        };
        find(country).or_else(|| find("*"))
    }

    /// The card on the wire.
    pub fn wire(
        &self,
        origin: &str,
        updated_at: Option<i64>,
        updated_by: Option<String>,
    ) -> RateCard {
        let countries: BTreeSet<&str> = self
            .rows
            .iter()
            .map(|r| r.country.as_str())
            .filter(|c| *c != "*")
            .collect();
        RateCard {
            source: self.source.clone(),
            origin: origin.to_owned(),
            updated_at,
            updated_by,
            currency: CURRENCY.to_owned(),
            countries: countries.len(),
            rows: self.rows.clone(),
        }
    }
}

fn read_row(record: &csv::StringRecord) -> Result<(RateCardRow, Band), String> {
    if record.len() != HEADER.len() {
        return Err(format!(
            "{} fields where the header has {}",
            record.len(),
            HEADER.len()
        ));
    }
    let field = |i: usize| record.get(i).unwrap_or("").trim();
    let date = |i: usize| -> Result<Date, String> {
        Date::from_str(field(i))
            .map_err(|_| format!("{} `{}` is not a date (YYYY-MM-DD)", HEADER[i], field(i)))
    };
    let from = date(0)?;
    let to = if field(1).is_empty() {
        None
    } else {
        let to = date(1)?;
        if to <= from {
            return Err(format!(
                "effective_to {to} is not after effective_from {from}"
            ));
        }
        Some(to)
    };
    let country = field(2).to_ascii_uppercase();
    if country != "*" && crate::domain::contact::region(&country).is_none() {
        return Err(format!(
            "country `{}` is not an ISO 3166 alpha-2 code (or `*` for every other country)",
            field(2)
        ));
    }
    let category = PriceCategory::parse(field(3)).ok_or_else(|| {
        format!(
            "category `{}` is not one of {}",
            field(3),
            PriceCategory::ALL.map(|c| c.as_str()).join(", ")
        )
    })?;
    let volume = |i: usize| -> Result<Option<u64>, String> {
        if field(i).is_empty() {
            return Ok(None);
        }
        field(i)
            .parse()
            .map(Some)
            .map_err(|_| format!("{} `{}` is not a whole number", HEADER[i], field(i)))
    };
    let volume_from = volume(4)?.unwrap_or(0);
    let volume_to = volume(5)?;
    if volume_to.is_some_and(|to| to <= volume_from) {
        return Err(format!(
            "volume_to {} is not above volume_from {volume_from}",
            volume_to.unwrap_or(0)
        ));
    }
    let price = Decimal::from_str_exact(field(6))
        .map_err(|_| format!("price `{}` is not a decimal number", field(6)))?;
    if price.is_sign_negative() && !price.is_zero() {
        return Err(format!("price {price} is negative"));
    }
    let row = RateCardRow {
        effective_from: from.to_string(),
        effective_to: to.map(|d| d.to_string()),
        country,
        category,
        volume_from,
        volume_to,
        price: price.normalize().to_string(),
    };
    let band = Band {
        from,
        to,
        volume_from,
        volume_to,
        price,
        line: 0,
    };
    Ok((row, band))
}

/// What a status webhook's `pricing` (and, before v24, `conversation`) says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pricing {
    pub category: PriceCategory,
    pub pricing_type: PricingType,
    /// `PMP` or `CBP`.
    pub model: String,
}

/// Reads the `pricing` object of a status (the raw `statuses[]` entry), if it has one Meta's
/// documentation describes. `type` is newer than `billable`: a status with only `billable`
/// (older webhooks) reads as `regular` or `free_customer_service`.
pub fn pricing_of(raw_status: &str) -> Option<Pricing> {
    let status: Value = serde_json::from_str(raw_status).ok()?;
    let pricing = status.get("pricing")?;
    let category = PriceCategory::parse(pricing.get("category")?.as_str()?)?;
    let pricing_type = match pricing.get("type").and_then(Value::as_str) {
        Some(t) => PricingType::parse(t)?,
        None => match pricing.get("billable").and_then(Value::as_bool) {
            Some(false) => PricingType::FreeCustomerService,
            _ => PricingType::Regular,
        },
    };
    let model = pricing
        .get("pricing_model")
        .and_then(Value::as_str)
        .unwrap_or("PMP")
        .to_owned();
    Some(Pricing {
        category,
        pricing_type,
        model,
    })
}

/// `2026-11` for a day.
pub fn month_of(day: Date) -> String {
    format!("{:04}-{:02}", day.year(), day.month())
}

#[cfg(test)]
mod tests;
