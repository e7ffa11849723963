//! `/ws`: the upgrade, taken over from hyper so tokio-tungstenite runs with small buffers (warp's
//! `ws()` filter cannot shrink tungstenite's read buffer), and one task pair per connection: a
//! reader that handles client frames, and a writer that drains the bounded queue, batching every
//! frame ready into one flush.
//!
//! Authentication: the session cookie (same origin only, checked against `Origin`), an
//! `Authorization: Bearer` token or API key at the upgrade, or, for browsers that cannot set
//! headers, an `auth` frame first. The credential is re-checked at every heartbeat, so a socket
//! outlives neither a logout nor a disabled account.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use switchboard_shared::protocol::{close, ClientFrame, ServerFrame, Topic, PROTOCOL_VERSION};
use switchboard_shared::ErrorCode;
use switchboard_shared::{Permission, PhoneNumberId, UserId};
use tokio::sync::{mpsc, Notify};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use warp::http::{HeaderValue, StatusCode};
use warp::reply::Response;

use super::{frame, Frame, Hold, Hub, Subscribed, Subscriber};
use crate::auth::{Authenticator, Credential, Principal, RequestMeta, TenantScope};
use crate::domain::CommandError;
use crate::limits::Pace;
use crate::service::commands::{self, Services};
use crate::service::compliance::FilterAck;
use crate::service::outbound::Draft;
use crate::web::{client_ip, cookie_value, cross_origin, CookiePolicy};

/// Frames queued for one connection before it counts as too slow.
pub const QUEUE_DEPTH: usize = 256;
/// The most frames written before one flush.
const BATCH: usize = 64;
/// How long an unauthenticated socket may take to send `auth`.
const AUTH_WINDOW: Duration = Duration::from_secs(10);
/// Topics one connection may hold.
const MAX_TOPICS: usize = 64;
/// The largest frame a client may send.
const MAX_CLIENT_FRAME: usize = 16 * 1024;

/// Small buffers: an idle socket holds little more than its read buffer. Writes collect up to
/// 16 KiB before they reach the kernel, and the writer flushes after every batch: a burst of
/// frames costs one `send` instead of one per frame (issue 5's fanout: 2–3× the frames per CPU
/// second against eager writes; the buffer's capacity stays with a socket that had a burst).
fn socket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(16 * 1024)
        .max_write_buffer_size(256 * 1024)
        .max_message_size(Some(MAX_CLIENT_FRAME))
        .max_frame_size(Some(MAX_CLIENT_FRAME))
}

/// What the upgrade needs.
pub struct WsGate {
    pub hub: Arc<Hub>,
    pub services: Services,
    pub auth: Arc<Authenticator>,
    pub cookies: CookiePolicy,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
    pub heartbeat: Duration,
    /// Frames one socket may send: per second, and at once (see [`Pace`]).
    pub frames: (u32, u32),
    pub tls: bool,
}

/// Refusals for sending too fast, one after another, before the connection is closed: a client
/// that does not wait as told is not one to keep reading.
const MAX_REFUSED_IN_A_ROW: u32 = 100;

fn plain(status: StatusCode, code: ErrorCode, message: &str) -> Response {
    crate::web::error_response(status, code, message)
}

fn header<'a>(req: &'a hyper::Request<Incoming>, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Answers an upgrade request on `/ws`: 101 and a connection task, or a precise 4xx.
pub async fn upgrade(
    gate: Arc<WsGate>,
    mut req: hyper::Request<Incoming>,
    peer: SocketAddr,
) -> Response {
    let tls = gate.tls;
    let response = match accept(gate, &mut req, peer).await {
        Ok(response) | Err(response) => response,
    };
    crate::web::secure(response, tls)
}

async fn accept(
    gate: Arc<WsGate>,
    req: &mut hyper::Request<Incoming>,
    peer: SocketAddr,
) -> Result<Response, Response> {
    let has = |name: &str, token: &str| {
        header(req, name)
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    if req.method() != hyper::Method::GET
        || !has("connection", "upgrade")
        || !has("upgrade", "websocket")
    {
        return Err(plain(
            StatusCode::BAD_REQUEST,
            ErrorCode::NotAWebsocket,
            "connect with a WebSocket client (GET with Upgrade: websocket)",
        ));
    }
    if header(req, "sec-websocket-version") != Some("13") {
        let mut r = plain(
            StatusCode::UPGRADE_REQUIRED,
            ErrorCode::WebsocketVersion,
            "WebSocket version 13 is required",
        );
        r.headers_mut()
            .insert("sec-websocket-version", HeaderValue::from_static("13"));
        return Err(r);
    }
    let Some(key) = header(req, "sec-websocket-key").map(str::to_owned) else {
        return Err(plain(
            StatusCode::BAD_REQUEST,
            ErrorCode::NotAWebsocket,
            "Sec-WebSocket-Key is missing",
        ));
    };
    let headers = req.headers().clone();
    let meta = RequestMeta {
        ip: client_ip(Some(peer.ip()), &headers, &gate.trusted_proxies),
        user_agent: header(req, "user-agent").map(|v| v.chars().take(300).collect()),
    };
    let bearer = header(req, "authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|v| v.trim().to_owned());
    let cookie = cookie_value(&headers, gate.cookies.name()).map(str::to_owned);
    // Browsers always send `Origin` on a WebSocket upgrade: a cookie upgrade without one is not
    // a browser's, and a cookie is a browser's credential (bearer tokens and API keys are not).
    let no_origin = !headers.contains_key("origin");
    if cookie.is_some() && bearer.is_none() && (no_origin || cross_origin(&headers)) {
        // A page on another site must not ride the user's cookie (cross-site WebSocket hijacking).
        return Err(plain(
            StatusCode::FORBIDDEN,
            ErrorCode::CrossOrigin,
            "WebSocket connections with a session cookie must come from this origin",
        ));
    }
    let presented = bearer.or(cookie.map(|c| format!("cookie:{c}")));
    let principal = match &presented {
        Some(credential) => match authenticate(&gate.auth, credential, meta.clone()).await {
            Ok(Some(p)) => Some(p),
            Ok(None) => {
                return Err(plain(
                    StatusCode::UNAUTHORIZED,
                    ErrorCode::Unauthenticated,
                    "the credential is not valid (expired, revoked or logged out)",
                ))
            }
            Err(_) => {
                return Err(plain(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::StoreUnavailable,
                    "try again",
                ))
            }
        },
        None => None,
    };
    let on_upgrade = hyper::upgrade::on(req);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let ws = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(socket_config()),
                )
                .await;
                run(gate, ws, principal.zip(presented), meta).await;
            }
            Err(error) => tracing::debug!(%error, "WebSocket upgrade failed"),
        }
    });
    let mut response = Response::new(Vec::new().into());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = response.headers_mut();
    h.insert("upgrade", HeaderValue::from_static("websocket"));
    h.insert("connection", HeaderValue::from_static("Upgrade"));
    if let Ok(accept) = HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
        h.insert("sec-websocket-accept", accept);
    }
    Ok(response)
}

/// A credential as presented: `sbk_…` (API key), `cookie:sbs_…` or `sbs_…` (bearer).
async fn authenticate(
    auth: &Authenticator,
    credential: &str,
    meta: RequestMeta,
) -> Result<Option<Principal>, crate::store::StoreError> {
    if credential.starts_with("sbk_") {
        auth.from_api_key(credential, meta).await
    } else if let Some(token) = credential.strip_prefix("cookie:") {
        auth.from_session(
            Credential::Cookie {
                token: token.to_owned(),
            },
            meta,
        )
        .await
    } else {
        auth.from_session(
            Credential::Bearer {
                token: credential.to_owned(),
            },
            meta,
        )
        .await
    }
}

type Socket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// Why the connection ends. The reader decides (it alone waits on `wake`, which the hub
/// notifies when the queue overflows); the writer drains what is queued and sends the close.
struct Closing {
    code: std::sync::atomic::AtomicU16,
    wake: Arc<Notify>,
    too_slow: Arc<AtomicBool>,
}

impl Closing {
    /// Records why the reader ends the connection; the writer says it in the close frame.
    fn with(&self, code: u16) {
        self.code.store(code, Ordering::Release);
    }
}

fn close_message(code: u16) -> Message {
    let reason = match code {
        close::TOO_SLOW => "too slow: reconnect and resume with `after`",
        close::HEARTBEAT_TIMEOUT => "no frame within the heartbeat timeout",
        close::SESSION_ENDED => "the session ended; sign in again",
        close::UNAUTHENTICATED => "authenticate first",
        close::PROTOCOL_ERROR => "protocol error",
        close::TOO_BIG => "frame too large (16 KiB at most)",
        close::TOO_FAST => "too many frames past `rate_limited` refusals",
        _ => "closing",
    };
    Message::Close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    }))
}

async fn run(
    gate: Arc<WsGate>,
    ws: Socket,
    authenticated: Option<(Principal, String)>,
    meta: RequestMeta,
) {
    let (mut sink, mut stream) = ws.split();
    // Authentication by first frame, for clients that could not send a header or cookie.
    let (principal, credential) = match authenticated {
        Some(pair) => pair,
        None => {
            let first = tokio::time::timeout(AUTH_WINDOW, stream.next()).await;
            let token = match first {
                Ok(Some(Ok(Message::Text(text)))) => {
                    match serde_json::from_str::<ClientFrame>(text.as_str()) {
                        Ok(ClientFrame::Auth { token }) => Some(token),
                        _ => None,
                    }
                }
                _ => None,
            };
            let principal = match &token {
                Some(t) if !t.starts_with("cookie:") => authenticate(&gate.auth, t, meta.clone())
                    .await
                    .ok()
                    .flatten(),
                _ => None,
            };
            match (principal, token) {
                (Some(p), Some(t)) => (p, t),
                _ => {
                    let _ = sink.send(close_message(close::UNAUTHENTICATED)).await;
                    return;
                }
            }
        }
    };
    metrics::gauge!("switchboard_hub_connections").increment(1.0);
    let now = || crate::domain::now_ms();
    let user = principal.user().map(|u| (u.id.clone(), u.name.clone()));
    // Routing offers conversations to people who work an inbox: those who can reply and do not
    // oversee every conversation. Supervisors and admins take conversations by assignment.
    let routable = principal.can(Permission::ConversationsReply)
        && !principal.can(Permission::ConversationsReadAll);
    if let Some((id, name)) = &user {
        let state = gate
            .hub
            .presence
            .connected(&principal.tenant, id, name, routable, now());
        gate.hub.agent_changed(&principal.tenant, state);
    }
    let mut principal = principal;
    let scope = principal.scope(&gate.services.store);
    let (tx, mut rx) = mpsc::channel::<Frame>(QUEUE_DEPTH);
    let subscriber = Subscriber::new(
        gate.hub.next_subscriber_id(),
        tx.clone(),
        principal.viewer(),
    );
    let closing = Arc::new(Closing {
        code: std::sync::atomic::AtomicU16::new(0),
        wake: Arc::clone(&subscriber.wake),
        too_slow: Arc::clone(&subscriber.too_slow),
    });
    let _ = tx.try_send(frame(&ServerFrame::Ready {
        protocol: PROTOCOL_VERSION,
        tenant: principal.tenant.clone(),
        user: principal.user().map(|u| u.id.clone()),
        heartbeat_secs: gate.heartbeat.as_secs(),
        resume_window: gate.hub.window().events as u64,
        resume_secs: (gate.hub.window().keep_ms / 1000) as u64,
    }));

    // The writer: drains the queue in batches, pings, and closes when told. It says when it
    // flushed, for replays written at the client's pace (`catch_up`).
    let drained = Arc::new(Notify::new());
    let writer_drained = Arc::clone(&drained);
    let heartbeat = gate.heartbeat;
    let writer_closing = Arc::clone(&closing);
    let writer = tokio::spawn(async move {
        let mut ping = tokio::time::interval(heartbeat);
        ping.tick().await;
        loop {
            tokio::select! {
                biased;
                next = rx.recv() => {
                    let Some(first) = next else { break };
                    if sink.feed(Message::Text(first)).await.is_err() {
                        return;
                    }
                    let mut batch = 1;
                    while batch < BATCH {
                        match rx.try_recv() {
                            Ok(f) => {
                                if sink.feed(Message::Text(f)).await.is_err() {
                                    return;
                                }
                                batch += 1;
                            }
                            Err(_) => break,
                        }
                    }
                    if sink.flush().await.is_err() {
                        return;
                    }
                    writer_drained.notify_waiters();
                }
                _ = ping.tick() => {
                    if sink.send(Message::Ping(Vec::new().into())).await.is_err() {
                        return;
                    }
                }
            }
        }
        // The reader ended the connection: say why, when there is a reason.
        let code = if writer_closing.too_slow.load(Ordering::Acquire) {
            close::TOO_SLOW
        } else {
            writer_closing.code.load(Ordering::Acquire)
        };
        if code != 0 {
            let _ = sink.send(close_message(code)).await;
        } else {
            let _ = sink.close().await;
        }
    });

    let mut topics: HashSet<Topic> = HashSet::new();
    let pace = Pace::new(gate.frames.0, gate.frames.1);
    let mut refused_in_a_row = 0u32;
    let mut recheck = tokio::time::interval(heartbeat);
    recheck.tick().await;
    let silence = heartbeat * 3;
    let mut last_heard = tokio::time::Instant::now();
    // The hub's count of access changes when this caller was last checked.
    let mut checked = gate.hub.access_changes();
    loop {
        if closing.too_slow.load(Ordering::Acquire) {
            break;
        }
        tokio::select! {
            message = stream.next() => {
                last_heard = tokio::time::Instant::now();
                match message {
                    Some(Ok(Message::Text(text))) => {
                        for topic in subscriber.take_ended() {
                            topics.remove(&topic);
                        }
                        if let Some((id, _)) = &user {
                            let state = gate.hub.presence.active(&principal.tenant, id, now());
                            gate.hub.agent_changed(&principal.tenant, state);
                        }
                        let reply = match pace.admit() {
                            Ok(()) => {
                                refused_in_a_row = 0;
                                handle(&gate, &principal, &scope, &subscriber, &drained, &mut topics, text.as_str()).await
                            }
                            Err(wait) => {
                                refused_in_a_row += 1;
                                if refused_in_a_row > MAX_REFUSED_IN_A_ROW {
                                    closing.with(close::TOO_FAST);
                                    break;
                                }
                                Some(refusal(frame_id(text.as_str()), ErrorCode::RateLimited, pace.refusal(wait)))
                            }
                        };
                        if let Some(reply) = reply {
                            if !answer(&subscriber, reply).await {
                                break;
                            }
                        }
                    }
                    Some(Ok(Message::Binary(_))) => {
                        closing.with(close::PROTOCOL_ERROR);
                        break;
                    }
                    // A frame over the size limit: 1009 ("message too big"), as RFC 6455 says.
                    Some(Err(tokio_tungstenite::tungstenite::Error::Capacity(_))) => {
                        closing.with(close::TOO_BIG);
                        break;
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => {} // pings are answered by tungstenite; pongs prove life
                }
            }
            // The hub found this connection's queue full, or set its subscriptions aside
            // after an access change in the tenant.
            _ = closing.wake.notified() => {
                if closing.too_slow.load(Ordering::Acquire) {
                    break;
                }
                let notices = subscriber.take_notices();
                for topic in &notices.ended {
                    topics.remove(topic);
                }
                // Set aside after an access change, or set aside for a full queue while access
                // changed somewhere in the server: the caller is checked again first.
                let stale = !notices.parked.is_empty()
                    || (!notices.lagging.is_empty() && gate.hub.access_changes() != checked);
                if stale {
                    checked = gate.hub.access_changes();
                    match authenticate(&gate.auth, &credential, meta.clone()).await {
                        Ok(Some(fresh)) => principal = fresh,
                        Ok(None) => {
                            closing.with(close::SESSION_ENDED);
                            break;
                        }
                        // The store is away: nothing is put back until the caller could be
                        // checked, so the client is told to subscribe again.
                        Err(error) => tracing::warn!(%error, "could not re-check a socket's credential"),
                    }
                    subscriber.set_viewer(principal.viewer());
                }
                if !notices.parked.is_empty() {
                    put_back(&gate, &principal, &scope, &subscriber, &drained, &mut topics, notices.parked).await;
                }
                if !notices.lagging.is_empty() {
                    take_back(&gate, &principal, &subscriber, &drained, &mut topics, notices.lagging).await;
                }
            }
            // Exactly three heartbeats after the last frame heard (pongs count).
            _ = tokio::time::sleep_until(last_heard + silence) => {
                closing.with(close::HEARTBEAT_TIMEOUT);
                break;
            }
            _ = recheck.tick() => {
                checked = gate.hub.access_changes();
                match authenticate(&gate.auth, &credential, meta.clone()).await {
                    Ok(Some(fresh)) => {
                        // The hub checks every event against what the caller may see now.
                        subscriber.set_viewer(fresh.viewer());
                        principal = fresh;
                    }
                    Ok(None) => {
                        closing.with(close::SESSION_ENDED);
                        break;
                    }
                    Err(error) => tracing::warn!(%error, "could not re-check a socket's credential"),
                }
            }
        }
    }
    for topic in &topics {
        gate.hub
            .unsubscribe(&principal.tenant, topic, subscriber.id);
    }
    if let Some((id, _)) = &user {
        let in_view = subscriber.in_view.load(Ordering::Acquire);
        let state = gate
            .hub
            .presence
            .disconnected(&principal.tenant, id, in_view);
        gate.hub.agent_changed(&principal.tenant, state);
    }
    drop(subscriber);
    drop(tx);
    let _ = writer.await;
    metrics::gauge!("switchboard_hub_connections").decrement(1.0);
}

/// Puts back the subscriptions the hub set aside after an access change, for the caller as
/// checked again: each topic they may still follow resumes where it was (what came meanwhile is
/// replayed); the others end with `unsubscribed` and the reason.
async fn put_back(
    gate: &WsGate,
    principal: &Principal,
    scope: &TenantScope,
    subscriber: &Subscriber,
    drained: &Notify,
    topics: &mut HashSet<Topic>,
    parked: Vec<(Topic, u64)>,
) {
    for (topic, seq) in parked {
        if !topics.contains(&topic) {
            continue; // unsubscribed meanwhile
        }
        let allowed = may_subscribe(principal, scope, &topic).await.is_ok();
        let outcome = if allowed {
            gate.hub
                .rejoin(&principal.tenant, &topic, seq, subscriber.clone())
        } else {
            Subscribed::Refused
        };
        settle(subscriber, drained, topics, topic, outcome).await;
    }
}

/// Puts back the subscriptions the hub set aside because the connection's queue was full, once
/// the client has read (a quarter of the queue is free): each replays from the window what came
/// meanwhile, or is told to `resync` when that left the window. A client that reads nothing for
/// [`CATCH_UP_PATIENCE`] is too slow, and the connection closes.
async fn take_back(
    gate: &WsGate,
    principal: &Principal,
    subscriber: &Subscriber,
    drained: &Notify,
    topics: &mut HashSet<Topic>,
    lagging: Vec<(Topic, u64)>,
) {
    for (topic, seq) in lagging {
        if !topics.contains(&topic) {
            continue; // unsubscribed meanwhile
        }
        if !room(subscriber, drained).await {
            return give_up(subscriber);
        }
        let outcome = gate
            .hub
            .rejoin(&principal.tenant, &topic, seq, subscriber.clone());
        settle(subscriber, drained, topics, topic, outcome).await;
    }
}

/// Acts on a subscription put back: a refusal ends it (the client is told why), a long replay
/// is written at the client's pace.
async fn settle(
    subscriber: &Subscriber,
    drained: &Notify,
    topics: &mut HashSet<Topic>,
    topic: Topic,
    outcome: Subscribed,
) {
    match outcome {
        Subscribed::Refused => {
            topics.remove(&topic);
            subscriber.offer(frame(&ServerFrame::Unsubscribed {
                id: None,
                topic: topic.to_string(),
                reason: Some(super::ACCESS_REVOKED.to_owned()),
            }));
        }
        Subscribed::CatchUp { replay, hold, .. } => {
            catch_up(subscriber, drained, replay, hold).await
        }
        Subscribed::Resumed { .. } | Subscribed::Resync { .. } | Subscribed::TooSlow => {}
    }
}

/// Queues an answer to the client's own frame, waiting for room while live events fill the
/// queue; false when the client read nothing for [`CATCH_UP_PATIENCE`] (the connection is then
/// too slow).
async fn answer(subscriber: &Subscriber, reply: Frame) -> bool {
    match subscriber.tx.send_timeout(reply, CATCH_UP_PATIENCE).await {
        Ok(()) => true,
        Err(mpsc::error::SendTimeoutError::Timeout(_)) => {
            give_up(subscriber);
            false
        }
        Err(mpsc::error::SendTimeoutError::Closed(_)) => false,
    }
}

/// Marks the connection too slow and wakes its reader, which closes it (`TOO_SLOW`).
fn give_up(subscriber: &Subscriber) {
    subscriber.too_slow.store(true, Ordering::Release);
    subscriber.wake.notify_one();
    metrics::counter!("switchboard_hub_slow_consumers_total").increment(1);
}

/// The `id` of a frame that is an object with a string `id` (so a refusal of a frame that was not
/// read, or not understood, is matched to it).
fn frame_id(text: &str) -> Option<String> {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("id")?.as_str().map(str::to_owned))
}

fn refusal(id: Option<String>, code: ErrorCode, message: impl Into<String>) -> Frame {
    frame(&ServerFrame::Error {
        id,
        code,
        message: message.into(),
        matches: Vec::new(),
    })
}

/// Runs a conversation command on its own task (a command waits for the store or the Cloud API;
/// the socket keeps reading meanwhile) and queues its `ack` or `error`.
fn command(gate: &WsGate, principal: &Principal, subscriber: &Subscriber, parsed: ClientFrame) {
    let id = parsed.id().map(str::to_owned);
    let services = gate.services.clone();
    let principal = principal.clone();
    let subscriber = subscriber.clone();
    tokio::spawn(async move {
        let scope = principal.scope(&services.store);
        let a = services.acting(&principal, &scope);
        let outcome = match &parsed {
            ClientFrame::SendMessage {
                conversation,
                text,
                reply_to,
                key,
                confirm_warnings,
                override_reason,
                ..
            } => commands::send(
                &a,
                conversation,
                Draft::Text(text.clone()),
                reply_to.as_deref(),
                key.as_deref(),
                FilterAck {
                    confirm_warnings: *confirm_warnings,
                    override_reason: override_reason.clone(),
                    may_override: false,
                },
            )
            .await
            .map(Some),
            ClientFrame::Assign {
                conversation,
                agent,
                ..
            } => commands::assign(&a, conversation, agent)
                .await
                .map(|()| None),
            ClientFrame::Resolve { conversation, .. } => {
                commands::resolve(&a, conversation).await.map(|()| None)
            }
            ClientFrame::Reopen { conversation, .. } => {
                commands::reopen(&a, conversation).await.map(|()| None)
            }
            ClientFrame::Typing { conversation, .. } => commands::mark_read(&a, conversation, true)
                .await
                .map(|()| None),
            ClientFrame::MarkRead { conversation, .. } => {
                commands::mark_read(&a, conversation, false)
                    .await
                    .map(|()| None)
            }
            _ => return,
        };
        let reply = match outcome {
            Ok(send) => frame(&ServerFrame::Ack {
                id,
                state: send.as_ref().map(|s| s.state.as_str().to_owned()),
                wamid: send
                    .as_ref()
                    .and_then(|s| s.wamid.as_ref())
                    .map(|w| scope.shown_wamid(&principal, w.as_str())),
                outbox: send.map(|s| s.id.into_string()),
            }),
            Err(failure) => {
                let (code, message) = (failure.code(), failure.to_string());
                let matches = match failure {
                    CommandError::Filtered { matches, .. } => matches,
                    _ => Vec::new(),
                };
                frame(&ServerFrame::Error {
                    id,
                    code,
                    message,
                    matches,
                })
            }
        };
        answer(&subscriber, reply).await;
    });
}

/// One client frame; the reply to queue, if any (subscriptions queue their own frames).
async fn handle(
    gate: &WsGate,
    principal: &Principal,
    scope: &TenantScope,
    subscriber: &Subscriber,
    drained: &Notify,
    topics: &mut HashSet<Topic>,
    text: &str,
) -> Option<Frame> {
    let parsed = match serde_json::from_str::<ClientFrame>(text) {
        Ok(f) => f,
        Err(e) => {
            return Some(refusal(
                frame_id(text),
                ErrorCode::BadFrame,
                format!("not a frame of protocol 1: {e}"),
            ));
        }
    };
    let id = parsed.id().map(str::to_owned);
    if let Some(permission) = commands::command_permission(&parsed) {
        if !principal.can(permission) {
            return Some(refusal(
                id,
                ErrorCode::Forbidden,
                format!("this needs `{}`", permission.as_str()),
            ));
        }
        command(gate, principal, subscriber, parsed);
        return None;
    }
    match parsed {
        ClientFrame::SendMessage { .. }
        | ClientFrame::Assign { .. }
        | ClientFrame::Resolve { .. }
        | ClientFrame::Reopen { .. }
        | ClientFrame::Typing { .. }
        | ClientFrame::MarkRead { .. } => None, // handled above
        ClientFrame::Auth { .. } => Some(refusal(
            None,
            ErrorCode::AlreadyAuthenticated,
            "this socket is signed in",
        )),
        ClientFrame::Ping { id } => Some(frame(&ServerFrame::Pong { id })),
        ClientFrame::Visibility { id, visible } => {
            let was = subscriber.in_view.swap(visible, Ordering::AcqRel);
            if let (Some(user), true) = (principal.user(), was != visible) {
                gate.hub
                    .presence
                    .in_view(&principal.tenant, &user.id, visible);
            }
            Some(frame(&ServerFrame::Ack {
                id,
                outbox: None,
                state: None,
                wamid: None,
            }))
        }
        ClientFrame::SetStatus { id, status } => match principal.user() {
            Some(user) => {
                let now = crate::domain::now_ms();
                let state = gate
                    .hub
                    .presence
                    .set_status(&principal.tenant, &user.id, status, now);
                gate.hub.agent_changed(&principal.tenant, state);
                Some(frame(&ServerFrame::Ack {
                    id,
                    outbox: None,
                    state: None,
                    wamid: None,
                }))
            }
            None => Some(refusal(
                id,
                ErrorCode::NotAUser,
                "API keys have no working status",
            )),
        },
        ClientFrame::Unsubscribe { id, topic } => {
            // Unsubscribing a topic never followed is answered the same: it is not followed.
            if let Ok(followed) = topic.parse::<Topic>() {
                gate.hub
                    .unsubscribe(&principal.tenant, &followed, subscriber.id);
                topics.remove(&followed);
            }
            Some(frame(&ServerFrame::Unsubscribed {
                id,
                topic,
                reason: None,
            }))
        }
        ClientFrame::Subscribe { id, topic, after } => {
            let topic = match topic.parse::<Topic>() {
                Ok(topic) => topic,
                Err(unknown) => {
                    return Some(refusal(id, ErrorCode::UnknownTopic, unknown.to_string()))
                }
            };
            if topics.contains(&topic) {
                // A second subscribe would replay what was already delivered: refused, so a
                // client never sees a duplicate. (Unsubscribe first to start again.)
                return Some(refusal(
                    id,
                    ErrorCode::AlreadySubscribed,
                    format!("this socket already follows `{topic}`"),
                ));
            }
            if topics.len() >= MAX_TOPICS {
                return Some(refusal(
                    id,
                    ErrorCode::TooManySubscriptions,
                    format!("at most {MAX_TOPICS} topics per connection"),
                ));
            }
            let conversation = match may_subscribe(principal, scope, &topic).await {
                Ok(conversation) => conversation,
                Err((code, message)) => return Some(refusal(id, code, message)),
            };
            let outcome = gate.hub.subscribe(
                &principal.tenant,
                &topic,
                after,
                subscriber.clone(),
                conversation,
                id.clone(),
            );
            match outcome {
                Subscribed::TooSlow => None,
                // The stream knows of a change the store read did not show yet (a transfer).
                Subscribed::Refused => Some(refusal(
                    id,
                    ErrorCode::NotFound,
                    format!("no stream `{topic}`"),
                )),
                Subscribed::CatchUp { replay, hold, .. } => {
                    topics.insert(topic);
                    catch_up(subscriber, drained, replay, hold).await;
                    None
                }
                Subscribed::Resumed { .. } | Subscribed::Resync { .. } => {
                    topics.insert(topic);
                    None
                }
            }
        }
    }
}

/// How long the server waits for a client that is behind to read (a replay, a subscription set
/// aside for a full queue, an answer) before it counts as too slow. A server too busy to write
/// for a moment never comes near it; a client that stopped reading does.
const CATCH_UP_PATIENCE: Duration = Duration::from_secs(30);

/// Writes a long replay at the pace the client reads, leaving a quarter of the queue to live
/// events of other streams (so they never trip the slow-consumer rule because of it), then the
/// live events of this stream that waited behind it, then lets them flow directly. A client
/// that reads nothing for [`CATCH_UP_PATIENCE`] is cut like any slow consumer.
async fn catch_up(subscriber: &Subscriber, drained: &Notify, replay: Vec<Frame>, hold: Hold) {
    for f in replay {
        if !paced(subscriber, drained, f).await {
            return give_up(subscriber);
        }
    }
    loop {
        let waiting = {
            let mut held = super::locked(&hold);
            match held.as_mut() {
                Some(buffer) if !buffer.is_empty() => std::mem::take(buffer),
                _ => {
                    // Caught up: from here on the hub writes to the queue directly.
                    *held = None;
                    return;
                }
            }
        };
        for f in waiting {
            if !paced(subscriber, drained, f).await {
                return give_up(subscriber);
            }
        }
    }
}

/// Queues one frame once the queue has more than a quarter free.
async fn paced(subscriber: &Subscriber, drained: &Notify, f: Frame) -> bool {
    room(subscriber, drained).await && subscriber.tx.try_send(f).is_ok()
}

/// Waits until the queue has more than a quarter free; false when the client read nothing for
/// [`CATCH_UP_PATIENCE`] (or the connection closed).
async fn room(subscriber: &Subscriber, drained: &Notify) -> bool {
    let deadline = tokio::time::Instant::now() + CATCH_UP_PATIENCE;
    loop {
        let notified = drained.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if subscriber.tx.capacity() > QUEUE_DEPTH / 4 {
            return true;
        }
        if subscriber.tx.is_closed() || tokio::time::timeout_at(deadline, notified).await.is_err() {
            return false;
        }
    }
}

/// A conversation's number and assignee, as the store has them.
type ConversationAccess = (PhoneNumberId, Option<UserId>);

/// Whether the caller may follow `topic` (for a conversation: with its number and assignee).
/// Conversations, teams and users of other tenants do not exist.
async fn may_subscribe(
    principal: &Principal,
    scope: &TenantScope,
    topic: &Topic,
) -> Result<Option<ConversationAccess>, (ErrorCode, String)> {
    let unavailable = |_| (ErrorCode::StoreUnavailable, "try again".to_owned());
    match topic {
        Topic::Board | Topic::Tenant | Topic::Contacts => {
            let needs = topic.permission();
            if principal.can(needs) {
                Ok(None)
            } else {
                Err((ErrorCode::Forbidden, format!("`{topic}` needs `{needs}`")))
            }
        }
        Topic::Conversation(id) => match commands::visible(principal, scope, id).await {
            Ok((conversation, thread)) => {
                Ok(Some((conversation.number, thread.and_then(|t| t.assignee))))
            }
            Err(CommandError::NotFound(_)) => {
                Err((ErrorCode::NotFound, format!("no conversation `{id}`")))
            }
            Err(moved @ CommandError::Moved(_)) => {
                Err((ErrorCode::ConversationMoved, moved.to_string()))
            }
            Err(_) => Err((ErrorCode::StoreUnavailable, "try again".to_owned())),
        },
        Topic::Inbox(user) => {
            let own = principal.user().is_some_and(|u| &u.id == user);
            if !own
                && principal.can(Permission::ConversationsReadAll)
                && scope.user(user).await.map_err(unavailable)?.is_none()
            {
                return Err((ErrorCode::NotFound, format!("no user `{user}`")));
            }
            if (own && principal.can(Permission::ConversationsReadAssigned))
                || principal.can(Permission::ConversationsReadAll)
            {
                Ok(None)
            } else {
                Err((
                    ErrorCode::Forbidden,
                    "an inbox is followed by its agent (or with `conversations.read.all`)"
                        .to_owned(),
                ))
            }
        }
        Topic::Team(id) => {
            let Some(team) = scope.team(id).await.map_err(unavailable)? else {
                return Err((ErrorCode::NotFound, format!("no team `{id}`")));
            };
            let member = principal
                .user()
                .is_some_and(|u| team.members.contains(&u.id));
            if principal.can(Permission::ConversationsReadAll)
                || (member && principal.can(Permission::ConversationsReadTeam))
            {
                Ok(None)
            } else {
                Err((
                    ErrorCode::Forbidden,
                    "only the team's members (with `conversations.read.team`) follow it".to_owned(),
                ))
            }
        }
    }
}
