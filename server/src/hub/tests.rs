//! The hub's streams, windows and subscriptions, without sockets.

use super::*;
use switchboard_shared::{ConversationId, Direction, MessageKey, PhoneNumberId};

fn test_keys() -> IdKeys {
    IdKeys::new([1; 32])
}

fn event(i: i64) -> HubEvent {
    HubEvent::MessageStored {
        conversation: ConversationId::from("c_1"),
        number: PhoneNumberId::from("1"),
        customer: "79161234567".into(),
        key: MessageKey::new(format!("k{i}")),
        wamid: Wamid::new(format!("w{i}")),
        direction: Direction::Inbound,
        message_type: "text".into(),
        text: Some(format!("m{i}")),
        at: i,
        parts: Default::default(),
        outbox: None,
    }
}

/// A hub whose streams keep their last `events` events, however recent.
fn counted(events: usize) -> Hub {
    let window = ResumeWindow {
        events,
        keep_ms: 0,
        bytes: usize::MAX,
    };
    Hub::new(window, Duration::from_secs(300), test_keys(), 0, None)
}

fn subscriber(hub: &Hub, depth: usize, unmasked: bool) -> (Subscriber, mpsc::Receiver<Frame>) {
    let (tx, rx) = mpsc::channel(depth);
    (
        Subscriber::new(hub.next_subscriber_id(), tx, Viewer::all(unmasked)),
        rx,
    )
}

fn drain(rx: &mut mpsc::Receiver<Frame>) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    while let Ok(f) = rx.try_recv() {
        out.push(serde_json::from_str(f.as_str()).unwrap());
    }
    out
}

#[test]
fn resume_replays_exactly_what_was_missed_then_goes_live() {
    let hub = counted(8);
    let t = TenantId::from("t");
    for i in 1..=5 {
        hub.publish(&t, &Topic::Tenant, &event(i));
    }
    let (sub, mut rx) = subscriber(&hub, 64, true);
    assert_eq!(
        hub.subscribe(&t, &Topic::Tenant, Some(3), sub, None, None),
        Subscribed::Resumed {
            replayed: 2,
            seq: 5
        }
    );
    hub.publish(&t, &Topic::Tenant, &event(6));
    let seqs: Vec<(String, u64)> = drain(&mut rx)
        .iter()
        .map(|f| {
            (
                f["type"].as_str().unwrap().to_owned(),
                f["seq"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seqs,
        vec![
            ("event".into(), 4),
            ("event".into(), 5),
            ("subscribed".into(), 5),
            ("event".into(), 6)
        ]
    );
}

#[test]
fn beyond_the_window_the_answer_is_resync() {
    let hub = counted(4);
    let t = TenantId::from("t");
    for i in 1..=10 {
        hub.publish(&t, &Topic::Tenant, &event(i));
    }
    let (sub, mut rx) = subscriber(&hub, 64, true);
    assert_eq!(
        hub.subscribe(&t, &Topic::Tenant, Some(2), sub, None, None),
        Subscribed::Resync { seq: 10 }
    );
    let frames = drain(&mut rx);
    assert_eq!(frames[0]["type"], "resync");
    // Exactly at the edge of the window still resumes.
    let (sub, _rx) = subscriber(&hub, 64, true);
    assert_eq!(
        hub.subscribe(&t, &Topic::Tenant, Some(6), sub, None, None),
        Subscribed::Resumed {
            replayed: 4,
            seq: 10
        }
    );
}

#[test]
fn masking_follows_the_subscriber_and_a_full_queue_sets_the_subscription_aside() {
    let hub = counted(16);
    let t = TenantId::from("t");
    let (masked, mut masked_rx) = subscriber(&hub, 64, false);
    let (clear, mut clear_rx) = subscriber(&hub, 64, true);
    let (slow, mut slow_rx) = subscriber(&hub, 2, true);
    hub.subscribe(&t, &Topic::Tenant, None, masked, None, None);
    hub.subscribe(&t, &Topic::Tenant, None, clear, None, None);
    hub.subscribe(&t, &Topic::Tenant, None, slow.clone(), None, None);
    for i in 1..=3 {
        hub.publish(&t, &Topic::Tenant, &event(i));
    }
    let m = drain(&mut masked_rx);
    assert_eq!(m[1]["event"]["customer"], "•••••••4567");
    assert!(!m.iter().any(|f| f.to_string().contains("79161234567")));
    let c = drain(&mut clear_rx);
    assert_eq!(c[1]["event"]["customer"], "79161234567");
    assert_eq!(c.len(), 4, "subscribed + 3 events");
    // The slow one's queue (2) took `subscribed` and event 1; event 2 found it full.
    assert!(!slow.too_slow.load(Ordering::Acquire), "not cut for it");
    let notices = slow.take_notices();
    assert_eq!(notices.lagging, vec![(Topic::Tenant, 1)]);
    hub.publish(&t, &Topic::Tenant, &event(4));
    let queued: Vec<u64> = drain(&mut slow_rx)
        .iter()
        .filter_map(|f| f["seq"].as_u64())
        .collect();
    assert_eq!(queued, vec![0, 1], "nothing after the set-aside is queued");
    // Put back once it has read: the window replays what it missed (3 events, more than
    // the queue's room, so written by the socket at the client's pace).
    assert_eq!(
        hub.rejoin(&t, &Topic::Tenant, 1, slow),
        Subscribed::CatchUp {
            replay: vec![Frame::from(""); 3],
            hold: Arc::new(Mutex::new(None)),
            seq: 4
        }
    );
}

#[test]
fn a_subscription_put_back_after_a_full_queue_misses_nothing() {
    let hub = counted(16);
    let t = TenantId::from("t");
    let (slow, mut slow_rx) = subscriber(&hub, 4, true);
    hub.subscribe(&t, &Topic::Tenant, Some(0), slow.clone(), None, None);
    for i in 1..=10 {
        hub.publish(&t, &Topic::Tenant, &event(i));
    }
    let mut seen: Vec<u64> = drain(&mut slow_rx)
        .iter()
        .filter(|f| f["type"] == "event")
        .filter_map(|f| f["seq"].as_u64())
        .collect();
    let lagging = slow.take_notices().lagging;
    assert_eq!(
        lagging,
        vec![(Topic::Tenant, 3)],
        "`subscribed` and three events fit, the fourth did not"
    );
    let Subscribed::CatchUp { replay, hold, seq } =
        hub.rejoin(&t, &Topic::Tenant, lagging[0].1, slow)
    else {
        panic!("seven to replay, room for four: a catch-up");
    };
    assert_eq!(seq, 10);
    // Published during the catch-up: held behind the replay.
    hub.publish(&t, &Topic::Tenant, &event(11));
    let held = locked(&hold).take().expect("still catching up");
    let seq_of = |f: &Frame| {
        serde_json::from_str::<serde_json::Value>(f.as_str()).unwrap()["seq"]
            .as_u64()
            .unwrap()
    };
    seen.extend(replay.iter().chain(&held).map(seq_of));
    assert_eq!(seen, (1..=11).collect::<Vec<u64>>());
}

#[test]
fn the_window_keeps_recent_events_and_a_quiet_streams_last_ones() {
    let window = ResumeWindow {
        events: 2,
        keep_ms: 60_000,
        bytes: usize::MAX,
    };
    let hub = Hub::new(window, Duration::from_secs(300), test_keys(), 0, None);
    let t = TenantId::from("t");
    for i in 1..=50 {
        hub.publish(&t, &Topic::Tenant, &event(i));
    }
    let (sub, _rx) = subscriber(&hub, 64, true);
    assert_eq!(
        hub.subscribe(&t, &Topic::Tenant, Some(1), sub, None, None),
        Subscribed::CatchUp {
            replay: vec![Frame::from(""); 50],
            hold: Arc::new(Mutex::new(None)),
            seq: 50
        },
        "all fifty are younger than a minute: 49 replayed, then `subscribed`"
    );
    // A minute later, the sweep keeps the last two.
    hub.sweep(crate::domain::now_ms() + 61_000, Duration::from_secs(600));
    let (sub, _rx) = subscriber(&hub, 64, true);
    assert_eq!(
        hub.subscribe(&t, &Topic::Tenant, Some(47), sub, None, None),
        Subscribed::Resync { seq: 50 }
    );
    let (sub, _rx) = subscriber(&hub, 64, true);
    assert_eq!(
        hub.subscribe(&t, &Topic::Tenant, Some(48), sub, None, None),
        Subscribed::Resumed {
            replayed: 2,
            seq: 50
        }
    );
    // And however recent, no more text than `bytes`: here, about three events' worth.
    let one = Prepared::new(&t, &event(1), &test_keys()).size();
    let window = ResumeWindow {
        events: 1,
        keep_ms: 60_000,
        bytes: one * 3,
    };
    let hub = Hub::new(window, Duration::from_secs(300), test_keys(), 0, None);
    for i in 1..=9 {
        hub.publish(&t, &Topic::Tenant, &event(i));
    }
    let (sub, _rx) = subscriber(&hub, 64, true);
    assert_eq!(
        hub.subscribe(&t, &Topic::Tenant, Some(6), sub, None, None),
        Subscribed::Resumed {
            replayed: 3,
            seq: 9
        }
    );
    let (sub, _rx) = subscriber(&hub, 64, true);
    assert_eq!(
        hub.subscribe(&t, &Topic::Tenant, Some(5), sub, None, None),
        Subscribed::Resync { seq: 9 }
    );
}

#[test]
fn a_frame_spliced_around_a_prepared_event_is_what_serde_writes() {
    let events = [
        event(7),
        HubEvent::MessageStored {
            conversation: ConversationId::from("c_\"quoted\""),
            number: PhoneNumberId::from("1"),
            customer: "79161234567".into(),
            key: "k".into(),
            wamid: "w".into(),
            direction: Direction::Outbound,
            message_type: "text".into(),
            text: Some("Где мой заказ? \u{1F600} \"\\ \n".into()),
            at: 1,
            parts: Default::default(),
            outbox: Some("o_1".into()),
        },
    ];
    for event in events {
        for topic in ["tenant", "conversation:c_1", "inbox:u_\"odd\"\\"] {
            let prepared = Prepared::new(&TenantId::from("t"), &event, &test_keys());
            let spliced = event_frame(topic, 42, &prepared.full);
            let serde = frame(&ServerFrame::Event {
                topic: topic.to_owned(),
                seq: 42,
                event: event.clone(),
            });
            assert_eq!(spliced.as_str(), serde.as_str());
            let masked = prepared
                .masked
                .as_deref()
                .expect("messages have a masked form");
            assert!(masked.contains("•••••••4567") && !masked.contains("79161234567"));
        }
    }
}

#[test]
fn a_stream_nobody_follows_yet_replays_its_window_masked_or_not() {
    // An agent's inbox often gets its first event (the assignment made because they came
    // online) just before they subscribe: `after: 0` must replay it.
    let hub = counted(8);
    let t = TenantId::from("t");
    let message = |at| HubEvent::MessageStored {
        conversation: ConversationId::from("c_1"),
        number: PhoneNumberId::from("1"),
        customer: "79161234567".into(),
        key: format!("k{at}").into(),
        wamid: "w".into(),
        direction: Direction::Inbound,
        message_type: "text".into(),
        text: Some("hi".into()),
        at,
        parts: Default::default(),
        outbox: None,
    };
    for at in 1..=3 {
        hub.publish(&t, &Topic::Inbox(UserId::from("u_1")), &message(at));
    }
    for unmasked in [true, false] {
        let (sub, mut rx) = subscriber(&hub, 64, unmasked);
        assert_eq!(
            hub.subscribe(
                &t,
                &Topic::Inbox(UserId::from("u_1")),
                Some(1),
                sub,
                None,
                None
            ),
            Subscribed::Resumed {
                replayed: 2,
                seq: 3
            }
        );
        let frames = drain(&mut rx);
        let seen: Vec<(u64, &str)> = frames[..2]
            .iter()
            .map(|f| {
                (
                    f["seq"].as_u64().unwrap(),
                    f["event"]["customer"].as_str().unwrap(),
                )
            })
            .collect();
        let customer = if unmasked {
            "79161234567"
        } else {
            "•••••••4567"
        };
        assert_eq!(seen, vec![(2, customer), (3, customer)]);
        assert_eq!(frames[2]["type"], "subscribed");
    }
}

#[test]
fn idle_streams_nobody_follows_are_forgotten_and_numbering_never_goes_back() {
    let hub = counted(8);
    let t = TenantId::from("t");
    let quiet = Topic::Conversation(ConversationId::from("c_quiet"));
    // Someone followed the quiet one for a while.
    let (watcher, _watching) = subscriber(&hub, 64, true);
    let watcher_id = watcher.id;
    hub.subscribe(&t, &quiet, None, watcher, None, None);
    for i in 1..=3 {
        hub.publish(&t, &quiet, &event(i));
    }
    hub.unsubscribe(&t, &quiet, watcher_id);
    let (follower, _rx) = subscriber(&hub, 64, true);
    hub.subscribe(&t, &Topic::Tenant, None, follower, None, None);
    let idle = Duration::from_secs(600);
    let now = crate::domain::now_ms();
    assert_eq!(hub.sweep(now, idle), 0, "nothing is idle yet");
    let later = now + 601_000;
    assert_eq!(
        hub.sweep(later, idle),
        1,
        "the quiet one, not the followed one"
    );
    // Resuming where it left off: nothing was missed, live from there.
    let (sub, mut rx) = subscriber(&hub, 64, true);
    assert_eq!(
        hub.subscribe(&t, &quiet, Some(3), sub, None, None),
        Subscribed::Resumed {
            replayed: 0,
            seq: 3
        }
    );
    hub.publish(&t, &quiet, &event(4));
    let frames = drain(&mut rx);
    assert_eq!(
        frames.last().unwrap()["seq"],
        4,
        "numbers go on, never back"
    );
    // From before what was forgotten: told to resync, not replayed a part.
    let (sub, _rx) = subscriber(&hub, 64, true);
    assert_eq!(
        hub.subscribe(&t, &quiet, Some(2), sub, None, None),
        Subscribed::Resync { seq: 4 }
    );
    // A client that has seen nothing of it gets what came since it was made again.
    let (sub, _rx) = subscriber(&hub, 64, true);
    assert_eq!(
        hub.subscribe(&t, &quiet, Some(0), sub, None, None),
        Subscribed::Resumed {
            replayed: 1,
            seq: 4
        }
    );
}

#[test]
fn a_stream_nobody_ever_followed_is_forgotten_after_the_windows_age() {
    let window = ResumeWindow {
        events: 64,
        keep_ms: 60_000,
        bytes: usize::MAX,
    };
    let hub = Hub::new(window, Duration::from_secs(300), test_keys(), 0, None);
    let t = TenantId::from("t");
    // A campaign's conversation: statuses, and nobody looking.
    let campaign = Topic::Conversation(ConversationId::from("c_campaign"));
    // One an agent looked at and left.
    let looked_at = Topic::Conversation(ConversationId::from("c_looked_at"));
    let (agent, _rx) = subscriber(&hub, 64, true);
    let agent_id = agent.id;
    hub.subscribe(&t, &looked_at, None, agent, None, None);
    for i in 1..=3 {
        hub.publish(&t, &campaign, &event(i));
        hub.publish(&t, &looked_at, &event(i));
    }
    hub.unsubscribe(&t, &looked_at, agent_id);
    let idle = Duration::from_secs(600);
    let now = crate::domain::now_ms();
    assert_eq!(
        hub.sweep(now, idle),
        0,
        "within the window's age, both are kept"
    );
    // A first subscriber within the minute is replayed what it missed.
    let (late, _rx) = subscriber(&hub, 64, true);
    let late_id = late.id;
    assert_eq!(
        hub.subscribe(&t, &campaign, Some(1), late, None, None),
        Subscribed::Resumed {
            replayed: 2,
            seq: 3
        }
    );
    hub.unsubscribe(&t, &campaign, late_id);
    let never = Topic::Conversation(ConversationId::from("c_never"));
    hub.publish(&t, &never, &event(1));
    assert_eq!(
        hub.sweep(now + 61_000, idle),
        1,
        "only the one nobody ever followed goes after a minute"
    );
    assert_eq!(
        hub.sweep(now + 601_000, idle),
        2,
        "the followed ones after `idle`"
    );
}
