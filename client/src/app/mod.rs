//! The running app: its reactive state and the actions views call, by concern: `session` (who
//! is signed in), `socket` (the one WebSocket: reconnect, resume), `outgoing` (the offline
//! queue of replies), `inbox` (REST loads and conversation actions) and `push` (this browser
//! as a device for Web Push).

mod inbox;
mod outgoing;
pub use outgoing::FilterAck;
mod push;
pub use push::PushState;
mod session;
mod socket;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use leptos::prelude::*;
use switchboard_shared::api::{Conversation, Me, Note};
use switchboard_shared::campaign::{CampaignCounts, CampaignState};
use switchboard_shared::ids::{CampaignId, ConversationId};
use switchboard_shared::protocol::{AgentState, AgentStatus, BoardStats};
use wasm_bindgen::closure::Closure;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

use crate::i18n::Lang;
use crate::model::{Inbox, Outgoing, Sequences, Tab, Transcript};
use crate::net;

const LANG_KEY: &str = "sb.lang";
const OUTGOING_KEY: &str = "sb.outgoing";
/// Who signed in last, so that a reload without network keeps the app (and its queued replies)
/// instead of showing the sign-in form; cleared on sign-out and whenever the server says the
/// session is gone.
const ME_KEY: &str = "sb.me";
/// Where saved replies lived in the browser before the server kept them (moved on first use).
fn canned_key(me: &Me) -> String {
    format!(
        "sb.canned.{}",
        me.user.as_ref().map(|u| u.id.as_str()).unwrap_or("key")
    )
}

/// A message being answered, as the composer shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quote {
    pub key: String,
    pub wamid: String,
    pub snippet: String,
}

/// The screens of the signed-in app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Inbox,
    Board,
    Contacts,
    Campaigns,
    Costs,
    Reports,
    Archive,
    Admin,
    Settings,
}

/// The socket as the user sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    Connecting,
    Live,
    /// The browser says it has no network.
    Offline,
}

/// The one WebSocket and its handlers (dropped, and so detached, when replaced).
struct Socket {
    ws: WebSocket,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

#[derive(Default)]
struct Wire {
    socket: Option<Socket>,
    seqs: Sequences,
    /// Consecutive failed attempts, for the backoff.
    failures: u32,
    /// Whether a reconnect is already scheduled.
    scheduled: bool,
    /// The last `pong` or event, for the liveness check.
    last_heard: i64,
    heartbeat_ms: i64,
    signed_out: bool,
    /// A reload of the inbox is on its way.
    loading_inbox: bool,
    /// The conversation a tapped notification opened the app with, until someone signs in.
    pending_open: Option<ConversationId>,
}

/// Everything the views read and the actions they call, in three parts. `Copy`: signals are
/// handles.
#[derive(Clone, Copy)]
pub struct App {
    /// Who is signed in, in which language; the toast and the clock.
    pub session: Session,
    /// The link to the hub and the replies waiting to go out over it.
    pub socket: SocketState,
    /// What the inbox shows: the list, the open conversation, the board.
    pub inbox: InboxState,
    /// What the hub says about the workspace's other work while it runs (campaigns).
    pub live: LiveState,
}

/// A campaign as its last `campaign_progressed` event left it.
#[derive(Clone, Debug, PartialEq)]
pub struct Progress {
    pub campaign: CampaignId,
    pub state: CampaignState,
    pub total: u64,
    pub counts: CampaignCounts,
    pub paused_reason: Option<String>,
    pub rate_per_second: f64,
    pub eta_seconds: Option<u64>,
}

/// Progress events, by campaign (a map, so that two campaigns' events between two renders
/// both land).
#[derive(Clone, Copy)]
pub struct LiveState {
    pub campaigns: RwSignal<HashMap<CampaignId, Progress>>,
}

/// Who is signed in (`session.rs` acts on it).
#[derive(Clone, Copy)]
pub struct Session {
    pub lang: RwSignal<Lang>,
    /// `None` until `auth/me` answered; `Some(None)` when signed out.
    pub me: RwSignal<Option<Option<Me>>>,
    /// The agent's own status (available, busy, break).
    pub status: RwSignal<AgentStatus>,
    /// The saved replies the user may use (their own, their teams', the workspace's).
    pub replies: RwSignal<Vec<switchboard_shared::replies::SavedReply>>,
    pub toast: RwSignal<Option<String>>,
    /// The last mention of this person in a note, until they open it or close the notice.
    pub mention: RwSignal<Option<(ConversationId, String)>>,
    /// Now, to the second, for ages that grow on screen.
    pub now: RwSignal<i64>,
}

/// The one WebSocket (`socket.rs`) and the offline queue of replies (`outgoing.rs`).
#[derive(Clone, Copy)]
pub struct SocketState {
    pub link: RwSignal<Link>,
    pub outgoing: RwSignal<Outgoing>,
    wire: StoredValue<Rc<RefCell<Wire>>, LocalStorage>,
}

/// What the inbox, the conversation and the board show (`inbox.rs` loads it; hub events change
/// it in `socket.rs`).
#[derive(Clone, Copy)]
pub struct InboxState {
    pub view: RwSignal<View>,
    /// The conversation list.
    pub list: RwSignal<Inbox>,
    pub loaded: RwSignal<bool>,
    pub tab: RwSignal<Tab>,
    pub query: RwSignal<String>,
    pub open: RwSignal<Option<ConversationId>>,
    pub transcript: RwSignal<Transcript>,
    pub loading_older: RwSignal<bool>,
    pub notes: RwSignal<Vec<Note>>,
    /// The message the composer's reply answers: its key, wamid and a snippet.
    pub replying: RwSignal<Option<Quote>>,
    pub board: RwSignal<Option<BoardStats>>,
    /// Queue depth as the board reported it since the page opened, for the chart.
    pub queue_history: RwSignal<Vec<(i64, u32)>>,
    pub agents: RwSignal<Vec<AgentState>>,
}

impl App {
    pub fn new() -> Self {
        let lang =
            net::load::<Lang>(LANG_KEY).unwrap_or_else(|| Lang::from_tag(&net::browser_language()));
        App {
            session: Session {
                lang: RwSignal::new(lang),
                me: RwSignal::new(None),
                status: RwSignal::new(AgentStatus::Available),
                replies: RwSignal::new(Vec::new()),
                toast: RwSignal::new(None),
                mention: RwSignal::new(None),
                now: RwSignal::new(net::now_ms()),
            },
            socket: SocketState {
                link: RwSignal::new(Link::Connecting),
                outgoing: RwSignal::new(net::load(OUTGOING_KEY).unwrap_or_default()),
                wire: StoredValue::new_local(Rc::new(RefCell::new(Wire::default()))),
            },
            inbox: InboxState {
                view: RwSignal::new(View::Inbox),
                list: RwSignal::new(Inbox::default()),
                loaded: RwSignal::new(false),
                tab: RwSignal::new(Tab::Mine),
                query: RwSignal::new(String::new()),
                open: RwSignal::new(None),
                transcript: RwSignal::new(Transcript::default()),
                loading_older: RwSignal::new(false),
                notes: RwSignal::new(Vec::new()),
                replying: RwSignal::new(None),
                board: RwSignal::new(None),
                queue_history: RwSignal::new(Vec::new()),
                agents: RwSignal::new(Vec::new()),
            },
            live: LiveState {
                campaigns: RwSignal::new(HashMap::new()),
            },
        }
    }
}

impl Default for App {
    fn default() -> Self {
        Self::new()
    }
}

/// The customer's name when WhatsApp gave one, else their (possibly masked) number.
pub fn display_name(c: &Conversation) -> String {
    c.customer_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| c.customer.clone())
}

fn set_document_lang(lang: Lang) {
    if let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    {
        let _ = root.set_attribute("lang", lang.code());
    }
}

/// Percent-encodes a query value (cursors are opaque and may hold any character).
pub fn encode(value: &str) -> String {
    String::from(js_sys::encode_uri_component(value))
}
