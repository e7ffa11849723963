//! One module per page of the app (inbox, conversation, board, contacts, admin, settings).

mod admin;
mod board;
mod contacts;
mod conversation;
mod inbox;
mod settings;

pub(crate) use admin::*;
pub(crate) use board::*;
pub(crate) use contacts::*;
pub(crate) use conversation::*;
pub(crate) use inbox::*;
pub(crate) use settings::*;
