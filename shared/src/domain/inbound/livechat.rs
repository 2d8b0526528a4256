//! LiveChat webhooks (seed 001): `{"event_type", "token" | "secret_key",
//! "license_id"}` plus the data types the webhook was set up with. The
//! body's `secret_key` (its v3 webhooks) or `token` (v2) is the credential
//! the caller checks against the source's secret.
use chrono::Utc;
use serde::Deserialize;

use super::{Inbound, Platform, derive_id, given, json_body, rfc3339, unix};
use crate::domain::ValidationError;
use crate::domain::catalogue::EventType;
use crate::domain::event::{
    AuthorType, CannedResponse, Chat, ChatMessage, CustomFields, Event, Person, Requester,
    SurveyAnswer, SurveyChoice, Ticket, TicketAuthor, TicketEvent, TicketGroup, TicketSource,
    Visitor,
};
use crate::domain::ids::EventId;

#[derive(Deserialize)]
struct Payload {
    event_type: String,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    secret_key: Option<String>,
    #[serde(default)]
    chat: Option<LcChat>,
    #[serde(default)]
    visitor: Option<LcVisitor>,
    #[serde(default)]
    pre_chat_survey: Vec<LcSurvey>,
    #[serde(default)]
    ticket: Option<LcTicket>,
    #[serde(default)]
    canned_response: Option<LcCanned>,
}

#[derive(Deserialize)]
struct LcChat {
    id: String,
    #[serde(default)]
    started_timestamp: Option<i64>,
    #[serde(default)]
    ended_timestamp: Option<i64>,
    #[serde(default)]
    messages: Vec<LcMessage>,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Deserialize)]
struct LcMessage {
    user_type: String,
    #[serde(default)]
    author_name: String,
    #[serde(default)]
    agent_id: Option<String>,
    text: String,
    timestamp: i64,
}

#[derive(Deserialize)]
struct LcVisitor {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    custom_variables: Vec<LcVariable>,
}

#[derive(Deserialize)]
struct LcVariable {
    key: String,
    value: String,
}

#[derive(Deserialize)]
struct LcSurvey {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    label: String,
    #[serde(default)]
    answer: Option<String>,
    #[serde(default)]
    answers: Option<Vec<SurveyChoice>>,
}

#[derive(Deserialize)]
struct LcTicket {
    id: String,
    #[serde(default)]
    assignee: Option<IdName>,
    #[serde(default)]
    events: Vec<LcTicketEvent>,
    #[serde(default)]
    groups: Vec<LcGroup>,
    #[serde(default)]
    requester: Option<LcRequester>,
    #[serde(default)]
    status: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    source: Option<LcSource>,
}

#[derive(Deserialize)]
struct IdName {
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct LcGroup {
    id: i64,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct LcTicketEvent {
    #[serde(default)]
    author: Option<LcAuthor>,
    date: String,
    #[serde(default)]
    is_private: bool,
    #[serde(default)]
    message: String,
    #[serde(default)]
    source: Option<LcSource>,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct LcAuthor {
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
    #[serde(rename = "type", default)]
    kind: String,
}

#[derive(Deserialize)]
struct LcSource {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    id: Option<String>,
}

#[derive(Deserialize)]
struct LcRequester {
    #[serde(default)]
    mail: String,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct LcCanned {
    #[serde(default)]
    group: i64,
    id: i64,
    modification_date: i64,
    #[serde(default)]
    tags: Vec<String>,
    text: String,
}

/// LiveChat's event names and the canonical type each is.
pub const TYPES: [(&str, EventType); 6] = [
    ("chat_started", EventType::ChatStarted),
    ("chat_ended", EventType::ChatClosed),
    ("visitor_queued", EventType::ChatQueued),
    ("chat_changed", EventType::ChatTagsChanged),
    ("ticket_created", EventType::TicketCreated),
    ("canned_response_changed", EventType::CannedResponseChanged),
];

pub fn parse(body: &[u8]) -> Result<Inbound, ValidationError> {
    let p: Payload = json_body(Platform::Livechat, body)?;
    let kind = super::kind_named(&TYPES, &p.event_type, "event_type", "LiveChat event type")?;
    let body_secret = p.secret_key.clone().or_else(|| p.token.clone());
    // The format writes `""` for a visitor it does not know.
    let visitor = p.visitor.filter(|v| !v.id.is_empty()).map(|v| Visitor {
        name: given(&v.name),
        email: given(&v.email),
        custom_fields: v
            .custom_variables
            .into_iter()
            .map(|c| (c.key, c.value))
            .collect::<CustomFields>(),
        id: v.id,
        ..Visitor::default()
    });
    let chat = p.chat.map(chat).transpose()?.or_else(|| {
        // `visitor_queued` carries only the visitor: the chat is theirs.
        (kind == EventType::ChatQueued)
            .then(|| {
                visitor.as_ref().map(|v| Chat {
                    id: v.id.clone(),
                    ..Chat::default()
                })
            })
            .flatten()
    });
    if chat.is_none()
        && matches!(
            kind,
            EventType::ChatStarted | EventType::ChatClosed | EventType::ChatTagsChanged
        )
    {
        return Err(ValidationError::field(
            "chat",
            format!(
                "a `{}` post without LiveChat's `chat` data type names no chat: choose `chat` among the webhook's data types",
                p.event_type
            ),
        ));
    }
    let ticket = p.ticket.map(ticket).transpose()?;
    let canned_response = p
        .canned_response
        .map(|c| -> Result<CannedResponse, ValidationError> {
            Ok(CannedResponse {
                id: c.id,
                group: c.group,
                text: c.text,
                tags: c.tags,
                modified_at: unix("canned_response.modification_date", c.modification_date)?,
            })
        })
        .transpose()?;
    let occurred_at = match kind {
        EventType::ChatClosed => chat.as_ref().and_then(|c| c.ended_at),
        EventType::ChatStarted => chat.as_ref().and_then(|c| c.started_at),
        EventType::CannedResponseChanged => canned_response.as_ref().map(|c| c.modified_at),
        EventType::TicketCreated => ticket
            .as_ref()
            .and_then(|t| t.events.iter().map(|e| e.date).min()),
        _ => None,
    }
    .unwrap_or_else(Utc::now);
    let conversation = chat
        .as_ref()
        .map(|c| c.id.clone())
        .or_else(|| ticket.as_ref().map(|t| t.id.clone()))
        .or_else(|| canned_response.as_ref().map(|c| c.id.to_string()));
    let event = Event {
        id: EventId::generate(),
        kind,
        occurred_at,
        chat,
        visitor,
        agent: None,
        message: None,
        pre_chat_survey: p
            .pre_chat_survey
            .into_iter()
            .map(|s| SurveyAnswer {
                id: s.id,
                kind: s.kind,
                label: s.label,
                answer: s.answer,
                answers: s.answers,
            })
            .collect(),
        offline_message: None,
        lead: None,
        ticket,
        canned_response,
        forward: None,
        tags_change: None,
    };
    let id = derive_id(Platform::Livechat, conversation.as_deref(), &event);
    Ok(Inbound {
        event: Event { id, ..event },
        body_secret,
    })
}

fn chat(c: LcChat) -> Result<Chat, ValidationError> {
    let messages = c
        .messages
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            let author_type = match m.user_type.as_str() {
                "visitor" => AuthorType::Visitor,
                "agent" => AuthorType::Agent,
                "supervisor" => AuthorType::Supervisor,
                other => {
                    return Err(ValidationError::field(
                        format!("chat.messages[{i}].user_type"),
                        format!(
                            "unknown user type `{}`; known: visitor, agent, supervisor",
                            other.chars().take(64).collect::<String>()
                        ),
                    ));
                }
            };
            Ok(ChatMessage {
                id: None,
                author_type,
                author_id: m.agent_id.as_deref().and_then(given),
                author_name: given(&m.author_name),
                author_username: None,
                text: m.text,
                sent_at: unix(&format!("chat.messages[{i}].timestamp"), m.timestamp)?,
                whisper: false,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Chat {
        id: c.id,
        started_at: c
            .started_timestamp
            .map(|t| unix("chat.started_timestamp", t))
            .transpose()?,
        ended_at: c
            .ended_timestamp
            .map(|t| unix("chat.ended_timestamp", t))
            .transpose()?,
        tags: c.tags,
        messages,
        ..Chat::default()
    })
}

fn ticket(t: LcTicket) -> Result<Ticket, ValidationError> {
    let source = |s: LcSource| TicketSource {
        kind: s.kind,
        url: s.url,
        id: s.id.as_deref().and_then(given),
    };
    Ok(Ticket {
        assignee: t.assignee.filter(|a| !a.id.is_empty()).map(|a| Person {
            id: a.id,
            name: given(&a.name),
        }),
        events: t
            .events
            .into_iter()
            .enumerate()
            .map(|(i, e)| {
                Ok(TicketEvent {
                    author: e.author.filter(|a| !a.id.is_empty()).map(|a| TicketAuthor {
                        id: a.id,
                        name: given(&a.name),
                        kind: a.kind,
                    }),
                    date: rfc3339(&format!("ticket.events[{i}].date"), &e.date)?,
                    is_private: e.is_private,
                    message: given(&e.message),
                    source: e.source.filter(|s| !s.kind.is_empty()).map(source),
                    kind: e.kind,
                })
            })
            .collect::<Result<Vec<_>, ValidationError>>()?,
        groups: t
            .groups
            .into_iter()
            .map(|g| TicketGroup {
                id: g.id,
                name: given(&g.name),
            })
            .collect(),
        requester: t
            .requester
            .filter(|r| !(r.mail.is_empty() && r.name.is_empty()))
            .map(|r| Requester {
                email: given(&r.mail),
                name: given(&r.name),
            }),
        status: given(&t.status),
        subject: given(&t.subject),
        tags: t.tags,
        source: t.source.filter(|s| !s.kind.is_empty()).map(source),
        id: t.id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_chat_started_carries_chat_visitor_and_survey() {
        // GIVEN seed 001's chat_started with chat, visitor and pre_chat_survey
        let body = r#"{"event_type": "chat_started", "token": "27f41c8da685c81a890f9e5f8ce48387",
            "license_id": "1025707",
            "chat": {"id": "MH022RD0K5", "started_timestamp": 1358937653, "ended_timestamp": null,
                "messages": [{"user_type": "visitor", "author_name": "Mary Brown", "text": "Hi", "timestamp": 1358937650},
                             {"user_type": "agent", "author_name": "John", "agent_id": "john@mycompany.com", "text": "Hello", "timestamp": 1358937652}],
                "tags": ["sales"]},
            "visitor": {"id": "S126126161.O136OJPO1", "name": "Mary Brown", "email": "mary.brown@email.com",
                "custom_variables": [{"key": "customer_login", "value": "mary_brown"}]},
            "pre_chat_survey": [{"id": "1", "type": "name", "label": "Your name", "answer": "Mary Brown"},
                                {"id": "2", "type": "checkbox", "label": "Pick", "answers": [{"label": "A", "chosen": true}]}]}"#;
        let Inbound { event, body_secret } = parse(body.as_bytes()).unwrap();
        assert_eq!(
            body_secret.as_deref(),
            Some("27f41c8da685c81a890f9e5f8ce48387")
        );
        assert_eq!(event.kind, EventType::ChatStarted);
        let chat = event.chat.as_ref().unwrap();
        assert_eq!(chat.id, "MH022RD0K5");
        assert_eq!(chat.messages[1].author_type, AuthorType::Agent);
        assert_eq!(
            chat.messages[1].author_id.as_deref(),
            Some("john@mycompany.com")
        );
        assert_eq!(event.occurred_at.timestamp(), 1358937653);
        let visitor = event.visitor.as_ref().unwrap();
        assert_eq!(visitor.custom_fields["customer_login"], "mary_brown");
        assert_eq!(event.pre_chat_survey.len(), 2);
        assert_eq!(
            event.pre_chat_survey[1].answers.as_ref().unwrap()[0].label,
            "A"
        );
        assert!(
            event
                .id
                .as_str()
                .starts_with("livechat:MH022RD0K5:chat.started:")
        );
    }

    #[test]
    fn a_v3_secret_key_wins_over_the_token() {
        let body = r#"{"event_type": "chat_changed", "secret_key": "k3", "token": "t2", "chat": {"id": "c"}}"#;
        let inbound = parse(body.as_bytes()).unwrap();
        assert_eq!(inbound.body_secret.as_deref(), Some("k3"));
        assert_eq!(inbound.event.kind, EventType::ChatTagsChanged);
    }

    #[test]
    fn a_queued_visitor_is_a_queued_chat_of_theirs() {
        let body = r#"{"event_type": "visitor_queued", "visitor": {"id": "v1", "name": "", "email": "", "custom_variables": []}}"#;
        let event = parse(body.as_bytes()).unwrap().event;
        assert_eq!(event.chat.unwrap().id, "v1");
    }

    #[test]
    fn bad_posts_name_what_is_wrong() {
        let err = |body: &str| parse(body.as_bytes()).unwrap_err().to_string();
        assert!(err(r#"{"event_type": "chat_exploded"}"#).contains("`chat_exploded`"));
        assert!(err(r#"{"token": "x"}"#).contains("missing field `event_type`"));
        let bad = r#"{"event_type": "chat_ended", "chat": {"id": "c", "messages": [{"user_type": "robot", "text": "", "timestamp": 1}]}}"#;
        assert!(
            err(bad).starts_with("chat.messages[0].user_type:"),
            "{}",
            err(bad)
        );
        let bad = r#"{"event_type": "chat_ended", "chat": {"id": 5}}"#;
        assert!(err(bad).starts_with("chat.id:"), "{}", err(bad));
        // seed 001's own example: chat_started with the visitor data type only
        let visitor_only = r#"{"event_type": "chat_started", "token": "t", "license_id": "1",
            "visitor": {"id": "S1354547427.0c151b0e1b", "name": "John", "email": "john.smith@gmail.com", "custom_variables": []}}"#;
        assert!(
            err(visitor_only).contains("choose `chat` among the webhook's data types"),
            "{}",
            err(visitor_only)
        );
    }
}
