//! Sign-in, sessions and first setup.

use crate::web::{HeaderValue, StatusCode};
use switchboard_shared::api::{
    ChangePassword, LoginRequest, LoginResponse, SetupRequest, TokenResponse,
};
use switchboard_shared::ErrorCode;

use super::{access, json, me_of, no_content, ApiResult, Ctx, Failure, PublicCtx};
use crate::auth::principal::{ChangePasswordError, LoginError, SetupError};
use crate::auth::Credential;

fn with_cookie(mut response: crate::web::Response, cookie: &str) -> ApiResult {
    let value = HeaderValue::from_str(cookie).map_err(|e| {
        Failure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            e.to_string(),
        )
    })?;
    response.headers_mut().append("set-cookie", value);
    Ok(response)
}

/// `POST auth/login`: a cookie session for the PWA.
pub async fn login(ctx: PublicCtx) -> ApiResult {
    let body: LoginRequest = ctx.req.json()?;
    let session = ctx
        .auth
        .login(&body.email, body.password, true, ctx.req.meta.clone())
        .await?;
    let name = ctx.auth.tenant_name(&session.principal.tenant).await?;
    let max_age = (session.expires_at - crate::domain::now_ms()) / 1000;
    let response = json(
        StatusCode::OK,
        &LoginResponse {
            me: me_of(&session.principal, name),
            expires_at: session.expires_at,
        },
    )?;
    with_cookie(response, &ctx.cookies.set(&session.token, max_age))
}

/// `POST auth/token`: a bearer token for API clients.
pub async fn token(ctx: PublicCtx) -> ApiResult {
    let body: LoginRequest = ctx.req.json()?;
    let session = ctx
        .auth
        .login(&body.email, body.password, false, ctx.req.meta.clone())
        .await?;
    let name = ctx.auth.tenant_name(&session.principal.tenant).await?;
    json(
        StatusCode::OK,
        &TokenResponse {
            me: me_of(&session.principal, name),
            token: session.token,
            expires_at: session.expires_at,
        },
    )
}

/// `POST setup`: the first administrator, through the one-time link.
pub async fn setup(ctx: PublicCtx) -> ApiResult {
    let body: SetupRequest = ctx.req.json()?;
    let user = ctx
        .auth
        .complete_setup(
            &body.token,
            body.tenant_name.as_deref(),
            &body.name,
            &body.email,
            body.password,
            ctx.req.meta.clone(),
        )
        .await
        .map_err(setup_failure)?;
    json(StatusCode::CREATED, &access::user_dto(&user))
}

pub fn setup_failure(e: SetupError) -> Failure {
    match e {
        SetupError::InvalidToken => Failure::new(
            StatusCode::NOT_FOUND,
            ErrorCode::InvalidSetupToken,
            e.to_string(),
        ),
        SetupError::Input(m) => Failure::bad_request(m),
        SetupError::Busy(busy) => busy.into(),
        SetupError::Store(e) => e.into(),
    }
}

/// `GET auth/me`.
pub async fn me(ctx: Ctx) -> ApiResult {
    let name = ctx
        .scope
        .tenant_record()
        .await?
        .map(|t| t.name)
        .unwrap_or_default();
    json(StatusCode::OK, &me_of(&ctx.principal, name))
}

/// `POST auth/logout`: ends this session; the cookie is cleared.
pub async fn logout(ctx: Ctx) -> ApiResult {
    ctx.auth.logout(&ctx.principal).await?;
    let response = no_content()?;
    if matches!(ctx.principal.credential, Credential::Cookie { .. }) {
        return with_cookie(response, &ctx.cookies.clear());
    }
    Ok(response)
}

/// `POST auth/logout-everywhere`: ends every session of the user.
pub async fn logout_everywhere(ctx: Ctx) -> ApiResult {
    if ctx.principal.user().is_none() {
        return Err(Failure::bad_request(
            "API keys have no sessions; revoke the key instead",
        ));
    }
    ctx.auth.logout_everywhere(&ctx.principal).await?;
    let response = no_content()?;
    if matches!(ctx.principal.credential, Credential::Cookie { .. }) {
        return with_cookie(response, &ctx.cookies.clear());
    }
    Ok(response)
}

/// `POST auth/password`: a new password; other sessions end, this one is rotated.
pub async fn change_password(ctx: Ctx) -> ApiResult {
    let body: ChangePassword = ctx.req.json()?;
    let fresh = ctx
        .auth
        .change_password(&ctx.principal, body.current_password, body.new_password)
        .await
        .map_err(|e| match e {
            ChangePasswordError::NotAUser => Failure::bad_request(e.to_string()),
            ChangePasswordError::WrongPassword => Failure::new(
                StatusCode::FORBIDDEN,
                ErrorCode::WrongPassword,
                e.to_string(),
            ),
            ChangePasswordError::Policy(p) => Failure::bad_request(p.to_string()),
            ChangePasswordError::Locked(lock) => LoginError::Locked(lock).into(),
            ChangePasswordError::Busy(busy) => busy.into(),
            ChangePasswordError::Store(e) => e.into(),
        })?;
    let name = ctx.auth.tenant_name(&fresh.principal.tenant).await?;
    match &fresh.principal.credential {
        Credential::Cookie { .. } => {
            let max_age = (fresh.expires_at - crate::domain::now_ms()) / 1000;
            let response = json(
                StatusCode::OK,
                &LoginResponse {
                    me: me_of(&fresh.principal, name),
                    expires_at: fresh.expires_at,
                },
            )?;
            with_cookie(response, &ctx.cookies.set(&fresh.token, max_age))
        }
        _ => json(
            StatusCode::OK,
            &TokenResponse {
                me: me_of(&fresh.principal, name),
                token: fresh.token.clone(),
                expires_at: fresh.expires_at,
            },
        ),
    }
}
