//! The server's integration tests, as one binary: each module is one area (its head says which)
//! and `common` is what they share. One binary because each test binary links the whole server:
//! thirty-odd of them spent minutes of every clean-clone run linking, and ran one after another
//! where one binary runs every test beside the others.

mod common;

mod api_contract;
mod archive;
mod automation;
mod backups;
mod campaigns;
mod compliance;
mod contacts;
mod costs;
mod crm;
mod flows;
mod hub;
mod identity;
mod inbox;
mod limits;
mod media;
mod numbers;
mod outbox;
mod protocol;
mod push;
mod replay;
mod replies;
mod reports;
mod retention;
mod rich;
mod schedules;
mod security;
mod settings;
mod simulator;
mod sqlite_migrations;
mod store_conformance;
mod templates;
mod tls;
mod webhooks;
mod wire_fixtures;
