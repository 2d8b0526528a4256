//! Deliveries (one event to one integration) and their attempts.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::catalogue::EventType;
use super::ids::{DeliveryId, EventId, IntegrationId, TenantId};

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

impl Attempt {
    pub fn succeeded(&self) -> bool {
        self.error_kind.is_none() && self.status_code.is_some_and(|c| (200..300).contains(&c))
    }
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
