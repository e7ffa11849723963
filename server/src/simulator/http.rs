//! The simulator's HTTP surface: Meta's Graph endpoints and the `/_sim/` control API.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::{Buf, Bytes};
use futures_util::TryStreamExt as _;
use serde::Deserialize;
use serde_json::{json, Value};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::state::{graph_error, unknown_object, Disposition, Faults, SimState, MAX_MEDIA_BYTES};
use crate::connector::cloud_api::IDEMPOTENCY_HEADER;

/// Request bodies for `/messages` are small JSON; anything larger is refused.
const MAX_MESSAGE_BODY: u64 = 1024 * 1024;

fn respond(status: u16, body: &Value) -> Response {
    let mut response = warp::reply::json(body).into_response();
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(
        "facebook-api-version",
        warp::http::HeaderValue::from_static("v23.0"),
    );
    if let Ok(v) = warp::http::HeaderValue::from_str(&hex::encode(rand::random::<[u8; 8]>())) {
        headers.insert("x-fb-trace-id", v.clone());
        headers.insert("x-fb-request-id", v);
    }
    response
}

fn with_state(
    state: Arc<SimState>,
) -> impl Filter<Extract = (Arc<SimState>,), Error = Infallible> + Clone {
    warp::any().map(move || Arc::clone(&state))
}

pub fn routes(state: Arc<SimState>) -> warp::filters::BoxedFilter<(Response,)> {
    let auth = warp::header::optional::<String>("authorization");

    let messages = warp::path!(String / String / "messages")
        .and(warp::post())
        .and(with_state(Arc::clone(&state)))
        .and(auth)
        .and(warp::header::optional::<String>(IDEMPOTENCY_HEADER))
        .and(warp::body::content_length_limit(MAX_MESSAGE_BODY))
        .and(warp::body::bytes())
        .then(
            |version: String,
             pnid: String,
             state: Arc<SimState>,
             auth: Option<String>,
             key: Option<String>,
             body: Bytes| async move {
                match state.handle_messages(&version, &pnid, auth.as_deref(), key, &body) {
                    Disposition::Answer(status, reply) => respond(status, &reply),
                    Disposition::Delay(wait, status, reply) => {
                        tokio::time::sleep(wait).await;
                        respond(status, &reply)
                    }
                }
            },
        );

    let upload = warp::path!(String / String / "media")
        .and(warp::post())
        .and(with_state(Arc::clone(&state)))
        .and(auth)
        .and(warp::multipart::form().max_length(MAX_MEDIA_BYTES as u64 + 64 * 1024))
        .then(
            |_version: String,
             pnid: String,
             state: Arc<SimState>,
             auth: Option<String>,
             form: warp::multipart::FormData| async move {
                upload(state, pnid, auth, form).await
            },
        );

    let templates = warp::path!(String / String / "message_templates")
        .and(warp::get())
        .and(with_state(Arc::clone(&state)))
        .and(auth)
        .and(warp::query::<TemplatesQuery>())
        .then(
            |version: String,
             waba_id: String,
             state: Arc<SimState>,
             auth: Option<String>,
             q: TemplatesQuery| async move {
                match state.message_templates(
                    &version,
                    &waba_id,
                    auth.as_deref(),
                    q.limit.unwrap_or(25),
                    q.after.as_deref(),
                ) {
                    Ok(page) => respond(200, &page),
                    Err((status, body)) => respond(status, &body),
                }
            },
        );

    let create_template = warp::path!(String / String / "message_templates")
        .and(warp::post())
        .and(with_state(Arc::clone(&state)))
        .and(auth)
        .and(warp::body::content_length_limit(256 * 1024))
        .and(warp::body::json::<Value>())
        .map(
            |_version: String,
             waba_id: String,
             state: Arc<SimState>,
             auth: Option<String>,
             template: Value| {
                match state.create_template(&waba_id, auth.as_deref(), &template) {
                    Ok(created) => respond(200, &created),
                    Err((status, body)) => respond(status, &body),
                }
            },
        );

    let media_info = warp::path!(String / String)
        .and(warp::get())
        .and(with_state(Arc::clone(&state)))
        .and(auth)
        .and(warp::query::<MediaQuery>())
        .then(
            |_version: String,
             media_id: String,
             state: Arc<SimState>,
             auth: Option<String>,
             q: MediaQuery| async move {
                // `GET /{phone-number-id}`: the number as Meta describes it.
                if let Some(number) = state.number(&media_id) {
                    return match state.authorize(number, auth.as_deref()) {
                        Ok(()) => respond(200, &phone_number_info(number)),
                        Err(body) => respond(401, &body),
                    };
                }
                if let Err(reply) = authorize_media(&state, &media_id, auth.as_deref()) {
                    return *reply;
                }
                match state.media_info(&media_id, q.phone_number_id.as_deref()) {
                    Some(info) => respond(200, &info),
                    None => respond(400, &unknown_object(&media_id)),
                }
            },
        );

    let media_delete = warp::path!(String / String)
        .and(warp::delete())
        .and(with_state(Arc::clone(&state)))
        .and(auth)
        .then(|_version: String, media_id: String, state: Arc<SimState>, auth: Option<String>| async move {
            if let Err(reply) = authorize_media(&state, &media_id, auth.as_deref()) {
                return *reply;
            }
            if state.media_delete(&media_id) {
                respond(200, &json!({"success": true}))
            } else {
                respond(400, &unknown_object(&media_id))
            }
        });

    let download = warp::path!("_sim" / "media" / String)
        .and(warp::get())
        .and(with_state(Arc::clone(&state)))
        .and(auth)
        .and(warp::query::<TokenQuery>())
        .then(|media_id: String, state: Arc<SimState>, auth: Option<String>, q: TokenQuery| async move {
            // Meta requires the bearer token on the download too.
            if let Err(reply) = authorize_media(&state, &media_id, auth.as_deref()) {
                return *reply;
            }
            match state.media_download(&media_id, &q.token) {
                Some((bytes, mime)) => {
                    let mut response = Response::new(bytes.into());
                    if let Ok(v) = warp::http::HeaderValue::from_str(&mime) {
                        response.headers_mut().insert("content-type", v);
                    }
                    response
                }
                None => respond(404, &json!({"error": "media URL expired or unknown"})),
            }
        });

    let control = control_routes(state);

    messages
        .or(upload)
        .unify()
        .or(download)
        .unify()
        .or(control)
        .unify()
        .or(templates)
        .unify()
        .or(create_template)
        .unify()
        .or(media_info)
        .unify()
        .or(media_delete)
        .unify()
        .recover(recover)
        .unify()
        .boxed()
}

#[derive(Deserialize)]
struct TemplatesQuery {
    limit: Option<usize>,
    after: Option<String>,
}

#[derive(Deserialize)]
struct MediaQuery {
    phone_number_id: Option<String>,
}

#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

fn authorize_media(
    state: &SimState,
    media_id: &str,
    auth: Option<&str>,
) -> Result<(), Box<Response>> {
    let unknown = || Box::new(respond(400, &unknown_object(media_id)));
    let owner = state.media_owner(media_id).ok_or_else(unknown)?;
    let number = state.number(&owner).ok_or_else(unknown)?;
    state
        .authorize(number, auth)
        .map_err(|body| Box::new(respond(401, &body)))
}

async fn upload(
    state: Arc<SimState>,
    pnid: String,
    auth: Option<String>,
    mut form: warp::multipart::FormData,
) -> Response {
    let Some(number) = state.number(&pnid).cloned() else {
        return respond(400, &unknown_object(&pnid));
    };
    if let Err(body) = state.authorize(&number, auth.as_deref()) {
        return respond(401, &body);
    }
    let (mut file, mut declared_type, mut part_type, mut product) = (None, None, None, None);
    loop {
        let part = match form.try_next().await {
            Ok(Some(part)) => part,
            Ok(None) => break,
            Err(e) => {
                return respond(
                    400,
                    &graph_error(100, "Invalid parameter", &format!("multipart body: {e}")),
                )
            }
        };
        let name = part.name().to_owned();
        let content_type = part.content_type().map(str::to_owned);
        let mut data = Vec::new();
        let mut stream = part.stream();
        loop {
            match stream.try_next().await {
                Ok(Some(mut chunk)) => {
                    while chunk.has_remaining() {
                        let bytes = chunk.chunk();
                        data.extend_from_slice(bytes);
                        let n = bytes.len();
                        chunk.advance(n);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    return respond(
                        400,
                        &graph_error(100, "Invalid parameter", &format!("multipart body: {e}")),
                    )
                }
            }
        }
        match name.as_str() {
            "file" => {
                part_type = content_type;
                file = Some(data);
            }
            "type" => declared_type = Some(String::from_utf8_lossy(&data).into_owned()),
            "messaging_product" => product = Some(String::from_utf8_lossy(&data).into_owned()),
            _ => {}
        }
    }
    if product.as_deref() != Some("whatsapp") {
        return respond(
            400,
            &graph_error(
                100,
                "Invalid parameter",
                "messaging_product is required and must be whatsapp",
            ),
        );
    }
    let Some(file) = file else {
        return respond(
            400,
            &graph_error(100, "Invalid parameter", "file is required"),
        );
    };
    let Some(mime) = declared_type.or(part_type) else {
        return respond(
            400,
            &graph_error(100, "Invalid parameter", "type is required"),
        );
    };
    if file.len() > MAX_MEDIA_BYTES {
        return respond(
            400,
            &graph_error(
                131053,
                "Media upload error",
                "The file is larger than the maximum size.",
            ),
        );
    }
    let id = state.store_media(&pnid, file, mime);
    respond(200, &json!({"id": id}))
}

/// `POST /_sim/account`: Meta tells the business about its account (a number's quality, a
/// template's status); the simulator sends that webhook for the number's WABA.
#[derive(Deserialize)]
struct AccountRequest {
    #[serde(default)]
    phone_number_id: Option<String>,
    /// The webhook `field`, e.g. `phone_number_quality_update`.
    field: String,
    /// Its `value`; for `phone_number_quality_update` the number's `display_phone_number` is
    /// filled in when missing.
    value: Value,
}

#[derive(Deserialize)]
struct ExpireRequest {
    /// One file; all of them when absent.
    #[serde(default)]
    media_id: Option<String>,
}

#[derive(Deserialize)]
struct InboundRequest {
    #[serde(default)]
    phone_number_id: Option<String>,
    from: String,
    #[serde(default)]
    name: Option<String>,
    /// A text to send, or…
    #[serde(default)]
    text: Option<String>,
    /// …any `messages[]` object (without from, id and timestamp), e.g. `{"type":"image",...}`.
    #[serde(default)]
    message: Option<Value>,
    /// How long ago the customer wrote it (a late delivery): 0 by default.
    #[serde(default)]
    age_secs: Option<u64>,
}

#[derive(Deserialize)]
struct SentQuery {
    phone_number_id: Option<String>,
}

fn control_routes(state: Arc<SimState>) -> warp::filters::BoxedFilter<(Response,)> {
    let sent = warp::path!("_sim" / "sent")
        .and(warp::get())
        .and(with_state(Arc::clone(&state)))
        .and(warp::query::<SentQuery>())
        .map(|state: Arc<SimState>, q: SentQuery| {
            let sent: Vec<_> = state
                .sent()
                .into_iter()
                .filter(|s| {
                    q.phone_number_id
                        .as_ref()
                        .is_none_or(|p| *p == s.phone_number_id)
                })
                .collect();
            respond(200, &json!(sent))
        });
    let stats = warp::path!("_sim" / "stats")
        .and(warp::get())
        .and(with_state(Arc::clone(&state)))
        .map(|state: Arc<SimState>| respond(200, &json!(state.stats())));
    let get_faults = warp::path!("_sim" / "faults")
        .and(warp::get())
        .and(with_state(Arc::clone(&state)))
        .map(|state: Arc<SimState>| respond(200, &json!(state.faults())));
    let put_faults = warp::path!("_sim" / "faults")
        .and(warp::put())
        .and(with_state(Arc::clone(&state)))
        .and(warp::body::content_length_limit(64 * 1024))
        .and(warp::body::json::<Faults>())
        .map(|state: Arc<SimState>, faults: Faults| {
            state.set_faults(faults.clone());
            respond(200, &json!(faults))
        });
    let inbound = warp::path!("_sim" / "inbound")
        .and(warp::post())
        .and(with_state(Arc::clone(&state)))
        .and(warp::body::content_length_limit(1024 * 1024))
        .and(warp::body::json::<InboundRequest>())
        .map(|state: Arc<SimState>, r: InboundRequest| {
            let number = r
                .phone_number_id
                .or_else(|| {
                    state
                        .config
                        .numbers
                        .first()
                        .map(|n| n.phone_number_id.clone())
                })
                .unwrap_or_default();
            let message = match (r.message, r.text) {
                (Some(m), _) if m.is_object() => m,
                (None, Some(text)) => json!({"type": "text", "text": {"body": text}}),
                _ => return respond(400, &json!({"error": "give `text` or a `message` object"})),
            };
            let name = r.name.unwrap_or_else(|| "Simulated Customer".into());
            let age = std::time::Duration::from_secs(r.age_secs.unwrap_or(0));
            match state.inbound_aged(&number, &r.from, &name, message, age) {
                Some(wamid) => respond(200, &json!({"wamid": wamid})),
                None => respond(
                    404,
                    &json!({"error": format!("unknown phone_number_id {number}")}),
                ),
            }
        });
    let account = warp::path!("_sim" / "account")
        .and(warp::post())
        .and(with_state(Arc::clone(&state)))
        .and(warp::body::content_length_limit(64 * 1024))
        .and(warp::body::json::<AccountRequest>())
        .map(|state: Arc<SimState>, r: AccountRequest| {
            if !r.value.is_object() || r.field.is_empty() || r.field == "messages" {
                return respond(
                    400,
                    &json!({"error": "give an account-level `field` and its `value` object"}),
                );
            }
            let number = r.phone_number_id.or_else(|| {
                state
                    .config
                    .numbers
                    .first()
                    .map(|n| n.phone_number_id.clone())
            });
            match number.and_then(|n| state.account_event(&n, &r.field, r.value)) {
                Some(()) => respond(200, &json!({"sent": true})),
                None => respond(404, &json!({"error": "unknown phone_number_id"})),
            }
        });
    // A customer's file, for an inbound message to carry (`{"type":"image","image":{"id":…}}`).
    let media = warp::path!("_sim" / "media")
        .and(warp::post())
        .and(with_state(Arc::clone(&state)))
        .and(warp::query::<SentQuery>())
        .and(warp::header::optional::<String>("content-type"))
        .and(warp::body::content_length_limit(MAX_MEDIA_BYTES as u64))
        .and(warp::body::bytes())
        .map(
            |state: Arc<SimState>, q: SentQuery, mime: Option<String>, body: Bytes| {
                let number = q.phone_number_id.or_else(|| {
                    state
                        .config
                        .numbers
                        .first()
                        .map(|n| n.phone_number_id.clone())
                });
                match (number, mime) {
                    (Some(number), Some(mime)) if !body.is_empty() => {
                        let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body));
                        let id = state.store_media(&number, body.to_vec(), mime.clone());
                        respond(200, &json!({"id": id, "mime_type": mime, "sha256": sha256}))
                    }
                    _ => respond(
                        400,
                        &json!({"error": "send the file as the body with its Content-Type"}),
                    ),
                }
            },
        );
    let expire = warp::path!("_sim" / "media" / "expire")
        .and(warp::post())
        .and(with_state(Arc::clone(&state)))
        .and(warp::body::content_length_limit(64 * 1024))
        .and(warp::body::json::<ExpireRequest>())
        .map(|state: Arc<SimState>, r: ExpireRequest| {
            let expired = state.expire_media(r.media_id.as_deref());
            respond(200, &json!({"expired": expired}))
        });
    // The numbers Meta holds for the business, with the credentials to connect them (this
    // control API listens on loopback only, for the demo and tests).
    let numbers = warp::path!("_sim" / "numbers")
        .and(warp::get())
        .and(with_state(Arc::clone(&state)))
        .map(|state: Arc<SimState>| {
            let numbers: Vec<Value> = state
                .config
                .numbers
                .iter()
                .map(|n| {
                    json!({
                        "phone_number_id": n.phone_number_id,
                        "display_phone_number": n.display_phone_number,
                        "waba_id": n.waba_id,
                        "graph_api_url": format!("{}v23.0", state.base_url),
                        "access_token": n.access_token.expose(),
                        "app_secret": state.config.app_secret.expose(),
                        "mps": n.mps,
                        "customers_write": n.chatting,
                    })
                })
                .collect();
            respond(200, &json!({"data": numbers}))
        });
    let health = warp::path!("_sim" / "health")
        .and(warp::get())
        .map(|| respond(200, &json!({"status": "ok"})));
    sent.or(stats)
        .unify()
        .or(get_faults)
        .unify()
        .or(put_faults)
        .unify()
        .or(inbound)
        .unify()
        .or(account)
        .unify()
        .or(expire)
        .unify()
        .or(media)
        .unify()
        .or(numbers)
        .unify()
        .or(health)
        .unify()
        .boxed()
}

/// What Meta answers for `GET /{phone-number-id}` (the fields of reference §2.7).
fn phone_number_info(number: &super::SimNumber) -> Value {
    json!({
        "id": number.phone_number_id,
        "display_phone_number": number.display_phone_number,
        "verified_name": "Lucky Shrub",
        "code_verification_status": "VERIFIED",
        "quality_rating": "GREEN",
        "platform_type": "CLOUD_API",
        "throughput": {"level": if number.mps >= 1_000 { "HIGH" } else { "STANDARD" }},
    })
}

async fn recover(rejection: Rejection) -> Result<Response, Infallible> {
    let (status, body) = if rejection.is_not_found() {
        (
            404,
            graph_error(
                100,
                "Unknown path components",
                "No such endpoint in the simulator",
            ),
        )
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        (
            413,
            graph_error(100, "Invalid parameter", "Request body too large"),
        )
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        (
            405,
            graph_error(
                100,
                "Unsupported method",
                "Method not allowed on this endpoint",
            ),
        )
    } else if let Some(e) = rejection.find::<warp::filters::body::BodyDeserializeError>() {
        (400, graph_error(100, "Invalid parameter", &e.to_string()))
    } else if rejection.find::<warp::reject::LengthRequired>().is_some() {
        (
            411,
            graph_error(100, "Invalid parameter", "Content-Length is required"),
        )
    } else {
        (
            400,
            graph_error(100, "Invalid parameter", &format!("{rejection:?}")),
        )
    };
    Ok(respond(status, &body))
}
