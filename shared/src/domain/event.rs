//! The canonical event: what the chat product posts to the intake, carrying
//! everything any of the platform formats needs to render its payload.
//!
//! Unknown fields are rejected (a typo is an error, not silently dropped);
//! every section a type needs is checked by [`Event::validate`].
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::ValidationError;
use super::catalogue::EventType;
use super::ids::EventId;

/// Custom fields as the chat product set them (visitor, chat, lead).
pub type CustomFields = BTreeMap<String, String>;

/// Largest accepted event, serialized: keeps one event well inside a DynamoDB item.
pub const MAX_EVENT_BYTES: usize = 256 * 1024;
/// Most events accepted in one `{"events": [...]}` intake request.
pub const MAX_BATCH_EVENTS: usize = 100;
const MAX_TEXT: usize = 64 * 1024;
const MAX_SHORT: usize = 1024;
const MAX_MESSAGES: usize = 5000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// The idempotency key; generated when the chat product sends none.
    #[serde(default = "EventId::generate")]
    pub id: EventId,
    #[serde(rename = "type")]
    pub kind: EventType,
    /// When it happened in the chat product; defaults to when it was received.
    #[serde(default = "Utc::now")]
    pub occurred_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat: Option<Chat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visitor: Option<Visitor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<Agent>,
    /// The single message of a `message.visitor` / `message.agent` event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<ChatMessage>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre_chat_survey: Vec<SurveyAnswer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline_message: Option<OfflineMessage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead: Option<Lead>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<Ticket>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canned_response: Option<CannedResponse>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward: Option<Forward>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags_change: Option<TagsChange>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct Chat {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_message_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Rocket.Chat's numeric room code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_fields: CustomFields,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<ChatMessage>,
    /// Operator groups (Olark `groups`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Group>,
    /// Every agent who took part (Olark `operators`); `Event::agent` is the current one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<Agent>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthorType {
    Visitor,
    Agent,
    Supervisor,
    Bot,
    System,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatMessage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub author_type: AuthorType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_username: Option<String>,
    pub text: String,
    pub sent_at: DateTime<Utc>,
    /// A whispered message, seen only by agents (LiveChat supervisor messages).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub whisper: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct Visitor {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_code: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_fields: CustomFields,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// One pre-chat survey question: a text `answer`, or multi-choice `answers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SurveyAnswer {
    pub id: String,
    /// `name`, `email`, `question`, `checkbox`, `radio`, `select`...
    #[serde(rename = "type")]
    pub kind: String,
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answers: Option<Vec<SurveyChoice>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SurveyChoice {
    pub label: String,
    pub chosen: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OfflineMessage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    pub message: String,
    pub sent_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct Lead {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_fields: CustomFields,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ticket {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<Person>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requester: Option<Requester>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<TicketEvent>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<TicketGroup>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<TicketSource>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Person {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Requester {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketEvent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<TicketAuthor>,
    pub date: DateTime<Utc>,
    #[serde(default)]
    pub is_private: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<TicketSource>,
    /// `message`, `status_changed`, ...
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketAuthor {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `agent`, `client`, ...
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketGroup {
    pub id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketSource {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CannedResponse {
    pub id: i64,
    #[serde(default)]
    pub group: i64,
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    pub modified_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct Forward {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_agent: Option<Agent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_agent: Option<Agent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_department: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_department: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct TagsChange {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
}

/// The sections an event type must carry.
fn required_sections(kind: EventType) -> &'static [&'static str] {
    use EventType::*;
    match kind {
        ChatStarted | ChatQueued | ChatTaken | ChatClosed | ChatTagsChanged => &["chat"],
        ChatForwarded => &["chat", "forward"],
        MessageVisitor | MessageAgent => &["chat", "message"],
        OfflineMessage => &["offline_message"],
        LeadCaptured => &["lead"],
        TicketCreated => &["ticket"],
        CannedResponseChanged => &["canned_response"],
        WebhookTest => &[],
    }
}

impl Event {
    /// An event of `kind` with its id and time and nothing else: what a
    /// parser or a sample fills in.
    pub fn bare(id: EventId, kind: EventType, occurred_at: DateTime<Utc>) -> Event {
        Event {
            id,
            kind,
            occurred_at,
            chat: None,
            visitor: None,
            agent: None,
            message: None,
            pre_chat_survey: Vec::new(),
            offline_message: None,
            lead: None,
            ticket: None,
            canned_response: None,
            forward: None,
            tags_change: None,
        }
    }

    /// Parse one event from JSON, naming the problem on failure.
    pub fn from_json(value: serde_json::Value) -> Result<Self, ValidationError> {
        let event: Event = serde_json::from_value(value)
            .map_err(|e| ValidationError::general(format!("invalid event: {e}")))?;
        event.validate()?;
        Ok(event)
    }

    /// Parse one event straight from its JSON text (the intake's path: no
    /// intermediate tree), naming the problem on failure.
    pub fn parse(json: &str) -> Result<Self, ValidationError> {
        let event: Event = serde_json::from_str(json)
            .map_err(|e| ValidationError::general(format!("invalid event: {e}")))?;
        event.validate()?;
        Ok(event)
    }

    /// Check what serde cannot: the sections the type requires, and size bounds.
    pub fn validate(&self) -> Result<(), ValidationError> {
        for section in required_sections(self.kind) {
            let present = match *section {
                "chat" => self.chat.is_some(),
                "forward" => self.forward.is_some(),
                "message" => self.message.is_some(),
                "offline_message" => self.offline_message.is_some(),
                "lead" => self.lead.is_some(),
                "ticket" => self.ticket.is_some(),
                "canned_response" => self.canned_response.is_some(),
                _ => true,
            };
            if !present {
                return Err(ValidationError::field(
                    *section,
                    format!("required for `{}` events", self.kind),
                ));
            }
        }
        if let Some(chat) = &self.chat {
            short("chat.id", &chat.id, true)?;
            if chat.messages.len() > MAX_MESSAGES {
                return Err(ValidationError::field(
                    "chat.messages",
                    format!("at most {MAX_MESSAGES} messages"),
                ));
            }
            for (i, m) in chat.messages.iter().enumerate() {
                m.validate()
                    .map_err(|e| e.under(&format!("chat.messages[{i}]")))?;
            }
        }
        if let Some(m) = &self.message {
            m.validate().map_err(|e| e.under("message"))?;
        }
        if let Some(v) = &self.visitor {
            short("visitor.id", &v.id, true)?;
        }
        if let Some(a) = &self.agent {
            short("agent.id", &a.id, true)?;
        }
        if let Some(o) = &self.offline_message {
            long("offline_message.message", &o.message)?;
        }
        if let Some(t) = &self.ticket {
            short("ticket.id", &t.id, true)?;
        }
        if let Some(c) = &self.canned_response {
            long("canned_response.text", &c.text)?;
        }
        Ok(())
    }
}

impl ChatMessage {
    fn validate(&self) -> Result<(), ValidationError> {
        long("text", &self.text)
    }
}

fn short(field: &str, value: &str, required: bool) -> Result<(), ValidationError> {
    if required && value.trim().is_empty() {
        return Err(ValidationError::field(field, "must not be empty"));
    }
    if value.len() > MAX_SHORT {
        return Err(ValidationError::field(
            field,
            format!("at most {MAX_SHORT} bytes"),
        ));
    }
    Ok(())
}

fn long(field: &str, value: &str) -> Result<(), ValidationError> {
    if value.len() > MAX_TEXT {
        return Err(ValidationError::field(
            field,
            format!("at most {MAX_TEXT} bytes"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_closed_chat_parses_and_round_trips() {
        // GIVEN a closed chat with a transcript
        let raw = json!({
            "id": "evt-1", "type": "chat.closed", "occurred_at": "2016-06-01T18:41:16.856Z",
            "chat": {"id": "fasd6f5a4sd6f8a4sdf", "tags": ["tag1"], "messages": [
                {"author_type": "visitor", "author_username": "visitor-username", "text": "hi", "sent_at": "2016-06-01T18:41:16.856Z"}
            ]},
            "visitor": {"id": "v1", "name": "visitor name"}
        });
        // WHEN it is parsed
        let event = Event::from_json(raw).unwrap();
        // THEN it keeps every field and serializes back to an equal event
        assert_eq!(event.kind, EventType::ChatClosed);
        assert_eq!(event.chat.as_ref().unwrap().messages.len(), 1);
        let again = Event::from_json(serde_json::to_value(&event).unwrap()).unwrap();
        assert_eq!(again, event);
    }

    #[test]
    fn a_missing_section_is_named() {
        let err = Event::from_json(json!({"type": "chat.closed"})).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("chat"));
        let err =
            Event::from_json(json!({"type": "message.agent", "chat": {"id": "c"}})).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("message"));
    }

    #[test]
    fn unknown_fields_and_types_are_rejected_with_their_name() {
        let err = Event::from_json(json!({"type": "webhook.test", "colour": 1})).unwrap_err();
        assert!(err.message.contains("colour"), "{err}");
        let err = Event::from_json(json!({"type": "chat.bogus"})).unwrap_err();
        assert!(err.message.contains("chat.bogus"), "{err}");
    }

    #[test]
    fn an_event_without_id_gets_one() {
        let event = Event::from_json(json!({"type": "webhook.test"})).unwrap();
        assert!(event.id.as_str().starts_with("evt_"));
    }

    #[test]
    fn nested_errors_carry_their_path() {
        let err = Event::from_json(json!({"type": "chat.closed", "chat": {"id": "c", "messages": [
            {"author_type": "agent", "text": "x".repeat(70_000), "sent_at": "2020-01-01T00:00:00Z"}
        ]}}))
        .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("chat.messages[0].text"));
    }
}
