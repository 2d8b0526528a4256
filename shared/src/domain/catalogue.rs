//! The event catalogue: every canonical event type the intake accepts.
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use super::ValidationError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum EventType {
    ChatStarted,
    ChatQueued,
    ChatTaken,
    ChatForwarded,
    ChatClosed,
    ChatTagsChanged,
    MessageVisitor,
    MessageAgent,
    OfflineMessage,
    LeadCaptured,
    TicketCreated,
    CannedResponseChanged,
    WebhookTest,
}

impl EventType {
    pub const ALL: [EventType; 13] = [
        EventType::ChatStarted,
        EventType::ChatQueued,
        EventType::ChatTaken,
        EventType::ChatForwarded,
        EventType::ChatClosed,
        EventType::ChatTagsChanged,
        EventType::MessageVisitor,
        EventType::MessageAgent,
        EventType::OfflineMessage,
        EventType::LeadCaptured,
        EventType::TicketCreated,
        EventType::CannedResponseChanged,
        EventType::WebhookTest,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            EventType::ChatStarted => "chat.started",
            EventType::ChatQueued => "chat.queued",
            EventType::ChatTaken => "chat.taken",
            EventType::ChatForwarded => "chat.forwarded",
            EventType::ChatClosed => "chat.closed",
            EventType::ChatTagsChanged => "chat.tags_changed",
            EventType::MessageVisitor => "message.visitor",
            EventType::MessageAgent => "message.agent",
            EventType::OfflineMessage => "offline_message",
            EventType::LeadCaptured => "lead.captured",
            EventType::TicketCreated => "ticket.created",
            EventType::CannedResponseChanged => "canned_response.changed",
            EventType::WebhookTest => "webhook.test",
        }
    }
}

/// Where an event type belongs in the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EventGroup {
    /// Chat lifecycle.
    Chat,
    /// Messages in a chat.
    Messages,
    /// Offline messages and leads.
    Offline,
    /// Tickets.
    Tickets,
    /// Canned responses.
    Canned,
    /// The test delivery.
    Test,
}

impl EventType {
    pub const fn group(self) -> EventGroup {
        use EventType::*;
        match self {
            ChatStarted | ChatQueued | ChatTaken | ChatForwarded | ChatClosed | ChatTagsChanged => {
                EventGroup::Chat
            }
            MessageVisitor | MessageAgent => EventGroup::Messages,
            OfflineMessage | LeadCaptured => EventGroup::Offline,
            TicketCreated => EventGroup::Tickets,
            CannedResponseChanged => EventGroup::Canned,
            WebhookTest => EventGroup::Test,
        }
    }

    /// What triggers the event, for people.
    pub const fn description(self) -> &'static str {
        use EventType::*;
        match self {
            ChatStarted => "A visitor started a chat (pre-chat survey answered).",
            ChatQueued => "A chat is waiting in the queue for an agent.",
            ChatTaken => "An agent took a queued chat.",
            ChatForwarded => "A chat was transferred to another agent or department.",
            ChatClosed => "A chat ended; carries the whole transcript.",
            ChatTagsChanged => "Tags were added to or removed from a chat.",
            MessageVisitor => "The visitor sent a message.",
            MessageAgent => "An agent sent a message.",
            OfflineMessage => "A visitor left a message while no agent was online.",
            LeadCaptured => "A visitor's contact details were captured.",
            TicketCreated => "A ticket was created (from a chat, an email or a form).",
            CannedResponseChanged => "A canned response was created or changed.",
            WebhookTest => "Sent by Send test to check the endpoint; never by a chat.",
        }
    }
}

impl FromStr for EventType {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                ValidationError::general(format!(
                    "unknown event type `{}`; known types: {}",
                    s.chars().take(64).collect::<String>(),
                    EventType::ALL.map(|t| t.as_str()).join(", ")
                ))
            })
    }
}

impl TryFrom<String> for EventType {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<EventType> for &'static str {
    fn from(t: EventType) -> Self {
        t.as_str()
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips_through_its_name() {
        for t in EventType::ALL {
            assert_eq!(t.as_str().parse::<EventType>().unwrap(), t);
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(serde_json::from_str::<EventType>(&json).unwrap(), t);
        }
    }

    #[test]
    fn unknown_type_names_the_known_ones() {
        let err = "chat.exploded".parse::<EventType>().unwrap_err();
        assert!(err.message.contains("chat.exploded"));
        assert!(err.message.contains("chat.closed"));
    }
}
