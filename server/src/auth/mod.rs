//! Identity: passwords and the permission model (in `shared`, so the client can hide what a role
//! cannot do) now; sessions, API keys, custom roles and the route table as they land.
//!
//! Owns: everything that decides who a caller is and what they may do. Must not: be bypassable
//! (every handler will go through it) or let a tenant's data be reached without its scope.

pub mod password;

pub use switchboard_shared::{Permission, PresetRole};
