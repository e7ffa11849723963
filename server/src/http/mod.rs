//! warp filters: the webhook receiver, health, readiness and metrics. Handlers translate between
//! HTTP and the `service` layer and hold no business logic; every error answer is an
//! [`ApiErrorBody`] with a precise status.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, TryStreamExt as _};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Deserialize;
use switchboard_shared::ErrorCode;
use warp::http::{HeaderMap, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::api::{self, ApiState};
use crate::connector::signature;
use crate::limits::retry_after_secs;
use crate::service::inbound::{Inbound, InboundError};
use crate::store::Store;
use crate::store::StoreStats;
use crate::web::{client_ip, error_response, secure, PeerAddr};

pub mod pwa;
mod pwa_files;
pub mod serve;
mod setup;

fn html_response(body: String) -> Response {
    let mut response = Response::new(body.into());
    response.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
        .headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    response
}

pub const WEBHOOK_PATH: &str = "webhooks/whatsapp";

/// What the HTTP layer needs from the rest of the server.
#[derive(Clone)]
pub struct HttpState {
    pub inbound: Arc<Inbound>,
    pub store: Arc<dyn Store>,
    pub metrics: PrometheusHandle,
    /// False while starting and while draining for shutdown.
    pub ready: Arc<AtomicBool>,
    pub max_webhook_body: usize,
    /// KiB of webhook bodies that may be held before their signatures are checked, across all
    /// senders: each body takes its size from here while it is read and verified.
    pub unverified: Arc<tokio::sync::Semaphore>,
    /// Webhooks from addresses that sent forged signatures, paced.
    pub senders: Arc<crate::limits::SenderPace>,
    /// The longest a request body may pause between two chunks (`http.header_timeout_secs`).
    pub body_idle: Duration,
    /// Whether this server terminates TLS itself (then HSTS is sent).
    pub tls: bool,
    /// The REST API and sign-in.
    pub api: ApiState,
}

fn json_response(status: StatusCode, value: &serde_json::Value) -> Response {
    let mut response = warp::reply::json(value).into_response();
    *response.status_mut() = status;
    response
}

fn with<T: Clone + Send + Sync + 'static>(
    value: T,
) -> impl Filter<Extract = (T,), Error = Infallible> + Clone {
    warp::any().map(move || value.clone())
}

pub fn routes(state: HttpState) -> warp::filters::BoxedFilter<(Response,)> {
    let webhook_verify = warp::path!("webhooks" / "whatsapp")
        .and(warp::get())
        .and(warp::query::<VerifyQuery>())
        .and(with(Arc::clone(&state.inbound)))
        .map(|q: VerifyQuery, inbound: Arc<Inbound>| verify(q, &inbound));

    let webhook_receive = warp::path!("webhooks" / "whatsapp")
        .and(warp::post())
        .and(with(state.clone()))
        .and(warp::ext::optional::<PeerAddr>())
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
        .then(
            |state: HttpState, peer: Option<PeerAddr>, headers: HeaderMap, body| async move {
                let sender =
                    client_ip(peer.map(|p| p.0.ip()), &headers, &state.api.trusted_proxies);
                receive(state, sender, &headers, body).await
            },
        );

    // The PWA when this binary carries it (or SWITCHBOARD_PWA_DIR names a build), else a plain
    // page saying what runs and how to build the app.
    let app = pwa::Source::from_env();
    let has_app = app.has_app();
    let index = warp::path::end()
        .and(warp::get())
        .and(warp::header::headers_cloned())
        .and(with(state.clone()))
        .and(with(app.clone()))
        .then(
            move |headers: warp::http::HeaderMap, state: HttpState, app: pwa::Source| async move {
                match has_app.then(|| pwa::respond(&app, "/", &headers)).flatten() {
                    Some(response) => response,
                    None => index(&state).await,
                }
            },
        );
    let assets = warp::get()
        .or(warp::head())
        .unify()
        .and(warp::path::full())
        .and(warp::header::headers_cloned())
        .and(with(app))
        .and_then(
            |path: warp::path::FullPath, headers: warp::http::HeaderMap, app: pwa::Source| async move {
                pwa::respond(&app, path.as_str(), &headers).ok_or_else(warp::reject::not_found)
            },
        );

    let healthz = warp::path!("healthz")
        .and(warp::get())
        .map(|| json_response(StatusCode::OK, &serde_json::json!({"status": "ok"})));

    let readyz = warp::path!("readyz")
        .and(warp::get())
        .and(with(state.clone()))
        .then(|state: HttpState| async move {
            if !state.ready.load(Ordering::Acquire) {
                return error_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::NotReady,
                    "starting or shutting down",
                );
            }
            match state.store.ping().await {
                Ok(()) => json_response(StatusCode::OK, &serde_json::json!({"status": "ready"})),
                Err(e) => error_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    e.refusal().0,
                    e.to_string(),
                ),
            }
        });

    let body_idle = state.body_idle;
    let api = warp::path!("api" / "v1" / ..)
        .and(warp::path::tail())
        .and(warp::method())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and(warp::ext::optional::<PeerAddr>())
        .and(warp::body::stream())
        .and(with(state.api.clone()))
        .then(
            move |tail: warp::path::Tail,
                  method,
                  query,
                  headers,
                  peer,
                  body,
                  api_state: ApiState| async move {
                let body: api::BodyReader = Box::new(move |target| {
                    Box::pin(async move {
                        let read = match target {
                            api::BodyTarget::Memory(limit) => read_limited(body, limit, body_idle)
                                .await
                                .map(|b| b.map_or(api::BodyRead::TooLarge, api::BodyRead::Memory)),
                            api::BodyTarget::File { limit, path } => {
                                read_to_file(body, limit, body_idle, &path)
                                    .await
                                    .map(|n| n.map_or(api::BodyRead::TooLarge, api::BodyRead::File))
                            }
                        };
                        read.map_err(|e| match e {
                            BodyError::TimedOut => api::BodyReadError::Stalled(e.to_string()),
                            BodyError::Read(_) | BodyError::Write(_) => {
                                api::BodyReadError::Unreadable(e.to_string())
                            }
                        })
                    })
                });
                api::dispatch(
                    api_state,
                    method,
                    tail.as_str().to_owned(),
                    query,
                    headers,
                    peer,
                    body,
                )
                .await
            },
        );

    // The REST API's OpenAPI document: public (it describes, it grants nothing), made once.
    static OPENAPI: std::sync::LazyLock<serde_json::Value> =
        std::sync::LazyLock::new(api::openapi::document);
    let openapi = warp::path!("api" / "openapi.json")
        .and(warp::get())
        .map(|| json_response(StatusCode::OK, &OPENAPI));

    let setup_page = warp::path!("setup")
        .and(warp::get())
        .and(warp::query::<std::collections::HashMap<String, String>>())
        .map(|q: std::collections::HashMap<String, String>| {
            html_response(setup::page(q.get("token").map(String::as_str), None))
        });
    // The form is read here, not with warp's body filters, so that a body over the limit is
    // answered 413 (warp's rejection would fall through to the GET route and answer 405).
    let setup_submit = warp::path!("setup")
        .and(warp::post())
        .and(warp::ext::optional::<PeerAddr>())
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
        .and(with(state.api.clone()))
        .then(
            move |peer: Option<PeerAddr>, headers, body, api_state: ApiState| async move {
                const SETUP_FORM_LIMIT: usize = 16 * 1024;
                let ip = client_ip(peer.map(|p| p.0.ip()), &headers, &api_state.trusted_proxies);
                if let Some(wait) = ip.and_then(|ip| api_state.attempts.admit(ip).err()) {
                    let failure = api::too_many_attempts(&api_state, wait);
                    let mut response = html_response(setup::refused(&failure.message));
                    *response.status_mut() = failure.status;
                    response
                        .headers_mut()
                        .insert("retry-after", HeaderValue::from(retry_after_secs(wait)));
                    return response;
                }
                match read_limited(body, SETUP_FORM_LIMIT, body_idle).await {
                    Ok(Some(body)) => {
                        let form = url::form_urlencoded::parse(&body).into_owned().collect();
                        html_response(setup::submit(api_state, peer, headers, form).await)
                    }
                    Ok(None) => error_response(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        ErrorCode::PayloadTooLarge,
                        format!("the setup form is limited to {SETUP_FORM_LIMIT} bytes"),
                    ),
                    Err(e) => {
                        error_response(StatusCode::BAD_REQUEST, ErrorCode::BadBody, e.to_string())
                    }
                }
            },
        );

    let tls = state.tls;
    let metrics = warp::path!("metrics")
        .and(warp::get())
        .and(with(state.metrics.clone()))
        .map(|handle: PrometheusHandle| {
            let mut response = Response::new(handle.render().into());
            response.headers_mut().insert(
                "content-type",
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            response
        });

    index
        .or(openapi)
        .unify()
        .or(api)
        .unify()
        .or(setup_page)
        .unify()
        .or(setup_submit)
        .unify()
        .or(webhook_verify)
        .unify()
        .or(webhook_receive)
        .unify()
        .or(healthz)
        .unify()
        .or(readyz)
        .unify()
        .or(metrics)
        .unify()
        .or(assets)
        .unify()
        .recover(recover)
        .unify()
        .map(move |response: Response| secure(response, tls))
        .boxed()
}

/// `/` when the binary carries no PWA: what is running and what is stored, from the store itself.
async fn index(state: &HttpState) -> Response {
    let stats = match state.store.stats().await {
        Ok(StoreStats {
            messages: Some(messages),
            statuses: Some(statuses),
            account_events: Some(events),
            journal_entries: Some(journaled),
            ..
        }) => format!(
            "stored: {messages} messages, {statuses} statuses, {events} account events, \
             {journaled} webhooks journaled"
        ),
        Ok(_) => "the store answers (it keeps no counts: see GET /metrics)".to_owned(),
        Err(e) => format!("the store is unavailable: {e}"),
    };
    let body = format!(
        "Switchboard {version} is running.\n{stats}\n\n\
         Endpoints: POST /webhooks/whatsapp (Meta's webhooks), the REST API under /api/v1 \
         (sign in with POST /api/v1/auth/login or /api/v1/auth/token), GET /healthz, \
         GET /readyz, GET /metrics (Prometheus).\n\
         First start: open the one-time /setup link the server printed to create the owner.\n\
         Export the stored messages with `switchboard export --out messages.jsonl`.\n\
         The agent and supervisor app is not built into this binary: build it with \
         `cargo xtask dist` (or start the demo with `cargo xtask run`).\n",
        version = env!("CARGO_PKG_VERSION"),
    );
    let mut response = Response::new(body.into());
    response.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[derive(Deserialize)]
struct VerifyQuery {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

/// Meta's handshake: echo `hub.challenge` as the raw body when the token matches.
fn verify(q: VerifyQuery, inbound: &Inbound) -> Response {
    match (q.mode.as_deref(), q.verify_token, q.challenge) {
        (Some("subscribe"), Some(token), Some(challenge))
            if inbound.verify_token_matches(&token) =>
        {
            let mut response = Response::new(challenge.into());
            response.headers_mut().insert(
                "content-type",
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            response
        }
        (Some("subscribe"), Some(_), Some(_)) => error_response(
            StatusCode::FORBIDDEN,
            ErrorCode::BadVerifyToken,
            "hub.verify_token does not match",
        ),
        _ => error_response(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadHandshake,
            "expected hub.mode=subscribe, hub.verify_token and hub.challenge",
        ),
    }
}

/// How much of an oversized body is read and thrown away so that the client, still uploading,
/// reads the 413 instead of a reset connection. Beyond this the connection is simply closed, and
/// a client still sending may see the reset before the status (the socket's unread data turns
/// the close into a reset). Four times the largest upload limit, so that a file somewhat over
/// any limit always gets its 413 (one 17 MiB upload against the 16 MiB limit sometimes got a
/// reset with the drain at exactly 16 MiB); what it costs is reading, never keeping, the bytes.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// The longest a whole request body may take (16 MiB at ~300 KB/s).
const BODY_TOTAL: Duration = Duration::from_secs(60);

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the body stalled (no data for http.header_timeout_secs, or more than 60 s in all)")]
    TimedOut,
    #[error(transparent)]
    Read(#[from] warp::Error),
    #[error("could not keep the upload: {0}")]
    Write(#[from] std::io::Error),
}

/// The longest a file body may take in all (100 MiB at ~300 KB/s).
const FILE_BODY_TOTAL: Duration = Duration::from_secs(600);

/// Writes a body of at most `limit` bytes to `path` (synced to disk before it answers), never
/// holding more than one chunk in memory. `Ok(None)` when it is larger: the file is removed and
/// the excess drained (up to three times the limit) so the sender reads the 413.
async fn read_to_file<S, B>(
    body: S,
    limit: usize,
    idle: Duration,
    path: &std::path::Path,
) -> Result<Option<u64>, BodyError>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    use tokio::io::AsyncWriteExt as _;
    let mut body = std::pin::pin!(body);
    let mut file = Some(tokio::fs::File::create(path).await?);
    let mut seen = 0usize;
    let deadline = tokio::time::Instant::now() + FILE_BODY_TOTAL;
    let drain = limit.saturating_mul(3).max(DRAIN_LIMIT);
    let outcome = async {
        loop {
            let wait = tokio::time::Instant::now() + idle;
            let next = tokio::time::timeout_at(wait.min(deadline), body.try_next())
                .await
                .map_err(|_| BodyError::TimedOut)??;
            let Some(mut chunk) = next else { break };
            seen += chunk.remaining();
            if seen > limit {
                file = None;
                if seen > drain {
                    break;
                }
                chunk.advance(chunk.remaining());
                continue;
            }
            if let Some(f) = file.as_mut() {
                while chunk.has_remaining() {
                    let bytes = chunk.chunk();
                    f.write_all(bytes).await?;
                    let n = bytes.len();
                    chunk.advance(n);
                }
            }
        }
        Ok::<(), BodyError>(())
    }
    .await;
    match (outcome, file) {
        (Ok(()), Some(mut f)) => {
            f.flush().await?;
            f.sync_all().await?;
            Ok(Some(seen as u64))
        }
        (result, _) => {
            let _ = tokio::fs::remove_file(path).await;
            result.map(|()| None)
        }
    }
}

/// Reads a body of at most `limit` bytes. `Ok(None)` when it is larger (the excess is drained,
/// not kept, up to [`DRAIN_LIMIT`]).
async fn read_limited<S, B>(
    body: S,
    limit: usize,
    idle: Duration,
) -> Result<Option<Bytes>, BodyError>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let mut body = std::pin::pin!(body);
    let mut out = BytesMut::new();
    let mut seen = 0usize;
    let deadline = tokio::time::Instant::now() + BODY_TOTAL;
    loop {
        // A body must keep coming: a stalled sender holds nothing open for long.
        let wait = tokio::time::Instant::now() + idle;
        let next = tokio::time::timeout_at(wait.min(deadline), body.try_next())
            .await
            .map_err(|_| BodyError::TimedOut)??;
        let Some(mut chunk) = next else { break };
        seen += chunk.remaining();
        if seen > limit {
            out.clear();
            if seen > DRAIN_LIMIT {
                return Ok(None);
            }
            chunk.advance(chunk.remaining());
            continue;
        }
        while chunk.has_remaining() {
            let bytes = chunk.chunk();
            out.extend_from_slice(bytes);
            let n = bytes.len();
            chunk.advance(n);
        }
    }
    Ok((seen <= limit).then(|| out.freeze()))
}

async fn receive<S, B>(
    state: HttpState,
    sender: Option<std::net::IpAddr>,
    headers: &HeaderMap,
    body: S,
) -> Response
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let length = header("content-length").and_then(|v| v.parse::<u64>().ok());
    let sig = header(signature::HEADER).map(str::to_owned);
    if let Some(wait) = sender.and_then(|ip| state.senders.admit(ip).err()) {
        metrics::counter!("switchboard_webhook_rejected_total", "reason" => "rate_limited")
            .increment(1);
        let mut response = error_response(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            state.senders.refusal(wait),
        );
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from(retry_after_secs(wait)));
        return response;
    }
    let too_large = || {
        metrics::counter!("switchboard_webhook_rejected_total", "reason" => "too_large")
            .increment(1);
        error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            format!(
                "webhook bodies are limited to {} bytes",
                state.max_webhook_body
            ),
        )
    };
    if length.is_some_and(|l| l > DRAIN_LIMIT as u64) {
        return too_large();
    }
    // Room for the body among all unverified ones (the declared length, else the limit): a
    // flood of large unsigned bodies waits or is told to come back, never held all at once.
    let reserve_kib = (length.unwrap_or(state.max_webhook_body as u64))
        .min(state.max_webhook_body as u64)
        .div_ceil(1024)
        .max(1) as u32;
    let room = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        Arc::clone(&state.unverified).acquire_many_owned(reserve_kib),
    )
    .await;
    let Ok(Ok(_room)) = room else {
        metrics::counter!("switchboard_webhook_rejected_total", "reason" => "busy").increment(1);
        let mut response = error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Busy,
            "too many webhook bodies are being received at once; retry",
        );
        response
            .headers_mut()
            .insert("retry-after", warp::http::HeaderValue::from_static("1"));
        return response;
    };
    let body = match read_limited(body, state.max_webhook_body, state.body_idle).await {
        Ok(Some(body)) => body,
        Ok(None) => return too_large(),
        Err(BodyError::TimedOut) => {
            return error_response(
                StatusCode::REQUEST_TIMEOUT,
                ErrorCode::BodyTimeout,
                BodyError::TimedOut.to_string(),
            )
        }
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                ErrorCode::BadBody,
                format!("could not read the body: {e}"),
            )
        }
    };
    let received_at = crate::domain::now_ms();
    match state
        .inbound
        .handle(&body, sig.as_deref(), received_at)
        .await
    {
        Ok(_) => {
            if let Some(ip) = sender {
                state.senders.signed(ip);
            }
            json_response(StatusCode::OK, &serde_json::json!({"status": "stored"}))
        }
        Err(error) => {
            if let (Some(ip), true) = (sender, error.is_forgery()) {
                state.senders.forged(ip);
            }
            let (status, code) = match &error {
                InboundError::MissingSignature => {
                    (StatusCode::UNAUTHORIZED, ErrorCode::MissingSignature)
                }
                InboundError::BadSignature => {
                    (StatusCode::UNAUTHORIZED, ErrorCode::InvalidSignature)
                }
                InboundError::WrongApp(_) | InboundError::WrongAppAccount(_) => {
                    (StatusCode::UNAUTHORIZED, ErrorCode::InvalidSignature)
                }
                InboundError::Malformed(_) => {
                    (StatusCode::BAD_REQUEST, ErrorCode::MalformedWebhook)
                }
                InboundError::Store(e) => (StatusCode::SERVICE_UNAVAILABLE, e.refusal().0),
            };
            metrics::counter!("switchboard_webhook_rejected_total", "reason" => code.as_str())
                .increment(1);
            if status.is_server_error() {
                tracing::error!(%error, "webhook not stored; Meta will retry");
            } else {
                tracing::warn!(%error, "webhook refused");
            }
            error_response(status, code, error.to_string())
        }
    }
}

async fn recover(rejection: Rejection) -> Result<Response, Infallible> {
    Ok(if rejection.is_not_found() {
        error_response(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "no such endpoint",
        )
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::MethodNotAllowed,
            "method not allowed here",
        )
    } else if rejection.find::<warp::reject::InvalidQuery>().is_some() {
        error_response(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadQuery,
            "invalid query string",
        )
    } else if rejection.find::<warp::reject::InvalidHeader>().is_some() {
        error_response(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadHeader,
            "invalid header value",
        )
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            "request body too large",
        )
    } else {
        tracing::warn!(?rejection, "unhandled rejection");
        error_response(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadRequest,
            "the request could not be handled",
        )
    })
}
