//! The browser's side of the wire: JSON over `fetch` (with the session cookie and the CSRF
//! token), local storage, and small helpers around timers and ids.

use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestCredentials, RequestInit, Response};

/// A failed API call, in words fit to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// 0 when the request never reached the server.
    pub status: u16,
    pub message: String,
}

fn js_failure(e: JsValue) -> Failure {
    Failure {
        status: 0,
        message: e
            .as_string()
            .or_else(|| {
                e.dyn_ref::<js_sys::Error>()
                    .map(|e| String::from(e.message()))
            })
            .unwrap_or_else(|| "the network request failed".into()),
    }
}

/// Calls the REST API. `csrf` is sent as `X-CSRF-Token`, which the server requires of every
/// cookie-authenticated write. An empty answer (204) reads as JSON `null`, so `T = ()` works.
pub async fn call<T: DeserializeOwned>(
    method: &str,
    path: &str,
    body: Option<String>,
    csrf: Option<&str>,
) -> Result<T, Failure> {
    let init = RequestInit::new();
    init.set_method(method);
    init.set_credentials(RequestCredentials::SameOrigin);
    let headers = web_sys::Headers::new().map_err(js_failure)?;
    headers
        .set("accept", "application/json")
        .map_err(js_failure)?;
    if let Some(body) = &body {
        headers
            .set("content-type", "application/json")
            .map_err(js_failure)?;
        init.set_body(&JsValue::from_str(body));
    }
    if let Some(csrf) = csrf {
        headers.set("x-csrf-token", csrf).map_err(js_failure)?;
    }
    init.set_headers(&headers);
    let request = Request::new_with_str_and_init(path, &init).map_err(js_failure)?;
    let window = web_sys::window().ok_or_else(|| js_failure(JsValue::NULL))?;
    let response: Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(js_failure)?
        .unchecked_into();
    let status = response.status();
    let text = JsFuture::from(response.text().map_err(js_failure)?)
        .await
        .map_err(js_failure)?
        .as_string()
        .unwrap_or_default();
    if !response.ok() {
        return Err(Failure {
            status,
            message: crate::error_message(status, &text),
        });
    }
    let text = if text.trim().is_empty() {
        "null"
    } else {
        &text
    };
    serde_json::from_str(text).map_err(|e| Failure {
        status,
        message: format!("unexpected answer from the server: {e}"),
    })
}

pub async fn get<T: DeserializeOwned>(path: &str) -> Result<T, Failure> {
    call("GET", path, None, None).await
}

pub async fn write<T: DeserializeOwned, B: Serialize>(
    method: &str,
    path: &str,
    body: &B,
    csrf: Option<&str>,
) -> Result<T, Failure> {
    let body = serde_json::to_string(body).map_err(|e| Failure {
        status: 0,
        message: e.to_string(),
    })?;
    call(method, path, Some(body), csrf).await
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

pub fn load<T: DeserializeOwned>(key: &str) -> Option<T> {
    let raw = storage()?.get_item(key).ok().flatten()?;
    serde_json::from_str(&raw).ok()
}

pub fn save<T: Serialize>(key: &str, value: &T) {
    if let (Some(s), Ok(raw)) = (storage(), serde_json::to_string(value)) {
        let _ = s.set_item(key, &raw);
    }
}

pub fn forget(key: &str) {
    if let Some(s) = storage() {
        let _ = s.remove_item(key);
    }
}

/// Uploads a file as the request body (its type as `Content-Type`) with `XMLHttpRequest`,
/// whose upload events report progress (`fetch` has none): `progress` gets 0.0 to 1.0.
pub async fn upload<T: DeserializeOwned>(
    path: &str,
    file: &web_sys::File,
    csrf: Option<&str>,
    progress: impl Fn(f64) + 'static,
) -> Result<T, Failure> {
    use wasm_bindgen::closure::Closure;
    let xhr = web_sys::XmlHttpRequest::new().map_err(js_failure)?;
    xhr.open("POST", path).map_err(js_failure)?;
    let mime = file.type_();
    xhr.set_request_header(
        "content-type",
        if mime.is_empty() {
            "application/octet-stream"
        } else {
            &mime
        },
    )
    .map_err(js_failure)?;
    xhr.set_request_header("accept", "application/json")
        .map_err(js_failure)?;
    if let Some(csrf) = csrf {
        xhr.set_request_header("x-csrf-token", csrf)
            .map_err(js_failure)?;
    }
    let on_progress =
        Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(move |e: web_sys::ProgressEvent| {
            if e.length_computable() && e.total() > 0.0 {
                progress(e.loaded() / e.total());
            }
        });
    xhr.upload()
        .map_err(js_failure)?
        .set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
    // Resolves on load (any HTTP status) and on a network error; the status tells which.
    let done = js_sys::Promise::new(&mut |resolve, _reject| {
        let again = resolve.clone();
        let on_end = Closure::once_into_js(move || {
            let _ = resolve.call0(&JsValue::NULL);
        });
        let on_error = Closure::once_into_js(move || {
            let _ = again.call0(&JsValue::NULL);
        });
        xhr.set_onload(Some(on_end.unchecked_ref()));
        xhr.set_onerror(Some(on_error.unchecked_ref()));
    });
    xhr.send_with_opt_blob(Some(file)).map_err(js_failure)?;
    JsFuture::from(done).await.map_err(js_failure)?;
    drop(on_progress);
    let status = xhr.status().unwrap_or(0);
    let text = xhr.response_text().ok().flatten().unwrap_or_default();
    if status == 0 {
        return Err(Failure {
            status,
            message: "the upload did not reach the server".into(),
        });
    }
    if !(200..300).contains(&status) {
        return Err(Failure {
            status,
            message: crate::error_message(status, &text),
        });
    }
    serde_json::from_str(&text).map_err(|e| Failure {
        status,
        message: format!("unexpected answer from the server: {e}"),
    })
}

pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// A random id for a reply's idempotency key (122 bits from `crypto.randomUUID`).
pub fn random_key() -> String {
    web_sys::window()
        .and_then(|w| w.crypto().ok())
        .map(|c| c.random_uuid())
        .unwrap_or_else(|| format!("k{}-{}", now_ms(), (js_sys::Math::random() * 1e12) as u64))
}

/// The page's WebSocket address: the same origin, `/ws`.
pub fn socket_url() -> String {
    let location = web_sys::window().expect("a window").location();
    let scheme = if location.protocol().unwrap_or_default() == "https:" {
        "wss"
    } else {
        "ws"
    };
    format!("{scheme}://{}/ws", location.host().unwrap_or_default())
}

pub fn browser_language() -> String {
    web_sys::window()
        .and_then(|w| w.navigator().language())
        .unwrap_or_default()
}

pub fn is_online() -> bool {
    web_sys::window()
        .map(|w| w.navigator().on_line())
        .unwrap_or(true)
}

pub fn page_hidden() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .map(|d| d.hidden())
        .unwrap_or(false)
}

/// A time of day (today) or a date and time, in the language's locale.
pub fn format_time(ms: i64, locale: &str) -> String {
    let date = js_sys::Date::new(&JsValue::from_f64(ms as f64));
    let today = js_sys::Date::new_0();
    let same_day = date.get_full_year() == today.get_full_year()
        && date.get_month() == today.get_month()
        && date.get_date() == today.get_date();
    let options = js_sys::Object::new();
    let set = |k: &str, v: &str| {
        let _ = js_sys::Reflect::set(&options, &k.into(), &v.into());
    };
    set("hour", "2-digit");
    set("minute", "2-digit");
    if !same_day {
        set("day", "numeric");
        set("month", "short");
    }
    String::from(date.to_locale_string(locale, &options))
}

/// A number with the locale's grouping (`10,000` / `10 000`).
pub fn format_number(n: f64, locale: &str) -> String {
    let locales = js_sys::Array::of1(&JsValue::from_str(locale));
    let format = js_sys::Intl::NumberFormat::new(&locales, &js_sys::Object::new());
    format
        .format()
        .call1(&JsValue::UNDEFINED, &JsValue::from_f64(n))
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_else(|| n.to_string())
}

/// A short two-tone chime through Web Audio (no sound file to download or cache).
pub fn chime() {
    let Ok(ctx) = web_sys::AudioContext::new() else {
        return;
    };
    let now = ctx.current_time();
    for (i, freq) in [880.0f32, 1320.0].into_iter().enumerate() {
        let (Ok(osc), Ok(gain)) = (ctx.create_oscillator(), ctx.create_gain()) else {
            return;
        };
        osc.frequency().set_value(freq);
        let start = now + i as f64 * 0.15;
        let _ = gain.gain().set_value_at_time(0.0001, start);
        let _ = gain
            .gain()
            .exponential_ramp_to_value_at_time(0.2, start + 0.02);
        let _ = gain
            .gain()
            .exponential_ramp_to_value_at_time(0.0001, start + 0.14);
        let _ = osc.connect_with_audio_node(&gain);
        let _ = gain.connect_with_audio_node(&ctx.destination());
        let _ = osc.start_with_when(start);
        let _ = osc.stop_with_when(start + 0.15);
    }
}

/// Shows a system notification when the user allowed them.
pub fn notify(title: &str, body: &str) {
    if web_sys::Notification::permission() != web_sys::NotificationPermission::Granted {
        return;
    }
    let options = web_sys::NotificationOptions::new();
    options.set_body(body);
    options.set_tag("switchboard-assignment");
    let _ = web_sys::Notification::new_with_options(title, &options);
}

/// Asks once for permission to notify (from a click, as browsers require).
pub fn ask_to_notify() {
    if web_sys::Notification::permission() == web_sys::NotificationPermission::Default {
        let _ = web_sys::Notification::request_permission();
    }
}
