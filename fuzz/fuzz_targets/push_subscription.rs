//! A Web Push subscription: any JSON a browser (or anyone) sends to
//! `POST /api/v1/push/subscriptions`, checked before its host is resolved, then a notice
//! encrypted for it. Must never panic; what passes is an https URL (http only when the
//! deployment allows it) without credentials, a browser key on P-256, a 16-byte auth secret and
//! a device name of 1 to 80 characters; a message for what passes always encrypts, to a body
//! longer than the message (RFC 8188's header and tag).
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use switchboard_server::service::push::{check_shape, request};
use switchboard_server::service::webhooks::guard::Rules;
use switchboard_shared::push::PushSubscriptionInput;

fuzz_target!(|data: &[u8]| {
    let Some((first, rest)) = data.split_first() else {
        return;
    };
    let Ok(input) = serde_json::from_slice::<PushSubscriptionInput>(rest) else {
        return;
    };
    let rules = Rules {
        allow_http: first & 1 == 1,
        allow_private_hosts: Vec::new(),
    };
    if let Ok((url, name)) = check_shape(&input, &rules) {
        assert!(url.scheme() == "https" || (rules.allow_http && url.scheme() == "http"));
        assert!(url.username().is_empty() && url.password().is_none());
        assert!((1..=80).contains(&name.chars().count()));
        let message = b"{\"reason\":\"test\"}".to_vec();
        let sealed = request(
            url.as_str(),
            (&input.keys.p256dh, &input.keys.auth),
            message.clone(),
            Duration::from_secs(60),
        )
        .expect("a checked subscription takes a message");
        assert!(sealed.body().len() > message.len());
        assert_eq!(sealed.headers()["content-encoding"], "aes128gcm");
    }
});
