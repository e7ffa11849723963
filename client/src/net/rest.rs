//! The REST client: JSON over `fetch` with the session cookie and the CSRF token, and uploads.

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
    // The request itself is not generic: one copy of it in the module, not one per answer type.
    let (status, text) = fetch(method, path, body, csrf).await?;
    parse(status, &text)
}

/// A successful answer's body read as `T` (an empty one as `null`).
fn parse<T: DeserializeOwned>(status: u16, text: &str) -> Result<T, Failure> {
    let text = if text.trim().is_empty() { "null" } else { text };
    serde_json::from_str(text).map_err(|e| unexpected(status, e))
}

fn unexpected(status: u16, e: serde_json::Error) -> Failure {
    Failure {
        status,
        message: format!("unexpected answer from the server: {e}"),
    }
}

/// Sends the request; the status and body of a successful answer, else the failure in words.
async fn fetch(
    method: &str,
    path: &str,
    body: Option<String>,
    csrf: Option<&str>,
) -> Result<(u16, String), Failure> {
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
    Ok((status, text))
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

/// Uploads a file as the request body (its type as `Content-Type`) with `XMLHttpRequest`,
/// whose upload events report progress (`fetch` has none): `progress` gets 0.0 to 1.0.
/// `method` is `POST` or `PUT`.
pub async fn upload<T: DeserializeOwned>(
    method: &str,
    path: &str,
    file: &web_sys::File,
    csrf: Option<&str>,
    progress: impl Fn(f64) + 'static,
) -> Result<T, Failure> {
    let (status, text) = send_file(method, path, file, csrf, Box::new(progress)).await?;
    parse(status, &text)
}

async fn send_file(
    method: &str,
    path: &str,
    file: &web_sys::File,
    csrf: Option<&str>,
    progress: Box<dyn Fn(f64)>,
) -> Result<(u16, String), Failure> {
    use wasm_bindgen::closure::Closure;
    let xhr = web_sys::XmlHttpRequest::new().map_err(js_failure)?;
    xhr.open(method, path).map_err(js_failure)?;
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
    Ok((status, text))
}
