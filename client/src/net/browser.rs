//! Browser helpers: local storage, the clock, ids, the socket's URL, the page's state, locale
//! formatting, the chime and notifications.

use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::JsValue;

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

pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// A monotonic clock in fractional milliseconds (`performance.now()`), for timing work.
pub fn precise_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or_else(js_sys::Date::now, |p| p.now())
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

/// `YYYY-MM-DD` of the UTC day `days` from today (for the date filters of reports).
pub fn utc_day(days: i32) -> String {
    let at = js_sys::Date::new(&JsValue::from_f64(
        js_sys::Date::now() + f64::from(days) * 86_400_000.0,
    ));
    format!(
        "{:04}-{:02}-{:02}",
        at.get_utc_full_year(),
        at.get_utc_month() + 1,
        at.get_utc_date()
    )
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
    intl_number(n, locale, &js_sys::Object::new()).unwrap_or_else(|| crate::decimal(n, 3))
}

/// A decimal amount of US dollars (the server's exact text) as the locale writes money, to
/// four decimals; the exact text belongs in the element's title, so that nothing is lost to a
/// float on screen.
pub fn format_usd(amount: &str, locale: &str) -> String {
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"style".into(), &"currency".into());
    let _ = js_sys::Reflect::set(&options, &"currency".into(), &"USD".into());
    let _ = js_sys::Reflect::set(&options, &"maximumFractionDigits".into(), &4.into());
    intl_number(amount.parse().unwrap_or(0.0), locale, &options)
        .unwrap_or_else(|| format!("${amount}"))
}

fn intl_number(n: f64, locale: &str, options: &js_sys::Object) -> Option<String> {
    let locales = js_sys::Array::of1(&JsValue::from_str(locale));
    js_sys::Intl::NumberFormat::new(&locales, options)
        .format()
        .call1(&JsValue::UNDEFINED, &JsValue::from_f64(n))
        .ok()
        .and_then(|v| v.as_string())
}

/// The browser's own time zone (`Europe/Moscow`), or UTC.
pub fn time_zone() -> String {
    let options = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new())
        .resolved_options();
    js_sys::Reflect::get(&options, &"timeZone".into())
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_else(|| "UTC".to_owned())
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

/// Waits `ms` milliseconds (a `setTimeout` promise), for polls that follow a job.
pub async fn sleep_ms(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}
