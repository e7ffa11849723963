//! The app's state and how events change it, free of the browser so it is tested on the host:
//! the open inbox, the open conversation's messages, replies waiting to be sent, per-topic
//! sequence numbers for resume, and the visible window of a virtualised list.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use switchboard_shared::api::{Conversation, Message, MessageParts};
use switchboard_shared::ids::{ConversationId, PhoneNumberId, UserId};
use switchboard_shared::permissions::Permission;
use switchboard_shared::protocol::{ConversationState, HubEvent};
use switchboard_shared::{Direction, MessageStatus};

/// The inbox tabs, each shown only to roles that may see what it lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    Mine,
    Unassigned,
    Team,
    All,
}

impl Tab {
    /// The tabs a holder of `permissions` gets, in display order.
    pub fn for_permissions(permissions: &[Permission], is_user: bool) -> Vec<Tab> {
        let has = |p| permissions.contains(&p);
        let mut tabs = Vec::new();
        if is_user && has(Permission::ConversationsReadAssigned) {
            tabs.push(Tab::Mine);
        }
        if has(Permission::ConversationsReadAll) || has(Permission::ConversationsReadTeam) {
            tabs.push(Tab::Unassigned);
        }
        if has(Permission::ConversationsReadTeam) && !has(Permission::ConversationsReadAll) {
            tabs.push(Tab::Team);
        }
        if has(Permission::ConversationsReadAll) {
            tabs.push(Tab::All);
        }
        tabs
    }

    pub fn shows(self, row: &Row, me: Option<&UserId>) -> bool {
        let c = &row.conversation;
        match self {
            Tab::Mine => me.is_some() && c.assignee.as_ref() == me,
            Tab::Unassigned => c.assignee.is_none(),
            Tab::Team | Tab::All => true,
        }
    }
}

/// One line of the inbox.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub conversation: Conversation,
    pub unread: u32,
    /// The last message's text (or its kind), for the line under the name.
    pub preview: Option<String>,
}

impl Row {
    pub fn new(conversation: Conversation) -> Self {
        Row {
            conversation,
            unread: 0,
            preview: None,
        }
    }

    pub fn matches(&self, query: &str) -> bool {
        let q = query.trim().to_lowercase();
        if q.is_empty() {
            return true;
        }
        let c = &self.conversation;
        c.customer.to_lowercase().contains(&q)
            || c.customer_name
                .as_deref()
                .is_some_and(|n| n.to_lowercase().contains(&q))
            || c.tags.iter().any(|t| t.to_lowercase().contains(&q))
            || self
                .preview
                .as_deref()
                .is_some_and(|p| p.to_lowercase().contains(&q))
    }
}

/// How many message keys the inbox remembers to count each message once, though it may arrive
/// on several streams (the tenant's, a team's, the agent's own).
const SEEN_KEYS: usize = 4096;

/// The open conversations the user can see, kept current by hub events.
#[derive(Clone, Debug, Default)]
pub struct Inbox {
    /// Shared, so a list of 10,000 rows is 10,000 pointer copies, not deep clones.
    rows: BTreeMap<String, Arc<Row>>,
    seen: HashSet<String>,
    seen_order: VecDeque<String>,
}

/// What an event meant for the inbox, for the shell to react to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Nothing,
    Updated,
    /// A conversation was just assigned to the signed-in user.
    AssignedToMe(ConversationId),
}

impl Inbox {
    pub fn replace_all(&mut self, conversations: Vec<Conversation>) {
        let old = std::mem::take(&mut self.rows);
        for c in conversations {
            let mut row = Row::new(c);
            if let Some(prev) = old.get(row.conversation.id.as_str()) {
                row.unread = prev.unread;
                row.preview = prev.preview.clone();
            }
            self.rows
                .insert(row.conversation.id.as_str().to_owned(), Arc::new(row));
        }
    }

    /// Adds or refreshes one conversation (from the API), keeping its unread count and preview.
    pub fn upsert(&mut self, conversation: Conversation) {
        let id = conversation.id.as_str().to_owned();
        match self.rows.get_mut(&id) {
            Some(row) => Arc::make_mut(row).conversation = conversation,
            None => {
                self.rows.insert(id, Arc::new(Row::new(conversation)));
            }
        }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn get(&self, id: &str) -> Option<&Row> {
        self.rows.get(id).map(|r| &**r)
    }

    pub fn mark_read(&mut self, id: &str) {
        if let Some(row) = self.rows.get_mut(id) {
            Arc::make_mut(row).unread = 0;
        }
    }

    /// The rows of a tab matching a search, customers waiting longest first, then the most
    /// recent.
    pub fn list(&self, tab: Tab, me: Option<&UserId>, query: &str) -> Vec<Arc<Row>> {
        let mut rows: Vec<Arc<Row>> = self
            .rows
            .values()
            .filter(|r| tab.shows(r, me) && r.matches(query))
            .cloned()
            .collect();
        rows.sort_by(|a, b| {
            let (a, b) = (&a.conversation, &b.conversation);
            match (a.waiting_since, b.waiting_since) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => b.last_message_at.cmp(&a.last_message_at),
            }
            .then_with(|| a.id.as_str().cmp(b.id.as_str()))
        });
        rows
    }

    /// Conversations with unread messages in a tab.
    pub fn unread(&self, tab: Tab, me: Option<&UserId>) -> u64 {
        self.rows
            .values()
            .filter(|r| r.unread > 0 && tab.shows(r, me))
            .count() as u64
    }

    fn first_sighting(&mut self, key: &str) -> bool {
        if self.seen.contains(key) {
            return false;
        }
        if self.seen_order.len() == SEEN_KEYS {
            if let Some(old) = self.seen_order.pop_front() {
                self.seen.remove(&old);
            }
        }
        self.seen.insert(key.to_owned());
        self.seen_order.push_back(key.to_owned());
        true
    }

    /// The row of a conversation an event names, made from the event when it is new here (the
    /// app then fetches the rest of it).
    fn row_for(
        &mut self,
        id: &ConversationId,
        number: &PhoneNumberId,
        customer: &str,
        at: i64,
    ) -> &mut Row {
        let row = self.rows.entry(id.as_str().to_owned()).or_insert_with(|| {
            Arc::new(Row::new(Conversation {
                id: id.clone(),
                number: number.clone(),
                customer: customer.to_owned(),
                customer_name: None,
                last_message_at: at,
                state: None,
                assignee: None,
                waiting_since: None,
                last_inbound_at: None,
                tags: Vec::new(),
            }))
        });
        Arc::make_mut(row)
    }

    /// Applies a hub event. `open` is the conversation on screen (its messages are read as they
    /// arrive).
    pub fn apply(&mut self, event: &HubEvent, me: Option<&UserId>, open: Option<&str>) -> Change {
        match event {
            HubEvent::MessageStored {
                conversation,
                number,
                customer,
                key,
                direction,
                message_type,
                text,
                at,
                ..
            } => {
                if !self.first_sighting(key.as_str()) {
                    return Change::Nothing;
                }
                let row = self.row_for(conversation, number, customer, *at);
                let c = &mut row.conversation;
                c.last_message_at = c.last_message_at.max(*at);
                if *direction == Direction::Inbound {
                    c.last_inbound_at = Some(c.last_inbound_at.unwrap_or(0).max(*at));
                    c.waiting_since.get_or_insert(*at);
                    if open != Some(conversation.as_str()) {
                        row.unread += 1;
                    }
                }
                row.preview = Some(text.clone().unwrap_or_else(|| format!("[{message_type}]")));
                Change::Updated
            }
            HubEvent::ConversationChanged {
                conversation,
                number,
                customer,
                state,
                assignee,
                waiting_since,
                at,
                ..
            } => {
                if *state == ConversationState::Resolved && open != Some(conversation.as_str()) {
                    self.rows.remove(conversation.as_str());
                    return Change::Updated;
                }
                let row = self.row_for(conversation, number, customer, *at);
                let newly_mine = me.is_some()
                    && assignee.as_ref() == me
                    && row.conversation.assignee.as_ref() != me;
                let c = &mut row.conversation;
                c.state = Some(*state);
                c.assignee = assignee.clone();
                c.waiting_since = *waiting_since;
                if newly_mine {
                    Change::AssignedToMe(conversation.clone())
                } else {
                    Change::Updated
                }
            }
            HubEvent::TagsChanged {
                conversation, tags, ..
            } => match self.rows.get_mut(conversation.as_str()) {
                Some(row) => {
                    Arc::make_mut(row).conversation.tags = tags.clone();
                    Change::Updated
                }
                None => Change::Nothing,
            },
            _ => Change::Nothing,
        }
    }
}

/// Where one of the user's own replies stands, as shown under it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Delivery {
    /// Kept in this browser, not yet acknowledged by the server.
    Local,
    /// Stored by the server's outbox, waiting for its turn.
    Queued,
    Status(MessageStatus),
    Failed(String),
}

/// A line of the transcript.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// The message key, or the client key for a reply not stored yet.
    pub id: String,
    pub wamid: Option<String>,
    pub direction: Direction,
    pub kind: String,
    pub text: Option<String>,
    pub at: i64,
    pub delivery: Delivery,
    pub outbox: Option<String>,
    /// The quote, the reaction's target, the media.
    pub parts: MessageParts,
}

impl Line {
    pub fn from_message(m: Message) -> Self {
        Line {
            id: m.key,
            wamid: Some(m.wamid),
            direction: m.direction,
            kind: m.kind,
            text: m.text,
            at: m.at,
            // A failure keeps its reason across reloads: the server says what the codes mean.
            delivery: match m.error {
                Some(reason) if m.status == MessageStatus::Failed => Delivery::Failed(reason),
                _ => Delivery::Status(m.status),
            },
            outbox: None,
            parts: m.parts,
        }
    }

    /// A reaction is shown on the message it is for, not as a line of its own.
    pub fn is_reaction(&self) -> bool {
        self.kind == "reaction"
    }

    /// A short text for a quote of this message.
    pub fn snippet(&self) -> String {
        let text = match (&self.text, &self.parts.media) {
            (Some(t), _) if !t.trim().is_empty() => t.clone(),
            (_, Some(m)) => m
                .filename
                .clone()
                .unwrap_or_else(|| format!("[{}]", self.kind)),
            _ => format!("[{}]", self.kind),
        };
        let mut short: String = text.chars().take(80).collect();
        if text.chars().count() > 80 {
            short.push('…');
        }
        short
    }
}

/// The reactions on a transcript's messages: per message (by wamid), each side's latest emoji.
pub type Reactions = HashMap<String, Vec<(Direction, String)>>;

/// The open conversation's messages, oldest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Transcript {
    pub conversation: Option<ConversationId>,
    pub lines: Vec<Line>,
    /// The cursor for older messages; `None` once the start is loaded.
    pub older: Option<String>,
    pub complete: bool,
}

impl Transcript {
    pub fn open(id: ConversationId) -> Self {
        Transcript {
            conversation: Some(id),
            ..Default::default()
        }
    }

    fn is(&self, id: &ConversationId) -> bool {
        self.conversation.as_ref() == Some(id)
    }

    /// Adds a page of history (newest first, as the API answers) before what is shown.
    pub fn prepend_page(&mut self, newest_first: Vec<Message>, next: Option<String>) {
        let known: HashSet<String> = self.lines.iter().map(|l| l.id.clone()).collect();
        let mut older: Vec<Line> = newest_first
            .into_iter()
            .rev()
            .filter(|m| !known.contains(&m.key))
            .map(Line::from_message)
            .collect();
        older.append(&mut self.lines);
        self.lines = older;
        self.complete = next.is_none();
        self.older = next;
    }

    /// A reply typed here, shown at once while it is being sent.
    pub fn add_local(&mut self, pending: &PendingSend) {
        self.add_sending(
            &pending.key,
            "text",
            Some(pending.text.clone()),
            pending.created_at,
            pending.outbox.clone(),
            MessageParts {
                reply_to: pending.reply_wamid.clone(),
                ..MessageParts::default()
            },
        );
    }

    /// Any message of the user's on its way (`outbox` once the server stored it).
    pub fn add_sending(
        &mut self,
        key: &str,
        kind: &str,
        text: Option<String>,
        at: i64,
        outbox: Option<String>,
        parts: MessageParts,
    ) {
        if self.lines.iter().any(|l| l.id == key) {
            return;
        }
        self.lines.push(Line {
            id: key.to_owned(),
            wamid: None,
            direction: Direction::Outbound,
            kind: kind.to_owned(),
            text,
            at,
            delivery: if outbox.is_some() {
                Delivery::Queued
            } else {
                Delivery::Local
            },
            outbox,
            parts,
        });
    }

    /// The lines shown as bubbles (reactions go on their messages instead).
    pub fn shown(&self) -> Vec<Line> {
        self.lines
            .iter()
            .filter(|l| !l.is_reaction())
            .cloned()
            .collect()
    }

    /// Each message's reactions: a side's later reaction replaces its earlier one, and an empty
    /// one takes it back, as on a phone.
    pub fn reactions(&self) -> Reactions {
        let mut latest: BTreeMap<(String, bool), (usize, String)> = BTreeMap::new();
        for (i, line) in self
            .lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.is_reaction())
        {
            let Some(target) = &line.parts.reaction_to else {
                continue;
            };
            let side = (target.clone(), line.direction == Direction::Outbound);
            match line.text.as_deref().filter(|e| !e.is_empty()) {
                Some(emoji) => {
                    latest.insert(side, (i, emoji.to_owned()));
                }
                None => {
                    latest.remove(&side);
                }
            }
        }
        let mut out: Reactions = HashMap::new();
        for ((target, outbound), (_, emoji)) in latest {
            let direction = if outbound {
                Direction::Outbound
            } else {
                Direction::Inbound
            };
            out.entry(target).or_default().push((direction, emoji));
        }
        out
    }

    /// The line with this wamid, for a quote.
    pub fn by_wamid(&self, wamid: &str) -> Option<&Line> {
        self.lines
            .iter()
            .find(|l| l.wamid.as_deref() == Some(wamid))
    }

    /// The server stored a reply under `outbox` (its ack).
    pub fn acknowledged(&mut self, key: &str, outbox: &str) {
        if let Some(line) = self.lines.iter_mut().find(|l| l.id == key) {
            line.outbox = Some(outbox.to_owned());
            if line.delivery == Delivery::Local {
                line.delivery = Delivery::Queued;
            }
        }
    }

    pub fn refused(&mut self, key: &str, reason: &str) {
        if let Some(line) = self.lines.iter_mut().find(|l| l.id == key) {
            line.delivery = Delivery::Failed(reason.to_owned());
        }
    }

    /// Applies a hub event; true when something shown changed.
    pub fn apply(&mut self, event: &HubEvent) -> bool {
        match event {
            HubEvent::MessageStored {
                conversation,
                key,
                wamid,
                direction,
                message_type,
                text,
                at,
                outbox,
                parts,
                ..
            } if self.is(conversation) => {
                if self.lines.iter().any(|l| l.id == key.as_str()) {
                    return false;
                }
                let line = Line {
                    id: key.to_string(),
                    wamid: Some(wamid.to_string()),
                    direction: *direction,
                    kind: message_type.clone(),
                    text: text.clone(),
                    at: *at,
                    delivery: Delivery::Status(match direction {
                        Direction::Inbound => MessageStatus::Received,
                        Direction::Outbound => MessageStatus::Accepted,
                    }),
                    outbox: outbox.as_ref().map(ToString::to_string),
                    parts: parts.clone(),
                };
                // The stored message takes the place of the reply shown while it was sent.
                let pending = outbox.as_ref().and_then(|o| {
                    self.lines
                        .iter()
                        .position(|l| l.outbox.as_deref() == Some(o.as_str()))
                });
                match pending {
                    Some(i) => self.lines[i] = line,
                    None => self.lines.push(line),
                }
                true
            }
            HubEvent::StatusChanged {
                conversation,
                wamid,
                status,
                error_codes,
                error,
                ..
            } if self.is(conversation) => {
                let Some(line) = self
                    .lines
                    .iter_mut()
                    .find(|l| l.wamid.as_deref() == Some(wamid.as_str()))
                else {
                    return false;
                };
                line.delivery = if *status == MessageStatus::Failed {
                    Delivery::Failed(if let Some(reason) = error {
                        reason.clone()
                    } else if error_codes.is_empty() {
                        "failed".into()
                    } else {
                        format!(
                            "WhatsApp error {}",
                            error_codes
                                .iter()
                                .map(i64::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    })
                } else {
                    Delivery::Status(*status)
                };
                true
            }
            HubEvent::SendFailed {
                conversation,
                outbox,
                error,
                ..
            } if self.is(conversation) => {
                match self
                    .lines
                    .iter_mut()
                    .find(|l| l.outbox.as_deref() == Some(outbox.as_str()))
                {
                    Some(line) => {
                        line.delivery = Delivery::Failed(error.clone());
                        true
                    }
                    None => false,
                }
            }
            _ => false,
        }
    }
}

/// A reply the user sent that the server has not confirmed as stored *and* settled. Kept in
/// local storage, so a reply typed offline or before a reload is sent when the socket is back;
/// the `key` makes every resend return the first send instead of a second message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingSend {
    pub key: String,
    pub conversation: ConversationId,
    pub text: String,
    pub created_at: i64,
    /// The outbox id, once the server acknowledged it.
    pub outbox: Option<String>,
    /// The key of the message it answers, and that message's wamid (for the quote shown).
    #[serde(default)]
    pub reply_to: Option<String>,
    #[serde(default)]
    pub reply_wamid: Option<String>,
    /// The sender confirmed the word filter's warnings.
    #[serde(default)]
    pub confirm_warnings: bool,
    /// Why a blocked message goes anyway (senders allowed to override only).
    #[serde(default)]
    pub override_reason: Option<String>,
}

/// The replies waiting for the server, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outgoing {
    pub sends: Vec<PendingSend>,
}

impl Outgoing {
    pub fn push(&mut self, send: PendingSend) {
        if !self.sends.iter().any(|s| s.key == send.key) {
            self.sends.push(send);
        }
    }

    pub fn acknowledged(&mut self, key: &str, outbox: &str, settled: bool) {
        if settled {
            self.sends.retain(|s| s.key != key);
        } else if let Some(s) = self.sends.iter_mut().find(|s| s.key == key) {
            s.outbox = Some(outbox.to_owned());
        }
    }

    pub fn remove_key(&mut self, key: &str) {
        self.sends.retain(|s| s.key != key);
    }

    /// The outbox settled a send (stored or failed): nothing more to resend.
    pub fn settled(&mut self, outbox: &str) {
        self.sends.retain(|s| s.outbox.as_deref() != Some(outbox));
    }

    pub fn for_conversation<'a>(
        &'a self,
        id: &'a ConversationId,
    ) -> impl Iterator<Item = &'a PendingSend> + 'a {
        self.sends.iter().filter(move |s| &s.conversation == id)
    }
}

/// The last sequence number applied per topic, for `subscribe` with `after` on reconnect.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sequences {
    last: BTreeMap<String, u64>,
}

impl Sequences {
    /// Whether an event is new (true) or one already applied (false, e.g. replayed twice).
    pub fn accept(&mut self, topic: &str, seq: u64) -> bool {
        let last = self.last.entry(topic.to_owned()).or_insert(0);
        if seq <= *last {
            return false;
        }
        *last = seq;
        true
    }

    /// `subscribed` or `resync` tell where the stream stands.
    pub fn set(&mut self, topic: &str, seq: u64) {
        let last = self.last.entry(topic.to_owned()).or_insert(0);
        *last = (*last).max(seq);
    }

    /// Where to resume a topic from, if it was followed before.
    pub fn after(&self, topic: &str) -> Option<u64> {
        self.last.get(topic).copied()
    }

    pub fn forget(&mut self, topic: &str) {
        self.last.remove(topic);
    }
}

/// The rows of a virtualised list to build: only those in view, plus `overscan` either side,
/// so a list of 10,000 conversations costs what one screenful does.
pub fn visible_range(
    scroll_top: f64,
    viewport: f64,
    row_height: f64,
    total: usize,
    overscan: usize,
) -> std::ops::Range<usize> {
    if total == 0 || row_height <= 0.0 {
        return 0..0;
    }
    let first = (scroll_top.max(0.0) / row_height).floor() as usize;
    let shown = (viewport.max(0.0) / row_height).ceil() as usize + 1;
    let start = first.saturating_sub(overscan).min(total);
    let end = (first + shown + overscan).min(total);
    start..end
}

/// The 24-hour customer service window: free-form replies only within 24 h of the customer's
/// last message.
pub fn window_open(last_inbound_at: Option<i64>, now: i64) -> bool {
    last_inbound_at.is_some_and(|at| now - at < 24 * 3600 * 1000)
}

/// Saved replies offered for a `/shortcut` being typed: the composer's text must start with `/`
/// and contain no space yet.
pub fn canned_matches<'a>(text: &str, canned: &'a [(String, String)]) -> Vec<&'a (String, String)> {
    let Some(typed) = text.strip_prefix('/') else {
        return Vec::new();
    };
    if typed.contains(char::is_whitespace) {
        return Vec::new();
    }
    let typed = typed.to_lowercase();
    canned
        .iter()
        .filter(|(shortcut, _)| shortcut.to_lowercase().starts_with(&typed))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_shared::protocol::ChangeReason;

    fn conversation(id: &str, assignee: Option<&str>) -> Conversation {
        Conversation {
            id: ConversationId::from(id),
            number: PhoneNumberId::from("106540352242922"),
            customer: "•••••••4567".into(),
            customer_name: Some("Olga".into()),
            last_message_at: 1_000,
            state: Some(if assignee.is_some() {
                ConversationState::Assigned
            } else {
                ConversationState::Queued
            }),
            assignee: assignee.map(UserId::from),
            waiting_since: None,
            last_inbound_at: Some(1_000),
            tags: vec!["vip".into()],
        }
    }

    fn inbound(conv: &str, key: &str, at: i64) -> HubEvent {
        HubEvent::MessageStored {
            conversation: ConversationId::from(conv),
            number: PhoneNumberId::from("106540352242922"),
            customer: "•••••••4567".into(),
            key: key.into(),
            wamid: format!("wamid.{key}").into(),
            direction: Direction::Inbound,
            message_type: "text".into(),
            text: Some("Где мой заказ?".into()),
            at,
            parts: MessageParts::default(),
            outbox: None,
        }
    }

    fn changed(conv: &str, state: ConversationState, assignee: Option<&str>) -> HubEvent {
        HubEvent::ConversationChanged {
            conversation: ConversationId::from(conv),
            number: PhoneNumberId::from("106540352242922"),
            customer: "•••••••4567".into(),
            state,
            assignee: assignee.map(UserId::from),
            previous: None,
            reason: ChangeReason::Pool,
            queue_position: None,
            waiting_since: Some(5),
            at: 5,
        }
    }

    #[test]
    fn tabs_follow_permissions() {
        use Permission as P;
        let agent = [P::ConversationsReadAssigned, P::ConversationsReadTeam];
        assert_eq!(
            Tab::for_permissions(&agent, true),
            [Tab::Mine, Tab::Unassigned, Tab::Team]
        );
        let supervisor = [P::ConversationsReadAll, P::ConversationsReadAssigned];
        assert_eq!(
            Tab::for_permissions(&supervisor, true),
            [Tab::Mine, Tab::Unassigned, Tab::All]
        );
        assert_eq!(
            Tab::for_permissions(&[P::ConversationsReadAll], false),
            [Tab::Unassigned, Tab::All]
        );
    }

    #[test]
    fn a_message_seen_on_two_streams_counts_once_and_not_when_open() {
        let me = UserId::from("u_me");
        let mut inbox = Inbox::default();
        inbox.replace_all(vec![conversation("c_1", Some("u_me"))]);
        assert_eq!(
            inbox.apply(&inbound("c_1", "k1", 10), Some(&me), None),
            Change::Updated
        );
        assert_eq!(
            inbox.apply(&inbound("c_1", "k1", 10), Some(&me), None),
            Change::Nothing
        );
        assert_eq!(inbox.get("c_1").unwrap().unread, 1);
        assert_eq!(inbox.unread(Tab::Mine, Some(&me)), 1);
        inbox.apply(&inbound("c_1", "k2", 11), Some(&me), Some("c_1"));
        assert_eq!(inbox.get("c_1").unwrap().unread, 1);
        inbox.mark_read("c_1");
        assert_eq!(inbox.unread(Tab::Mine, Some(&me)), 0);
        // Unread survives a reload of the list.
        inbox.apply(&inbound("c_1", "k3", 12), Some(&me), None);
        inbox.replace_all(vec![conversation("c_1", Some("u_me"))]);
        assert_eq!(inbox.get("c_1").unwrap().unread, 1);
    }

    #[test]
    fn assignment_to_me_is_reported_once_and_resolution_removes_the_row() {
        let me = UserId::from("u_me");
        let mut inbox = Inbox::default();
        let assigned = changed("c_9", ConversationState::Assigned, Some("u_me"));
        assert_eq!(
            inbox.apply(&assigned, Some(&me), None),
            Change::AssignedToMe(ConversationId::from("c_9"))
        );
        assert_eq!(inbox.apply(&assigned, Some(&me), None), Change::Updated);
        assert_eq!(inbox.list(Tab::Mine, Some(&me), "").len(), 1);
        assert_eq!(inbox.list(Tab::Unassigned, Some(&me), "").len(), 0);
        inbox.apply(
            &changed("c_9", ConversationState::Resolved, None),
            Some(&me),
            None,
        );
        assert!(inbox.is_empty());
    }

    #[test]
    fn the_list_puts_the_longest_waiting_first_and_searches() {
        let mut inbox = Inbox::default();
        let mut a = conversation("c_a", None);
        a.waiting_since = Some(50);
        let mut b = conversation("c_b", None);
        b.waiting_since = Some(10);
        let mut c = conversation("c_c", None);
        c.last_message_at = 99;
        c.customer_name = Some("Ivan".into());
        inbox.replace_all(vec![a, b, c]);
        let ids: Vec<String> = inbox
            .list(Tab::All, None, "")
            .iter()
            .map(|r| r.conversation.id.as_str().to_owned())
            .collect();
        assert_eq!(ids, ["c_b", "c_a", "c_c"]);
        assert_eq!(inbox.list(Tab::All, None, "ivan").len(), 1);
        assert_eq!(inbox.list(Tab::All, None, "VIP").len(), 3);
        assert_eq!(inbox.list(Tab::All, None, "nobody").len(), 0);
    }

    fn pending(key: &str) -> PendingSend {
        PendingSend {
            key: key.into(),
            conversation: ConversationId::from("c_1"),
            text: "Уже едет".into(),
            created_at: 20,
            outbox: None,
            reply_to: None,
            reply_wamid: None,
            confirm_warnings: false,
            override_reason: None,
        }
    }

    #[test]
    fn a_reply_goes_from_local_to_queued_to_stored_to_read() {
        let mut t = Transcript::open(ConversationId::from("c_1"));
        t.prepend_page(
            vec![Message {
                key: "in_1".into(),
                wamid: "wamid.in1".into(),
                direction: Direction::Inbound,
                kind: "text".into(),
                text: Some("Привет".into()),
                at: 10,
                status: MessageStatus::Received,
                error: None,
                customer: "•••4567".into(),
                parts: MessageParts::default(),
            }],
            None,
        );
        assert!(t.complete);
        t.add_local(&pending("k-1"));
        assert_eq!(t.lines[1].delivery, Delivery::Local);
        t.acknowledged("k-1", "o_1");
        assert_eq!(t.lines[1].delivery, Delivery::Queued);
        let stored = HubEvent::MessageStored {
            conversation: ConversationId::from("c_1"),
            number: PhoneNumberId::from("106540352242922"),
            customer: "•••4567".into(),
            key: "out_1".into(),
            wamid: "wamid.out1".into(),
            direction: Direction::Outbound,
            message_type: "text".into(),
            text: Some("Уже едет".into()),
            at: 21,
            parts: MessageParts::default(),
            outbox: Some("o_1".into()),
        };
        assert!(t.apply(&stored));
        assert!(!t.apply(&stored), "a duplicate changes nothing");
        assert_eq!(
            t.lines.len(),
            2,
            "the stored message replaced the local one"
        );
        let read = HubEvent::StatusChanged {
            conversation: ConversationId::from("c_1"),
            number: PhoneNumberId::from("106540352242922"),
            wamid: "wamid.out1".into(),
            status: MessageStatus::Read,
            at: 30,
            error_codes: vec![],
            error: None,
        };
        assert!(t.apply(&read));
        assert_eq!(t.lines[1].delivery, Delivery::Status(MessageStatus::Read));
        // Another conversation's events do not touch this transcript.
        let mut other = read.clone();
        if let HubEvent::StatusChanged { conversation, .. } = &mut other {
            *conversation = ConversationId::from("c_2");
        }
        assert!(!t.apply(&other));
    }

    #[test]
    fn a_failed_send_shows_its_reason() {
        let mut t = Transcript::open(ConversationId::from("c_1"));
        t.add_local(&pending("k-2"));
        t.acknowledged("k-2", "o_2");
        assert!(t.apply(&HubEvent::SendFailed {
            conversation: ConversationId::from("c_1"),
            number: PhoneNumberId::from("106540352242922"),
            outbox: "o_2".into(),
            error: "Cloud API error 131026".into(),
            at: 40,
        }));
        assert_eq!(
            t.lines[0].delivery,
            Delivery::Failed("Cloud API error 131026".into())
        );
        t.add_local(&pending("k-3"));
        t.refused("k-3", "outside the 24-hour window");
        assert!(matches!(t.lines[1].delivery, Delivery::Failed(_)));
    }

    #[test]
    fn a_message_that_failed_at_whatsapp_keeps_its_reason_after_a_reload() {
        let reason = "131047: more than 24 hours since the customer last wrote";
        let failed = Message {
            key: "out_1".into(),
            wamid: "wamid.out1".into(),
            direction: Direction::Outbound,
            kind: "text".into(),
            text: Some("Hello?".into()),
            at: 10,
            status: MessageStatus::Failed,
            error: Some(reason.into()),
            customer: "x".into(),
            parts: MessageParts::default(),
        };
        assert_eq!(
            Line::from_message(failed.clone()).delivery,
            Delivery::Failed(reason.into())
        );
        // Live, the event's reason is what the line shows.
        let mut t = Transcript::open(ConversationId::from("c_1"));
        t.prepend_page(
            vec![Message {
                status: MessageStatus::Sent,
                error: None,
                ..failed
            }],
            None,
        );
        assert!(t.apply(&HubEvent::StatusChanged {
            conversation: ConversationId::from("c_1"),
            number: PhoneNumberId::from("106540352242922"),
            wamid: "wamid.out1".into(),
            status: MessageStatus::Failed,
            at: 20,
            error_codes: vec![131047],
            error: Some(reason.into()),
        }));
        assert_eq!(t.lines[0].delivery, Delivery::Failed(reason.into()));
    }

    #[test]
    fn older_pages_go_before_and_skip_what_is_shown() {
        let msg = |key: &str, at| Message {
            key: key.into(),
            wamid: format!("w.{key}"),
            direction: Direction::Inbound,
            kind: "text".into(),
            text: None,
            at,
            status: MessageStatus::Received,
            error: None,
            customer: "x".into(),
            parts: MessageParts::default(),
        };
        let mut t = Transcript::open(ConversationId::from("c_1"));
        t.prepend_page(vec![msg("m4", 4), msg("m3", 3)], Some("cur".into()));
        assert!(!t.complete);
        t.prepend_page(vec![msg("m3", 3), msg("m2", 2), msg("m1", 1)], None);
        let keys: Vec<&str> = t.lines.iter().map(|l| l.id.as_str()).collect();
        assert_eq!(keys, ["m1", "m2", "m3", "m4"]);
        assert!(t.complete);
    }

    #[test]
    fn the_outgoing_queue_survives_until_settled() {
        let mut out = Outgoing::default();
        out.push(pending("k-1"));
        out.push(pending("k-1"));
        out.push(pending("k-2"));
        assert_eq!(out.sends.len(), 2);
        out.acknowledged("k-1", "o_1", false);
        assert_eq!(out.sends[0].outbox.as_deref(), Some("o_1"));
        let json = serde_json::to_string(&out).unwrap();
        let mut back: Outgoing = serde_json::from_str(&json).unwrap();
        back.settled("o_1");
        assert_eq!(back.sends.len(), 1);
        back.acknowledged("k-2", "o_2", true);
        assert!(back.sends.is_empty());
    }

    #[test]
    fn sequences_drop_replays_and_resume_after_the_last() {
        let mut s = Sequences::default();
        assert_eq!(s.after("tenant"), None);
        assert!(s.accept("tenant", 1));
        assert!(s.accept("tenant", 2));
        assert!(!s.accept("tenant", 2));
        s.set("tenant", 1);
        assert_eq!(s.after("tenant"), Some(2));
        s.set("board", 40);
        assert!(!s.accept("board", 40));
        assert!(s.accept("board", 41));
    }

    #[test]
    fn only_the_rows_in_view_are_built() {
        assert_eq!(visible_range(0.0, 640.0, 64.0, 10_000, 5), 0..16);
        assert_eq!(visible_range(64_000.0, 640.0, 64.0, 10_000, 5), 995..1016);
        assert_eq!(
            visible_range(639_000.0, 640.0, 64.0, 10_000, 5),
            9979..10_000
        );
        assert_eq!(visible_range(0.0, 640.0, 64.0, 0, 5), 0..0);
    }

    #[test]
    fn ten_thousand_conversations_share_rows_and_build_one_screenful() {
        let mut inbox = Inbox::default();
        inbox.replace_all(
            (0..10_000)
                .map(|i| conversation(&format!("c_{i:05}"), None))
                .collect(),
        );
        let list = inbox.list(Tab::All, None, "");
        assert_eq!(list.len(), 10_000);
        // The list holds the inbox's own rows, not copies of them.
        let first = list[0].conversation.id.as_str().to_owned();
        assert!(Arc::ptr_eq(&list[0], inbox.rows.get(&first).unwrap()));
        let shown = visible_range(320_000.0, 780.0, 68.0, list.len(), 8);
        assert!(shown.len() <= 30, "{shown:?}");
    }

    #[test]
    fn the_window_and_shortcuts() {
        let day = 24 * 3600 * 1000;
        assert!(window_open(Some(1_000), 1_000 + day - 1));
        assert!(!window_open(Some(1_000), 1_000 + day));
        assert!(!window_open(None, 0));
        let canned = vec![
            ("hello".to_owned(), "Hello!".to_owned()),
            ("help".to_owned(), "How can I help?".to_owned()),
            ("bye".to_owned(), "Bye".to_owned()),
        ];
        assert_eq!(canned_matches("/he", &canned).len(), 2);
        assert_eq!(canned_matches("/HEL", &canned).len(), 2);
        assert_eq!(canned_matches("/b", &canned).len(), 1);
        assert!(canned_matches("he", &canned).is_empty());
        assert!(canned_matches("/he llo", &canned).is_empty());
    }

    fn reaction(key: &str, to: &str, emoji: &str, direction: Direction) -> HubEvent {
        HubEvent::MessageStored {
            conversation: ConversationId::from("c_1"),
            number: PhoneNumberId::from("106540352242922"),
            customer: "•••4567".into(),
            key: key.into(),
            wamid: format!("wamid.{key}").into(),
            direction,
            message_type: "reaction".into(),
            text: Some(emoji.to_owned()).filter(|e| !e.is_empty()),
            at: 40,
            parts: MessageParts {
                reaction_to: Some(to.into()),
                ..MessageParts::default()
            },
            outbox: None,
        }
    }

    #[test]
    fn reactions_sit_on_their_message_and_the_latest_of_each_side_counts() {
        let mut t = Transcript::open(ConversationId::from("c_1"));
        let e = inbound("c_1", "k1", 10);
        t.apply(&e);
        let to = "wamid.k1";
        t.apply(&reaction("r1", to, "👍", Direction::Outbound));
        t.apply(&reaction("r2", to, "❤️", Direction::Inbound));
        assert_eq!(t.shown().len(), 1, "reactions are not bubbles");
        let mut on = t.reactions().remove(to).unwrap();
        on.sort_by_key(|(d, _)| *d == Direction::Outbound);
        assert_eq!(
            on,
            [
                (Direction::Inbound, "❤️".to_owned()),
                (Direction::Outbound, "👍".to_owned())
            ]
        );
        // The business changes its reaction, then the customer takes theirs back.
        t.apply(&reaction("r3", to, "🙏", Direction::Outbound));
        t.apply(&reaction("r4", to, "", Direction::Inbound));
        assert_eq!(
            t.reactions().remove(to).unwrap(),
            [(Direction::Outbound, "🙏".to_owned())]
        );
    }

    #[test]
    fn a_reply_quotes_its_message_while_local_and_once_stored() {
        let mut t = Transcript::open(ConversationId::from("c_1"));
        t.apply(&inbound("c_1", "k1", 10));
        let mut p = pending("k-9");
        p.reply_to = Some("k1".into());
        p.reply_wamid = Some("wamid.k1".into());
        t.add_local(&p);
        let local = t.lines.last().unwrap();
        assert_eq!(local.parts.reply_to.as_deref(), Some("wamid.k1"));
        let quoted = t.by_wamid("wamid.k1").unwrap();
        assert_eq!(quoted.snippet(), "Где мой заказ?");
        // A long message is cut for the quote.
        let mut long = quoted.clone();
        long.text = Some("a".repeat(100));
        assert_eq!(long.snippet().chars().count(), 81);
        // A file without a caption is quoted by its name.
        long.text = None;
        long.kind = "document".into();
        long.parts.media = Some(Box::new(switchboard_shared::api::MediaRef {
            copy: None,
            id: "1".into(),
            mime_type: None,
            filename: Some("invoice.pdf".into()),
        }));
        assert_eq!(long.snippet(), "invoice.pdf");
    }
}
