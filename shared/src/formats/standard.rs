//! `standard`: the Standard Webhooks envelope `{"type", "timestamp", "data"}`.
//! Keys are in byte order at every level (as the canonical event's
//! `serde_json::Value` form had them), written straight into the body.
use serde::Serialize;

use super::common::{iso_millis, json};
use super::sorted_event::Sorted;
use super::{RenderError, Rendered};
use crate::domain::event::Event;

#[derive(Serialize)]
struct Envelope<'a> {
    data: Sorted<'a, Event>,
    timestamp: String,
    #[serde(rename = "type")]
    kind: &'static str,
}

pub fn render(event: &Event) -> Result<Rendered, RenderError> {
    let envelope = Envelope {
        data: Sorted(event),
        timestamp: iso_millis(event.occurred_at),
        kind: event.kind.as_str(),
    };
    Ok(json(&envelope, Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::golden_tests::{Golden, cases};
    use serde_json::{Map, Value, json};
    use std::collections::BTreeSet;

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

    /// The body as it was built before: the event's `Value` (sorted maps)
    /// without `type` and `occurred_at`, inside the envelope.
    fn via_value(event: &Event) -> Vec<u8> {
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
        serde_json::to_vec(&body).unwrap()
    }

    /// An event with every field of every section set (and strings that
    /// need escaping).
    fn full_event() -> Value {
        let agent = |id: &str| json!({"id": id, "name": "Ann \"A\" Lee", "username": "ann", "email": "ann@example.com"});
        json!({
            "id": "evt_full", "type": "chat.forwarded", "occurred_at": "2024-05-06T07:08:09.123456789Z",
            "chat": {
                "id": "c1", "started_at": "2024-05-06T07:00:00Z", "ended_at": "2024-05-06T07:08:09.5Z",
                "last_message_at": "2024-05-06T07:08:00.001Z", "topic": "Billing\n", "label": "VIP",
                "code": -42, "department": "sales", "tags": ["a", "é"],
                "custom_fields": {"plan": "gold", "A": "</script>"},
                "messages": [
                    {"id": "m1", "author_type": "visitor", "author_id": "v1", "author_name": "Bob",
                     "author_username": "bob", "text": "héllo \u{1F600} \t\u{0001}", "sent_at": "2024-05-06T07:01:00Z", "whisper": true},
                    {"author_type": "system", "text": "", "sent_at": "2024-05-06T07:02:00Z"}
                ],
                "groups": [{"id": "g1", "name": "Sales"}, {"id": "g2"}],
                "agents": [agent("a1"), {"id": "a2"}]
            },
            "visitor": {
                "id": "v1", "name": "Bob", "username": "bob", "email": "bob@example.com", "phone": "+1 555",
                "ip": "203.0.113.7", "browser": "Firefox", "os": "Linux", "city": "Paris", "region": "IDF",
                "country": "France", "country_code": "FR", "custom_fields": {"k": "v"}
            },
            "agent": agent("a1"),
            "message": {"id": "m3", "author_type": "agent", "author_id": "a1", "author_name": "Ann",
                        "author_username": "ann", "text": "hi", "sent_at": "2024-05-06T07:03:00Z", "whisper": true},
            "pre_chat_survey": [
                {"id": "q1", "type": "name", "label": "Name", "answer": "Bob"},
                {"id": "q2", "type": "checkbox", "label": "Pick", "answers": [{"label": "x", "chosen": true}, {"label": "y", "chosen": false}]}
            ],
            "offline_message": {"name": "Bob", "email": "bob@example.com", "department": "sales", "message": "call me", "sent_at": "2024-05-06T07:04:00Z"},
            "lead": {"name": "Bob", "email": "bob@example.com", "phone": "+1 555", "custom_fields": {"src": "ad"}},
            "ticket": {
                "id": "t1", "subject": "Help", "status": "open", "assignee": {"id": "p1", "name": "Pat"},
                "requester": {"email": "bob@example.com", "name": "Bob"},
                "events": [
                    {"author": {"id": "p1", "name": "Pat", "type": "agent"}, "date": "2024-05-06T07:05:00Z", "is_private": true,
                     "message": "noted", "source": {"type": "mail", "url": "https://example.com/t", "id": "s1"}, "type": "message"},
                    {"date": "2024-05-06T07:06:00Z", "type": "status_changed", "source": {"type": "chat"}}
                ],
                "groups": [{"id": 7, "name": "Support"}], "tags": ["t"], "source": {"type": "lc2", "url": null, "id": "x"}
            },
            "canned_response": {"id": 3, "group": 1, "text": "Thanks!", "tags": ["thx"], "modified_at": "2024-05-06T07:07:00Z"},
            "forward": {"from_agent": agent("a0"), "to_agent": agent("a1"), "from_department": "support", "to_department": "sales", "comment": "over to you"},
            "tags_change": {"added": ["new"], "removed": ["old"]}
        })
    }

    #[test]
    fn the_body_is_byte_for_byte_the_value_route() {
        // GIVEN a full event, a bare one and every golden case's event
        let mut events = vec![
            Event::from_json(full_event()).unwrap(),
            Event::from_json(
                json!({"id": "e", "type": "webhook.test", "occurred_at": "2024-01-01T00:00:00Z"}),
            )
            .unwrap(),
        ];
        for (_, name, raw) in cases() {
            let golden: Golden = serde_json::from_str(raw).unwrap();
            let event: Event =
                serde_json::from_value(golden.event).unwrap_or_else(|e| panic!("{name}: {e}"));
            events.push(event);
        }
        for event in events {
            // WHEN rendered THEN the bytes are those of the Value route
            let out = render(&event).unwrap();
            assert_eq!(
                String::from_utf8(out.body).unwrap(),
                String::from_utf8(via_value(&event)).unwrap(),
                "{}",
                event.id
            );
        }
    }

    /// Every property path the event's JSON schema declares
    /// (`chat.messages[].text`), following `$ref`s.
    fn schema_paths(schema: &Value, defs: &Value, path: &str, out: &mut BTreeSet<String>) {
        if let Some(name) = schema["$ref"].as_str().and_then(|r| r.rsplit('/').next()) {
            return schema_paths(&defs[name], defs, path, out);
        }
        for (key, sub) in schema["properties"].as_object().into_iter().flatten() {
            let here = format!("{path}.{key}");
            out.insert(here.clone());
            schema_paths(sub, defs, &here, out);
        }
        if let Some(items) = schema.get("items") {
            schema_paths(items, defs, &format!("{path}[]"), out);
        }
        for choices in ["anyOf", "oneOf", "allOf"] {
            for sub in schema[choices].as_array().into_iter().flatten() {
                schema_paths(sub, defs, path, out);
            }
        }
    }

    fn value_paths(value: &Value, path: &str, out: &mut BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                for (key, sub) in map {
                    let here = format!("{path}.{key}");
                    out.insert(here.clone());
                    value_paths(sub, &here, out);
                }
            }
            Value::Array(items) => items
                .iter()
                .for_each(|v| value_paths(v, &format!("{path}[]"), out)),
            _ => {}
        }
    }

    #[test]
    fn the_full_event_sets_every_field_the_event_has() {
        // GIVEN the event's schema and the full event, as the domain serializes it
        let schema = serde_json::to_value(schemars::schema_for!(Event)).unwrap();
        let mut declared = BTreeSet::new();
        schema_paths(&schema, &schema["$defs"], "", &mut declared);
        let event = Event::from_json(full_event()).unwrap();
        let mut set = BTreeSet::new();
        value_paths(&serde_json::to_value(&event).unwrap(), "", &mut set);
        // THEN it sets them all: a field added to the event must join
        // `full_event` and `sorted_event`, or `standard` would leave it out
        let unset: Vec<_> = declared.difference(&set).collect();
        assert!(declared.len() > 80, "{declared:?}");
        assert!(unset.is_empty(), "the full event lacks {unset:?}");
    }
}
