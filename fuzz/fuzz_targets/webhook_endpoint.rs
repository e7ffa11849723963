//! A new outbound webhook endpoint: any JSON an admin sends to `POST /api/v1/webhooks`, checked
//! before its host is resolved. Must never panic; what passes is an https URL (http only when
//! the deployment allows it) without credentials or fragment, at least one event type with no
//! repeats, and a description of at most 500 characters without control characters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_server::service::webhooks::{checked, guard::Rules};
use switchboard_shared::webhooks::NewEndpoint;

fuzz_target!(|data: &[u8]| {
    let Some((first, rest)) = data.split_first() else {
        return;
    };
    let Ok(input) = serde_json::from_slice::<NewEndpoint>(rest) else {
        return;
    };
    let rules = Rules {
        allow_http: first & 1 == 1,
        allow_private_hosts: Vec::new(),
    };
    if let Ok((url, events, description)) = checked(&input, &rules) {
        assert!(url.scheme() == "https" || (rules.allow_http && url.scheme() == "http"));
        assert!(url.username().is_empty() && url.password().is_none());
        assert!(url.fragment().is_none() && url.host_str().is_some_and(|h| !h.is_empty()));
        assert!(!events.is_empty());
        assert!(events.windows(2).all(|w| w[0] < w[1]));
        assert!(description.chars().count() <= 500);
        assert!(!description.chars().any(char::is_control));
    }
});
