//! Events the benchmarks post and render.
use serde_json::{Value, json};

/// A closed chat of `messages` messages (12: about 2 KB of JSON, as in the criterion benches).
pub fn closed_chat(id: &str, messages: usize) -> Value {
    let msgs: Vec<Value> = (0..messages)
        .map(|i| {
            let (author_type, name) = if i % 2 == 0 { ("visitor", "Mary Brown") } else { ("agent", "John Doe") };
            json!({
                "author_type": author_type, "author_id": format!("user-{}", i % 2), "author_name": name,
                "text": format!("Message number {i} about the order status and the delivery window, thanks a lot."),
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
