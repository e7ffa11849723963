//! The browser's side of the wire, in three parts: `rest` (the REST client) and `browser`
//! (storage, timers, ids, locale and notifications), and `push` (Web Push in this browser). Callers use them as `net::…`.

mod browser;
mod push;
mod rest;

pub use browser::*;
pub use push::*;
pub use rest::*;
