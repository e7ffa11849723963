//! Retention: any JSON an admin sends as a policy (checked, then asked which periods apply),
//! and any raw message JSON stripped of its words when its text is purged. Must never panic;
//! a policy that passes the check keeps messages at least as long as their text and files,
//! whatever number and teams a conversation has; a stripped message is a skeleton that keeps the
//! same file reference and none of the original's other strings.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_server::domain::retention::{is_skeleton, media_id, skeleton, MEDIA_KINDS};
use switchboard_server::service::retention::{check, cut_of, periods_for};
use switchboard_shared::retention::RetentionPolicy;
use switchboard_shared::{PhoneNumberId, TeamId};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest).into_owned();
    if selector & 1 == 0 {
        let Ok(policy) = serde_json::from_str::<RetentionPolicy>(&text) else {
            return;
        };
        let numbers: Vec<PhoneNumberId> = policy.numbers.iter().map(|n| n.number.clone()).collect();
        let teams: Vec<TeamId> = policy.teams.iter().map(|t| t.team.clone()).collect();
        if check(&policy, &numbers, &teams).is_err() {
            return;
        }
        let number = numbers
            .first()
            .cloned()
            .unwrap_or_else(|| PhoneNumberId::new("1".to_owned()));
        for chosen in [&teams[..], &teams[..teams.len().min(1)], &[]] {
            let p = periods_for(&policy, &number, chosen);
            let cut = cut_of(&p, 1_800_000_000_000, &[]);
            let at_least = |a: Option<i64>, b: Option<i64>| match (a, b) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(a), Some(b)) => a <= b,
            };
            assert!(at_least(cut.rows_before, cut.text_before), "{p:?}");
            assert!(at_least(cut.rows_before, cut.media_before), "{p:?}");
        }
        return;
    }
    let kind = MEDIA_KINDS
        .get(usize::from(selector >> 1) % (MEDIA_KINDS.len() + 1))
        .copied()
        .unwrap_or("text");
    let stripped = skeleton(kind, &text);
    assert!(is_skeleton(&stripped), "{stripped}");
    let value: serde_json::Value = serde_json::from_str(&stripped).expect("a skeleton is JSON");
    assert_eq!(value["type"], kind);
    assert_eq!(media_id(kind, &stripped), media_id(kind, &text));
    assert_eq!(
        skeleton(kind, &stripped),
        stripped,
        "stripping twice changes nothing"
    );
});
