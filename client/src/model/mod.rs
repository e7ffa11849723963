//! The app's state and how events change it, free of the browser so it is tested on the host:
//! the open inbox, the open conversation's messages, replies waiting to be sent, per-topic
//! sequence numbers for resume, and the visible window of a virtualised list.

mod template;
pub use template::{body_label, TemplateDraft};

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

/// The name being typed after an `@` at the end of a note (`@ol` gives `ol`), when there is one:
/// the `@` starts the text or follows a space, and no space follows it yet.
pub fn mention_query(text: &str) -> Option<&str> {
    let at = text.rfind('@')?;
    let before_ok = text[..at]
        .chars()
        .next_back()
        .is_none_or(char::is_whitespace);
    let typed = &text[at + 1..];
    (before_ok && !typed.contains(char::is_whitespace) && !typed.starts_with('{')).then_some(typed)
}

/// The note with each picked `@Name` written as the server reads a mention (`@{u_…}`); longer
/// names first, so `@Ann Lee` is not taken for `@Ann`.
pub fn encode_mentions(text: &str, picked: &[(String, String)]) -> String {
    let mut picked: Vec<&(String, String)> = picked.iter().collect();
    picked.sort_by_key(|(name, _)| std::cmp::Reverse(name.chars().count()));
    let mut out = text.to_owned();
    for (name, id) in picked {
        out = out.replace(&format!("@{name}"), &format!("@{{{id}}}"));
    }
    out
}

/// A stored note as people read it: `@{u_…}` shown as `@Name` for the colleagues known.
pub fn show_mentions(text: &str, names: &[(String, String)]) -> String {
    let mut out = text.to_owned();
    for (id, name) in names {
        out = out.replace(&format!("@{{{id}}}"), &format!("@{name}"));
    }
    out
}

#[cfg(test)]
mod tests;
