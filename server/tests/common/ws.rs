//! A WebSocket client for the tests: connect with a bearer token, read the next text frame, send.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::Value;
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

/// Whether `frame` is an event of `kind`.
pub fn is(frame: &Value, kind: &str) -> bool {
    frame["type"] == "event" && frame["event"]["kind"] == kind
}
