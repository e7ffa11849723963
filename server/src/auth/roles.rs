//! What a role grants. A role is a preset name (`owner`, `admin`, `supervisor`, `agent`,
//! `viewer`) or a custom role id (`r_…`) of the user's tenant.
//!
//! Conversation visibility is a ladder: `conversations.read.all` implies `.team`, which implies
//! `.assigned`. Endpoints that read a conversation declare the lowest rung, and the rungs held
//! decide which conversations are visible (see [`Visibility`]).

use std::collections::BTreeSet;

use switchboard_shared::{Permission, PresetRole, RoleId, TenantId};

use crate::store::{IdentityStore, StoreResult};

/// Adds what the permissions held imply.
pub fn effective(held: impl IntoIterator<Item = Permission>) -> BTreeSet<Permission> {
    let mut set: BTreeSet<Permission> = held.into_iter().collect();
    if set.contains(&Permission::ConversationsReadAll) {
        set.insert(Permission::ConversationsReadTeam);
    }
    if set.contains(&Permission::ConversationsReadTeam) {
        set.insert(Permission::ConversationsReadAssigned);
    }
    set
}

/// Parses stored permission names; a name this build does not know is skipped (it may come from
/// a newer version) and logged.
pub fn parse_names(names: &[String]) -> BTreeSet<Permission> {
    names
        .iter()
        .filter_map(|n| {
            let p = Permission::parse(n);
            if p.is_none() {
                tracing::warn!(permission = %n, "unknown permission in a stored role or key");
            }
            p
        })
        .collect()
}

/// The permissions of `role` in `tenant`, or `None` when no such role exists (a deleted custom
/// role grants nothing).
pub async fn permissions_of(
    store: &dyn IdentityStore,
    tenant: &TenantId,
    role: &str,
) -> StoreResult<Option<BTreeSet<Permission>>> {
    if let Some(preset) = PresetRole::parse(role) {
        return Ok(Some(effective(preset.permissions())));
    }
    Ok(store
        .get_role(tenant, &RoleId::from(role))
        .await?
        .map(|r| effective(parse_names(&r.permissions))))
}

/// Which conversations a caller may read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Visibility {
    All,
    /// Those on numbers of the caller's teams, and those assigned to them.
    Team,
    /// Only those assigned to the caller.
    Assigned,
    None,
}

impl Visibility {
    /// Whether a conversation is visible: `mine` when it is assigned to the caller,
    /// `on_team_number` when it is on a number of one of the caller's teams.
    pub fn admits(self, mine: bool, on_team_number: impl FnOnce() -> bool) -> bool {
        match self {
            Visibility::All => true,
            Visibility::Team => mine || on_team_number(),
            Visibility::Assigned => mine,
            Visibility::None => false,
        }
    }

    pub fn of(permissions: &BTreeSet<Permission>) -> Self {
        if permissions.contains(&Permission::ConversationsReadAll) {
            Visibility::All
        } else if permissions.contains(&Permission::ConversationsReadTeam) {
            Visibility::Team
        } else if permissions.contains(&Permission::ConversationsReadAssigned) {
            Visibility::Assigned
        } else {
            Visibility::None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_all_implies_the_lower_rungs() {
        let set = effective([Permission::ConversationsReadAll]);
        assert!(set.contains(&Permission::ConversationsReadTeam));
        assert!(set.contains(&Permission::ConversationsReadAssigned));
        assert_eq!(Visibility::of(&set), Visibility::All);
        assert_eq!(
            Visibility::of(&effective([Permission::ConversationsReadTeam])),
            Visibility::Team
        );
        assert_eq!(Visibility::of(&effective([])), Visibility::None);
    }

    #[test]
    fn unknown_names_grant_nothing() {
        let set = parse_names(&["contacts.read".into(), "root.everything".into()]);
        assert_eq!(set, BTreeSet::from([Permission::ContactsRead]));
    }
}
