//! Pre-flight: the template as Meta has it, the plan a campaign is judged by, each contact's
//! fate (sent, or skipped and why), the walk over the audience, and the cost and time it adds
//! up to. Nothing here sends or writes, except the walk when the runner asks it to write the
//! recipients' rows.

use super::*;

impl Campaigns {
    /// The template as the numbers' account has it: approved, with as many values as the
    /// campaign gives. Answers its category and body.
    pub(super) async fn template(
        &self,
        tenant: &TenantId,
        input: &CampaignInput,
    ) -> Result<(PriceCategory, String), CampaignError> {
        let mut found = None;
        for number in &input.numbers {
            let entry = self.inner.outbound.entry(tenant, number).map_err(|_| {
                invalid("numbers", format!("no number `{number}` in this workspace"))
            })?;
            let templates = self.inner.outbound.templates(&entry).await.map_err(|e| match e {
                OutboundError::NoWaba => invalid(
                    "numbers",
                    format!("`{number}` has no WhatsApp Business Account configured, so no templates"),
                ),
                e => CampaignError::Unavailable(format!("could not read the templates: {e}")),
            })?;
            let same_name: Vec<_> = templates
                .iter()
                .filter(|t| t.name == input.template.name)
                .collect();
            let Some(t) = same_name
                .iter()
                .find(|t| t.language == input.template.language)
            else {
                let languages: Vec<&str> = same_name.iter().map(|t| t.language.as_str()).collect();
                return Err(invalid(
                    "template",
                    if languages.is_empty() {
                        format!("`{number}` has no template `{}`", input.template.name)
                    } else {
                        format!(
                            "`{}` is not in `{}` (it is in {})",
                            input.template.name,
                            input.template.language,
                            languages.join(", ")
                        )
                    },
                ));
            };
            if t.status != "APPROVED" {
                return Err(invalid(
                    "template",
                    format!(
                        "`{}` in `{}` is {}, not approved: only approved templates can be sent",
                        t.name,
                        t.language,
                        t.status.to_lowercase()
                    ),
                ));
            }
            let shown = crate::connector::template_send::describe(t);
            let wanted = shown.params as usize;
            if wanted != input.variables.len() {
                return Err(invalid(
                    "variables",
                    format!(
                        "`{}` takes {wanted} values{}; the campaign gives {}",
                        t.name,
                        if shown.names.is_empty() {
                            String::new()
                        } else {
                            format!(" ({}, in that order)", shown.names.join(", "))
                        },
                        input.variables.len()
                    ),
                ));
            }
            // The header's and buttons' values are the campaign's own: checked now, with
            // stand-ins for the body's, so a missing one stops the campaign before it starts.
            let stand_ins = vec!["x".to_owned(); wanted];
            let trial = crate::connector::template_send::campaign_input(
                std::slice::from_ref(*t),
                &input.template,
                stand_ins,
            );
            crate::connector::template_send::build(t, trial)
                .map_err(|reason| invalid("template", reason))?;
            let category = PriceCategory::parse(&t.category).unwrap_or(PriceCategory::Marketing);
            found = Some((category, t.body().to_owned()));
        }
        found.ok_or_else(|| invalid("numbers", "no number"))
    }

    pub(super) async fn plan(
        &self,
        tenant: &TenantId,
        doc: &CampaignDoc,
        id: Option<&CampaignId>,
    ) -> Result<Plan, CampaignError> {
        let (category, body) = self.template(tenant, &doc.input).await?;
        let recent = match doc.input.frequency_cap_days {
            Some(days) => {
                self.reached_since(tenant, now_ms() - i64::from(days) * 86_400_000, id)
                    .await?
            }
            None => HashSet::new(),
        };
        let tiers = doc
            .input
            .numbers
            .iter()
            .map(|n| {
                let mps = self
                    .inner
                    .outbound
                    .entry(tenant, n)
                    .map_or(1, |e| e.mps.max(1));
                (n.clone(), mps)
            })
            .collect();
        Ok(Plan {
            input: doc.input.clone(),
            retry_of: doc.retry_of.clone(),
            category,
            body,
            recent,
            tiers,
        })
    }

    /// Who other campaigns sent to since `since` (the frequency cap).
    pub(super) async fn reached_since(
        &self,
        tenant: &TenantId,
        since: i64,
        except: Option<&CampaignId>,
    ) -> Result<HashSet<String>, CampaignError> {
        let mut reached = HashSet::new();
        for item in self
            .inner
            .store
            .list_items(tenant, ItemKind::Campaign)
            .await?
        {
            if except.is_some_and(|e| e.as_str() == item.id) {
                continue;
            }
            let Ok(doc) = read_doc(&item) else { continue };
            if doc.started_at.is_none_or(|at| at < since)
                && doc.finished_at.is_none_or(|at| at < since)
            {
                continue;
            }
            let campaign = CampaignId::new(item.id.clone());
            let mut cursor = None;
            loop {
                let page = self
                    .inner
                    .store
                    .recipients(tenant, &campaign, cursor.as_ref(), PAGE)
                    .await?;
                for r in page.items {
                    if r.state.rank() >= RecipientState::Sent.rank() && r.updated_at >= since {
                        reached.insert(r.wa_id.into_string());
                    }
                }
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        Ok(reached)
    }

    /// A contact's fate in a campaign.
    pub(super) async fn fate(
        &self,
        tenant: &TenantId,
        plan: &Plan,
        contact: &ContactRecord,
    ) -> Result<Fate, StoreError> {
        let Some(phone) = contact.phone.as_deref().filter(|p| is_phone_wa_id(p)) else {
            return Ok(Fate::Skip(SkipReason::InvalidNumber));
        };
        if contact.marketing == Marketing::OptedOut {
            return Ok(Fate::Skip(SkipReason::OptedOut));
        }
        if plan.category == PriceCategory::Marketing && phone.starts_with('1') {
            return Ok(Fate::Skip(SkipReason::UsMarketing));
        }
        if plan.recent.contains(phone) {
            return Ok(Fate::Skip(SkipReason::FrequencyCap));
        }
        let Some(params) = values(&plan.input.variables, contact) else {
            return Ok(Fate::Skip(SkipReason::MissingVariable));
        };
        let wa_id = WaId::new(phone.to_owned());
        let number = pick_number(&plan.tiers, &wa_id);
        if !params.is_empty() {
            let parts: Vec<(String, &str)> = params
                .iter()
                .enumerate()
                .map(|(i, p)| (format!("variables[{i}]"), p.as_str()))
                .collect();
            let matches = self
                .inner
                .filter
                .scan(tenant, Some(&number), &parts)
                .await?;
            if Verdict::of(&matches) == Verdict::Block {
                return Ok(Fate::Skip(SkipReason::BlockedByFilter));
            }
        }
        Ok(Fate::Send {
            country: contact.country.clone().unwrap_or_default(),
            wa_id,
            number,
            params,
        })
    }

    /// Walks the audience (for a retry, the failed recipients of the campaign it retries):
    /// `each` gets every contact and its fate.
    pub(super) async fn walk(
        &self,
        tenant: &TenantId,
        plan: &Plan,
        mut each: impl FnMut(&ContactRecord, Fate) -> Vec<RecipientRecord>,
        write: bool,
    ) -> Result<u64, CampaignError> {
        if let Some(original) = &plan.retry_of {
            let mut cursor = None;
            let mut seen = 0u64;
            loop {
                let page = self
                    .inner
                    .store
                    .recipients(tenant, original, cursor.as_ref(), PAGE)
                    .await?;
                let mut rows = Vec::new();
                for r in page
                    .items
                    .iter()
                    .filter(|r| r.state == RecipientState::Failed)
                {
                    let Some(contact) = self.inner.store.get_contact(tenant, &r.contact).await?
                    else {
                        continue;
                    };
                    seen += 1;
                    let fate = self.fate(tenant, plan, &contact).await?;
                    rows.extend(each(&contact, fate));
                }
                if write && !rows.is_empty() {
                    self.inner.store.put_recipients(&rows).await?;
                }
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => return Ok(seen),
                }
            }
        }
        let filter = match (&plan.input.audience.segment, &plan.input.audience.tag) {
            (Some(segment), _) => {
                self.inner
                    .store
                    .get_segment(tenant, segment)
                    .await?
                    .ok_or_else(|| invalid("audience.segment", format!("no segment `{segment}`")))?
                    .filter
            }
            (None, Some(tag)) => Filter::Tag(tag.clone()),
            (None, None) => return Err(invalid("audience", "no audience")),
        };
        let scope = TenantScope::new(Arc::clone(&self.inner.store), tenant.clone());
        let open = scope.open_customers().await?;
        let now = now_ms();
        let mut cursor = None;
        let mut seen = 0u64;
        loop {
            let page = self
                .inner
                .store
                .segment_members(tenant, &filter, now, &open, cursor.as_ref(), PAGE)
                .await?;
            let mut rows = Vec::new();
            for contact in &page.items {
                seen += 1;
                let fate = self.fate(tenant, plan, contact).await?;
                rows.extend(each(contact, fate));
            }
            if write && !rows.is_empty() {
                self.inner.store.put_recipients(&rows).await?;
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        Ok(seen)
    }

    /// `POST campaigns/{id}/preflight`: who would get it, what it would cost and how long it
    /// takes, without sending or writing anything.
    pub async fn preflight(
        &self,
        scope: &TenantScope,
        id: &CampaignId,
    ) -> Result<Preflight, CampaignError> {
        let (_, doc) = self.load(scope.tenant(), id).await?;
        self.preflight_of(scope.tenant(), &doc, Some(id)).await
    }

    pub(super) async fn preflight_of(
        &self,
        tenant: &TenantId,
        doc: &CampaignDoc,
        id: Option<&CampaignId>,
    ) -> Result<Preflight, CampaignError> {
        let plan = self.plan(tenant, doc, id).await?;
        let mut skipped: BTreeMap<SkipReason, u64> = BTreeMap::new();
        let mut by_country: BTreeMap<String, u64> = BTreeMap::new();
        let mut sample = None;
        let audience = self
            .walk(
                tenant,
                &plan,
                |_, fate| {
                    match fate {
                        Fate::Skip(reason) => *skipped.entry(reason).or_default() += 1,
                        Fate::Send {
                            wa_id,
                            params,
                            country,
                            ..
                        } => {
                            *by_country.entry(country).or_default() += 1;
                            if sample.is_none() {
                                sample = Some(Preview {
                                    to: switchboard_shared::api::mask_phone(wa_id.as_str()),
                                    text: render(&plan.body, &params),
                                });
                            }
                        }
                    }
                    Vec::new()
                },
                false,
            )
            .await?;
        let eligible: u64 = by_country.values().sum();
        // With a local window, recipients by the zone it is read in, for the ETA.
        let by_zone = doc.input.local_window.as_ref().map(|_| {
            let fallback = doc.input.time_zone.as_deref().unwrap_or("UTC");
            let mut by_zone: BTreeMap<String, u64> = BTreeMap::new();
            for (country, n) in &by_country {
                *by_zone
                    .entry(super::window::zone_of_country(country, fallback))
                    .or_default() += n;
            }
            by_zone
        });
        let day = utc_day(now_ms());
        let (mut cost, mut total, mut unpriced) = (Vec::new(), Decimal::ZERO, 0);
        for (country, messages) in by_country {
            let (amount, missing) = self
                .inner
                .costs
                .quote(tenant, &country, plan.category, messages, day)
                .await?;
            total += amount;
            unpriced += missing;
            cost.push(CostEstimate {
                country,
                category: plan.category,
                messages,
                amount: amount.normalize().to_string(),
                unpriced: missing,
            });
        }
        let rate = self.rate(tenant, &doc.input, eligible);
        let eta_seconds = match (&doc.input.local_window, by_zone) {
            (Some(window), Some(by_zone)) => {
                let start =
                    crate::domain::instant(doc.start_at_ms.unwrap_or_else(now_ms).max(now_ms()));
                let groups: Vec<(String, u64)> = by_zone.into_iter().collect();
                super::window::eta_seconds(window, &groups, rate, start).unwrap_or(31 * 86_400)
            }
            _ => (eligible as f64 / rate).ceil() as u64,
        };
        Ok(Preflight {
            audience,
            eligible,
            skipped: skipped
                .into_iter()
                .map(|(reason, count)| Skipped { reason, count })
                .collect(),
            category: plan.category.as_str().to_owned(),
            cost,
            total_cost: total.normalize().to_string(),
            unpriced,
            eta_seconds,
            rate_per_second: rate,
            sample,
        })
    }

    /// Messages a second the campaign sends its `eligible` recipients at: its cap, beneath
    /// [`TIER_SHARE`] of its numbers' tiers together, and slower still when a target duration
    /// spreads them out.
    pub(super) fn rate(&self, tenant: &TenantId, input: &CampaignInput, eligible: u64) -> f64 {
        let tiers: f64 = input
            .numbers
            .iter()
            .filter_map(|n| self.inner.outbound.entry(tenant, n).ok())
            .map(|e| f64::from(e.mps) * TIER_SHARE)
            .sum();
        pace(tiers, input.max_per_second, input.target_minutes, eligible)
    }
}

/// The pace of a campaign from its numbers' share of their tiers, its own cap and its target
/// duration over `eligible` recipients. Never slower than one message an hour (a target longer
/// than the list needs at that pace), never zero.
pub(super) fn pace(
    tiers: f64,
    cap: Option<u32>,
    target_minutes: Option<u32>,
    eligible: u64,
) -> f64 {
    let cap = cap.map_or(f64::MAX, f64::from);
    let spread = match target_minutes {
        Some(m) if m > 0 => eligible.max(1) as f64 / (f64::from(m) * 60.0),
        _ => f64::MAX,
    };
    tiers.min(cap).min(spread).max(1.0 / 3600.0)
}

#[cfg(test)]
mod pace_tests {
    use super::pace;

    #[test]
    fn a_target_duration_slows_the_pace_but_never_speeds_it_up() {
        // 6,000 recipients over 100 minutes: one a second, beneath the tiers' 200/s.
        assert_eq!(pace(200.0, None, Some(100), 6_000), 1.0);
        // A target shorter than the tiers allow changes nothing: the tiers still rule.
        assert_eq!(pace(200.0, None, Some(1), 1_000_000), 200.0);
        // The campaign's own cap still applies.
        assert_eq!(pace(200.0, Some(50), None, 10), 50.0);
        // One recipient over a week: one message an hour at the slowest.
        assert_eq!(pace(200.0, None, Some(10_080), 1), 1.0 / 3600.0);
    }
}
