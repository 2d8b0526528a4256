//! Round trip: a platform's payload rendered by `formats` and parsed back by
//! that platform's source.
//!
//! 1. For every event a platform format renders (the least and the sparse
//!    event of each type, every golden event, generated transcripts), the
//!    event parsed back renders to the very same payload: the parser loses
//!    nothing the payload carries.
//! 2. For events that set every field (a rich event per type, generated
//!    transcripts), the event parsed back equals the event restricted to the
//!    fields the format carries ([`carried`], written down in FORMATS.md,
//!    "What a source gets back").
//! 3. Any post (random bytes, golden payloads with any node replaced) is
//!    parsed or refused, never a panic, and what is parsed the intake accepts.
use chrono::{DateTime, SubsecRound, Utc};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::{Platform, parse};
use crate::domain::catalogue::EventType;
use crate::domain::event::{Agent, AuthorType, ChatMessage, Event};
use crate::domain::integration::{Format, FormatOptions};
use crate::formats::golden_tests::{cases, integration};
use crate::formats::key_sets::{least, sparse};
use crate::formats::render;

const PLATFORMS: [(Format, Platform); 4] = [
    (Format::Rocketchat, Platform::Rocketchat),
    (Format::Livechat, Platform::Livechat),
    (Format::Olark, Platform::Olark),
    (Format::Amplifyreach, Platform::Amplifyreach),
];

/// The event types a platform format renders and its source parses back
/// (the "Send test" sample is not an event of the chat).
fn kinds(format: Format) -> impl Iterator<Item = EventType> {
    EventType::ALL
        .into_iter()
        .filter(move |k| *k != EventType::WebhookTest && format.supports(*k))
}

fn through(format: Format, platform: Platform, event: &Event) -> Result<(Vec<u8>, Event), String> {
    let integration = integration(format, FormatOptions::default());
    let out = render(event, &integration).map_err(|e| format!("render: {e}"))?;
    let back = parse(platform, Some(out.content_type), &out.body)
        .map_err(|e| format!("parse: {e}\n{}", String::from_utf8_lossy(&out.body)))?;
    Ok((out.body, back.event))
}

/// Property 1: the event parsed back renders to the same payload.
fn renders_the_same(format: Format, platform: Platform, label: &str, event: &Event) {
    let (body, back) = through(format, platform, event).unwrap_or_else(|e| panic!("{label}: {e}"));
    let (again, _) = through(format, platform, &back).unwrap_or_else(|e| panic!("{label}: {e}"));
    assert_eq!(
        String::from_utf8_lossy(&again),
        String::from_utf8_lossy(&body),
        "{format:?} {label}"
    );
}

/// Events a source of `format` cannot tell from another one (a payload
/// without the data the parser needs): refused with a 400, never guessed.
fn refused(format: Format, event: &Event) -> bool {
    let no_visitor_id = event.visitor.as_ref().is_none_or(|v| v.id.is_empty());
    match format {
        // A Message post of a message Rocket.Chat does not list (a whisper,
        // a system message) carries no message.
        Format::Rocketchat => event
            .message
            .as_ref()
            .is_some_and(|m| m.whisper || m.author_type == AuthorType::System),
        // `visitor_queued` carries only the visitor: without an id, no chat.
        Format::Livechat => event.kind == EventType::ChatQueued && no_visitor_id,
        Format::Olark | Format::Amplifyreach | Format::Standard => false,
    }
}

#[test]
fn what_a_source_parses_renders_to_the_same_payload() {
    let goldens: Vec<(String, Event)> = cases()
        .into_iter()
        .filter_map(|(_, name, raw)| {
            let golden: Value = serde_json::from_str(raw).unwrap();
            Event::from_json(golden["event"].clone())
                .ok()
                .map(|e| (format!("golden {name}"), e))
        })
        .collect();
    let mut checked = 0;
    for (format, platform) in PLATFORMS {
        for kind in kinds(format) {
            let mut events: Vec<(String, Event)> = least(kind)
                .into_iter()
                .chain([sparse(kind), rich(kind)])
                .map(|e| (e.to_string(), Event::from_json(e).unwrap()))
                .collect();
            events.extend(goldens.iter().filter(|(_, e)| e.kind == kind).cloned());
            for (label, event) in events {
                if refused(format, &event) {
                    // THEN the source names the problem instead of guessing
                    let err = through(format, platform, &event).unwrap_err();
                    assert!(err.starts_with("parse: "), "{format:?} {label}: {err}");
                    continue;
                }
                renders_the_same(format, platform, &label, &event);
                checked += 1;
            }
        }
    }
    assert!(checked > 60, "{checked}");
}

#[test]
fn what_a_source_parses_is_the_event_restricted_to_what_its_format_carries() {
    for (format, platform) in PLATFORMS {
        for kind in kinds(format) {
            let event = Event::from_json(rich(kind)).unwrap();
            let (_, back) = through(format, platform, &event).unwrap();
            assert_eq!(
                carried(format, &back),
                carried(format, &event),
                "{format:?} {kind}"
            );
            // AND the restriction is not empty: it carries the type at least
            assert_ne!(carried(format, &event), Value::Null);
        }
    }
}

const T0: &str = "2024-03-04T05:06:07Z";
const T1: &str = "2024-03-04T05:06:09Z";
const T2: &str = "2024-03-04T05:16:07Z";

fn agent() -> Value {
    json!({"id": "a1", "name": "Ann Agent", "username": "ann", "email": "ann@example.com"})
}

/// `kind` with every field its sections have set (no fallback applies).
fn rich(kind: EventType) -> Value {
    let messages = json!([
        {"author_type": "visitor", "author_id": "v1", "author_name": "Mary Brown", "author_username": "mary",
         "text": "Hi, I need help: billing", "sent_at": T0},
        {"author_type": "agent", "author_id": "a1", "author_name": "Ann Agent", "author_username": "ann",
         "text": "Sure, what's up?", "sent_at": T1}
    ]);
    let message = match kind {
        EventType::MessageAgent => messages[1].clone(),
        _ => messages[0].clone(),
    };
    let mut event = json!({
        "id": "evt_rich", "type": kind.as_str(), "occurred_at": T2,
        "chat": {"id": "chat-1", "started_at": T0, "ended_at": T2, "last_message_at": T1,
                 "topic": "Billing", "label": "Mary Brown", "code": 42, "department": "sales",
                 "tags": ["vip", "billing"], "custom_fields": {"plan": "gold"},
                 "messages": if matches!(kind, EventType::MessageVisitor | EventType::MessageAgent) { json!([]) } else { messages },
                 "agents": [agent()], "groups": [{"id": "g1", "name": "Sales"}]},
        "visitor": {"id": "v1", "name": "Mary Brown", "username": "mary", "email": "mary@example.com",
                    "phone": "+1 555 0100", "ip": "203.0.113.9", "browser": "Firefox", "os": "Linux",
                    "city": "Lyon", "region": "ARA", "country": "France", "country_code": "FR",
                    "custom_fields": {"customer": "c-9"}},
        "agent": agent(),
        "message": message,
        "pre_chat_survey": [
            {"id": "q1", "type": "name", "label": "Your name", "answer": "Mary Brown"},
            {"id": "q2", "type": "checkbox", "label": "Topics", "answers": [{"label": "Billing", "chosen": true}, {"label": "Sales", "chosen": false}]}
        ],
        "offline_message": {"name": "Mary Brown", "email": "mary@example.com", "message": "Call me back", "sent_at": T0},
        "lead": {"name": "Mary Brown", "email": "mary@example.com", "phone": "+1 555 0100", "custom_fields": {"customer": "c-9"}},
        "ticket": {"id": "T-1", "subject": "Invoice", "status": "open",
                   "assignee": {"id": "a1", "name": "Ann Agent"},
                   "requester": {"email": "mary@example.com", "name": "Mary Brown"},
                   "events": [{"author": {"id": "v1", "name": "Mary Brown", "type": "client"}, "date": T0,
                               "is_private": false, "message": "Where is my invoice?",
                               "source": {"type": "lc2", "url": "https://example.com/p"}, "type": "message"}],
                   "groups": [{"id": 1, "name": "Support"}], "tags": ["invoice"],
                   "source": {"type": "lc2", "url": "https://example.com/p", "id": "S1"}},
        "canned_response": {"id": 7, "group": 1, "text": "Hello!", "tags": ["hi"], "modified_at": T0},
        "forward": {"to_agent": agent(), "to_department": "sales"}
    });
    // Each section only where the chat product sends it.
    use EventType::*;
    let sections = event.as_object_mut().unwrap();
    for (section, kinds) in [
        ("message", &[MessageVisitor, MessageAgent][..]),
        ("pre_chat_survey", &[ChatStarted, ChatClosed]),
        ("offline_message", &[OfflineMessage]),
        ("lead", &[LeadCaptured]),
        ("ticket", &[TicketCreated]),
        ("canned_response", &[CannedResponseChanged]),
        ("forward", &[ChatForwarded]),
    ] {
        if !kinds.contains(&kind) {
            sections.remove(section);
        }
    }
    event
}

fn ms(t: DateTime<Utc>) -> String {
    t.trunc_subsecs(3).to_rfc3339()
}

fn secs(t: DateTime<Utc>) -> String {
    t.trunc_subsecs(0).to_rfc3339()
}

fn some(v: &Option<String>) -> Value {
    v.as_deref()
        .filter(|s| !s.is_empty())
        .map_or(Value::Null, |s| json!(s))
}

/// Visitor or not: the author types no platform tells apart beyond that.
fn from_visitor(m: &ChatMessage) -> bool {
    m.author_type == AuthorType::Visitor
}

fn agent_fields(a: &Agent) -> Value {
    json!({"id": a.id, "name": some(&a.name), "username": some(&a.username), "email": some(&a.email)})
}

/// The fields of `event` that `format` carries, as FORMATS.md lists them.
fn carried(format: Format, e: &Event) -> Value {
    let chat = e.chat.as_ref();
    let visitor = e.visitor.as_ref();
    let lead = e.lead.as_ref();
    // A lead's contact data is the newest: it wins over the visitor's.
    let lead_or = |l: fn(&crate::domain::event::Lead) -> &Option<String>,
                   v: fn(&crate::domain::event::Visitor) -> &Option<String>| {
        lead.map(|x| some(l(x)))
            .filter(|x| !x.is_null())
            .unwrap_or_else(|| visitor.map_or(Value::Null, |x| some(v(x))))
    };
    let contact = json!({
        "name": lead_or(|l| &l.name, |v| &v.name),
        "email": lead_or(|l| &l.email, |v| &v.email),
        "phone": lead_or(|l| &l.phone, |v| &v.phone),
    });
    match format {
        Format::Rocketchat => {
            if e.kind == EventType::OfflineMessage {
                let o = e.offline_message.as_ref().unwrap();
                return json!({"type": e.kind.as_str(), "name": some(&o.name), "email": some(&o.email),
                              "message": o.message, "sent_at": ms(o.sent_at)});
            }
            let c = chat.unwrap();
            let messages: Vec<Value> = c
                .messages
                .iter()
                .chain(e.message.iter())
                .filter(|m| !m.whisper && m.author_type != AuthorType::System)
                .map(|m| json!({"visitor": from_visitor(m), "author_id": if from_visitor(m) { Value::Null } else { some(&m.author_id) },
                                "username": some(&m.author_username), "text": m.text, "sent_at": ms(m.sent_at)}))
                .collect();
            let serving = e
                .forward
                .as_ref()
                .and_then(|f| f.to_agent.as_ref())
                .or(e.agent.as_ref());
            let v = visitor.unwrap();
            json!({
                "type": e.kind.as_str(), "room": c.id, "topic": some(&c.topic),
                // Rocket.Chat labels a room with its visitor's name.
                "label": Some(some(&c.label)).filter(|l| !l.is_null()).unwrap_or_else(|| contact["name"].clone()),
                "code": c.code, "created_at": c.started_at.map(ms), "last_message_at": c.last_message_at.map(ms),
                "tags": c.tags, "custom_fields": c.custom_fields,
                "department": some(&e.forward.as_ref().and_then(|f| f.to_department.clone()).or(c.department.clone())),
                "visitor": {"id": v.id, "username": v.username.as_deref().unwrap_or(&v.id), "contact": contact, "ip": some(&v.ip),
                            "browser": some(&v.browser), "os": some(&v.os), "custom_fields": v.custom_fields},
                "agent": serving.map(agent_fields),
                "messages": messages,
            })
        }
        Format::Livechat => {
            let with_chat = matches!(
                e.kind,
                EventType::ChatStarted | EventType::ChatClosed | EventType::ChatTagsChanged
            );
            let chat = with_chat.then_some(chat).flatten().map(|c| {
                let messages: Vec<Value> = c
                    .messages
                    .iter()
                    .filter(|m| m.author_type != AuthorType::System)
                    .map(|m| json!({"user_type": match m.author_type {
                                        AuthorType::Visitor => "visitor",
                                        AuthorType::Supervisor => "supervisor",
                                        _ => "agent" },
                                    "author_id": if from_visitor(m) { Value::Null } else { some(&m.author_id) },
                                    "author_name": some(&m.author_name), "text": m.text, "sent_at": secs(m.sent_at)}))
                    .collect();
                json!({"id": c.id, "started_at": c.started_at.map(secs), "tags": c.tags, "messages": messages,
                       "ended_at": if e.kind == EventType::ChatClosed { c.ended_at.map(secs) } else { None }})
            });
            let ticket = e.ticket.as_ref().map(|t| {
                let mut t = t.clone();
                for ev in &mut t.events {
                    ev.date = ev.date.trunc_subsecs(0);
                }
                t
            });
            let canned = e.canned_response.as_ref().map(|c| {
                let mut c = c.clone();
                c.modified_at = c.modified_at.trunc_subsecs(0);
                c
            });
            let with_visitor = !matches!(
                e.kind,
                EventType::TicketCreated | EventType::CannedResponseChanged
            );
            json!({
                "type": e.kind.as_str(), "chat": chat,
                "visitor": visitor.filter(|_| with_visitor).map(|v| json!({"id": v.id, "name": some(&v.name), "email": some(&v.email), "custom_fields": v.custom_fields})),
                "pre_chat_survey": if matches!(e.kind, EventType::ChatStarted | EventType::ChatClosed) { json!(e.pre_chat_survey) } else { json!([]) },
                "ticket": ticket, "canned_response": canned,
            })
        }
        Format::Olark => {
            let mut custom_fields = visitor.map(|v| v.custom_fields.clone()).unwrap_or_default();
            custom_fields.extend(lead.iter().flat_map(|l| l.custom_fields.clone()));
            let own_fields = custom_fields.clone();
            for (k, v) in chat.iter().flat_map(|c| &c.custom_fields) {
                custom_fields.entry(k.clone()).or_insert(v.clone());
            }
            let visitor = visitor.map(|v| json!({"id": v.id, "ip": some(&v.ip), "browser": some(&v.browser), "os": some(&v.os),
                "city": some(&v.city), "region": some(&v.region), "country": some(&v.country), "country_code": some(&v.country_code)}));
            if e.kind == EventType::OfflineMessage {
                let o = e.offline_message.as_ref().unwrap();
                return json!({"type": e.kind.as_str(), "conversation": chat.map(|c| &c.id), "name": some(&o.name),
                              "email": some(&o.email), "message": o.message, "sent_at": ms(o.sent_at),
                              "visitor": visitor, "custom_fields": own_fields});
            }
            let c = chat.unwrap();
            let mut operators: Vec<&Agent> = c.agents.iter().chain(e.agent.iter()).collect();
            operators.sort_by(|a, b| a.id.cmp(&b.id));
            operators.dedup_by(|a, b| a.id == b.id);
            let messages: Vec<Value> = c
                .messages
                .iter()
                .filter(|m| !m.whisper)
                .map(|m| json!({"author": match m.author_type {
                                    AuthorType::Visitor => "visitor",
                                    AuthorType::System => "system",
                                    _ => "agent" },
                                "author_id": match m.author_type {
                                    AuthorType::Visitor | AuthorType::System => Value::Null,
                                    _ => some(&m.author_id) },
                                "author_name": some(&m.author_name), "text": m.text, "sent_at": ms(m.sent_at)}))
                .collect();
            json!({
                "type": e.kind.as_str(), "conversation": c.id, "tags": c.tags, "groups": c.groups,
                "operators": operators.into_iter().map(agent_fields).collect::<Vec<_>>(),
                "messages": messages, "visitor": visitor, "contact": contact, "custom_fields": custom_fields,
            })
        }
        Format::Amplifyreach => match e.kind {
            EventType::LeadCaptured => json!({"type": e.kind.as_str(), "contact": contact}),
            _ => {
                let lines: Vec<Value> = chat
                    .unwrap()
                    .messages
                    .iter()
                    .filter(|m| !m.whisper)
                    .map(|m| json!({"speaker": some(&m.author_name), "text": m.text}))
                    .collect();
                json!({"type": e.kind.as_str(), "lines": lines})
            }
        },
        Format::Standard => Value::Null,
    }
}

/// A closed chat of generated messages: any text (no line break for
/// AmplifyReach, whose lines are its messages), names without `: `, any
/// millisecond time.
fn transcript() -> impl Strategy<Value = Value> {
    let message = (
        0usize..5,
        "[A-Za-z][A-Za-z0-9 .'-]{0,15}",
        "\\PC{0,40}",
        0i64..4_000_000_000_000,
        any::<bool>(),
    );
    proptest::collection::vec(message, 0..8).prop_map(|messages| {
        let kinds = ["visitor", "agent", "supervisor", "bot", "system"];
        let messages: Vec<Value> = messages
            .into_iter()
            .map(|(k, name, text, at, whisper)| {
                let at = DateTime::from_timestamp_millis(at).unwrap();
                let mut m = json!({"author_type": kinds[k], "author_name": name, "author_username": name, "text": text,
                                   "sent_at": at.to_rfc3339(), "whisper": whisper && k != 0});
                if k != 0 {
                    m["author_id"] = json!(format!("agent-{k}"));
                }
                m
            })
            .collect();
        json!({"type": "chat.closed", "chat": {"id": "c-prop", "messages": messages,
                   "started_at": T0, "ended_at": T2, "last_message_at": T1},
               "visitor": {"id": "v-prop", "name": "Mary"}})
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn generated_transcripts_round_trip_in_every_platform_format(raw in transcript()) {
        let event = Event::from_json(raw).unwrap();
        for (format, platform) in PLATFORMS {
            renders_the_same(format, platform, "generated", &event);
            let (_, back) = through(format, platform, &event).unwrap();
            if format == Format::Amplifyreach {
                // Speakers are names: the visitor's messages come back named.
                let lines = |e: &Event| e.chat.as_ref().unwrap().messages.iter()
                    .filter(|m| !m.whisper).map(|m| m.text.clone()).collect::<Vec<_>>();
                prop_assert_eq!(lines(&back), lines(&event));
            } else {
                prop_assert_eq!(carried(format, &back), carried(format, &event));
            }
        }
    }
}

/// Every golden payload of a platform format, as its platform would post it.
fn golden_posts() -> Vec<(Platform, Value)> {
    cases()
        .into_iter()
        .filter_map(|(format, _, raw)| {
            let platform = PLATFORMS.iter().find(|(f, _)| *f == format)?.1;
            let golden: Value = serde_json::from_str(raw).unwrap();
            Some((platform, golden["expected"].clone()))
        })
        .collect()
}

/// `value` with the node reached by `path` (indices into objects' values
/// and arrays, modulo their lengths) replaced by `with`.
fn replaced(mut value: Value, path: &[usize], with: Value) -> Value {
    fn at<'a>(node: &'a mut Value, path: &[usize]) -> &'a mut Value {
        let Some((step, rest)) = path.split_first() else {
            return node;
        };
        let descend = match node {
            Value::Object(map) => !map.is_empty(),
            Value::Array(items) => !items.is_empty(),
            _ => false,
        };
        if !descend {
            return node;
        }
        match node {
            Value::Object(map) => {
                let n = map.len();
                at(map.values_mut().nth(step % n).unwrap(), rest)
            }
            Value::Array(items) => {
                let n = items.len();
                at(&mut items[step % n], rest)
            }
            other => other,
        }
    }
    *at(&mut value, path) = with;
    value
}

fn any_json() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,20}".prop_map(Value::from),
        Just(json!([])),
        Just(json!({})),
        Just(json!("1307116657.1")),
        Just(json!("2016-06-01T18:41:16.856Z")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever a post holds, parsing answers an event or an error: it never panics.
    #[test]
    fn any_post_parses_or_is_refused(
        bytes in proptest::collection::vec(any::<u8>(), 0..256),
        which in 0usize..64,
        path in proptest::collection::vec(any::<usize>(), 0..6),
        with in any_json(),
    ) {
        for platform in super::Platform::ALL {
            let _ = parse(platform, Some("application/json"), &bytes);
            let _ = parse(platform, Some("application/x-www-form-urlencoded"), &bytes);
        }
        let posts = golden_posts();
        let (platform, payload) = &posts[which % posts.len()];
        let changed = replaced(payload.clone(), &path, with);
        let body = changed.to_string();
        let _ = parse(*platform, Some("application/json"), body.as_bytes());
        if let Ok(inbound) = parse(*platform, Some("application/json"), body.as_bytes()) {
            // an event a source accepts is one the intake accepts
            prop_assert!(Event::parse(&serde_json::to_string(&inbound.event).unwrap()).is_ok());
        }
    }
}
