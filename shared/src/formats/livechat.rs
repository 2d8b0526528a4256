//! `livechat`: LiveChat webhooks v2: `{"event_type", "token", "license_id"}`
//! plus the data types the event allows and the integration chose. Each data
//! type chosen is always sent, with every key of seed 001's examples; what
//! the event lacks is a fallback, `""`, `[]` or `null` (FORMATS.md).
use serde::Serialize;

use super::common::{Author, chat_started_at, iso_secs, json, need, or_empty, token, unix_secs};
use super::{RenderError, Rendered};
use crate::domain::catalogue::EventType;
use crate::domain::event::{AuthorType, CannedResponse, Event, SurveyAnswer, SurveyChoice, Ticket};
use crate::domain::integration::Integration;

#[derive(Serialize)]
struct Payload<'a> {
    event_type: &'static str,
    token: &'a str,
    license_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    chat: Option<Chat<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    visitor: Option<Visitor<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pre_chat_survey: Option<Vec<Survey<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ticket: Option<LcTicket<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    canned_response: Option<LcCannedResponse<'a>>,
}

#[derive(Serialize)]
struct Chat<'a> {
    id: &'a str,
    started_timestamp: i64,
    /// `null` while the chat goes on.
    ended_timestamp: Option<i64>,
    messages: Vec<Message<'a>>,
    tags: &'a [String],
}

#[derive(Serialize)]
struct Message<'a> {
    user_type: &'static str,
    author_name: &'a str,
    /// On every message not from the visitor.
    #[serde(skip_serializing_if = "Option::is_none")]
    agent_id: Option<&'a str>,
    text: &'a str,
    timestamp: i64,
}

#[derive(Serialize)]
struct Visitor<'a> {
    id: &'a str,
    name: &'a str,
    email: &'a str,
    custom_variables: Vec<CustomVariable<'a>>,
}

#[derive(Serialize)]
struct CustomVariable<'a> {
    key: &'a str,
    value: &'a str,
}

/// A text question carries `answer`, a choice question `answers`.
#[derive(Serialize)]
struct Survey<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    label: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    answer: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    answers: Option<&'a [SurveyChoice]>,
}

#[derive(Serialize)]
struct LcTicket<'a> {
    assignee: IdName<'a>,
    events: Vec<LcTicketEvent<'a>>,
    groups: Vec<IdName<'a, i64>>,
    id: &'a str,
    requester: LcRequester<'a>,
    status: &'a str,
    subject: &'a str,
    tags: &'a [String],
    source: LcSource<'a>,
}

#[derive(Serialize)]
struct IdName<'a, Id = &'a str> {
    id: Id,
    name: &'a str,
}

#[derive(Serialize)]
struct LcTicketEvent<'a> {
    author: LcAuthor<'a>,
    date: String,
    is_private: bool,
    message: &'a str,
    /// Seed 001's event source: `type` and `url`.
    source: LcEventSource<'a>,
    #[serde(rename = "type")]
    kind: &'a str,
}

#[derive(Serialize)]
struct LcAuthor<'a> {
    id: &'a str,
    name: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
}

#[derive(Serialize)]
struct LcEventSource<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    url: Option<&'a str>,
}

#[derive(Serialize)]
struct LcSource<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    url: Option<&'a str>,
    id: &'a str,
}

#[derive(Serialize)]
struct LcRequester<'a> {
    mail: &'a str,
    name: &'a str,
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
    let chosen = integration.format_options().data_types.as_ref();
    let wants = |data_type: &str| {
        allowed.contains(&data_type) && chosen.is_none_or(|c| c.contains(data_type))
    };
    let payload = Payload {
        event_type: name,
        token: token(integration),
        license_id: integration
            .format_options()
            .license_id
            .as_deref()
            .unwrap_or_else(|| integration.tenant_id().as_str()),
        chat: if wants("chat") {
            Some(chat(event)?)
        } else {
            None
        },
        visitor: wants("visitor").then(|| visitor(event)),
        pre_chat_survey: wants("pre_chat_survey")
            .then(|| event.pre_chat_survey.iter().map(survey).collect()),
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
fn chat(event: &Event) -> Result<Chat<'_>, RenderError> {
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
                author_name: Author::of(event, m).display_name().unwrap_or_default(),
                agent_id: match m.author_type {
                    AuthorType::Visitor => None,
                    _ => Some(m.author_id.as_deref().unwrap_or_default()),
                },
                text: &m.text,
                timestamp: unix_secs(m.sent_at),
            })
        })
        .collect();
    // A chat_ended event without the chat's end time: it ended as the event happened.
    let ended_at = match event.kind {
        EventType::ChatClosed => Some(chat.ended_at.unwrap_or(event.occurred_at)),
        _ => chat.ended_at,
    };
    Ok(Chat {
        id: &chat.id,
        started_timestamp: unix_secs(chat_started_at(event, Some(chat))),
        ended_timestamp: ended_at.map(unix_secs),
        messages,
        tags: &chat.tags,
    })
}

fn visitor(event: &Event) -> Visitor<'_> {
    let v = event.visitor.as_ref();
    Visitor {
        id: v.map_or("", |v| &v.id),
        name: v.map_or("", |v| or_empty(&v.name)),
        email: v.map_or("", |v| or_empty(&v.email)),
        custom_variables: v
            .into_iter()
            .flat_map(|v| &v.custom_fields)
            .map(|(key, value)| CustomVariable { key, value })
            .collect(),
    }
}

/// Choice questions (`checkbox`, `radio`, `select`) and questions the
/// event answered with choices carry `answers`; the rest `answer`.
fn survey(s: &SurveyAnswer) -> Survey<'_> {
    let choices = s.answers.is_some() || matches!(s.kind.as_str(), "checkbox" | "radio" | "select");
    Survey {
        id: &s.id,
        kind: &s.kind,
        label: &s.label,
        answer: (s.answer.is_some() || !choices).then(|| s.answer.as_deref().unwrap_or_default()),
        answers: choices.then(|| s.answers.as_deref().unwrap_or_default()),
    }
}

fn ticket(t: &Ticket) -> LcTicket<'_> {
    let (assignee, requester, source) = (&t.assignee, &t.requester, &t.source);
    LcTicket {
        assignee: IdName {
            id: assignee.as_ref().map_or("", |a| &a.id),
            name: assignee.as_ref().map_or("", |a| or_empty(&a.name)),
        },
        events: t
            .events
            .iter()
            .map(|e| LcTicketEvent {
                author: LcAuthor {
                    id: e.author.as_ref().map_or("", |a| &a.id),
                    name: e.author.as_ref().map_or("", |a| or_empty(&a.name)),
                    kind: e.author.as_ref().map_or("", |a| &a.kind),
                },
                date: iso_secs(e.date),
                is_private: e.is_private,
                message: or_empty(&e.message),
                source: LcEventSource {
                    kind: e.source.as_ref().map_or("", |s| &s.kind),
                    url: e.source.as_ref().and_then(|s| s.url.as_deref()),
                },
                kind: &e.kind,
            })
            .collect(),
        groups: t
            .groups
            .iter()
            .map(|g| IdName {
                id: g.id,
                name: or_empty(&g.name),
            })
            .collect(),
        id: &t.id,
        requester: LcRequester {
            mail: requester.as_ref().map_or("", |r| or_empty(&r.email)),
            name: requester.as_ref().map_or("", |r| or_empty(&r.name)),
        },
        status: or_empty(&t.status),
        subject: or_empty(&t.subject),
        tags: &t.tags,
        source: LcSource {
            kind: source.as_ref().map_or("", |s| &s.kind),
            url: source.as_ref().and_then(|s| s.url.as_deref()),
            id: source.as_ref().map_or("", |s| or_empty(&s.id)),
        },
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
