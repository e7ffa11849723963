//! Meta's wire encoding of webhook bodies: ASCII-only JSON, non-ASCII as `\uXXXX` with lowercase
//! hex (UTF-16 surrogate pairs beyond the BMP) and `/` as `\/`. The simulator signs exactly these
//! bytes, so both raw-byte verifiers and escape-then-verify verifiers accept them.

/// Serializes `value` the way Meta puts webhook bodies on the wire.
pub fn to_meta_wire(value: &serde_json::Value) -> Vec<u8> {
    escape(&value.to_string()).into_bytes()
}

/// Escapes already-serialized JSON. Non-ASCII characters and `/` can only occur inside strings
/// in serialized JSON, so a character-level rewrite is safe.
pub fn escape(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + json.len() / 8);
    for ch in json.chars() {
        match ch {
            '/' => out.push_str("\\/"),
            c if c.is_ascii() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_meta() {
        let v = serde_json::json!({"emoji": "👍", "url": "https://a/b", "ru": "Привет", "ä": 1});
        let wire = String::from_utf8(to_meta_wire(&v)).unwrap();
        assert!(wire.is_ascii());
        assert!(wire.contains(r#""\ud83d\udc4d""#), "{wire}");
        assert!(wire.contains(r#"https:\/\/a\/b"#), "{wire}");
        assert!(wire.contains(r#""\u00e4":1"#), "{wire}");
        let back: serde_json::Value = serde_json::from_slice(wire.as_bytes()).unwrap();
        assert_eq!(back, v);
    }
}
