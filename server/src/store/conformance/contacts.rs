//! Conformance checks of contacts: made by webhooks, unique by number and BSUID, searched,
//! counted by segments exactly as the filter language means, imported with an undo log,
//! merged and erased.

use std::collections::{BTreeMap, HashSet};

use serde_json::json;
use switchboard_shared::contacts::*;
use switchboard_shared::*;

use super::*;
use crate::domain::*;
use crate::store::{ContactQuery, Store};

fn evidence(marketing: Marketing, source: ConsentSource, at: i64, text: &str) -> ConsentEvidence {
    ConsentEvidence {
        marketing,
        source,
        at,
        text: text.into(),
        by: None,
    }
}

fn consent(customer: &str, marketing: Marketing, at: i64) -> InboundEvent {
    InboundEvent::Consent(ConsentChange {
        customer: customer.into(),
        evidence: evidence(marketing, ConsentSource::Webhook, at, "user_preferences"),
    })
}

fn contact(store: &dyn Store, tenant: &TenantId, phone: &str) -> ContactRecord {
    ContactRecord::new(
        tenant.clone(),
        store.id_keys().contact_id(tenant, phone),
        Some(phone.to_owned()),
        None,
        T0,
    )
}

async fn all_members(
    store: &dyn Store,
    tenant: &TenantId,
    filter: &Filter,
    open: &HashSet<String>,
) -> Vec<ContactId> {
    let mut out = Vec::new();
    let mut cursor = None;
    for _ in 0..10_000 {
        let page = store
            .segment_members(tenant, filter, T0, open, cursor.as_ref(), 7)
            .await
            .unwrap();
        out.extend(page.items.into_iter().map(|c| c.id));
        match page.next {
            Some(next) => cursor = Some(next),
            None => return out,
        }
    }
    panic!("segment members never ended");
}

pub async fn webhooks_make_and_update_contacts(store: &dyn Store) {
    let (tenant, other) = (fresh_tenant("contacts"), fresh_tenant("contacts-other"));
    let phone = "79161234567";
    let mut m = inbound(NUMBER, phone, "wamid.c1", "text", T0);
    m.text = Some("hello".into());
    let events = vec![
        InboundEvent::Contact(ContactUpdate {
            wa_id: WaId::from(phone),
            name: Some("Анна".into()),
            user_id: Some("RU.1234567890".into()),
            username: Some("anna".into()),
        }),
        InboundEvent::Message(m.clone()),
        consent(phone, Marketing::OptedOut, T0 + 5),
    ];
    store.ingest(batch(&tenant, events.clone())).await.unwrap();
    // A redelivery changes nothing.
    store.ingest(batch(&tenant, events)).await.unwrap();
    let c = store
        .find_contact(&tenant, phone)
        .await
        .unwrap()
        .expect("made");
    assert_eq!(c.id, store.id_keys().contact_id(&tenant, phone));
    assert_eq!(c.profile_name.as_deref(), Some("Анна"));
    assert_eq!(c.username.as_deref(), Some("anna"));
    assert_eq!(c.bsuid.as_deref(), Some("RU.1234567890"));
    assert_eq!(c.country.as_deref(), Some("RU"));
    assert_eq!(c.last_inbound_at, Some(T0));
    assert_eq!(c.marketing, Marketing::OptedOut);
    assert_eq!(
        store
            .find_contact(&tenant, "RU.1234567890")
            .await
            .unwrap()
            .map(|c| c.id),
        Some(c.id.clone())
    );
    assert!(store.find_contact(&other, phone).await.unwrap().is_none());
    assert!(store.get_contact(&other, &c.id).await.unwrap().is_none());

    // An older consent never undoes a newer one; a newer one wins; both are in the history.
    store
        .ingest(batch(
            &tenant,
            vec![consent(phone, Marketing::OptedIn, T0 - 100)],
        ))
        .await
        .unwrap();
    assert_eq!(
        store
            .get_contact(&tenant, &c.id)
            .await
            .unwrap()
            .unwrap()
            .marketing,
        Marketing::OptedOut
    );
    store
        .ingest(batch(
            &tenant,
            vec![consent(phone, Marketing::OptedIn, T0 + 100)],
        ))
        .await
        .unwrap();
    let now = store.get_contact(&tenant, &c.id).await.unwrap().unwrap();
    assert_eq!(now.marketing, Marketing::OptedIn);
    assert_eq!(now.consent.as_ref().map(|e| e.at), Some(T0 + 100));
    let history = store
        .consent_history(&tenant, &c.id, None, 2)
        .await
        .unwrap();
    assert_eq!(history.items.len(), 2);
    assert_eq!(history.items[0].at, T0 + 100);
    let rest = store
        .consent_history(&tenant, &c.id, history.next.as_ref(), 2)
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.items[0].at, T0 - 100);

    // A customer known only by a BSUID gets a contact; their number, when it comes, joins it.
    let bsuid = "US.13491208655302741918";
    let only = inbound(NUMBER, bsuid, "wamid.c2", "text", T0 + 1000);
    store
        .ingest(batch(&tenant, vec![InboundEvent::Message(only)]))
        .await
        .unwrap();
    let b = store
        .find_contact(&tenant, bsuid)
        .await
        .unwrap()
        .expect("made");
    assert_eq!(
        (b.phone.as_deref(), b.bsuid.as_deref()),
        (None, Some(bsuid))
    );
    store
        .ingest(batch(
            &tenant,
            vec![InboundEvent::Contact(ContactUpdate {
                wa_id: WaId::from("16505551234"),
                name: Some("Sam".into()),
                user_id: Some(bsuid.into()),
                username: None,
            })],
        ))
        .await
        .unwrap();
    let joined = store
        .find_contact(&tenant, "16505551234")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(joined.id, b.id);
    assert_eq!(joined.country.as_deref(), Some("US"));

    // Outbound times move forward only.
    let touch = ContactTouch {
        customer: phone.into(),
        outbound_at: Some(T0 + 50),
        ..Default::default()
    };
    store
        .touch_contacts(&[(tenant.clone(), touch)])
        .await
        .unwrap();
    let older = ContactTouch {
        customer: phone.into(),
        outbound_at: Some(T0 + 10),
        ..Default::default()
    };
    store
        .touch_contacts(&[(tenant.clone(), older)])
        .await
        .unwrap();
    assert_eq!(
        store
            .get_contact(&tenant, &c.id)
            .await
            .unwrap()
            .unwrap()
            .last_outbound_at,
        Some(T0 + 50)
    );
}

pub async fn contacts_are_unique_searchable_and_listed_by_tag(store: &dyn Store) {
    let tenant = fresh_tenant("contacts-list");
    let names = ["Анна Петрова", "Антон", "Bob", "anya", "Борис"];
    let mut ids = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let mut c = contact(store, &tenant, &format!("7916000000{i}"));
        c.name = Some((*name).to_owned());
        if i % 2 == 0 {
            c.tags = vec!["VIP".into(), "wholesale".into()];
        }
        store.put_contact(&c, None, None).await.unwrap();
        ids.push(c.id);
    }
    // The same number on another contact is a conflict, and nothing is written.
    let mut twin = contact(store, &tenant, "79160000000");
    twin.id = ContactId::from("ct_ffffffffffffffffffffffffffffffff");
    assert!(matches!(
        store.put_contact(&twin, None, None).await,
        Err(crate::store::StoreError::Conflict(_))
    ));
    assert!(store
        .get_contact(&tenant, &twin.id)
        .await
        .unwrap()
        .is_none());

    // Every contact once, paged by id.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_contacts(&tenant, &ContactQuery::default(), cursor.as_ref(), 2)
            .await
            .unwrap();
        seen.extend(page.items.into_iter().map(|c| c.id));
        match page.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    let mut want = ids.clone();
    want.sort();
    seen.sort();
    assert_eq!(seen, want);

    let search = |prefix: &str, by_phone: bool, tag: Option<&str>| ContactQuery {
        prefix: Some(fold(prefix)),
        by_phone,
        tag: tag.map(str::to_owned),
    };
    let names_of = |page: crate::store::Page<ContactRecord>| -> Vec<String> {
        page.items.into_iter().filter_map(|c| c.name).collect()
    };
    let an = store
        .list_contacts(&tenant, &search("Ан", false, None), None, 10)
        .await
        .unwrap();
    assert_eq!(names_of(an), vec!["Анна Петрова", "Антон"]);
    let an = store
        .list_contacts(&tenant, &search("ан", false, Some("vip")), None, 10)
        .await
        .unwrap();
    assert_eq!(names_of(an), vec!["Анна Петрова"]);
    let by_phone = store
        .list_contacts(&tenant, &search("79160000003", true, None), None, 10)
        .await
        .unwrap();
    assert_eq!(names_of(by_phone), vec!["anya"]);
    let hidden = store
        .list_contacts(&tenant, &search("79160000003", false, None), None, 10)
        .await
        .unwrap();
    assert!(
        hidden.items.is_empty(),
        "a number is searched only when allowed"
    );
    let vip = store
        .list_contacts(
            &tenant,
            &ContactQuery {
                tag: Some("vip".into()),
                ..Default::default()
            },
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(vip.items.len(), 3);

    // A renamed contact is found by its new name only; a removed tag no longer lists it.
    let mut first = store.get_contact(&tenant, &ids[0]).await.unwrap().unwrap();
    first.name = Some("Zoe".into());
    first.tags.clear();
    store.put_contact(&first, None, None).await.unwrap();
    let an = store
        .list_contacts(&tenant, &search("ан", false, None), None, 10)
        .await
        .unwrap();
    assert_eq!(names_of(an), vec!["Антон"]);
    let vip = store
        .list_contacts(
            &tenant,
            &ContactQuery {
                tag: Some("VIP".into()),
                ..Default::default()
            },
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(vip.items.len(), 2);
}

/// Every contact a name search finds, following its cursors to the end, by name.
async fn found_by(store: &dyn Store, tenant: &TenantId, q: &str, tag: Option<&str>) -> Vec<String> {
    let query = ContactQuery {
        prefix: Some(fold(q)),
        by_phone: false,
        tag: tag.map(str::to_owned),
    };
    let (mut names, mut cursor) = (Vec::new(), None);
    for _ in 0..100 {
        let page = store
            .list_contacts(tenant, &query, cursor.as_ref(), 2)
            .await
            .unwrap();
        names.extend(page.items.into_iter().filter_map(|c| c.name));
        match page.next {
            Some(n) => cursor = Some(n),
            None => return names,
        }
    }
    panic!("a search of `{q}` never ended");
}

pub async fn contacts_are_found_by_any_word_of_their_name_once(store: &dyn Store) {
    let tenant = fresh_tenant("contacts-words");
    let names = [
        "Ivan Ivanov",
        "Ivanka Petrova",
        "Анна-Мария Иванова",
        "Petr Ivanovich Sidorov",
        "ivan",
    ];
    let mut ids = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let mut c = contact(store, &tenant, &format!("7916100000{i}"));
        c.name = Some((*name).to_owned());
        if i % 2 == 1 {
            c.tags = vec!["vip".into()];
        }
        store.put_contact(&c, None, None).await.unwrap();
        ids.push(c.id);
    }
    // Any word; each contact once, though two of its words begin with the query, in pages of
    // two; ordered by the word found (then the whole name before a later word).
    assert_eq!(
        found_by(store, &tenant, "iv", None).await,
        [
            "ivan",
            "Ivan Ivanov",
            "Ivanka Petrova",
            "Petr Ivanovich Sidorov",
        ]
    );
    assert_eq!(
        found_by(store, &tenant, "IVANOV", None).await,
        ["Ivan Ivanov", "Petr Ivanovich Sidorov"]
    );
    assert_eq!(
        found_by(store, &tenant, "sidorov", None).await,
        ["Petr Ivanovich Sidorov"]
    );
    assert_eq!(
        found_by(store, &tenant, "мария", None).await,
        ["Анна-Мария Иванова"]
    );
    // Every word of the query begins a different word of the name, in any order.
    assert_eq!(
        found_by(store, &tenant, "ivan iv", None).await,
        ["Ivan Ivanov"]
    );
    assert_eq!(
        found_by(store, &tenant, "sidorov petr", None).await,
        ["Petr Ivanovich Sidorov"]
    );
    assert!(found_by(store, &tenant, "ivanov petrova", None)
        .await
        .is_empty());
    // With a tag.
    assert_eq!(
        found_by(store, &tenant, "iv", Some("VIP")).await,
        ["Ivanka Petrova", "Petr Ivanovich Sidorov"]
    );
    // Renamed: found by the new words only, under no old one.
    let mut first = store.get_contact(&tenant, &ids[0]).await.unwrap().unwrap();
    first.name = Some("Zoe Ivanova".into());
    store.put_contact(&first, None, None).await.unwrap();
    assert_eq!(
        found_by(store, &tenant, "ivanov", None).await,
        ["Zoe Ivanova", "Petr Ivanovich Sidorov"]
    );
    assert_eq!(found_by(store, &tenant, "zoe", None).await, ["Zoe Ivanova"]);
    // Erased: found by none of its words.
    store.delete_contact(&tenant, &ids[3], None).await.unwrap();
    assert!(found_by(store, &tenant, "sidorov", None).await.is_empty());
    assert_eq!(
        found_by(store, &tenant, "ivanov", None).await,
        ["Zoe Ivanova"]
    );
}

/// Contacts of every shape the filter language distinguishes, from a seeded generator.
fn varied_contacts(store: &dyn Store, tenant: &TenantId, n: usize) -> Vec<ContactRecord> {
    let mut seed: u64 = 0x5eed;
    let mut next = move |m: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % m
    };
    let countries = ["RU", "KZ", "US"];
    let tags = ["VIP", "wholesale", "Новый"];
    (0..n)
        .map(|i| {
            let phone = format!("7916{:07}", i);
            let mut c = contact(store, tenant, &phone);
            c.country = match next(4) {
                3 => None,
                k => Some(countries[k as usize].to_owned()),
            };
            c.tags = tags
                .iter()
                .filter(|_| next(3) == 0)
                .map(|t| (*t).to_owned())
                .collect();
            c.marketing = match next(3) {
                0 => Marketing::OptedIn,
                1 => Marketing::OptedOut,
                _ => Marketing::Unknown,
            };
            let mut attributes = BTreeMap::new();
            if next(2) == 0 {
                attributes.insert("orders".into(), json!(next(10)));
            }
            if next(2) == 0 {
                attributes.insert(
                    "city".into(),
                    json!(["Москва", "Almaty", "москва-сити"][next(3) as usize]),
                );
            }
            if next(2) == 0 {
                attributes.insert("since".into(), json!(format!("2024-0{}-01", next(9) + 1)));
            }
            if next(3) == 0 {
                attributes.insert("active".into(), json!(next(2) == 0));
            }
            c.attributes = attributes;
            c.last_inbound_at = (next(3) != 0).then(|| T0 - next(40) as i64 * DAY);
            c.last_outbound_at = (next(2) == 0).then(|| T0 - next(40) as i64 * DAY);
            c
        })
        .collect()
}

pub async fn segments_count_what_the_filter_means(store: &dyn Store) {
    let tenant = fresh_tenant("segments");
    let contacts = varied_contacts(store, &tenant, 240);
    for c in &contacts {
        store.put_contact(c, None, None).await.unwrap();
    }
    let open: HashSet<String> = contacts
        .iter()
        .step_by(5)
        .filter_map(|c| c.phone.clone())
        .collect();
    let filters = [
        r#"{"all": []}"#,
        r#"{"any": []}"#,
        r#"{"all": [{"tag": "vip"}]}"#,
        r#"{"tag": "новый"}"#,
        r#"{"not": {"country": "RU"}}"#,
        r#"{"all": [{"tag": "vip"}, {"country": "ru"}, {"not": {"consent": "opted_out"}}]}"#,
        r#"{"any": [{"consent": "opted_in"}, {"attribute": {"key": "orders", "op": "greater_than", "value": 5}}]}"#,
        r#"{"attribute": {"key": "city", "op": "contains", "value": "МОСКВА"}}"#,
        r#"{"attribute": {"key": "city", "op": "equals", "value": "москва"}}"#,
        r#"{"not": {"attribute": {"key": "orders", "op": "is_set"}}}"#,
        r#"{"attribute": {"key": "orders", "op": "less_than", "value": 3}}"#,
        r#"{"attribute": {"key": "orders", "op": "equals", "value": 4}}"#,
        r#"{"attribute": {"key": "since", "op": "before", "value": "2024-05-01"}}"#,
        r#"{"attribute": {"key": "since", "op": "after", "value": "2024-05-01"}}"#,
        r#"{"attribute": {"key": "active", "op": "equals", "value": true}}"#,
        r#"{"last_inbound": {"within_days": 10}}"#,
        r#"{"last_inbound": {"older_than_days": 20}}"#,
        r#"{"last_inbound": {"never": true}}"#,
        r#"{"last_outbound": {"never": false}}"#,
        r#"{"last_outbound": {"before": 1749000000000}}"#,
        r#"{"open_conversation": true}"#,
        r#"{"all": [{"open_conversation": false}, {"not": {"any": [{"tag": "wholesale"}, {"country": "KZ"}]}}]}"#,
    ];
    for text in filters {
        let filter: Filter = serde_json::from_str(text).unwrap();
        let expected: Vec<ContactId> = {
            let mut ids: Vec<ContactId> = contacts
                .iter()
                .filter(|c| {
                    let cx = FilterContext {
                        now: T0,
                        open_conversation: c.wa_ids().iter().any(|w| open.contains(w)),
                    };
                    matches(&filter, c, cx)
                })
                .map(|c| c.id.clone())
                .collect();
            ids.sort();
            ids
        };
        let count = store
            .count_segment(&tenant, &filter, T0, &open)
            .await
            .unwrap();
        assert_eq!(count, expected.len() as u64, "count of {text}");
        let mut members = all_members(store, &tenant, &filter, &open).await;
        members.sort();
        assert_eq!(members, expected, "members of {text}");
    }
    // Another tenant's contacts are never counted.
    let none: Filter = serde_json::from_str(r#"{"all": []}"#).unwrap();
    let other = fresh_tenant("segments-other");
    assert_eq!(
        store.count_segment(&other, &none, T0, &open).await.unwrap(),
        0
    );
}

pub async fn imports_write_chunks_with_their_undo_log(store: &dyn Store) {
    let tenant = fresh_tenant("imports");
    let mut existing = contact(store, &tenant, "79160000001");
    existing.name = Some("Before".into());
    store.put_contact(&existing, None, None).await.unwrap();
    let mut import = ImportRecord {
        tenant: tenant.clone(),
        id: ImportId::from("imp_1"),
        state: ImportState::Running,
        dry_run: false,
        by: UserId::from("u_admin"),
        file_name: Some("list.csv".into()),
        file: "imp_1.csv".into(),
        bytes_total: 100,
        options: ImportOptions::default(),
        progress: ImportProgress::default(),
        error: None,
        started_at: T0,
        finished_at: None,
    };
    store.put_import(&import).await.unwrap();
    assert!(store
        .running_imports()
        .await
        .unwrap()
        .iter()
        .any(|i| i.id == import.id && i.tenant == tenant));

    let mut updated = existing.clone();
    updated.name = Some("After".into());
    updated.updated_at = T0 + 1;
    let created = contact(store, &tenant, "79160000002");
    let undo = vec![
        UndoEntry {
            contact: updated.id.clone(),
            before: Some(existing.editable()),
            written_at: T0 + 1,
        },
        UndoEntry {
            contact: created.id.clone(),
            before: None,
            written_at: T0,
        },
    ];
    let rejected = vec![RejectedRow {
        line: 3,
        fields: vec!["not a phone".into(), "x, \"y\"".into()],
        reason: "not a phone number".into(),
    }];
    import.progress.rows_done = 3;
    store
        .import_chunk(
            &import,
            &[updated.clone(), created.clone()],
            &undo,
            &rejected,
        )
        .await
        .unwrap();
    // The same chunk again (a resume): the first "before" is kept.
    let mut again = undo.clone();
    again[0].before = Some(updated.editable());
    store
        .import_chunk(
            &import,
            &[updated.clone(), created.clone()],
            &again,
            &rejected,
        )
        .await
        .unwrap();
    let log = store
        .import_undo_log(&tenant, &import.id, None, 10)
        .await
        .unwrap();
    assert_eq!(log.items.len(), 2);
    let entry = log.items.iter().find(|u| u.contact == updated.id).unwrap();
    assert_eq!(
        entry.before.as_ref().and_then(|b| b.name.as_deref()),
        Some("Before")
    );
    assert_eq!(
        store
            .rejected_rows(&tenant, &import.id, None, 10)
            .await
            .unwrap()
            .items,
        rejected
    );
    assert_eq!(
        store
            .get_import(&tenant, &import.id)
            .await
            .unwrap()
            .unwrap()
            .progress
            .rows_done,
        3
    );
    import.state = ImportState::Done;
    store.put_import(&import).await.unwrap();
    assert!(!store
        .running_imports()
        .await
        .unwrap()
        .iter()
        .any(|i| i.id == import.id && i.tenant == tenant));
    assert_eq!(store.list_imports(&tenant).await.unwrap().len(), 1);
    assert!(store
        .get_import(&fresh_tenant("imports-other"), &import.id)
        .await
        .unwrap()
        .is_none());
}

pub async fn merges_move_history_and_erasure_removes_the_customer(store: &dyn Store) {
    let tenant = fresh_tenant("erase");
    store
        .upsert_number(&NumberRecord {
            tenant: tenant.clone(),
            phone_number_id: PhoneNumberId::from(NUMBER),
            display_phone_number: "15550783881".into(),
            waba_id: None,
        })
        .await
        .unwrap();
    let (gone, kept) = ("79161110000", "79162220000");
    for (i, customer) in [gone, kept].iter().enumerate() {
        let events = (0..3)
            .map(|k| {
                InboundEvent::Message(inbound(
                    NUMBER,
                    customer,
                    &format!("wamid.e{i}{k}"),
                    if k == 0 { "image" } else { "text" },
                    T0 + k as i64,
                ))
            })
            .collect();
        store.ingest(batch(&tenant, events)).await.unwrap();
    }
    let c = store.find_contact(&tenant, gone).await.unwrap().unwrap();
    store
        .add_contact_note(&ContactNoteRecord {
            tenant: tenant.clone(),
            contact: c.id.clone(),
            id: "n1".into(),
            author: UserId::from("u_ada"),
            author_name: "Ada".into(),
            body: "prefers mornings".into(),
            at_ms: T0,
        })
        .await
        .unwrap();

    // Merge a BSUID-only duplicate into it: its notes and consent come along, it goes.
    let mut dup = ContactRecord::new(
        tenant.clone(),
        ContactId::from("ct_00000000000000000000000000000001"),
        None,
        Some("RU.999".into()),
        T0,
    );
    dup.tags = vec!["vip".into()];
    store
        .put_contact(
            &dup,
            Some(&evidence(
                Marketing::OptedOut,
                ConsentSource::Manual,
                T0,
                "asked",
            )),
            None,
        )
        .await
        .unwrap();
    store
        .add_contact_note(&ContactNoteRecord {
            tenant: tenant.clone(),
            contact: dup.id.clone(),
            id: "n2".into(),
            author: UserId::from("u_ada"),
            author_name: "Ada".into(),
            body: "same person".into(),
            at_ms: T0 + 1,
        })
        .await
        .unwrap();
    let mut into = c.clone();
    into.bsuid = dup.bsuid.clone();
    into.tags = vec!["vip".into()];
    store
        .merge_contacts(&into, &dup, &audit(&tenant, "contact.merge"))
        .await
        .unwrap();
    assert!(store.get_contact(&tenant, &dup.id).await.unwrap().is_none());
    assert_eq!(
        store
            .find_contact(&tenant, "RU.999")
            .await
            .unwrap()
            .map(|c| c.id),
        Some(c.id.clone())
    );
    assert_eq!(
        store
            .contact_notes(&tenant, &c.id, None, 10)
            .await
            .unwrap()
            .items
            .len(),
        2
    );
    assert_eq!(
        store
            .consent_history(&tenant, &c.id, None, 10)
            .await
            .unwrap()
            .items
            .len(),
        1
    );

    let erased =
        store
            .id_keys()
            .conversation_id(&tenant, &PhoneNumberId::from(NUMBER), &WaId::from(gone));
    assert_eq!(
        hits_in(store, &tenant, &erased).await,
        3,
        "the texts are found"
    );
    let receipt = store
        .erase_contact(&into, &audit(&tenant, "contact.erase"))
        .await
        .unwrap();
    assert_eq!(
        hits_in(store, &tenant, &erased).await,
        0,
        "erasure removes the search index's copies"
    );
    assert_eq!(
        (
            receipt.messages,
            receipt.conversations,
            receipt.media_references
        ),
        (3, 1, 1)
    );
    assert_eq!((receipt.notes, receipt.consent_records), (2, 1));
    assert!(store.get_contact(&tenant, &c.id).await.unwrap().is_none());
    assert!(store.find_contact(&tenant, gone).await.unwrap().is_none());
    let conversation =
        store
            .id_keys()
            .conversation_id(&tenant, &PhoneNumberId::from(NUMBER), &WaId::from(gone));
    assert!(store
        .conversation_history(&tenant, &conversation, None, 10)
        .await
        .unwrap()
        .items
        .is_empty());
    assert!(store
        .get_conversation(&tenant, &conversation)
        .await
        .unwrap()
        .is_none());
    // The other customer is untouched.
    let other =
        store
            .id_keys()
            .conversation_id(&tenant, &PhoneNumberId::from(NUMBER), &WaId::from(kept));
    assert_eq!(
        store
            .conversation_history(&tenant, &other, None, 10)
            .await
            .unwrap()
            .items
            .len(),
        3
    );
    assert!(store.find_contact(&tenant, kept).await.unwrap().is_some());
}

pub async fn catalogue_definitions_and_segments_are_per_tenant(store: &dyn Store) {
    let (tenant, other) = (fresh_tenant("catalogue"), fresh_tenant("catalogue-other"));
    for name in ["VIP", "Новый"] {
        store
            .put_tag(
                &TagRecord {
                    tenant: tenant.clone(),
                    name: name.into(),
                    colour: "#aa0000".into(),
                },
                None,
            )
            .await
            .unwrap();
    }
    // Found case-insensitively: writing `vip` renames, it does not add.
    store
        .put_tag(
            &TagRecord {
                tenant: tenant.clone(),
                name: "vip".into(),
                colour: "#00aa00".into(),
            },
            Some(&audit(&tenant, "tag.update")),
        )
        .await
        .unwrap();
    let tags = store.list_tags(&tenant).await.unwrap();
    assert_eq!(tags.len(), 2);
    assert!(tags
        .iter()
        .any(|t| t.name == "vip" && t.colour == "#00aa00"));
    assert!(store.list_tags(&other).await.unwrap().is_empty());
    assert!(store
        .delete_tag(&tenant, "VIP", &audit(&tenant, "tag.delete"))
        .await
        .unwrap());
    assert!(!store
        .delete_tag(&tenant, "VIP", &audit(&tenant, "tag.delete"))
        .await
        .unwrap());

    let def = AttributeDef {
        key: "city".into(),
        label: "City".into(),
        kind: AttributeKind::Choice {
            options: vec!["Москва".into()],
        },
        pattern: None,
    };
    store
        .put_attribute(&tenant, &def, &audit(&tenant, "attribute.create"))
        .await
        .unwrap();
    assert_eq!(store.list_attributes(&tenant).await.unwrap(), vec![def]);
    assert!(store.list_attributes(&other).await.unwrap().is_empty());

    let segment = SegmentRecord {
        tenant: tenant.clone(),
        id: SegmentId::from("seg_1"),
        name: "VIPs".into(),
        filter: serde_json::from_str(r#"{"all": [{"tag": "vip"}]}"#).unwrap(),
        created_at: T0,
        updated_at: T0,
    };
    store
        .put_segment(&segment, &audit(&tenant, "segment.create"))
        .await
        .unwrap();
    assert_eq!(
        store.get_segment(&tenant, &segment.id).await.unwrap(),
        Some(segment.clone())
    );
    assert!(store
        .get_segment(&other, &segment.id)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .delete_segment(&tenant, &segment.id, &audit(&tenant, "segment.delete"))
        .await
        .unwrap());
    assert!(store.list_segments(&tenant).await.unwrap().is_empty());
}

/// How many of a search for "at" (every conformance text has it) lie in `conversation`.
async fn hits_in(store: &dyn Store, tenant: &TenantId, conversation: &ConversationId) -> usize {
    store
        .search_messages(tenant, &["at".to_owned()], None, 100)
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|hit| hit.conversation == *conversation)
        .count()
}
