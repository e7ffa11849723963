//! Issue 24: API fuzzing from the OpenAPI document. schemathesis (pinned, installed by
//! `cargo xtask`) reads `/api/openapi.json` from the real server and sends what the document
//! allows and what it does not, signed in as each preset role and with an API key, and checks
//! every answer: no 5xx, every status, content type, header and body as the document says,
//! authentication enforced, `Allow` on a 405 true, a deleted resource gone.
//!
//! The workspace is seeded first (a conversation from the simulator, a contact, a segment, a
//! team, a role, a user, a campaign, automation and an import) and schemathesis is told those
//! ids, so that the operations on `{id}` reach the handlers' logic instead of stopping at 404.
//!
//! `SWITCHBOARD_SCHEMATHESIS` names the schemathesis executable (`cargo xtask test` sets it);
//! `SWITCHBOARD_API_FUZZ_EXAMPLES` the examples per operation (10 by default; `cargo xtask
//! api-fuzz --examples N` runs longer). docs/fuzzing.md has the figures.

use std::fmt::Write as _;
use std::process::Command;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use switchboard_e2e::*;

const NUMBER: &str = "106540352242922";
const PASSWORD: &str = "fuzzing password 1";

/// What schemathesis checks (`--checks`). Everything it has but `positive_data_acceptance`:
/// the document cannot say that a tag must exist in the catalogue, or an attribute be defined,
/// so a body that matches the schema may still be refused with a 422 that names the field.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
    response_headers_conformance,response_schema_conformance,negative_data_rejection,\
    missing_required_header,unsupported_method,allow_header_conformance,use_after_free,\
    ensure_resource_availability,ignored_auth";

/// Operations no fuzzer may call with the credential it fuzzes with: they end that credential
/// (sign out, sign out everywhere, a new password ends the other sessions). Their own tests are
/// in `server/tests/suite/identity.rs`.
const EXCLUDED: &str = "^/api/v1/auth/(logout|logout-everywhere|password)$";

#[test]
fn every_generated_request_gets_the_answer_the_document_promises() {
    let Some(schemathesis) = std::env::var_os("SWITCHBOARD_SCHEMATHESIS") else {
        eprintln!(
            "SKIPPED: API fuzzing needs SWITCHBOARD_SCHEMATHESIS (set by `cargo xtask test`)"
        );
        return;
    };
    // `cargo xtask api-fuzz` names the examples: the long run, every phase for every caller.
    let long_run: Option<u32> = std::env::var("SWITCHBOARD_API_FUZZ_EXAMPLES")
        .ok()
        .and_then(|v| v.parse().ok());
    let examples = long_run.unwrap_or(10);
    let sim_port = free_port();
    let server = ServerProcess::with_numbers(&format!("http://127.0.0.1:{sim_port}/v23.0"));
    let sim = SimProcess::start_on(sim_port, &server.url("/webhooks/whatsapp"), &[]);
    let owner = server.owner_token(PASSWORD);
    let seeded = seed(&server, &sim, &owner);
    let config = server.dir.path().join("schemathesis.toml");
    std::fs::write(&config, operations_config(&seeded)).expect("write schemathesis.toml");

    // (who, credential, examples per operation, phases). The owner gets every phase. In the
    // short run the narrower callers skip the coverage phase: its sweep of every parameter's
    // boundaries is the same for every caller once past the gate (the owner's run covers it)
    // and costs most of the time; the schema's examples and random generation still find what
    // differs by role, the gate's answers.
    let every = "examples,coverage,fuzzing,stateful";
    let narrower = if long_run.is_some() {
        every
    } else {
        "examples,fuzzing,stateful"
    };
    let mut callers = vec![("owner".to_owned(), owner.clone(), examples, every)];
    for role in ["admin", "supervisor", "agent", "viewer"] {
        let email = format!("{role}@demo.example");
        server.create_user(&email, role, PASSWORD);
        // Most of what a narrower role sends is refused at the gate; fewer examples find that.
        callers.push((
            role.to_owned(),
            token(&server, &email),
            examples.div_ceil(2),
            narrower,
        ));
    }
    let key = server.api(
        &owner,
        Method::POST,
        "api-keys",
        json!({"name": "integration", "permissions":
               ["conversations.read.all", "conversations.reply", "contacts.read",
                "contacts.edit", "reports.view", "board.view"]}),
    );
    let key = key["secret"].as_str().expect("the key's secret").to_owned();
    callers.push(("api key".to_owned(), key, examples.div_ceil(2), narrower));

    let mut failed = Vec::new();
    for (who, credential, examples, phases) in &callers {
        let started = std::time::Instant::now();
        let out = Command::new(&schemathesis)
            .arg("--config-file")
            .arg(&config)
            .arg("run")
            .arg(server.url("/api/openapi.json"))
            .args(["--url", &server.url("")])
            .args(["--header", &format!("Authorization: Bearer {credential}")])
            .args(["--checks", CHECKS])
            .args(["--exclude-path-regex", EXCLUDED])
            .args(["--max-examples", &examples.to_string()])
            .args(["--phases", phases])
            // Reproducible: a failure in CI replays with the same seed.
            .args(["--seed", "24"])
            .args(["--workers", "2", "--request-timeout", "30"])
            .args(["--no-color"])
            .current_dir(server.dir.path())
            .output()
            .expect("run schemathesis");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let summary = stdout
            .lines()
            .filter(|l| l.contains("generated") || l.starts_with("====="))
            .collect::<Vec<_>>()
            .join(" | ");
        eprintln!(
            "api fuzz as {who}: {examples} examples per operation, phases {phases}, {:.0} s: \
             {summary}",
            started.elapsed().as_secs_f64()
        );
        if !out.status.success() {
            eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
            failed.push(who.clone());
        }
    }
    // The server survived all of it and still answers.
    assert!(
        server
            .client
            .get(server.url("/readyz"))
            .send()
            .is_ok_and(|r| r.status().is_success()),
        "the server stopped answering"
    );
    assert!(
        failed.is_empty(),
        "schemathesis found answers the document does not promise, as: {failed:?} (above)"
    );
}

fn token(server: &ServerProcess, email: &str) -> String {
    let answer: Value = server
        .client
        .post(server.url("/api/v1/auth/token"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .and_then(|r| r.json())
        .expect("sign in");
    answer["token"].as_str().expect("a token").to_owned()
}

/// The ids of what [`seed`] made.
struct Seeded {
    conversation: String,
    contact: String,
    segment: String,
    team: String,
    role: String,
    user: String,
    agent: String,
    campaign: String,
    rule: String,
    schedule: String,
    term_list: String,
    import: String,
    send: String,
}

fn id(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_owned()
}

fn seed(server: &ServerProcess, sim: &SimProcess, owner: &str) -> Seeded {
    let api = |method: Method, path: &str, body: Value| server.api(owner, method, path, body);
    sim.customer_says("79161234567", "Hello, is the order ready?");
    let conversation = wait_for(
        "the customer's conversation",
        Duration::from_secs(30),
        || {
            let page = api(Method::GET, "conversations", Value::Null);
            page["items"].as_array()?.first().map(id)
        },
    );
    let send = api(
        Method::POST,
        &format!("conversations/{conversation}/messages"),
        json!({"text": "It ships today."}),
    );
    let send = id(&send);
    api(
        Method::PUT,
        "tags",
        json!({"name": "vip", "colour": "#aa3300"}),
    );
    let contact = id(&api(
        Method::POST,
        "contacts",
        json!({"phone": "+4915112345678", "name": "Greta", "tags": ["vip"]}),
    ));
    let segment = id(&api(
        Method::POST,
        "segments",
        json!({"name": "VIPs", "filter": {"tag": "vip"}}),
    ));
    let team = id(&api(Method::POST, "teams", json!({"name": "Sales"})));
    let role = id(&api(
        Method::POST,
        "roles",
        json!({"name": "Auditor", "permissions": ["audit.view"]}),
    ));
    server.create_user("target@demo.example", "agent", PASSWORD);
    let users = api(Method::GET, "users", Value::Null);
    let user_of = |email: &str| {
        users["items"]
            .as_array()
            .expect("users")
            .iter()
            .find(|u| u["email"] == email)
            .map(id)
            .expect("the user")
    };
    let user = user_of("target@demo.example");
    let agent = user_of("owner@demo.example");
    let campaign = id(&api(
        Method::POST,
        "campaigns",
        json!({"name": "Winter sale",
               "template": {"name": "seasonal_promo", "language": "en_US"},
               "audience": {"tag": "vip"}, "variables": [{"text": "Greta"}],
               "numbers": [NUMBER]}),
    ));
    let rule = id(&api(
        Method::POST,
        "automation/rules",
        json!({"name": "Prices", "match": {"mode": "word", "keywords": ["price"]},
               "actions": [{"reply": {"text": "Our prices: example.com/prices"}}]}),
    ));
    let schedule = id(&api(
        Method::POST,
        "automation/schedules",
        json!({"name": "Office", "time_zone": "Europe/Berlin",
               "week": {"mon": [{"from": "09:00", "to": "18:00"}]}}),
    ));
    let term_list = id(&api(
        Method::POST,
        "compliance/term-lists",
        json!({"name": "Careful", "action": "warn", "terms": ["cheap"]}),
    ));
    let import: Value = server
        .client
        .post(server.url("/api/v1/contacts/imports?dry_run=true"))
        .bearer_auth(owner)
        .header("content-type", "text/csv")
        .body("phone,name\n+4915198765432,Hans\n")
        .send()
        .and_then(|r| r.json())
        .expect("start an import");
    Seeded {
        conversation,
        contact,
        segment,
        team,
        role,
        user,
        agent,
        campaign,
        rule,
        schedule,
        term_list,
        import: id(&import),
        send,
    }
}

/// schemathesis' configuration: the seeded ids for the operations that take them. Deletes keep
/// generated ids (a deleted seed would turn the rest of the run into 404s); the stateful phase
/// deletes what it made itself.
fn operations_config(s: &Seeded) -> String {
    let fixed: &[(&str, &[(&str, &str)])] = &[
        ("conversations/\\{id\\}", &[("id", &s.conversation)]),
        ("contacts/\\{id\\}", &[("id", &s.contact)]),
        (
            "segments/\\{id\\}",
            &[("id", &s.segment), ("contact", &s.contact)],
        ),
        ("teams/\\{id\\}", &[("id", &s.team)]),
        ("roles/\\{id\\}", &[("id", &s.role)]),
        ("users/\\{id\\}", &[("id", &s.user)]),
        ("agents/\\{id\\}", &[("id", &s.agent)]),
        ("campaigns/\\{id\\}", &[("id", &s.campaign)]),
        ("automation/rules/\\{id\\}", &[("id", &s.rule)]),
        ("automation/schedules/\\{id\\}", &[("id", &s.schedule)]),
        ("compliance/term-lists/\\{id\\}", &[("id", &s.term_list)]),
        ("contacts/imports/\\{id\\}", &[("id", &s.import)]),
        ("sends/\\{id\\}", &[("id", &s.send)]),
    ];
    let mut toml = String::new();
    for (path, parameters) in fixed {
        let values = parameters
            .iter()
            .map(|(name, value)| format!("{name} = {}", toml_string(value)))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = write!(
            toml,
            "[[operations]]\ninclude-path-regex = {}\nexclude-method = \"DELETE\"\n\
             parameters = {{ {values} }}\n\n",
            toml_string(&format!("^/api/v1/{path}"))
        );
    }
    toml
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

#[test]
fn the_configuration_names_every_seeded_path_once() {
    let id = |n: u8| format!("x_{n}");
    let s = Seeded {
        conversation: id(0),
        contact: id(1),
        segment: id(2),
        team: id(3),
        role: id(4),
        user: id(5),
        agent: id(6),
        campaign: id(7),
        rule: id(8),
        schedule: id(9),
        term_list: id(10),
        import: id(11),
        send: id(12),
    };
    let toml = operations_config(&s);
    assert_eq!(toml.matches("[[operations]]").count(), 13);
    assert!(toml.contains(r#"include-path-regex = "^/api/v1/contacts/\\{id\\}""#));
    assert!(toml.contains(r#"parameters = { id = "x_2", contact = "x_1" }"#));
}
