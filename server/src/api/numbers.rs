//! A workspace's WhatsApp numbers over REST: listed, connected, changed, disabled and removed
//! at run time (`service::numbers` does the work). Secrets go in, never out: no answer carries
//! one, nor does the audit line.

use switchboard_shared::api::{NewNumber, Number, NumberPatch};
use switchboard_shared::{ErrorCode, PhoneNumberId};
use url::Url;

use super::access::change;
use super::{json, no_content, ApiResult, Ctx, Failure};
use crate::secret::Secret;
use crate::service::numbers::{NumberChange, NumberInput, NumberView, NumbersError};
use crate::web::StatusCode;

/// Meta's Graph API, when a number names no other.
const GRAPH_API_URL: &str = "https://graph.facebook.com/v23.0";

impl From<NumbersError> for Failure {
    fn from(e: NumbersError) -> Self {
        let message = e.to_string();
        match e {
            NumbersError::Invalid { field, .. } => Failure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidValue,
                message,
            )
            .on_field(field),
            NumbersError::FromFile(_) => Failure::conflict(ErrorCode::ManagedByConfig, message),
            NumbersError::Taken(_) => Failure::conflict(ErrorCode::NumberTaken, message),
            NumbersError::Exists(_) => Failure::conflict(ErrorCode::NumberExists, message),
            NumbersError::NotFound(_) => Failure::not_found("connected number"),
            NumbersError::Unsealable(_) => {
                tracing::error!(error = %message, "a number's secrets do not open");
                Failure::new(
                    StatusCode::CONFLICT,
                    ErrorCode::Conflict,
                    "the number's saved secrets do not open with this server's secrets key; \
                     enter its access token, app secret and verify token again",
                )
            }
            NumbersError::Store(e) => e.into(),
        }
    }
}

pub(super) fn dto(v: NumberView) -> Number {
    Number {
        phone_number_id: v.phone_number_id,
        display_phone_number: v.display_phone_number,
        waba_id: v.waba_id,
        managed_by: v.managed_by.to_owned(),
        graph_api_url: v.graph_api_url,
        mps: v.mps,
        enabled: v.enabled,
        problem: v.problem,
        updated_at: v.updated_at,
    }
}

/// What the audit log keeps of a number: its settings, never its secrets.
fn snapshot(v: &NumberView) -> serde_json::Value {
    serde_json::json!({
        "display_phone_number": v.display_phone_number,
        "waba_id": v.waba_id,
        "graph_api_url": v.graph_api_url,
        "mps": v.mps,
        "enabled": v.enabled,
    })
}

fn url(field: &'static str, raw: &str) -> Result<Url, Failure> {
    Url::parse(raw.trim()).map_err(|e| {
        Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidValue,
            format!("{field}: {e}"),
        )
        .on_field(field)
    })
}

/// `GET numbers`: the workspace's numbers, with who manages each and what Meta last said.
pub async fn list(ctx: Ctx) -> ApiResult {
    let numbers: Vec<Number> = ctx
        .numbers
        .list(ctx.scope.tenant())
        .await?
        .into_iter()
        .map(dto)
        .collect();
    json(StatusCode::OK, &numbers)
}

/// `POST numbers`: connects a number (201). A token Meta refuses is saved all the same, with
/// Meta's answer in `problem`.
pub async fn create(ctx: Ctx) -> ApiResult {
    let body: NewNumber = ctx.req.json()?;
    let input = NumberInput {
        phone_number_id: PhoneNumberId::new(body.phone_number_id.trim()),
        display_phone_number: body.display_phone_number,
        waba_id: body.waba_id.filter(|w| !w.is_empty()),
        graph_api_url: url(
            "graph_api_url",
            body.graph_api_url.as_deref().unwrap_or(GRAPH_API_URL),
        )?,
        mps: body.mps.unwrap_or(80),
        access_token: Secret::new(body.access_token),
        app_secret: Secret::new(body.app_secret),
        verify_token: Secret::new(body.verify_token),
    };
    let target = format!("number:{}", input.phone_number_id);
    let mut line = change(&ctx, target, None, None);
    line.after = Some(input.audit_snapshot());
    let line = ctx.scope.bind_audit(line);
    let view = ctx.numbers.add(ctx.scope.tenant(), input, line).await?;
    json(StatusCode::CREATED, &dto(view))
}

/// `PATCH numbers/{phone_number_id}`: changes a connected number (`enabled: false` disables it).
pub async fn update(ctx: Ctx) -> ApiResult {
    let id = PhoneNumberId::from(ctx.req.param(0));
    let body: NumberPatch = ctx.req.json()?;
    let before = ctx
        .numbers
        .get(ctx.scope.tenant(), &id)
        .await?
        .ok_or_else(|| Failure::not_found("number"))?;
    let patch = NumberChange {
        display_phone_number: body.display_phone_number,
        waba_id: body.waba_id.map(|w| Some(w).filter(|w| !w.is_empty())),
        graph_api_url: body
            .graph_api_url
            .as_deref()
            .map(|u| url("graph_api_url", u))
            .transpose()?,
        mps: body.mps,
        enabled: body.enabled,
        access_token: body.access_token.map(Secret::new),
        app_secret: body.app_secret.map(Secret::new),
        verify_token: body.verify_token.map(Secret::new),
    };
    let secrets_changed: Vec<&str> = [
        ("access_token", patch.access_token.is_some()),
        ("app_secret", patch.app_secret.is_some()),
        ("verify_token", patch.verify_token.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, changed)| changed.then_some(name))
    .collect();
    let mut line = change(&ctx, format!("number:{id}"), Some(snapshot(&before)), None);
    let view = {
        // The line's `after` is the result; the service writes it with the change.
        let mut probe = before.clone();
        if let Some(d) = &patch.display_phone_number {
            probe.display_phone_number = d.trim().to_owned();
        }
        if let Some(w) = &patch.waba_id {
            probe.waba_id = w.clone();
        }
        if let Some(u) = &patch.graph_api_url {
            probe.graph_api_url = Some(u.to_string());
        }
        if let Some(m) = patch.mps {
            probe.mps = Some(m);
        }
        if let Some(e) = patch.enabled {
            probe.enabled = e;
        }
        let mut after = snapshot(&probe);
        after["secrets_replaced"] = serde_json::json!(secrets_changed);
        line.after = Some(after.to_string());
        let line = ctx.scope.bind_audit(line);
        ctx.numbers
            .change(ctx.scope.tenant(), &id, patch, line)
            .await?
    };
    json(StatusCode::OK, &dto(view))
}

/// `DELETE numbers/{phone_number_id}`: removes a connected number's connection and secrets (204);
/// its conversations stay.
pub async fn delete(ctx: Ctx) -> ApiResult {
    let id = PhoneNumberId::from(ctx.req.param(0));
    let before = ctx
        .numbers
        .get(ctx.scope.tenant(), &id)
        .await?
        .ok_or_else(|| Failure::not_found("number"))?;
    let line = change(&ctx, format!("number:{id}"), Some(snapshot(&before)), None);
    let line = ctx.scope.bind_audit(line);
    ctx.numbers.remove(ctx.scope.tenant(), &id, line).await?;
    no_content()
}
