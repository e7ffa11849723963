use super::*;

fn iv(from: &str, to: &str) -> Interval {
    Interval {
        from: from.into(),
        to: to.into(),
    }
}

fn weekdays(zone: &str, from: &str, to: &str) -> ScheduleInput {
    let day = vec![iv(from, to)];
    ScheduleInput {
        name: "Office".into(),
        time_zone: zone.into(),
        week: Week {
            mon: day.clone(),
            tue: day.clone(),
            wed: day.clone(),
            thu: day.clone(),
            fri: day,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// An instant given as local time in `zone`.
fn at(zone: &str, local: &str) -> Timestamp {
    let dt: jiff::civil::DateTime = local.parse().unwrap();
    dt.to_zoned(zones().get(zone).unwrap()).unwrap().timestamp()
}

fn local(zone: &str, t: Timestamp) -> String {
    t.to_zoned(zones().get(zone).unwrap())
        .strftime("%Y-%m-%dT%H:%M")
        .to_string()
}

#[test]
fn open_and_closed_follow_the_schedules_zone() {
    let h = Hours::compile(&weekdays("Europe/Moscow", "09:00", "18:00")).unwrap();
    const Z: &str = "Europe/Moscow";
    // Saturday 5 December 2026, 23:30 in Moscow: closed until Monday 09:00.
    let s = h.state(at(Z, "2026-12-05T23:30"));
    assert!(!s.open);
    assert_eq!(local(Z, s.next_change.unwrap()), "2026-12-07T09:00");
    assert!(h.is_open(at(Z, "2026-12-07T09:00")));
    assert!(!h.is_open(at(Z, "2026-12-07T18:00")));
    let s = h.state(at(Z, "2026-12-07T12:00"));
    assert!(s.open);
    assert_eq!(local(Z, s.next_change.unwrap()), "2026-12-07T18:00");
    // 12:00 in Moscow is 09:00 UTC: the same instant, whatever zone the caller thinks in.
    assert!(h.is_open(at("UTC", "2026-12-07T06:30")));
    assert!(!h.is_open(at("UTC", "2026-12-07T05:30")));
}

#[test]
fn intervals_past_midnight_belong_to_the_day_they_start() {
    let mut input = weekdays("Europe/Berlin", "22:00", "06:00");
    input.overrides = vec![DateOverride {
        date: "2026-12-12".into(),
        name: "Closed Saturday".into(),
        hours: vec![],
    }];
    let h = Hours::compile(&input).unwrap();
    const Z: &str = "Europe/Berlin";
    // Monday's night shift runs into Tuesday.
    assert!(h.is_open(at(Z, "2026-12-08T03:00")));
    assert!(!h.is_open(at(Z, "2026-12-08T07:00")));
    // Friday's shift runs into Saturday even though Saturday is closed; Sunday night is closed.
    assert!(h.is_open(at(Z, "2026-12-12T05:59")));
    assert!(!h.is_open(at(Z, "2026-12-12T06:00")));
    let s = h.state(at(Z, "2026-12-12T06:00"));
    assert_eq!(local(Z, s.next_change.unwrap()), "2026-12-14T22:00");
}

#[test]
fn touching_intervals_are_one_opening() {
    let mut input = weekdays("UTC", "09:00", "13:00");
    input.week.mon.push(iv("13:00", "18:00"));
    input.week.tue = vec![iv("20:00", "24:00")];
    input.week.wed = vec![iv("00:00", "02:00")];
    let h = Hours::compile(&input).unwrap();
    let s = h.state(at("UTC", "2026-12-07T10:00"));
    assert_eq!(local("UTC", s.next_change.unwrap()), "2026-12-07T18:00");
    let s = h.state(at("UTC", "2026-12-08T21:00"));
    assert_eq!(local("UTC", s.next_change.unwrap()), "2026-12-09T02:00");
}

#[test]
fn daylight_saving_time_moves_the_instants_not_the_local_hours() {
    let h = Hours::compile(&weekdays("America/New_York", "09:00", "17:00")).unwrap();
    // Clocks go forward on Sunday 8 March 2026; 09:00 local is 13:00 UTC after, 14:00 before.
    assert!(h.is_open(at("UTC", "2026-03-09T13:30")));
    assert!(!h.is_open(at("UTC", "2026-03-06T13:30")));
    assert!(h.is_open(at("UTC", "2026-03-06T14:30")));
    // An opening at 02:30 on the day that hour does not exist opens at 03:00.
    let mut input = weekdays("America/New_York", "09:00", "17:00");
    input.week.sun = vec![iv("02:30", "04:00")];
    let h = Hours::compile(&input).unwrap();
    let s = h.state(at("America/New_York", "2026-03-08T01:00"));
    assert_eq!(
        local("America/New_York", s.next_change.unwrap()),
        "2026-03-08T03:30"
    );
}

#[test]
fn a_schedule_never_open_or_always_open_says_so() {
    let mut never = weekdays("UTC", "09:00", "17:00");
    never.week = Week::default();
    let h = Hours::compile(&never).unwrap();
    assert_eq!(
        h.state(at("UTC", "2026-12-07T10:00")),
        State {
            open: false,
            next_change: None
        }
    );
    assert_eq!(
        h.describe_next_open(at("UTC", "2026-12-07T10:00"), "en"),
        "as soon as we can"
    );
    let mut always = ScheduleInput {
        time_zone: "UTC".into(),
        name: "24/7".into(),
        ..Default::default()
    };
    for d in [
        &mut always.week.mon,
        &mut always.week.tue,
        &mut always.week.wed,
        &mut always.week.thu,
        &mut always.week.fri,
        &mut always.week.sat,
        &mut always.week.sun,
    ] {
        *d = vec![iv("00:00", "24:00")];
    }
    let h = Hours::compile(&always).unwrap();
    assert_eq!(
        h.state(at("UTC", "2026-12-07T10:00")),
        State {
            open: true,
            next_change: None
        }
    );
}

#[test]
fn next_open_reads_naturally_in_english_and_russian() {
    let h = Hours::compile(&weekdays("Europe/Moscow", "09:00", "18:00")).unwrap();
    const Z: &str = "Europe/Moscow";
    let say = |local_time: &str, lang: &str| h.describe_next_open(at(Z, local_time), lang);
    assert_eq!(say("2026-12-07T07:00", "en"), "today at 09:00");
    assert_eq!(say("2026-12-07T07:00", "ru"), "сегодня в 09:00");
    assert_eq!(say("2026-12-07T19:00", "en"), "tomorrow at 09:00");
    assert_eq!(say("2026-12-07T19:00", "ru"), "завтра в 09:00");
    assert_eq!(say("2026-12-05T23:30", "en"), "on Monday at 09:00");
    assert_eq!(say("2026-12-04T19:00", "ru"), "в понедельник в 09:00");
    let mut holidays = weekdays(Z, "09:00", "18:00");
    holidays.overrides = (1..=8)
        .map(|d| DateOverride {
            date: format!("2027-01-{d:02}"),
            name: "New Year".into(),
            hours: vec![],
        })
        .collect();
    let h = Hours::compile(&holidays).unwrap();
    assert_eq!(
        h.describe_next_open(at(Z, "2026-12-31T19:00"), "ru"),
        "11 января 2027 в 09:00"
    );
    assert_eq!(
        h.render(
            "Мы ответим {{next_open}}. {{ next_open }}!",
            at(Z, "2026-12-31T19:00"),
            "ru"
        ),
        "Мы ответим 11 января 2027 в 09:00. 11 января 2027 в 09:00!"
    );
    assert_eq!(
        h.describe_next_open(at(Z, "2026-12-31T19:00"), "en"),
        "on 11 January 2027 at 09:00"
    );
}

#[test]
fn bad_schedules_name_their_field() {
    let ok = weekdays("Europe/Moscow", "09:00", "18:00");
    assert!(Hours::compile(&ok).is_ok());
    let field = |input: ScheduleInput| Hours::compile(&input).unwrap_err().field;
    let mut bad = ok.clone();
    bad.time_zone = "Mars/Olympus".into();
    assert_eq!(field(bad), "time_zone");
    let mut bad = ok.clone();
    bad.week.tue = vec![iv("9:00", "18:00")];
    assert_eq!(field(bad), "week.tue[0].from");
    let mut bad = ok.clone();
    bad.week.tue = vec![iv("09:00", "24:30")];
    assert_eq!(field(bad), "week.tue[0].to");
    let mut bad = ok.clone();
    bad.week.tue = vec![iv("09:00", "09:00")];
    assert_eq!(field(bad), "week.tue[0]");
    let mut bad = ok.clone();
    bad.week.wed = vec![iv("09:00", "13:00"), iv("12:00", "18:00")];
    let e = Hours::compile(&bad).unwrap_err();
    assert_eq!(e.field, "week.wed[1]");
    assert!(e.message.contains("overlaps week.wed[0]"), "{}", e.message);
    let mut bad = ok.clone();
    bad.week.sun = vec![iv("22:00", "10:00")];
    let e = Hours::compile(&bad).unwrap_err();
    assert_eq!(e.field, "week.sun[0]");
    assert!(e.message.contains("week.mon[0]"), "{}", e.message);
    let mut bad = ok.clone();
    bad.overrides = vec![
        DateOverride {
            date: "2027-01-01".into(),
            name: String::new(),
            hours: vec![],
        },
        DateOverride {
            date: "2027-01-01".into(),
            name: String::new(),
            hours: vec![],
        },
    ];
    assert_eq!(field(bad.clone()), "overrides[1].date");
    bad.overrides[1].date = "2027-02-30".into();
    assert_eq!(field(bad), "overrides[1].date");
    let mut bad = ok.clone();
    bad.off_hours_reply = Some(OffHoursReply {
        text: "Back {{next_opening}}".into(),
        texts: Default::default(),
    });
    assert_eq!(field(bad), "off_hours_reply.text");
    let mut bad = ok;
    bad.off_hours_reply = Some(OffHoursReply {
        text: "Back {{next_open}}".into(),
        texts: [("de".to_owned(), "Zurück".to_owned())].into(),
    });
    assert_eq!(field(bad), "off_hours_reply.texts.de");
}

#[test]
fn business_time_counts_only_open_hours_across_nights_weekends_and_overnight_shifts() {
    const Z: &str = "Europe/Moscow";
    let h = Hours::compile(&weekdays(Z, "09:00", "18:00")).unwrap();
    let minutes = |from: &str, to: &str| h.open_ms(at(Z, from), at(Z, to)) / 60_000;
    // Within one opening.
    assert_eq!(minutes("2026-12-07T10:00", "2026-12-07T10:25"), 25);
    // Friday 17:50 to Monday 09:05: ten minutes on Friday, five on Monday.
    assert_eq!(minutes("2026-12-04T17:50", "2026-12-07T09:05"), 15);
    // Asked and answered while closed.
    assert_eq!(minutes("2026-12-05T11:00", "2026-12-06T20:00"), 0);
    // A whole working week.
    assert_eq!(minutes("2026-12-07T00:00", "2026-12-14T00:00"), 5 * 9 * 60);
    assert_eq!(
        h.open_ms(at(Z, "2026-12-07T12:00"), at(Z, "2026-12-07T11:00")),
        0
    );
    // An overnight shift: 22:00 to 06:00, counted across midnight once.
    let night = Hours::compile(&weekdays("Europe/Berlin", "22:00", "06:00")).unwrap();
    let b = |local: &str| at("Europe/Berlin", local);
    assert_eq!(
        night.open_ms(b("2026-12-07T21:00"), b("2026-12-08T07:00")) / 60_000,
        8 * 60
    );
}
