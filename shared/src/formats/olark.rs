//! `olark`: Olark's transcript webhook: a form POST with one field, `data`,
//! holding the JSON `Conversation`. `chat.started` is the extra `start` event.
//! Every key of Olark's example transcript is always sent; what the event
//! lacks is a fallback or `""` (FORMATS.md). The conversation borrows from
//! the event.
use serde::Serialize;
use std::borrow::Cow;
use std::collections::BTreeMap;

use super::common::{Author, UnixFraction, form_field, handle, need, or_empty};
use super::{RenderError, Rendered};
use crate::domain::catalogue::EventType;
use crate::domain::event::{AuthorType, Chat, Event, Lead, Visitor as EventVisitor};

pub const FORM: &str = "application/x-www-form-urlencoded";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Conversation<'a> {
    kind: &'static str,
    /// Extra events only (`start`).
    #[serde(skip_serializing_if = "Option::is_none")]
    event_type: Option<&'static str>,
    id: &'a str,
    manually_submitted: bool,
    tags: &'a [String],
    items: Vec<Item<'a>>,
    visitor: Visitor<'a>,
    operators: BTreeMap<&'a str, Operator<'a>>,
    groups: Vec<Group<'a>>,
}

/// Messages to the visitor carry `operatorId`; offline messages have no
/// `nickname` (Olark's offline example).
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

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct Visitor<'a> {
    kind: &'static str,
    id: Cow<'a, str>,
    full_name: &'a str,
    email_address: &'a str,
    phone_number: &'a str,
    city: &'a str,
    region: &'a str,
    country: &'a str,
    country_code: &'a str,
    /// No canonical data: always `""`.
    organization: &'a str,
    ip: &'a str,
    browser: &'a str,
    operating_system: &'a str,
    /// No canonical data: always `""`.
    conversation_begin_page: &'a str,
    custom_fields: BTreeMap<&'a str, &'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Operator<'a> {
    kind: &'static str,
    id: &'a str,
    username: &'a str,
    nickname: &'a str,
    email_address: &'a str,
}

#[derive(Serialize)]
struct Group<'a> {
    kind: &'static str,
    id: &'a str,
    name: &'a str,
}

pub fn render(event: &Event) -> Result<Rendered, RenderError> {
    let conversation = match event.kind {
        EventType::ChatClosed => transcript(event, Some(need(&event.chat, "chat")?)),
        // A lead may be captured outside a chat: an empty transcript.
        EventType::LeadCaptured => transcript(event, event.chat.as_ref()),
        EventType::ChatStarted => Conversation {
            event_type: Some("start"),
            ..transcript(event, Some(need(&event.chat, "chat")?))
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
    // Only structs and string-keyed maps are serialized: this cannot fail.
    let data = serde_json::to_string(&conversation).unwrap_or_default();
    Ok(Rendered {
        content_type: FORM,
        body: form_field("data", &data),
        headers: Vec::new(),
    })
}

fn conversation<'a>(id: &'a str, visitor: Visitor<'a>) -> Conversation<'a> {
    Conversation {
        kind: "Conversation",
        event_type: None,
        id,
        manually_submitted: false,
        tags: &[],
        items: Vec::new(),
        visitor,
        operators: BTreeMap::new(),
        groups: Vec::new(),
    }
}

/// The chat's transcript. Its id is the chat's (else the event's), so a
/// `!lead` transcript and the final one of the same conversation share it.
/// Whispers never reached the visitor and are left out. Olark has no
/// conversation-level custom fields (its custom fields API sets the
/// visitor's), so the chat's custom fields join `visitor.customFields`, the
/// visitor's own winning a clash.
fn transcript<'a>(event: &'a Event, chat: Option<&'a Chat>) -> Conversation<'a> {
    let id = chat.map_or(event.id.as_str(), |c| &c.id);
    let items = chat
        .iter()
        .flat_map(|c| &c.messages)
        .filter(|m| !m.whisper)
        .map(|m| {
            let author = Author::of(event, m);
            let from_visitor = m.author_type == AuthorType::Visitor;
            Item {
                kind: if from_visitor {
                    "MessageToOperator"
                } else {
                    "MessageToVisitor"
                },
                nickname: Some(author.display_name().unwrap_or_default()),
                timestamp: UnixFraction(m.sent_at),
                body: &m.text,
                // A system message has no operator: `""`.
                operator_id: (!from_visitor).then(|| match m.author_type {
                    AuthorType::System => "",
                    _ => author.id.unwrap_or_default(),
                }),
            }
        })
        .collect();
    let operators = chat
        .iter()
        .flat_map(|c| &c.agents)
        .chain(event.agent.iter())
        .map(|a| {
            let operator = Operator {
                kind: "Operator",
                id: &a.id,
                username: handle(a.username.as_deref(), Some(&a.id), None),
                nickname: or_empty(&a.name),
                email_address: or_empty(&a.email),
            };
            (a.id.as_str(), operator)
        })
        .collect();
    let lead_email = event.lead.as_ref().and_then(|l| l.email.as_deref());
    let mut visitor = visitor(event, anonymous_id(lead_email, id));
    for (key, value) in chat.iter().flat_map(|c| &c.custom_fields) {
        visitor.custom_fields.entry(key).or_insert(value);
    }
    Conversation {
        manually_submitted: event.kind == EventType::LeadCaptured,
        tags: chat.map_or(&[], |c| &c.tags),
        items,
        operators,
        groups: chat
            .iter()
            .flat_map(|c| &c.groups)
            .map(|g| Group {
                kind: "Group",
                id: &g.id,
                name: or_empty(&g.name),
            })
            .collect(),
        ..conversation(id, visitor)
    }
}

/// The event's visitor, `id` the visitor's, else `anonymous_id`. For
/// `lead.captured`, the lead's name, email, phone and custom fields (the
/// newest contact data) win over the visitor's.
fn visitor<'a>(event: &'a Event, anonymous_id: Cow<'a, str>) -> Visitor<'a> {
    let v = event.visitor.as_ref();
    let lead = event.lead.as_ref();
    let field = |f: fn(&'a EventVisitor) -> &'a Option<String>| v.map_or("", |v| or_empty(f(v)));
    let lead_or = |f: fn(&'a Lead) -> &'a Option<String>, own: &'a str| {
        lead.and_then(|l| f(l).as_deref()).unwrap_or(own)
    };
    let mut custom_fields = BTreeMap::new();
    for fields in [v.map(|v| &v.custom_fields), lead.map(|l| &l.custom_fields)] {
        custom_fields.extend(
            fields
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
    }
    Visitor {
        kind: "Visitor",
        id: v.map_or(anonymous_id, |v| Cow::Borrowed(&v.id)),
        full_name: lead_or(|l| &l.name, field(|v| &v.name)),
        email_address: lead_or(|l| &l.email, field(|v| &v.email)),
        phone_number: lead_or(|l| &l.phone, field(|v| &v.phone)),
        city: field(|v| &v.city),
        region: field(|v| &v.region),
        country: field(|v| &v.country),
        country_code: field(|v| &v.country_code),
        ip: field(|v| &v.ip),
        browser: field(|v| &v.browser),
        operating_system: field(|v| &v.os),
        custom_fields,
        ..Visitor::default()
    }
}

/// The id of a visitor the event does not carry: the email address given
/// (an offline form's, a lead's) lowercased, so a receiver keying contacts on
/// `visitor.id` files repeated messages from one address together; else the
/// conversation id.
fn anonymous_id<'a>(email: Option<&str>, conversation_id: &'a str) -> Cow<'a, str> {
    email
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map_or(Cow::Borrowed(conversation_id), |e| {
            Cow::Owned(e.to_lowercase())
        })
}

/// An offline message: a conversation (the chat's id if any, else the
/// event's) with one `OfflineMessage` item (`timestamp` and `body`, as in
/// Olark's example); the form's name and email override the visitor's.
fn offline(event: &Event) -> Result<Conversation<'_>, RenderError> {
    let offline = need(&event.offline_message, "offline_message")?;
    let id = event.chat.as_ref().map_or(event.id.as_str(), |c| &c.id);
    let mut visitor = visitor(event, anonymous_id(offline.email.as_deref(), id));
    visitor.full_name = offline.name.as_deref().unwrap_or(visitor.full_name);
    visitor.email_address = offline.email.as_deref().unwrap_or(visitor.email_address);
    Ok(Conversation {
        items: vec![Item {
            kind: "OfflineMessage",
            nickname: None,
            timestamp: UnixFraction(offline.sent_at),
            body: &offline.message,
            operator_id: None,
        }],
        ..conversation(id, visitor)
    })
}

/// The "Send test" payload: a sample conversation, one operator message to
/// a sample visitor.
fn test_transcript(event: &Event) -> Conversation<'_> {
    let operator = Operator {
        kind: "Operator",
        id: "chathooks",
        username: "chathooks",
        nickname: "chathooks",
        email_address: "",
    };
    let visitor = Visitor {
        kind: "Visitor",
        id: Cow::Borrowed("test-visitor"),
        full_name: "Test Visitor",
        email_address: "visitor@example.com",
        ..Visitor::default()
    };
    Conversation {
        items: vec![Item {
            kind: "MessageToVisitor",
            nickname: Some("chathooks"),
            timestamp: UnixFraction(event.occurred_at),
            body: "This is a test transcript: your webhook endpoint works.",
            operator_id: Some("chathooks"),
        }],
        operators: BTreeMap::from([("chathooks", operator)]),
        ..conversation(event.id.as_str(), visitor)
    }
}
