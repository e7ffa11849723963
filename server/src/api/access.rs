//! Administration: the tenant, its routing, users, custom roles, teams and API keys (its
//! numbers: `numbers`).
//!
//! Beyond the route's permission, two rules hold everywhere here: nobody grants what they do not
//! hold (a role, a user's role or an API key never carries a permission its creator lacks), and
//! nobody edits someone who holds more than they do. The last enabled owner cannot be demoted
//! or disabled. Every change is written with its audit line, before and after.

use std::collections::BTreeSet;
use switchboard_shared::ErrorCode;

use crate::web::StatusCode;
use switchboard_shared::api::{
    ApiKey, ApiKeyCreated, CreateApiKey, CreateUser, NumberRouting, Page, Role, RoleInput,
    RoutingPatch, RoutingSettings, Team, TeamInput, Tenant, UpdateTenant, UpdateUser, User,
};
use switchboard_shared::{ApiKeyId, Permission, PresetRole, RoleId, TeamId, UserId};

use super::{json, no_content, ApiResult, Ctx, Failure};
use crate::auth::{roles, token};
use crate::domain::now_ms;
use crate::domain::{
    new_id, ApiKeyRecord, AuditRecord, RoleRecord, TeamRecord, UserRecord, MAX_API_KEYS, MAX_ROLES,
    MAX_TEAMS,
};
use crate::store::{Cursor, StoreError};

pub fn user_dto(u: &UserRecord) -> User {
    User {
        id: u.id.clone(),
        email: u.email.clone(),
        name: u.name.clone(),
        role: u.role.clone(),
        disabled: u.disabled,
        created_at: u.created_at,
    }
}

fn role_dto(r: &RoleRecord) -> Role {
    Role {
        id: r.id.clone(),
        name: r.name.clone(),
        preset: false,
        permissions: roles::parse_names(&r.permissions).into_iter().collect(),
    }
}

fn team_dto(t: &TeamRecord) -> Team {
    Team {
        id: t.id.clone(),
        name: t.name.clone(),
        members: t.members.clone(),
        numbers: t.numbers.clone(),
    }
}

fn key_dto(k: &ApiKeyRecord) -> ApiKey {
    ApiKey {
        id: k.id.clone(),
        name: k.name.clone(),
        permissions: roles::parse_names(&k.permissions).into_iter().collect(),
        created_by: k.created_by.clone(),
        created_at: k.created_at,
        last_used_at: k.last_used_at,
        revoked_at: k.revoked_at,
    }
}

/// An audit line of this request with before/after snapshots.
pub(super) fn change(
    ctx: &Ctx,
    target: String,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> AuditRecord {
    let mut line = ctx.principal.audit(ctx.action, Some(target), "ok");
    line.before = before.map(|v| v.to_string());
    line.after = after.map(|v| v.to_string());
    line
}

/// A name as stored: trimmed, 1 to `max` characters, something visible and no direction
/// controls (docs/security.md: names are shown side by side, where a disguised one passes for
/// another).
fn text(field: &str, value: &str, max: usize) -> Result<String, Failure> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max {
        return Err(Failure::bad_request(format!(
            "{field} must be 1 to {max} characters"
        )));
    }
    if let Err(spoof) = switchboard_shared::text::check_name(value) {
        return Err(Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidName,
            format!("{field} {}", spoof.describe()),
        ));
    }
    Ok(value.to_owned())
}

/// Refuses granting anything the caller does not hold.
fn within_caller(ctx: &Ctx, wanted: &BTreeSet<Permission>) -> Result<(), Failure> {
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|p| !ctx.principal.can(**p))
        .map(|p| p.as_str())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(
            StatusCode::FORBIDDEN,
            ErrorCode::PrivilegeEscalation,
            format!(
                "you cannot grant what you do not hold: {}",
                missing.join(", ")
            ),
        ))
    }
}

/// The permissions of a role name in the caller's tenant; 400 for an unknown role.
async fn role_permissions(ctx: &Ctx, role: &str) -> Result<BTreeSet<Permission>, Failure> {
    if let Some(preset) = PresetRole::parse(role) {
        return Ok(roles::effective(preset.permissions()));
    }
    match ctx.scope.role(&RoleId::from(role)).await? {
        Some(r) => Ok(roles::effective(roles::parse_names(&r.permissions))),
        None => Err(Failure::bad_request(format!(
            "unknown role `{role}`: a preset (owner, admin, supervisor, agent, viewer) or a custom role id"
        ))),
    }
}

fn cursor(ctx: &Ctx) -> Option<Cursor> {
    ctx.req.query("cursor").map(Cursor::from_token)
}

async fn hash_password(ctx: &Ctx, password_text: String) -> Result<String, Failure> {
    ctx.auth
        .hashing
        .hash(password_text)
        .await?
        .map_err(|e| Failure::bad_request(e.to_string()))
}

/// Every user of the tenant (for owner checks and role usage), read page by page.
async fn all_users(ctx: &Ctx) -> Result<Vec<UserRecord>, Failure> {
    let mut users = Vec::new();
    let mut cursor = None;
    loop {
        let page = ctx
            .scope
            .users(cursor.as_ref(), crate::store::MAX_PAGE)
            .await?;
        users.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(users),
        }
    }
}

// --- tenant and numbers ---

pub async fn get_tenant(ctx: Ctx) -> ApiResult {
    let t = ctx
        .scope
        .tenant_record()
        .await?
        .ok_or_else(|| Failure::not_found("tenant"))?;
    json(
        StatusCode::OK,
        &Tenant {
            id: t.id,
            name: t.name,
            created_at: t.created_at,
        },
    )
}

pub async fn update_tenant(ctx: Ctx) -> ApiResult {
    let body: UpdateTenant = ctx.req.json()?;
    let name = text("name", &body.name, 200)?;
    let before = ctx
        .scope
        .tenant_record()
        .await?
        .ok_or_else(|| Failure::not_found("tenant"))?;
    let line = change(
        &ctx,
        format!("tenant:{}", before.id),
        Some(serde_json::json!({"name": before.name})),
        Some(serde_json::json!({"name": name})),
    );
    let t = ctx.scope.rename(&name, line).await?;
    json(
        StatusCode::OK,
        &Tenant {
            id: t.id,
            name: t.name,
            created_at: t.created_at,
        },
    )
}

/// The routing settings in force for the caller's workspace, with each number's strategy.
async fn routing_view(
    ctx: &Ctx,
    config: &crate::config::RoutingConfig,
    version: Option<u64>,
) -> Result<RoutingSettings, Failure> {
    let numbers = ctx
        .scope
        .numbers()
        .await?
        .into_iter()
        .map(|n| NumberRouting {
            strategy: config
                .numbers
                .get(n.phone_number_id.as_str())
                .copied()
                .unwrap_or(config.strategy)
                .as_str()
                .to_owned(),
            phone_number_id: n.phone_number_id,
            display_phone_number: n.display_phone_number,
        })
        .collect();
    Ok(RoutingSettings {
        strategy: config.strategy.as_str().to_owned(),
        capacity: config.capacity,
        reply_deadline_secs: config.reply_deadline_secs,
        offline_grace_secs: config.offline_grace_secs,
        sla_secs: config.sla_secs,
        queue_notice: config.queue_notice.clone(),
        numbers,
        version,
    })
}

/// `GET settings/routing`: the workspace's routing settings in force (the server's defaults
/// until it saves its own), per number.
pub async fn get_routing(ctx: Ctx) -> ApiResult {
    let (config, version) =
        crate::service::settings::routing_in(&ctx.scope, ctx.inbox.routing()).await?;
    json(StatusCode::OK, &routing_view(&ctx, &config, version).await?)
}

/// `PATCH settings/routing`: changes the workspace's routing; in force for its next routing
/// decision, for this workspace only.
pub async fn change_routing(ctx: Ctx) -> ApiResult {
    let patch: RoutingPatch = ctx.req.json()?;
    let (config, version) = crate::service::settings::change_routing(
        &ctx.principal,
        &ctx.scope,
        ctx.inbox.routing(),
        patch,
    )
    .await?;
    ctx.inbox.routing_changed(ctx.scope.tenant()).await?;
    json(
        StatusCode::OK,
        &routing_view(&ctx, &config, Some(version)).await?,
    )
}

// --- agents ---

/// `GET agents`: every enabled user with their presence and status, for the board.
pub async fn list_agents(ctx: Ctx) -> ApiResult {
    let agents: Vec<switchboard_shared::protocol::AgentState> = all_users(&ctx)
        .await?
        .into_iter()
        .filter(|u| !u.disabled)
        .map(|u| ctx.hub.presence.of(ctx.scope.tenant(), &u.id, &u.name))
        .collect();
    json(StatusCode::OK, &agents)
}

// --- users ---

pub async fn list_users(ctx: Ctx) -> ApiResult {
    let limit = ctx.req.limit(100, crate::store::MAX_PAGE)?;
    let page = ctx.scope.users(cursor(&ctx).as_ref(), limit).await?;
    json(
        StatusCode::OK,
        &Page {
            items: page.items.iter().map(user_dto).collect(),
            next: page.next.map(|c| c.as_str().to_owned()),
        },
    )
}

pub async fn get_user(ctx: Ctx) -> ApiResult {
    let user = ctx
        .scope
        .user(&UserId::from(ctx.req.param(0)))
        .await?
        .ok_or_else(|| Failure::not_found("user"))?;
    json(StatusCode::OK, &user_dto(&user))
}

pub async fn create_user(ctx: Ctx) -> ApiResult {
    let body: CreateUser = ctx.req.json()?;
    let email =
        crate::domain::valid_email(&body.email).map_err(|e| Failure::bad_request(e.to_string()))?;
    let name = text("name", &body.name, 200)?;
    within_caller(&ctx, &role_permissions(&ctx, &body.role).await?)?;
    let user = UserRecord {
        tenant: ctx.scope.tenant().clone(),
        id: UserId::new(new_id("u")),
        email: email.clone(),
        name,
        role: body.role,
        password_hash: hash_password(&ctx, body.password).await?,
        disabled: false,
        created_at: now_ms(),
        session_epoch: 0,
    };
    let line = change(
        &ctx,
        format!("user:{}", user.id),
        None,
        Some(UserRecord::audit_snapshot(&user)),
    );
    match ctx.scope.create_user(user, line).await {
        Ok(user) => json(StatusCode::CREATED, &user_dto(&user)),
        Err(StoreError::Conflict(_)) => Err(Failure::conflict(
            ErrorCode::EmailTaken,
            format!("a user with email {email} already exists"),
        )),
        Err(e) => Err(e.into()),
    }
}

pub async fn update_user(ctx: Ctx) -> ApiResult {
    let body: UpdateUser = ctx.req.json()?;
    let before = ctx
        .scope
        .user(&UserId::from(ctx.req.param(0)))
        .await?
        .ok_or_else(|| Failure::not_found("user"))?;
    let current = role_permissions(&ctx, &before.role)
        .await
        .unwrap_or_default();
    within_caller(&ctx, &current).map_err(|_| {
        Failure::forbidden("this user holds permissions you do not; ask someone who holds them")
    })?;
    let mut after = before.clone();
    if let Some(name) = &body.name {
        after.name = text("name", name, 200)?;
    }
    if let Some(role) = &body.role {
        within_caller(&ctx, &role_permissions(&ctx, role).await?)?;
        after.role = role.clone();
    }
    if let Some(disabled) = body.disabled {
        after.disabled = disabled;
    }
    if let Some(password_text) = body.password {
        after.password_hash = hash_password(&ctx, password_text).await?;
    }
    let owner = PresetRole::Owner.as_str();
    let stops_owning =
        before.role == owner && !before.disabled && (after.role != owner || after.disabled);
    if stops_owning {
        let others = all_users(&ctx)
            .await?
            .into_iter()
            .filter(|u| u.id != before.id && u.role == owner && !u.disabled)
            .count();
        if others == 0 {
            return Err(Failure::conflict(
                ErrorCode::LastOwner,
                "this is the last enabled owner; make someone else owner first",
            ));
        }
    }
    // A new role, a disabled account or a new password ends every session of the user: they
    // sign in again and get a fresh session with their new rights.
    if after.role != before.role
        || after.disabled != before.disabled
        || after.password_hash != before.password_hash
    {
        after.session_epoch += 1;
    }
    if after == before {
        return json(StatusCode::OK, &user_dto(&after));
    }
    let line = change(
        &ctx,
        format!("user:{}", after.id),
        Some(UserRecord::audit_snapshot(&before)),
        Some(UserRecord::audit_snapshot(&after)),
    );
    if !ctx.scope.update_user(after.clone(), line).await? {
        return Err(Failure::not_found("user"));
    }
    json(StatusCode::OK, &user_dto(&after))
}

// --- roles ---

pub async fn list_roles(ctx: Ctx) -> ApiResult {
    let mut list: Vec<Role> = PresetRole::ALL
        .iter()
        .map(|p| Role {
            id: RoleId::from(p.as_str()),
            name: p.as_str().to_owned(),
            preset: true,
            permissions: roles::effective(p.permissions()).into_iter().collect(),
        })
        .collect();
    list.extend(ctx.scope.roles().await?.iter().map(role_dto));
    json(StatusCode::OK, &list)
}

async fn role_input(ctx: &Ctx, exclude: Option<&str>) -> Result<(String, Vec<String>), Failure> {
    let body: RoleInput = ctx.req.json()?;
    let name = text("name", &body.name, 100)?;
    if body.permissions.is_empty() {
        return Err(Failure::bad_request("a role needs at least one permission"));
    }
    let wanted: BTreeSet<Permission> = body.permissions.iter().copied().collect();
    within_caller(ctx, &wanted)?;
    let clash = PresetRole::parse(&name.to_lowercase()).is_some()
        || ctx
            .scope
            .roles()
            .await?
            .iter()
            .any(|r| Some(r.id.as_str()) != exclude && r.name.eq_ignore_ascii_case(&name));
    if clash {
        return Err(Failure::conflict(
            ErrorCode::RoleNameTaken,
            format!("a role named `{name}` exists"),
        ));
    }
    Ok((name, wanted.iter().map(|p| p.as_str().to_owned()).collect()))
}

fn role_snapshot(r: &RoleRecord) -> serde_json::Value {
    serde_json::json!({"name": r.name, "permissions": r.permissions})
}

pub async fn create_role(ctx: Ctx) -> ApiResult {
    let (name, permissions) = role_input(&ctx, None).await?;
    if ctx.scope.roles().await?.len() >= MAX_ROLES {
        return Err(Failure::conflict(
            ErrorCode::TooManyRoles,
            format!("a workspace has at most {MAX_ROLES} custom roles"),
        ));
    }
    let role = RoleRecord {
        tenant: ctx.scope.tenant().clone(),
        id: new_id("r").into(),
        name,
        permissions,
        created_at: now_ms(),
    };
    let line = change(
        &ctx,
        format!("role:{}", role.id),
        None,
        Some(role_snapshot(&role)),
    );
    let role = ctx.scope.put_role(role, line).await?;
    json(StatusCode::CREATED, &role_dto(&role))
}

pub async fn update_role(ctx: Ctx) -> ApiResult {
    let id = RoleId::from(ctx.req.param(0));
    let before = ctx
        .scope
        .role(&id)
        .await?
        .ok_or_else(|| Failure::not_found("role"))?;
    within_caller(&ctx, &roles::parse_names(&before.permissions))?;
    let (name, permissions) = role_input(&ctx, Some(id.as_str())).await?;
    let after = RoleRecord {
        name,
        permissions,
        ..before.clone()
    };
    let line = change(
        &ctx,
        format!("role:{id}"),
        Some(role_snapshot(&before)),
        Some(role_snapshot(&after)),
    );
    let role = ctx.scope.put_role(after, line).await?;
    json(StatusCode::OK, &role_dto(&role))
}

pub async fn delete_role(ctx: Ctx) -> ApiResult {
    let id = RoleId::from(ctx.req.param(0));
    let before = ctx
        .scope
        .role(&id)
        .await?
        .ok_or_else(|| Failure::not_found("role"))?;
    within_caller(&ctx, &roles::parse_names(&before.permissions))?;
    let holders = all_users(&ctx)
        .await?
        .into_iter()
        .filter(|u| u.role == id.as_str())
        .count();
    if holders > 0 {
        return Err(Failure::conflict(
            ErrorCode::RoleInUse,
            format!("{holders} user(s) have this role; give them another role first"),
        ));
    }
    let line = change(
        &ctx,
        format!("role:{id}"),
        Some(role_snapshot(&before)),
        None,
    );
    if !ctx.scope.delete_role(&id, line).await? {
        return Err(Failure::not_found("role"));
    }
    no_content()
}

// --- teams ---

pub async fn list_teams(ctx: Ctx) -> ApiResult {
    let teams: Vec<Team> = ctx.scope.teams().await?.iter().map(team_dto).collect();
    json(StatusCode::OK, &teams)
}

fn team_snapshot(t: &TeamRecord) -> serde_json::Value {
    serde_json::json!({"name": t.name, "members": t.members, "numbers": t.numbers})
}

/// Reads and checks a team body: members are users of this tenant, numbers its numbers.
async fn team_input(ctx: &Ctx) -> Result<TeamInput, Failure> {
    let mut body: TeamInput = ctx.req.json()?;
    body.name = text("name", &body.name, 100)?;
    body.members.sort();
    body.members.dedup();
    body.numbers.sort();
    body.numbers.dedup();
    if body.members.len() > 1000 {
        return Err(Failure::bad_request("a team has at most 1000 members"));
    }
    for member in &body.members {
        if ctx.scope.user(member).await?.is_none() {
            return Err(Failure::bad_request(format!(
                "no user `{member}` in this workspace"
            )));
        }
    }
    let numbers = ctx.scope.numbers().await?;
    for number in &body.numbers {
        if !numbers.iter().any(|n| &n.phone_number_id == number) {
            return Err(Failure::bad_request(format!(
                "no number `{number}` in this workspace"
            )));
        }
    }
    Ok(body)
}

pub async fn create_team(ctx: Ctx) -> ApiResult {
    let body = team_input(&ctx).await?;
    if ctx.scope.teams().await?.len() >= MAX_TEAMS {
        return Err(Failure::conflict(
            ErrorCode::TooManyTeams,
            format!("a workspace has at most {MAX_TEAMS} teams"),
        ));
    }
    let team = TeamRecord {
        tenant: ctx.scope.tenant().clone(),
        id: new_id("t").into(),
        name: body.name,
        members: body.members,
        numbers: body.numbers,
        created_at: now_ms(),
    };
    let line = change(
        &ctx,
        format!("team:{}", team.id),
        None,
        Some(team_snapshot(&team)),
    );
    let team = ctx.scope.put_team(team, line).await?;
    ctx.inbox.teams_changed(ctx.scope.tenant()).await?;
    json(StatusCode::CREATED, &team_dto(&team))
}

pub async fn update_team(ctx: Ctx) -> ApiResult {
    let id = TeamId::from(ctx.req.param(0));
    let before = ctx
        .scope
        .team(&id)
        .await?
        .ok_or_else(|| Failure::not_found("team"))?;
    let body = team_input(&ctx).await?;
    let after = TeamRecord {
        name: body.name,
        members: body.members,
        numbers: body.numbers,
        ..before.clone()
    };
    let line = change(
        &ctx,
        format!("team:{id}"),
        Some(team_snapshot(&before)),
        Some(team_snapshot(&after)),
    );
    let team = ctx.scope.put_team(after, line).await?;
    ctx.inbox.teams_changed(ctx.scope.tenant()).await?;
    json(StatusCode::OK, &team_dto(&team))
}

pub async fn delete_team(ctx: Ctx) -> ApiResult {
    let id = TeamId::from(ctx.req.param(0));
    let before = ctx
        .scope
        .team(&id)
        .await?
        .ok_or_else(|| Failure::not_found("team"))?;
    let line = change(
        &ctx,
        format!("team:{id}"),
        Some(team_snapshot(&before)),
        None,
    );
    if !ctx.scope.delete_team(&id, line).await? {
        return Err(Failure::not_found("team"));
    }
    ctx.inbox.teams_changed(ctx.scope.tenant()).await?;
    no_content()
}

// --- API keys ---

pub async fn list_api_keys(ctx: Ctx) -> ApiResult {
    let keys: Vec<ApiKey> = ctx.scope.api_keys().await?.iter().map(key_dto).collect();
    json(StatusCode::OK, &keys)
}

pub async fn create_api_key(ctx: Ctx) -> ApiResult {
    let body: CreateApiKey = ctx.req.json()?;
    let name = text("name", &body.name, 100)?;
    if body.permissions.is_empty() {
        return Err(Failure::bad_request(
            "an API key needs at least one permission",
        ));
    }
    let wanted: BTreeSet<Permission> = body.permissions.iter().copied().collect();
    within_caller(&ctx, &wanted)?;
    if ctx.scope.api_keys().await?.len() >= MAX_API_KEYS {
        return Err(Failure::conflict(
            ErrorCode::TooManyApiKeys,
            format!("a workspace keeps at most {MAX_API_KEYS} API keys"),
        ));
    }
    let (id, secret) = token::new_api_key();
    let key = ApiKeyRecord {
        id: id.into(),
        tenant: ctx.scope.tenant().clone(),
        name,
        secret_hash: token::hash(&secret),
        permissions: wanted.iter().map(|p| p.as_str().to_owned()).collect(),
        created_by: ctx.principal.actor_id(),
        created_at: now_ms(),
        last_used_at: None,
        revoked_at: None,
    };
    let line = change(
        &ctx,
        format!("api_key:{}", key.id),
        None,
        Some(ApiKeyRecord::audit_snapshot(&key)),
    );
    let key = ctx.scope.create_api_key(key, line).await?;
    json(
        StatusCode::CREATED,
        &ApiKeyCreated {
            key: key_dto(&key),
            secret,
        },
    )
}

pub async fn revoke_api_key(ctx: Ctx) -> ApiResult {
    let id = ApiKeyId::from(ctx.req.param(0));
    let before = ctx
        .scope
        .api_keys()
        .await?
        .into_iter()
        .find(|k| k.id == id && k.revoked_at.is_none())
        .ok_or_else(|| Failure::not_found("API key"))?;
    let at = now_ms();
    let mut after = before.clone();
    after.revoked_at = Some(at);
    let line = change(
        &ctx,
        format!("api_key:{id}"),
        Some(ApiKeyRecord::audit_snapshot(&before)),
        Some(ApiKeyRecord::audit_snapshot(&after)),
    );
    if !ctx.scope.revoke_api_key(&id, at, line).await? {
        return Err(Failure::not_found("API key"));
    }
    no_content()
}
