//! `olark`: Olark's transcript webhook: a form POST with one field, `data`,
//! holding the JSON `Conversation`. `chat.started` is the extra `start` event.
use serde::Serialize;
use std::collections::BTreeMap;

use super::common::{author_name, json, need, unix_fraction, visitor_with_lead};
use super::{RenderError, Rendered};
use crate::domain::catalogue::EventType;
use crate::domain::event::{AuthorType, CustomFields, Event};

pub const FORM: &str = "application/x-www-form-urlencoded";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Conversation {
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_type: Option<&'static str>,
    id: String,
    manually_submitted: bool,
    tags: Vec<String>,
    items: Vec<Item>,
    #[serde(skip_serializing_if = "Option::is_none")]
    visitor: Option<Visitor>,
    operators: BTreeMap<String, Operator>,
    groups: Vec<Group>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Item {
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    nickname: Option<String>,
    timestamp: String,
    body: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    operator_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Visitor {
    kind: &'static str,
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    full_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    country_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    browser: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    operating_system: Option<String>,
    custom_fields: CustomFields,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Operator {
    kind: &'static str,
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nickname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email_address: Option<String>,
}

#[derive(Serialize)]
struct Group {
    kind: &'static str,
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

pub fn render(event: &Event) -> Result<Rendered, RenderError> {
    let conversation = match event.kind {
        EventType::ChatClosed | EventType::LeadCaptured => transcript(event)?,
        EventType::ChatStarted => Conversation {
            event_type: Some("start"),
            ..transcript(event)?
        },
        EventType::OfflineMessage => offline(event)?,
        EventType::WebhookTest => test_transcript(event),
        _ => {
            return Err(RenderError::Unsupported {
                format: "olark",
                event_type: event.kind.as_str(),
            });
        }
    };
    let data = json(&conversation, Vec::new()).body;
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("data", &String::from_utf8_lossy(&data))
        .finish();
    Ok(Rendered {
        content_type: FORM,
        body: body.into_bytes(),
        headers: Vec::new(),
    })
}

fn empty(id: String) -> Conversation {
    Conversation {
        kind: "Conversation",
        event_type: None,
        id,
        manually_submitted: false,
        tags: Vec::new(),
        items: Vec::new(),
        visitor: None,
        operators: BTreeMap::new(),
        groups: Vec::new(),
    }
}

/// The chat's transcript. Its id is the chat's, so a `!lead` transcript and
/// the final one of the same conversation share it. Whispers never reached
/// the visitor and are left out. Olark has no conversation-level custom
/// fields (its custom fields API sets the visitor's), so the chat's custom
/// fields join `visitor.customFields`, the visitor's own winning a clash.
fn transcript(event: &Event) -> Result<Conversation, RenderError> {
    let chat = need(&event.chat, "chat")?;
    let items = chat
        .messages
        .iter()
        .filter(|m| !m.whisper)
        .map(|m| {
            let from_visitor = m.author_type == AuthorType::Visitor;
            Item {
                kind: if from_visitor {
                    "MessageToOperator"
                } else {
                    "MessageToVisitor"
                },
                nickname: author_name(event, m),
                timestamp: unix_fraction(m.sent_at),
                body: m.text.clone(),
                operator_id: match m.author_type {
                    AuthorType::Agent | AuthorType::Supervisor | AuthorType::Bot => {
                        m.author_id.clone()
                    }
                    AuthorType::Visitor | AuthorType::System => None,
                },
            }
        })
        .collect();
    let operators = chat
        .agents
        .iter()
        .chain(event.agent.iter())
        .map(|a| {
            let operator = Operator {
                kind: "Operator",
                id: a.id.clone(),
                nickname: a.name.clone(),
                email_address: a.email.clone(),
                username: a.username.clone(),
            };
            (a.id.clone(), operator)
        })
        .collect();
    Ok(Conversation {
        manually_submitted: event.kind == EventType::LeadCaptured,
        tags: chat.tags.clone(),
        items,
        visitor: visitor(event).map(|mut v| {
            for (key, value) in &chat.custom_fields {
                v.custom_fields
                    .entry(key.clone())
                    .or_insert_with(|| value.clone());
            }
            v
        }),
        operators,
        groups: chat
            .groups
            .iter()
            .map(|g| Group {
                kind: "Group",
                id: g.id.clone(),
                name: g.name.clone(),
            })
            .collect(),
        ..empty(chat.id.clone())
    })
}

fn visitor(event: &Event) -> Option<Visitor> {
    visitor_with_lead(event).map(|v| Visitor {
        kind: "Visitor",
        id: v.id,
        full_name: v.name,
        email_address: v.email,
        phone_number: v.phone,
        ip: v.ip,
        city: v.city,
        region: v.region,
        country: v.country,
        country_code: v.country_code,
        browser: v.browser,
        operating_system: v.os,
        custom_fields: v.custom_fields,
    })
}

/// An offline message: a conversation (the chat's id if any, else the
/// event's) with one `OfflineMessage` item (`timestamp` and `body`, as in
/// Olark's example); the form's name and email override the visitor's.
/// Olark always sends a visitor: without one in the event, its id is the
/// form's email address (lowercased, so a receiver keying contacts on
/// `visitor.id` files repeated messages from one address together), else the
/// conversation id.
fn offline(event: &Event) -> Result<Conversation, RenderError> {
    let offline = need(&event.offline_message, "offline_message")?;
    let id = event
        .chat
        .as_ref()
        .map_or_else(|| event.id.to_string(), |c| c.id.clone());
    let mut visitor = visitor(event).unwrap_or_else(|| Visitor {
        kind: "Visitor",
        id: offline
            .email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map_or_else(|| id.clone(), str::to_lowercase),
        full_name: None,
        email_address: None,
        phone_number: None,
        city: None,
        region: None,
        country: None,
        country_code: None,
        ip: None,
        browser: None,
        operating_system: None,
        custom_fields: CustomFields::new(),
    });
    visitor.full_name = offline.name.clone().or(visitor.full_name);
    visitor.email_address = offline.email.clone().or(visitor.email_address);
    Ok(Conversation {
        items: vec![Item {
            kind: "OfflineMessage",
            nickname: None,
            timestamp: unix_fraction(offline.sent_at),
            body: offline.message.clone(),
            operator_id: None,
        }],
        visitor: Some(visitor),
        ..empty(id)
    })
}

/// The "Send test" payload: a conversation with one operator message.
fn test_transcript(event: &Event) -> Conversation {
    Conversation {
        items: vec![Item {
            kind: "MessageToVisitor",
            nickname: Some("chathooks".to_string()),
            timestamp: unix_fraction(event.occurred_at),
            body: "This is a test transcript: your webhook endpoint works.".to_string(),
            operator_id: None,
        }],
        ..empty(event.id.to_string())
    }
}
