//! `standard`: the Standard Webhooks envelope `{"type", "timestamp", "data"}`,
//! `data` the canonical event as accepted, without the `type` and
//! `occurred_at` the envelope carries. Every nested object serializes through
//! the domain's own derives.
use serde::Serialize;

use super::common::{iso_millis, json};
use super::{RenderError, Rendered};
use crate::domain::event::{
    Agent, CannedResponse, Chat, ChatMessage, Event, Forward, Lead, OfflineMessage, SurveyAnswer,
    TagsChange, Ticket, Visitor,
};
use crate::domain::ids::EventId;

#[derive(Serialize)]
struct Envelope<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    timestamp: String,
    data: Data<'a>,
}

/// The event's sections, skipped as the event's own `Serialize` skips them
/// (a test compares the two).
#[derive(Serialize)]
struct Data<'a> {
    id: &'a EventId,
    #[serde(skip_serializing_if = "Option::is_none")]
    chat: Option<&'a Chat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    visitor: Option<&'a Visitor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    agent: Option<&'a Agent>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a ChatMessage>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pre_chat_survey: &'a [SurveyAnswer],
    #[serde(skip_serializing_if = "Option::is_none")]
    offline_message: Option<&'a OfflineMessage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lead: Option<&'a Lead>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ticket: Option<&'a Ticket>,
    #[serde(skip_serializing_if = "Option::is_none")]
    canned_response: Option<&'a CannedResponse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    forward: Option<&'a Forward>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tags_change: Option<&'a TagsChange>,
}

pub fn render(event: &Event) -> Result<Rendered, RenderError> {
    let envelope = Envelope {
        kind: event.kind.as_str(),
        timestamp: iso_millis(event.occurred_at),
        data: Data {
            id: &event.id,
            chat: event.chat.as_ref(),
            visitor: event.visitor.as_ref(),
            agent: event.agent.as_ref(),
            message: event.message.as_ref(),
            pre_chat_survey: &event.pre_chat_survey,
            offline_message: event.offline_message.as_ref(),
            lead: event.lead.as_ref(),
            ticket: event.ticket.as_ref(),
            canned_response: event.canned_response.as_ref(),
            forward: event.forward.as_ref(),
            tags_change: event.tags_change.as_ref(),
        },
    };
    Ok(json(&envelope, Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::golden_tests::{Golden, cases};
    use chrono::SubsecRound;
    use serde_json::{Value, json};
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

    /// The event back from a body: `data` with the envelope's `type` and
    /// `timestamp` put back.
    fn parsed_back(body: &[u8]) -> (Value, Event) {
        let body: Value = serde_json::from_slice(body).unwrap();
        let mut data = body["data"].as_object().unwrap().clone();
        data.insert("type".into(), body["type"].clone());
        data.insert("occurred_at".into(), body["timestamp"].clone());
        let event = serde_json::from_value(Value::Object(data)).unwrap();
        (body, event)
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
    fn data_is_the_event_as_it_serializes_without_type_and_occurred_at() {
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
            // WHEN rendered
            let out = render(&event).unwrap();
            let (body, back) = parsed_back(&out.body);
            // THEN `data` holds exactly what the event serializes to, less the
            // envelope's two fields, and the event comes back whole (to the millisecond)
            let mut expected = serde_json::to_value(&event).unwrap();
            let expected = expected.as_object_mut().unwrap();
            expected.remove("type");
            expected.remove("occurred_at");
            assert_eq!(
                body["data"],
                Value::Object(expected.clone()),
                "{}",
                event.id
            );
            let whole = Event {
                occurred_at: event.occurred_at.trunc_subsecs(3),
                ..event.clone()
            };
            assert_eq!(back, whole);
            // AND the envelope's keys come first, in the spec's order
            let text = String::from_utf8(out.body).unwrap();
            assert!(text.starts_with(r#"{"type":""#), "{text}");
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
        // `full_event` and `standard::Data`, or `standard` would leave it out
        let unset: Vec<_> = declared.difference(&set).collect();
        assert!(declared.len() > 80, "{declared:?}");
        assert!(unset.is_empty(), "the full event lacks {unset:?}");
    }
}
