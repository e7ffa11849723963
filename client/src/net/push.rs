//! Web Push in this browser: whether it can, asking the person, the subscription made with the
//! server's key (its `toJSON()`, for the server), and its end; and the app's side of the service
//! worker (a tapped notification asks the open app to show a conversation).

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{PushSubscription, ServiceWorkerRegistration};

fn words(e: JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "the browser refused".into())
}

/// Whether this browser can receive pushes (a service worker and the Push API).
pub fn push_supported() -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let has = |target: &JsValue, name: &str| {
        js_sys::Reflect::has(target, &JsValue::from_str(name)).unwrap_or(false)
    };
    has(&window.navigator(), "serviceWorker") && has(&window, "PushManager")
}

/// Asks the person to allow notifications (from a click, as browsers require); whether they did.
pub async fn ask_permission() -> Result<bool, String> {
    let promise = web_sys::Notification::request_permission().map_err(words)?;
    let answer = JsFuture::from(promise).await.map_err(words)?;
    Ok(answer.as_string().as_deref() == Some("granted"))
}

pub fn notifications_allowed() -> bool {
    web_sys::Notification::permission() == web_sys::NotificationPermission::Granted
}

async fn registration() -> Result<ServiceWorkerRegistration, String> {
    let container = web_sys::window()
        .ok_or("no window")?
        .navigator()
        .service_worker();
    let ready = container.ready().map_err(words)?;
    JsFuture::from(ready)
        .await
        .map_err(words)?
        .dyn_into()
        .map_err(|_| "no service worker".into())
}

/// This browser's subscription, if it has one.
async fn current() -> Result<Option<PushSubscription>, String> {
    let manager = registration().await?.push_manager().map_err(words)?;
    let found = JsFuture::from(manager.get_subscription().map_err(words)?)
        .await
        .map_err(words)?;
    Ok(found.dyn_into::<PushSubscription>().ok())
}

/// A subscription as the server takes it (`PushSubscription.toJSON()`).
fn as_json(subscription: &PushSubscription) -> Result<serde_json::Value, String> {
    let text = js_sys::JSON::stringify(subscription).map_err(words)?;
    serde_json::from_str(&String::from(text)).map_err(|e| e.to_string())
}

/// The browser's current subscription as JSON, if any (to tell the server again after the
/// browser renewed it).
pub async fn current_subscription() -> Result<Option<serde_json::Value>, String> {
    current().await?.as_ref().map(as_json).transpose()
}

/// Subscribes this browser with the server's key (base64url): a fresh subscription, so that
/// one left by someone who used this browser before goes with its endpoint.
pub async fn subscribe(key: &str) -> Result<serde_json::Value, String> {
    let mut key = from_base64url(key)?;
    unsubscribe().await?;
    let manager = registration().await?.push_manager().map_err(words)?;
    let options = web_sys::PushSubscriptionOptionsInit::new();
    options.set_user_visible_only(true);
    options.set_application_server_key_opt_u8_slice(Some(&mut key));
    let made = JsFuture::from(manager.subscribe_with_options(&options).map_err(words)?)
        .await
        .map_err(words)?;
    let subscription: PushSubscription = made.dyn_into().map_err(|_| "no subscription")?;
    as_json(&subscription)
}

/// Bytes from base64url (with or without padding), by the browser's own `atob`.
fn from_base64url(text: &str) -> Result<Vec<u8>, String> {
    let mut standard: String = text
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    while !standard.len().is_multiple_of(4) {
        standard.push('=');
    }
    let binary = web_sys::window()
        .ok_or("no window")?
        .atob(&standard)
        .map_err(words)?;
    Ok(binary.chars().map(|c| c as u32 as u8).collect())
}

/// Ends this browser's subscription, if it has one (its endpoint stops working).
pub async fn unsubscribe() -> Result<(), String> {
    if let Some(subscription) = current().await? {
        JsFuture::from(subscription.unsubscribe().map_err(words)?)
            .await
            .map_err(words)?;
    }
    Ok(())
}

/// A name for this device the person will recognise (`Chrome on Android`).
pub fn device_name() -> String {
    let agent = web_sys::window()
        .and_then(|w| w.navigator().user_agent().ok())
        .unwrap_or_default();
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    ]
    .into_iter()
    .find(|(mark, _)| agent.contains(mark))
    .map_or("A browser", |(_, name)| name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("Mac OS", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(mark, _)| agent.contains(mark))
    .map(|(_, name)| name);
    match system {
        Some(system) => format!("{browser} on {system}"),
        None => browser.to_owned(),
    }
}

/// Calls `f` whenever the page is shown or hidden.
pub fn on_visibility_change(f: impl Fn(bool) + 'static) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let handler = wasm_bindgen::closure::Closure::<dyn Fn()>::new(move || f(!super::page_hidden()));
    let _ = document
        .add_event_listener_with_callback("visibilitychange", handler.as_ref().unchecked_ref());
    handler.forget();
}

/// Calls `f` with the conversation a tapped notification opens (`?c=…`): the one the page was
/// opened with, now, and each the service worker names later.
pub fn on_notification_open(f: impl Fn(String) + 'static) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let conversation_of = |url: &str| {
        web_sys::Url::new_with_base(url, "http://localhost")
            .ok()
            .and_then(|u| u.search_params().get("c"))
            .filter(|c| !c.is_empty())
    };
    let href = window.location().href().unwrap_or_default();
    if let Some(c) = conversation_of(&href) {
        // The address goes back to the app's own, so a reload does not open it again.
        if let Ok(history) = window.history() {
            let _ = history.replace_state_with_url(&JsValue::NULL, "", Some("/"));
        }
        f(c);
    }
    let handler = wasm_bindgen::closure::Closure::<dyn Fn(web_sys::MessageEvent)>::new(
        move |e: web_sys::MessageEvent| {
            let data = e.data();
            let kind = js_sys::Reflect::get(&data, &JsValue::from_str("type")).ok();
            let url = js_sys::Reflect::get(&data, &JsValue::from_str("url")).ok();
            if kind.and_then(|k| k.as_string()).as_deref() == Some("open") {
                if let Some(c) = url
                    .and_then(|u| u.as_string())
                    .and_then(|u| conversation_of(&u))
                {
                    f(c);
                }
            }
        },
    );
    if js_sys::Reflect::has(&window.navigator(), &JsValue::from_str("serviceWorker"))
        .unwrap_or(false)
    {
        let _ = window
            .navigator()
            .service_worker()
            .add_event_listener_with_callback("message", handler.as_ref().unchecked_ref());
    }
    handler.forget();
}
