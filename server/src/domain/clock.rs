//! The one wall clock. Decision cores (`routing`, `governor`, `hub::presence`) never read it: they
//! are handed the time, so tests drive them with any clock they like.

/// Milliseconds since the Unix epoch, UTC.
pub type UnixMillis = i64;

/// Now, in [`UnixMillis`].
#[allow(clippy::disallowed_methods)] // the one place the wall clock is read
pub fn now_ms() -> UnixMillis {
    jiff::Timestamp::now().as_millisecond()
}

/// A [`UnixMillis`] as an instant, held within the range instants have (a stored or received
/// time far out of it is a bad input, not a reason to fail).
pub fn instant(ms: UnixMillis) -> jiff::Timestamp {
    jiff::Timestamp::from_millisecond(ms).unwrap_or(if ms < 0 {
        jiff::Timestamp::MIN
    } else {
        jiff::Timestamp::MAX
    })
}
