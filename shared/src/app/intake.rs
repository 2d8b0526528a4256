//! Event intake: validate, store once (idempotency), fan one delivery job per
//! matching integration out to the delivery queue. Answers only once the
//! queue accepted every job.
use chrono::{DateTime, Utc};
use futures::future::try_join_all;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

use super::AppError;
use super::cache::TtlCache;
use crate::domain::event::Event;
use crate::domain::ids::{DeliveryId, EventId, IntegrationId, TenantId};
use crate::domain::integration::Integration;
use crate::domain::message::{DeliveryJob, QueueMessage};
use crate::ports::{EventStore, InsertOutcome, IntegrationStore, JobQueue, OutgoingMessage};

/// What the intake answers for one event.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Accepted {
    pub event_id: EventId,
    /// True when the id was seen before: nothing new was queued.
    pub duplicate: bool,
    pub deliveries: Vec<PlannedDelivery>,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct PlannedDelivery {
    pub id: DeliveryId,
    pub integration_id: IntegrationId,
}

pub struct Intake {
    pub integrations: Arc<dyn IntegrationStore>,
    pub events: Arc<dyn EventStore>,
    pub delivery_queue: Arc<dyn JobQueue>,
    pub retention: chrono::Duration,
    cache: TtlCache<TenantId, Vec<Integration>>,
}

/// The delivery jobs for one event: one per enabled integration that wants it.
/// Pure, so it can be unit-tested and benchmarked alone.
pub fn plan(
    tenant: &TenantId,
    event: &Event,
    integrations: &[Integration],
    now: DateTime<Utc>,
) -> Vec<DeliveryJob> {
    let inline_len = serde_json::to_vec(event)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    integrations
        .iter()
        .filter(|i| i.wants(event.kind))
        .map(|i| {
            DeliveryJob {
                delivery_id: DeliveryId::derive(tenant, &event.id, &i.id),
                tenant_id: tenant.clone(),
                integration_id: i.id.clone(),
                event_id: event.id.clone(),
                event_type: event.kind,
                attempt: 1,
                event: None,
                created_at: now,
            }
            .with_event(event, inline_len)
        })
        .collect()
}

impl Intake {
    pub fn new(
        integrations: Arc<dyn IntegrationStore>,
        events: Arc<dyn EventStore>,
        delivery_queue: Arc<dyn JobQueue>,
        retention: chrono::Duration,
        cache_ttl: Duration,
    ) -> Self {
        Self {
            integrations,
            events,
            delivery_queue,
            retention,
            cache: TtlCache::new(cache_ttl),
        }
    }

    /// Every integration of the tenant (cached for a short time in the warm Lambda).
    async fn integrations_of(&self, tenant: &TenantId) -> Result<Arc<Vec<Integration>>, AppError> {
        if let Some(hit) = self.cache.get(tenant) {
            return Ok(hit);
        }
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self
                .integrations
                .list(tenant, cursor.as_deref(), 100)
                .await?;
            all.extend(page.items);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        Ok(self.cache.put(tenant.clone(), all))
    }

    /// Accept a batch of already-validated events for a tenant.
    pub async fn accept(
        &self,
        tenant: &TenantId,
        events: &[Event],
    ) -> Result<Vec<Accepted>, AppError> {
        let integrations = self.integrations_of(tenant).await?;
        let now = Utc::now();
        let expires_at = now + self.retention;
        let outcomes = try_join_all(
            events
                .iter()
                .map(|e| self.events.insert(tenant, e, expires_at)),
        )
        .await?;

        let mut answers = Vec::with_capacity(events.len());
        let mut messages = Vec::new();
        let mut fresh = Vec::new();
        for (event, outcome) in events.iter().zip(outcomes) {
            let jobs = plan(tenant, event, &integrations, now);
            let deliveries = jobs
                .iter()
                .map(|j| PlannedDelivery {
                    id: j.delivery_id.clone(),
                    integration_id: j.integration_id.clone(),
                })
                .collect();
            let duplicate = outcome == InsertOutcome::Duplicate;
            if !duplicate {
                fresh.push(event.id.clone());
                messages.extend(jobs.into_iter().map(|job| OutgoingMessage {
                    body: QueueMessage::DeliveryV1(job),
                    delay_seconds: 0,
                }));
            }
            answers.push(Accepted {
                event_id: event.id.clone(),
                duplicate,
                deliveries,
            });
        }
        if !messages.is_empty() {
            self.delivery_queue.send(&messages).await?;
        }
        // Best effort: if this fails, a repeat of the event fans out the same
        // (deterministic) delivery ids again, which receivers dedupe.
        let marks = fresh.iter().map(|id| self.events.mark_queued(tenant, id));
        if let Err(err) = try_join_all(marks).await {
            tracing::warn!(error = %err, "could not mark events as queued");
        }
        Ok(answers)
    }

    /// Forget the cached integrations of a tenant.
    pub fn invalidate(&self, tenant: &TenantId) {
        self.cache.invalidate(tenant);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::{MemoryEventStore, MemoryIntegrationStore, MemoryQueue};
    use crate::app::integrations::tests::integration_for;
    use crate::domain::catalogue::EventType;
    use serde_json::json;
    use std::sync::atomic::Ordering;

    fn closed_chat(id: &str) -> Event {
        Event::from_json(json!({"id": id, "type": "chat.closed", "chat": {"id": "c1"}})).unwrap()
    }

    struct Fixture {
        intake: Intake,
        integrations: Arc<MemoryIntegrationStore>,
        queue: Arc<MemoryQueue>,
        tenant: TenantId,
    }

    async fn fixture() -> Fixture {
        let integrations = Arc::new(MemoryIntegrationStore::default());
        let queue = Arc::new(MemoryQueue::default());
        let tenant = TenantId::generate();
        let intake = Intake::new(
            integrations.clone(),
            Arc::new(MemoryEventStore::default()),
            queue.clone(),
            chrono::Duration::days(30),
            Duration::ZERO,
        );
        Fixture {
            intake,
            integrations,
            queue,
            tenant,
        }
    }

    #[tokio::test]
    async fn one_job_per_matching_integration() {
        // GIVEN two integrations wanting chat.closed and one wanting only chat.started
        let f = fixture().await;
        for events in [
            vec![EventType::ChatClosed],
            vec![EventType::ChatClosed],
            vec![EventType::ChatStarted],
        ] {
            f.integrations
                .create(&integration_for(&f.tenant, &events))
                .await
                .unwrap();
        }
        // WHEN a chat.closed event arrives
        let out = f
            .intake
            .accept(&f.tenant, &[closed_chat("e1")])
            .await
            .unwrap();
        // THEN two deliveries are queued, carrying the event inline
        assert_eq!(out[0].deliveries.len(), 2);
        let sent = f.queue.take();
        assert_eq!(sent.len(), 2);
        match &sent[0].body {
            QueueMessage::DeliveryV1(job) => {
                assert_eq!(job.attempt, 1);
                assert!(job.event.is_some());
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_repeated_event_id_queues_nothing_new() {
        let f = fixture().await;
        f.integrations
            .create(&integration_for(&f.tenant, &[EventType::ChatClosed]))
            .await
            .unwrap();
        let first = f
            .intake
            .accept(&f.tenant, &[closed_chat("same")])
            .await
            .unwrap();
        let second = f
            .intake
            .accept(&f.tenant, &[closed_chat("same")])
            .await
            .unwrap();
        assert!(!first[0].duplicate);
        assert!(second[0].duplicate);
        assert_eq!(first[0].deliveries, second[0].deliveries);
        assert_eq!(f.queue.take().len(), 1);
    }

    #[tokio::test]
    async fn a_queue_failure_fails_the_intake_and_a_retry_succeeds() {
        // GIVEN the queue is down
        let f = fixture().await;
        f.integrations
            .create(&integration_for(&f.tenant, &[EventType::ChatClosed]))
            .await
            .unwrap();
        f.queue.fail.store(true, Ordering::SeqCst);
        // WHEN an event arrives THEN the intake fails (so the caller gets no 2xx)
        assert!(matches!(
            f.intake.accept(&f.tenant, &[closed_chat("e")]).await,
            Err(AppError::Queue(_))
        ));
        // AND once the queue is back, the same event is fanned out (not treated as a duplicate)
        f.queue.fail.store(false, Ordering::SeqCst);
        let out = f
            .intake
            .accept(&f.tenant, &[closed_chat("e")])
            .await
            .unwrap();
        assert!(!out[0].duplicate);
        assert_eq!(f.queue.take().len(), 1);
    }

    #[tokio::test]
    async fn disabled_integrations_get_nothing() {
        let f = fixture().await;
        let mut i = integration_for(&f.tenant, &[EventType::ChatClosed]);
        i.enabled = false;
        f.integrations.create(&i).await.unwrap();
        let out = f
            .intake
            .accept(&f.tenant, &[closed_chat("e")])
            .await
            .unwrap();
        assert!(out[0].deliveries.is_empty());
        assert!(f.queue.take().is_empty());
    }
}
