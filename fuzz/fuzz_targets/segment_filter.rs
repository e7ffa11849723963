//! The segment filter language: any JSON as a filter, checked against a workspace's attribute
//! definitions and tags, then evaluated and explained on a contact. Must never panic; a filter
//! that passes the check explains the same membership it matches.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_server::domain::segment::{check_filter, explain, matches, FilterContext};
use switchboard_server::domain::{AttributeSchema, ContactRecord, TagCatalogue, TagRecord};
use switchboard_shared::contacts::{AttributeDef, AttributeKind, Filter};
use switchboard_shared::{ContactId, TenantId};

fuzz_target!(|data: &[u8]| {
    let Ok(filter) = serde_json::from_slice::<Filter>(data) else {
        return;
    };
    let def = |key: &str, kind: AttributeKind| AttributeDef {
        key: key.into(),
        label: key.into(),
        kind,
        pattern: None,
    };
    let schema = AttributeSchema::new(&[
        def("city", AttributeKind::Text),
        def("orders", AttributeKind::Number),
        def("since", AttributeKind::Date),
        def("vip", AttributeKind::Boolean),
        def(
            "plan",
            AttributeKind::Choice {
                options: vec!["Free".into(), "Pro".into()],
            },
        ),
        def("site", AttributeKind::Link),
    ])
    .expect("the fuzzer's schema is valid");
    let tenant = TenantId::from("t");
    let tags = TagCatalogue::new(&[TagRecord {
        tenant: tenant.clone(),
        name: "VIP".into(),
        colour: "#ff0000".into(),
    }]);
    if check_filter(&filter, &schema, &tags).is_err() {
        return;
    }
    let mut contact = ContactRecord::new(
        tenant,
        ContactId::from("ct_1"),
        Some("79161234567".into()),
        None,
        0,
    );
    contact.tags = vec!["VIP".into()];
    contact
        .attributes
        .insert("orders".into(), serde_json::json!(3));
    contact.last_inbound_at = Some(86_400_000);
    let cx = FilterContext {
        now: 10 * 86_400_000,
        open_conversation: true,
    };
    let member = matches(&filter, &contact, cx);
    assert_eq!(explain(&filter, &contact, cx).member, member);
});
