//! `rocketchat`: Rocket.Chat Omnichannel webhooks. Session events are the
//! room (`LivechatSession*`, `Message`, `LeadCapture`) with its visitor, agent
//! and messages; offline messages are `LivechatOfflineMessage`. The secret
//! travels in `X-RocketChat-Livechat-Token`.
use serde::Serialize;

use super::common::{author_username, iso_millis, json, need, token, visitor_with_lead};
use super::{RenderError, Rendered};
use crate::domain::catalogue::EventType;
use crate::domain::event::{Agent, AuthorType, ChatMessage, CustomFields, Event};
use crate::domain::integration::Integration;

pub const TOKEN_HEADER: &str = "X-RocketChat-Livechat-Token";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Session {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "_id")]
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_message_at: Option<String>,
    tags: Vec<String>,
    custom_fields: CustomFields,
    #[serde(skip_serializing_if = "Option::is_none")]
    visitor: Option<SessionVisitor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    agent: Option<SessionAgent>,
    messages: Vec<SessionMessage>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct SessionVisitor {
    #[serde(rename = "_id")]
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    department: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    browser: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    os: Option<String>,
    custom_fields: CustomFields,
}

#[derive(Serialize)]
struct SessionAgent {
    #[serde(rename = "_id")]
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionMessage {
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
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
fn session(kind: &'static str, event: &Event) -> Result<Session, RenderError> {
    let chat = need(&event.chat, "chat")?;
    let messages: Vec<&ChatMessage> = match event.kind {
        EventType::MessageVisitor | EventType::MessageAgent => {
            vec![need(&event.message, "message")?]
        }
        _ => chat.messages.iter().collect(),
    };
    let forward = event.forward.as_ref();
    let department = forward
        .and_then(|f| f.to_department.clone())
        .or_else(|| chat.department.clone());
    let agent = forward
        .and_then(|f| f.to_agent.as_ref())
        .or(event.agent.as_ref());
    let last_message_at = chat.last_message_at.or_else(|| {
        chat.messages
            .iter()
            .chain(event.message.iter())
            .map(|m| m.sent_at)
            .max()
    });
    Ok(Session {
        kind,
        id: chat.id.clone(),
        label: chat.label.clone(),
        topic: chat.topic.clone(),
        code: chat.code,
        created_at: chat.started_at.map(iso_millis),
        last_message_at: last_message_at.map(iso_millis),
        tags: chat.tags.clone(),
        custom_fields: chat.custom_fields.clone(),
        visitor: visitor_with_lead(event).map(|v| SessionVisitor {
            id: v.id,
            name: v.name,
            username: v.username,
            department,
            email: v.email,
            phone: v.phone,
            ip: v.ip,
            browser: v.browser,
            os: v.os,
            custom_fields: v.custom_fields,
        }),
        agent: agent.map(session_agent),
        messages: messages
            .into_iter()
            .filter(|m| shown(m))
            .map(|m| SessionMessage {
                username: author_username(event, m),
                agent_id: match m.author_type {
                    AuthorType::Visitor => None,
                    _ => m.author_id.clone(),
                },
                msg: m.text.clone(),
                ts: iso_millis(m.sent_at),
            })
            .collect(),
    })
}

/// Rocket.Chat lists neither system messages nor whispers (agent-only notes).
fn shown(m: &ChatMessage) -> bool {
    !m.whisper && m.author_type != AuthorType::System
}

fn session_agent(a: &Agent) -> SessionAgent {
    SessionAgent {
        id: a.id.clone(),
        username: a.username.clone(),
        name: a.name.clone(),
        email: a.email.clone(),
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
                .or_else(|| visitor.and_then(|v| v.name.clone())),
            email: offline
                .email
                .clone()
                .or_else(|| visitor.and_then(|v| v.email.clone())),
        },
        message: offline.message.clone(),
    })
}

/// The "Send test" payload: a closed sample session, like Rocket.Chat's own test.
fn test_session(event: &Event) -> Session {
    let at = iso_millis(event.occurred_at);
    let message = |username: &str, agent_id: Option<&str>, msg: &str| SessionMessage {
        username: Some(username.to_string()),
        agent_id: agent_id.map(str::to_string),
        msg: msg.to_string(),
        ts: at.clone(),
    };
    Session {
        kind: "LivechatSession",
        id: event.id.to_string(),
        label: Some("Test chat".to_string()),
        topic: Some("chathooks test delivery".to_string()),
        code: None,
        created_at: Some(at.clone()),
        last_message_at: Some(at.clone()),
        tags: Vec::new(),
        custom_fields: CustomFields::new(),
        visitor: Some(SessionVisitor {
            id: "test-visitor".to_string(),
            name: Some("Test Visitor".to_string()),
            username: Some("test-visitor".to_string()),
            email: Some("visitor@example.com".to_string()),
            ..SessionVisitor::default()
        }),
        agent: Some(SessionAgent {
            id: "test-agent".to_string(),
            username: Some("test.agent".to_string()),
            name: Some("Test Agent".to_string()),
            email: Some("agent@example.com".to_string()),
        }),
        messages: vec![
            message("test-visitor", None, "Hello, this is a test."),
            message("test.agent", Some("test-agent"), "Your webhook works."),
        ],
    }
}
