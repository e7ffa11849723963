//! The demo's stand-in for agents: until the inbox exists, answer simulated customers so that a
//! new user sees the whole loop in the logs (message in, read receipt and typing indicator, reply
//! out, status ticks back). Only started with the built-in simulator; never against real numbers.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::outbound::Outbound;
use super::outbox::{NewSend, Outbox};
use super::Events;
use crate::connector::wire::{Content, Interactive};
use crate::domain::DomainEvent;

pub fn spawn(
    outbound: Arc<Outbound>,
    outbox: Outbox,
    events: &Events,
    shutdown: CancellationToken,
) {
    let mut rx = events.subscribe("demo");
    tokio::spawn(async move {
        let mut answered = 0u64;
        loop {
            let event = tokio::select! {
                _ = shutdown.cancelled() => return,
                event = rx.recv() => event,
            };
            let (tenant, message) = match event {
                Ok(DomainEvent::MessageReceived {
                    tenant, message, ..
                }) => (tenant, message),
                Ok(_) => continue,
                Err(RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "demo responder fell behind; skipping");
                    continue;
                }
                Err(RecvError::Closed) => return,
            };
            if message.kind == "reaction" {
                continue;
            }
            answered += 1;
            let outbound = Arc::clone(&outbound);
            let outbox = outbox.clone();
            let reply = reply_for(message.text.as_deref().unwrap_or(""), answered);
            tokio::spawn(async move {
                let _ = outbound
                    .mark_read(&tenant, &message.number, &message.wamid, true)
                    .await;
                tokio::time::sleep(Duration::from_millis(700)).await;
                let key = format!("demo-{}", message.key);
                if let Err(error) = outbox
                    .enqueue(NewSend {
                        tenant: &tenant,
                        number: &message.number,
                        customer: &message.customer,
                        content: reply,
                        text: None,
                        reply_to: Some(&message.wamid),
                        author: "demo",
                        client_key: Some(&key),
                    })
                    .await
                {
                    tracing::warn!(%error, "demo reply failed");
                }
            });
        }
    });
}

fn reply_for(text: &str, n: u64) -> Content {
    let cyrillic = text.chars().any(|c| ('\u{0400}'..='\u{04FF}').contains(&c));
    let arabic = text.chars().any(|c| ('\u{0600}'..='\u{06FF}').contains(&c));
    let (thanks, track, agent) = if cyrillic {
        ("Спасибо! Оператор скоро ответит.", "Где заказ?", "Оператор")
    } else if arabic {
        (
            "شكرا لك! سيرد عليك أحد الموظفين قريبا.",
            "تتبع الطلب",
            "موظف",
        )
    } else {
        (
            "Thanks! An agent will be with you shortly.",
            "Track order",
            "Talk to agent",
        )
    };
    if n.is_multiple_of(3) {
        Content::interactive(Interactive::buttons(
            thanks,
            &[("track", track), ("agent", agent)],
        ))
    } else {
        Content::text(thanks)
    }
}
