//! Event intake: validate, store once (idempotency), fan one delivery job per
//! matching integration out to the delivery queue. Answers only once the
//! queue accepted every job.
use chrono::{DateTime, Utc};
use futures::future::try_join_all;
use serde::Serialize;
use std::sync::Arc;

use super::AppError;
use super::cache::TtlCache;
use crate::domain::event::Event;
use crate::domain::ids::{DeliveryId, EventId, IntegrationId, TenantId};
use crate::domain::integration::Integration;
use crate::domain::message::{DeliveryJob, QueueMessage};
use crate::domain::sequence::{InOrder, Ordering, Position, SequenceEntry};
use crate::ports::{
    Clock, EventStore, InsertOutcome, IntegrationStore, JobQueue, OutgoingMessage, SequenceStore,
};

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
    /// Where ordered deliveries take their place before their jobs are queued.
    pub sequences: Arc<dyn SequenceStore>,
    pub clock: Arc<dyn Clock>,
    pub retention: chrono::Duration,
    /// A tenant's integrations, kept for a short time in the warm Lambda.
    pub cache: TtlCache<TenantId, Vec<Integration>>,
    /// Events accepted and repeated; the API handler counts refusals.
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// The delivery jobs for one event: one per enabled integration that wants it.
/// Jobs carry ids only: the dispatcher reads the stored event, which it must
/// anyway to check the job's acceptance token. Pure, so it can be
/// unit-tested and benchmarked alone.
pub fn plan(
    tenant: &TenantId,
    event: &Event,
    integrations: &[Integration],
    now: DateTime<Utc>,
) -> Vec<DeliveryJob> {
    plan_at(tenant, event, 0, integrations, now)
}

/// `plan` for the `index`-th event of a post: a job for an integration
/// with `ordering: chat` and an event with a chat carries the delivery's
/// place in the chat's sequence (`domain::sequence`).
pub fn plan_at(
    tenant: &TenantId,
    event: &Event,
    index: usize,
    integrations: &[Integration],
    now: DateTime<Utc>,
) -> Vec<DeliveryJob> {
    let chat = event
        .chat
        .as_ref()
        .map(|c| c.id.as_str())
        .filter(|c| !c.is_empty());
    integrations
        .iter()
        .filter(|i| i.wants(event.kind))
        .map(|i| {
            let mut job = DeliveryJob::first(tenant, &event.id, event.kind, i.id(), now);
            if let (Ordering::Chat, Some(chat)) = (i.ordering(), chat) {
                job.ordered = Some(InOrder {
                    chat: chat.to_string(),
                    position: Position::at(now, index),
                });
            }
            job
        })
        .collect()
}

/// A fresh acceptance token for one intake request.
fn acceptance_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl Intake {
    /// Every integration of the tenant (cached for a short time in the warm Lambda).
    async fn integrations_of(&self, tenant: &TenantId) -> Result<Arc<Vec<Integration>>, AppError> {
        let now = self.clock.now();
        if let Some(hit) = self.cache.get(tenant, now) {
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
        Ok(self.cache.put(tenant.clone(), all, now))
    }

    /// Accept a batch of already-validated events for a tenant.
    ///
    /// Each event is stored once, by a conditional write carrying this
    /// request's acceptance token, before its jobs are queued; the answer
    /// comes only once the queue accepted every job. A repeat of a stored
    /// event moves it to this request's token and queues its jobs again,
    /// marked as a `repeat`: whatever an earlier request queued (or failed to)
    /// stands down, and a delivery the log already has is not made twice.
    pub async fn accept(
        &self,
        tenant: &TenantId,
        events: &[Event],
    ) -> Result<Vec<Accepted>, AppError> {
        let integrations = self.integrations_of(tenant).await?;
        let now = self.clock.now();
        let expires_at = now + self.retention;
        let token = acceptance_token();
        let outcomes = try_join_all(
            events
                .iter()
                .map(|e| self.events.insert(tenant, e, &token, expires_at)),
        )
        .await?;
        // For each event: queue its jobs (and whether as a repeat), or not at all.
        let queue_as = try_join_all(events.iter().zip(&outcomes).map(|(event, outcome)| {
            let token = &token;
            async move {
                match outcome {
                    InsertOutcome::New => Ok(Some(false)),
                    InsertOutcome::Duplicate { token: earlier } => self
                        .events
                        .retoken(tenant, &event.id, earlier, token)
                        .await
                        // Lost to a concurrent repeat: that one queues them.
                        .map(|moved| moved.then_some(true)),
                }
            }
        }))
        .await?;

        let mut answers = Vec::with_capacity(events.len());
        let mut messages = Vec::new();
        let mut entries = Vec::new();
        for (index, ((event, outcome), queue)) in
            events.iter().zip(&outcomes).zip(queue_as).enumerate()
        {
            let jobs = plan_at(tenant, event, index, &integrations, now);
            // A first acceptance places its ordered deliveries; a repeat's
            // jobs find the places the first one made.
            if *outcome == InsertOutcome::New {
                entries.extend(jobs.iter().cloned().filter_map(SequenceEntry::new));
            }
            let deliveries = jobs
                .iter()
                .map(|j| PlannedDelivery {
                    id: j.delivery_id.clone(),
                    integration_id: j.integration_id.clone(),
                })
                .collect();
            if let Some(repeat) = queue {
                messages.extend(jobs.into_iter().map(|job| OutgoingMessage {
                    body: QueueMessage::DeliveryV1(DeliveryJob {
                        acceptance_token: Some(token.clone()),
                        repeat,
                        ..job
                    }),
                    delay_seconds: 0,
                }));
            }
            answers.push(Accepted {
                event_id: event.id.clone(),
                duplicate: matches!(outcome, InsertOutcome::Duplicate { .. }),
                deliveries,
            });
        }
        // Places first: a job must find its delivery in its sequence.
        if !entries.is_empty()
            && let Err(err) = self.sequences.append(&entries, expires_at).await
        {
            self.forget(tenant, events, &outcomes, &token, &[]).await;
            return Err(err.into());
        }
        if !messages.is_empty()
            && let Err(err) = self.delivery_queue.send(&messages).await
        {
            self.forget(tenant, events, &outcomes, &token, &entries)
                .await;
            return Err(err.into());
        }
        let duplicates = answers.iter().filter(|a| a.duplicate).count() as u64;
        let m = &self.metrics;
        m.count(
            crate::metrics::EVENTS_ACCEPTED,
            &[],
            answers.len() as u64 - duplicates,
        );
        m.count(crate::metrics::EVENTS_DUPLICATE, &[], duplicates);
        Ok(answers)
    }

    /// After the queue refused the jobs: undo this request's new inserts and
    /// places in sequences, so a re-post is accepted as new. Best effort: an
    /// insert left behind is still safe, as a re-post then re-tokens it and
    /// queues its jobs, which find their places.
    async fn forget(
        &self,
        tenant: &TenantId,
        events: &[Event],
        outcomes: &[InsertOutcome],
        token: &str,
        entries: &[SequenceEntry],
    ) {
        let unplace = entries.iter().map(|e| self.sequences.remove(&e.job));
        if let Err(err) = try_join_all(unplace).await {
            tracing::warn!(error = %crate::telemetry::chain(&err), "could not undo the sequence places of a refused intake");
            // Kept with their events, for the re-post to find.
            return;
        }
        let undo = events
            .iter()
            .zip(outcomes)
            .filter(|(_, o)| **o == InsertOutcome::New)
            .map(|(e, _)| self.events.remove(tenant, &e.id, token));
        if let Err(err) = try_join_all(undo).await {
            tracing::warn!(error = %crate::telemetry::chain(&err), "could not undo the inserts of a refused intake");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::{MemoryEventStore, MemoryIntegrationStore, MemoryQueue};
    use crate::app::integrations::tests::integration_for;
    use crate::domain::catalogue::EventType;
    use crate::domain::integration::IntegrationPatch;
    use crate::domain::target_url::UrlPolicy;
    use serde_json::json;
    use std::sync::atomic::Ordering;

    fn closed_chat(id: &str) -> Event {
        Event::from_json(json!({"id": id, "type": "chat.closed", "chat": {"id": "c1"}})).unwrap()
    }

    struct Fixture {
        intake: Intake,
        events: Arc<MemoryEventStore>,
        integrations: Arc<MemoryIntegrationStore>,
        queue: Arc<MemoryQueue>,
        tenant: TenantId,
    }

    async fn fixture() -> Fixture {
        let integrations = Arc::new(MemoryIntegrationStore::default());
        let queue = Arc::new(MemoryQueue::default());
        let tenant = TenantId::generate();
        let events = Arc::new(MemoryEventStore::default());
        let intake = Intake {
            integrations: integrations.clone(),
            events: events.clone(),
            delivery_queue: queue.clone(),
            sequences: Arc::new(crate::adapters::memory::MemorySequenceStore::default()),
            clock: Arc::new(crate::ports::SystemClock),
            retention: chrono::Duration::days(30),
            cache: TtlCache::new(std::time::Duration::ZERO),
            metrics: crate::metrics::Metrics::discard(crate::metrics::EVENT_INTAKE),
        };
        Fixture {
            intake,
            events,
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
        // THEN two deliveries are queued, under this request's token
        assert_eq!(out[0].deliveries.len(), 2);
        let sent = f.queue.take();
        assert_eq!(sent.len(), 2);
        match &sent[0].body {
            QueueMessage::DeliveryV1(job) => {
                assert_eq!(job.attempt, 1);
                assert!(job.acceptance_token.is_some());
                assert!(!job.repeat);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    fn only_job(sent: Vec<OutgoingMessage>) -> DeliveryJob {
        assert_eq!(sent.len(), 1);
        match sent.into_iter().next().map(|m| m.body) {
            Some(QueueMessage::DeliveryV1(job)) => job,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_repeated_event_id_requeues_under_a_new_token_that_supersedes_the_first() {
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
        let first_job = only_job(f.queue.take());
        let second = f
            .intake
            .accept(&f.tenant, &[closed_chat("same")])
            .await
            .unwrap();
        let second_job = only_job(f.queue.take());
        assert!(!first[0].duplicate);
        assert!(second[0].duplicate);
        assert_eq!(first[0].deliveries, second[0].deliveries);
        assert_eq!(first_job.delivery_id, second_job.delivery_id);
        // the repeat's job is marked and holds the token the event now carries
        assert!(!first_job.repeat && second_job.repeat);
        assert_ne!(first_job.acceptance_token, second_job.acceptance_token);
        let stored = f
            .events
            .get(&f.tenant, &EventId::parse("same").unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.acceptance_token, second_job.acceptance_token);
    }

    #[tokio::test]
    async fn a_queue_failure_fails_the_intake_and_a_repeat_queues_the_jobs() {
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
        // AND once the queue is back, the same event is accepted as new and fanned out
        f.queue.fail.store(false, Ordering::SeqCst);
        let out = f
            .intake
            .accept(&f.tenant, &[closed_chat("e")])
            .await
            .unwrap();
        assert!(!out[0].duplicate);
        assert_eq!(out[0].deliveries.len(), 1);
        let job = only_job(f.queue.take());
        let stored = f
            .events
            .get(&f.tenant, &EventId::parse("e").unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.acceptance_token, job.acceptance_token);
    }

    #[tokio::test]
    async fn disabled_integrations_get_nothing() {
        let f = fixture().await;
        let i = integration_for(&f.tenant, &[EventType::ChatClosed])
            .apply(
                IntegrationPatch {
                    enabled: Some(false),
                    ..IntegrationPatch::default()
                },
                UrlPolicy::STRICT,
                Utc::now(),
            )
            .unwrap();
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
