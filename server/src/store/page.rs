//! Paged reads: the opaque cursor both backends encode identically, and how a page is assembled.

use base64::Engine as _;

use super::StoreError;
use crate::domain::UnixMillis;

/// An opaque position in a paged read. Clients pass back what they were given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor(String);

impl Cursor {
    pub fn from_token(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Encodes a tuple of fields. Fields may hold any text; they are length-prefixed.
    pub(crate) fn encode(fields: &[&str]) -> Self {
        let mut raw = Vec::new();
        for field in fields {
            raw.extend_from_slice(&(field.len() as u32).to_be_bytes());
            raw.extend_from_slice(field.as_bytes());
        }
        Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw))
    }

    pub(crate) fn decode(&self, expected: usize) -> Result<Vec<String>, StoreError> {
        let bad = || StoreError::Invalid("malformed cursor".into());
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&self.0)
            .map_err(|_| bad())?;
        let mut fields = Vec::with_capacity(expected);
        let mut rest = raw.as_slice();
        while !rest.is_empty() {
            if rest.len() < 4 {
                return Err(bad());
            }
            let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            rest = &rest[4..];
            if rest.len() < len {
                return Err(bad());
            }
            fields.push(String::from_utf8(rest[..len].to_vec()).map_err(|_| bad())?);
            rest = &rest[len..];
        }
        if fields.len() != expected {
            return Err(bad());
        }
        Ok(fields)
    }

    /// The position after a unique text key (an email) in an ordered listing.
    pub(crate) fn after_text(key: &str) -> Self {
        Self::encode(&[key])
    }

    /// The text key of [`Cursor::after_text`]; the empty string (before everything) for none.
    pub(crate) fn decode_text(cursor: Option<&Cursor>) -> Result<String, StoreError> {
        match cursor {
            Some(c) => Ok(c.decode(1)?.pop().unwrap_or_default()),
            None => Ok(String::new()),
        }
    }

    /// The position after `key` within hash bucket `bucket` (a campaign's recipients).
    pub(crate) fn bucketed(bucket: i32, key: &str) -> Self {
        Self::encode(&[&bucket.to_string(), key])
    }

    /// The `(bucket, key)` of [`Cursor::bucketed`]; `(start, "")` for none.
    pub(crate) fn decode_bucketed(
        cursor: Option<&Cursor>,
        start: i32,
    ) -> Result<(i32, String), StoreError> {
        let Some(c) = cursor else {
            return Ok((start, String::new()));
        };
        let mut f = c.decode(2)?;
        let key = f.pop().unwrap_or_default();
        let bucket = f[0]
            .parse()
            .map_err(|_| StoreError::Invalid("malformed cursor".into()))?;
        Ok((bucket, key))
    }

    /// The position after a conversation in the archive's order (its last day, its id).
    pub(crate) fn after_day(thread: &crate::domain::ThreadRecord) -> Self {
        Self::bucketed(
            crate::domain::day_bucket(thread.updated_at) as i32,
            thread.conversation.as_str(),
        )
    }

    /// The `(day, id)` of [`Cursor::after_day`]; `(first, "")` for none: the archive starts at
    /// `first`, the newest day of its range (`days.end` or `days.end - 1` as a backend reads).
    pub(crate) fn decode_day(
        cursor: Option<&Cursor>,
        first: i64,
    ) -> Result<(i64, String), StoreError> {
        match cursor {
            Some(_) => {
                let (day, id) = Cursor::decode_bucketed(cursor, 0)?;
                Ok((i64::from(day), id))
            }
            None => Ok((first, String::new())),
        }
    }

    /// The position after `(bucket, at, key)` in a newest-first history read.
    pub(crate) fn history(bucket: i64, at_ms: UnixMillis, key: &str) -> Self {
        Self::encode(&[&bucket.to_string(), &at_ms.to_string(), key])
    }

    pub(crate) fn decode_history(&self) -> Result<(i64, UnixMillis, String), StoreError> {
        let mut f = self.decode(3)?;
        let key = f.pop().unwrap_or_default();
        let at = f[1]
            .parse()
            .map_err(|_| StoreError::Invalid("malformed cursor".into()))?;
        let bucket = f[0]
            .parse()
            .map_err(|_| StoreError::Invalid("malformed cursor".into()))?;
        Ok((bucket, at, key))
    }
}

/// Assembles one newest-first page from rows read bucket by bucket, the same way on every
/// backend: callers ask each partition for [`wants`](PageCollector::wants) rows (one more than
/// the page needs, so that a following row proves a next page exists) and stop as soon as
/// [`push`](PageCollector::push) says the page is complete.
pub(crate) struct PageCollector<T> {
    limit: usize,
    items: Vec<T>,
    last: Option<(i64, UnixMillis, String)>,
    more: bool,
}

impl<T> PageCollector<T> {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            limit,
            items: Vec::with_capacity(limit),
            last: None,
            more: false,
        }
    }

    /// How many rows to read from the next partition.
    pub(crate) fn wants(&self) -> usize {
        self.limit + 1 - self.items.len()
    }

    /// Adds a row at position (bucket, at, key). Returns true when the page is complete.
    pub(crate) fn push(&mut self, item: T, bucket: i64, at_ms: UnixMillis, key: &str) -> bool {
        if self.items.len() == self.limit {
            self.more = true;
            return true;
        }
        self.items.push(item);
        self.last = Some((bucket, at_ms, key.to_owned()));
        false
    }

    pub(crate) fn finish(self) -> Page<T> {
        let next = match (self.more, self.last) {
            (true, Some((bucket, at, key))) => Some(Cursor::history(bucket, at, &key)),
            _ => None,
        };
        Page {
            items: self.items,
            next,
        }
    }
}

/// A page of results and the cursor for the next one (`None` at the end).
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

impl<T> Page<T> {
    /// A page read with `limit`: a full one may have a next page, after its last item (`at`
    /// gives that item's position); a short one is the end.
    pub(crate) fn of(items: Vec<T>, limit: usize, at: impl FnOnce(&T) -> Cursor) -> Self {
        let next = if items.len() == limit {
            items.last().map(at)
        } else {
            None
        };
        Self { items, next }
    }
}

impl Cursor {
    /// The position after `(at, key)` in an oldest-first listing.
    pub(crate) fn after_time(at_ms: UnixMillis, key: &str) -> Self {
        Self::encode(&[&at_ms.to_string(), key])
    }

    /// The position of [`Cursor::after_time`]; before everything for none.
    pub(crate) fn decode_time(cursor: Option<&Cursor>) -> Result<(UnixMillis, String), StoreError> {
        match cursor {
            Some(c) => {
                let mut f = c.decode(2)?;
                let key = f.pop().unwrap_or_default();
                let at = f[0]
                    .parse()
                    .map_err(|_| StoreError::Invalid("malformed cursor".into()))?;
                Ok((at, key))
            }
            None => Ok((i64::MIN, String::new())),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// `None` where the backend keeps no counts (ScyllaDB: counting would scan every node, and
    /// counter tables are neither idempotent nor allowed on tablets; /metrics has the rates).
    pub journal_entries: Option<u64>,
    pub messages: Option<u64>,
    pub statuses: Option<u64>,
    pub account_events: Option<u64>,
    pub contacts: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_any_text() {
        let c = Cursor::history(-3, 1_700_000_000_123, "in_\u{1F44D}\u{1f}x");
        assert_eq!(
            c.decode_history().unwrap(),
            (-3, 1_700_000_000_123, "in_\u{1F44D}\u{1f}x".to_string())
        );
        assert!(Cursor::from_token("!!!").decode_history().is_err());
        assert!(Cursor::encode(&["a", "b"]).decode_history().is_err());
    }
}
