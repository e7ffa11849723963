//! A CRM connector: any JSON an admin sends to `PUT /api/v1/settings/crm`, checked before its
//! host is resolved. Must never panic; what passes has a URL of an allowed scheme without a
//! placeholder left in it, GET or POST, 1 to 30 fields, a budget of 50 to 5,000 ms and a
//! freshness of 1 s to a day.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_server::service::crm::check_connector;
use switchboard_server::service::webhooks::guard::Rules;
use switchboard_shared::crm::CrmConnectorInput;

fuzz_target!(|data: &[u8]| {
    let Some((first, rest)) = data.split_first() else {
        return;
    };
    let Ok(input) = serde_json::from_slice::<CrmConnectorInput>(rest) else {
        return;
    };
    let rules = Rules {
        allow_http: first & 1 == 1,
        allow_private_hosts: Vec::new(),
    };
    if let Ok((url, method, fields, budget, fresh)) = check_connector(&input, &rules) {
        assert!(url.scheme() == "https" || (rules.allow_http && url.scheme() == "http"));
        assert!(!url.as_str().contains("{{"));
        assert!(method == "GET" || method == "POST");
        assert!((1..=30).contains(&fields));
        assert!((50..=5_000).contains(&budget));
        assert!((1..=86_400).contains(&fresh));
    }
});
