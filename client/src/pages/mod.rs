//! One module per page of the app (inbox, conversation, board, contacts, campaigns, costs,
//! reports, archive, admin, settings).

mod access;
mod admin;
mod archive;
mod board;
mod campaigns;
mod contacts;
mod conversation;
mod costs;
mod inbox;
mod integrations;
mod reports;
mod settings;
mod templates;

pub(crate) use board::*;
pub(crate) use conversation::*;
pub(crate) use inbox::*;
pub(crate) use settings::*;

use leptos::prelude::*;

// The screens an agent on a phone rarely or never opens, each in a chunk of its own that the
// browser fetches the first time it is shown (`#[lazy]`; `cargo xtask dist` cuts the module at
// these points), so that the first load stays within its budget as screens are added.

#[lazy]
pub(crate) fn admin_page() -> AnyView {
    view! { <admin::AdminView/> }.into_any()
}

#[lazy]
pub(crate) fn contacts_page() -> AnyView {
    view! { <contacts::ContactsView/> }.into_any()
}

#[lazy]
pub(crate) fn campaigns_page() -> AnyView {
    view! { <campaigns::CampaignsView/> }.into_any()
}

#[lazy]
pub(crate) fn costs_page() -> AnyView {
    view! { <costs::CostsView/> }.into_any()
}

#[lazy]
pub(crate) fn reports_page() -> AnyView {
    view! { <reports::ReportsView/> }.into_any()
}

#[lazy]
pub(crate) fn archive_page() -> AnyView {
    view! { <archive::ArchiveView/> }.into_any()
}
