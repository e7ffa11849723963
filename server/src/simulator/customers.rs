//! Simulated customers who write in on their own: a small multilingual crowd (Russian, English,
//! Arabic, emoji) sending text, photos with captions, locations and reactions to the business's
//! last reply, at random intervals around the configured mean.

use std::sync::Arc;
use std::time::Duration;

use rand::seq::IndexedRandom as _;
use rand::Rng as _;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use super::state::SimState;
use super::CustomerBehaviour;

struct Persona {
    name: &'static str,
    country_prefix: &'static str,
    lines: &'static [&'static str],
    captions: &'static [&'static str],
}

const PERSONAS: &[Persona] = &[
    Persona {
        name: "Анна Смирнова",
        country_prefix: "7916",
        lines: &[
            "Здравствуйте! Где мой заказ?",
            "Можно изменить адрес доставки?",
            "А синий цвет снова будет в наличии?",
            "Спасибо, всё получила 👍",
            "Когда вы открываетесь завтра?",
        ],
        captions: &["Вот фото упаковки", "Пришло вот так 😕"],
    },
    Persona {
        name: "Emily Carter",
        country_prefix: "1650",
        lines: &[
            "Hi! Is the blue one back in stock?",
            "Can I change my delivery address?",
            "What time do you open tomorrow?",
            "Thanks so much, that helps 🙏",
            "My order hasn't arrived yet, can you check?",
        ],
        captions: &["This is what arrived", "Receipt attached"],
    },
    Persona {
        name: "عمر الفارسي",
        country_prefix: "9715",
        lines: &[
            "مرحبا، متى يصل طلبي؟",
            "هل يمكنني تغيير عنوان التوصيل؟",
            "هل لديكم هذا المنتج بلون آخر؟",
            "شكرا جزيلا 🌹",
        ],
        captions: &["هذه صورة الطلب"],
    },
    Persona {
        name: "Dmitri 🚀",
        country_prefix: "4915",
        lines: &["👋", "🔥🔥🔥", "❤️", "?", "ok 👌"],
        captions: &["📦"],
    },
];

/// A 1×1 PNG, uploaded as the customers' photos.
const TINY_PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

pub fn spawn(state: Arc<SimState>, behaviour: CustomerBehaviour, shutdown: CancellationToken) {
    let chatting: Vec<String> = state
        .config
        .numbers
        .iter()
        .filter(|n| n.chatting)
        .map(|n| n.phone_number_id.clone())
        .collect();
    if behaviour.count == 0 || chatting.is_empty() {
        return;
    }
    let crowd: Vec<(String, &'static Persona)> = (0..behaviour.count)
        .map(|i| {
            let persona = &PERSONAS[i % PERSONAS.len()];
            let suffix: u32 = rand::rng().random_range(1_000_000..9_999_999);
            (format!("{}{suffix}", persona.country_prefix), persona)
        })
        .collect();
    tokio::spawn(async move {
        loop {
            let mean = behaviour.interval.as_millis().max(1) as u64;
            let pause = Duration::from_millis(rand::rng().random_range(mean / 2..=mean + mean / 2));
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(pause) => {}
            }
            let (wa_id, persona, number, roll) = {
                let mut rng = rand::rng();
                let (wa_id, persona) = crowd.choose(&mut rng).expect("the crowd is not empty");
                let number = chatting.choose(&mut rng).expect("numbers are not empty");
                (
                    wa_id.clone(),
                    *persona,
                    number.clone(),
                    rng.random_range(0..100),
                )
            };
            let message = match roll {
                0..=9 => {
                    let id = state.store_media(&number, TINY_PNG.to_vec(), "image/png".into());
                    let caption = *persona.captions.choose(&mut rand::rng()).unwrap_or(&"");
                    json!({"type": "image", "image": {
                        "caption": caption, "mime_type": "image/png",
                        "sha256": hex::encode(Sha256::digest(TINY_PNG)), "id": id}})
                }
                10..=14 => json!({"type": "location", "location": {
                    "latitude": 55.7558, "longitude": 37.6173, "name": "Red Square", "address": "Moscow"}}),
                15..=24 => match state.last_outbound(&number, &wa_id) {
                    Some(wamid) => {
                        json!({"type": "reaction", "reaction": {"message_id": wamid, "emoji": "👍"}})
                    }
                    None => text(persona),
                },
                _ => text(persona),
            };
            state.inbound(&number, &wa_id, persona.name, message);
        }
    });
}

fn text(persona: &Persona) -> serde_json::Value {
    let line = *persona.lines.choose(&mut rand::rng()).unwrap_or(&"Hello");
    json!({"type": "text", "text": {"body": line}})
}
