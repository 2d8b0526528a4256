//! Olark's transcript webhook: a form post whose field `data` holds the JSON
//! `Conversation` (a JSON body is read as the conversation itself). The
//! `start` extra event is `chat.started`; a `!lead` submission
//! (`manuallySubmitted`) is `lead.captured`; a conversation of one
//! `OfflineMessage` item is `offline_message`; any other transcript is
//! `chat.closed`. Olark posts the same conversation again with more in it
//! after `!lead`: the content digest in the id keeps both.
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::collections::BTreeMap;

use super::{Inbound, Platform, derive_id, given, json_body};
use crate::domain::ValidationError;
use crate::domain::catalogue::EventType;
use crate::domain::event::{
    Agent, AuthorType, Chat, ChatMessage, CustomFields, Event, Group, Lead, OfflineMessage, Visitor,
};
use crate::domain::ids::EventId;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Conversation {
    #[serde(default)]
    event_type: Option<String>,
    id: String,
    #[serde(default)]
    manually_submitted: bool,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    items: Vec<Item>,
    #[serde(default)]
    visitor: Option<OlarkVisitor>,
    #[serde(default)]
    operators: BTreeMap<String, Operator>,
    #[serde(default)]
    groups: Vec<OlarkGroup>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Item {
    kind: String,
    #[serde(default)]
    nickname: Option<String>,
    timestamp: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    operator_id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct OlarkVisitor {
    #[serde(default)]
    id: String,
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    email_address: String,
    #[serde(default)]
    phone_number: String,
    #[serde(default)]
    city: String,
    #[serde(default)]
    region: String,
    #[serde(default)]
    country: String,
    #[serde(default)]
    country_code: String,
    #[serde(default)]
    ip: String,
    #[serde(default)]
    browser: String,
    #[serde(default)]
    operating_system: String,
    #[serde(default)]
    custom_fields: CustomFields,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Operator {
    id: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    nickname: String,
    #[serde(default)]
    email_address: String,
}

#[derive(Deserialize)]
struct OlarkGroup {
    id: String,
    #[serde(default)]
    name: String,
}

/// The conversation's JSON: the form field `data`, or the body itself.
fn conversation_json(content_type: Option<&str>, body: &[u8]) -> Result<Vec<u8>, ValidationError> {
    let form = content_type
        .map(|c| c.trim().to_ascii_lowercase())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return Ok(body.to_vec());
    }
    form_urlencoded::parse(body)
        .find(|(k, _)| k == "data")
        .map(|(_, v)| v.into_owned().into_bytes())
        .ok_or_else(|| {
            ValidationError::field("data", "an Olark form post carries the field `data`")
        })
}

pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Inbound, ValidationError> {
    let json = conversation_json(content_type, body)?;
    let c: Conversation = json_body(Platform::Olark, &json)?;
    if c.id.is_empty() {
        return Err(ValidationError::field(
            "id",
            "the conversation id is required",
        ));
    }
    let mut items = Vec::with_capacity(c.items.len());
    for (i, item) in c.items.into_iter().enumerate() {
        let at = timestamp(&format!("items[{i}].timestamp"), &item.timestamp)?;
        items.push((item, at));
    }
    let offline = items.len() == 1 && items[0].0.kind == "OfflineMessage";
    let kind = match c.event_type.as_deref() {
        Some("start") => EventType::ChatStarted,
        Some(other) => {
            return Err(ValidationError::field(
                "eventType",
                format!(
                    "unknown Olark event `{}`; known: start",
                    other.chars().take(64).collect::<String>()
                ),
            ));
        }
        None if c.manually_submitted => EventType::LeadCaptured,
        None if offline => EventType::OfflineMessage,
        None => EventType::ChatClosed,
    };
    let occurred_at = items
        .iter()
        .map(|(_, at)| *at)
        .max()
        .unwrap_or_else(Utc::now);
    let v = c.visitor.unwrap_or_default();
    let visitor = given(&v.id).map(|id| Visitor {
        id,
        name: given(&v.full_name),
        email: given(&v.email_address),
        phone: given(&v.phone_number),
        ip: given(&v.ip),
        browser: given(&v.browser),
        os: given(&v.operating_system),
        city: given(&v.city),
        region: given(&v.region),
        country: given(&v.country),
        country_code: given(&v.country_code),
        custom_fields: v.custom_fields.clone(),
        ..Visitor::default()
    });
    let mut event = Event {
        id: EventId::generate(),
        kind,
        occurred_at,
        chat: None,
        visitor,
        agent: None,
        message: None,
        pre_chat_survey: Vec::new(),
        offline_message: None,
        lead: None,
        ticket: None,
        canned_response: None,
        forward: None,
        tags_change: None,
    };
    if kind == EventType::OfflineMessage {
        let (item, at) = items.remove(0);
        event.offline_message = Some(OfflineMessage {
            name: given(&v.full_name),
            email: given(&v.email_address),
            department: None,
            message: item.body,
            sent_at: at,
        });
        event.chat = Some(Chat {
            id: c.id.clone(),
            ..Chat::default()
        });
    } else {
        let messages = items
            .into_iter()
            .enumerate()
            .map(|(i, (item, at))| message(i, item, at))
            .collect::<Result<Vec<_>, _>>()?;
        event.chat = Some(Chat {
            id: c.id.clone(),
            tags: c.tags,
            messages,
            groups: c
                .groups
                .into_iter()
                .map(|g| Group {
                    name: given(&g.name),
                    id: g.id,
                })
                .collect(),
            agents: c
                .operators
                .into_values()
                .map(|o| Agent {
                    username: given(&o.username),
                    name: given(&o.nickname),
                    email: given(&o.email_address),
                    id: o.id,
                })
                .collect(),
            ..Chat::default()
        });
        if kind == EventType::LeadCaptured {
            event.lead = Some(Lead {
                name: given(&v.full_name),
                email: given(&v.email_address),
                phone: given(&v.phone_number),
                custom_fields: CustomFields::new(),
            });
        }
    }
    let id = derive_id(Platform::Olark, Some(&c.id), &event);
    Ok(Inbound {
        event: Event { id, ..event },
        body_secret: None,
    })
}

fn message(i: usize, item: Item, at: DateTime<Utc>) -> Result<ChatMessage, ValidationError> {
    let (author_type, author_id) = match (item.kind.as_str(), item.operator_id) {
        ("MessageToOperator", _) => (AuthorType::Visitor, None),
        ("MessageToVisitor", Some(id)) if !id.is_empty() => (AuthorType::Agent, Some(id)),
        // Olark's own notices ("Chat ended") name no operator.
        ("MessageToVisitor", _) => (AuthorType::System, None),
        (other, _) => {
            return Err(ValidationError::field(
                format!("items[{i}].kind"),
                format!(
                    "unknown Olark item `{}`; known in a transcript: MessageToOperator, MessageToVisitor",
                    other.chars().take(64).collect::<String>()
                ),
            ));
        }
    };
    Ok(ChatMessage {
        id: None,
        author_type,
        author_id,
        author_name: item.nickname.as_deref().and_then(given),
        author_username: None,
        text: item.body,
        sent_at: at,
        whisper: false,
    })
}

/// Olark's time: Unix seconds with a decimal fraction, as a string
/// (`1307116657.1`); the fraction is read to the millisecond.
fn timestamp(field: &str, raw: &str) -> Result<DateTime<Utc>, ValidationError> {
    let bad = || {
        ValidationError::field(
            field,
            format!(
                "not a Unix time in seconds: `{}`",
                raw.chars().take(32).collect::<String>()
            ),
        )
    };
    let (secs, fraction) = raw.split_once('.').unwrap_or((raw, ""));
    let secs: i64 = secs.parse().map_err(|_| bad())?;
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let mut millis: i64 = 0;
    for b in fraction.bytes().chain(std::iter::repeat(b'0')).take(3) {
        millis = millis * 10 + i64::from(b - b'0');
    }
    // The fraction counts up from the whole seconds below the time, as the
    // `olark` format writes it (`-2.5` is -1.5 s).
    secs.checked_mul(1000)
        .and_then(|s| s.checked_add(millis))
        .and_then(DateTime::from_timestamp_millis)
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Olark's transcript example (FORMATS.md cites it).
    pub const TRANSCRIPT: &str = r#"{"kind": "Conversation", "id": "EV695BI2930A6XMO32886MPT899443414", "manuallySubmitted": false, "tags": ["olark", "customer"], "items": [{"kind": "MessageToVisitor", "nickname": "John", "timestamp": "1307116657.1", "body": "Hi there. Need any help?", "operatorId": "1234"}, {"kind": "MessageToOperator", "nickname": "Bob Doe", "timestamp": "1307116661.25", "body": "Yes, please help me with billing."}], "visitor": {"kind": "Visitor", "id": "9QRF9YWM5XW3ZSU7P9CGWRU89944341", "fullName": "Bob Doe", "emailAddress": "bob@example.com", "phoneNumber": "(555) 555-5555", "city": "Palo Alto", "region": "CA", "country": "United States", "countryCode": "US", "organization": "", "ip": "123.4.56.78", "browser": "Chrome 12.1", "operatingSystem": "Windows", "conversationBeginPage": "http://www.example.com/path", "customFields": {"myInternalCustomerId": "12341234", "favoriteColor": "blue"}}, "operators": {"1234": {"kind": "Operator", "id": "1234", "username": "jdoe", "nickname": "John", "emailAddress": "john@example.com"}}, "groups": [{"kind": "Group", "id": "0123456789abcdef", "name": "My Sales Group"}]}"#;

    fn form(json: &str) -> Vec<u8> {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("data", json)
            .finish()
            .into_bytes()
    }

    const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

    #[test]
    fn the_example_transcript_is_a_closed_chat() {
        let event = parse(FORM, &form(TRANSCRIPT)).unwrap().event;
        assert_eq!(event.kind, EventType::ChatClosed);
        let chat = event.chat.as_ref().unwrap();
        assert_eq!(chat.id, "EV695BI2930A6XMO32886MPT899443414");
        assert_eq!(chat.messages.len(), 2);
        assert_eq!(chat.messages[0].author_type, AuthorType::Agent);
        assert_eq!(chat.messages[0].author_id.as_deref(), Some("1234"));
        assert_eq!(
            chat.messages[1].sent_at.timestamp_millis(),
            1_307_116_661_250
        );
        assert_eq!(chat.agents[0].username.as_deref(), Some("jdoe"));
        assert_eq!(chat.groups[0].name.as_deref(), Some("My Sales Group"));
        assert_eq!(
            event.visitor.as_ref().unwrap().custom_fields["favoriteColor"],
            "blue"
        );
        assert_eq!(event.occurred_at.timestamp_millis(), 1_307_116_661_250);
        // AND a JSON body is read as the conversation itself
        assert_eq!(
            parse(Some("application/json"), TRANSCRIPT.as_bytes())
                .unwrap()
                .event,
            event
        );
    }

    #[test]
    fn a_lead_then_the_longer_transcript_are_two_events() {
        let lead = TRANSCRIPT.replace(
            r#""manuallySubmitted": false"#,
            r#""manuallySubmitted": true"#,
        );
        let lead = parse(FORM, &form(&lead)).unwrap().event;
        assert_eq!(lead.kind, EventType::LeadCaptured);
        assert_eq!(
            lead.lead.as_ref().unwrap().email.as_deref(),
            Some("bob@example.com")
        );
        let first = parse(FORM, &form(TRANSCRIPT)).unwrap().event;
        let longer = TRANSCRIPT.replace(
            r#""items": ["#,
            r#""items": [{"kind": "MessageToOperator", "nickname": "Bob Doe", "timestamp": "1307116600.0", "body": "Hello?"}, "#,
        );
        let second = parse(FORM, &form(&longer)).unwrap().event;
        assert_ne!(first.id, second.id);
        assert_eq!(parse(FORM, &form(TRANSCRIPT)).unwrap().event.id, first.id);
    }

    #[test]
    fn bad_posts_name_what_is_wrong() {
        let err = |ct: Option<&str>, body: &[u8]| parse(ct, body).unwrap_err().to_string();
        assert!(err(FORM, b"other=1").starts_with("data:"));
        assert!(err(FORM, &form("{")).contains("invalid olark payload"));
        let bad = TRANSCRIPT.replace("1307116657.1", "soon");
        assert!(err(FORM, &form(&bad)).starts_with("items[0].timestamp:"));
        let bad = TRANSCRIPT.replace("MessageToVisitor", "Telegram");
        assert!(err(FORM, &form(&bad)).starts_with("items[0].kind:"));
    }

    #[test]
    fn olark_times_read_to_the_millisecond() {
        let ms = |raw| timestamp("t", raw).unwrap().timestamp_millis();
        assert_eq!(ms("1307116657.1"), 1_307_116_657_100);
        assert_eq!(ms("1307116600.0"), 1_307_116_600_000);
        assert_eq!(ms("1307116600.999"), 1_307_116_600_999);
        assert_eq!(ms("1307116600"), 1_307_116_600_000);
        assert_eq!(ms("-2.5"), -1_500);
        assert!(timestamp("t", "1.x").is_err());
    }
}
