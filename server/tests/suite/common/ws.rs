//! A WebSocket client for the tests: connect with a bearer token, read the next text frame, send.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::Value;
use switchboard_shared::protocol::{HubEvent, ServerFrame};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use super::{Api, Auth};

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub fn ws_url(api: &Api) -> String {
    format!("{}/ws", api.base.replace("http://", "ws://"))
}

pub async fn connect(api: &Api, auth: Option<&Auth>) -> Socket {
    let mut request = ws_url(api).into_client_request().unwrap();
    if let Some(Auth::Bearer(token)) = auth {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

/// The next text frame, skipping pings; panics after 10 s.
pub async fn next(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a frame within 10 s")
            .expect("the socket is open")
            .unwrap();
        if let Message::Text(text) = message {
            return serde_json::from_str(text.as_str()).unwrap();
        }
    }
}

pub async fn send(socket: &mut Socket, frame: Value) {
    socket
        .send(Message::Text(frame.to_string().into()))
        .await
        .unwrap();
}

pub async fn closed_with(socket: &mut Socket) -> u16 {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("closed within 10 s")
        {
            Some(Ok(Message::Close(Some(frame)))) => return frame.code.into(),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

pub fn token(auth: &Auth) -> String {
    match auth {
        Auth::Bearer(t) => t.clone(),
        _ => unreachable!(),
    }
}

/// The first frame `wanted` accepts, skipping the others; panics after 15 s.
pub async fn until(socket: &mut Socket, wanted: impl Fn(&Value) -> bool) -> Value {
    tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            let frame = next(socket).await;
            if wanted(&frame) {
                return frame;
            }
        }
    })
    .await
    .expect("the awaited frame within 15 s")
}

/// The event a frame carries, read as the protocol's own type (`None` for other frames).
pub fn event_of(frame: &Value) -> Option<HubEvent> {
    match serde_json::from_value::<ServerFrame>(frame.clone()).ok()? {
        ServerFrame::Event { event, .. } => Some(event),
        _ => None,
    }
}

/// Whether `frame` is an event `wanted` accepts. Events are named by their variants
/// (`matches!(e, HubEvent::MessageStored { .. })`), so an expectation cannot misspell a kind,
/// and a frame the protocol's types do not read fails to match.
pub fn is_event(frame: &Value, wanted: impl Fn(&HubEvent) -> bool) -> bool {
    event_of(frame).is_some_and(|e| wanted(&e))
}

/// The first event `wanted` accepts (see [`is_event`]), skipping other frames; panics after
/// 15 s. The frame is returned as received, for assertions on its exact JSON.
pub async fn until_event(socket: &mut Socket, wanted: impl Fn(&HubEvent) -> bool) -> Value {
    until(socket, |f| is_event(f, &wanted)).await
}
