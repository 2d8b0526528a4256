//! Events the benchmarks post and render.
use serde_json::{Value, json};

/// Words for the messages' text: varied enough that the transcript
/// compresses like real chat text (about 2.5-3x), not like one repeated line.
const WORDS: &[&str] = &[
    "order",
    "parcel",
    "tracking",
    "number",
    "refund",
    "invoice",
    "shipping",
    "warehouse",
    "yesterday",
    "tomorrow",
    "Monday",
    "address",
    "street",
    "courier",
    "damaged",
    "replacement",
    "account",
    "password",
    "email",
    "discount",
    "coupon",
    "checkout",
    "payment",
    "card",
    "declined",
    "subscription",
    "cancel",
    "upgrade",
    "plan",
    "delivery",
    "window",
    "morning",
    "afternoon",
    "evening",
    "please",
    "thanks",
    "sorry",
    "could",
    "would",
    "check",
    "status",
    "still",
    "arrived",
    "missing",
    "size",
    "colour",
    "exchange",
    "return",
    "label",
    "printer",
    "store",
    "pickup",
    "weekend",
    "holiday",
    "receive",
    "total",
    "charged",
    "twice",
    "bank",
    "statement",
    "agent",
    "supervisor",
    "ticket",
    "escalate",
    "urgent",
    "gift",
    "wrapping",
    "note",
    "message",
    "phone",
    "call",
    "back",
    "later",
    "today",
    "minutes",
    "hours",
    "days",
    "week",
    "confirm",
    "details",
    "name",
    "surname",
    "postcode",
    "city",
    "country",
    "box",
    "product",
    "warranty",
    "broken",
    "screen",
    "battery",
    "charger",
    "cable",
    "manual",
];

/// The `i`th message's text: 5-10 words picked by a fixed linear congruential sequence.
fn sentence(i: usize) -> String {
    let mut state = (i as u64)
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize
    };
    let count = 5 + next() % 6;
    let words: Vec<&str> = (0..count).map(|_| WORDS[next() % WORDS.len()]).collect();
    format!("{} #{}.", words.join(" "), 1000 + next() % 9000)
}

/// A closed chat of `messages` messages (12: about 2 KB of JSON, as in the criterion benches).
pub fn closed_chat(id: &str, messages: usize) -> Value {
    let msgs: Vec<Value> = (0..messages)
        .map(|i| {
            let (author_type, name) = if i % 2 == 0 { ("visitor", "Mary Brown") } else { ("agent", "John Doe") };
            json!({
                "author_type": author_type, "author_id": format!("user-{}", i % 2), "author_name": name,
                "text": sentence(i),
                "sent_at": "2026-11-21T10:00:00Z"
            })
        })
        .collect();
    json!({
        "id": id, "type": "chat.closed", "occurred_at": "2026-11-21T10:30:00Z",
        "chat": {"id": format!("chat-{id}"), "started_at": "2026-11-21T10:00:00Z", "ended_at": "2026-11-21T10:30:00Z",
                 "topic": "orders", "tags": ["sales", "support"], "messages": msgs},
        "visitor": {"id": "v-1", "name": "Mary Brown", "email": "mary.brown@email.com", "ip": "203.0.113.9", "browser": "Chrome", "os": "Linux"},
        "agent": {"id": "a-1", "name": "John Doe", "username": "john.doe", "email": "john@example.com"}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_short_chat_is_about_two_kilobytes_of_varied_text() {
        let json = closed_chat("e", 12).to_string();
        assert!((1800..3200).contains(&json.len()), "{}", json.len());
        assert_ne!(sentence(1), sentence(2));
    }
}
