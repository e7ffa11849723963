//! Fine-grained permissions and the preset roles built from them.
//!
//! Every endpoint and every UI action will map to exactly one [`Permission`]. The server decides
//! (in `auth`); the client uses the same list only to hide what a role cannot do. Permissions
//! travel as their dotted names (`conversations.read.team`), which are stable: a name once
//! published is never reused for something else.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! permissions {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)+) => {
        /// One thing a user may be allowed to do.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Permission {
            $($(#[$doc])* $variant,)+
        }

        impl Permission {
            /// Every permission, in a stable order.
            pub const ALL: &'static [Permission] = &[$(Permission::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Permission::$variant => $name,)+
                }
            }

            pub fn parse(name: &str) -> Option<Permission> {
                match name {
                    $($name => Some(Permission::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

permissions! {
    /// Read every conversation of the tenant.
    ConversationsReadAll = "conversations.read.all",
    /// Read the conversations of the user's teams.
    ConversationsReadTeam = "conversations.read.team",
    /// Read the conversations assigned to the user.
    ConversationsReadAssigned = "conversations.read.assigned",
    /// Reply to a conversation the user can read.
    ConversationsReply = "conversations.reply",
    /// Assign, transfer and re-route conversations.
    ConversationsAssign = "conversations.assign",
    /// Resolve and reopen conversations.
    ConversationsResolve = "conversations.resolve",
    /// Write internal notes and mention colleagues.
    ConversationsNote = "conversations.note",
    /// Make, change and remove saved replies shared with a team or the workspace (everyone who
    /// replies keeps personal ones).
    RepliesManage = "replies.manage",
    /// Read contacts and their CRM data.
    ContactsRead = "contacts.read",
    /// Edit contacts and their tags.
    ContactsEdit = "contacts.edit",
    /// See customers' phone numbers unmasked.
    ContactsPhoneView = "contacts.phone.view",
    /// Import contacts from CSV.
    ContactsImport = "contacts.import",
    /// Export contacts.
    ContactsExport = "contacts.export",
    /// Send broadcast campaigns.
    CampaignsSend = "campaigns.send",
    /// Connect and configure business numbers.
    SettingsNumbers = "settings.numbers",
    /// Routing strategies, deadlines and business hours.
    SettingsRouting = "settings.routing",
    /// Auto-replies, sensitive-word filters and other automation.
    SettingsAutomation = "settings.automation",
    /// Send a message the word filter blocked, giving a reason (audited).
    ComplianceOverride = "compliance.override",
    /// Retention of conversation history.
    SettingsRetention = "settings.retention",
    /// Replace the rate card messages are priced by.
    SettingsBilling = "settings.billing",
    /// Invite, disable and edit users.
    UsersManage = "users.manage",
    /// Create and edit teams.
    TeamsManage = "teams.manage",
    /// Create and edit custom roles.
    RolesManage = "roles.manage",
    /// Create and revoke API keys.
    ApiKeysManage = "api_keys.manage",
    /// The live supervisor board.
    BoardView = "board.view",
    /// Reports and their exports.
    ReportsView = "reports.view",
    /// The audit log.
    AuditView = "audit.view",
    /// Rename the tenant, transfer ownership, delete the tenant.
    TenantManage = "tenant.manage",
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Permission {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Permission {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Permission::parse(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown permission `{name}`")))
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for Permission {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Permission".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let names: Vec<&str> = Permission::ALL.iter().map(|p| p.as_str()).collect();
        schemars::json_schema!({"type": "string", "enum": names})
    }
}

/// The roles every tenant has. Custom roles are any set of permissions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum PresetRole {
    Owner,
    Admin,
    Supervisor,
    Agent,
    Viewer,
}

impl PresetRole {
    pub const ALL: [PresetRole; 5] = [
        PresetRole::Owner,
        PresetRole::Admin,
        PresetRole::Supervisor,
        PresetRole::Agent,
        PresetRole::Viewer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PresetRole::Owner => "owner",
            PresetRole::Admin => "admin",
            PresetRole::Supervisor => "supervisor",
            PresetRole::Agent => "agent",
            PresetRole::Viewer => "viewer",
        }
    }

    pub fn parse(name: &str) -> Option<PresetRole> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// What the role may do.
    pub fn permissions(self) -> BTreeSet<Permission> {
        use Permission::*;
        let list: &[Permission] = match self {
            PresetRole::Owner => Permission::ALL,
            // Everything but the tenant itself.
            PresetRole::Admin => &[
                ConversationsReadAll,
                ConversationsReadTeam,
                ConversationsReadAssigned,
                ConversationsReply,
                ConversationsAssign,
                ConversationsResolve,
                ConversationsNote,
                RepliesManage,
                ContactsRead,
                ContactsEdit,
                ContactsPhoneView,
                ContactsImport,
                ContactsExport,
                CampaignsSend,
                SettingsNumbers,
                SettingsRouting,
                SettingsAutomation,
                ComplianceOverride,
                SettingsRetention,
                SettingsBilling,
                UsersManage,
                TeamsManage,
                RolesManage,
                ApiKeysManage,
                BoardView,
                ReportsView,
                AuditView,
            ],
            // Watches and steers the floor: reads everything, assigns, reports; no settings.
            PresetRole::Supervisor => &[
                ConversationsReadAll,
                ConversationsReadTeam,
                ConversationsReadAssigned,
                ConversationsReply,
                ConversationsAssign,
                ConversationsResolve,
                ConversationsNote,
                RepliesManage,
                ContactsRead,
                ContactsEdit,
                ContactsPhoneView,
                ComplianceOverride,
                BoardView,
                ReportsView,
            ],
            // Works their own and their team's queue; customers' numbers stay masked.
            PresetRole::Agent => &[
                ConversationsReadTeam,
                ConversationsReadAssigned,
                ConversationsReply,
                ConversationsResolve,
                ConversationsNote,
                ContactsRead,
                ContactsEdit,
            ],
            // Reads, never writes.
            PresetRole::Viewer => &[
                ConversationsReadAll,
                ConversationsReadTeam,
                ConversationsReadAssigned,
                ContactsRead,
                ReportsView,
            ],
        };
        list.iter().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_dotted_and_round_trip() {
        let mut seen = BTreeSet::new();
        for p in Permission::ALL {
            assert!(seen.insert(p.as_str()), "{p} twice");
            assert!(p.as_str().contains('.') && p.as_str() == p.as_str().to_lowercase());
            assert_eq!(Permission::parse(p.as_str()), Some(*p));
            let json = serde_json::to_string(p).unwrap();
            assert_eq!(serde_json::from_str::<Permission>(&json).unwrap(), *p);
        }
        assert!(serde_json::from_str::<Permission>("\"conversations.delete\"").is_err());
    }

    #[test]
    fn presets_nest_from_viewer_to_owner_where_they_should() {
        let p = |r: PresetRole| r.permissions();
        use PresetRole::*;
        assert_eq!(p(Owner).len(), Permission::ALL.len());
        assert!(p(Admin).is_subset(&p(Owner)) && !p(Admin).contains(&Permission::TenantManage));
        assert!(p(Supervisor).is_subset(&p(Admin)));
        assert!(p(Agent).is_subset(&p(Supervisor)));
        assert!(p(Viewer).is_subset(&p(Supervisor)));
        // The sharp edges, stated.
        assert!(
            !p(Agent).contains(&Permission::ContactsPhoneView),
            "agents see masked numbers"
        );
        assert!(!p(Agent).contains(&Permission::ConversationsReadAll));
        assert!(
            !p(Viewer).contains(&Permission::ConversationsReply),
            "viewers never write"
        );
        assert!(!p(Supervisor).contains(&Permission::SettingsNumbers));
        assert!(p(Supervisor).contains(&Permission::BoardView));
        for role in PresetRole::ALL {
            assert_eq!(PresetRole::parse(role.as_str()), Some(role));
        }
    }
}
