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
use crate::domain::ids::{DeliveryId, IntegrationId, TenantId};
use crate::domain::integration::*;
use crate::domain::message::DeliveryJob;
use crate::domain::retry::RetryPolicy;
use crate::domain::samples::sample_event;
use crate::domain::secret::WebhookSecret;
use crate::domain::target_url::UrlPolicy;
use crate::ports::{
    Clock, DeliveryLog, IntegrationStore, JobQueue, Page, SequenceStore, WebhookSender,
};

pub use crate::domain::integration::{IntegrationPatch, NewIntegration};

pub const MAX_PAGE: usize = 100;
/// Read-edit-write rounds before a request that keeps meeting concurrent changes gives up.
const MAX_CHANGE_ROUNDS: usize = 5;

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
    pub ordering: Ordering,
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
        let mut format_options = i.format_options().clone();
        if format_options.token.is_some() {
            format_options.token = Some(REDACTED.into());
        }
        Self {
            id: i.id().clone(),
            name: i.name().to_string(),
            url: i.url().redacted(),
            format: i.format(),
            events: i.events().clone(),
            timeout_ms: i.timeout_ms(),
            retry_policy: i.retry_policy().clone(),
            ordering: i.ordering(),
            headers: i.headers().clone(),
            format_options,
            enabled: i.enabled(),
            disabled_reason: i.disabled_reason().map(str::to_string),
            failing_since: i.failing_since(),
            created_at: i.created_at(),
            updated_at: i.updated_at(),
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
    /// Deleting or disabling an integration ends what waits in its chats'
    /// sequences (`ordering::release_heads`).
    pub sequences: Arc<dyn SequenceStore>,
    pub delivery_queue: Arc<dyn JobQueue>,
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
        let updated = self
            .change(tenant, id, |current| {
                current
                    .clone()
                    .apply(patch.clone(), self.policy, self.clock.now())
                    .map_err(AppError::from)
            })
            .await?;
        if patch.enabled == Some(false) {
            self.end_sequences(tenant, updated.id()).await;
        }
        Ok(IntegrationView::from(&updated))
    }

    pub async fn delete(&self, tenant: &TenantId, id: &str) -> Result<(), AppError> {
        let id = IntegrationId::parse(id).map_err(|_| AppError::NotFound("integration"))?;
        if self.store.delete(tenant, &id).await? {
            self.end_sequences(tenant, &id).await;
            Ok(())
        } else {
            Err(AppError::NotFound("integration"))
        }
    }

    async fn end_sequences(&self, tenant: &TenantId, id: &IntegrationId) {
        super::ordering::release_heads(&*self.sequences, &*self.delivery_queue, tenant, id).await;
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
        let secret = match new_secret {
            Some(s) => {
                WebhookSecret::parse(&s).map_err(|e| ValidationError::field("secret", e.message))?
            }
            None => WebhookSecret::generate(),
        };
        let grace = grace.unwrap_or(self.secret_grace);
        let mut previous_expires_at = None;
        let i = self
            .change(tenant, id, |current| {
                let mut next = current.clone();
                previous_expires_at = next.rotate_secret(secret.clone(), grace, self.clock.now());
                Ok(next)
            })
            .await?;
        Ok((i, secret, previous_expires_at))
    }

    /// Read the integration, `edit` it and write it back unless it changed
    /// meanwhile (the dispatcher disabled it, a failure run started, another
    /// request changed it): then read and edit again, so no change is lost.
    async fn change(
        &self,
        tenant: &TenantId,
        id: &str,
        mut edit: impl FnMut(&Integration) -> Result<Integration, AppError>,
    ) -> Result<Integration, AppError> {
        for _ in 0..MAX_CHANGE_ROUNDS {
            let current = self.get(tenant, id).await?;
            let next = edit(&current)?;
            if self.store.replace(&current, &next).await? {
                return Ok(next);
            }
        }
        Err(AppError::Conflict(
            "the integration kept changing while this request applied; try again".into(),
        ))
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
    let event = sample_event(EventType::WebhookTest, now);
    let job = DeliveryJob::first(
        integration.tenant_id(),
        &event.id,
        event.kind,
        integration.id(),
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
    log.flush_counts().await;
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
            ordering: None,
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
            ordering: None,
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
        assert_eq!(i.timeout_ms(), 10_000);
        assert_eq!(i.retry_policy(), &RetryPolicy::STANDARD);
        assert!(i.enabled());
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
        assert!(!off.enabled());
        assert_eq!(off.disabled_reason(), Some("disabled by the tenant"));
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

    /// A store where the dispatcher disables the integration right after
    /// its first read, before the request writes its change.
    struct DisabledAfterFirstRead {
        inner: crate::adapters::memory::MemoryIntegrationStore,
        read: std::sync::atomic::AtomicBool,
    }

    #[async_trait::async_trait]
    impl IntegrationStore for DisabledAfterFirstRead {
        async fn create(&self, i: &Integration) -> Result<(), crate::ports::StoreError> {
            self.inner.create(i).await
        }
        async fn get(
            &self,
            tenant: &TenantId,
            id: &IntegrationId,
        ) -> Result<Option<Integration>, crate::ports::StoreError> {
            let got = self.inner.get(tenant, id).await?;
            if !self.read.swap(true, std::sync::atomic::Ordering::SeqCst) {
                self.inner
                    .disable(tenant, id, "the endpoint answered 410 Gone", Utc::now())
                    .await?;
            }
            Ok(got)
        }
        async fn list(
            &self,
            tenant: &TenantId,
            cursor: Option<&str>,
            limit: usize,
        ) -> Result<Page<Integration>, crate::ports::StoreError> {
            self.inner.list(tenant, cursor, limit).await
        }
        async fn replace(
            &self,
            previous: &Integration,
            next: &Integration,
        ) -> Result<bool, crate::ports::StoreError> {
            self.inner.replace(previous, next).await
        }
        async fn delete(
            &self,
            tenant: &TenantId,
            id: &IntegrationId,
        ) -> Result<bool, crate::ports::StoreError> {
            self.inner.delete(tenant, id).await
        }
        async fn set_failing_since(
            &self,
            tenant: &TenantId,
            id: &IntegrationId,
            since: Option<DateTime<Utc>>,
        ) -> Result<(), crate::ports::StoreError> {
            self.inner.set_failing_since(tenant, id, since).await
        }
        async fn disable(
            &self,
            tenant: &TenantId,
            id: &IntegrationId,
            reason: &str,
            at: DateTime<Utc>,
        ) -> Result<(), crate::ports::StoreError> {
            self.inner.disable(tenant, id, reason, at).await
        }
    }

    fn racing_service() -> (Integrations, Integration) {
        let store = DisabledAfterFirstRead {
            inner: Default::default(),
            read: Default::default(),
        };
        let i = integration_for(&TenantId::generate(), &[EventType::ChatClosed]);
        futures::executor::block_on(store.inner.create(&i)).unwrap();
        let service = Integrations {
            store: Arc::new(store),
            clock: Arc::new(crate::ports::SystemClock),
            policy: OPEN,
            secret_grace: chrono::Duration::hours(24),
            sequences: Arc::new(crate::adapters::memory::MemorySequenceStore::default()),
            delivery_queue: Arc::new(crate::adapters::memory::MemoryQueue::default()),
        };
        (service, i)
    }

    #[test]
    fn format_options_sent_back_as_read_keep_the_token() {
        let mut inp = input(&["chat.closed"], Format::Rocketchat);
        inp.format_options = Some(FormatOptions {
            token: Some("s3cret".into()),
            ..FormatOptions::default()
        });
        let (i, _) = Integration::create(&TenantId::generate(), inp, OPEN, Utc::now()).unwrap();
        // WHEN the options are read (token redacted) and sent back with a change
        let mut read = IntegrationView::from(&i).format_options;
        assert_eq!(read.token.as_deref(), Some(REDACTED));
        read.license_id = Some("42".into());
        let patch = IntegrationPatch {
            format_options: Some(read),
            ..Default::default()
        };
        let changed = i.apply(patch, OPEN, Utc::now()).unwrap();
        // THEN the stored token is kept and the change applied
        assert_eq!(changed.format_options().token.as_deref(), Some("s3cret"));
        assert_eq!(changed.format_options().license_id.as_deref(), Some("42"));
    }

    #[tokio::test]
    async fn a_change_racing_a_disable_keeps_both() {
        // GIVEN the dispatcher disables the integration while a rename is applied
        let (service, i) = racing_service();
        let patch = IntegrationPatch {
            name: Some("Renamed".into()),
            ..Default::default()
        };
        // WHEN the rename is written
        let view = service
            .update(i.tenant_id(), i.id().as_str(), patch)
            .await
            .unwrap();
        // THEN it is applied to the disabled integration, which stays disabled
        assert_eq!(view.name, "Renamed");
        assert!(!view.enabled);
        assert_eq!(
            view.disabled_reason.as_deref(),
            Some("the endpoint answered 410 Gone")
        );
    }

    #[tokio::test]
    async fn a_rotation_racing_a_disable_keeps_both() {
        let (service, i) = racing_service();
        let (rotated, secret, _) = service
            .rotate_secret(i.tenant_id(), i.id().as_str(), None, None)
            .await
            .unwrap();
        let stored = service.get(i.tenant_id(), i.id().as_str()).await.unwrap();
        assert_eq!(stored.secret().expose(), secret.expose());
        assert_eq!(rotated, stored);
        assert!(!stored.enabled());
    }
}
