//! Switchboard's agent and supervisor PWA (Leptos CSR, compiled to WASM).
//!
//! - [`model`]: the state and how hub events change it (plain Rust, tested on the host);
//! - [`i18n`]: English and Russian;
//! - `net`, `app`, `ui`: the browser side: fetch and the WebSocket, the reactive app, the views.
//!
//! `cargo xtask dist` builds it to WASM and embeds it in the `switchboard` binary.

use switchboard_shared::{ApiErrorBody, Direction, MessageStatus};

pub mod app;
mod components;
pub mod i18n;
pub mod model;
pub mod net;
mod pages;
mod shell;

/// The WASM entry point: mounts the app on the page's body.
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn start() {
    leptos::mount::mount_to_body(shell::Root);
}

/// The delivery ticks an agent sees beside an outbound message, as in WhatsApp itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ticks {
    /// Not yet accepted by WhatsApp: a clock.
    Pending,
    /// One grey tick.
    Sent,
    /// Two grey ticks.
    Delivered,
    /// Two blue ticks (also for a played voice note).
    Read,
    /// A red mark, with the reason shown beside it.
    Failed,
}

/// Ticks for a message, or `None` for inbound messages (customers' messages carry no ticks).
pub fn ticks(direction: Direction, status: MessageStatus) -> Option<Ticks> {
    if direction == Direction::Inbound {
        return None;
    }
    Some(match status {
        MessageStatus::Received | MessageStatus::Accepted => Ticks::Pending,
        MessageStatus::Sent => Ticks::Sent,
        MessageStatus::Delivered => Ticks::Delivered,
        MessageStatus::Read | MessageStatus::Played => Ticks::Read,
        MessageStatus::Failed => Ticks::Failed,
    })
}

/// The message to show for a failed API call: the server's own words when it sent an
/// [`ApiErrorBody`], else a generic line with the HTTP status.
pub fn error_message(http_status: u16, body: &str) -> String {
    match serde_json::from_str::<ApiErrorBody>(body) {
        Ok(e) => e.error.message,
        Err(_) => format!("The server answered {http_status}."),
    }
}

/// `x` with `places` decimals (at most 3), by integer arithmetic: Rust's float formatting
/// (`{:.1}`) brings its own algorithms into the module, some 10 KB of WASM for a few labels.
pub fn decimal(x: f64, places: u32) -> String {
    let places = places.min(3);
    let scale = 10_i64.pow(places);
    let n = (x * scale as f64).round() as i64;
    let sign = if n < 0 { "-" } else { "" };
    let (whole, frac) = (n.abs() / scale, n.abs() % scale);
    if places == 0 {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{frac:0width$}", width = places as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_round_like_format() {
        for (x, p) in [
            (0.0, 1),
            (12.349, 1),
            (12.35, 0),
            (-0.04, 1),
            (-2.5, 1),
            (1.2344, 3),
            (99.96, 1),
        ] {
            assert_eq!(
                decimal(x, p),
                format!("{x:.*}", p as usize).replace("-0.0", "0.0"),
                "{x} {p}"
            );
        }
    }

    #[test]
    fn outbound_statuses_map_to_ticks_and_inbound_has_none() {
        assert_eq!(ticks(Direction::Inbound, MessageStatus::Received), None);
        assert_eq!(
            ticks(Direction::Outbound, MessageStatus::Played),
            Some(Ticks::Read)
        );
        assert_eq!(
            ticks(Direction::Outbound, MessageStatus::Failed),
            Some(Ticks::Failed)
        );
    }

    #[test]
    fn errors_prefer_the_servers_message() {
        let body = r#"{"error":{"code":"invalid_signature","message":"bad signature"}}"#;
        assert_eq!(error_message(401, body), "bad signature");
        assert_eq!(error_message(502, "<html>"), "The server answered 502.");
    }
}
