//! Queue messages: a tagged, versioned enum, so a new shape can be rolled
//! out while old messages are still in flight.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::catalogue::EventType;
use super::ids::{DeliveryId, EventId, IntegrationId, TenantId};
use super::sequence::InOrder;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum QueueMessage {
    /// Attempt a delivery now (delivery queue).
    #[serde(rename = "delivery.v1")]
    DeliveryV1(DeliveryJob),
    /// Re-attempt a delivery at `due_at` (retry queue; hops while not due).
    #[serde(rename = "retry.v1")]
    RetryV1(RetryJob),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryJob {
    pub delivery_id: DeliveryId,
    pub tenant_id: TenantId,
    pub integration_id: IntegrationId,
    pub event_id: EventId,
    pub event_type: EventType,
    /// The attempt this job makes, 1-based.
    pub attempt: u32,
    /// When the delivery was first queued.
    pub created_at: DateTime<Utc>,
    /// Set by the intake: the job is valid only while the stored event still
    /// carries this acceptance token. A job queued by a request whose event
    /// was then re-posted (and re-tokened) stands down instead of sending twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "token")]
    pub acceptance_token: Option<String>,
    /// Queued again by a repeat of the event: skipped when the delivery log
    /// already has this delivery (the first request's job got there).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[serde(rename = "requeued")]
    pub repeat: bool,
    /// Set when the delivery is ordered (`domain::sequence`): its chat and
    /// place in the chat's sequence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ordered: Option<InOrder>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryJob {
    #[serde(flatten)]
    pub job: DeliveryJob,
    pub due_at: DateTime<Utc>,
}

impl QueueMessage {
    /// The job the message carries, whichever queue it is on.
    pub fn job(&self) -> &DeliveryJob {
        match self {
            Self::DeliveryV1(job) => job,
            Self::RetryV1(retry) => &retry.job,
        }
    }

    pub fn to_json(&self) -> String {
        // Serializing these plain structs cannot fail (no maps with non-string keys).
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(raw: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(raw)
    }
}

/// Which receive of its message a consumer is handling: SQS hands a
/// message out again when the consumer before did not delete it (it failed,
/// timed out, or its delete was lost), up to the queue's maxReceiveCount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiveCount {
    /// The message's ApproximateReceiveCount (1 on its first receive).
    pub count: u32,
    /// The queue's maxReceiveCount: after that receive it dead-letters.
    pub max: u32,
}

impl ReceiveCount {
    /// A first receive, on a queue that never dead-letters (direct calls).
    pub const FIRST: ReceiveCount = ReceiveCount {
        count: 1,
        max: u32::MAX,
    };

    /// The message was handed out before: its work may already be done.
    pub fn is_repeat(&self) -> bool {
        self.count > 1
    }

    /// The last receive before the message moves to the dead-letter queue.
    pub fn is_last(&self) -> bool {
        self.count >= self.max
    }
}

impl DeliveryJob {
    /// The first attempt at delivering an event to an integration, under the
    /// delivery id derived from the three ids (the same for every repeat).
    pub fn first(
        tenant: &TenantId,
        event_id: &EventId,
        event_type: EventType,
        integration: &IntegrationId,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            delivery_id: DeliveryId::derive(tenant, event_id, integration),
            tenant_id: tenant.clone(),
            integration_id: integration.clone(),
            event_id: event_id.clone(),
            event_type,
            attempt: 1,
            created_at: now,
            acceptance_token: None,
            repeat: false,
            ordered: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> DeliveryJob {
        DeliveryJob {
            delivery_id: DeliveryId::parse("msg_1").unwrap(),
            tenant_id: TenantId::parse("ten_1").unwrap(),
            integration_id: IntegrationId::parse("int_1").unwrap(),
            event_id: EventId::parse("e1").unwrap(),
            event_type: EventType::ChatClosed,
            attempt: 1,
            created_at: Utc::now(),
            acceptance_token: None,
            repeat: false,
            ordered: None,
        }
    }

    #[test]
    fn messages_are_tagged_with_their_version() {
        let m = QueueMessage::DeliveryV1(job());
        let json = m.to_json();
        assert!(json.contains(r#""type":"delivery.v1""#));
        assert_eq!(QueueMessage::from_json(&json).unwrap(), m);
        let r = QueueMessage::RetryV1(RetryJob {
            job: job(),
            due_at: Utc::now(),
        });
        assert_eq!(QueueMessage::from_json(&r.to_json()).unwrap(), r);
    }

    #[test]
    fn unknown_versions_do_not_parse() {
        assert!(QueueMessage::from_json(r#"{"type":"delivery.v9"}"#).is_err());
        assert!(QueueMessage::from_json("garbage").is_err());
    }
}
