//! What API fuzzing from the OpenAPI document found (issue 24; `tests/tests/api_fuzz.rs` runs
//! schemathesis), each kept as a test that failed before its fix.

use crate::common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// A literal path is its own resource: `contacts/bulk-tags` is not a contact named "bulk-tags",
/// so a wrong method there is a 405 whose `Allow` lists bulk-tags' methods only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_method_on_a_literal_path_lists_only_that_paths_methods() {
    let w = world().await;
    let owner = &w.acme.callers["owner"];
    for (path, allowed) in [
        ("contacts/bulk-tags", "POST"),
        ("segments/count", "POST"),
        ("contacts/imports", "GET, POST"),
    ] {
        let a = w.api.call(Method::DELETE, path, owner, None).await;
        assert_eq!(
            a.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{path}: {:?}",
            a.body
        );
        let mut methods: Vec<&str> = a.headers["allow"].to_str().unwrap().split(", ").collect();
        methods.sort_unstable();
        assert_eq!(methods.join(", "), allowed, "{path}");
    }
    // Before: a read of the contact "bulk-tags" (404) instead of a 405.
    let a = w.api.get("contacts/bulk-tags", owner).await;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED, "{:?}", a.body);
    w.running.shutdown().await;
}

/// JSON has one number type: `3.0` is the integer 3 (as JSON Schema, the document's language,
/// says). A fraction, or a whole number no float holds exactly, is still refused, and so is a
/// body that is not an object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_are_read_as_json_means_them_and_only_objects_are_bodies() {
    let w = world().await;
    let owner = &w.acme.callers["owner"];
    let profile = format!("agents/{}/profile", w.acme.ids["agent"]);
    let a = w
        .api
        .send(
            Method::PUT,
            &profile,
            owner,
            json!({"skills": ["lang:ru"], "capacity": 3.0}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["capacity"], 3);
    for capacity in [json!(3.5), json!(-1.0), json!(1e300)] {
        let a = w
            .api
            .send(
                Method::PUT,
                &profile,
                owner,
                json!({"skills": [], "capacity": capacity}),
            )
            .await;
        assert_eq!(
            a.status,
            StatusCode::BAD_REQUEST,
            "{capacity}: {:?}",
            a.body
        );
    }
    // Below i64::MIN: read as a float, it would round to i64::MIN and be taken as a time.
    let a = w
        .api
        .client
        .post(format!("{}/api/v1/segments/count", w.api.base))
        .bearer_auth(bearer(owner))
        .header("content-type", "application/json")
        .body(r#"{"filter": {"last_outbound": {"after": -9223372036854775809}}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(a.status(), StatusCode::BAD_REQUEST);
    assert_eq!(w.api.get(&profile, owner).await.body["capacity"], 3);

    // A struct read from an array of its fields was an empty patch, answered 200.
    let user = format!("users/{}", w.acme.ids["agent"]);
    let a = w
        .api
        .send(Method::PATCH, &user, owner, json!([null, null]))
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{:?}", a.body);
    assert!(a.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("object"));
    w.running.shutdown().await;
}

/// The audit log's filters are checked as the document declares them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_filters_outside_the_document_are_refused() {
    let w = world().await;
    let owner = &w.acme.callers["owner"];
    for query in ["until=-1", "since=-5", "outcome=maybe", "since=soon"] {
        let a = w.api.get(&format!("audit?{query}"), owner).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{query}: {:?}", a.body);
    }
    for query in ["until=0", "outcome=denied", "outcome=", "since="] {
        let a = w.api.get(&format!("audit?{query}"), owner).await;
        assert_eq!(a.status, StatusCode::OK, "{query}: {:?}", a.body);
    }
    w.running.shutdown().await;
}

fn bearer(auth: &Auth) -> &str {
    match auth {
        Auth::Bearer(token) => token,
        _ => panic!("the test callers sign in with bearer tokens"),
    }
}
