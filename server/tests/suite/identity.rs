//! Identity, tenancy, roles and audit, against a real server on a loopback port: the permission
//! matrix generated from the route table, cross-tenant attempts, lockout, cookie replay after
//! logout, CSRF, teams and masking, API keys, custom roles and the audit trail.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use switchboard_server::api::{routes, Access};
use switchboard_server::auth::roles::effective;
use switchboard_server::auth::PresetRole;

/// The path of a route with its `{id}` (and `{contact}`, `{key}`) filled from a tenant's
/// fixtures.
fn concrete(path: &str, ids: &BTreeMap<&'static str, String>) -> String {
    let kind = path.split('/').next().unwrap();
    let id = match kind {
        "users" | "agents" => &ids["agent"],
        "roles" => &ids["role"],
        "teams" => &ids["team"],
        "api-keys" => &ids["api_key"],
        "conversations" => &ids["conversation"],
        "sends" => &ids["send"],
        "contacts" if path.starts_with("contacts/imports/") => &ids["import"],
        "contacts" => &ids["contact"],
        "segments" => &ids["segment"],
        "attributes" => &ids["attribute"],
        "compliance" => &ids["term_list"],
        "automation" if path.starts_with("automation/schedules/") => &ids["schedule"],
        "automation" if path.starts_with("automation/flows/") => &ids["flow"],
        "automation" => &ids["rule"],
        "campaigns" => &ids["campaign"],
        "retention" => &ids["hold"],
        "numbers" => &ids["number"],
        "webhooks" => &ids["webhook"],
        "saved-replies" => &ids["saved_reply"],
        "push" => &ids["push_device"],
        other => panic!("no fixture for `{other}`: add one when adding a route with an id"),
    };
    path.split('/')
        .map(|s| match s {
            "{contact}" => ids["contact"].as_str(),
            s if s.starts_with('{') => id.as_str(),
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Routes whose parameter is a name in the caller's own tenant (an attribute's key), not an
/// object of another tenant: the cross-tenant check does not apply to them.
const NAMED: &[&str] = &["attributes/{key}"];

/// A body for a write: well-formed where a harmless one exists, empty otherwise (a 400 still
/// proves the caller got past the permission check).
fn body_for(method: &Method, path: &str) -> Option<Value> {
    if *method == Method::GET || *method == Method::DELETE {
        return None;
    }
    let _ = path;
    Some(json!({}))
}

/// Self-service endpoints any signed-in caller may use. A new `SignedIn` route must be added
/// here on purpose, or the matrix fails: everything else must declare one permission.
const SELF_SERVICE: &[&str] = &[
    "auth/me",
    "auth/logout",
    "auth/logout-everywhere",
    "auth/password",
    "tenant",
    "agents/me/status",
    "push/key",
    "push/subscriptions",
    "push/subscriptions/{id}",
    "push/subscriptions/{id}/test",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permission_matrix_generated_from_the_route_table() {
    // Every preset signs in again and again from loopback, one address: past its pace of
    // sign-in attempts (server/tests/suite/limits.rs checks that pace).
    let w = world_with("[auth]\nattempt_burst = 1000").await;
    let presets = [
        PresetRole::Owner,
        PresetRole::Admin,
        PresetRole::Supervisor,
        PresetRole::Agent,
        PresetRole::Viewer,
    ];
    let mut checked = 0;
    let mut callers = w.acme.callers.clone();
    for route in routes() {
        if route.access == Access::SignedIn {
            assert!(
                SELF_SERVICE.contains(&route.path),
                "{} {} admits any signed-in caller but is not self-service: declare its permission",
                route.method,
                route.path
            );
        }
        let method = Method::from_bytes(route.method.as_str().as_bytes()).unwrap();
        let path = if route.path.contains('{') {
            concrete(route.path, &w.acme.ids)
        } else {
            route.path.to_owned()
        };
        // Anonymous.
        let a = w
            .api
            .call(
                method.clone(),
                &path,
                &Auth::None,
                body_for(&method, route.path),
            )
            .await;
        if route.access == Access::Public {
            assert!(
                a.status != StatusCode::UNAUTHORIZED && a.status != StatusCode::FORBIDDEN,
                "anonymous {method} {path}: {} {:?}",
                a.status,
                a.body
            );
        } else {
            assert_eq!(
                a.status,
                StatusCode::UNAUTHORIZED,
                "anonymous {method} {path}"
            );
            assert_eq!(a.code(), "unauthenticated");
        }
        for preset in presets {
            let role = preset.as_str();
            // Ending a session is checked with a session of its own, so the others survive.
            let auth = if route.path.starts_with("auth/logout") {
                w.api.token(&w.acme.emails[role]).await
            } else {
                callers[role].clone()
            };
            let a = w
                .api
                .call(method.clone(), &path, &auth, body_for(&method, route.path))
                .await;
            let allowed = match route.access {
                Access::Public | Access::SignedIn => true,
                Access::Needs(p) => effective(preset.permissions()).contains(&p),
            };
            if allowed {
                assert!(
                    a.status != StatusCode::UNAUTHORIZED
                        && !(a.status == StatusCode::FORBIDDEN && a.code() == "forbidden"),
                    "{role} {method} {path} should pass the permission check: {} {:?}",
                    a.status,
                    a.body
                );
            } else {
                assert_eq!(
                    (a.status, a.code()),
                    (StatusCode::FORBIDDEN, "forbidden"),
                    "{role} {method} {path} must be refused: {:?}",
                    a.body
                );
            }
            if route.path == "auth/logout-everywhere" {
                // That ended every session of the user: sign in again.
                callers.insert(role, w.api.token(&w.acme.emails[role]).await);
            }
            checked += 1;
        }
    }
    assert!(checked >= routes().len() * 5);
    w.running.shutdown().await;
}

/// What tenant A looks like to its owner: every list and every object.
async fn snapshot(api: &Api, t: &Tenant) -> Value {
    let owner = &t.callers["owner"];
    let mut out = serde_json::Map::new();
    for path in [
        "users".to_owned(),
        "roles".to_owned(),
        "teams".to_owned(),
        "api-keys".to_owned(),
        "tenant".to_owned(),
        format!("users/{}", t.ids["agent"]),
        format!("conversations/{}", t.ids["conversation"]),
        format!("conversations/{}/messages", t.ids["conversation"]),
        format!("conversations/{}/notes", t.ids["conversation"]),
        format!("agents/{}/profile", t.ids["agent"]),
        "contacts".to_owned(),
        format!("contacts/{}", t.ids["contact"]),
        format!("contacts/{}/notes", t.ids["contact"]),
        format!("segments/{}", t.ids["segment"]),
        "attributes".to_owned(),
    ] {
        let a = api.get(&path, owner).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {:?}", a.body);
        let mut body = a.body;
        // last_used_at moves with every use of the key; everything else must not.
        if path == "api-keys" {
            for key in body.as_array_mut().unwrap() {
                key["last_used_at"] = Value::Null;
            }
        }
        out.insert(path, body);
    }
    Value::Object(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_tenant_attempts_answer_404_and_change_nothing() {
    let w = world().await;
    let before = snapshot(&w.api, &w.acme).await;
    let intruders = [
        ("owner", w.globex.callers["owner"].clone()),
        ("admin", w.globex.callers["admin"].clone()),
    ];
    let mut checked = 0;
    for route in routes()
        .iter()
        .filter(|r| r.path.contains('{') && !NAMED.contains(&r.path))
    {
        let method = Method::from_bytes(route.method.as_str().as_bytes()).unwrap();
        let path = concrete(route.path, &w.acme.ids);
        for (who, auth) in &intruders {
            let body = match route.path {
                // A read takes no body.
                _ if method == Method::GET => None,
                "users/{id}" => Some(json!({"role": "viewer", "disabled": true})),
                "roles/{id}" => Some(json!({"name": "Hijacked", "permissions": ["reports.view"]})),
                "teams/{id}" => Some(json!({"name": "Hijacked"})),
                "conversations/{id}/messages" => Some(json!({"text": "Hijacked"})),
                "conversations/{id}/reactions" => {
                    Some(json!({"message": "in_anything", "emoji": "👎"}))
                }
                "conversations/{id}/assign" => Some(json!({"agent": w.globex.ids["agent"]})),
                "conversations/{id}/notes" => Some(json!({"text": "Hijacked"})),
                "conversations/{id}/tags" => Some(json!({"tags": ["hijacked"]})),
                "agents/{id}/profile" => Some(json!({"skills": ["lang:xx"], "capacity": 1})),
                "contacts/{id}" => Some(json!({"name": "Hijacked"})),
                "contacts/{id}/notes" => Some(json!({"body": "Hijacked"})),
                "contacts/{id}/merge" => Some(json!({"from": w.globex.ids["contact"]})),
                "segments/{id}" => Some(json!({"name": "Hijacked", "filter": {"all": []}})),
                "automation/rules/{id}" => Some(json!({"name": "Hijacked",
                    "match": {"keywords": ["hello"]}, "actions": [{"resolve": {}}]})),
                "automation/flows/{id}" => Some(json!({"name": "Hijacked", "start": "a",
                    "nodes": {"a": {"type": "end"}}})),
                "automation/schedules/{id}" => {
                    Some(json!({"name": "Hijacked", "time_zone": "UTC", "week": {}}))
                }
                "campaigns/{id}" => Some(json!({"name": "Hijacked",
                    "template": {"name": "fixture", "language": "en_US"},
                    "audience": {"segment": w.globex.ids["segment"]},
                    "numbers": [GLOBEX_NUMBER]})),
                "compliance/term-lists/{id}" => {
                    Some(json!({"name": "Hijacked", "terms": ["hello"]}))
                }
                "saved-replies/{id}" => Some(json!({"shortcut": "hijacked", "text": "Hijacked"})),
                _ => body_for(&method, route.path),
            };
            let a = w.api.call(method.clone(), &path, auth, body).await;
            assert_eq!(
                (a.status, a.code()),
                (StatusCode::NOT_FOUND, "not_found"),
                "globex {who}: {method} {path}: {:?}",
                a.body
            );
            checked += 1;
        }
    }
    assert!(checked >= 10, "every route with an id was tried");
    // Lists never show the other tenant's objects.
    let globex_owner = &w.globex.callers["owner"];
    for path in ["users", "roles", "teams", "api-keys", "audit"] {
        let mut body = w.api.get(path, globex_owner).await.body;
        // Globex's own refused probes are recorded with the ids globex itself sent (outcome
        // `not_found`, docs/security.md rule 10): echoing a caller's input is no leak.
        if let Some(items) = body.get_mut("items").and_then(|i| i.as_array_mut()) {
            items.retain(|line| line["outcome"] != "not_found");
        }
        let text = body.to_string();
        // An attribute's key is a name both tenants use, not an id.
        for (_, id) in w.acme.ids.iter().filter(|(k, _)| **k != "attribute") {
            assert!(!text.contains(id.as_str()), "{path} leaks {id}");
        }
        assert!(!text.contains("acme.example"), "{path} leaks acme's users");
    }
    // Acme's API key sees only acme.
    let key = &w.acme.callers["api_key"];
    let audit = w.api.get("audit", key).await;
    assert_eq!(audit.status, StatusCode::OK);
    assert!(!audit.body.to_string().contains("globex"));
    assert_eq!(snapshot(&w.api, &w.acme).await, before, "acme is unchanged");
    w.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brute_force_is_locked_out_with_a_clear_message() {
    let (running, api, _dir) = start("[auth]\nmax_failures_per_account = 3\n").await;
    let token = setup_token(&running.setup_links[0]);
    let a = api
        .send(
            Method::POST,
            "setup",
            &Auth::None,
            json!({"token": token, "name": "Ada", "email": "ada@acme.example", "password": PASSWORD}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    let attempt = |password: &'static str| {
        api.send(
            Method::POST,
            "auth/token",
            &Auth::None,
            json!({"email": "ADA@acme.example", "password": password}),
        )
    };
    for _ in 0..2 {
        let a = attempt("wrong password 1").await;
        assert_eq!(
            (a.status, a.code()),
            (StatusCode::UNAUTHORIZED, "invalid_credentials")
        );
    }
    let a = attempt("wrong password 3").await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::TOO_MANY_REQUESTS, "login_locked")
    );
    assert!(a.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("try again in 15 minutes"));
    assert!(a.headers.contains_key("retry-after"));
    // Even the right password is refused while locked, before it is checked.
    let a = attempt(PASSWORD).await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::TOO_MANY_REQUESTS, "login_locked")
    );
    // Unknown accounts answer exactly like wrong passwords.
    let a = api
        .send(
            Method::POST,
            "auth/token",
            &Auth::None,
            json!({"email": "nobody@acme.example", "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::UNAUTHORIZED, "invalid_credentials")
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_end_for_good_and_cookie_writes_need_csrf() {
    let w = world().await;
    let email = &w.acme.emails["admin"];
    let (cookie_auth, set_cookie) = w.api.cookie_login(email).await;
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    assert_eq!(
        w.api.get("auth/me", &cookie_auth).await.status,
        StatusCode::OK
    );

    // A cookie write without the CSRF token, or from another origin, is refused.
    let Auth::Cookie { cookie, csrf } = cookie_auth.clone() else {
        unreachable!()
    };
    let no_csrf = Auth::Cookie {
        cookie: cookie.clone(),
        csrf: "forged".into(),
    };
    let role = json!({"name": "Night shift", "permissions": ["board.view"]});
    let a = w
        .api
        .send(Method::POST, "roles", &no_csrf, role.clone())
        .await;
    assert_eq!((a.status, a.code()), (StatusCode::FORBIDDEN, "csrf"));
    let cross = w
        .api
        .client
        .post(format!("{}/api/v1/roles", w.api.base))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .header("origin", "https://evil.example")
        .json(&role)
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    let a = w.api.send(Method::POST, "roles", &cookie_auth, role).await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);

    // Logout, then replay the stolen cookie: refused.
    let a = w
        .api
        .call(Method::POST, "auth/logout", &cookie_auth, None)
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert!(a.headers["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let replay = w.api.get("auth/me", &cookie_auth).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);

    // Logout everywhere ends the other sessions (a phone and an API client) too.
    let (phone, _) = w.api.cookie_login(email).await;
    let script = w.api.token(email).await;
    let a = w
        .api
        .call(Method::POST, "auth/logout-everywhere", &script, None)
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(
        w.api.get("auth/me", &phone).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        w.api.get("auth/me", &script).await.status,
        StatusCode::UNAUTHORIZED
    );

    // A change of role ends the user's sessions: they sign in again with the new rights.
    let agent = w.api.token(&w.acme.emails["agent"]).await;
    let a = w
        .api
        .send(
            Method::PATCH,
            &format!("users/{}", w.acme.ids["agent"]),
            &w.acme.callers["owner"],
            json!({"role": "supervisor"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(
        w.api.get("auth/me", &agent).await.status,
        StatusCode::UNAUTHORIZED
    );
    let again = w.api.token(&w.acme.emails["agent"]).await;
    let me = w.api.get("auth/me", &again).await;
    assert!(me.body["permissions"]
        .as_array()
        .unwrap()
        .contains(&json!("board.view")));

    // A password change rotates the session that made it and ends the others.
    let (mine, _) = w.api.cookie_login(&w.acme.emails["viewer"]).await;
    let other = w.api.token(&w.acme.emails["viewer"]).await;
    let a = w
        .api
        .send(
            Method::POST,
            "auth/password",
            &mine,
            json!({"current_password": PASSWORD, "new_password": "an even better passphrase"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let rotated = a.headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        w.api.get("auth/me", &mine).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        w.api.get("auth/me", &other).await.status,
        StatusCode::UNAUTHORIZED
    );
    let rotated = Auth::Cookie {
        cookie: rotated,
        csrf: a.body["me"]["csrf_token"].as_str().unwrap().to_owned(),
    };
    assert_eq!(w.api.get("auth/me", &rotated).await.status, StatusCode::OK);
    w.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teams_scope_conversations_and_numbers_are_masked() {
    let w = world().await;
    let conversation = format!("conversations/{}", w.acme.ids["conversation"]);
    let customer = &w.acme.ids["customer"];
    // The agent is in the team that owns the number: visible, masked.
    let a = w.api.get(&conversation, &w.acme.callers["agent"]).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["customer"], json!("•••••••4567"));
    let history = w
        .api
        .get(
            &format!("{conversation}/messages"),
            &w.acme.callers["agent"],
        )
        .await;
    assert_eq!(history.body["items"][0]["text"], json!("hello"));
    assert!(!history.body.to_string().contains(customer.as_str()));
    // The supervisor reads every transcript, unmasked, and the read is audited.
    let a = w
        .api
        .get(
            &format!("{conversation}/messages"),
            &w.acme.callers["supervisor"],
        )
        .await;
    assert_eq!(a.body["items"][0]["customer"], json!(customer));
    let audit = w
        .api
        .get(
            "audit?action=conversation.history",
            &w.acme.callers["owner"],
        )
        .await;
    let readers: BTreeSet<String> = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["actor_name"].as_str().unwrap().to_owned())
        .collect();
    assert!(readers.contains("supervisor@acme.example"), "{readers:?}");
    // Take the agent out of the team: the conversation is gone for them (404, not 403).
    let a = w
        .api
        .send(
            Method::PUT,
            &format!("teams/{}", w.acme.ids["team"]),
            &w.acme.callers["owner"],
            json!({"name": "Sales", "members": [], "numbers": [ACME_NUMBER]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let a = w.api.get(&conversation, &w.acme.callers["agent"]).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    // A team cannot take another tenant's number or user.
    let a = w
        .api
        .send(
            Method::POST,
            "teams",
            &w.acme.callers["owner"],
            json!({"name": "Raid", "numbers": [GLOBEX_NUMBER]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let a = w
        .api
        .send(
            Method::POST,
            "teams",
            &w.acme.callers["owner"],
            json!({"name": "Raid", "members": [w.globex.ids["agent"]]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    w.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_roles_api_keys_and_no_escalation() {
    let w = world().await;
    let owner = &w.acme.callers["owner"];
    // Twelve custom roles in one tenant.
    for i in 0..12 {
        let a = w
            .api
            .send(
                Method::POST,
                "roles",
                owner,
                json!({"name": format!("Custom {i}"), "permissions": ["reports.view", "contacts.read"]}),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    }
    let roles = w.api.get("roles", owner).await;
    assert_eq!(roles.body.as_array().unwrap().len(), 5 + 1 + 12);
    // A key manager: may create keys, only within what they hold.
    let a = w
        .api
        .send(
            Method::POST,
            "roles",
            owner,
            json!({"name": "Integrator", "permissions": ["api_keys.manage", "audit.view"]}),
        )
        .await;
    let integrator_role = a.body["id"].as_str().unwrap().to_owned();
    let a = w
        .api
        .send(
            Method::POST,
            "users",
            owner,
            json!({"email": "int@acme.example", "name": "Int", "role": integrator_role, "password": PASSWORD}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let integrator = w.api.token("int@acme.example").await;
    let me = w.api.get("auth/me", &integrator).await;
    assert_eq!(
        me.body["permissions"],
        json!(["api_keys.manage", "audit.view"])
    );
    let a = w
        .api
        .send(
            Method::POST,
            "api-keys",
            &integrator,
            json!({"name": "too much", "permissions": ["users.manage"]}),
        )
        .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::FORBIDDEN, "privilege_escalation")
    );
    // An admin cannot make anyone owner, nor edit the owner.
    let admin = &w.acme.callers["admin"];
    let a = w
        .api
        .send(
            Method::PATCH,
            &format!("users/{}", w.acme.ids["viewer"]),
            admin,
            json!({"role": "owner"}),
        )
        .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::FORBIDDEN, "privilege_escalation")
    );
    // A role in use cannot be deleted; the last owner cannot step down.
    let a = w
        .api
        .call(
            Method::DELETE,
            &format!("roles/{integrator_role}"),
            owner,
            None,
        )
        .await;
    assert_eq!((a.status, a.code()), (StatusCode::CONFLICT, "role_in_use"));
    let owner_id = w.api.get("auth/me", owner).await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let a = w
        .api
        .send(
            Method::PATCH,
            &format!("users/{owner_id}"),
            owner,
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!((a.status, a.code()), (StatusCode::CONFLICT, "last_owner"));

    // Keys: the secret is shown once, stored hashed, scoped, last use recorded, revocable.
    let a = w
        .api
        .send(
            Method::POST,
            "api-keys",
            &integrator,
            json!({"name": "Reporting", "permissions": ["audit.view"]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    let secret = a.body["secret"].as_str().unwrap().to_owned();
    let id = a.body["key"]["id"].as_str().unwrap().to_owned();
    let key = Auth::Bearer(secret.clone());
    assert_eq!(w.api.get("audit", &key).await.status, StatusCode::OK);
    let a = w.api.get("users", &key).await;
    assert_eq!((a.status, a.code()), (StatusCode::FORBIDDEN, "forbidden"));
    let listed = w.api.get("api-keys", owner).await;
    assert!(
        !listed.body.to_string().contains(&secret[12..]),
        "never shown again"
    );
    let entry = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == json!(id))
        .unwrap()
        .clone();
    assert!(entry["last_used_at"].is_i64());
    let a = w
        .api
        .call(Method::DELETE, &format!("api-keys/{id}"), owner, None)
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(
        w.api.get("audit", &key).await.status,
        StatusCode::UNAUTHORIZED
    );
    w.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_admin_action_leaves_an_audit_line_with_before_and_after() {
    let w = world().await;
    let owner = &w.acme.callers["owner"];
    let agent_path = format!("users/{}", w.acme.ids["agent"]);
    let role_path = format!("roles/{}", w.acme.ids["role"]);
    let team_path = format!("teams/{}", w.acme.ids["team"]);
    let steps: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::PATCH,
            "tenant".into(),
            Some(json!({"name": "Acme Corp"})),
        ),
        (
            Method::PATCH,
            agent_path.clone(),
            Some(json!({"name": "Agent Smith", "disabled": true})),
        ),
        (
            Method::PUT,
            role_path.clone(),
            Some(json!({"name": "Reporter+", "permissions": ["reports.view", "board.view"]})),
        ),
        (
            Method::PUT,
            team_path.clone(),
            Some(json!({"name": "Sales EU", "numbers": [ACME_NUMBER]})),
        ),
        (Method::DELETE, team_path.clone(), None),
        (Method::DELETE, role_path.clone(), None),
        (
            Method::DELETE,
            format!("api-keys/{}", w.acme.ids["api_key"]),
            None,
        ),
    ];
    for (method, path, body) in steps {
        let a = w.api.call(method.clone(), &path, owner, body).await;
        assert!(a.status.is_success(), "{method} {path}: {:?}", a.body);
    }
    // A denied attempt is recorded too.
    let a = w.api.get("users", &w.acme.callers["agent"]).await;
    assert_eq!(
        a.status,
        StatusCode::UNAUTHORIZED,
        "the disabled agent's session ended"
    );
    let a = w.api.get("users", &w.acme.callers["viewer"]).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);

    let mut lines = Vec::new();
    let mut cursor = String::new();
    loop {
        let a = w.api.get(&format!("audit?limit=7{cursor}"), owner).await;
        assert_eq!(a.status, StatusCode::OK);
        lines.extend(a.body["items"].as_array().unwrap().clone());
        match a.body["next"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    let find = |action: &str| {
        lines
            .iter()
            .find(|l| l["action"] == json!(action) && l["outcome"] == json!("ok"))
            .unwrap_or_else(|| panic!("no {action} line in {lines:#?}"))
            .clone()
    };
    let tenant = find("tenant.update");
    assert_eq!(tenant["before"]["name"], json!("acme"));
    assert_eq!(tenant["after"]["name"], json!("Acme Corp"));
    let user = find("user.update");
    assert_eq!(user["before"]["disabled"], json!(false));
    assert_eq!(user["after"]["disabled"], json!(true));
    assert_eq!(user["after"]["name"], json!("Agent Smith"));
    assert_eq!(user["actor_name"], json!("owner@acme.example"));
    assert_eq!(user["ip"], json!("127.0.0.1"));
    assert!(
        !user.to_string().contains("argon2"),
        "never a password hash"
    );
    let role = find("role.update");
    assert_eq!(
        role["after"]["permissions"],
        json!(["board.view", "reports.view"])
    );
    assert_eq!(find("team.update")["before"]["name"], json!("Sales"));
    assert!(find("team.delete")["after"].is_null());
    assert_eq!(find("role.delete")["before"]["name"], json!("Reporter+"));
    assert!(find("api_key.revoke")["after"]["revoked_at"].is_i64());
    assert!(find("user.create")["after"]["email"].is_string());
    assert!(lines
        .iter()
        .any(|l| l["action"] == json!("user.list") && l["outcome"] == json!("denied")));
    assert!(lines.iter().any(|l| l["action"] == json!("auth.login")));

    // Filters and the export.
    let a = w.api.get("audit?action=role&outcome=ok", owner).await;
    let actions: BTreeSet<&str> = a.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        BTreeSet::from(["role.create", "role.update", "role.delete"])
    );
    for (format, needle) in [("csv", "tenant.update"), ("jsonl", "\"role.delete\"")] {
        let response = w
            .api
            .client
            .get(format!(
                "{}/api/v1/audit/export?format={format}",
                w.api.base
            ))
            .bearer_auth(match owner {
                Auth::Bearer(t) => t.clone(),
                _ => unreachable!(),
            })
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let text = response.text().await.unwrap();
        assert!(text.contains(needle), "{format}: {text}");
    }
    w.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_setup_link_works_once_and_bad_input_keeps_it() {
    let (running, api, _dir) = start("").await;
    let token = setup_token(&running.setup_links[0]);
    let page = api
        .client
        .get(&running.setup_links[0])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&token) && page.contains("<form"));
    let body = |password: &str| json!({"token": token, "name": "Ada", "email": "ada@acme.example", "password": password});
    let a = api
        .send(Method::POST, "setup", &Auth::None, body("short"))
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let a = api
        .send(Method::POST, "setup", &Auth::None, body(PASSWORD))
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    assert_eq!(a.body["role"], json!("owner"));
    let a = api
        .send(Method::POST, "setup", &Auth::None, body(PASSWORD))
        .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::NOT_FOUND, "invalid_setup_token")
    );
    // Bodies are limited, typed and strict.
    let a = api
        .send(
            Method::POST,
            "auth/token",
            &Auth::None,
            json!({"email": "ada@acme.example", "password": PASSWORD, "x": 1}),
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let big = "x".repeat(70_000);
    let a = api
        .send(
            Method::POST,
            "auth/token",
            &Auth::None,
            json!({"email": big, "password": ""}),
        )
        .await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    let a = api.call(Method::PUT, "auth/me", &Auth::None, None).await;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(a.headers["allow"], "GET");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weak_password_hash_is_upgraded_at_sign_in() {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    use switchboard_server::domain::AuditRecord;
    use switchboard_server::store::sqlite::{SqliteOptions, SqliteStore};
    use switchboard_server::store::IdentityStore;

    let (running, api, dir) = start("").await;
    let token = setup_token(&running.setup_links[0]);
    let a = api
        .send(
            Method::POST,
            "setup",
            &Auth::None,
            json!({"token": token, "name": "Ada", "email": "ada@acme.example", "password": PASSWORD}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    // An operator's older install hashed with weaker parameters.
    let store = SqliteStore::open(
        &dir.path().join("data/switchboard.db"),
        SqliteOptions::default(),
    )
    .unwrap();
    let mut user = store
        .user_by_email("ada@acme.example")
        .await
        .unwrap()
        .unwrap();
    user.password_hash = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(1024, 1, 1, None).unwrap(),
    )
    .hash_password(PASSWORD.as_bytes(), &SaltString::generate(&mut OsRng))
    .unwrap()
    .to_string();
    let line = AuditRecord {
        tenant: user.tenant.clone(),
        id: "a_test".into(),
        at_ms: 1,
        actor: "test".into(),
        actor_name: "test".into(),
        action: "test.weaken".into(),
        target: None,
        outcome: "ok".into(),
        ip: None,
        user_agent: None,
        before: None,
        after: None,
    };
    assert!(store.update_user(&user, &line).await.unwrap());
    api.token("ada@acme.example").await;
    let upgraded = store
        .user_by_email("ada@acme.example")
        .await
        .unwrap()
        .unwrap();
    assert!(
        upgraded
            .password_hash
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{}",
        upgraded.password_hash
    );
    api.token("ada@acme.example").await;
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_s_other_conversations_show_only_where_the_caller_may_read() {
    // Acme has a second number, outside the agent's team.
    const SECOND: &str = "333333333333333";
    let w = world_with(&format!(
        "[[whatsapp.numbers]]\ntenant = \"acme\"\nphone_number_id = \"{SECOND}\"\n\
         display_phone_number = \"15553333\"\nwaba_id = \"9001\"\naccess_token = \"token\"\n\
         app_secret = \"{SECRET}\"\nverify_token = \"verify\"\n\
         graph_api_url = \"http://127.0.0.1:9/v23.0\"\n"
    ))
    .await;
    let customer = &w.acme.ids["customer"];
    deliver(&w.api, webhook(SECOND, customer, "wamid.acme.2", "again")).await;
    let path = format!("conversations/{}/customer", w.acme.ids["conversation"]);

    let owner = w.api.get(&path, &w.acme.callers["owner"]).await;
    assert_eq!(owner.status, StatusCode::OK, "{:?}", owner.body);
    assert_eq!(owner.body["customer"], customer.as_str());
    let numbers: Vec<&str> = owner.body["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["conversation"]["number"].as_str().unwrap())
        .collect();
    assert_eq!(numbers.len(), 2, "{:?}", owner.body);
    assert!(numbers.contains(&SECOND) && numbers.contains(&ACME_NUMBER));

    // The agent reads only their team's number, and sees the customer's number masked.
    let agent = w.api.get(&path, &w.acme.callers["agent"]).await;
    assert_eq!(agent.status, StatusCode::OK, "{:?}", agent.body);
    let list = agent.body["conversations"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{:?}", agent.body);
    assert_eq!(list[0]["conversation"]["number"], ACME_NUMBER);
    assert_eq!(
        list[0]["display_phone_number"],
        format!("1555{ACME_NUMBER}")
    );
    assert!(agent.body["customer"].as_str().unwrap().starts_with('•'));
    w.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_read_and_change_their_own_workspace_s_routing_only() {
    let w = world_with("[routing]\nstrategy = \"round_robin\"\nsla_secs = 120\n").await;
    let admin = &w.acme.callers["admin"];
    let a = w.api.get("settings/routing", admin).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(
        (a.body["strategy"].as_str(), a.body["sla_secs"].as_u64()),
        (Some("round_robin"), Some(120))
    );
    assert_eq!(a.body["version"], Value::Null, "the server's defaults");
    let numbers = a.body["numbers"].as_array().unwrap();
    assert_eq!(numbers.len(), 1, "only acme's own number: {numbers:?}");
    assert_eq!(numbers[0]["phone_number_id"], ACME_NUMBER);
    assert_eq!(numbers[0]["strategy"], "round_robin");
    let a = w
        .api
        .get("settings/routing", &w.acme.callers["agent"])
        .await;
    assert_eq!((a.status, a.code()), (StatusCode::FORBIDDEN, "forbidden"));

    // Acme changes its own; Globex keeps the defaults.
    let changed = w
        .api
        .send(
            Method::PATCH,
            "settings/routing",
            admin,
            json!({"strategy": "least_load", "capacity": 2, "sla_secs": 300,
                   "numbers": {ACME_NUMBER: "round_robin"}}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    assert_eq!(changed.body["version"], 1);
    assert_eq!(changed.body["strategy"], "least_load");
    assert_eq!(changed.body["numbers"][0]["strategy"], "round_robin");
    let theirs = w
        .api
        .get("settings/routing", &w.globex.callers["admin"])
        .await;
    assert_eq!(
        (
            theirs.body["strategy"].as_str(),
            theirs.body["capacity"].as_u64()
        ),
        (Some("round_robin"), Some(5)),
        "another workspace's settings do not move: {:?}",
        theirs.body
    );
    // A change made since the version read is refused, not overwritten; bad values name their
    // field; another workspace's number is not this one's to set.
    let stale = w
        .api
        .send(
            Method::PATCH,
            "settings/routing",
            admin,
            json!({"capacity": 3, "version": 0}),
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{:?}", stale.body);
    for (body, field) in [
        (json!({"capacity": 0}), "capacity"),
        (json!({"strategy": "random"}), "strategy"),
        (json!({"queue_notice": "number {posiiton}"}), "queue_notice"),
        (
            json!({"numbers": {GLOBEX_NUMBER: "round_robin"}}),
            "numbers",
        ),
    ] {
        let a = w
            .api
            .send(Method::PATCH, "settings/routing", admin, body)
            .await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", a.body);
        assert_eq!(a.body["error"]["field"], field, "{:?}", a.body);
    }
    let audit = w.api.get("audit?action=routing.update", admin).await;
    let lines = audit.body["items"].as_array().unwrap();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["after"]["capacity"], 2, "{lines:?}");
    w.running.shutdown().await;
}
