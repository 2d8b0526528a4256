//! The delivery log as the API shows it, and re-delivery (retry, recover),
//! which goes through the same delivery queue as every other attempt.
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::Arc;

use super::AppError;
use crate::domain::ValidationError;
use crate::domain::delivery::{Attempt, Delivery, DeliveryStatus};
use crate::domain::ids::{DeliveryId, IntegrationId, TenantId};
use crate::domain::integration::{Integration, Ordering};
use crate::domain::message::{DeliveryJob, QueueMessage};
use crate::domain::sequence::SequenceEntry;
use crate::ports::{
    Clock, DeliveryLog, DeliveryQuery, EventStore, IntegrationStore, JobQueue, OutgoingMessage,
    Page, SequenceStore,
};

/// Most deliveries one recover call re-queues.
pub const MAX_RECOVER: usize = 1000;

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct DeliveryDetail {
    #[serde(flatten)]
    pub delivery: Delivery,
    pub attempts: Vec<Attempt>,
}

pub struct Deliveries {
    pub log: Arc<dyn DeliveryLog>,
    pub clock: Arc<dyn Clock>,
    pub integrations: Arc<dyn IntegrationStore>,
    pub events: Arc<dyn EventStore>,
    pub delivery_queue: Arc<dyn JobQueue>,
    /// An ordered delivery re-delivered by hand keeps or takes its place
    /// in its chat's sequence (`ordering::place_again`).
    pub sequences: Arc<dyn SequenceStore>,
    /// How long a place taken in a sequence is kept (the events' retention).
    pub retention: chrono::Duration,
}

fn delivery_id(raw: &str) -> Result<DeliveryId, AppError> {
    DeliveryId::parse(raw).map_err(|_| AppError::NotFound("delivery"))
}

impl Deliveries {
    pub async fn get(&self, tenant: &TenantId, id: &str) -> Result<DeliveryDetail, AppError> {
        let (delivery, attempts) = self
            .log
            .get(tenant, &delivery_id(id)?)
            .await?
            .ok_or(AppError::NotFound("delivery"))?;
        Ok(DeliveryDetail { delivery, attempts })
    }

    /// An integration's deliveries; 404 for another tenant's integration.
    pub async fn list(
        &self,
        tenant: &TenantId,
        integration: &str,
        query: DeliveryQuery,
    ) -> Result<Page<Delivery>, AppError> {
        let integration = self.own_integration(tenant, integration).await?;
        Ok(self.log.list(tenant, integration.id(), &query).await?)
    }

    async fn own_integration(&self, tenant: &TenantId, raw: &str) -> Result<Integration, AppError> {
        let id = IntegrationId::parse(raw).map_err(|_| AppError::NotFound("integration"))?;
        self.integrations
            .get(tenant, &id)
            .await?
            .ok_or(AppError::NotFound("integration"))
    }

    /// Re-deliver now: one more attempt through the delivery queue.
    pub async fn retry(&self, tenant: &TenantId, id: &str) -> Result<Delivery, AppError> {
        let (delivery, _) = self
            .log
            .get(tenant, &delivery_id(id)?)
            .await?
            .ok_or(AppError::NotFound("delivery"))?;
        // Only a missing integration is a conflict: a store error is an
        // outage (503) or a bug (500), as everywhere else.
        let integration = self
            .own_integration(tenant, delivery.integration_id.as_str())
            .await
            .map_err(|e| match e {
                AppError::NotFound(_) => {
                    AppError::Conflict("the delivery's integration no longer exists".into())
                }
                other => other,
            })?;
        let seen = delivery.attempts;
        let (delivery, message, place) = self.requeue(delivery, &integration, 0).await?;
        if let Some(place) = place {
            self.sequences.append(&[place], self.expiry()).await?;
        }
        self.delivery_queue.send(&[message]).await?;
        // The job may already have run: then its outcome stays in the log.
        self.log.update_unless_moved(&delivery, seen).await?;
        Ok(delivery)
    }

    /// The job that re-delivers `delivery`, and the place it takes at the
    /// end of its chat's sequence when its integration orders by chat and
    /// it holds none (`index`: its rank among the deliveries re-queued together).
    async fn requeue(
        &self,
        mut delivery: Delivery,
        integration: &Integration,
        index: usize,
    ) -> Result<(Delivery, OutgoingMessage, Option<SequenceEntry>), AppError> {
        // Refuse now, rather than fail at dispatch, when the event is gone.
        self.events
            .get(&delivery.tenant_id, &delivery.event_id)
            .await?
            .ok_or_else(|| {
                AppError::Conflict(
                    "the delivery's event is past its retention and cannot be replayed".into(),
                )
            })?;
        let mut job = DeliveryJob {
            delivery_id: delivery.id.clone(),
            tenant_id: delivery.tenant_id.clone(),
            integration_id: delivery.integration_id.clone(),
            event_id: delivery.event_id.clone(),
            event_type: delivery.event_type,
            attempt: delivery.attempts + 1,
            created_at: delivery.created_at,
            acceptance_token: None,
            repeat: false,
            ordered: None,
        };
        let now = self.clock.now();
        let mut place = None;
        if let (Ordering::Chat, Some(chat)) = (integration.ordering(), delivery.chat_id.as_deref())
        {
            let (order, new) =
                super::ordering::place_again(&*self.sequences, &job, chat, now, index).await?;
            job.ordered = Some(order);
            place = new;
        }
        delivery.status = DeliveryStatus::Pending;
        delivery.next_attempt_at = Some(now);
        delivery.updated_at = now;
        Ok((
            delivery,
            OutgoingMessage {
                body: QueueMessage::DeliveryV1(job),
                delay_seconds: 0,
            },
            place,
        ))
    }

    /// When a place taken now in a sequence expires (the events' retention).
    fn expiry(&self) -> DateTime<Utc> {
        self.clock.now() + self.retention
    }

    /// Re-queue the integration's failed deliveries created in [since,
    /// until), oldest first (so an ordered integration's chats get them
    /// back in their order, at the end of their sequences).
    pub async fn recover(
        &self,
        tenant: &TenantId,
        integration: &str,
        since: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
    ) -> Result<usize, AppError> {
        let integration = self.own_integration(tenant, integration).await?;
        if until.is_some_and(|u| u <= since) {
            return Err(ValidationError::field("until", "must be after `since`").into());
        }
        let mut query = DeliveryQuery {
            status: Some(DeliveryStatus::Failed),
            since: Some(since),
            until,
            limit: 100,
            ..Default::default()
        };
        let mut failed = Vec::new();
        loop {
            let page = self.log.list(tenant, integration.id(), &query).await?;
            failed.extend(page.items);
            match page.next_cursor {
                Some(c) if failed.len() < MAX_RECOVER => query.cursor = Some(c),
                _ => break,
            }
        }
        // The listing is newest first: the newest beyond the cap wait for the
        // next call. Replayed oldest first; the deliveries of one post share
        // their creation time, and an ordered chat's failed one after the
        // other, so the time each failed keeps their order.
        failed.truncate(MAX_RECOVER);
        failed.sort_by_key(|d| (d.created_at, d.updated_at));
        let mut count = 0;
        for chunk in failed.chunks(100) {
            let mut messages = Vec::new();
            let mut places = Vec::new();
            let mut updated = Vec::new();
            for d in chunk {
                let seen = d.attempts;
                match self.requeue(d.clone(), &integration, count).await {
                    Ok((d, m, place)) => {
                        updated.push((d, seen));
                        messages.push(m);
                        places.extend(place);
                        count += 1;
                    }
                    Err(AppError::Conflict(_)) => continue,
                    Err(e) => return Err(e),
                }
            }
            if !places.is_empty() {
                self.sequences.append(&places, self.expiry()).await?;
            }
            if !messages.is_empty() {
                self.delivery_queue.send(&messages).await?;
                for (d, seen) in &updated {
                    self.log.update_unless_moved(d, *seen).await?;
                }
            }
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::{MemoryDeliveryLog, MemoryEventStore, MemoryIntegrationStore};
    use crate::domain::catalogue::EventType;
    use crate::domain::event::Event;
    use crate::domain::ids::EventId;
    use crate::domain::integration::{Format, FormatOptions};
    use crate::formats::golden_tests::integration;
    use crate::ports::QueueError;
    use async_trait::async_trait;

    /// A dispatcher faster than the API: each job runs, and its second
    /// attempt succeeds and is logged, inside `send`, before the caller's
    /// next write.
    struct RunsAtOnce(Arc<MemoryDeliveryLog>);

    #[async_trait]
    impl JobQueue for RunsAtOnce {
        async fn send(&self, messages: &[OutgoingMessage]) -> Result<(), QueueError> {
            for message in messages {
                let QueueMessage::DeliveryV1(job) = &message.body else {
                    continue;
                };
                let (mut delivery, _) = self
                    .0
                    .get(&job.tenant_id, &job.delivery_id)
                    .await
                    .unwrap()
                    .unwrap();
                delivery.attempts = job.attempt;
                delivery.status = DeliveryStatus::Succeeded;
                delivery.next_attempt_at = None;
                let attempt = Attempt {
                    number: job.attempt,
                    started_at: Utc::now(),
                    duration_ms: 1,
                    status_code: Some(200),
                    error_kind: None,
                    error: None,
                    response_excerpt: None,
                    next_attempt_at: None,
                };
                self.0.record_attempt(&delivery, &attempt).await.unwrap();
            }
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_retry_whose_job_ran_first_keeps_the_jobs_outcome() {
        let hook = integration(Format::Standard, FormatOptions::default());
        let tenant = hook.tenant_id().clone();
        let integrations = Arc::new(MemoryIntegrationStore::default());
        integrations.create(&hook).await.unwrap();
        let events = Arc::new(MemoryEventStore::default());
        let event = Event::from_json(
            serde_json::json!({"id": "e1", "type": "chat.started", "chat": {"id": "c"}}),
        )
        .unwrap();
        let expires = Utc::now() + chrono::Duration::days(1);
        events.insert(&tenant, &event, "t", expires).await.unwrap();
        // GIVEN a delivery that failed its first attempt, in both deliveries
        let log = Arc::new(MemoryDeliveryLog::default());
        let job = DeliveryJob::first(&tenant, &event.id, event.kind, hook.id(), Utc::now());
        let mut failed = Delivery::pending(&job, Utc::now());
        failed.attempts = 1;
        failed.status = DeliveryStatus::Failed;
        log.put_delivery(&failed).await.unwrap();
        let deliveries = Deliveries {
            log: log.clone(),
            clock: Arc::new(crate::ports::SystemClock),
            integrations,
            events,
            delivery_queue: Arc::new(RunsAtOnce(log.clone())),
            sequences: Arc::new(crate::adapters::memory::MemorySequenceStore::default()),
            retention: chrono::Duration::days(30),
        };
        // WHEN it is retried and the job succeeds before `retry` writes `pending`
        deliveries.retry(&tenant, failed.id.as_str()).await.unwrap();
        // THEN the log keeps the job's outcome
        let (read, _) = log.get(&tenant, &failed.id).await.unwrap().unwrap();
        assert_eq!(read.status, DeliveryStatus::Succeeded);
        assert_eq!(read.attempts, 2);
    }

    #[test]
    fn a_detail_has_one_attempts_key_holding_the_list() {
        let job = DeliveryJob {
            delivery_id: DeliveryId::parse("msg_1").unwrap(),
            tenant_id: TenantId::parse("ten_1").unwrap(),
            integration_id: IntegrationId::parse("int_1").unwrap(),
            event_id: EventId::parse("e").unwrap(),
            event_type: EventType::ChatClosed,
            attempt: 1,
            created_at: Utc::now(),
            acceptance_token: None,
            repeat: false,
            ordered: None,
        };
        let mut delivery = Delivery::pending(&job, Utc::now());
        delivery.attempts = 1;
        let detail = DeliveryDetail {
            delivery,
            attempts: Vec::new(),
        };
        let json = serde_json::to_string(&detail).unwrap();
        assert_eq!(json.matches("\"attempts\"").count(), 1, "{json}");
        assert!(json.contains("\"attempt_count\":1"), "{json}");
    }
}
