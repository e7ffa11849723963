//! Automation's stored documents: keyword rules, business-hours schedules and the word filter's
//! term lists (bot flows as they come). Each
//! is one JSON document per (tenant, kind, id) with a version, read and replaced whole; what a
//! document means is the owning module's (`crate::automation` for rules, `crate::schedule` for schedules, `compliance` for
//! term lists).

use switchboard_shared::TenantId;

use super::UnixMillis;

/// What kind of automation document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ItemKind {
    Rule,
    Schedule,
    TermList,
    /// A bot flow's current definition.
    Flow,
    /// A flow as it was at one version (`<flow id>@<version>`): runs keep to the version they
    /// started on.
    FlowVersion,
    /// A contact's run through a flow (by the customer's WhatsApp id: one run at a time).
    FlowRun,
    /// The workspace's rate card, when an admin uploaded one (`current`).
    RateCard,
    /// A broadcast campaign (its definition, state and counts; recipients are rows of their own).
    Campaign,
    /// The satisfaction survey's settings (`csat`).
    Survey,
    /// The retention policy (`policy`).
    Retention,
    /// A legal hold (`lh_…`).
    Hold,
    /// The workspace's routing settings (`routing`), replacing the server's defaults.
    Routing,
    /// The workspace's CRM connector (`connector`), its header's value sealed.
    Crm,
    /// A saved reply (`sr_…`): personal, a team's or the workspace's.
    SavedReply,
    /// A person's devices subscribed to Web Push (one document per user, id the user's id).
    PushDevices,
    /// The workspace's stop words (`stop_words`), replacing the server's list.
    StopWords,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Rule => "rule",
            ItemKind::Schedule => "schedule",
            ItemKind::Flow => "flow",
            ItemKind::FlowVersion => "flow_version",
            ItemKind::FlowRun => "flow_run",
            ItemKind::TermList => "term_list",
            ItemKind::RateCard => "rate_card",
            ItemKind::Campaign => "campaign",
            ItemKind::Survey => "survey",
            ItemKind::Retention => "retention",
            ItemKind::Hold => "hold",
            ItemKind::Routing => "routing",
            ItemKind::Crm => "crm",
            ItemKind::SavedReply => "saved_reply",
            ItemKind::PushDevices => "push_devices",
            ItemKind::StopWords => "stop_words",
        }
    }
}

/// The most documents of one kind a tenant has (they are read whole, in one partition).
pub const MAX_ITEMS_PER_KIND: usize = 1_000;

/// One stored automation document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AutomationItem {
    pub tenant: TenantId,
    pub kind: ItemKind,
    pub id: String,
    /// 1 when made, one more with every change.
    pub version: u64,
    pub updated_at: UnixMillis,
    pub updated_by: String,
    /// The document, as JSON.
    pub body: String,
}
