//! Inbound payloads: what Rocket.Chat, LiveChat, Olark and AmplifyReach post
//! to a source, parsed into the canonical [`Event`]. One module per platform,
//! each reading exactly the shapes its renderer in `formats` writes (and the
//! seeds' examples); pure functions, no I/O.
//!
//! Event ids are derived from the payload: the platform, its conversation id,
//! the canonical event type and a digest of the event's content, so a
//! platform's retry of the same post gets the same id (delivered once) while
//! a new post of the same conversation with more in it (Olark's `!lead`
//! transcript, then the final one) gets a new one.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

use super::ValidationError;
use super::catalogue::EventType;
use super::event::Event;
use super::ids::EventId;

pub mod amplifyreach;
pub mod livechat;
pub mod olark;
pub mod rocketchat;
#[cfg(test)]
mod round_trip;

/// A platform a source receives webhooks from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Rocketchat,
    Livechat,
    Olark,
    Amplifyreach,
}

impl Platform {
    pub const ALL: [Platform; 4] = [
        Platform::Rocketchat,
        Platform::Livechat,
        Platform::Olark,
        Platform::Amplifyreach,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Platform::Rocketchat => "rocketchat",
            Platform::Livechat => "livechat",
            Platform::Olark => "olark",
            Platform::Amplifyreach => "amplifyreach",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Platform {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Platform::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                ValidationError::field(
                    "platform",
                    format!(
                        "unknown platform `{}`; known platforms: {}",
                        s.chars().take(64).collect::<String>(),
                        Platform::ALL.map(Platform::as_str).join(", ")
                    ),
                )
            })
    }
}

/// One post of a platform, parsed: the canonical event and the credential
/// the payload itself carries (LiveChat's `secret_key` or `token`), if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Inbound {
    pub event: Event,
    pub body_secret: Option<String>,
}

/// Parse one post of `platform`: its body and content type.
pub fn parse(
    platform: Platform,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Inbound, ValidationError> {
    let inbound = match platform {
        Platform::Rocketchat => rocketchat::parse(body),
        Platform::Livechat => livechat::parse(body),
        Platform::Olark => olark::parse(content_type, body),
        Platform::Amplifyreach => amplifyreach::parse(body),
    }?;
    inbound
        .event
        .validate()
        .map_err(|e| ValidationError::general(format!("{platform} payload: {e}")))?;
    Ok(inbound)
}

/// A JSON body as `T`, a failure naming the platform and the path to the
/// offending field.
pub(crate) fn json_body<'a, T: Deserialize<'a>>(
    platform: Platform,
    body: &'a [u8],
) -> Result<T, ValidationError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." || path.is_empty() {
            ValidationError::general(format!("invalid {platform} payload: {inner}"))
        } else {
            ValidationError::field(path, format!("invalid {platform} payload: {inner}"))
        }
    })
}

/// The event's id: `<platform>:<conversation>:<type>:<digest>`, the digest
/// (16 bytes of SHA-256, hex) over the platform, the conversation, the type
/// and the event's content (everything but its id). A conversation id that
/// is not short printable ASCII is replaced by its own digest.
/// The event type a platform's type name stands for in its table, or an
/// error on `field` naming the unknown name and listing the known ones.
fn kind_named(
    types: &[(&str, EventType)],
    name: &str,
    field: &str,
    what: &str,
) -> Result<EventType, ValidationError> {
    types
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, kind)| *kind)
        .ok_or_else(|| {
            let known: Vec<&str> = types.iter().map(|(known, _)| *known).collect();
            ValidationError::field(
                field,
                format!(
                    "unknown {what} `{}`; known: {}",
                    name.chars().take(64).collect::<String>(),
                    known.join(", ")
                ),
            )
        })
}

pub fn derive_id(platform: Platform, conversation: Option<&str>, event: &Event) -> EventId {
    let mut content = event.clone();
    content.id = EventId::parse("-").unwrap_or_else(|_| EventId::generate());
    // Where a payload carries no time, the event's is when it was received.
    content.occurred_at = DateTime::UNIX_EPOCH;
    let content = serde_json::to_vec(&content).unwrap_or_default();
    let conversation = conversation.unwrap_or("-");
    let mut h = Sha256::new();
    for part in [
        platform.as_str().as_bytes(),
        conversation.as_bytes(),
        event.kind.as_str().as_bytes(),
        &content,
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    let digest = hex::encode(&h.finalize()[..16]);
    let shown = if !conversation.is_empty()
        && conversation.len() <= 48
        && conversation.bytes().all(|b| b.is_ascii_graphic())
    {
        conversation.to_string()
    } else {
        let mut h = Sha256::new();
        h.update(conversation.as_bytes());
        hex::encode(&h.finalize()[..8])
    };
    let id = format!("{platform}:{shown}:{}:{digest}", event.kind.as_str());
    // At most 10 + 48 + 23 + 32 + 3 printable characters: always valid.
    EventId::parse(&id).unwrap_or_else(|_| EventId::generate())
}

/// An RFC 3339 time, `field` naming it on failure.
pub(crate) fn rfc3339(field: &str, raw: &str) -> Result<DateTime<Utc>, ValidationError> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| ValidationError::field(field, format!("not an RFC 3339 time: {e}")))
}

/// Unix seconds, `field` naming it when out of range.
pub(crate) fn unix(field: &str, secs: i64) -> Result<DateTime<Utc>, ValidationError> {
    DateTime::from_timestamp(secs, 0)
        .ok_or_else(|| ValidationError::field(field, "not a valid Unix time"))
}

/// `Some` for a non-empty text: the formats write `""` for what is unknown.
pub(crate) fn given(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}
