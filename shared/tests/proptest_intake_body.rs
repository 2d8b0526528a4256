//! Property tests of the intake's body parser (`POST /v1/events`): arbitrary
//! bytes never panic it; an accepted body's events serialize back into a body
//! that parses to the same events (one object, or `{"events": [...]}`).
use chathooks::domain::intake_body::parse_events;
use proptest::prelude::*;
use serde_json::{Value, json};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn sample_event() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec![
            "chat.started",
            "chat.closed",
            "chat.queued",
            "webhook.test",
            "message.visitor",
            "nope",
        ]),
        prop::option::of("[!-~]{1,10}"),
        prop::option::of("[a-z0-9]{0,6}"),
        prop::option::of(".{0,20}"),
    )
        .prop_map(|(kind, id, chat, text)| {
            let mut e = json!({"type": kind});
            if let Some(id) = id {
                e["id"] = json!(id);
            }
            if let Some(chat) = chat {
                e["chat"] = json!({"id": chat});
            }
            if let Some(text) = text {
                e["message"] = json!({"author_type": "visitor", "text": text, "sent_at": "2026-11-21T10:00:00Z"});
            }
            e
        })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        sample_event().prop_map(|e| e.to_string().into_bytes()),
        prop::collection::vec(sample_event(), 0..5)
            .prop_map(|events| json!({ "events": events }).to_string().into_bytes()),
        (prop::collection::vec(sample_event(), 0..3), "[a-z]{1,6}").prop_map(|(events, extra)| {
            json!({ "events": events, extra: 1 })
                .to_string()
                .into_bytes()
        }),
        prop::collection::vec(any::<u8>(), 0..128),
        "[\\[\\]{}\",:0-9a-z ]{0,64}".prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_body_parses_or_is_refused_without_panicking(bytes in body()) {
        let Ok((events, batch)) = parse_events(&bytes) else { return Ok(()) };
        prop_assert!(!events.is_empty());
        prop_assert!(batch || events.len() == 1);
        // Ids are unique within a body.
        let mut ids: Vec<_> = events.iter().map(|e| e.id.clone()).collect();
        ids.sort();
        ids.dedup();
        prop_assert_eq!(ids.len(), events.len());
        // Round trip: the accepted events, serialized into a body of the same shape.
        let again = if batch {
            json!({ "events": events })
        } else {
            serde_json::to_value(&events[0]).map_err(|e| TestCaseError::fail(e.to_string()))?
        };
        let bytes = serde_json::to_vec(&again).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let (reparsed, batch_again) = parse_events(&bytes)
            .map_err(|e| TestCaseError::fail(format!("{again} no longer parses: {e}")))?;
        prop_assert_eq!(batch_again, batch);
        prop_assert_eq!(reparsed, events);
    }
}

#[test]
fn oversized_batches_and_duplicate_ids_are_refused() {
    let many: Vec<Value> = (0..101)
        .map(|i| json!({"id": format!("e{i}"), "type": "webhook.test"}))
        .collect();
    assert!(parse_events(json!({ "events": many }).to_string().as_bytes()).is_err());
    let dup = json!({"events": [{"id": "a", "type": "webhook.test"}, {"id": "a", "type": "webhook.test"}]});
    assert!(parse_events(dup.to_string().as_bytes()).is_err());
    let ok = json!({"events": [{"id": "a", "type": "webhook.test"}]});
    assert!(parse_events(ok.to_string().as_bytes()).is_ok());
}
