//! Who is signed in: sign-in and sign-out, the language, permissions, the CSRF token, toasts.

use crate::i18n::{Lang, T};
use crate::model::{Inbox, Sequences, Tab, Transcript};
use crate::net;
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::time::Duration;
use switchboard_shared::api::Me;
use switchboard_shared::permissions::Permission;
use switchboard_shared::replies::{SavedReply, SavedReplyInput};

use super::{canned_key, set_document_lang, App, Link, View, LANG_KEY, ME_KEY};

impl App {
    pub fn t(&self, key: T) -> &'static str {
        self.session.lang.get().t(key)
    }

    /// A text of the interface that follows the language, for a view. Every call returns the
    /// same closure type, so the renderer is compiled once for all texts; a `move ||` written
    /// at each place is a type of its own, compiled again each time (a sixth of the WASM).
    pub fn text(self, key: T) -> impl Fn() -> &'static str + Copy + Send + Sync + 'static {
        move || self.t(key)
    }

    /// A moment as the language writes it (`14:05`, `3 Dec, 14:05`), for a view; one closure
    /// type for every place, like [`App::text`].
    pub fn time(self, at_ms: i64) -> impl Fn() -> String + Copy + Send + Sync + 'static {
        move || net::format_time(at_ms, self.session.lang.get().locale())
    }

    pub fn set_lang(&self, lang: Lang) {
        self.session.lang.set(lang);
        net::save(LANG_KEY, &lang);
        set_document_lang(lang);
    }

    pub fn can(&self, p: Permission) -> bool {
        self.session.me.with(|m| {
            m.as_ref()
                .and_then(|m| m.as_ref())
                .is_some_and(|m| m.permissions.contains(&p))
        })
    }

    pub fn me_id(&self) -> Option<switchboard_shared::ids::UserId> {
        self.session.me.with(|m| {
            m.as_ref()
                .and_then(|m| m.as_ref())
                .and_then(|m| m.user.as_ref().map(|u| u.id.clone()))
        })
    }

    pub(super) fn csrf(&self) -> Option<String> {
        self.session.me.with_untracked(|m| {
            m.as_ref()
                .and_then(|m| m.as_ref())
                .and_then(|m| m.csrf_token.clone())
        })
    }

    pub fn fail(&self, message: impl Into<String>) {
        let message = message.into();
        self.session.toast.set(Some(message));
        let toast = self.session.toast;
        set_timeout(move || toast.set(None), Duration::from_secs(6));
    }

    /// Boots: who is signed in (the cookie may still hold a session), then the socket.
    pub fn start(self) {
        set_document_lang(self.session.lang.get_untracked());
        let now = self.session.now;
        set_interval(move || now.set(net::now_ms()), Duration::from_secs(1));
        let app = self;
        window_event_listener(leptos::ev::online, move |_| app.reconnect_now());
        window_event_listener(leptos::ev::offline, move |_| {
            app.socket.link.set(Link::Offline)
        });
        set_interval(move || app.check_liveness(), Duration::from_secs(5));
        app.watch_page();
        spawn_local(async move {
            match net::get::<Me>("/api/v1/auth/me").await {
                Ok(me) => app.signed_in(me),
                // No network: the last signed-in user's app, offline, until the socket is back
                // (the socket's own authentication settles whether the session still holds).
                Err(e) if e.status == 0 => match net::load::<Me>(ME_KEY) {
                    Some(me) => app.signed_in(me),
                    None => app.session.me.set(Some(None)),
                },
                Err(_) => {
                    net::forget(ME_KEY);
                    app.session.me.set(Some(None));
                }
            }
        });
    }

    pub fn signed_in(self, me: Me) {
        let tabs = Tab::for_permissions(&me.permissions, me.user.is_some());
        if let Some(first) = tabs.first() {
            self.inbox.tab.set(*first);
        }
        if me.permissions.contains(&Permission::ConversationsReply) {
            self.load_replies(canned_key(&me));
        }
        let board = me.permissions.contains(&Permission::BoardView);
        let inbox = me.permissions.iter().any(|p| {
            matches!(
                p,
                Permission::ConversationsReadAll
                    | Permission::ConversationsReadTeam
                    | Permission::ConversationsReadAssigned
            )
        });
        self.inbox.view.set(if inbox {
            View::Inbox
        } else if board {
            View::Board
        } else {
            View::Admin
        });
        net::save(ME_KEY, &me);
        self.session.me.set(Some(Some(me)));
        self.socket
            .wire
            .with_value(|w| w.borrow_mut().signed_out = false);
        self.reload_inbox();
        if board {
            self.reload_board();
        }
        self.connect();
        self.resync_push();
        self.open_pending();
    }

    pub fn sign_out(self) {
        let csrf = self.csrf();
        self.socket.wire.with_value(|w| {
            let mut w = w.borrow_mut();
            w.signed_out = true;
            if let Some(s) = w.socket.take() {
                let _ = s.ws.close();
            }
            w.seqs = Sequences::default();
        });
        net::forget(ME_KEY);
        spawn_local(async move {
            // This browser stops being the person's device before the session ends.
            self.forget_push_device().await;
            let _ = net::call::<()>("POST", "/api/v1/auth/logout", None, csrf.as_deref()).await;
            self.session.me.set(Some(None));
            self.inbox.open.set(None);
            self.inbox.list.set(Inbox::default());
            self.inbox.transcript.set(Transcript::default());
        });
    }

    /// This session's CSRF token, for uploads.
    pub fn csrf_token(&self) -> Option<String> {
        self.csrf()
    }

    /// Calls the REST API with this session's CSRF token.
    pub async fn write<T: serde::de::DeserializeOwned, B: serde::Serialize>(
        &self,
        method: &str,
        path: &str,
        body: &B,
    ) -> Result<T, net::Failure> {
        let csrf = self.csrf();
        net::write(method, path, body, csrf.as_deref()).await
    }

    /// The saved replies from the server; replies this browser kept before the server did are
    /// saved there first (as the user's own) and then forgotten here.
    pub fn load_replies(self, local_key: String) {
        let app = self;
        spawn_local(async move {
            let local: Vec<(String, String)> = net::load(&local_key).unwrap_or_default();
            for (shortcut, text) in local {
                let body = SavedReplyInput {
                    shortcut,
                    text,
                    scope: None,
                    team: None,
                    version: None,
                };
                // A shortcut already on the server (409) keeps the server's reply.
                let _ = app
                    .write::<SavedReply, _>("POST", "/api/v1/saved-replies", &body)
                    .await;
            }
            net::forget(&local_key);
            app.reload_replies().await;
        });
    }

    pub async fn reload_replies(self) {
        match net::get::<Vec<SavedReply>>("/api/v1/saved-replies").await {
            Ok(list) => self.session.replies.set(list),
            Err(e) if e.status != 0 => self.fail(e.message),
            Err(_) => {}
        }
    }
}
