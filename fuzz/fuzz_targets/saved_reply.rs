//! A saved reply: any JSON sent to `POST /api/v1/saved-replies`, checked for its shape, and any
//! text filled in with variables. Must never panic; what passes has a valid shortcut, a text of
//! 1 to 4,096 characters and a team exactly when it is a team's; filling leaves no variable it
//! was given a value for.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_server::service::replies::check_shape;
use switchboard_shared::replies::{fill, shortcut_problem, variables, ReplyScope, SavedReplyInput};

fuzz_target!(|data: &[u8]| {
    if let Ok(input) = serde_json::from_slice::<SavedReplyInput>(data) {
        if let Ok((shortcut, text, scope, team)) = check_shape(&input) {
            assert!(shortcut_problem(&shortcut).is_none());
            assert!(!text.is_empty() && text.chars().count() <= 4096);
            assert_eq!(team.is_some(), scope == ReplyScope::Team);
        }
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let named: Vec<String> = variables(text).iter().map(|v| v.to_string()).collect();
    let vars: Vec<(&str, &str)> = named.iter().map(|v| (v.as_str(), "")).collect();
    let filled = fill(text, &vars);
    assert!(filled.len() <= text.len());
});
