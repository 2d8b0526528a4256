//! The request and response bodies of the routes that have no application
//! DTO of their own. The handlers answer with these types and the OpenAPI
//! document derives its schemas from them, so the two cannot drift apart.
use chathooks::app::intake::Accepted;
use chathooks::app::integrations::IntegrationView;
use chathooks::app::rocketchat_settings::LivechatWebhookSettings;
use chathooks::domain::delivery::Delivery;
use chathooks::domain::event::Event;
use chathooks::domain::integration::Integration;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One page of integrations, in creation order.
#[derive(Debug, Serialize, JsonSchema)]
pub struct IntegrationPage {
    pub items: Vec<IntegrationView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// One page of the delivery log, newest first.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DeliveryPage {
    pub items: Vec<Delivery>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// The current signing secret, and during a rotation's grace period the
/// previous one, which still signs every delivery until it expires.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SecretView {
    /// `whsec_` + base64.
    pub secret: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
}

impl SecretView {
    /// The secrets signing now: "previous" is the one the last rotation
    /// replaced (retired secrets are kept newest first), while it still signs.
    pub fn of(integration: &Integration, now: DateTime<Utc>) -> Self {
        let previous = integration
            .retired_secrets()
            .iter()
            .find(|r| r.expires_at > now);
        Self {
            secret: integration.secret().expose().to_string(),
            previous_secret: previous.map(|r| r.secret.expose().to_string()),
            previous_secret_expires_at: previous.map(|r| r.expires_at),
        }
    }
}

#[derive(Debug, Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    /// The new secret (`whsec_` + base64); generated when absent.
    #[serde(default)]
    pub secret: Option<String>,
    /// How long the old secret keeps signing, in hours, at most 168 (default: the deployment's, 24).
    #[serde(default)]
    #[schemars(range(max = 168))]
    pub grace_hours: Option<u32>,
}

/// The new secret, and until when the previous one still signs.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RotatedSecret {
    pub secret: String,
    /// Null when the rotation had no grace period.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Recover {
    /// RFC 3339: failed deliveries created at or after this instant.
    pub since: String,
    /// RFC 3339: ... and before this one (default: now).
    #[serde(default)]
    pub until: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Recovered {
    /// How many failed deliveries were queued again.
    pub requeued: usize,
}

/// Rocket.Chat's answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RocketChatSuccess {
    pub success: bool,
}

/// Rocket.Chat's answer with the current settings (all switches off when none were set).
#[derive(Debug, Serialize, JsonSchema)]
pub struct RocketChatSettings {
    pub success: bool,
    pub settings: LivechatWebhookSettings,
}

/// `POST /v1/events`: one event, or a batch of up to 100.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum EventsBody {
    One(Box<Event>),
    Batch(EventBatch),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventBatch {
    #[schemars(length(min = 1, max = 100))]
    pub events: Vec<Event>,
}

/// The intake's answer: for one event its result, for a batch one result per event.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum EventsAnswer {
    One(Accepted),
    Batch { results: Vec<Accepted> },
}
