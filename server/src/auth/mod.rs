//! Identity: who a caller is and what they may do, decided here and nowhere else.
//!
//! Owns: passwords ([`password`]), session and API-key secrets ([`token`]), sign-in throttling
//! ([`throttle`]), roles and their permissions ([`roles`]; the permission list itself is in
//! `shared`, so the client can hide what a role cannot do), the authenticated [`Principal`] and
//! the tenant-bound store handle [`TenantScope`] it opens. The route table in `api` declares one
//! permission per endpoint; its dispatcher asks this module.
//! Must not: be bypassable (API handlers only ever see a `TenantScope`), or let a tenant's data be
//! reached without its scope.

pub mod password;
pub mod principal;
pub mod roles;
pub mod scope;
pub mod throttle;
pub mod token;
pub mod viewer;

pub use principal::{Actor, Authenticator, Credential, Principal, RequestMeta};
pub use scope::TenantScope;
pub use switchboard_shared::{Permission, PresetRole};
pub use viewer::Viewer;
