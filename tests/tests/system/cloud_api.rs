//! The Cloud API client against the real `switchboard-wa-sim` binary, whose webhooks go to a real
//! `switchboard`: every message type is accepted and answered in Meta's shapes, errors come back
//! typed with the documented codes, limits bite where Meta's do, retries never send twice, and
//! every request body we send is valid against Meta's own OpenAPI document.

use std::time::Duration;

use serde_json::{json, Value};
use switchboard_e2e::{free_port, openapi_spec, wait_for, ServerProcess, SimProcess, ACCESS_TOKEN};
use switchboard_server::connector::wire::{
    ContactCard, Content, Interactive, InteractiveAction, ListRow, ListSection, Location, MarkRead,
    Media, Reaction, SendRequest, Template, TemplateLanguage, TextOnly,
};
use switchboard_server::connector::{
    ClientOptions, CloudApi, CloudApiError, ErrorKind, NumberEndpoint,
};
use switchboard_server::secret::Secret;

struct Rig {
    sim: SimProcess,
    server: ServerProcess,
    runtime: tokio::runtime::Runtime,
}

fn rig(sim_args: &[&str]) -> Rig {
    let sim_port = free_port();
    let server = ServerProcess::with_numbers(&format!("http://127.0.0.1:{sim_port}/v23.0"));
    let sim = SimProcess::start_on(sim_port, &server.url("/webhooks/whatsapp"), sim_args);
    Rig {
        sim,
        server,
        runtime: tokio::runtime::Runtime::new().unwrap(),
    }
}

impl Rig {
    fn endpoint(&self) -> NumberEndpoint {
        NumberEndpoint {
            graph_api_url: url::Url::parse(&self.sim.graph_api_url()).unwrap(),
            phone_number_id: "106540352242922".into(),
            access_token: Secret::new(ACCESS_TOKEN),
        }
    }

    fn api(&self, max_retries: u32, timeout: Duration) -> CloudApi {
        CloudApi::new(
            reqwest::Client::new(),
            ClientOptions {
                timeout,
                max_retries,
            },
        )
    }

    fn send(
        &self,
        api: &CloudApi,
        to: &str,
        content: Content,
        key: &str,
    ) -> Result<String, CloudApiError> {
        let request = SendRequest::new(to, content);
        self.runtime
            .block_on(api.send(&self.endpoint(), &request, key))
            .map(|r| r.messages[0].id.clone())
    }
}

fn key() -> String {
    format!("k-{:x}", rand_u64())
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    );
    h.finish()
}

fn every_kind_of_message(reply_to: &str) -> Vec<Content> {
    vec![
        Content::text("Hello from Switchboard"),
        Content::Text {
            text: switchboard_server::connector::wire::Text {
                body: "See https://example.com".into(),
                preview_url: Some(true),
            },
        },
        Content::interactive(Interactive::buttons(
            "Pick one",
            &[("yes", "Yes"), ("no", "No")],
        )),
        Content::interactive(Interactive {
            kind: "list".into(),
            header: None,
            body: TextOnly {
                text: "Shipping?".into(),
            },
            footer: Some(TextOnly {
                text: "Lucky Shrub".into(),
            }),
            action: InteractiveAction {
                buttons: vec![],
                button: Some("Options".into()),
                sections: vec![ListSection {
                    title: Some("Fast".into()),
                    rows: vec![ListRow {
                        id: "express".into(),
                        title: "Express".into(),
                        description: Some("Next day".into()),
                    }],
                }],
            },
        }),
        Content::Image {
            image: Media {
                link: Some("https://example.com/a.jpg".into()),
                caption: Some("A photo".into()),
                ..Media::default()
            },
        },
        Content::Document {
            document: Media {
                link: Some("https://example.com/a.pdf".into()),
                filename: Some("a.pdf".into()),
                ..Media::default()
            },
        },
        Content::Location {
            location: Location {
                latitude: 37.4847,
                longitude: -122.1481,
                name: Some("Philz Coffee".into()),
                address: Some("101 Forest Ave, Palo Alto".into()),
            },
        },
        Content::Reaction {
            reaction: Reaction {
                message_id: reply_to.into(),
                emoji: "👍".into(),
            },
        },
        Content::Template {
            template: Template {
                name: "hello_world".into(),
                language: TemplateLanguage::new("en_US"),
                components: vec![],
            },
        },
        Content::Contacts {
            contacts: vec![ContactCard {
                name: serde_json::from_value(
                    json!({"formatted_name": "John Smith", "first_name": "John"}),
                )
                .unwrap(),
                phones: vec![serde_json::from_value(
                    json!({"phone": "+1 (650) 555-1234", "type": "WORK", "wa_id": "16505551234"}),
                )
                .unwrap()],
                emails: vec![],
                urls: vec![],
                addresses: vec![],
                org: None,
                birthday: None,
            }],
        },
    ]
}

#[test]
fn every_message_type_is_accepted_in_metas_shapes_and_statuses_arrive_signed() {
    let rig = rig(&[
        "--sent-after-ms",
        "20",
        "--delivered-after-ms",
        "40",
        "--read-after-ms",
        "60",
    ]);
    let api = rig.api(0, Duration::from_secs(10));
    // The customer writes first, opening the 24-hour window.
    let inbound = rig
        .sim
        .customer_says("16505551234", "Hi, I have a question");
    wait_for(
        "the inbound message in the store",
        Duration::from_secs(10),
        || {
            rig.server
                .export()
                .iter()
                .any(|r| r["wamid"] == inbound.as_str())
                .then_some(())
        },
    );

    let contents = every_kind_of_message(&inbound);
    let mut wamids = Vec::new();
    for content in contents.iter().cloned() {
        let kind = content.kind();
        let wamid = rig
            .send(&api, "+1 (650) 555-1234", content, &key())
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert!(wamid.starts_with("wamid.HBgL"), "{wamid}");
        wamids.push(wamid);
    }
    // A reply with context, media by uploaded id, and mark-as-read with the typing indicator.
    let reply =
        SendRequest::new("16505551234", Content::text("Sure!")).replying_to(inbound.clone());
    rig.runtime
        .block_on(api.send(&rig.endpoint(), &reply, &key()))
        .unwrap();
    let png = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    let media_id = rig
        .runtime
        .block_on(api.upload_media(&rig.endpoint(), &png, "image/png", "tiny.png"))
        .unwrap();
    let info = rig
        .runtime
        .block_on(api.media_info(&rig.endpoint(), &media_id))
        .unwrap();
    assert_eq!(
        (info.mime_type.as_str(), info.file_size.as_str()),
        ("image/png", Some("8"))
    );
    let bytes = rig
        .runtime
        .block_on(api.download_media(&rig.endpoint(), &info.url))
        .unwrap();
    assert_eq!(&bytes[..], &png);
    let by_id = Content::Image {
        image: Media {
            id: Some(media_id.clone()),
            ..Media::default()
        },
    };
    rig.send(&api, "16505551234", by_id, &key()).unwrap();
    rig.runtime
        .block_on(api.mark_read(&rig.endpoint(), &MarkRead::new(inbound.clone(), true)))
        .unwrap();
    rig.runtime
        .block_on(api.delete_media(&rig.endpoint(), &media_id))
        .unwrap();
    let gone = rig
        .runtime
        .block_on(api.media_info(&rig.endpoint(), &media_id))
        .unwrap_err();
    assert_eq!(gone.code(), Some(100));

    // Every status webhook (sent, delivered or read for each message) reached switchboard and
    // passed its signature check: no delivery attempt failed.
    wait_for("status webhooks", Duration::from_secs(20), || {
        let stats = rig.sim.stats();
        (stats["webhooks_delivered"].as_u64().unwrap() > 2 * wamids.len() as u64).then_some(())
    });
    assert_eq!(
        rig.sim.stats()["webhook_attempts_failed"],
        0,
        "every webhook was accepted as correctly signed"
    );

    // Every body we sent is valid against Meta's OpenAPI document.
    let mut spec: Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(openapi_spec()).unwrap()).unwrap();
    repair_closed_all_of(&mut spec);
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": "#/components/schemas/Message",
        "components": spec["components"],
    });
    let validator = jsonschema::validator_for(&schema).expect("Meta's schema compiles");
    let invalid = json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "1", "type": "text", "text": {"body": "x"}, "bogus": 1});
    assert!(
        !validator.is_valid(&invalid),
        "the validator rejects what the spec forbids"
    );
    let sent = rig.sim.sent();
    assert_eq!(sent.len(), contents.len() + 2);
    for record in sent {
        let errors: Vec<String> = validator
            .iter_errors(&record["body"])
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        assert!(
            errors.is_empty(),
            "{} body is not valid per Meta's spec: {errors:#?}\n{}",
            record["type"],
            record["body"]
        );
    }
}

#[test]
fn documented_errors_come_back_typed() {
    let rig = rig(&[]);
    let api = rig.api(0, Duration::from_secs(10));
    let unknown_template = Content::Template {
        template: Template {
            name: "no_such_template".into(),
            language: TemplateLanguage::new("en_US"),
            components: vec![],
        },
    };
    let e = rig
        .send(&api, "16505551234", unknown_template, &key())
        .unwrap_err();
    assert_eq!(
        (e.code(), e.kind()),
        (Some(132001), Some(ErrorKind::TemplateNotFound))
    );
    assert!(!e.is_retryable());

    let bad_token = NumberEndpoint {
        access_token: Secret::new("wrong"),
        ..rig.endpoint()
    };
    let e = rig
        .runtime
        .block_on(api.send(
            &bad_token,
            &SendRequest::new("16505551234", Content::text("x")),
            &key(),
        ))
        .unwrap_err();
    assert_eq!(e.kind(), Some(ErrorKind::AccessTokenExpired));

    let unknown_number = NumberEndpoint {
        phone_number_id: "999".into(),
        ..rig.endpoint()
    };
    let e = rig
        .runtime
        .block_on(api.send(
            &unknown_number,
            &SendRequest::new("16505551234", Content::text("x")),
            &key(),
        ))
        .unwrap_err();
    assert!(
        matches!(
            e,
            CloudApiError::Api {
                code: 100,
                subcode: Some(33),
                ..
            }
        ),
        "{e:?}"
    );

    let too_many_buttons =
        Interactive::buttons("?", &[("a", "A"), ("b", "B"), ("c", "C"), ("d", "D")]);
    let e = rig
        .send(
            &api,
            "16505551234",
            Content::interactive(too_many_buttons),
            &key(),
        )
        .unwrap_err();
    assert_eq!(e.kind(), Some(ErrorKind::InvalidParameter));
}

#[test]
fn limits_bite_with_metas_codes() {
    let rig = rig(&[]);
    let api = rig.api(0, Duration::from_secs(10));
    // Pair rate: a burst of 45 to one recipient, then 131056.
    let mut pair_error = None;
    for i in 0..46 {
        if let Err(e) = rig.send(
            &api,
            "4915112345678",
            Content::text(format!("burst {i}")),
            &key(),
        ) {
            pair_error = Some((i, e));
            break;
        }
    }
    let (i, e) = pair_error.expect("the pair limit bites");
    assert_eq!((i, e.kind()), (45, Some(ErrorKind::PairRateLimit)));
    assert!(e.is_retryable());

    // Throughput: 200 sends at once to different recipients; beyond 80/s Meta answers 130429.
    let endpoint = rig.endpoint();
    let results: Vec<Result<_, CloudApiError>> = rig.runtime.block_on(async {
        let sends = (0..200).map(|i| {
            let (api, endpoint) = (api.clone(), endpoint.clone());
            async move {
                let request = SendRequest::new(format!("1650555{i:04}"), Content::text("promo"));
                api.send(&endpoint, &request, &format!("burst-{i}")).await
            }
        });
        futures_util::future::join_all(sends).await
    });
    let limited = results
        .iter()
        .filter(|r| matches!(r, Err(e) if e.kind() == Some(ErrorKind::ThroughputLimit)))
        .count();
    let accepted = results.iter().filter(|r| r.is_ok()).count();
    assert!(limited > 0, "a burst over 80/s surfaces 130429");
    assert!((80 - 46..200).contains(&accepted), "accepted {accepted}");
    assert_eq!(limited + accepted, 200, "every failure is the rate limit");
}

#[test]
fn retries_never_send_twice() {
    let rig = rig(&[]);
    let set_faults = |faults: Value| {
        let status = reqwest::blocking::Client::new()
            .put(rig.sim.url("/_sim/faults"))
            .json(&faults)
            .send()
            .unwrap()
            .status();
        assert!(status.is_success());
    };
    let api = rig.api(4, Duration::from_secs(10));

    // A 130429 storm: retried with backoff until accepted, exactly once.
    set_faults(json!({"forced_codes": [130429, 130429, 131000]}));
    let wamid = rig
        .send(
            &api,
            "16505550001",
            Content::text("after the storm"),
            "storm-1",
        )
        .unwrap();
    let sent = rig.sim.sent();
    assert_eq!(
        sent.iter()
            .filter(|s| s["idempotency_key"] == "storm-1")
            .count(),
        1
    );
    assert_eq!(sent.last().unwrap()["wamid"], wamid.as_str());

    // The caller retries the same logical message: the idempotency key returns the same wamid.
    let again = rig
        .send(
            &api,
            "16505550001",
            Content::text("after the storm"),
            "storm-1",
        )
        .unwrap();
    assert_eq!(again, wamid);
    assert_eq!(rig.sim.stats()["idempotent_replays"], 1);

    // Permanent 5xx: retried max_retries times, then the typed error.
    set_faults(json!({"error_5xx_rate": 1.0}));
    let e = rig
        .send(&api, "16505550002", Content::text("x"), "five-hundred")
        .unwrap_err();
    assert_eq!(e.kind(), Some(ErrorKind::Transient));
    assert_eq!(
        rig.sim.stats()["rejected"]["131000"],
        1 + 5,
        "one forced plus 1 + 4 retries"
    );

    // A timeout is ambiguous: never retried, because the message may have gone out.
    set_faults(json!({"timeout_rate": 1.0, "timeout_ms": 2000}));
    let quick = rig.api(4, Duration::from_millis(300));
    let e = rig
        .send(&quick, "16505550003", Content::text("x"), "timeout")
        .unwrap_err();
    assert!(matches!(e, CloudApiError::Ambiguous(_)), "{e:?}");
    assert_eq!(rig.sim.stats()["rejected"]["-1"], 1, "exactly one attempt");
    set_faults(json!({}));
    assert_eq!(rig.sim.sent().len(), 1, "nothing was sent twice");
}

/// Meta's document closes each `allOf` member with `additionalProperties: false`, which in JSON
/// Schema rejects the properties the sibling members define, so even Meta's own examples fail it.
/// The evident intent, "no properties beyond the union", is `unevaluatedProperties: false` on the
/// `allOf` itself; that is the only change made to the document.
fn repair_closed_all_of(node: &mut Value) {
    match node {
        Value::Object(map) => {
            let mut close = false;
            if let Some(Value::Array(members)) = map.get_mut("allOf") {
                for member in members.iter_mut() {
                    if member.get("additionalProperties") == Some(&Value::Bool(false)) {
                        member
                            .as_object_mut()
                            .unwrap()
                            .remove("additionalProperties");
                        close = true;
                    }
                }
            }
            if close {
                map.insert("unevaluatedProperties".into(), Value::Bool(false));
            }
            map.values_mut().for_each(repair_closed_all_of);
        }
        Value::Array(items) => items.iter_mut().for_each(repair_closed_all_of),
        _ => {}
    }
}
