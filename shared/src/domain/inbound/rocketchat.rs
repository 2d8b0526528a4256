//! Rocket.Chat Omnichannel webhooks (seed 002): the room of a
//! `LivechatSession*`, `Message` or `LeadCapture` post, or a
//! `LivechatOfflineMessage`. The secret travels in the
//! `X-RocketChat-Livechat-Token` header, checked by the caller.
use serde::Deserialize;

use super::{Inbound, Platform, derive_id, given, json_body, rfc3339};
use crate::domain::ValidationError;
use crate::domain::catalogue::EventType;
use crate::domain::event::{
    Agent, AuthorType, Chat, ChatMessage, CustomFields, Event, Forward, Lead, OfflineMessage,
    Visitor,
};
use crate::domain::ids::EventId;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    #[serde(rename = "type")]
    kind: String,
    #[serde(rename = "_id", default)]
    id: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    topic: String,
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    last_message_at: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    custom_fields: CustomFields,
    #[serde(default)]
    visitor: PostVisitor,
    #[serde(default)]
    agent: Option<PostAgent>,
    #[serde(default)]
    messages: Vec<PostMessage>,
    // LivechatOfflineMessage
    #[serde(default)]
    sent_at: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PostVisitor {
    #[serde(rename = "_id", default)]
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    ip: String,
    #[serde(default)]
    browser: String,
    #[serde(default)]
    os: String,
    #[serde(default)]
    custom_fields: CustomFields,
}

#[derive(Deserialize, Default)]
struct PostAgent {
    #[serde(rename = "_id", default)]
    id: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostMessage {
    #[serde(default)]
    username: String,
    #[serde(default)]
    agent_id: Option<String>,
    msg: String,
    ts: String,
}

/// The post's types and the canonical type each is.
pub const TYPES: [(&str, EventType); 8] = [
    ("LivechatSessionStart", EventType::ChatStarted),
    ("LivechatSessionQueued", EventType::ChatQueued),
    ("LivechatSessionTaken", EventType::ChatTaken),
    ("LivechatSessionForwarded", EventType::ChatForwarded),
    ("LivechatSession", EventType::ChatClosed),
    ("Message", EventType::MessageVisitor),
    ("LeadCapture", EventType::LeadCaptured),
    ("LivechatOfflineMessage", EventType::OfflineMessage),
];

pub fn parse(body: &[u8]) -> Result<Inbound, ValidationError> {
    let p: Payload = json_body(Platform::Rocketchat, body)?;
    let kind = super::kind_named(&TYPES, &p.kind, "type", "Rocket.Chat webhook type")?;
    let event = if kind == EventType::OfflineMessage {
        offline(p)?
    } else {
        session(kind, p)?
    };
    let conversation = event.chat.as_ref().map(|c| c.id.clone());
    let id = derive_id(Platform::Rocketchat, conversation.as_deref(), &event);
    Ok(Inbound {
        event: Event { id, ..event },
        body_secret: None,
    })
}

fn message(i: usize, m: PostMessage) -> Result<ChatMessage, ValidationError> {
    let from_agent = m.agent_id.is_some();
    Ok(ChatMessage {
        id: None,
        author_type: if from_agent {
            AuthorType::Agent
        } else {
            AuthorType::Visitor
        },
        author_id: m.agent_id.as_deref().and_then(given),
        author_name: None,
        author_username: given(&m.username),
        text: m.msg,
        sent_at: rfc3339(&format!("messages[{i}].ts"), &m.ts)?,
        whisper: false,
    })
}

fn session(kind: EventType, p: Payload) -> Result<Event, ValidationError> {
    if p.id.is_empty() {
        return Err(ValidationError::field("_id", "the room id is required"));
    }
    let time =
        |field: &str, raw: &Option<String>| raw.as_deref().map(|t| rfc3339(field, t)).transpose();
    let started_at = time("createdAt", &p.created_at)?;
    let last_message_at = time("lastMessageAt", &p.last_message_at)?;
    let mut messages = p
        .messages
        .into_iter()
        .enumerate()
        .map(|(i, m)| message(i, m))
        .collect::<Result<Vec<_>, _>>()?;
    let v = p.visitor;
    let department = given(&v.department);
    // Rocket.Chat's own example has `"_id": ""`: the username then names the
    // visitor. A lead's contact data without a visitor id is the lead's only.
    let visitor_id = given(&v.id).or_else(|| {
        (kind != EventType::LeadCaptured)
            .then(|| given(&v.username))
            .flatten()
    });
    let visitor = visitor_id.map(|id| Visitor {
        id,
        name: given(&v.name),
        username: given(&v.username),
        email: given(&v.email),
        phone: given(&v.phone),
        ip: given(&v.ip),
        browser: given(&v.browser),
        os: given(&v.os),
        custom_fields: v.custom_fields.clone(),
        ..Visitor::default()
    });
    let agent = p.agent.filter(|a| !a.id.is_empty()).map(|a| Agent {
        id: a.id,
        name: given(&a.name),
        username: given(&a.username),
        email: given(&a.email),
    });
    let (kind, message) = match kind {
        EventType::MessageVisitor => {
            let last = messages.pop().ok_or_else(|| {
                ValidationError::field("messages", "a Message post carries its message")
            })?;
            messages.clear();
            let kind = match last.author_type {
                AuthorType::Visitor => EventType::MessageVisitor,
                _ => EventType::MessageAgent,
            };
            (kind, Some(last))
        }
        _ => (kind, None),
    };
    let forward = (kind == EventType::ChatForwarded).then(|| Forward {
        to_agent: agent.clone(),
        to_department: department.clone(),
        ..Forward::default()
    });
    let lead = (kind == EventType::LeadCaptured).then(|| Lead {
        name: given(&v.name),
        email: given(&v.email),
        phone: given(&v.phone),
        custom_fields: v.custom_fields,
    });
    let occurred_at = last_message_at
        .or(started_at)
        .or(message.as_ref().map(|m| m.sent_at))
        .unwrap_or_else(chrono::Utc::now);
    Ok(Event {
        id: EventId::generate(),
        kind,
        occurred_at,
        chat: Some(Chat {
            id: p.id,
            started_at,
            last_message_at,
            topic: given(&p.topic),
            label: given(&p.label),
            code: p.code,
            department: if kind == EventType::ChatForwarded {
                None
            } else {
                department
            },
            tags: p.tags,
            custom_fields: p.custom_fields,
            messages,
            ..Chat::default()
        }),
        visitor,
        agent,
        message,
        pre_chat_survey: Vec::new(),
        offline_message: None,
        lead,
        ticket: None,
        canned_response: None,
        forward,
        tags_change: None,
    })
}

fn offline(p: Payload) -> Result<Event, ValidationError> {
    let sent_at = rfc3339(
        "sentAt",
        p.sent_at
            .as_deref()
            .ok_or_else(|| ValidationError::field("sentAt", "required"))?,
    )?;
    let message = p
        .message
        .ok_or_else(|| ValidationError::field("message", "required"))?;
    Ok(Event {
        id: EventId::generate(),
        kind: EventType::OfflineMessage,
        occurred_at: sent_at,
        chat: None,
        visitor: None,
        agent: None,
        message: None,
        pre_chat_survey: Vec::new(),
        offline_message: Some(OfflineMessage {
            name: given(&p.visitor.name),
            email: given(&p.visitor.email),
            department: None,
            message,
            sent_at,
        }),
        lead: None,
        ticket: None,
        canned_response: None,
        forward: None,
        tags_change: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SESSION: &str = r#"{
        "type": "LivechatSession", "_id": "fasd6f5a4sd6f8a4sdf", "label": "title",
        "topic": "topic of the session", "code": 123123,
        "createdAt": "2016-06-01T18:41:16.856Z", "lastMessageAt": "2016-06-01T18:41:16.856Z",
        "tags": ["tag1", "tag2", "tag3"], "customFields": {"productId": "123456"},
        "visitor": {"_id": "", "name": "visitor name", "username": "visitor-username",
            "department": "department", "email": "visitor@example.com", "phone": "192873192873",
            "ip": "123.456.7.89", "browser": "Chrome", "os": "Linux",
            "customFields": {"customerId": "123456"}},
        "agent": {"_id": "asdf89as6df8", "username": "agent.username", "name": "Agent Name",
            "email": "agent@example.com"},
        "messages": [
            {"username": "visitor-username", "msg": "message content", "ts": "2016-06-01T18:41:16.856Z"},
            {"username": "agent.username", "agentId": "asdf89as6df8", "msg": "message content from agent", "ts": "2016-06-01T18:41:16.856Z"}
        ]}"#;

    #[test]
    fn the_seed_session_is_a_closed_chat_with_its_transcript() {
        // WHEN seed 002's LivechatSession example is parsed
        let Inbound { event, body_secret } = parse(SESSION.as_bytes()).unwrap();
        // THEN it is the closed chat, room, visitor, agent and transcript carried over
        assert_eq!(body_secret, None);
        assert_eq!(event.kind, EventType::ChatClosed);
        let chat = event.chat.as_ref().unwrap();
        assert_eq!(chat.id, "fasd6f5a4sd6f8a4sdf");
        assert_eq!(chat.code, Some(123123));
        assert_eq!(chat.department.as_deref(), Some("department"));
        assert_eq!(chat.tags, ["tag1", "tag2", "tag3"]);
        let texts: Vec<(AuthorType, &str)> = chat
            .messages
            .iter()
            .map(|m| (m.author_type, m.text.as_str()))
            .collect();
        assert_eq!(
            texts,
            [
                (AuthorType::Visitor, "message content"),
                (AuthorType::Agent, "message content from agent")
            ]
        );
        assert_eq!(chat.messages[1].author_id.as_deref(), Some("asdf89as6df8"));
        let visitor = event.visitor.as_ref().unwrap();
        assert_eq!(
            visitor.id, "visitor-username",
            "the username stands in for an empty _id"
        );
        assert_eq!(visitor.custom_fields["customerId"], "123456");
        assert_eq!(
            event.agent.as_ref().unwrap().name.as_deref(),
            Some("Agent Name")
        );
        assert!(
            event
                .id
                .as_str()
                .starts_with("rocketchat:fasd6f5a4sd6f8a4sdf:chat.closed:")
        );
        // AND the same post parses to the same id, a changed one to another
        assert_eq!(parse(SESSION.as_bytes()).unwrap().event.id, event.id);
        let more = SESSION.replace("message content from agent", "something else");
        assert_ne!(parse(more.as_bytes()).unwrap().event.id, event.id);
    }

    #[test]
    fn the_seed_offline_message_is_an_offline_message() {
        let body = r#"{"type": "LivechatOfflineMessage", "sentAt": "2016-06-01T19:55:53.867Z",
            "visitor": {"name": "name from the form", "email": "visitor@example.com"},
            "message": "message from the form"}"#;
        let event = parse(body.as_bytes()).unwrap().event;
        assert_eq!(event.kind, EventType::OfflineMessage);
        let offline = event.offline_message.unwrap();
        assert_eq!(offline.name.as_deref(), Some("name from the form"));
        assert_eq!(offline.message, "message from the form");
        assert_eq!(
            offline.sent_at.to_rfc3339(),
            "2016-06-01T19:55:53.867+00:00"
        );
    }

    #[test]
    fn a_message_post_is_a_message_event_of_its_author() {
        let body = r#"{"type": "Message", "_id": "room1", "messages": [
            {"username": "ann", "agentId": "a1", "msg": "hello", "ts": "2024-01-01T00:00:00Z"}]}"#;
        let event = parse(body.as_bytes()).unwrap().event;
        assert_eq!(event.kind, EventType::MessageAgent);
        assert_eq!(event.message.unwrap().text, "hello");
        assert!(event.chat.unwrap().messages.is_empty());
    }

    #[test]
    fn bad_posts_name_what_is_wrong() {
        let err = |body: &str| parse(body.as_bytes()).unwrap_err().to_string();
        assert!(err(r#"{"type": "Bogus"}"#).contains("unknown Rocket.Chat webhook type `Bogus`"));
        assert!(err(r#"{"_id": "x"}"#).contains("missing field `type`"));
        assert!(err(r#"{"type": "LivechatSession"}"#).starts_with("_id:"));
        assert!(err("not json").contains("invalid rocketchat payload"));
        let bad_ts = r#"{"type": "LivechatSession", "_id": "r", "messages": [{"msg": "", "ts": "yesterday"}]}"#;
        assert!(
            err(bad_ts).starts_with("messages[0].ts:"),
            "{}",
            err(bad_ts)
        );
        assert!(err(r#"{"type": "Message", "_id": "r"}"#).starts_with("messages:"));
    }
}
