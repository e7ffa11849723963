//! Web Push for the signed-in person: this browser as one of their devices (turned on after
//! they agree, kept in step with the server at each sign-in, ended at sign-out so that the
//! next person on this browser does not get their notifications), the page's visibility told
//! to the hub (nothing is pushed while the app is in view somewhere), and a tapped
//! notification's conversation opened.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::{Deserialize, Serialize};
use switchboard_shared::ids::ConversationId;
use switchboard_shared::protocol::ClientFrame;
use switchboard_shared::push::{PushDevice, PushKey};

use super::App;
use crate::net;

/// Which device this browser is, and whose.
const DEVICE_KEY: &str = "sb.push.device";

#[derive(Clone, Debug, Serialize, Deserialize)]
struct ThisDevice {
    user: String,
    id: String,
}

/// What the settings screen shows about this browser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PushState {
    /// No service worker or Push API here.
    Unsupported,
    /// The person blocked notifications for this site.
    Blocked,
    Off,
    /// On, as this device of theirs.
    On(String),
}

impl App {
    /// Wires the page once: its visibility goes to the hub, and a tapped notification opens
    /// its conversation (once someone is signed in).
    pub(super) fn watch_page(self) {
        net::on_visibility_change(move |visible| {
            self.send_frame(&ClientFrame::Visibility { id: None, visible });
        });
        net::on_notification_open(move |id| {
            let id = ConversationId::from(id);
            if self.signed_in_user().is_some() {
                self.open_conversation(id);
            } else {
                self.socket
                    .wire
                    .with_value(|w| w.borrow_mut().pending_open = Some(id));
            }
        });
    }

    /// Tells the hub whether the page is in view (a new connection counts as in view).
    pub(super) fn tell_visibility(self) {
        if net::page_hidden() {
            self.send_frame(&ClientFrame::Visibility {
                id: None,
                visible: false,
            });
        }
    }

    /// The conversation a tapped notification asked for before anyone was signed in.
    pub(super) fn open_pending(self) {
        let pending = self
            .socket
            .wire
            .with_value(|w| w.borrow_mut().pending_open.take());
        if let Some(id) = pending {
            self.open_conversation(id);
        }
    }

    pub fn signed_in_user(&self) -> Option<String> {
        self.session.me.with_untracked(|m| {
            m.as_ref()
                .and_then(|m| m.as_ref())
                .and_then(|m| m.user.as_ref())
                .map(|u| u.id.to_string())
        })
    }

    pub fn push_state(&self) -> PushState {
        if !net::push_supported() {
            return PushState::Unsupported;
        }
        if web_sys::Notification::permission() == web_sys::NotificationPermission::Denied {
            return PushState::Blocked;
        }
        match (net::load::<ThisDevice>(DEVICE_KEY), self.signed_in_user()) {
            (Some(d), Some(user)) if d.user == user && net::notifications_allowed() => {
                PushState::On(d.id)
            }
            _ => PushState::Off,
        }
    }

    /// Turns notifications on for this browser: the person agrees, the browser subscribes
    /// with the server's key, the server keeps the subscription. The device, or why not.
    pub async fn enable_push(self) -> Result<PushDevice, String> {
        let user = self.signed_in_user().ok_or("not signed in")?;
        let key: PushKey = net::get("/api/v1/push/key").await.map_err(|e| e.message)?;
        if !key.enabled {
            return Err("this server sends no notifications".into());
        }
        if !net::ask_permission().await? {
            return Err("notifications were not allowed".into());
        }
        self.forget_push_device().await;
        let mut subscription = net::subscribe(&key.public_key).await?;
        subscription["device"] = serde_json::Value::String(net::device_name());
        let device: PushDevice = self
            .write("POST", "/api/v1/push/subscriptions", &subscription)
            .await
            .map_err(|e| e.message)?;
        net::save(
            DEVICE_KEY,
            &ThisDevice {
                user,
                id: device.id.clone(),
            },
        );
        Ok(device)
    }

    /// Turns them off here: the server forgets the device, the browser its subscription.
    pub async fn forget_push_device(self) {
        if let Some(device) = net::load::<ThisDevice>(DEVICE_KEY) {
            if Some(&device.user) == self.signed_in_user().as_ref() {
                let path = format!("/api/v1/push/subscriptions/{}", device.id);
                let _ = net::call::<()>("DELETE", &path, None, self.csrf_token().as_deref()).await;
            }
            net::forget(DEVICE_KEY);
        }
        if net::push_supported() {
            let _ = net::unsubscribe().await;
        }
    }

    /// At sign-in: this browser's subscription told to the server again when it is this
    /// person's (the browser may have renewed it), and ended when it was someone else's.
    pub(super) fn resync_push(self) {
        let Some(device) = net::load::<ThisDevice>(DEVICE_KEY) else {
            return;
        };
        spawn_local(async move {
            if Some(&device.user) != self.signed_in_user().as_ref() {
                net::forget(DEVICE_KEY);
                let _ = net::unsubscribe().await;
                return;
            }
            if !net::notifications_allowed() {
                return;
            }
            if let Ok(Some(mut subscription)) = net::current_subscription().await {
                subscription["device"] = serde_json::Value::String(net::device_name());
                if let Ok(d) = self
                    .write::<PushDevice, _>("POST", "/api/v1/push/subscriptions", &subscription)
                    .await
                {
                    net::save(
                        DEVICE_KEY,
                        &ThisDevice {
                            user: device.user,
                            id: d.id,
                        },
                    );
                }
            }
        });
    }
}
