//! The REST API under `/api/v1`: one route table, one dispatcher.
//!
//! Every endpoint is a [`Route`] in [`routes()`], declaring its method, path, and the one thing
//! that admits a caller ([`Access`]): nobody (public), any signed-in caller, or exactly one
//! [`Permission`]. The dispatcher alone authenticates (session cookie, bearer session token or
//! API key), enforces CSRF on cookie writes, checks the declared access, records denials in the
//! audit log, and hands the handler a [`Ctx`] whose only way to the store is a [`TenantScope`]
//! bound to the caller's tenant. Handlers cannot skip any of it: they are only reachable through
//! the table, and the permission-matrix test walks the same table.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::Serialize;
use switchboard_shared::api::Me;
use switchboard_shared::{ErrorCode, Permission};

use crate::web::Response;
use crate::web::{client_ip, cookie_value, cross_origin, CookiePolicy, PeerAddr};
use crate::web::{HeaderMap, HeaderValue, Method, StatusCode};

use crate::auth::principal::LoginError;
use crate::auth::{token, Authenticator, Credential, Principal, RequestMeta, TenantScope};
use crate::store::{Store, StoreError};

mod access;
mod audit;
mod automation;
mod campaigns;
mod collab;
mod compliance;
mod contacts;
mod conversations;
mod costs;
mod crm;
pub mod inbox;
mod numbers;
pub mod openapi;
mod push;
mod replies;
mod report_page;
mod reports;
mod retention;
mod routes;
mod search;
mod session;
mod transcript;
mod webhooks;

/// Who may call an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not (sign-in itself, first setup).
    Public,
    /// Any signed-in caller, whatever their role (their own session and profile).
    SignedIn,
    /// Callers holding exactly this permission.
    Needs(Permission),
}

pub type ApiResult = Result<Response, Failure>;
type PublicHandler = fn(PublicCtx) -> BoxFuture<'static, ApiResult>;
type PrivateHandler = fn(Ctx) -> BoxFuture<'static, ApiResult>;

#[derive(Clone, Copy)]
enum Handler {
    Public(PublicHandler),
    Private(PrivateHandler),
}

/// What a route's body is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    /// None: a read (`GET`) that carries a body is refused 413 rather than have it ignored.
    Empty,
    Json,
    /// JSON that may be large (a term list of tens of thousands of terms), held in memory up to
    /// the upload limit.
    LargeJson,
    Upload,
    Spool,
}

impl BodyKind {
    /// A route's body unless it says otherwise: none for a read, else JSON.
    fn of(method: &Method) -> Self {
        if *method == Method::GET {
            Self::Empty
        } else {
            Self::Json
        }
    }
}

/// A body written to the spool directory: the handler takes the file over (or it is removed
/// when the request ends).
#[derive(Debug)]
pub struct Spooled {
    pub path: std::path::PathBuf,
    pub bytes: u64,
}

impl Drop for Spooled {
    fn drop(&mut self) {
        // A handler that keeps the file renames it first; anything left is a refused upload.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// One endpoint.
#[derive(Clone)]
pub struct Route {
    pub method: Method,
    /// Relative to `/api/v1/`; `{name}` segments are parameters.
    pub path: &'static str,
    pub access: Access,
    /// The audit log's name for what the endpoint does (`user.update`).
    pub action: &'static str,
    /// Whether a successful call is itself audited (reading transcripts, the audit log).
    pub audit_success: bool,
    /// What the body is: JSON, a file held in memory (up to `http.max_upload_bytes`), or a file
    /// written to disk as it arrives (up to `contacts.import_max_mib`).
    pub body: BodyKind,
    /// Whether a successful call may change what someone can see (roles, teams, accounts,
    /// sessions): the hub then checks every live subscription of the tenant again before the
    /// answer goes out.
    pub changes_access: bool,
    handler: Handler,
}

impl Route {
    fn public(method: Method, path: &'static str, action: &'static str, h: PublicHandler) -> Self {
        Self {
            body: BodyKind::of(&method),
            method,
            path,
            access: Access::Public,
            action,
            audit_success: false,
            changes_access: false,
            handler: Handler::Public(h),
        }
    }

    fn signed_in(
        method: Method,
        path: &'static str,
        action: &'static str,
        h: PrivateHandler,
    ) -> Self {
        Self {
            body: BodyKind::of(&method),
            method,
            path,
            access: Access::SignedIn,
            action,
            audit_success: false,
            changes_access: false,
            handler: Handler::Private(h),
        }
    }

    fn needs(
        method: Method,
        path: &'static str,
        permission: Permission,
        action: &'static str,
        h: PrivateHandler,
    ) -> Self {
        Self {
            body: BodyKind::of(&method),
            method,
            path,
            access: Access::Needs(permission),
            action,
            audit_success: false,
            changes_access: false,
            handler: Handler::Private(h),
        }
    }

    fn audited(mut self) -> Self {
        self.audit_success = true;
        self
    }

    fn upload(mut self) -> Self {
        self.body = BodyKind::Upload;
        self
    }

    fn large_json(mut self) -> Self {
        self.body = BodyKind::LargeJson;
        self
    }

    fn spool(mut self) -> Self {
        self.body = BodyKind::Spool;
        self
    }

    fn changes_access(mut self) -> Self {
        self.changes_access = true;
        self
    }

    /// Path parameters if `segments` match this route's path.
    fn matches(&self, segments: &[&str]) -> Option<Vec<String>> {
        let pattern: Vec<&str> = self.path.split('/').collect();
        if pattern.len() != segments.len() {
            return None;
        }
        let mut params = Vec::new();
        for (p, s) in pattern.iter().zip(segments) {
            if p.starts_with('{') {
                if s.is_empty() {
                    return None;
                }
                // Ids are plain ASCII; nothing is percent-decoded.
                params.push((*s).to_owned());
            } else if p != s {
                return None;
            }
        }
        Some(params)
    }
}

pub use routes::routes;

/// A refusal with its status, stable code and message.
#[derive(Debug)]
pub struct Failure {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    pub retry_after: Option<u64>,
    /// The request field the failure is about.
    pub field: Option<String>,
    /// What the word filter found (a refused send).
    pub matches: Vec<switchboard_shared::compliance::FilterMatch>,
    /// Every bad line of a file refused whole.
    pub rows: Vec<switchboard_shared::error::RowProblem>,
}

impl Failure {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
            field: None,
            matches: Vec::new(),
            rows: Vec::new(),
        }
    }

    /// Names the request field the failure is about.
    pub fn on_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("no such {what}"),
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
    }

    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    fn into_response(self) -> Response {
        let mut response = crate::web::error_body_response(
            self.status,
            switchboard_shared::ApiError {
                code: self.code,
                message: self.message,
                field: self.field,
                matches: self.matches,
                rows: self.rows,
            },
        );
        if let Some(seconds) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert("retry-after", v);
            }
        }
        response
    }
}

/// 429 for a client past its sign-in attempts.
pub fn too_many_attempts(state: &ApiState, wait: std::time::Duration) -> Failure {
    metrics::counter!("switchboard_http_rate_limited_total", "surface" => "sign_in").increment(1);
    Failure {
        retry_after: Some(crate::limits::retry_after_secs(wait)),
        ..Failure::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            state.attempts.refusal("sign-in attempts", wait),
        )
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(m) => Failure::bad_request(m),
            StoreError::Conflict(m) => Failure::conflict(ErrorCode::Conflict, m),
            e => {
                tracing::error!(error = %e, "store failure in the API");
                let (code, message) = e.refusal();
                Failure::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
            }
        }
    }
}

impl From<LoginError> for Failure {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::Invalid => Failure::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::InvalidCredentials,
                e.to_string(),
            ),
            LoginError::Busy(busy) => busy.into(),
            LoginError::Locked(lock) => Failure {
                retry_after: Some(lock.retry_after.as_secs().max(1)),
                ..Failure::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    ErrorCode::LoginLocked,
                    e.to_string(),
                )
            },
            LoginError::Store(e) => e.into(),
        }
    }
}

impl From<crate::auth::password::Busy> for Failure {
    fn from(e: crate::auth::password::Busy) -> Self {
        Failure {
            retry_after: Some(1),
            ..Failure::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Busy,
                e.to_string(),
            )
        }
    }
}

/// A CSV file to download (`{name}.csv`): `header`, then `rows`, each cell guarded against
/// spreadsheet formulas ([`crate::export::csv_cell`]).
pub fn csv_attachment<R, C>(name: &str, header: &[&str], rows: R) -> ApiResult
where
    R: IntoIterator,
    R::Item: IntoIterator<Item = C>,
    C: AsRef<str>,
{
    let failure = |e: String| {
        Failure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            format!("could not write the file: {e}"),
        )
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header).map_err(|e| failure(e.to_string()))?;
    for row in rows {
        w.write_record(
            row.into_iter()
                .map(|c| crate::export::csv_cell(c.as_ref()).into_owned()),
        )
        .map_err(|e| failure(e.to_string()))?;
    }
    let body = w.into_inner().map_err(|e| failure(e.to_string()))?;
    let mut response = crate::web::Response::new(body.into());
    let headers = response.headers_mut();
    headers.insert(
        "content-type",
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert("cache-control", HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}.csv\"")) {
        headers.insert("content-disposition", v);
    }
    Ok(response)
}

/// A JSON answer.
pub fn json(status: StatusCode, value: &impl Serialize) -> ApiResult {
    let mut response = crate::web::Response::new(
        serde_json::to_vec(value)
            .map_err(|e| {
                Failure::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorCode::Internal,
                    e.to_string(),
                )
            })?
            .into(),
    );
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    response
        .headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    Ok(response)
}

pub fn no_content() -> ApiResult {
    let mut response = Response::new(Vec::new().into());
    *response.status_mut() = StatusCode::NO_CONTENT;
    Ok(response)
}

/// A request as handlers see it.
pub struct ApiRequest {
    pub method: Method,
    pub params: Vec<String>,
    pub query: HashMap<String, String>,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// A spooled route's file.
    pub spooled: Option<Spooled>,
    pub meta: RequestMeta,
}

/// Rewrites every float in `value` with no fractional part that an `i64` or a `u64` holds
/// exactly as that integer; whether it changed anything.
fn whole_floats_to_integers(value: &mut serde_json::Value) -> bool {
    match value {
        serde_json::Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            // Only where a float is exact: whole and within ±2^53. Beyond, `-9223372036854775809`
            // would round to `i64::MIN` and be read as a number nobody sent.
            const EXACT: f64 = 9_007_199_254_740_992.0;
            let exact = f.fract() == 0.0 && (-EXACT..=EXACT).contains(&f);
            exact
                .then(|| *n = serde_json::Number::from(f as i64))
                .is_some()
        }
        serde_json::Value::Array(items) => all_whole(items.iter_mut()),
        serde_json::Value::Object(fields) => all_whole(fields.values_mut()),
        _ => false,
    }
}

/// [`whole_floats_to_integers`] over every value (no short cut: each may change).
fn all_whole<'a>(values: impl Iterator<Item = &'a mut serde_json::Value>) -> bool {
    values.fold(false, |changed, v| whole_floats_to_integers(v) | changed)
}

impl ApiRequest {
    /// The body as JSON of type `T`; a precise 400 otherwise.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Failure> {
        let is_json = self
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(';').next().unwrap_or("").trim() == "application/json");
        if !is_json {
            return Err(Failure::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
                "send the body as application/json",
            ));
        }
        // Every body is an object. serde would also read a struct from an array of its fields
        // in order (`[null, null]` as an empty patch), which no document promises.
        if self.body.trim_ascii_start().first() != Some(&b'{') {
            return Err(Failure::bad_request(
                "invalid JSON body: send a JSON object ({…})",
            ));
        }
        match serde_json::from_slice(&self.body) {
            Ok(value) => Ok(value),
            // JSON (and JSON Schema, which our OpenAPI document is written in) has one number
            // type: `5.0` is the integer 5, and some clients' encoders write it so. Read a body
            // that typed strictly fails on with its whole floats made integers, once, on the
            // failing path only.
            Err(e) if e.is_data() => serde_json::from_slice::<serde_json::Value>(&self.body)
                .ok()
                .and_then(|mut body| {
                    whole_floats_to_integers(&mut body)
                        .then(|| serde_json::from_value::<T>(body).ok())
                        .flatten()
                })
                .ok_or_else(|| Failure::bad_request(format!("invalid JSON body: {e}"))),
            Err(e) => Err(Failure::bad_request(format!("invalid JSON body: {e}"))),
        }
    }

    pub fn param(&self, i: usize) -> &str {
        self.params.get(i).map(String::as_str).unwrap_or("")
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    /// `?name=YYYY-MM-DD` (a UTC day) as days since the epoch; a 422 naming the parameter
    /// otherwise.
    pub fn day(&self, name: &str) -> Result<Option<i64>, Failure> {
        let Some(text) = self.query(name) else {
            return Ok(None);
        };
        text.parse::<jiff::civil::Date>()
            .ok()
            .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
            .map(|z| Some(crate::domain::day_bucket(z.timestamp().as_millisecond())))
            .ok_or_else(|| {
                Failure::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorCode::BadQuery,
                    format!("`{name}` is a day (YYYY-MM-DD), not `{text}`"),
                )
                .on_field(name)
            })
    }

    /// `?limit=` within 1..=max, `default` when absent.
    pub fn limit(&self, default: usize, max: usize) -> Result<usize, Failure> {
        match self.query("limit") {
            None => Ok(default),
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| Failure::bad_request(format!("limit must be 1..={max}"))),
        }
    }
}

/// What public handlers get: the request and the authenticator, no store.
pub struct PublicCtx {
    pub req: ApiRequest,
    pub auth: Arc<Authenticator>,
    pub cookies: CookiePolicy,
}

/// What every other handler gets: the caller, and the store bound to the caller's tenant.
pub struct Ctx {
    pub req: ApiRequest,
    pub principal: Principal,
    pub scope: TenantScope,
    pub auth: Arc<Authenticator>,
    pub cookies: CookiePolicy,
    pub action: &'static str,
    pub hub: Arc<crate::hub::Hub>,
    pub inbox: crate::service::inbox::Inbox,
    pub outbound: Arc<crate::service::outbound::Outbound>,
    pub outbox: crate::service::outbox::Outbox,
    pub contacts: crate::service::contacts::Contacts,
    pub filter: Arc<crate::service::compliance::WordFilter>,
    pub automation: crate::service::automation::Automation,
    pub costs: crate::service::costs::Costs,
    pub campaigns: crate::service::campaigns::Campaigns,
    pub media: Arc<crate::service::media::MediaKeeper>,
    pub retention: Arc<crate::service::retention::Retention>,
    pub numbers: crate::service::numbers::Numbers,
    pub webhooks: crate::service::webhooks::Webhooks,
    pub crm: crate::service::crm::Crm,
    pub push: crate::service::push::Push,
}

/// The caller as `GET auth/me` describes them.
pub fn me_of(p: &Principal, tenant_name: String) -> Me {
    Me {
        tenant: p.tenant.clone(),
        tenant_name,
        user: p.user().map(access::user_dto),
        api_key: match &p.actor {
            crate::auth::Actor::ApiKey(k) => Some(k.name.clone()),
            crate::auth::Actor::User(_) => None,
        },
        permissions: p.permissions.iter().copied().collect(),
        teams: p.teams.iter().map(|t| t.id.clone()).collect(),
        team_names: p.teams.iter().map(|t| t.name.clone()).collect(),
        csrf_token: match &p.credential {
            Credential::Cookie { token: t } => Some(token::csrf_for(t)),
            _ => None,
        },
    }
}

/// Everything the dispatcher needs.
#[derive(Clone)]
pub struct ApiState {
    pub store: Arc<dyn Store>,
    pub auth: Arc<Authenticator>,
    pub cookies: CookiePolicy,
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
    /// Sign-in, token and setup attempts per client address.
    pub attempts: Arc<crate::limits::ClientPace>,
    pub max_body: usize,
    /// The body limit of upload routes.
    pub max_upload: usize,
    /// The body limit of spooled routes (contact files), and where their files go.
    pub max_spool: usize,
    pub spool_dir: std::path::PathBuf,
    /// The hub, for presence.
    pub hub: Arc<crate::hub::Hub>,
    /// Assignment, resolution and reopening.
    pub inbox: crate::service::inbox::Inbox,
    /// Read receipts and typing indicators.
    pub outbound: Arc<crate::service::outbound::Outbound>,
    /// Replies to customers.
    pub outbox: crate::service::outbox::Outbox,
    /// Contacts, their catalogue, segments and imports.
    pub contacts: crate::service::contacts::Contacts,
    /// The outgoing word filter and its term lists.
    pub filter: Arc<crate::service::compliance::WordFilter>,
    /// Keyword rules.
    pub automation: crate::service::automation::Automation,
    /// The cost ledger and the rate card.
    pub costs: crate::service::costs::Costs,
    /// Broadcast campaigns.
    pub campaigns: crate::service::campaigns::Campaigns,
    /// Outbound webhooks: endpoints, their delivery log and replays.
    pub webhooks: crate::service::webhooks::Webhooks,
    /// The CRM card and its connector.
    pub crm: crate::service::crm::Crm,
    /// Web Push: the devices people subscribe.
    pub push: crate::service::push::Push,
    /// The files messages carry, kept.
    pub media: Arc<crate::service::media::MediaKeeper>,
    /// Retention policies, holds and purges.
    pub retention: Arc<crate::service::retention::Retention>,
    /// Numbers connected at run time.
    pub numbers: crate::service::numbers::Numbers,
}

/// The query's parameters. An empty one (`?tag=`) is left out, for every route alike: forms
/// send their empty fields so, and the OpenAPI document says so (`allowEmptyValue`).
fn parse_query(raw: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .filter(|(_, value)| !value.is_empty())
        .collect()
}

/// Unsafe methods are writes; they need the CSRF token when a cookie authenticates them.
fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The whole request path: route, body limit, authentication, CSRF, access, handler.
/// Reads a request's body once the dispatcher allows it: given the limit, the body, `None` when
/// it is larger (413), or why it could not be read.
pub type BodyReader =
    Box<dyn FnOnce(BodyTarget) -> BoxFuture<'static, Result<BodyRead, BodyReadError>> + Send>;

/// Where a body goes: into memory, or (an import's file) to disk, never whole in memory.
#[derive(Debug)]
pub enum BodyTarget {
    Memory(usize),
    File {
        limit: usize,
        path: std::path::PathBuf,
    },
}

/// A body read: its bytes, or the size of the file written, or over the limit.
#[derive(Debug)]
pub enum BodyRead {
    Memory(Bytes),
    File(u64),
    TooLarge,
}

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyReadError {
    /// It stopped coming (408).
    Stalled(String),
    /// Anything else (400).
    Unreadable(String),
}

/// Reads the body within this route's limit (a spooled route's to a new file in the spool
/// directory), or answers why not.
async fn read_body(
    state: &ApiState,
    route: &Route,
    body: BodyReader,
) -> Result<(Bytes, Option<Spooled>), Failure> {
    let (target, limit, key) = match route.body {
        BodyKind::Empty => (BodyTarget::Memory(0), 0, None),
        BodyKind::Json => (BodyTarget::Memory(state.max_body), state.max_body, None),
        BodyKind::Upload | BodyKind::LargeJson => (
            BodyTarget::Memory(state.max_upload),
            state.max_upload,
            Some("http.max_upload_bytes"),
        ),
        BodyKind::Spool => {
            std::fs::create_dir_all(&state.spool_dir).map_err(|e| {
                Failure::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::StoreUnavailable,
                    format!("cannot keep the file: {e}"),
                )
            })?;
            let name = format!("{}.upload", crate::domain::new_id("up"));
            let path = state.spool_dir.join(&name);
            (
                BodyTarget::File {
                    limit: state.max_spool,
                    path,
                },
                state.max_spool,
                Some("contacts.import_max_mib"),
            )
        }
    };
    let spool_name = match &target {
        BodyTarget::File { path, .. } => Some(path.clone()),
        BodyTarget::Memory(_) => None,
    };
    match body(target).await {
        Ok(BodyRead::Memory(body)) => Ok((body, None)),
        Ok(BodyRead::File(bytes)) => {
            Ok((Bytes::new(), spool_name.map(|path| Spooled { path, bytes })))
        }
        Ok(BodyRead::TooLarge) => Err(Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            match key {
                Some(key) => format!("this file is over {limit} bytes (the server's {key})"),
                None if limit == 0 => "this endpoint takes no request body".to_owned(),
                None => format!("request bodies here are limited to {limit} bytes"),
            },
        )),
        Err(BodyReadError::Stalled(e)) => Err(Failure::new(
            StatusCode::REQUEST_TIMEOUT,
            ErrorCode::BodyTimeout,
            e,
        )),
        Err(BodyReadError::Unreadable(e)) => Err(Failure::bad_request(format!(
            "could not read the body: {e}"
        ))),
    }
}

/// The API's entry point. The body is read only after the caller is authenticated and holds the
/// route's permission (public routes: at once, within the small JSON limit), so an anonymous or
/// unauthorised request never makes the server buffer an upload.
pub async fn dispatch(
    state: ApiState,
    method: Method,
    tail: String,
    query: String,
    headers: HeaderMap,
    peer: Option<PeerAddr>,
    body: BodyReader,
) -> Response {
    match dispatch_inner(state, method, tail, query, headers, peer, body).await {
        Ok(response) | Err(response) => response,
    }
}

async fn dispatch_inner(
    state: ApiState,
    method: Method,
    tail: String,
    query: String,
    headers: HeaderMap,
    peer: Option<PeerAddr>,
    body: BodyReader,
) -> Result<Response, Response> {
    let fail = |f: Failure| f.into_response();
    let segments: Vec<&str> = tail.trim_end_matches('/').split('/').collect();
    let mut matching: Vec<(&Route, Vec<String>)> = routes()
        .iter()
        .filter_map(|r| r.matches(&segments).map(|p| (r, p)))
        .collect();
    // A literal segment wins over a parameter (`contacts/imports` before `contacts/{id}`), and
    // the resource it names is the only one the request is about: `GET contacts/bulk-tags` is a
    // 405 listing bulk-tags' methods, not a read of a contact called "bulk-tags".
    matching.sort_by_key(|(r, _)| r.path.matches('{').count());
    let Some(resource) = matching.first().map(|(r, _)| r.path) else {
        return Err(fail(Failure::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "no such endpoint",
        )));
    };
    matching.retain(|(r, _)| r.path == resource);
    let Some((route, params)) = matching.iter().find(|(r, _)| r.method == method).cloned() else {
        let allowed: Vec<&str> = matching.iter().map(|(r, _)| r.method.as_str()).collect();
        let mut response = fail(Failure::new(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::MethodNotAllowed,
            format!("use {}", allowed.join(", ")),
        ));
        if let Ok(v) = HeaderValue::from_str(&allowed.join(", ")) {
            response.headers_mut().insert("allow", v);
        }
        return Err(response);
    };
    let meta = RequestMeta {
        ip: client_ip(peer.map(|p| p.0.ip()), &headers, &state.trusted_proxies),
        user_agent: headers
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(300).collect()),
    };
    let mut req = ApiRequest {
        method: method.clone(),
        params,
        query: parse_query(&query),
        headers,
        body: Bytes::new(),
        spooled: None,
        meta: meta.clone(),
    };
    let handler = match route.handler {
        Handler::Public(h) => {
            // Public routes take a credential (sign-in, token, setup): each client address
            // gets so many attempts, right or wrong, before a byte of the body is read.
            if let Some(ip) = meta.ip {
                state
                    .attempts
                    .admit(ip)
                    .map_err(|wait| fail(too_many_attempts(&state, wait)))?;
            }
            (req.body, req.spooled) = read_body(&state, route, body).await.map_err(fail)?;
            return h(PublicCtx {
                req,
                auth: Arc::clone(&state.auth),
                cookies: state.cookies,
            })
            .await
            .map_err(fail);
        }
        Handler::Private(h) => h,
    };

    // Authentication: a bearer credential wins over a cookie, so API clients never need CSRF.
    let bearer = req
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").map(str::trim).map(str::to_owned));
    let cookie = cookie_value(&req.headers, state.cookies.name()).map(str::to_owned);
    let principal = match (&bearer, &cookie) {
        (Some(b), _) if b.starts_with("sbk_") => state.auth.from_api_key(b, meta).await,
        (Some(b), _) => {
            state
                .auth
                .from_session(Credential::Bearer { token: b.clone() }, meta)
                .await
        }
        (None, Some(c)) => {
            state
                .auth
                .from_session(Credential::Cookie { token: c.clone() }, meta)
                .await
        }
        (None, None) => Ok(None),
    }
    .map_err(|e| fail(e.into()))?;
    let Some(principal) = principal else {
        return Err(fail(Failure::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
            "sign in first: a session cookie, a bearer token or an API key is required",
        )));
    };
    let scope = principal.scope(&state.store);

    if let Credential::Cookie { token: t } = &principal.credential {
        if is_write(&req.method) {
            let presented = req
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if cross_origin(&req.headers) || !token::same(presented, &token::csrf_for(t)) {
                let line = principal.audit(route.action, None, "denied");
                let _ = scope.append_audit(line).await;
                return Err(fail(Failure::new(
                    StatusCode::FORBIDDEN,
                    ErrorCode::Csrf,
                    "missing or wrong X-CSRF-Token (from the sign-in answer or GET /api/v1/auth/me)",
                )));
            }
        }
    }

    if let Access::Needs(permission) = route.access {
        if !principal.can(permission) {
            let target = req.params.first().cloned();
            let line = principal.audit(route.action, target, "denied");
            scope.append_audit(line).await.map_err(|e| fail(e.into()))?;
            return Err(fail(Failure::forbidden(format!(
                "your role does not grant `{permission}`"
            ))));
        }
    }

    // Only now, for a caller who may do this, is the body read.
    (req.body, req.spooled) = read_body(&state, route, body).await.map_err(fail)?;
    let target = req.params.first().cloned();
    let audit_success = route.audit_success;
    let changes_access = route.changes_access;
    let ctx = Ctx {
        req,
        principal: principal.clone(),
        scope: scope.clone(),
        auth: Arc::clone(&state.auth),
        cookies: state.cookies,
        action: route.action,
        hub: Arc::clone(&state.hub),
        inbox: state.inbox.clone(),
        outbound: Arc::clone(&state.outbound),
        media: Arc::clone(&state.media),
        retention: Arc::clone(&state.retention),
        numbers: state.numbers.clone(),
        webhooks: state.webhooks.clone(),
        crm: state.crm.clone(),
        push: state.push.clone(),
        outbox: state.outbox.clone(),
        contacts: state.contacts.clone(),
        filter: Arc::clone(&state.filter),
        automation: state.automation.clone(),
        costs: state.costs.clone(),
        campaigns: state.campaigns.clone(),
    };
    let response = match handler(ctx).await {
        Ok(response) => response,
        Err(refused) => {
            // An id the caller may not see (another tenant's, outside their team) is answered
            // 404 like one that does not exist, and recorded, once a minute per caller and
            // route, so probing leaves a trace without flooding the log.
            if refused.status == StatusCode::NOT_FOUND && target.is_some() {
                let key = format!("{}:{}", principal.actor_id(), route.action);
                if state.auth.refusals.admit(&key, std::time::Instant::now()) {
                    let line = principal.audit(route.action, target.clone(), "not_found");
                    let _ = scope.append_audit(line).await;
                }
            }
            return Err(fail(refused));
        }
    };
    if changes_access && response.status().is_success() {
        state.hub.access_changed(&principal.tenant);
    }
    if audit_success && response.status().is_success() {
        let line = principal.audit(route.action, target, "ok");
        scope.append_audit(line).await.map_err(|e| fail(e.into()))?;
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_unique_and_match_their_own_paths() {
        let mut seen = std::collections::HashSet::new();
        for r in routes() {
            assert!(
                seen.insert((r.method.clone(), r.path)),
                "{} {} twice",
                r.method,
                r.path
            );
            let concrete: Vec<String> = r
                .path
                .split('/')
                .map(|s| {
                    if s.starts_with('{') {
                        "x".into()
                    } else {
                        s.to_owned()
                    }
                })
                .collect();
            let segments: Vec<&str> = concrete.iter().map(String::as_str).collect();
            assert!(r.matches(&segments).is_some(), "{}", r.path);
        }
    }

    /// docs/security.md lists every route with its access, and every permission with the
    /// presets that hold it, exactly as the code has them.
    #[test]
    fn the_security_document_matches_the_code() {
        let doc = include_str!("../../../docs/security.md");
        for r in routes() {
            let access = match r.access {
                Access::Public => "public".to_owned(),
                Access::SignedIn => "any signed-in caller".to_owned(),
                Access::Needs(p) => format!("`{p}`"),
            };
            let row = format!(
                "| `{} /api/v1/{}` | {access} | `{}` |",
                r.method, r.path, r.action
            );
            assert!(doc.contains(&row), "docs/security.md lacks: {row}");
            let body = match r.body {
                BodyKind::Empty | BodyKind::Json => {
                    assert_eq!(r.body, BodyKind::of(&r.method), "{row}: the default body");
                    continue;
                }
                BodyKind::LargeJson => "JSON, `http.max_upload_bytes` (16 MiB)",
                BodyKind::Upload => "a file, `http.max_upload_bytes` (16 MiB)",
                BodyKind::Spool => {
                    "a CSV file written to disk, `contacts.import_max_mib` (100 MiB)"
                }
            };
            let row = format!("| `{} /api/v1/{}` | {body} |", r.method, r.path);
            assert!(doc.contains(&row), "docs/security.md lacks: {row}");
        }
        for p in Permission::ALL {
            let cells: Vec<&str> = switchboard_shared::PresetRole::ALL
                .iter()
                .map(|preset| {
                    if crate::auth::roles::effective(preset.permissions()).contains(p) {
                        "✓"
                    } else {
                        ""
                    }
                })
                .collect();
            let row = format!("| `{p}` | {} |", cells.join(" | "));
            assert!(doc.contains(&row), "docs/security.md lacks: {row}");
        }
    }
}
