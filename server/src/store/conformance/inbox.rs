//! Conformance checks of threads, the outbox, notes and agents' profiles.

use std::collections::HashSet;

use switchboard_shared::*;

use super::identity::all_audit;
use super::*;
use crate::domain::*;
use crate::store::Store;

fn thread(store: &dyn Store, tenant: &TenantId, i: usize, state: ThreadState) -> ThreadRecord {
    let customer = WaId::new(format!("1650555{i:04}"));
    let number = PhoneNumberId::from(NUMBER);
    ThreadRecord {
        tenant: tenant.clone(),
        conversation: store.id_keys().conversation_id(tenant, &number, &customer),
        number,
        customer,
        state,
        assignee: (state == ThreadState::Assigned).then(|| UserId::from("u_ada")),
        last_agent: Some(UserId::from("u_ada")),
        tags: vec!["lang:ru".into(), "vip \"gold\"".into()],
        waiting_since: Some(T0 + i as i64),
        last_inbound_at: Some(T0 + i as i64),
        last_inbound_wamid: Some(Wamid::new(format!("wamid.{i}"))),
        opened_at: T0,
        updated_at: T0 + i as i64,
        episode: Default::default(),
    }
}

pub async fn threads_keep_their_state_and_only_open_ones_are_listed(store: &dyn Store) {
    let (tenant, other) = (fresh_tenant("threads"), fresh_tenant("threads-other"));
    let mut open = Vec::new();
    for i in 0..7 {
        let state = if i % 2 == 0 {
            ThreadState::Assigned
        } else {
            ThreadState::Queued
        };
        let t = thread(store, &tenant, i, state);
        store.put_thread(&t, None).await.unwrap();
        open.push(t);
    }
    store
        .put_thread(&thread(store, &other, 0, ThreadState::Queued), None)
        .await
        .unwrap();
    // Resolving removes it from the open list but keeps the row; the audit line goes with it.
    let mut done = open.remove(3);
    done.state = ThreadState::Resolved;
    done.assignee = None;
    done.waiting_since = None;
    let line = audit(&tenant, "conversation.resolve");
    store.put_thread(&done, Some(&line)).await.unwrap();
    assert_eq!(
        store.get_thread(&tenant, &done.conversation).await.unwrap(),
        Some(done.clone())
    );
    assert_eq!(
        all_audit(store, &tenant, &AuditQuery::default()).await,
        vec![line]
    );
    assert_eq!(
        store.get_thread(&other, &done.conversation).await.unwrap(),
        None,
        "another tenant's conversation does not exist"
    );
    let mut listed = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .open_threads(&tenant, cursor.as_ref(), 2)
            .await
            .unwrap();
        assert!(page.items.len() <= 2);
        listed.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    open.sort_by(|a, b| a.conversation.as_str().cmp(b.conversation.as_str()));
    assert_eq!(listed, open, "open threads, by id, each once, whole");
    let ids: HashSet<ConversationId> = listed.into_iter().map(|t| t.conversation).collect();
    assert_eq!(ids.len(), 6);
}

const DAY: i64 = 86_400_000;

/// Every page of [`Store::threads_by_activity`] over `days`, `limit` at a time.
async fn archive(
    store: &dyn Store,
    tenant: &TenantId,
    days: std::ops::Range<i64>,
    limit: usize,
) -> Vec<ThreadRecord> {
    every_page(limit, |cursor| {
        let days = days.clone();
        async move {
            store
                .threads_by_activity(tenant, days, cursor.as_ref(), limit)
                .await
        }
    })
    .await
}

pub async fn the_archive_lists_every_conversation_once_by_its_last_day(store: &dyn Store) {
    let (tenant, other) = (fresh_tenant("archive"), fresh_tenant("archive-other"));
    let first = day_bucket(T0);
    // Nine conversations over three days, open and resolved; each written on its first day
    // and again on its last, so a stale entry of an earlier day must not list it twice.
    let mut all = Vec::new();
    for i in 0..9 {
        let state = [
            ThreadState::Queued,
            ThreadState::Assigned,
            ThreadState::Resolved,
        ][i % 3];
        let mut t = thread(store, &tenant, i, ThreadState::Queued);
        store.put_thread(&t, None).await.unwrap();
        t.state = state;
        t.assignee = (state == ThreadState::Assigned).then(|| UserId::from("u_ada"));
        t.updated_at = T0 + (i as i64 % 3) * DAY + i as i64;
        store.put_thread(&t, None).await.unwrap();
        all.push(t);
    }
    store
        .put_thread(&thread(store, &other, 0, ThreadState::Resolved), None)
        .await
        .unwrap();
    // Newest day first, by id within a day.
    let mut expected = all.clone();
    expected.sort_by(|a, b| {
        day_bucket(b.updated_at)
            .cmp(&day_bucket(a.updated_at))
            .then_with(|| a.conversation.as_str().cmp(b.conversation.as_str()))
    });
    for limit in [1, 2, 4, 100] {
        assert_eq!(
            archive(store, &tenant, first..first + 3, limit).await,
            expected,
            "pages of {limit}"
        );
    }
    // A range of days lists only what was last active in it.
    let middle: Vec<ThreadRecord> = expected
        .iter()
        .filter(|t| day_bucket(t.updated_at) == first + 1)
        .cloned()
        .collect();
    assert_eq!(middle.len(), 3);
    assert_eq!(
        archive(store, &tenant, first + 1..first + 2, 2).await,
        middle
    );
    assert!(archive(store, &tenant, first + 3..first + 30, 5)
        .await
        .is_empty());
    assert!(archive(store, &tenant, first - 30..first, 5)
        .await
        .is_empty());
    // Another tenant's conversation is never listed.
    assert_eq!(archive(store, &other, first..first + 3, 5).await.len(), 1);
}

async fn all_episodes(
    store: &dyn Store,
    tenant: &TenantId,
    days: std::ops::Range<i64>,
    limit: usize,
) -> Vec<EpisodeRecord> {
    every_page(limit, |cursor| {
        let days = days.clone();
        async move { store.episodes(tenant, days, cursor.as_ref(), limit).await }
    })
    .await
}

pub async fn episodes_are_kept_per_opening_and_read_back_by_day(store: &dyn Store) {
    let (tenant, other) = (fresh_tenant("episodes"), fresh_tenant("episodes-other"));
    let first = day_bucket(T0);
    // Conversation 0: answered and resolved on the first day, reopened on the second.
    let mut t = thread(store, &tenant, 0, ThreadState::Assigned);
    t.episode.messages_in = 2;
    store.put_thread(&t, None).await.unwrap();
    t.episode.first_response_at = Some(T0 + 5_000);
    t.episode.first_responder = Some(UserId::from("u_ada"));
    t.episode.messages_out = 1;
    t.waiting_since = None;
    store.put_thread(&t, None).await.unwrap();
    assert_eq!(
        store
            .get_thread(&tenant, &t.conversation)
            .await
            .unwrap()
            .unwrap()
            .episode,
        t.episode,
        "the thread keeps its episode's figures"
    );
    t.state = ThreadState::Resolved;
    t.assignee = None;
    t.updated_at = T0 + 60_000;
    // The satisfaction survey travels with the episode, answer and comment included.
    t.episode.survey = Some(SurveyState {
        sent_at: T0 + 60_000,
        language: "ru".into(),
        reminded_at: None,
        score: Some(4),
        answered_at: Some(T0 + 90_000),
        comment: Some("Быстро, \"спасибо\"".into()),
        commented_at: Some(T0 + 95_000),
        awaiting_comment: false,
    });
    store.put_thread(&t, None).await.unwrap();
    assert_eq!(
        store
            .get_thread(&tenant, &t.conversation)
            .await
            .unwrap()
            .unwrap()
            .episode
            .survey,
        t.episode.survey,
        "the thread keeps its survey"
    );
    let resolved = t.episode_record();
    assert_eq!(resolved.resolved_at, Some(T0 + 60_000));
    assert_eq!(resolved.first_response_ms(), Some(5_000));
    assert_eq!(resolved.country.as_deref(), Some("US"));
    assert_eq!(resolved.agent, Some(UserId::from("u_ada")));
    t.state = ThreadState::Queued;
    t.opened_at = T0 + DAY + 10;
    t.updated_at = T0 + DAY + 10;
    t.episode = EpisodeFigures {
        messages_in: 1,
        ..Default::default()
    };
    store.put_thread(&t, None).await.unwrap();
    let reopened = t.episode_record();
    // Two more conversations on the first day, one never answered.
    let mut expected = vec![resolved];
    for i in 1..3 {
        let mut u = thread(store, &tenant, i, ThreadState::Queued);
        u.episode.messages_in = i as u32;
        store.put_thread(&u, None).await.unwrap();
        expected.push(u.episode_record());
    }
    expected.sort_by(|a, b| a.conversation.as_str().cmp(b.conversation.as_str()));
    expected.push(reopened.clone());
    store
        .put_thread(&thread(store, &other, 0, ThreadState::Queued), None)
        .await
        .unwrap();
    for limit in [1, 2, 100] {
        assert_eq!(
            all_episodes(store, &tenant, first..first + 2, limit).await,
            expected,
            "pages of {limit}"
        );
    }
    assert_eq!(
        all_episodes(store, &tenant, first + 1..first + 9, 10).await,
        vec![reopened]
    );
    assert!(all_episodes(store, &tenant, first - 9..first, 10)
        .await
        .is_empty());
    assert_eq!(
        all_episodes(store, &other, first..first + 2, 10)
            .await
            .len(),
        1
    );
}

fn send(
    store: &dyn Store,
    tenant: &TenantId,
    number: &PhoneNumberId,
    key: &str,
    created_at: i64,
) -> OutboxRecord {
    let customer = WaId::from("16505551234");
    let conversation = store.id_keys().conversation_id(tenant, number, &customer);
    OutboxRecord {
        tenant: tenant.clone(),
        id: send_id(tenant, &conversation, "user:u_1", key),
        conversation,
        number: number.clone(),
        customer,
        author: "user:u_1".into(),
        request: format!(r#"{{"to":"16505551234","type":"text","text":{{"body":"{key}"}}}}"#),
        kind: "text".into(),
        text: Some(key.to_owned()),
        state: SendState::Queued,
        attempts: 0,
        wamid: None,
        error: None,
        created_at,
        updated_at: created_at,
    }
}

async fn all_pending(store: &dyn Store, number: &PhoneNumberId) -> Vec<OutboxRecord> {
    let mut listed = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .pending_sends(number, cursor.as_ref(), 2)
            .await
            .unwrap();
        assert!(page.items.len() <= 2);
        listed.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return listed,
        }
    }
}

pub async fn outbox_sends_are_claimed_once_and_finished_into_history(store: &dyn Store) {
    let (tenant, other) = (fresh_tenant("outbox"), fresh_tenant("outbox-other"));
    // Numbers are global; a fresh one keeps this check apart from others on a shared cluster.
    let number = PhoneNumberId::new(format!("9{:014}", rand::random::<u64>() % 10u64.pow(14)));
    let sends: Vec<OutboxRecord> = (0..5)
        .map(|i| {
            send(
                store,
                &tenant,
                &number,
                &format!("m{i}"),
                T0 + 1000 - i * 100,
            )
        })
        .collect();
    for s in &sends {
        assert_eq!(
            &store.enqueue_send(s).await.unwrap(),
            s,
            "a new send is stored"
        );
    }
    // A client's retry, later: the first send comes back and nothing else is written.
    let mut retry = sends[0].clone();
    retry.created_at += 5_000;
    retry.updated_at += 5_000;
    retry.text = Some("changed".into());
    assert_eq!(store.enqueue_send(&retry).await.unwrap(), sends[0]);
    let mut oldest_first = sends.clone();
    oldest_first.sort_by_key(|s| s.created_at);
    assert_eq!(
        all_pending(store, &number).await,
        oldest_first,
        "pending sends, oldest first, each once"
    );
    assert_eq!(store.get_send(&other, &sends[0].id).await.unwrap(), None);

    // An attempt in progress stays pending; a sent one enters the history; a failed one leaves.
    let mut sending = sends[1].clone();
    sending.state = SendState::Sending;
    sending.attempts = 1;
    store.update_send(&sending).await.unwrap();
    let mut sent = sends[2].clone();
    sent.state = SendState::Sent;
    sent.attempts = 2;
    sent.wamid = Some(Wamid::from("wamid.outbox-sent"));
    sent.updated_at = T0 + 2_000;
    store.update_send(&sent).await.unwrap();
    store.update_send(&sent).await.unwrap();
    let mut failed = sends[3].clone();
    failed.state = SendState::Failed;
    failed.attempts = 1;
    failed.error = Some("131026: Message undeliverable".into());
    store.update_send(&failed).await.unwrap();
    assert_eq!(
        store.get_send(&tenant, &sent.id).await.unwrap(),
        Some(sent.clone())
    );
    assert_eq!(
        store.get_send(&tenant, &failed.id).await.unwrap(),
        Some(failed.clone())
    );
    let pending: Vec<SendId> = all_pending(store, &number)
        .await
        .into_iter()
        .map(|s| s.id)
        .collect();
    let expected: Vec<SendId> = oldest_first
        .iter()
        .filter(|s| s.id != sent.id && s.id != failed.id)
        .map(|s| s.id.clone())
        .collect();
    assert_eq!(pending, expected);
    let history = store
        .conversation_history(&tenant, &sent.conversation, None, 10)
        .await
        .unwrap();
    assert_eq!(
        history.items.len(),
        1,
        "the sent message, once: {history:?}"
    );
    let m = &history.items[0];
    assert_eq!(
        (m.direction, m.wamid.as_str(), m.text.as_deref(), m.at_ms),
        (
            Direction::Outbound,
            "wamid.outbox-sent",
            Some("m2"),
            T0 + 2_000
        )
    );
    // Enqueueing a finished send again returns it finished and does not make it pending.
    assert_eq!(store.enqueue_send(&retry_of(&sent)).await.unwrap(), sent);
    assert_eq!(all_pending(store, &number).await.len(), 3);
}

fn retry_of(s: &OutboxRecord) -> OutboxRecord {
    let mut r = s.clone();
    r.state = SendState::Queued;
    r.wamid = None;
    r.created_at += 60_000;
    r
}

pub async fn notes_page_newest_first_and_profiles_carry_their_audit(store: &dyn Store) {
    let (tenant, other) = (fresh_tenant("notes"), fresh_tenant("notes-other"));
    let conversation = ConversationId::new(format!("c_{:016x}", rand::random::<u64>()));
    let notes: Vec<NoteRecord> = (0..5)
        .map(|i| NoteRecord {
            tenant: tenant.clone(),
            conversation: conversation.clone(),
            id: format!("n_{i}"),
            author: (i % 2 == 0).then(|| UserId::from("u_1")),
            author_name: "Ada".into(),
            text: format!("note {i} for @{{u_2}}"),
            mentions: vec![UserId::from("u_2")],
            // Two notes share a millisecond: the id orders them.
            at_ms: T0 + (i / 2) * 1000,
        })
        .collect();
    for n in &notes {
        store.add_note(n).await.unwrap();
    }
    store.add_note(&notes[0]).await.unwrap();
    let mut listed = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .notes(&tenant, &conversation, cursor.as_ref(), 2)
            .await
            .unwrap();
        listed.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let mut newest_first = notes.clone();
    newest_first.sort_by(|a, b| (b.at_ms, &b.id).cmp(&(a.at_ms, &a.id)));
    assert_eq!(listed, newest_first, "each note once, newest first");
    let page = store.notes(&other, &conversation, None, 10).await.unwrap();
    assert!(page.items.is_empty(), "another tenant's notes do not exist");

    let profile = ProfileRecord {
        tenant: tenant.clone(),
        user: UserId::from("u_1"),
        skills: vec!["lang:ru".into(), "skill:billing".into()],
        capacity: Some(8),
        updated_at: T0,
    };
    let line = audit(&tenant, "agent.profile");
    store.put_profile(&profile, &line).await.unwrap();
    let mut changed = profile.clone();
    changed.capacity = None;
    changed.skills = vec![];
    let line2 = audit(&tenant, "agent.profile");
    store.put_profile(&changed, &line2).await.unwrap();
    let second = ProfileRecord {
        user: UserId::from("u_2"),
        ..profile.clone()
    };
    store
        .put_profile(&second, &audit(&tenant, "agent.profile"))
        .await
        .unwrap();
    let first = store.profiles(&tenant, None, 1).await.unwrap();
    assert_eq!(first.items, vec![changed]);
    let rest = store
        .profiles(&tenant, first.next.as_ref(), 1)
        .await
        .unwrap();
    assert_eq!(rest.items, vec![second]);
    assert!(store
        .profiles(&other, None, 10)
        .await
        .unwrap()
        .items
        .is_empty());
    assert_eq!(
        all_audit(store, &tenant, &AuditQuery::default())
            .await
            .len(),
        3,
        "each profile change has its audit line"
    );
}
