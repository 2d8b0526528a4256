//! Every payload keeps its platform's key set whatever the event lacks. Each
//! event type is rendered with the least data the intake accepts (parsed
//! from JSON text by the intake's own parser), in every format that renders
//! it, and each payload's keys, nested objects and array elements included,
//! are compared with the golden payload of that format and type.
use serde_json::{Value, json};
use std::collections::BTreeMap;

use super::golden_tests::{Golden, body_json, cases, integration};
use super::render;
use crate::domain::catalogue::EventType;
use crate::domain::event::Event;
use crate::domain::integration::{Format, FormatOptions};

const AT: &str = "2024-01-02T03:04:05Z";
const AUTHOR_TYPES: [&str; 5] = ["visitor", "agent", "supervisor", "bot", "system"];

fn least_message(author_type: &str) -> Value {
    json!({"author_type": author_type, "text": "", "sent_at": AT})
}

/// The least JSON the intake accepts for `kind`, one per message author
/// type for the message events: no id, no time, only required sections,
/// each with only its required fields.
pub(crate) fn least(kind: EventType) -> Vec<Value> {
    use EventType::*;
    let chat = ("chat", json!({"id": "c"}));
    let sections = match kind {
        ChatStarted | ChatQueued | ChatTaken | ChatClosed | ChatTagsChanged => vec![chat],
        ChatForwarded => vec![chat, ("forward", json!({}))],
        MessageVisitor | MessageAgent => {
            return AUTHOR_TYPES
                .iter()
                .map(|a| json!({"type": kind.as_str(), "chat": {"id": "c"}, "message": least_message(a)}))
                .collect();
        }
        OfflineMessage => vec![("offline_message", json!({"message": "", "sent_at": AT}))],
        LeadCaptured => vec![("lead", json!({}))],
        TicketCreated => vec![("ticket", json!({"id": "t"}))],
        CannedResponseChanged => vec![(
            "canned_response",
            json!({"id": 1, "text": "", "modified_at": AT}),
        )],
        WebhookTest => vec![],
    };
    let mut event = json!({"type": kind.as_str()});
    for (name, section) in sections {
        event[name] = section;
    }
    vec![event]
}

/// `kind` with every section and one element of every kind in each list,
/// each carrying only its required fields.
pub(crate) fn sparse(kind: EventType) -> Value {
    let mut messages: Vec<Value> = AUTHOR_TYPES.iter().map(|a| least_message(a)).collect();
    let mut whisper = least_message("agent");
    whisper["whisper"] = json!(true);
    messages.push(whisper);
    json!({
        "type": kind.as_str(),
        "chat": {"id": "c", "messages": messages,
                 "agents": [{"id": "a1"}], "groups": [{"id": "g1"}]},
        "visitor": {"id": "v"},
        "agent": {"id": "a2"},
        "message": least_message(if kind == EventType::MessageAgent { "agent" } else { "visitor" }),
        "pre_chat_survey": [{"id": "q1", "type": "name", "label": "Name"},
                            {"id": "q2", "type": "checkbox", "label": "Pick"}],
        "offline_message": {"message": "", "sent_at": AT},
        "lead": {},
        "ticket": {"id": "t", "events": [{"date": AT, "type": "status_changed"}], "groups": [{"id": 0}]},
        "canned_response": {"id": 1, "text": "", "modified_at": AT},
        "forward": {"to_agent": {"id": "a3"}},
        "tags_change": {}
    })
}

/// Through the intake's parser, from the text.
fn parse(event: &Value) -> Event {
    Event::parse(&event.to_string()).unwrap_or_else(|e| panic!("{event}: {e}"))
}

/// Every event each type is rendered from, named.
fn events(kind: EventType) -> Vec<(String, Event)> {
    let mut all: Vec<(String, Event)> = least(kind)
        .iter()
        .map(|e| (format!("least {e}"), parse(e)))
        .collect();
    all.push((format!("sparse {}", kind.as_str()), parse(&sparse(kind))));
    all
}

/// Every key path of `value` (`chat.messages[].text`) but the last's.
fn key_paths(value: &Value, path: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, sub) in map {
                let here = format!("{path}.{key}");
                out.push(here.clone());
                key_paths(sub, &here, out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                key_paths(item, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// `value` without the key at `path` (as `key_paths` writes it).
fn without(value: &Value, path: &str) -> Value {
    let mut copy = value.clone();
    let pointer: String = path
        .replace('[', ".")
        .replace(']', "")
        .split('.')
        .skip(1)
        .map(|part| format!("/{part}"))
        .collect();
    let (parent, key) = pointer.rsplit_once('/').unwrap_or_default();
    if let Some(Value::Object(map)) = copy.pointer_mut(parent) {
        map.remove(key);
    }
    copy
}

#[test]
fn the_least_events_are_the_least_the_intake_accepts() {
    for kind in EventType::ALL {
        for event in least(kind) {
            // GIVEN the least event of a type, accepted by the intake's parser
            parse(&event);
            let mut paths = Vec::new();
            key_paths(&event, "", &mut paths);
            for path in paths.iter().filter(|p| *p != ".type") {
                // WHEN any one of its keys is taken away THEN the intake refuses it
                let smaller = without(&event, path);
                assert_ne!(smaller, event, "{path}");
                assert!(
                    Event::parse(&smaller.to_string()).is_err(),
                    "{kind}: accepted without {path}: {smaller}"
                );
            }
        }
    }
}

/// The objects of a format whose keys are data (custom fields, operators by id).
fn maps(format: Format) -> &'static [&'static str] {
    match format {
        Format::Rocketchat => &["customFields"],
        Format::Olark => &["customFields", "operators"],
        Format::Livechat | Format::Amplifyreach | Format::Standard => &[],
    }
}

fn is_map(format: Format, path: &str) -> bool {
    let last = path.rsplit(['.', '[', '{']).next().unwrap_or_default();
    maps(format).contains(&last)
}

/// Each array element and map value of a format's golden payloads, by path
/// (`.messages[]`, `.operators{}`): an element's keys are fixed per kind of
/// element, whichever payload it is in.
type Elements = BTreeMap<String, Vec<Value>>;

fn collect_elements(format: Format, path: &str, value: &Value, out: &mut Elements) {
    match value {
        Value::Object(map) if is_map(format, path) => {
            for sub in map.values() {
                let here = format!("{path}{{}}");
                out.entry(here.clone()).or_default().push(sub.clone());
                collect_elements(format, &here, sub, out);
            }
        }
        Value::Object(map) => {
            for (key, sub) in map {
                collect_elements(format, &format!("{path}.{key}"), sub, out);
            }
        }
        Value::Array(items) => {
            let here = format!("{path}[]");
            for item in items {
                out.entry(here.clone()).or_default().push(item.clone());
                collect_elements(format, &here, item, out);
            }
        }
        _ => {}
    }
}

/// `actual` has `expected`'s keys at every level; each array element and map
/// value the keys of one element of its kind in the golden payloads; scalars
/// the same JSON type unless either is `null` (never in place of an object or
/// a list).
fn same_keys(
    format: Format,
    elements: &Elements,
    path: &str,
    actual: &Value,
    expected: &Value,
) -> Result<(), String> {
    let one_of = |here: String, item: &Value| -> Result<(), String> {
        let mut errors = Vec::new();
        for candidate in elements.get(&here).into_iter().flatten() {
            match same_keys(format, elements, &here, item, candidate) {
                Ok(()) => return Ok(()),
                Err(e) => errors.push(e),
            }
        }
        Err(format!(
            "{here}: {item} has the keys of no golden element {errors:#?}"
        ))
    };
    match (actual, expected) {
        // An object or a list is never replaced by `null`.
        (Value::Null, Value::Object(_) | Value::Array(_)) => {
            Err(format!("{path}: null where the platform has {expected}"))
        }
        (Value::Null, _) | (_, Value::Null) => Ok(()),
        (Value::Object(a), Value::Object(_)) if is_map(format, path) => a
            .values()
            .try_for_each(|v| one_of(format!("{path}{{}}"), v)),
        (Value::Object(a), Value::Object(e)) => {
            let (ak, ek): (Vec<_>, Vec<_>) = (a.keys().collect(), e.keys().collect());
            if ak != ek {
                return Err(format!("{path}: keys {ak:?}, the platform's {ek:?}"));
            }
            e.iter().try_for_each(|(k, ev)| {
                same_keys(format, elements, &format!("{path}.{k}"), &a[k], ev)
            })
        }
        (Value::Array(a), Value::Array(_)) => {
            a.iter().try_for_each(|v| one_of(format!("{path}[]"), v))
        }
        (Value::String(_), Value::String(_))
        | (Value::Number(_), Value::Number(_))
        | (Value::Bool(_), Value::Bool(_)) => Ok(()),
        _ => Err(format!(
            "{path}: {actual} where the platform has {expected}"
        )),
    }
}

#[test]
fn every_platform_payload_keeps_its_key_set_whatever_the_event_lacks() {
    let goldens: Vec<(Format, &str, Golden)> = cases()
        .into_iter()
        .map(|(format, name, raw)| (format, name, serde_json::from_str(raw).unwrap()))
        .collect();
    let mut elements: BTreeMap<&str, Elements> = BTreeMap::new();
    for (format, _, golden) in &goldens {
        let pool = elements.entry(format.as_str()).or_default();
        collect_elements(*format, "", &golden.expected, pool);
    }
    let mut rendered = 0;
    for (format, name, golden) in &goldens {
        let kind: EventType = serde_json::from_value(golden.event["type"].clone()).unwrap();
        let integration = integration(*format, golden.format_options.clone());
        for (label, event) in events(kind) {
            // WHEN the least event of the golden case's type is rendered with its options
            let out =
                render(&event, &integration).unwrap_or_else(|e| panic!("{name}, {label}: {e}"));
            let actual = body_json(*format, &out);
            // THEN the payload has the golden payload's keys, at every level
            same_keys(
                *format,
                &elements[format.as_str()],
                "",
                &actual,
                &golden.expected,
            )
            .unwrap_or_else(|e| panic!("{name}, {label}:\n{e}\n{actual:#}"));
            rendered += 1;
        }
    }
    // AND every type each platform format renders was covered
    for format in Format::ALL.into_iter().filter(|f| *f != Format::Standard) {
        for kind in EventType::ALL.into_iter().filter(|k| format.supports(*k)) {
            let covered = goldens
                .iter()
                .any(|(f, _, g)| *f == format && g.event["type"] == kind.as_str());
            assert!(covered, "no golden {format:?} payload of {kind}");
        }
    }
    assert!(rendered >= 2 * goldens.len(), "{rendered}");
}

#[test]
fn standard_carries_every_least_event_whole() {
    let integration = integration(Format::Standard, FormatOptions::default());
    for kind in EventType::ALL {
        for (label, event) in events(kind) {
            // WHEN the least event of a type is rendered in `standard`
            let out = render(&event, &integration).unwrap_or_else(|e| panic!("{label}: {e}"));
            let body: Value = serde_json::from_slice(&out.body).unwrap();
            // THEN the envelope has its three keys, and `data` with the
            // envelope's type and time is the event as the intake accepted it
            let keys: Vec<&str> = body
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(keys, ["data", "timestamp", "type"], "{label}");
            let mut data = body["data"].clone();
            data["type"] = body["type"].clone();
            data["occurred_at"] = body["timestamp"].clone();
            let back = Event::parse(&data.to_string()).unwrap_or_else(|e| panic!("{label}: {e}"));
            use chrono::SubsecRound;
            let expected = Event {
                occurred_at: event.occurred_at.trunc_subsecs(3),
                ..event.clone()
            };
            assert_eq!(back, expected, "{label}");
        }
    }
}
