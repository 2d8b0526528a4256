//! `livechat`: LiveChat webhooks v2: `{"event_type", "token", "license_id"}`
//! plus the data types the event allows and the integration chose.
use serde::Serialize;

use super::common::{author_name, iso_secs, json, need, token, unix_secs};
use super::{RenderError, Rendered};
use crate::domain::catalogue::EventType;
use crate::domain::event::{
    AuthorType, CannedResponse, Event, SurveyAnswer, Ticket, TicketGroup, TicketSource,
};
use crate::domain::integration::Integration;

#[derive(Serialize)]
struct Payload<'a> {
    event_type: &'static str,
    token: &'a str,
    license_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    chat: Option<Chat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    visitor: Option<Visitor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pre_chat_survey: Option<&'a [SurveyAnswer]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ticket: Option<LcTicket<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    canned_response: Option<LcCannedResponse<'a>>,
}

#[derive(Serialize)]
struct Chat {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    started_timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ended_timestamp: Option<i64>,
    messages: Vec<Message>,
    tags: Vec<String>,
}

#[derive(Serialize)]
struct Message {
    user_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    author_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    agent_id: Option<String>,
    text: String,
    timestamp: i64,
}

#[derive(Serialize)]
struct Visitor {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    custom_variables: Vec<CustomVariable>,
}

#[derive(Serialize)]
struct CustomVariable {
    key: String,
    value: String,
}

#[derive(Serialize)]
struct LcTicket<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    assignee: Option<IdName<'a>>,
    events: Vec<LcTicketEvent<'a>>,
    groups: &'a [TicketGroup],
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    requester: Option<LcRequester<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
    tags: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'a TicketSource>,
}

#[derive(Serialize)]
struct IdName<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

#[derive(Serialize)]
struct LcTicketEvent<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    author: Option<&'a crate::domain::event::TicketAuthor>,
    date: String,
    is_private: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'a TicketSource>,
    #[serde(rename = "type")]
    kind: &'a str,
}

#[derive(Serialize)]
struct LcRequester<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    mail: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

#[derive(Serialize)]
struct LcCannedResponse<'a> {
    group: i64,
    id: i64,
    modification_date: i64,
    tags: &'a [String],
    text: &'a str,
}

/// LiveChat's event name and the data types it may carry (seed 001's table).
fn event_type(kind: EventType) -> Option<(&'static str, &'static [&'static str])> {
    use EventType::*;
    Some(match kind {
        ChatQueued => ("visitor_queued", &["visitor"]),
        ChatStarted => ("chat_started", &["chat", "visitor", "pre_chat_survey"]),
        ChatClosed => ("chat_ended", &["chat", "visitor", "pre_chat_survey"]),
        ChatTagsChanged => ("chat_changed", &["chat", "visitor"]),
        TicketCreated => ("ticket_created", &["ticket"]),
        CannedResponseChanged => ("canned_response_changed", &["canned_response"]),
        // The "Send test" payload: LiveChat's minimal documented webhook, no data.
        WebhookTest => ("chat_started", &[]),
        _ => return None,
    })
}

pub fn render(event: &Event, integration: &Integration) -> Result<Rendered, RenderError> {
    let (name, allowed) = event_type(event.kind).ok_or(RenderError::Unsupported {
        format: "livechat",
        event_type: event.kind.as_str(),
    })?;
    let chosen = integration.format_options.data_types.as_ref();
    let wants = |data_type: &str| {
        allowed.contains(&data_type) && chosen.is_none_or(|c| c.contains(data_type))
    };
    let payload = Payload {
        event_type: name,
        token: token(integration),
        license_id: integration
            .format_options
            .license_id
            .as_deref()
            .unwrap_or_else(|| integration.tenant_id.as_str()),
        chat: if wants("chat") {
            Some(chat(event)?)
        } else {
            None
        },
        visitor: event
            .visitor
            .as_ref()
            .filter(|_| wants("visitor"))
            .map(visitor),
        pre_chat_survey: Some(event.pre_chat_survey.as_slice())
            .filter(|s| !s.is_empty() && wants("pre_chat_survey")),
        ticket: if wants("ticket") {
            Some(ticket(need(&event.ticket, "ticket")?))
        } else {
            None
        },
        canned_response: if wants("canned_response") {
            Some(canned(need(&event.canned_response, "canned_response")?))
        } else {
            None
        },
    };
    Ok(json(&payload, Vec::new()))
}

/// The transcript, whispers included (LiveChat shows them as supervisor
/// messages); system messages have no LiveChat author type and are left out.
fn chat(event: &Event) -> Result<Chat, RenderError> {
    let chat = need(&event.chat, "chat")?;
    let messages = chat
        .messages
        .iter()
        .filter_map(|m| {
            let user_type = match m.author_type {
                AuthorType::Visitor => "visitor",
                AuthorType::Agent | AuthorType::Bot => "agent",
                AuthorType::Supervisor => "supervisor",
                AuthorType::System => return None,
            };
            Some(Message {
                user_type,
                author_name: author_name(event, m),
                agent_id: match m.author_type {
                    AuthorType::Visitor => None,
                    _ => m.author_id.clone(),
                },
                text: m.text.clone(),
                timestamp: unix_secs(m.sent_at),
            })
        })
        .collect();
    Ok(Chat {
        id: chat.id.clone(),
        started_timestamp: chat.started_at.map(unix_secs),
        ended_timestamp: chat.ended_at.map(unix_secs),
        messages,
        tags: chat.tags.clone(),
    })
}

fn visitor(v: &crate::domain::event::Visitor) -> Visitor {
    Visitor {
        id: v.id.clone(),
        name: v.name.clone(),
        email: v.email.clone(),
        custom_variables: v
            .custom_fields
            .iter()
            .map(|(key, value)| CustomVariable {
                key: key.clone(),
                value: value.clone(),
            })
            .collect(),
    }
}

fn ticket(t: &Ticket) -> LcTicket<'_> {
    LcTicket {
        assignee: t.assignee.as_ref().map(|a| IdName {
            id: &a.id,
            name: a.name.as_deref(),
        }),
        events: t
            .events
            .iter()
            .map(|e| LcTicketEvent {
                author: e.author.as_ref(),
                date: iso_secs(e.date),
                is_private: e.is_private,
                message: e.message.as_deref(),
                source: e.source.as_ref(),
                kind: &e.kind,
            })
            .collect(),
        groups: &t.groups,
        id: &t.id,
        requester: t.requester.as_ref().map(|r| LcRequester {
            mail: r.email.as_deref(),
            name: r.name.as_deref(),
        }),
        status: t.status.as_deref(),
        subject: t.subject.as_deref(),
        tags: &t.tags,
        source: t.source.as_ref(),
    }
}

fn canned(c: &CannedResponse) -> LcCannedResponse<'_> {
    LcCannedResponse {
        group: c.group,
        id: c.id,
        modification_date: unix_secs(c.modified_at),
        tags: &c.tags,
        text: &c.text,
    }
}
