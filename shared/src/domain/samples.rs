//! A sample event of every type: complete enough for every format that can
//! render the type. The test-send, the payload preview and the event
//! catalogue's samples all start from these.
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;

use super::catalogue::EventType;
use super::event::{
    Agent, AuthorType, CannedResponse, Chat, ChatMessage, Event, Forward, Lead, Person, Requester,
    SurveyAnswer, TagsChange, Ticket, TicketAuthor, TicketEvent, TicketGroup, TicketSource,
    Visitor,
};
use super::ids::EventId;

fn visitor() -> Visitor {
    Visitor {
        id: "visitor-7".into(),
        name: Some("Dana Reyes".into()),
        username: Some("dana.reyes".into()),
        email: Some("dana@example.com".into()),
        phone: Some("+1 555 0100".into()),
        ip: Some("203.0.113.7".into()),
        browser: Some("Firefox 128".into()),
        os: Some("macOS".into()),
        city: Some("Lisbon".into()),
        region: Some("Lisbon".into()),
        country: Some("Portugal".into()),
        country_code: Some("PT".into()),
        custom_fields: BTreeMap::from([("plan".to_string(), "pro".to_string())]),
    }
}

fn agent() -> Agent {
    Agent {
        id: "agent-3".into(),
        name: Some("Sam Okafor".into()),
        username: Some("sam.okafor".into()),
        email: Some("sam@example.com".into()),
    }
}

fn message(author: AuthorType, text: &str, at: DateTime<Utc>) -> ChatMessage {
    let (id, name, username) = match author {
        AuthorType::Visitor => ("visitor-7", "Dana Reyes", "dana.reyes"),
        _ => ("agent-3", "Sam Okafor", "sam.okafor"),
    };
    ChatMessage {
        id: Some(format!("m-{}", at.timestamp())),
        author_type: author,
        author_id: Some(id.into()),
        author_name: Some(name.into()),
        author_username: Some(username.into()),
        text: text.into(),
        sent_at: at,
        whisper: false,
    }
}

fn chat(now: DateTime<Utc>, closed: bool) -> Chat {
    let started = now - Duration::minutes(12);
    let messages = vec![
        message(
            AuthorType::Visitor,
            "Hi, my order 1187 has not arrived yet.",
            started,
        ),
        message(
            AuthorType::Agent,
            "Sorry about that! It left our warehouse yesterday; here is the tracking link.",
            started + Duration::minutes(2),
        ),
        message(
            AuthorType::Visitor,
            "Great, thanks!",
            now - Duration::minutes(1),
        ),
    ];
    Chat {
        id: "chat-1042".into(),
        started_at: Some(started),
        ended_at: closed.then_some(now),
        last_message_at: Some(now - Duration::minutes(1)),
        topic: Some("Order 1187 has not arrived".into()),
        label: Some("Order question".into()),
        code: Some(1042),
        department: Some("Support".into()),
        tags: vec!["shipping".into()],
        custom_fields: BTreeMap::from([("order_id".to_string(), "1187".to_string())]),
        messages,
        groups: Vec::new(),
        agents: vec![agent()],
    }
}

fn survey() -> Vec<SurveyAnswer> {
    vec![
        SurveyAnswer {
            id: "name".into(),
            kind: "name".into(),
            label: "Your name".into(),
            answer: Some("Dana Reyes".into()),
            answers: None,
        },
        SurveyAnswer {
            id: "email".into(),
            kind: "email".into(),
            label: "Your email".into(),
            answer: Some("dana@example.com".into()),
            answers: None,
        },
    ]
}

fn bare(kind: EventType, now: DateTime<Utc>) -> Event {
    Event::bare(EventId::generate(), kind, now)
}

/// A sample event of `kind` happening at `now`, with a fresh id.
/// `webhook.test` carries no section, as the test-send sends it.
pub fn sample_event(kind: EventType, now: DateTime<Utc>) -> Event {
    use EventType::*;
    let mut event = bare(kind, now);
    if kind == WebhookTest {
        return event;
    }
    let chat_kinds = [
        ChatStarted,
        ChatQueued,
        ChatTaken,
        ChatForwarded,
        ChatClosed,
        ChatTagsChanged,
        MessageVisitor,
        MessageAgent,
        LeadCaptured,
    ];
    if chat_kinds.contains(&kind) {
        let mut c = chat(now, kind == ChatClosed);
        if matches!(kind, ChatStarted | ChatQueued) {
            c.messages.truncate(1);
        }
        event.chat = Some(c);
        event.visitor = Some(visitor());
        event.pre_chat_survey = survey();
        if kind != ChatQueued {
            event.agent = Some(agent());
        }
    }
    match kind {
        ChatForwarded => {
            event.forward = Some(Forward {
                from_agent: Some(agent()),
                to_agent: Some(Agent {
                    id: "agent-5".into(),
                    name: Some("Jane Roe".into()),
                    username: Some("jane.roe".into()),
                    email: Some("jane@example.com".into()),
                }),
                from_department: Some("Support".into()),
                to_department: Some("Billing".into()),
                comment: Some("a billing question".into()),
            })
        }
        ChatTagsChanged => {
            if let Some(c) = event.chat.as_mut() {
                c.tags.push("vip".into());
            }
            event.tags_change = Some(TagsChange {
                added: vec!["vip".into()],
                removed: Vec::new(),
            });
        }
        MessageVisitor => {
            event.message = Some(message(AuthorType::Visitor, "Is anyone there?", now));
        }
        MessageAgent => {
            event.message = Some(message(
                AuthorType::Agent,
                "Yes, I am looking into it now.",
                now,
            ));
        }
        OfflineMessage => {
            event.visitor = Some(visitor());
            event.offline_message = Some(super::event::OfflineMessage {
                name: Some("Dana Reyes".into()),
                email: Some("dana@example.com".into()),
                department: Some("Support".into()),
                message: "Please call me back about order 1187.".into(),
                sent_at: now,
            });
        }
        LeadCaptured => {
            event.lead = Some(Lead {
                name: Some("Dana Reyes".into()),
                email: Some("dana@example.com".into()),
                phone: Some("+1 555 0100".into()),
                custom_fields: BTreeMap::from([("company".to_string(), "Acme".to_string())]),
            });
        }
        TicketCreated => {
            event.visitor = Some(visitor());
            event.ticket = Some(Ticket {
                id: "TCK-2231".into(),
                subject: Some("Order 1187 has not arrived".into()),
                status: Some("open".into()),
                assignee: Some(Person {
                    id: "agent-3".into(),
                    name: Some("Sam Okafor".into()),
                }),
                requester: Some(Requester {
                    email: Some("dana@example.com".into()),
                    name: Some("Dana Reyes".into()),
                }),
                events: vec![TicketEvent {
                    author: Some(TicketAuthor {
                        id: "dana@example.com".into(),
                        name: Some("Dana Reyes".into()),
                        kind: "client".into(),
                    }),
                    date: now,
                    is_private: false,
                    message: Some("My order 1187 has not arrived yet.".into()),
                    source: Some(TicketSource {
                        kind: "mail".into(),
                        url: None,
                        id: None,
                    }),
                    kind: "message".into(),
                }],
                groups: vec![TicketGroup {
                    id: 0,
                    name: Some("Support".into()),
                }],
                tags: vec!["shipping".into()],
                source: Some(TicketSource {
                    kind: "mail".into(),
                    url: None,
                    id: None,
                }),
            });
        }
        CannedResponseChanged => {
            event.canned_response = Some(CannedResponse {
                id: 12,
                group: 0,
                text: "Can I help you with anything else?".into(),
                tags: vec!["anything-else".into()],
                modified_at: now,
            });
        }
        _ => {}
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_is_a_valid_event_of_its_type() {
        let now = Utc::now();
        for kind in EventType::ALL {
            let event = sample_event(kind, now);
            assert_eq!(event.kind, kind);
            event.validate().unwrap_or_else(|e| panic!("{kind}: {e}"));
            // what the intake would accept, through JSON
            let again = Event::from_json(serde_json::to_value(&event).unwrap()).unwrap();
            assert_eq!(again, event);
        }
        assert_ne!(
            sample_event(EventType::ChatClosed, now).id,
            sample_event(EventType::ChatClosed, now).id
        );
    }
}
