//! The pieces pages are made of.

mod bubble;
mod composer;
mod conversation_list;
mod crm_card;
mod details;
mod notifications;
mod queue_chart;

pub(crate) use bubble::*;
pub(crate) use composer::*;
pub(crate) use conversation_list::*;
pub(crate) use crm_card::*;
pub(crate) use details::*;
pub(crate) use notifications::*;
pub(crate) use queue_chart::*;
