//! Switchboard server library: everything the `switchboard` and `switchboard-wa-sim` binaries run.
//! See `docs/architecture.md` for the module map and the main data flow.

pub mod connector;
pub mod secret;
pub mod store;
