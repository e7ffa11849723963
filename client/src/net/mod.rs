//! The browser's side of the wire, in two parts: `rest` (the REST client) and `browser`
//! (storage, timers, ids, locale and notifications). Callers use them as `net::…`.

mod browser;
mod rest;

pub use browser::*;
pub use rest::*;
