//! The configuration file: any text as `switchboard.toml`, over the defaults and validated.
//! Must never panic; a refusal names the key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_server::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = Config::from_toml(text) {
        assert!(!e.to_string().is_empty());
    }
});
