//! `amplifyreach`: AmplifyReach webhooks `{"type", "data"}`: `Chat Transcript`
//! when a chat closes, `Contact Information` when a lead is captured.
use serde::Serialize;

use super::common::{Author, json, need};
use super::{RenderError, Rendered};
use crate::domain::catalogue::EventType;
use crate::domain::event::{AuthorType, ChatMessage, Event};

#[derive(Serialize)]
struct Payload<T> {
    #[serde(rename = "type")]
    kind: &'static str,
    data: T,
}

#[derive(Serialize)]
struct Transcript {
    chat_transcript: String,
}

/// Always the three keys AmplifyReach sends; an unknown value is `""`.
#[derive(Serialize)]
struct Contact {
    name: String,
    email: String,
    phone: String,
}

pub fn render(event: &Event) -> Result<Rendered, RenderError> {
    match event.kind {
        EventType::ChatClosed => Ok(transcript(text(event)?)),
        EventType::LeadCaptured => contact(event),
        EventType::WebhookTest => Ok(transcript(
            "chathooks: this is a test transcript, your webhook endpoint works.".to_string(),
        )),
        _ => Err(RenderError::Unsupported {
            format: "amplifyreach",
            event_type: event.kind.as_str(),
        }),
    }
}

fn transcript(chat_transcript: String) -> Rendered {
    let payload = Payload {
        kind: "Chat Transcript",
        data: Transcript { chat_transcript },
    };
    json(&payload, Vec::new())
}

/// The transcript as the visitor saw it: one `Name: text` line per message,
/// whispers left out.
fn text(event: &Event) -> Result<String, RenderError> {
    let chat = need(&event.chat, "chat")?;
    let lines: Vec<String> = chat
        .messages
        .iter()
        .filter(|m| !m.whisper)
        .map(|m| format!("{}: {}", speaker(event, m), m.text))
        .collect();
    Ok(lines.join("\n"))
}

fn speaker<'a>(event: &'a Event, m: &'a ChatMessage) -> &'a str {
    Author::of(event, m)
        .display_name()
        .unwrap_or(match m.author_type {
            AuthorType::Visitor => "Visitor",
            AuthorType::Agent | AuthorType::Supervisor => "Agent",
            AuthorType::Bot => "Bot",
            AuthorType::System => "System",
        })
}

/// The lead's contact data, each missing value taken from the visitor.
fn contact(event: &Event) -> Result<Rendered, RenderError> {
    let lead = need(&event.lead, "lead")?;
    let visitor = event.visitor.as_ref();
    let pick = |own: &Option<String>, from_visitor: Option<&Option<String>>| {
        own.clone()
            .or_else(|| from_visitor.cloned().flatten())
            .unwrap_or_default()
    };
    let payload = Payload {
        kind: "Contact Information",
        data: Contact {
            name: pick(&lead.name, visitor.map(|v| &v.name)),
            email: pick(&lead.email, visitor.map(|v| &v.email)),
            phone: pick(&lead.phone, visitor.map(|v| &v.phone)),
        },
    };
    Ok(json(&payload, Vec::new()))
}
