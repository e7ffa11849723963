//! Switchboard server library: everything the `switchboard` and `switchboard-wa-sim` binaries run.
//! See `docs/architecture.md` for the module map and the main data flow.

pub mod admin;
pub mod api;
pub mod app;
pub mod auth;
pub mod automation;
pub mod backup;
pub mod config;
pub mod connector;
pub mod costs;
pub mod domain;
pub mod export;
pub mod flow;
pub mod governor;
pub mod http;
pub mod hub;
pub mod limits;
pub mod routing;
pub mod schedule;
pub mod secret;
pub mod service;
pub mod simulator;
pub mod staging;
pub mod store;
pub mod telemetry;
pub mod web;
