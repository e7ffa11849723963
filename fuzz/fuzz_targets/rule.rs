//! Keyword rules: any JSON as a rule, checked as the API checks it; a rule that passes is
//! compiled and evaluated on the text after the `\0`. Must never panic; every match's span lies
//! on character boundaries of the message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_server::automation::{check_rule, Incoming, RuleSet, RuleSpec};
use switchboard_shared::automation::RuleInput;
use switchboard_shared::{PhoneNumberId, RuleId};

fuzz_target!(|data: &[u8]| {
    let (json, text) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b"price?"[..]),
    };
    let Ok(input) = serde_json::from_slice::<RuleInput>(json) else {
        return;
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    if check_rule(&input).is_err() {
        return;
    }
    let spec = RuleSpec {
        id: RuleId::new("ar_fuzz"),
        name: input.name.clone(),
        matcher: input.matcher.clone(),
        conditions: input.conditions.clone(),
        actions: input.actions.clone(),
        numbers: input.numbers.clone(),
        priority: input.priority,
        stop: input.stop,
        cooldown_secs: input.cooldown_secs.unwrap_or(0),
        shadow: input.shadow,
        enabled: true,
    };
    let set = RuleSet::compile(vec![spec]).expect("a checked rule compiles");
    let number = PhoneNumberId::new("1");
    let tags = ["vip".to_owned()];
    let message = Incoming {
        text,
        number: Some(&number),
        first_message: Some(true),
        contact_tags: &tags,
        open: &|_| Some(false),
    };
    for firing in set.evaluate(&message, |_| false).fired {
        assert!(firing.start <= firing.end && firing.end <= text.len());
        assert!(text.is_char_boundary(firing.start) && text.is_char_boundary(firing.end));
    }
});
