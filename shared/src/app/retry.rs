//! The retry scheduler: a retry job comes back from the retry queue; when it
//! is due it goes to the delivery queue, otherwise it hops again (SQS delays
//! stop at 900 s, retry schedules run for hours).
use chrono::{DateTime, Utc};
use std::sync::Arc;

use super::AppError;
use super::dispatch::queue_delay;
use super::failure::fail_without_attempt;
use crate::domain::integration::deliverable;
use crate::domain::message::{QueueMessage, RetryJob};
use crate::ports::{Clock, DeliveryLog, IntegrationStore, JobQueue, OutgoingMessage};

#[derive(Debug, Clone, PartialEq)]
pub enum RetryOutcome {
    /// Sent to the delivery queue for its attempt.
    Released,
    /// Not due yet: sent back to the retry queue.
    Hopped { remaining_secs: u32 },
    /// The integration is gone or disabled: the delivery is failed.
    Dropped { reason: String },
}

pub struct RetryScheduler {
    pub integrations: Arc<dyn IntegrationStore>,
    pub log: Arc<dyn DeliveryLog>,
    pub delivery_queue: Arc<dyn JobQueue>,
    pub retry_queue: Arc<dyn JobQueue>,
    pub clock: Arc<dyn Clock>,
    pub max_queue_delay: u32,
    /// The retry queue's maxReceiveCount.
    pub max_receive_count: u32,
    /// Flushed by the handler once per invocation.
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl RetryScheduler {
    pub async fn handle(&self, retry: &RetryJob) -> Result<RetryOutcome, AppError> {
        let now = self.clock.now();
        if let Some(remaining) = not_yet_due(retry.due_at, now) {
            let delay = queue_delay(remaining, self.max_queue_delay);
            self.retry_queue
                .send(&[OutgoingMessage {
                    body: QueueMessage::RetryV1(retry.clone()),
                    delay_seconds: delay,
                }])
                .await?;
            return Ok(RetryOutcome::Hopped {
                remaining_secs: remaining.as_secs() as u32,
            });
        }
        let job = &retry.job;
        // An ordered delivery always goes to the dispatcher: failed there,
        // it also moves its chat's sequence on (`domain::sequence`).
        if job.ordered.is_none() {
            let integration = self
                .integrations
                .get(&job.tenant_id, &job.integration_id)
                .await?;
            if let Err(reason) = deliverable(integration) {
                fail_without_attempt(&*self.log, job, &reason, now).await?;
                return Ok(RetryOutcome::Dropped { reason });
            }
        }
        self.delivery_queue
            .send(&[OutgoingMessage {
                body: QueueMessage::DeliveryV1(job.clone()),
                delay_seconds: 0,
            }])
            .await?;
        Ok(RetryOutcome::Released)
    }
}

/// How long until `due_at`, if it is still ahead. A retry is never released
/// early (`due_at` may be a receiver's `Retry-After`); SQS delays are whole
/// seconds rounded up, so a job back a little early hops once more.
fn not_yet_due(due_at: DateTime<Utc>, now: DateTime<Utc>) -> Option<std::time::Duration> {
    (due_at - now).to_std().ok().filter(|d| !d.is_zero())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::*;
    use crate::app::integrations::tests::integration_for;
    use crate::domain::catalogue::EventType;
    use crate::domain::delivery::DeliveryStatus;
    use crate::domain::ids::{DeliveryId, EventId, TenantId};
    use crate::domain::message::DeliveryJob;

    struct Fixture {
        s: RetryScheduler,
        delivery: Arc<MemoryQueue>,
        retry: Arc<MemoryQueue>,
        log: Arc<MemoryDeliveryLog>,
        integrations: Arc<MemoryIntegrationStore>,
        job: RetryJob,
    }

    async fn fixture(due_in_secs: i64, hop: u32) -> Fixture {
        let integrations = Arc::new(MemoryIntegrationStore::default());
        let integration = integration_for(&TenantId::generate(), &[EventType::ChatClosed]);
        integrations.create(&integration).await.unwrap();
        let clock = Arc::new(ManualClock::at(Utc::now()));
        let (delivery, retry, log) = (
            Arc::new(MemoryQueue::default()),
            Arc::new(MemoryQueue::default()),
            Arc::new(MemoryDeliveryLog::default()),
        );
        let job = RetryJob {
            job: DeliveryJob {
                delivery_id: DeliveryId::parse("msg_x").unwrap(),
                tenant_id: integration.tenant_id().clone(),
                integration_id: integration.id().clone(),
                event_id: EventId::parse("e").unwrap(),
                event_type: EventType::ChatClosed,
                attempt: 2,
                created_at: clock.now(),
                acceptance_token: None,
                repeat: false,
                ordered: None,
            },
            due_at: clock.now() + chrono::Duration::seconds(due_in_secs),
        };
        let s = RetryScheduler {
            integrations: integrations.clone(),
            log: log.clone(),
            delivery_queue: delivery.clone(),
            retry_queue: retry.clone(),
            clock,
            max_queue_delay: hop,
            max_receive_count: 5,
            metrics: crate::metrics::Metrics::discard(crate::metrics::RETRY_SCHEDULER),
        };
        Fixture {
            s,
            delivery,
            retry,
            log,
            integrations,
            job,
        }
    }

    #[tokio::test]
    async fn a_due_job_goes_to_the_delivery_queue() {
        let f = fixture(0, 900).await;
        assert_eq!(f.s.handle(&f.job).await.unwrap(), RetryOutcome::Released);
        let sent = f.delivery.take();
        assert!(matches!(&sent[0].body, QueueMessage::DeliveryV1(j) if j.attempt == 2));
    }

    #[tokio::test]
    async fn a_far_job_hops_with_at_most_the_hop_size() {
        let f = fixture(3600, 900).await;
        assert!(matches!(
            f.s.handle(&f.job).await.unwrap(),
            RetryOutcome::Hopped { .. }
        ));
        let sent = f.retry.take();
        assert_eq!(sent[0].delay_seconds, 900);
        assert!(f.delivery.take().is_empty());
    }

    #[tokio::test]
    async fn a_job_arriving_even_slightly_early_is_not_released() {
        // GIVEN a retry due in 300 ms (say a receiver's Retry-After)
        let mut f = fixture(0, 900).await;
        f.job.due_at += chrono::Duration::milliseconds(300);
        // WHEN it comes back from the retry queue THEN it hops once more, for one second
        assert!(matches!(
            f.s.handle(&f.job).await.unwrap(),
            RetryOutcome::Hopped { .. }
        ));
        assert_eq!(f.retry.take()[0].delay_seconds, 1);
        assert!(f.delivery.take().is_empty());
    }

    #[tokio::test]
    async fn a_deleted_integration_stops_its_retries() {
        let f = fixture(0, 900).await;
        f.integrations
            .delete(&f.job.job.tenant_id, &f.job.job.integration_id)
            .await
            .unwrap();
        let out = f.s.handle(&f.job).await.unwrap();
        assert!(matches!(out, RetryOutcome::Dropped { reason } if reason.contains("deleted")));
        assert!(f.delivery.take().is_empty());
        let (d, _) = f.log.snapshot(&f.job.job.delivery_id).unwrap();
        assert_eq!(d.status, DeliveryStatus::Failed);
    }
}
