//! Deliveries (one event to one integration) and their attempts.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::catalogue::EventType;
use super::ids::{DeliveryId, EventId, IntegrationId, TenantId};
use super::message::DeliveryJob;

/// Bytes of a response body kept on an attempt.
pub const RESPONSE_EXCERPT_BYTES: usize = 4 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Pending,
    Succeeded,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
        }
    }
}

/// Why an attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    Timeout,
    Connect,
    Dns,
    RefusedTarget,
    Tls,
    HttpStatus,
    /// The integration was disabled or deleted before the attempt.
    IntegrationDisabled,
    /// The event could not be rendered or found.
    Render,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Delivery {
    pub id: DeliveryId,
    pub tenant_id: TenantId,
    pub integration_id: IntegrationId,
    pub event_id: EventId,
    pub event_type: EventType,
    /// The conversation of the delivery's event (its `chat.id`), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<String>,
    pub status: DeliveryStatus,
    /// Attempts made so far (`attempt_count`: a delivery's detail also lists them as `attempts`).
    #[serde(rename = "attempt_count")]
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status_code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// A link the receiver returned (`link`, `url` or `integrationUrl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// An ordered delivery not attempted yet because this delivery of the
    /// same chat is ahead of it (`ordering: chat`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<DeliveryId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Attempt {
    pub number: u32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<ErrorKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_excerpt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
}

impl Delivery {
    /// The delivery as of `job`, before its attempt's result: pending, with
    /// the attempts made before this one.
    pub fn pending(job: &DeliveryJob, now: DateTime<Utc>) -> Self {
        Self {
            id: job.delivery_id.clone(),
            tenant_id: job.tenant_id.clone(),
            integration_id: job.integration_id.clone(),
            event_id: job.event_id.clone(),
            event_type: job.event_type,
            chat_id: job.ordered.as_ref().map(|o| o.chat.clone()),
            status: DeliveryStatus::Pending,
            attempts: job.attempt.saturating_sub(1),
            created_at: job.created_at,
            updated_at: now,
            next_attempt_at: None,
            last_status_code: None,
            last_error: None,
            link: None,
            waiting_for: None,
        }
    }
}

/// What happened to one HTTP attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct SendOutcome {
    pub status_code: Option<u16>,
    pub error_kind: Option<ErrorKind>,
    pub error: Option<String>,
    pub response_excerpt: Option<String>,
    pub duration: std::time::Duration,
    /// The receiver's `Retry-After`, already turned into a delay.
    pub retry_after: Option<std::time::Duration>,
}

impl SendOutcome {
    pub fn succeeded(&self) -> bool {
        self.error_kind.is_none() && self.status_code.is_some_and(|c| (200..300).contains(&c))
    }
}

impl Attempt {
    /// The log entry of attempt `number`, started at `started_at`.
    pub fn from_outcome(number: u32, started_at: DateTime<Utc>, outcome: &SendOutcome) -> Self {
        Self {
            number,
            started_at,
            duration_ms: u64::try_from(outcome.duration.as_millis()).unwrap_or(u64::MAX),
            status_code: outcome.status_code,
            error_kind: outcome.error_kind,
            error: outcome.error.clone(),
            response_excerpt: outcome.response_excerpt.clone(),
            next_attempt_at: None,
        }
    }

    pub fn succeeded(&self) -> bool {
        self.error_kind.is_none() && self.status_code.is_some_and(|c| (200..300).contains(&c))
    }
}

/// The attempts a reader is shown with `delivery`, oldest first. An attempt's
/// own record is written before the delivery's state counts it, so a record
/// numbered beyond the delivery's `attempt_count` belongs to a state still
/// being written and is left out: every view pairs a status and count with
/// the attempts that produced them.
pub fn attempts_shown_with(delivery: &Delivery, mut attempts: Vec<Attempt>) -> Vec<Attempt> {
    attempts.retain(|a| a.number <= delivery.attempts);
    attempts.sort_by_key(|a| (a.number, a.started_at));
    attempts
}

/// The first link a 2xx JSON response carries (`link`, `url`, `integrationUrl`).
pub fn link_from_response(body: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(body.trim()).ok()?;
    ["link", "url", "integrationUrl"]
        .iter()
        .find_map(|k| value.get(k)?.as_str().map(str::to_string))
        .filter(|l| l.len() <= 2048 && (l.starts_with("https://") || l.starts_with("http://")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(number: u32, second: u32) -> Attempt {
        Attempt {
            number,
            started_at: DateTime::from_timestamp(1_800_000_000 + i64::from(second), 0)
                .unwrap_or_default(),
            duration_ms: 1,
            status_code: Some(500),
            error_kind: Some(ErrorKind::HttpStatus),
            error: None,
            response_excerpt: None,
            next_attempt_at: None,
        }
    }

    fn delivery(attempts: u32) -> Delivery {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        Delivery {
            id: DeliveryId::generate(),
            tenant_id: TenantId::generate(),
            integration_id: IntegrationId::generate(),
            event_id: EventId::parse("e-1").unwrap_or_else(|_| unreachable!()),
            event_type: EventType::ChatClosed,
            chat_id: None,
            status: DeliveryStatus::Pending,
            attempts,
            created_at: now,
            updated_at: now,
            next_attempt_at: None,
            last_status_code: None,
            last_error: None,
            link: None,
            waiting_for: None,
        }
    }

    #[test]
    fn an_attempt_not_yet_counted_by_its_delivery_is_not_shown_with_it() {
        // GIVEN a delivery counting two attempts, and the third's record already written
        let d = delivery(2);
        let stored = vec![attempt(3, 30), attempt(1, 10), attempt(2, 20)];
        // WHEN the reader pairs them
        let shown = attempts_shown_with(&d, stored);
        // THEN it sees the two counted attempts, oldest first
        let numbers: Vec<u32> = shown.iter().map(|a| a.number).collect();
        assert_eq!(numbers, [1, 2]);
    }

    #[test]
    fn an_attempt_made_twice_is_shown_twice() {
        // GIVEN a first attempt made by two copies of one message
        let d = delivery(1);
        let shown = attempts_shown_with(&d, vec![attempt(1, 11), attempt(1, 10)]);
        // THEN both requests the receiver saw are listed, in the order they started
        assert_eq!(shown.len(), 2);
        assert!(shown[0].started_at < shown[1].started_at);
    }

    #[test]
    fn links_come_from_any_of_the_three_keys() {
        assert_eq!(
            link_from_response(r#"{"link":"https://crm/x"}"#).as_deref(),
            Some("https://crm/x")
        );
        assert_eq!(
            link_from_response(r#"{"integrationUrl":"https://crm/y"}"#).as_deref(),
            Some("https://crm/y")
        );
        assert_eq!(link_from_response(r#"{"url":"javascript:alert(1)"}"#), None);
        assert_eq!(link_from_response("not json"), None);
    }
}
