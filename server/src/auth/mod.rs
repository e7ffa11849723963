//! Identity: passwords now; users, sessions, API keys, roles and permissions as they land.
//!
//! Owns: everything that decides who a caller is and what they may do. Must not: be bypassable
//! (every handler will go through it) or let a tenant's data be reached without its scope.

pub mod password;

/// The preset roles. Custom roles built from fine-grained permissions arrive with the permission
/// model; until then a user's role is one of these.
pub const PRESET_ROLES: &[&str] = &["owner", "admin", "supervisor", "agent", "viewer"];
