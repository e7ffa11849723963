//! The whole-system tests as one binary: each module starts the real `switchboard` and
//! `switchboard-wa-sim` binaries for one area (its head says which). One binary, so the suite
//! links once and its tests run beside each other; the browser (`pwa`) and API fuzzing
//! (`api_fuzz`) tests stay binaries of their own, run by name.

mod backup;
mod campaign_crash;
mod cli;
mod cloud_api;
mod contacts_import;
mod demo;
mod disk_full;
mod flows_crash;
mod hostile;
mod lost_database;
mod outbox;
mod protocol_client;
mod webhook_receiver;
mod webhooks;
