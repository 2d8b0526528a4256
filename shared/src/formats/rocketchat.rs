//! `rocketchat`: Rocket.Chat Omnichannel webhooks. Session events are the
//! room (`LivechatSession*`, `Message`, `LeadCapture`) with its visitor, agent
//! and messages; offline messages are `LivechatOfflineMessage`. The secret
//! travels in `X-RocketChat-Livechat-Token`. Every key of seed 002's shapes
//! is always sent; what the event lacks is a fallback or `""` (FORMATS.md).
use serde::Serialize;

use super::common::{
    Author, chat_started_at, handle, iso_millis, json, last_message_at, need, token,
    visitor_with_lead,
};
use super::{RenderError, Rendered};
use crate::domain::catalogue::EventType;
use crate::domain::event::{Agent, AuthorType, Chat, ChatMessage, CustomFields, Event};
use crate::domain::integration::Integration;

pub const TOKEN_HEADER: &str = "X-RocketChat-Livechat-Token";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Session {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "_id")]
    id: String,
    label: String,
    topic: String,
    /// `null` when the event has no room code.
    code: Option<i64>,
    created_at: String,
    last_message_at: String,
    tags: Vec<String>,
    custom_fields: CustomFields,
    visitor: SessionVisitor,
    agent: SessionAgent,
    messages: Vec<SessionMessage>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct SessionVisitor {
    #[serde(rename = "_id")]
    id: String,
    name: String,
    username: String,
    department: String,
    email: String,
    phone: String,
    ip: String,
    browser: String,
    os: String,
    custom_fields: CustomFields,
}

#[derive(Serialize, Default)]
struct SessionAgent {
    #[serde(rename = "_id")]
    id: String,
    username: String,
    name: String,
    email: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionMessage {
    username: String,
    /// On every message not from the visitor (as Rocket.Chat marks them).
    #[serde(skip_serializing_if = "Option::is_none")]
    agent_id: Option<String>,
    msg: String,
    ts: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OfflineMessage {
    #[serde(rename = "type")]
    kind: &'static str,
    sent_at: String,
    visitor: OfflineVisitor,
    message: String,
}

#[derive(Serialize)]
struct OfflineVisitor {
    name: String,
    email: String,
}

pub fn render(event: &Event, integration: &Integration) -> Result<Rendered, RenderError> {
    use EventType::*;
    let headers = vec![(TOKEN_HEADER.to_string(), token(integration).to_string())];
    let session_type = match event.kind {
        ChatStarted => "LivechatSessionStart",
        ChatQueued => "LivechatSessionQueued",
        ChatTaken => "LivechatSessionTaken",
        ChatForwarded => "LivechatSessionForwarded",
        ChatClosed => "LivechatSession",
        MessageVisitor | MessageAgent => "Message",
        LeadCaptured => "LeadCapture",
        OfflineMessage => return offline(event).map(|b| json(&b, headers)),
        WebhookTest => return Ok(json(&test_session(event), headers)),
        ChatTagsChanged | TicketCreated | CannedResponseChanged => {
            return Err(RenderError::Unsupported {
                format: "rocketchat",
                event_type: event.kind.as_str(),
            });
        }
    };
    session(session_type, event).map(|b| json(&b, headers))
}

/// The room after the event: for a forward, its new agent and department.
/// A lead may be captured outside a chat: the room is then the event's own.
fn session(kind: &'static str, event: &Event) -> Result<Session, RenderError> {
    let chat: Option<&Chat> = match event.kind {
        EventType::LeadCaptured => event.chat.as_ref(),
        _ => Some(need(&event.chat, "chat")?),
    };
    let messages: Vec<&ChatMessage> = match event.kind {
        EventType::MessageVisitor | EventType::MessageAgent => {
            vec![need(&event.message, "message")?]
        }
        _ => chat.iter().flat_map(|c| c.messages.iter()).collect(),
    };
    let forward = event.forward.as_ref();
    let visitor = visitor_with_lead(event).unwrap_or_default();
    let created_at = chat_started_at(event, chat);
    let own = |f: fn(&Chat) -> &Option<String>| chat.and_then(|c| f(c).clone());
    Ok(Session {
        kind,
        id: chat.map_or(event.id.as_str(), |c| &c.id).to_string(),
        // Rocket.Chat labels a room with its visitor's name.
        label: own(|c| &c.label)
            .or_else(|| visitor.name.clone())
            .unwrap_or_default(),
        topic: own(|c| &c.topic).unwrap_or_default(),
        code: chat.and_then(|c| c.code),
        created_at: iso_millis(created_at),
        last_message_at: iso_millis(last_message_at(event, chat).unwrap_or(created_at)),
        tags: chat.map(|c| c.tags.clone()).unwrap_or_default(),
        custom_fields: chat.map(|c| c.custom_fields.clone()).unwrap_or_default(),
        visitor: SessionVisitor {
            username: handle(
                visitor.username.as_deref(),
                Some(visitor.id.as_str()).filter(|id| !id.is_empty()),
                visitor.name.as_deref(),
            )
            .to_string(),
            department: forward
                .and_then(|f| f.to_department.clone())
                .or_else(|| own(|c| &c.department))
                .unwrap_or_default(),
            id: visitor.id,
            name: visitor.name.unwrap_or_default(),
            email: visitor.email.unwrap_or_default(),
            phone: visitor.phone.unwrap_or_default(),
            ip: visitor.ip.unwrap_or_default(),
            browser: visitor.browser.unwrap_or_default(),
            os: visitor.os.unwrap_or_default(),
            custom_fields: visitor.custom_fields,
        },
        agent: serving_agent(event, chat)
            .map(session_agent)
            .unwrap_or_default(),
        messages: messages
            .into_iter()
            .filter(|m| shown(m))
            .map(|m| SessionMessage {
                username: Author::of(event, m).handle().to_string(),
                agent_id: match m.author_type {
                    AuthorType::Visitor => None,
                    _ => Some(m.author_id.clone().unwrap_or_default()),
                },
                msg: m.text.clone(),
                ts: iso_millis(m.sent_at),
            })
            .collect(),
    })
}

/// The agent serving the room: a forward's new agent, else the event's
/// agent, else the last of the chat's agents.
fn serving_agent<'a>(event: &'a Event, chat: Option<&'a Chat>) -> Option<&'a Agent> {
    event
        .forward
        .as_ref()
        .and_then(|f| f.to_agent.as_ref())
        .or(event.agent.as_ref())
        .or_else(|| chat.and_then(|c| c.agents.last()))
}

/// Rocket.Chat lists neither system messages nor whispers (agent-only notes).
fn shown(m: &ChatMessage) -> bool {
    !m.whisper && m.author_type != AuthorType::System
}

fn session_agent(a: &Agent) -> SessionAgent {
    SessionAgent {
        id: a.id.clone(),
        username: handle(a.username.as_deref(), Some(&a.id), a.name.as_deref()).to_string(),
        name: a.name.clone().unwrap_or_default(),
        email: a.email.clone().unwrap_or_default(),
    }
}

fn offline(event: &Event) -> Result<OfflineMessage, RenderError> {
    let offline = need(&event.offline_message, "offline_message")?;
    let visitor = event.visitor.as_ref();
    Ok(OfflineMessage {
        kind: "LivechatOfflineMessage",
        sent_at: iso_millis(offline.sent_at),
        visitor: OfflineVisitor {
            name: offline
                .name
                .clone()
                .or_else(|| visitor.and_then(|v| v.name.clone()))
                .unwrap_or_default(),
            email: offline
                .email
                .clone()
                .or_else(|| visitor.and_then(|v| v.email.clone()))
                .unwrap_or_default(),
        },
        message: offline.message.clone(),
    })
}

/// The "Send test" payload: a closed sample session, like Rocket.Chat's own test.
fn test_session(event: &Event) -> Session {
    let at = iso_millis(event.occurred_at);
    let message = |username: &str, agent_id: Option<&str>, msg: &str| SessionMessage {
        username: username.to_string(),
        agent_id: agent_id.map(str::to_string),
        msg: msg.to_string(),
        ts: at.clone(),
    };
    Session {
        kind: "LivechatSession",
        id: event.id.to_string(),
        label: "Test chat".to_string(),
        topic: "chathooks test delivery".to_string(),
        code: None,
        created_at: at.clone(),
        last_message_at: at.clone(),
        tags: Vec::new(),
        custom_fields: CustomFields::new(),
        visitor: SessionVisitor {
            id: "test-visitor".to_string(),
            name: "Test Visitor".to_string(),
            username: "test-visitor".to_string(),
            email: "visitor@example.com".to_string(),
            ..SessionVisitor::default()
        },
        agent: SessionAgent {
            id: "test-agent".to_string(),
            username: "test.agent".to_string(),
            name: "Test Agent".to_string(),
            email: "agent@example.com".to_string(),
        },
        messages: vec![
            message("test-visitor", None, "Hello, this is a test."),
            message("test.agent", Some("test-agent"), "Your webhook works."),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::integration::{Format, FormatOptions};
    use crate::formats::golden_tests::integration;
    use serde_json::{Value, json};

    /// The one message of a `message.visitor` event whose message carries
    /// `message` and whose event carries `visitor`.
    fn rendered_message(message: Value, visitor: Option<Value>) -> Value {
        let mut m =
            json!({"author_type": "visitor", "text": "hi", "sent_at": "2024-01-01T00:00:00Z"});
        m.as_object_mut()
            .unwrap()
            .extend(message.as_object().unwrap().clone());
        let mut event = json!({"type": "message.visitor", "chat": {"id": "c"}, "message": m});
        if let Some(v) = visitor {
            event["visitor"] = v;
        }
        let event = Event::from_json(event).unwrap();
        let integration = integration(Format::Rocketchat, FormatOptions::default());
        let body: Value =
            serde_json::from_slice(&render(&event, &integration).unwrap().body).unwrap();
        body["messages"][0].clone()
    }

    #[test]
    fn a_visitor_message_always_carries_a_username() {
        let username = |message: Value, visitor: Option<Value>| {
            let got = rendered_message(message, visitor);
            let keys: Vec<&str> = got
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(keys, ["msg", "ts", "username"]);
            got["username"].as_str().unwrap().to_string()
        };
        // the message's own, else the visitor's username, else the author's
        // id (the message's, else the visitor's), else the name, else ""
        let own = json!({"author_username": "own", "author_id": "v2"});
        assert_eq!(
            username(own, Some(json!({"id": "v1", "username": "guest-1"}))),
            "own"
        );
        assert_eq!(
            username(json!({}), Some(json!({"id": "v1", "username": "guest-1"}))),
            "guest-1"
        );
        assert_eq!(
            username(json!({"author_id": "v2"}), Some(json!({"id": "v1"}))),
            "v2"
        );
        assert_eq!(
            username(json!({}), Some(json!({"id": "v1", "name": "Mary"}))),
            "v1"
        );
        assert_eq!(username(json!({"author_name": "Mary"}), None), "Mary");
        assert_eq!(username(json!({}), None), "");
    }
}
