//! `standard`: the Standard Webhooks envelope `{"type", "timestamp", "data"}`.
use serde_json::{Map, Value, json};

use super::{JSON, RenderError, Rendered};
use crate::domain::event::Event;

pub fn render(event: &Event) -> Result<Rendered, RenderError> {
    let mut data = match serde_json::to_value(event) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    data.remove("type");
    data.remove("occurred_at");
    let body = json!({
        "type": event.kind.as_str(),
        "timestamp": event.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": Value::Object(data),
    });
    Ok(Rendered {
        content_type: JSON,
        body: serde_json::to_vec(&body).unwrap_or_default(),
        headers: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_envelope_carries_type_timestamp_and_data() {
        let event = Event::from_json(json!({
            "id": "e1", "type": "lead.captured", "occurred_at": "2024-01-02T03:04:05Z",
            "lead": {"name": "John Carter", "email": "john.carter@outlook.com"}
        }))
        .unwrap();
        let out = render(&event).unwrap();
        let body: Value = serde_json::from_slice(&out.body).unwrap();
        assert_eq!(body["type"], "lead.captured");
        assert_eq!(body["timestamp"], "2024-01-02T03:04:05.000Z");
        assert_eq!(body["data"]["id"], "e1");
        assert_eq!(body["data"]["lead"]["name"], "John Carter");
        assert!(body["data"].get("type").is_none());
        assert_eq!(out.content_type, "application/json");
    }
}
