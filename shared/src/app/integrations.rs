//! Integration management: create, list, read, change, delete, secrets, test-send.
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::AppError;
use super::outbound::prepare;
use crate::domain::ValidationError;
use crate::domain::catalogue::EventType;
use crate::domain::delivery::{Attempt, Delivery, DeliveryStatus, link_from_response};
use crate::domain::event::Event;
use crate::domain::ids::{DeliveryId, IntegrationId, TenantId};
use crate::domain::integration::*;
use crate::domain::message::DeliveryJob;
use crate::domain::retry::RetryPolicy;
use crate::domain::secret::WebhookSecret;
use crate::domain::target_url::UrlPolicy;
use crate::ports::{Clock, DeliveryLog, IntegrationStore, Page, WebhookSender};

pub use crate::domain::integration::{IntegrationPatch, NewIntegration};

pub const MAX_PAGE: usize = 100;

/// An integration as the API shows it: no secret, credentials redacted.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct IntegrationView {
    pub id: IntegrationId,
    pub name: String,
    pub url: String,
    pub format: Format,
    pub events: BTreeSet<EventType>,
    pub timeout_ms: u32,
    pub retry_policy: RetryPolicy,
    pub headers: BTreeMap<String, String>,
    pub format_options: FormatOptions,
    pub enabled: bool,
    /// Why the integration is disabled (by the tenant, after `410 Gone`, after failing too long).
    pub disabled_reason: Option<String>,
    /// Start of the current run of failures without a success.
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Integration> for IntegrationView {
    fn from(i: &Integration) -> Self {
        let mut format_options = i.format_options.clone();
        if format_options.token.is_some() {
            format_options.token = Some("***".into());
        }
        Self {
            id: i.id.clone(),
            name: i.name.clone(),
            url: i.url.redacted(),
            format: i.format,
            events: i.events.clone(),
            timeout_ms: i.timeout_ms,
            retry_policy: i.retry_policy.clone(),
            headers: i.headers.clone(),
            format_options,
            enabled: i.enabled,
            disabled_reason: i.disabled_reason.clone(),
            failing_since: i.failing_since,
            created_at: i.created_at,
            updated_at: i.updated_at,
        }
    }
}

/// The answer to a creation: the view plus the secret, shown this once.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CreatedIntegration {
    #[serde(flatten)]
    pub integration: IntegrationView,
    pub secret: String,
}

pub struct Integrations {
    pub store: Arc<dyn IntegrationStore>,
    pub clock: Arc<dyn Clock>,
    pub policy: UrlPolicy,
    pub secret_grace: chrono::Duration,
}

impl Integrations {
    pub async fn create(
        &self,
        tenant: &TenantId,
        input: NewIntegration,
    ) -> Result<CreatedIntegration, AppError> {
        let (integration, secret) =
            Integration::create(tenant, input, self.policy, self.clock.now())?;
        self.store.create(&integration).await?;
        Ok(CreatedIntegration {
            integration: IntegrationView::from(&integration),
            secret: secret.expose().to_string(),
        })
    }

    pub async fn get(&self, tenant: &TenantId, id: &str) -> Result<Integration, AppError> {
        let id = IntegrationId::parse(id).map_err(|_| AppError::NotFound("integration"))?;
        self.store
            .get(tenant, &id)
            .await?
            .ok_or(AppError::NotFound("integration"))
    }

    pub async fn list(
        &self,
        tenant: &TenantId,
        cursor: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Page<IntegrationView>, AppError> {
        let limit = limit.unwrap_or(50).clamp(1, MAX_PAGE);
        let page = self.store.list(tenant, cursor, limit).await?;
        Ok(Page {
            items: page.items.iter().map(IntegrationView::from).collect(),
            next_cursor: page.next_cursor,
        })
    }

    pub async fn update(
        &self,
        tenant: &TenantId,
        id: &str,
        patch: IntegrationPatch,
    ) -> Result<IntegrationView, AppError> {
        let current = self.get(tenant, id).await?;
        let updated = current.apply(patch, self.policy, self.clock.now())?;
        if !self.store.replace(&updated).await? {
            return Err(AppError::NotFound("integration"));
        }
        Ok(IntegrationView::from(&updated))
    }

    pub async fn delete(&self, tenant: &TenantId, id: &str) -> Result<(), AppError> {
        let id = IntegrationId::parse(id).map_err(|_| AppError::NotFound("integration"))?;
        if self.store.delete(tenant, &id).await? {
            Ok(())
        } else {
            Err(AppError::NotFound("integration"))
        }
    }

    /// Replace the secret; the old one keeps signing for `grace`. Answers the
    /// integration, the new secret and until when the replaced one signs
    /// (`None` without a grace period).
    pub async fn rotate_secret(
        &self,
        tenant: &TenantId,
        id: &str,
        new_secret: Option<String>,
        grace: Option<chrono::Duration>,
    ) -> Result<(Integration, WebhookSecret, Option<DateTime<Utc>>), AppError> {
        let mut i = self.get(tenant, id).await?;
        let secret = match new_secret {
            Some(s) => {
                WebhookSecret::parse(&s).map_err(|e| ValidationError::field("secret", e.message))?
            }
            None => WebhookSecret::generate(),
        };
        let grace = grace.unwrap_or(self.secret_grace);
        let previous_expires_at = i.rotate_secret(secret.clone(), grace, self.clock.now());
        if !self.store.replace(&i).await? {
            return Err(AppError::NotFound("integration"));
        }
        Ok((i, secret, previous_expires_at))
    }
}

/// The result of a test-send, as the API shows it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TestResult {
    pub ok: bool,
    pub delivery_id: DeliveryId,
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    pub error_kind: Option<crate::domain::delivery::ErrorKind>,
    pub error: Option<String>,
    pub response_excerpt: Option<String>,
    pub link: Option<String>,
}

/// Send a `webhook.test` delivery now, through the same rendering, signing
/// and egress path as the dispatcher, and log it like any delivery.
pub async fn test_send(
    integration: &Integration,
    sender: &dyn WebhookSender,
    log: &dyn DeliveryLog,
    now: DateTime<Utc>,
) -> Result<TestResult, AppError> {
    let event = Event {
        id: crate::domain::ids::EventId::generate(),
        kind: EventType::WebhookTest,
        occurred_at: now,
        chat: None,
        visitor: None,
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
    let job = DeliveryJob::first(
        &integration.tenant_id,
        &event.id,
        event.kind,
        &integration.id,
        now,
    );
    let request = prepare(integration, &event, &job.delivery_id, now)
        .map_err(|e| ValidationError::general(e.to_string()))?;
    let outcome = sender.send(&request).await;
    let ok = outcome.succeeded();
    let link = ok
        .then(|| {
            outcome
                .response_excerpt
                .as_deref()
                .and_then(link_from_response)
        })
        .flatten();
    let mut delivery = Delivery::pending(&job, now);
    delivery.attempts = 1;
    delivery.status = if ok {
        DeliveryStatus::Succeeded
    } else {
        DeliveryStatus::Failed
    };
    delivery.last_status_code = outcome.status_code;
    delivery.last_error = outcome.error.clone();
    delivery.link = link.clone();
    let attempt = Attempt::from_outcome(1, now, &outcome);
    log.record_attempt(&delivery, &attempt).await?;
    Ok(TestResult {
        ok,
        delivery_id: job.delivery_id,
        status_code: outcome.status_code,
        duration_ms: attempt.duration_ms,
        error_kind: outcome.error_kind,
        error: outcome.error,
        response_excerpt: outcome.response_excerpt,
        link,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const OPEN: UrlPolicy = UrlPolicy {
        allow_http: true,
        allow_private: true,
    };

    /// A valid standard integration for unit tests.
    pub fn integration_for(tenant: &TenantId, events: &[EventType]) -> Integration {
        let input = NewIntegration {
            name: Some("test".into()),
            url: "https://hooks.example.com/in".into(),
            format: Format::Standard,
            events: events.iter().map(|e| e.to_string()).collect(),
            secret: None,
            timeout_ms: None,
            retry_policy: None,
            headers: None,
            enabled: None,
            format_options: None,
        };
        Integration::create(tenant, input, UrlPolicy::STRICT, Utc::now())
            .unwrap()
            .0
    }

    fn input(events: &[&str], format: Format) -> NewIntegration {
        NewIntegration {
            name: None,
            url: "https://x.example/".into(),
            format,
            events: events.iter().map(|s| s.to_string()).collect(),
            secret: None,
            timeout_ms: None,
            retry_policy: None,
            headers: None,
            enabled: None,
            format_options: None,
        }
    }

    #[test]
    fn defaults_are_filled_in() {
        let (i, secret) = Integration::create(
            &TenantId::generate(),
            input(&["chat.closed"], Format::Standard),
            OPEN,
            Utc::now(),
        )
        .unwrap();
        assert_eq!(i.timeout_ms, 10_000);
        assert_eq!(i.retry_policy, RetryPolicy::STANDARD);
        assert!(i.enabled);
        assert!(secret.expose().starts_with("whsec_"));
    }

    #[test]
    fn every_unknown_or_unrenderable_event_is_listed() {
        let err = Integration::create(
            &TenantId::generate(),
            input(&["chat.closed", "nope", "bad"], Format::Standard),
            OPEN,
            Utc::now(),
        )
        .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("events"));
        assert!(err.message.contains("nope, bad"), "{err}");
        let err = Integration::create(
            &TenantId::generate(),
            input(
                &["chat.closed", "chat.taken", "ticket.created"],
                Format::Amplifyreach,
            ),
            OPEN,
            Utc::now(),
        )
        .unwrap_err();
        assert!(err.message.contains("chat.taken, ticket.created"), "{err}");
    }

    #[test]
    fn patch_revalidates_events_against_a_new_format() {
        let (i, _) = Integration::create(
            &TenantId::generate(),
            input(&["chat.taken"], Format::Standard),
            OPEN,
            Utc::now(),
        )
        .unwrap();
        let patch = IntegrationPatch {
            format: Some(Format::Olark),
            ..Default::default()
        };
        assert!(i.clone().apply(patch, OPEN, Utc::now()).is_err());
        let patch = IntegrationPatch {
            enabled: Some(false),
            ..Default::default()
        };
        let off = i.apply(patch, OPEN, Utc::now()).unwrap();
        assert!(!off.enabled);
        assert_eq!(
            off.disabled_reason.as_deref(),
            Some("disabled by the tenant")
        );
    }

    #[test]
    fn the_view_hides_secrets_and_passwords() {
        let mut inp = input(&["chat.closed"], Format::Standard);
        inp.url = "https://u:hunter2@x.example/".into();
        let (i, secret) =
            Integration::create(&TenantId::generate(), inp, OPEN, Utc::now()).unwrap();
        let json = serde_json::to_string(&IntegrationView::from(&i)).unwrap();
        assert!(!json.contains("hunter2"));
        assert!(!json.contains(secret.expose()));
        assert!(json.contains("u:***@"));
    }
}
