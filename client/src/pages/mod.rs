//! One module per page of the app (inbox, conversation, board, contacts, campaigns, costs, admin, settings).

mod admin;
mod board;
mod campaigns;
mod contacts;
mod conversation;
mod costs;
mod inbox;
mod settings;

pub(crate) use admin::*;
pub(crate) use board::*;
pub(crate) use campaigns::CampaignsView;
pub(crate) use contacts::ContactsView;
pub(crate) use conversation::*;
pub(crate) use costs::*;
pub(crate) use inbox::*;
pub(crate) use settings::*;
