//! What one connected caller may see, in the form the hub checks on every event it delivers.
//!
//! A [`Viewer`] is a snapshot of a [`Principal`](super::Principal)'s visibility (its user, the
//! permissions that decide reading, its teams). The hub asks it, per subscriber and per event,
//! whether the event may go out: a subscription is a standing request, and the right to see
//! can end while it stands (a transfer, a team change, a role change). Must not: reach the store
//! (the hub calls it under a stream's lock); a fresh snapshot is made by re-authenticating.

use switchboard_shared::protocol::Topic;
use switchboard_shared::{Permission, PhoneNumberId, TeamId, UserId};

use super::roles::Visibility;
use super::Principal;

/// One caller's visibility, cheap to check.
#[derive(Clone, Debug)]
pub struct Viewer {
    user: Option<UserId>,
    visibility: Visibility,
    board: bool,
    contacts: bool,
    phone: bool,
    /// The teams the caller belongs to: their ids and numbers.
    teams: Vec<(TeamId, Vec<PhoneNumberId>)>,
}

impl Viewer {
    pub fn of(principal: &Principal) -> Self {
        Self {
            user: principal.user().map(|u| u.id.clone()),
            visibility: Visibility::of(&principal.permissions),
            board: principal.can(Permission::BoardView),
            contacts: principal.can(Permission::ContactsRead),
            phone: principal.can(Permission::ContactsPhoneView),
            teams: principal
                .teams
                .iter()
                .map(|t| (t.id.clone(), t.numbers.clone()))
                .collect(),
        }
    }

    /// One who sees every conversation and stream of the tenant (the owner's view), with or
    /// without customers' numbers.
    pub fn all(numbers: bool) -> Self {
        Self {
            user: None,
            visibility: Visibility::All,
            board: true,
            contacts: true,
            phone: numbers,
            teams: Vec::new(),
        }
    }

    /// Whether customers' numbers (and what embeds them) may be shown to this caller.
    pub fn sees_numbers(&self) -> bool {
        self.phone
    }

    /// Whether a conversation on `number`, assigned to `assignee`, is visible: the same rule as
    /// REST's [`Principal::sees`].
    pub fn sees(&self, number: &PhoneNumberId, assignee: Option<&UserId>) -> bool {
        let mine = self
            .user
            .as_ref()
            .is_some_and(|u| assignee.is_some_and(|a| a == u));
        self.visibility
            .admits(mine, || self.teams.iter().any(|(_, n)| n.contains(number)))
    }

    /// Whether this caller may follow `topic` (a conversation's stream also needs
    /// [`Viewer::sees`] for that conversation).
    pub fn may_follow(&self, topic: &Topic) -> bool {
        match topic {
            Topic::Tenant => self.visibility == Visibility::All,
            Topic::Board => self.board,
            Topic::Inbox(user) => {
                self.visibility == Visibility::All
                    || (self.visibility != Visibility::None && self.user.as_ref() == Some(user))
            }
            Topic::Team(team) => {
                self.visibility == Visibility::All
                    || (matches!(self.visibility, Visibility::Team)
                        && self.teams.iter().any(|(id, _)| id == team))
            }
            Topic::Conversation(_) => self.visibility != Visibility::None,
            Topic::Contacts => self.contacts,
        }
    }
}
