//! AmplifyReach webhooks (seed 003): `{"type", "data"}`. `Chat Transcript`
//! is `chat.closed`: its text, one `Name: text` line per message, split back
//! into messages (a line without `: ` continues the message before it; the
//! speaker `Visitor` is the visitor, any other the agent it names).
//! `Contact Information` is `lead.captured`. AmplifyReach sends no
//! conversation id and no times: the chat id is a digest of the transcript
//! and every time is when the post was received.
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{Inbound, Platform, derive_id, given, json_body};
use crate::domain::ValidationError;
use crate::domain::catalogue::EventType;
use crate::domain::event::{AuthorType, Chat, ChatMessage, Event, Lead};
use crate::domain::ids::EventId;

#[derive(Deserialize)]
struct Payload {
    #[serde(rename = "type")]
    kind: String,
    data: serde_json::Value,
}

#[derive(Deserialize)]
struct Transcript {
    chat_transcript: String,
}

#[derive(Deserialize)]
struct Contact {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
}

pub const TYPES: [(&str, EventType); 2] = [
    ("Chat Transcript", EventType::ChatClosed),
    ("Contact Information", EventType::LeadCaptured),
];

fn data<T: for<'de> Deserialize<'de>>(value: serde_json::Value) -> Result<T, ValidationError> {
    serde_json::from_value(value)
        .map_err(|e| ValidationError::field("data", format!("invalid amplifyreach payload: {e}")))
}

pub fn parse(body: &[u8]) -> Result<Inbound, ValidationError> {
    let p: Payload = json_body(Platform::Amplifyreach, body)?;
    let kind = super::kind_named(&TYPES, &p.kind, "type", "AmplifyReach webhook type")?;
    // Built at a fixed time, so the id does not depend on when it arrived.
    let mut event = Event::bare(EventId::generate(), kind, DateTime::UNIX_EPOCH);
    let mut conversation = None;
    match kind {
        EventType::ChatClosed => {
            let t: Transcript = data(p.data)?;
            let id = hex::encode(&Sha256::digest(t.chat_transcript.as_bytes())[..12]);
            event.chat = Some(Chat {
                messages: messages(&t.chat_transcript),
                id: id.clone(),
                ..Chat::default()
            });
            conversation = Some(id);
        }
        _ => {
            let c: Contact = data(p.data)?;
            event.lead = Some(Lead {
                name: given(&c.name),
                email: given(&c.email),
                phone: given(&c.phone),
                ..Lead::default()
            });
        }
    }
    let id = derive_id(Platform::Amplifyreach, conversation.as_deref(), &event);
    let now = Utc::now();
    event.occurred_at = now;
    for m in event.chat.iter_mut().flat_map(|c| c.messages.iter_mut()) {
        m.sent_at = now;
    }
    Ok(Inbound {
        event: Event { id, ..event },
        body_secret: None,
    })
}

/// `Name: text` lines as messages; a line without `: ` continues the last.
fn messages(transcript: &str) -> Vec<ChatMessage> {
    let mut out: Vec<ChatMessage> = Vec::new();
    for line in transcript.split('\n') {
        match (line.split_once(": "), out.last_mut()) {
            (None, Some(last)) => {
                last.text.push('\n');
                last.text.push_str(line);
            }
            (None, None) if line.is_empty() => {}
            (split, _) => {
                let (speaker, text) = split.unwrap_or(("", line));
                let author_type = match speaker {
                    "Visitor" => AuthorType::Visitor,
                    _ => AuthorType::Agent,
                };
                out.push(ChatMessage {
                    id: None,
                    author_type,
                    author_id: None,
                    author_name: (author_type == AuthorType::Agent)
                        .then(|| given(speaker))
                        .flatten(),
                    author_username: None,
                    text: text.to_string(),
                    sent_at: DateTime::UNIX_EPOCH,
                    whisper: false,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_contact_information_is_a_lead() {
        let body = r#"{"type": "Contact Information", "data": {"name": "John Carter", "email": "john.carter@outlook.com", "phone": "+919811123456"}}"#;
        let event = parse(body.as_bytes()).unwrap().event;
        assert_eq!(event.kind, EventType::LeadCaptured);
        let lead = event.lead.as_ref().unwrap();
        assert_eq!(lead.name.as_deref(), Some("John Carter"));
        assert_eq!(lead.phone.as_deref(), Some("+919811123456"));
        // AND the same post twice has one id (no time in it)
        assert_eq!(parse(body.as_bytes()).unwrap().event.id, event.id);
    }

    #[test]
    fn a_transcript_is_split_into_its_messages() {
        let body = r#"{"type": "Chat Transcript", "data": {"chat_transcript": "Visitor: hi\nthere\nAnn: hello: welcome"}}"#;
        let event = parse(body.as_bytes()).unwrap().event;
        let chat = event.chat.unwrap();
        let got: Vec<(AuthorType, Option<&str>, &str)> = chat
            .messages
            .iter()
            .map(|m| (m.author_type, m.author_name.as_deref(), m.text.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (AuthorType::Visitor, None, "hi\nthere"),
                (AuthorType::Agent, Some("Ann"), "hello: welcome")
            ]
        );
        // the seed's own example, one line without a speaker
        let seed = r#"{"type": "Chat Transcript", "data": {"chat_transcript": "Chat Transcript"}}"#;
        let chat = parse(seed.as_bytes()).unwrap().event.chat.unwrap();
        assert_eq!(chat.messages[0].text, "Chat Transcript");
    }

    #[test]
    fn bad_posts_name_what_is_wrong() {
        let err = |body: &str| parse(body.as_bytes()).unwrap_err().to_string();
        assert!(err(r#"{"type": "Chat Started", "data": {}}"#).contains("`Chat Started`"));
        assert!(err(r#"{"type": "Chat Transcript", "data": {}}"#).starts_with("data:"));
        assert!(err(r#"{"type": "Chat Transcript"}"#).contains("missing field `data`"));
    }
}
