//! Broadcast campaigns over REST: made, changed while a draft, checked before they start
//! (pre-flight), started, paused, resumed, cancelled, retried for the failed, and their
//! recipients listed by state.

use switchboard_shared::api::{mask_phone, Page};
use switchboard_shared::campaign::{CampaignInput, RecipientState, SenderTemplates};
use switchboard_shared::{CampaignId, ErrorCode, Permission};

use super::{json, ApiResult, Ctx, Failure};
use crate::service::campaigns::CampaignError;
use crate::store::Cursor;
use crate::web::StatusCode;

impl From<CampaignError> for Failure {
    fn from(e: CampaignError) -> Self {
        match e {
            CampaignError::NotFound => Failure::not_found("campaign"),
            CampaignError::Invalid { field, message } => Failure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidValue,
                message,
            )
            .on_field(field),
            CampaignError::Conflict(m) => Failure::conflict(ErrorCode::Conflict, m),
            CampaignError::TooMany(m) => {
                Failure::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::TooMany, m)
            }
            CampaignError::Unavailable(m) => Failure::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::StoreUnavailable,
                m,
            ),
            CampaignError::Store(e) => e.into(),
        }
    }
}

fn id(ctx: &Ctx) -> CampaignId {
    CampaignId::new(ctx.req.param(0))
}

/// `GET templates`: each of the tenant's numbers with the approved templates a campaign may
/// send from it. A number whose templates cannot be read is listed with the reason, so that
/// the wizard says why a template is missing instead of offering a shorter list.
pub async fn templates(ctx: Ctx) -> ApiResult {
    let approved_only = match ctx.req.query("status") {
        None | Some("approved") => true,
        Some("all") => false,
        Some(other) => {
            return Err(Failure::bad_request(format!(
                "status is `approved` or `all`, not `{other}`"
            )))
        }
    };
    let mut items = Vec::new();
    for n in ctx.numbers.list(ctx.scope.tenant()).await? {
        let read = match ctx.outbound.entry(ctx.scope.tenant(), &n.phone_number_id) {
            Ok(entry) => ctx.outbound.templates(&entry).await,
            Err(e) => Err(e),
        };
        let (templates, error) = match read {
            Ok(list) => (super::conversations::shown(&list, approved_only), None),
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        items.push(SenderTemplates {
            number: super::numbers::dto(n),
            templates,
            error,
        });
    }
    json(StatusCode::OK, &Page { items, next: None })
}

/// `POST templates` `{"number", "template": {...}}`: submits a new template, as Meta's API
/// takes it, to the number's WhatsApp Business Account (201 `PENDING` until Meta's status
/// webhook); a broken rule is 422 naming its field, and nothing reaches Meta.
pub async fn submit_template(ctx: Ctx) -> ApiResult {
    let body: switchboard_shared::campaign::NewTemplate = ctx.req.json()?;
    let entry = ctx.outbound.entry(ctx.scope.tenant(), &body.number)?;
    let created = match ctx.outbound.submit_template(&entry, &body.template).await {
        Ok(created) => created,
        Err(crate::service::outbound::OutboundError::Template(problem)) => {
            return Err(Failure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidValue,
                problem.to_string(),
            )
            .on_field(format!("template.{}", problem.field)));
        }
        // Meta refused it (a name already taken in that language, a rule we do not model):
        // the template is wrong, not the gateway.
        Err(crate::service::outbound::OutboundError::Api(e)) if e.code().is_some() => {
            return Err(Failure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::Rejected,
                format!("WhatsApp refused the template: {e}"),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let mut line = ctx
        .principal
        .audit(ctx.action, Some(format!("template:{}", created.id)), "ok");
    line.after = Some(body.template.to_string());
    ctx.scope.append_audit(line).await?;
    let text = |key: &str| body.template[key].as_str().unwrap_or_default().to_owned();
    json(
        StatusCode::CREATED,
        &switchboard_shared::campaign::SubmittedTemplate {
            id: created.id,
            name: text("name"),
            language: text("language"),
            status: created.status,
            category: created.category,
        },
    )
}

/// `GET campaigns`: newest first.
pub async fn list(ctx: Ctx) -> ApiResult {
    let items = ctx.campaigns.list(&ctx.scope).await?;
    json(StatusCode::OK, &Page { items, next: None })
}

/// `POST campaigns` `{"name", "template": {"name", "language"}, "audience": {"segment"|"tag"},
/// "variables", "numbers", "start_at", "time_zone", "max_per_second", "frequency_cap_days"}`:
/// a draft, `201`.
pub async fn create(ctx: Ctx) -> ApiResult {
    let input: CampaignInput = ctx.req.json()?;
    let campaign = ctx
        .campaigns
        .create(&ctx.principal, &ctx.scope, input)
        .await?;
    json(StatusCode::CREATED, &campaign)
}

/// `GET campaigns/{id}`: its state, counts and pre-flight.
pub async fn get(ctx: Ctx) -> ApiResult {
    let campaign = ctx.campaigns.get(&ctx.scope, &id(&ctx)).await?;
    json(StatusCode::OK, &campaign)
}

/// `PATCH campaigns/{id}`: a draft's fields, whole (`409` once it started).
pub async fn replace(ctx: Ctx) -> ApiResult {
    let input: CampaignInput = ctx.req.json()?;
    let campaign = ctx
        .campaigns
        .replace(&ctx.principal, &ctx.scope, &id(&ctx), input)
        .await?;
    json(StatusCode::OK, &campaign)
}

/// `POST campaigns/{id}/preflight`.
pub async fn preflight(ctx: Ctx) -> ApiResult {
    let report = ctx.campaigns.preflight(&ctx.scope, &id(&ctx)).await?;
    json(StatusCode::OK, &report)
}

/// `POST campaigns/{id}/start`.
pub async fn start(ctx: Ctx) -> ApiResult {
    let c = ctx
        .campaigns
        .start(&ctx.principal, &ctx.scope, &id(&ctx))
        .await?;
    json(StatusCode::OK, &c)
}

/// `POST campaigns/{id}/pause`.
pub async fn pause(ctx: Ctx) -> ApiResult {
    let c = ctx
        .campaigns
        .pause(&ctx.principal, &ctx.scope, &id(&ctx))
        .await?;
    json(StatusCode::OK, &c)
}

/// `POST campaigns/{id}/resume`.
pub async fn resume(ctx: Ctx) -> ApiResult {
    let c = ctx
        .campaigns
        .resume(&ctx.principal, &ctx.scope, &id(&ctx))
        .await?;
    json(StatusCode::OK, &c)
}

/// `POST campaigns/{id}/cancel`.
pub async fn cancel(ctx: Ctx) -> ApiResult {
    let c = ctx
        .campaigns
        .cancel(&ctx.principal, &ctx.scope, &id(&ctx))
        .await?;
    json(StatusCode::OK, &c)
}

/// `POST campaigns/{id}/retry`: a new draft for the recipients who failed, `201`.
pub async fn retry(ctx: Ctx) -> ApiResult {
    let c = ctx
        .campaigns
        .retry_failed(&ctx.principal, &ctx.scope, &id(&ctx))
        .await?;
    json(StatusCode::CREATED, &c)
}

/// `GET campaigns/{id}/cost`: its estimate against the ledger's actual.
pub async fn cost(ctx: Ctx) -> ApiResult {
    let cost = ctx.campaigns.cost(&ctx.scope, &id(&ctx)).await?;
    json(StatusCode::OK, &cost)
}

/// `GET campaigns/{id}/recipients?state=&cursor=&limit=`.
pub async fn recipients(ctx: Ctx) -> ApiResult {
    let state = match ctx.req.query("state") {
        None => None,
        Some(text) => Some(RecipientState::parse(text).ok_or_else(|| {
            Failure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::BadQuery,
                format!(
                    "`state` is one of {}, not `{text}`",
                    RecipientState::ALL.map(|s| s.as_str()).join(", ")
                ),
            )
            .on_field("state")
        })?),
    };
    let limit = ctx.req.limit(100, crate::store::MAX_PAGE)?;
    let cursor = ctx.req.query("cursor").map(Cursor::from_token);
    let page = ctx
        .campaigns
        .recipients(&ctx.scope, &id(&ctx), state, cursor.as_ref(), limit)
        .await?;
    let unmasked = ctx.principal.can(Permission::ContactsPhoneView);
    let items = page
        .items
        .iter()
        .map(|r| {
            let mut w = r.wire();
            if !unmasked {
                w.wa_id = mask_phone(&w.wa_id);
            }
            w
        })
        .collect();
    json(
        StatusCode::OK,
        &Page {
            items,
            next: page.next.map(|c| c.as_str().to_owned()),
        },
    )
}
