use super::*;
use serde_json::json;

fn flow(value: serde_json::Value) -> FlowInput {
    serde_json::from_value(value).unwrap()
}

fn order_flow() -> FlowInput {
    flow(json!({
        "name": "Orders",
        "start": "menu",
        "nodes": {
            "menu": {"type": "menu", "text": "Hi {{contact.name}}! How can we help?",
                     "options": [{"id": "track", "title": "Track an order", "next": "ask"},
                                 {"id": "human", "title": "Talk to us", "next": "handoff"}],
                     "retry_text": "Please tap one of the buttons."},
            "ask": {"type": "question", "text": "Your order number?", "variable": "order",
                    "expect": "pattern", "pattern": "[0-9]{4,8}", "attribute": "last_order",
                    "next": "lookup"},
            "lookup": {"type": "http", "url": "https://shop.example/orders/{{order}}?q={{order}}",
                       "headers": {"Authorization": "Bearer {{secret}}"},
                       "map": {"status": "$.status"}, "next": "tell", "fallback": "handoff"},
            "tell": {"type": "message", "text": "Order {{order}} is {{status}}.", "next": "done"},
            "done": {"type": "end"},
            "handoff": {"type": "handoff", "skill": "orders", "text": "A colleague will answer."}
        }
    }))
}

fn reply(text: &str) -> Event {
    Event::Reply {
        text: text.into(),
        id: None,
    }
}

#[test]
fn a_run_walks_a_menu_a_question_and_a_lookup_and_replays_the_same() {
    let f = order_flow();
    assert_eq!(check(&f), Ok(()));
    let contact: BTreeMap<String, Value> = [("name".to_owned(), json!("Olga"))].into();
    let mut state = RunState {
        node: f.start.clone(),
        ..Default::default()
    };
    let go = |state: &mut RunState, e: Event| {
        advance(
            &f,
            state,
            e,
            &contact,
            Some("s3cr3t-s3cr3t-s3cr3t"),
            Some("RU"),
        )
    };
    let s = go(&mut state, Event::Go);
    let Effect::Menu { seq: 1, message } = &s.effects[0] else {
        panic!("{s:?}")
    };
    assert_eq!(message.body, "Hi Olga! How can we help?");
    assert_eq!(message.buttons.len(), 2);
    // Neither a button nor a title: retried.
    let before = state.clone();
    let s = go(&mut state, reply("what?"));
    assert_eq!(s.effects.len(), 2, "{s:?}");
    // Replaying from the stored state makes the same effects with the same numbers.
    let mut again = before;
    assert_eq!(go(&mut again, reply("what?")), s);
    // Typed as its number.
    let s = go(&mut state, reply("1"));
    assert!(matches!(&s.effects[0], Effect::Say { text, .. } if text == "Your order number?"));
    let s = go(&mut state, reply("no idea"));
    assert!(matches!(&s.effects[0], Effect::Say { text, .. } if text == "Your order number?"));
    let s = go(&mut state, reply(" 123456 "));
    assert_eq!(
        s.effects[0],
        Effect::SetAttribute {
            key: "last_order".into(),
            value: json!("123456")
        }
    );
    let Effect::Fetch(fetch) = &s.effects[1] else {
        panic!("{s:?}")
    };
    assert_eq!(fetch.url, "https://shop.example/orders/123456?q=123456");
    assert_eq!(
        fetch.headers,
        [(
            "Authorization".to_owned(),
            "Bearer s3cr3t-s3cr3t-s3cr3t".to_owned()
        )]
    );
    assert_eq!(fetch.timeout_ms, DEFAULT_HTTP_MS);
    let s = go(&mut state, Event::Fetched(Ok(json!({"status": "shipped"}))));
    assert!(
        matches!(&s.effects[0], Effect::Say { text, .. } if text == "Order 123456 is shipped.")
    );
    assert_eq!(s.finish, Some(Finish::Completed));
}

#[test]
fn a_failed_lookup_or_endless_bad_answers_hand_off_with_the_answers() {
    let f = order_flow();
    let contact = BTreeMap::new();
    let mut state = RunState {
        node: "lookup".into(),
        vars: [("order".to_owned(), json!("42"))].into(),
        ..Default::default()
    };
    let s = advance(&f, &mut state, Event::Go, &contact, None, None);
    assert!(matches!(s.effects[0], Effect::Fetch(_)));
    let s = advance(
        &f,
        &mut state,
        Event::Fetched(Err("timed out after 2000 ms".into())),
        &contact,
        None,
        None,
    );
    assert_eq!(s.finish, Some(Finish::HandedOff));
    let Effect::Handoff { skill, note } = &s.effects[1] else {
        panic!("{s:?}")
    };
    assert_eq!(skill.as_deref(), Some("orders"));
    assert!(
        note.contains("order: 42") && note.contains("timed out"),
        "{note}"
    );
    // A JSON answer without the mapped value is a fallback too.
    let mut state = RunState {
        node: "lookup".into(),
        ..Default::default()
    };
    let s = advance(
        &f,
        &mut state,
        Event::Fetched(Ok(json!({}))),
        &contact,
        None,
        None,
    );
    assert_eq!(s.finish, Some(Finish::HandedOff));
    // Menus hand off after their retries.
    let mut state = RunState {
        node: "menu".into(),
        ..Default::default()
    };
    advance(&f, &mut state, Event::Go, &contact, None, None);
    for _ in 0..2 {
        let s = advance(&f, &mut state, reply("??"), &contact, None, None);
        assert_eq!(s.finish, None);
    }
    let s = advance(&f, &mut state, reply("??"), &contact, None, None);
    assert_eq!(s.finish, Some(Finish::HandedOff));
}

#[test]
fn bad_flows_name_the_step_and_field() {
    let field = |f: FlowInput| check(&f).unwrap_err().field;
    let mut f = order_flow();
    f.start = "nope".into();
    assert_eq!(field(f), "start");
    let mut f = order_flow();
    if let Some(Node::Message { next, .. }) = f.nodes.get_mut("tell") {
        *next = Some("missing".into());
    }
    assert_eq!(field(f), "nodes.tell.next");
    let mut f = order_flow();
    f.nodes.insert("orphan".into(), Node::End { text: None });
    assert_eq!(field(f), "nodes.orphan");
    // A loop that never waits.
    let f = flow(json!({"name": "Loop", "start": "a", "nodes": {
        "a": {"type": "message", "text": "a", "next": "b"},
        "b": {"type": "condition", "variable": "x", "compare": "exists", "then": "a", "otherwise": "a"}
    }}));
    assert!(field(f).starts_with("nodes."));
    // Too many buttons, a title too long.
    let mut f = order_flow();
    if let Some(Node::Menu { options, .. }) = f.nodes.get_mut("menu") {
        for i in 0..2 {
            options.push(MenuOption {
                id: format!("x{i}"),
                title: format!("More {i}"),
                description: None,
                section: None,
                next: "done".into(),
            });
        }
    }
    assert_eq!(field(f), "nodes.menu.options");
    let mut f = order_flow();
    if let Some(Node::Menu { options, .. }) = f.nodes.get_mut("menu") {
        options[1].title = "A title much too long for a button".into();
    }
    assert_eq!(field(f), "nodes.menu.options[1].title");
    // Private addresses, unless allowed.
    for url in [
        "http://127.0.0.1:8080/x",
        "http://10.1.2.3/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x",
        "http://localhost/x",
        "http://{{order}}.example/x",
        "ftp://shop.example/x",
    ] {
        let mut f = order_flow();
        if let Some(Node::Http { url: u, .. }) = f.nodes.get_mut("lookup") {
            *u = url.into();
        }
        assert_eq!(field(f.clone()), "nodes.lookup.url", "{url}");
        if url.contains("127.0.0.1") {
            f.allow_hosts = vec!["127.0.0.1:8080".into()];
            assert_eq!(check(&f), Ok(()));
        }
    }
    let mut f = order_flow();
    if let Some(Node::Http { map, .. }) = f.nodes.get_mut("lookup") {
        map.insert("bad".into(), "$.[".into());
    }
    assert_eq!(field(f), "nodes.lookup.map.bad");
}

#[test]
fn answers_are_checked_by_what_the_question_expects() {
    assert_eq!(
        accept(Expect::Number, "1 234,5", &[], None, None),
        Some(json!(1234.5))
    );
    assert_eq!(accept(Expect::Number, "many", &[], None, None), None);
    assert!(accept(Expect::Email, "olga@example.com", &[], None, None).is_some());
    assert!(accept(Expect::Email, "olga@", &[], None, None).is_none());
    assert_eq!(
        accept(Expect::Phone, "8 (916) 123-45-67", &[], None, Some("RU")),
        Some(json!("+79161234567"))
    );
    assert_eq!(
        accept(Expect::Date, "05.12.2026", &[], None, None),
        Some(json!("2026-12-05"))
    );
    assert_eq!(accept(Expect::Date, "31.02.2026", &[], None, None), None);
    let sizes = ["Small".to_owned(), "Large".to_owned()];
    assert_eq!(
        accept(Expect::Choice, "LARGE", &sizes, None, None),
        Some(json!("Large"))
    );
    assert_eq!(accept(Expect::Choice, "medium", &sizes, None, None), None);
    assert!(private("192.168.1.1".parse().unwrap()));
    assert!(private("::ffff:10.0.0.1".parse().unwrap()));
    assert!(private("100.64.0.1".parse().unwrap()));
    assert!(!private("93.184.216.34".parse().unwrap()));
}
