//! `olark`: Olark's transcript webhook: a form POST with one field, `data`,
//! holding the JSON `Conversation`. `chat.started` is the extra `start` event.
//! The conversation borrows from the event; its JSON is written once and
//! form-encoded in one pass.
use serde::Serialize;
use std::borrow::Cow;
use std::collections::BTreeMap;

use super::common::{UnixFraction, author_name_ref, form_field, need};
use super::{RenderError, Rendered};
use crate::domain::catalogue::EventType;
use crate::domain::event::{AuthorType, Event, Visitor as EventVisitor};

pub const FORM: &str = "application/x-www-form-urlencoded";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Conversation<'a> {
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_type: Option<&'static str>,
    id: &'a str,
    manually_submitted: bool,
    tags: &'a [String],
    items: Vec<Item<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    visitor: Option<Visitor<'a>>,
    operators: BTreeMap<&'a str, Operator<'a>>,
    groups: Vec<Group<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Item<'a> {
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    nickname: Option<&'a str>,
    timestamp: UnixFraction,
    body: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    operator_id: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Visitor<'a> {
    kind: &'static str,
    id: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    full_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email_address: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone_number: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    city: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    country: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    country_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    browser: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    operating_system: Option<&'a str>,
    custom_fields: BTreeMap<&'a str, &'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Operator<'a> {
    kind: &'static str,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nickname: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email_address: Option<&'a str>,
}

#[derive(Serialize)]
struct Group<'a> {
    kind: &'static str,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
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
    // Room for a typical transcript's JSON up front. Only structs and
    // string-keyed maps are serialized: this cannot fail.
    let mut data = Vec::with_capacity(1024 + 256 * conversation.items.len());
    if serde_json::to_writer(&mut data, &conversation).is_err() {
        data.clear();
    }
    Ok(Rendered {
        content_type: FORM,
        body: form_field("data", &data),
        headers: Vec::new(),
    })
}

fn empty(id: &str) -> Conversation<'_> {
    Conversation {
        kind: "Conversation",
        event_type: None,
        id,
        manually_submitted: false,
        tags: &[],
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
fn transcript(event: &Event) -> Result<Conversation<'_>, RenderError> {
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
                nickname: author_name_ref(event, m),
                timestamp: UnixFraction(m.sent_at),
                body: &m.text,
                operator_id: match m.author_type {
                    AuthorType::Agent | AuthorType::Supervisor | AuthorType::Bot => {
                        m.author_id.as_deref()
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
                id: &a.id,
                nickname: a.name.as_deref(),
                email_address: a.email.as_deref(),
                username: a.username.as_deref(),
            };
            (a.id.as_str(), operator)
        })
        .collect();
    Ok(Conversation {
        manually_submitted: event.kind == EventType::LeadCaptured,
        tags: &chat.tags,
        items,
        visitor: visitor(event).map(|mut v| {
            for (key, value) in &chat.custom_fields {
                v.custom_fields.entry(key).or_insert(value);
            }
            v
        }),
        operators,
        groups: chat
            .groups
            .iter()
            .map(|g| Group {
                kind: "Group",
                id: &g.id,
                name: g.name.as_deref(),
            })
            .collect(),
        ..empty(&chat.id)
    })
}

/// The event's visitor; for `lead.captured`, the lead's name, email, phone
/// and custom fields (the newest contact data) win over the visitor's.
fn visitor(event: &Event) -> Option<Visitor<'_>> {
    if event.visitor.is_none() && event.lead.is_none() {
        return None;
    }
    let v = event.visitor.as_ref();
    let lead = event.lead.as_ref();
    let field = |f: fn(&EventVisitor) -> &Option<String>| v.and_then(|v| f(v).as_deref());
    let mut custom_fields = BTreeMap::new();
    for fields in [v.map(|v| &v.custom_fields), lead.map(|l| &l.custom_fields)] {
        custom_fields.extend(
            fields
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
    }
    Some(Visitor {
        kind: "Visitor",
        id: Cow::Borrowed(v.map_or("", |v| &v.id)),
        full_name: lead.and_then(|l| l.name.as_deref()).or(field(|v| &v.name)),
        email_address: lead
            .and_then(|l| l.email.as_deref())
            .or(field(|v| &v.email)),
        phone_number: lead
            .and_then(|l| l.phone.as_deref())
            .or(field(|v| &v.phone)),
        city: field(|v| &v.city),
        region: field(|v| &v.region),
        country: field(|v| &v.country),
        country_code: field(|v| &v.country_code),
        ip: field(|v| &v.ip),
        browser: field(|v| &v.browser),
        operating_system: field(|v| &v.os),
        custom_fields,
    })
}

/// An offline message: a conversation (the chat's id if any, else the
/// event's) with one `OfflineMessage` item (`timestamp` and `body`, as in
/// Olark's example); the form's name and email override the visitor's.
/// Olark always sends a visitor: without one in the event, its id is the
/// form's email address (lowercased, so a receiver keying contacts on
/// `visitor.id` files repeated messages from one address together), else the
/// conversation id.
fn offline(event: &Event) -> Result<Conversation<'_>, RenderError> {
    let offline = need(&event.offline_message, "offline_message")?;
    let id = event.chat.as_ref().map_or(event.id.as_str(), |c| &c.id);
    let mut visitor = visitor(event).unwrap_or_else(|| Visitor {
        kind: "Visitor",
        id: offline
            .email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map_or(Cow::Borrowed(id), |e| Cow::Owned(e.to_lowercase())),
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
        custom_fields: BTreeMap::new(),
    });
    visitor.full_name = offline.name.as_deref().or(visitor.full_name);
    visitor.email_address = offline.email.as_deref().or(visitor.email_address);
    Ok(Conversation {
        items: vec![Item {
            kind: "OfflineMessage",
            nickname: None,
            timestamp: UnixFraction(offline.sent_at),
            body: &offline.message,
            operator_id: None,
        }],
        visitor: Some(visitor),
        ..empty(id)
    })
}

/// The "Send test" payload: a conversation with one operator message.
fn test_transcript(event: &Event) -> Conversation<'_> {
    Conversation {
        items: vec![Item {
            kind: "MessageToVisitor",
            nickname: Some("chathooks"),
            timestamp: UnixFraction(event.occurred_at),
            body: "This is a test transcript: your webhook endpoint works.",
            operator_id: None,
        }],
        ..empty(event.id.as_str())
    }
}
