//! How hub events and replies change the model: plain Rust, tested on the host.
use super::*;
use switchboard_shared::protocol::ChangeReason;

fn conversation(id: &str, assignee: Option<&str>) -> Conversation {
    Conversation {
        id: ConversationId::from(id),
        number: PhoneNumberId::from("106540352242922"),
        customer: "•••••••4567".into(),
        customer_name: Some("Olga".into()),
        last_message_at: 1_000,
        state: Some(if assignee.is_some() {
            ConversationState::Assigned
        } else {
            ConversationState::Queued
        }),
        assignee: assignee.map(UserId::from),
        waiting_since: None,
        last_inbound_at: Some(1_000),
        tags: vec!["vip".into()],
    }
}

fn inbound(conv: &str, key: &str, at: i64) -> HubEvent {
    HubEvent::MessageStored {
        conversation: ConversationId::from(conv),
        number: PhoneNumberId::from("106540352242922"),
        customer: "•••••••4567".into(),
        key: key.into(),
        wamid: format!("wamid.{key}").into(),
        direction: Direction::Inbound,
        message_type: "text".into(),
        text: Some("Где мой заказ?".into()),
        at,
        parts: MessageParts::default(),
        outbox: None,
    }
}

fn changed(conv: &str, state: ConversationState, assignee: Option<&str>) -> HubEvent {
    HubEvent::ConversationChanged {
        conversation: ConversationId::from(conv),
        number: PhoneNumberId::from("106540352242922"),
        customer: "•••••••4567".into(),
        state,
        assignee: assignee.map(UserId::from),
        previous: None,
        reason: ChangeReason::Pool,
        queue_position: None,
        waiting_since: Some(5),
        at: 5,
    }
}

#[test]
fn tabs_follow_permissions() {
    use Permission as P;
    let agent = [P::ConversationsReadAssigned, P::ConversationsReadTeam];
    assert_eq!(
        Tab::for_permissions(&agent, true),
        [Tab::Mine, Tab::Unassigned, Tab::Team]
    );
    let supervisor = [P::ConversationsReadAll, P::ConversationsReadAssigned];
    assert_eq!(
        Tab::for_permissions(&supervisor, true),
        [Tab::Mine, Tab::Unassigned, Tab::All]
    );
    assert_eq!(
        Tab::for_permissions(&[P::ConversationsReadAll], false),
        [Tab::Unassigned, Tab::All]
    );
}

#[test]
fn a_message_seen_on_two_streams_counts_once_and_not_when_open() {
    let me = UserId::from("u_me");
    let mut inbox = Inbox::default();
    inbox.replace_all(vec![conversation("c_1", Some("u_me"))]);
    assert_eq!(
        inbox.apply(&inbound("c_1", "k1", 10), Some(&me), None),
        Change::Updated
    );
    assert_eq!(
        inbox.apply(&inbound("c_1", "k1", 10), Some(&me), None),
        Change::Nothing
    );
    assert_eq!(inbox.get("c_1").unwrap().unread, 1);
    assert_eq!(inbox.unread(Tab::Mine, Some(&me)), 1);
    inbox.apply(&inbound("c_1", "k2", 11), Some(&me), Some("c_1"));
    assert_eq!(inbox.get("c_1").unwrap().unread, 1);
    inbox.mark_read("c_1");
    assert_eq!(inbox.unread(Tab::Mine, Some(&me)), 0);
    // Unread survives a reload of the list.
    inbox.apply(&inbound("c_1", "k3", 12), Some(&me), None);
    inbox.replace_all(vec![conversation("c_1", Some("u_me"))]);
    assert_eq!(inbox.get("c_1").unwrap().unread, 1);
}

#[test]
fn assignment_to_me_is_reported_once_and_resolution_removes_the_row() {
    let me = UserId::from("u_me");
    let mut inbox = Inbox::default();
    let assigned = changed("c_9", ConversationState::Assigned, Some("u_me"));
    assert_eq!(
        inbox.apply(&assigned, Some(&me), None),
        Change::AssignedToMe(ConversationId::from("c_9"))
    );
    assert_eq!(inbox.apply(&assigned, Some(&me), None), Change::Updated);
    assert_eq!(inbox.list(Tab::Mine, Some(&me), "").len(), 1);
    assert_eq!(inbox.list(Tab::Unassigned, Some(&me), "").len(), 0);
    inbox.apply(
        &changed("c_9", ConversationState::Resolved, None),
        Some(&me),
        None,
    );
    assert!(inbox.is_empty());
}

#[test]
fn the_list_puts_the_longest_waiting_first_and_searches() {
    let mut inbox = Inbox::default();
    let mut a = conversation("c_a", None);
    a.waiting_since = Some(50);
    let mut b = conversation("c_b", None);
    b.waiting_since = Some(10);
    let mut c = conversation("c_c", None);
    c.last_message_at = 99;
    c.customer_name = Some("Ivan".into());
    inbox.replace_all(vec![a, b, c]);
    let ids: Vec<String> = inbox
        .list(Tab::All, None, "")
        .iter()
        .map(|r| r.conversation.id.as_str().to_owned())
        .collect();
    assert_eq!(ids, ["c_b", "c_a", "c_c"]);
    assert_eq!(inbox.list(Tab::All, None, "ivan").len(), 1);
    assert_eq!(inbox.list(Tab::All, None, "VIP").len(), 3);
    assert_eq!(inbox.list(Tab::All, None, "nobody").len(), 0);
}

fn pending(key: &str) -> PendingSend {
    PendingSend {
        key: key.into(),
        conversation: ConversationId::from("c_1"),
        text: "Уже едет".into(),
        created_at: 20,
        outbox: None,
        reply_to: None,
        reply_wamid: None,
        confirm_warnings: false,
        override_reason: None,
    }
}

#[test]
fn a_reply_goes_from_local_to_queued_to_stored_to_read() {
    let mut t = Transcript::open(ConversationId::from("c_1"));
    t.prepend_page(
        vec![Message {
            key: "in_1".into(),
            wamid: "wamid.in1".into(),
            direction: Direction::Inbound,
            kind: "text".into(),
            text: Some("Привет".into()),
            at: 10,
            status: MessageStatus::Received,
            error: None,
            customer: "•••4567".into(),
            parts: MessageParts::default(),
        }],
        None,
    );
    assert!(t.complete);
    t.add_local(&pending("k-1"));
    assert_eq!(t.lines[1].delivery, Delivery::Local);
    t.acknowledged("k-1", "o_1");
    assert_eq!(t.lines[1].delivery, Delivery::Queued);
    let stored = HubEvent::MessageStored {
        conversation: ConversationId::from("c_1"),
        number: PhoneNumberId::from("106540352242922"),
        customer: "•••4567".into(),
        key: "out_1".into(),
        wamid: "wamid.out1".into(),
        direction: Direction::Outbound,
        message_type: "text".into(),
        text: Some("Уже едет".into()),
        at: 21,
        parts: MessageParts::default(),
        outbox: Some("o_1".into()),
    };
    assert!(t.apply(&stored));
    assert!(!t.apply(&stored), "a duplicate changes nothing");
    assert_eq!(
        t.lines.len(),
        2,
        "the stored message replaced the local one"
    );
    let read = HubEvent::StatusChanged {
        conversation: ConversationId::from("c_1"),
        number: PhoneNumberId::from("106540352242922"),
        wamid: "wamid.out1".into(),
        status: MessageStatus::Read,
        at: 30,
        error_codes: vec![],
        error: None,
    };
    assert!(t.apply(&read));
    assert_eq!(t.lines[1].delivery, Delivery::Status(MessageStatus::Read));
    // Another conversation's events do not touch this transcript.
    let mut other = read.clone();
    if let HubEvent::StatusChanged { conversation, .. } = &mut other {
        *conversation = ConversationId::from("c_2");
    }
    assert!(!t.apply(&other));
}

#[test]
fn a_failed_send_shows_its_reason() {
    let mut t = Transcript::open(ConversationId::from("c_1"));
    t.add_local(&pending("k-2"));
    t.acknowledged("k-2", "o_2");
    assert!(t.apply(&HubEvent::SendFailed {
        conversation: ConversationId::from("c_1"),
        number: PhoneNumberId::from("106540352242922"),
        outbox: "o_2".into(),
        error: "Cloud API error 131026".into(),
        at: 40,
    }));
    assert_eq!(
        t.lines[0].delivery,
        Delivery::Failed("Cloud API error 131026".into())
    );
    t.add_local(&pending("k-3"));
    t.refused("k-3", "outside the 24-hour window");
    assert!(matches!(t.lines[1].delivery, Delivery::Failed(_)));
}

#[test]
fn a_message_that_failed_at_whatsapp_keeps_its_reason_after_a_reload() {
    let reason = "131047: more than 24 hours since the customer last wrote";
    let failed = Message {
        key: "out_1".into(),
        wamid: "wamid.out1".into(),
        direction: Direction::Outbound,
        kind: "text".into(),
        text: Some("Hello?".into()),
        at: 10,
        status: MessageStatus::Failed,
        error: Some(reason.into()),
        customer: "x".into(),
        parts: MessageParts::default(),
    };
    assert_eq!(
        Line::from_message(failed.clone()).delivery,
        Delivery::Failed(reason.into())
    );
    // Live, the event's reason is what the line shows.
    let mut t = Transcript::open(ConversationId::from("c_1"));
    t.prepend_page(
        vec![Message {
            status: MessageStatus::Sent,
            error: None,
            ..failed
        }],
        None,
    );
    assert!(t.apply(&HubEvent::StatusChanged {
        conversation: ConversationId::from("c_1"),
        number: PhoneNumberId::from("106540352242922"),
        wamid: "wamid.out1".into(),
        status: MessageStatus::Failed,
        at: 20,
        error_codes: vec![131047],
        error: Some(reason.into()),
    }));
    assert_eq!(t.lines[0].delivery, Delivery::Failed(reason.into()));
}

#[test]
fn older_pages_go_before_and_skip_what_is_shown() {
    let msg = |key: &str, at| Message {
        key: key.into(),
        wamid: format!("w.{key}"),
        direction: Direction::Inbound,
        kind: "text".into(),
        text: None,
        at,
        status: MessageStatus::Received,
        error: None,
        customer: "x".into(),
        parts: MessageParts::default(),
    };
    let mut t = Transcript::open(ConversationId::from("c_1"));
    t.prepend_page(vec![msg("m4", 4), msg("m3", 3)], Some("cur".into()));
    assert!(!t.complete);
    t.prepend_page(vec![msg("m3", 3), msg("m2", 2), msg("m1", 1)], None);
    let keys: Vec<&str> = t.lines.iter().map(|l| l.id.as_str()).collect();
    assert_eq!(keys, ["m1", "m2", "m3", "m4"]);
    assert!(t.complete);
}

#[test]
fn the_outgoing_queue_survives_until_settled() {
    let mut out = Outgoing::default();
    out.push(pending("k-1"));
    out.push(pending("k-1"));
    out.push(pending("k-2"));
    assert_eq!(out.sends.len(), 2);
    out.acknowledged("k-1", "o_1", false);
    assert_eq!(out.sends[0].outbox.as_deref(), Some("o_1"));
    let json = serde_json::to_string(&out).unwrap();
    let mut back: Outgoing = serde_json::from_str(&json).unwrap();
    back.settled("o_1");
    assert_eq!(back.sends.len(), 1);
    back.acknowledged("k-2", "o_2", true);
    assert!(back.sends.is_empty());
}

#[test]
fn sequences_drop_replays_and_resume_after_the_last() {
    let mut s = Sequences::default();
    assert_eq!(s.after("tenant"), None);
    assert!(s.accept("tenant", 1));
    assert!(s.accept("tenant", 2));
    assert!(!s.accept("tenant", 2));
    s.set("tenant", 1);
    assert_eq!(s.after("tenant"), Some(2));
    s.set("board", 40);
    assert!(!s.accept("board", 40));
    assert!(s.accept("board", 41));
}

#[test]
fn only_the_rows_in_view_are_built() {
    assert_eq!(visible_range(0.0, 640.0, 64.0, 10_000, 5), 0..16);
    assert_eq!(visible_range(64_000.0, 640.0, 64.0, 10_000, 5), 995..1016);
    assert_eq!(
        visible_range(639_000.0, 640.0, 64.0, 10_000, 5),
        9979..10_000
    );
    assert_eq!(visible_range(0.0, 640.0, 64.0, 0, 5), 0..0);
}

#[test]
fn ten_thousand_conversations_share_rows_and_build_one_screenful() {
    let mut inbox = Inbox::default();
    inbox.replace_all(
        (0..10_000)
            .map(|i| conversation(&format!("c_{i:05}"), None))
            .collect(),
    );
    let list = inbox.list(Tab::All, None, "");
    assert_eq!(list.len(), 10_000);
    // The list holds the inbox's own rows, not copies of them.
    let first = list[0].conversation.id.as_str().to_owned();
    assert!(Arc::ptr_eq(&list[0], inbox.rows.get(&first).unwrap()));
    let shown = visible_range(320_000.0, 780.0, 68.0, list.len(), 8);
    assert!(shown.len() <= 30, "{shown:?}");
}

#[test]
fn the_window() {
    let day = 24 * 3600 * 1000;
    assert!(window_open(Some(1_000), 1_000 + day - 1));
    assert!(!window_open(Some(1_000), 1_000 + day));
    assert!(!window_open(None, 0));
}

fn reaction(key: &str, to: &str, emoji: &str, direction: Direction) -> HubEvent {
    HubEvent::MessageStored {
        conversation: ConversationId::from("c_1"),
        number: PhoneNumberId::from("106540352242922"),
        customer: "•••4567".into(),
        key: key.into(),
        wamid: format!("wamid.{key}").into(),
        direction,
        message_type: "reaction".into(),
        text: Some(emoji.to_owned()).filter(|e| !e.is_empty()),
        at: 40,
        parts: MessageParts {
            reaction_to: Some(to.into()),
            ..MessageParts::default()
        },
        outbox: None,
    }
}

#[test]
fn reactions_sit_on_their_message_and_the_latest_of_each_side_counts() {
    let mut t = Transcript::open(ConversationId::from("c_1"));
    let e = inbound("c_1", "k1", 10);
    t.apply(&e);
    let to = "wamid.k1";
    t.apply(&reaction("r1", to, "👍", Direction::Outbound));
    t.apply(&reaction("r2", to, "❤️", Direction::Inbound));
    assert_eq!(t.shown().len(), 1, "reactions are not bubbles");
    let mut on = t.reactions().remove(to).unwrap();
    on.sort_by_key(|(d, _)| *d == Direction::Outbound);
    assert_eq!(
        on,
        [
            (Direction::Inbound, "❤️".to_owned()),
            (Direction::Outbound, "👍".to_owned())
        ]
    );
    // The business changes its reaction, then the customer takes theirs back.
    t.apply(&reaction("r3", to, "🙏", Direction::Outbound));
    t.apply(&reaction("r4", to, "", Direction::Inbound));
    assert_eq!(
        t.reactions().remove(to).unwrap(),
        [(Direction::Outbound, "🙏".to_owned())]
    );
}

#[test]
fn a_reply_quotes_its_message_while_local_and_once_stored() {
    let mut t = Transcript::open(ConversationId::from("c_1"));
    t.apply(&inbound("c_1", "k1", 10));
    let mut p = pending("k-9");
    p.reply_to = Some("k1".into());
    p.reply_wamid = Some("wamid.k1".into());
    t.add_local(&p);
    let local = t.lines.last().unwrap();
    assert_eq!(local.parts.reply_to.as_deref(), Some("wamid.k1"));
    let quoted = t.by_wamid("wamid.k1").unwrap();
    assert_eq!(quoted.snippet(), "Где мой заказ?");
    // A long message is cut for the quote.
    let mut long = quoted.clone();
    long.text = Some("a".repeat(100));
    assert_eq!(long.snippet().chars().count(), 81);
    // A file without a caption is quoted by its name.
    long.text = None;
    long.kind = "document".into();
    long.parts.media = Some(Box::new(switchboard_shared::api::MediaRef {
        copy: None,
        id: "1".into(),
        mime_type: None,
        filename: Some("invoice.pdf".into()),
    }));
    assert_eq!(long.snippet(), "invoice.pdf");
}

#[test]
fn mentions_are_typed_by_name_and_sent_by_id() {
    assert_eq!(mention_query("see @ol"), Some("ol"));
    assert_eq!(mention_query("@"), Some(""));
    assert_eq!(mention_query("mail me@host"), None);
    assert_eq!(mention_query("@olga done"), None);
    assert_eq!(mention_query("no mention"), None);
    let picked = vec![
        ("Ann".to_owned(), "u_1".to_owned()),
        ("Ann Lee".to_owned(), "u_2".to_owned()),
    ];
    let sent = encode_mentions("@Ann Lee and @Ann, look", &picked);
    assert_eq!(sent, "@{u_2} and @{u_1}, look");
    let names = vec![
        ("u_1".to_owned(), "Ann".to_owned()),
        ("u_2".to_owned(), "Ann Lee".to_owned()),
    ];
    assert_eq!(show_mentions(&sent, &names), "@Ann Lee and @Ann, look");
    assert_eq!(show_mentions("@{u_9} hi", &names), "@{u_9} hi");
}
