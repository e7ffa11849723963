//! One module per page of the app (inbox, conversation, board, admin, settings).

mod admin;
mod board;
mod conversation;
mod inbox;
mod settings;

pub(crate) use admin::*;
pub(crate) use board::*;
pub(crate) use conversation::*;
pub(crate) use inbox::*;
pub(crate) use settings::*;
