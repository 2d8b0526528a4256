//! A delivery failed without an attempt: its integration deleted or
//! disabled, its event gone or unrenderable, or its job unprocessable until
//! the dead-letter queue. Every such failure is recorded here, the same way.
use chrono::{DateTime, Utc};

use super::AppError;
use crate::domain::delivery::{Delivery, DeliveryStatus};
use crate::domain::message::DeliveryJob;
use crate::ports::DeliveryLog;

/// Mark the job's delivery failed with `reason`, keeping what the log
/// already knows of it. If an attempt is logged meanwhile (a copy of the job
/// ran), that newer state stays.
pub async fn fail_without_attempt(
    log: &dyn DeliveryLog,
    job: &DeliveryJob,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let mut delivery = match log.get(&job.tenant_id, &job.delivery_id).await? {
        Some((d, _)) => d,
        // Not logged yet: no attempt of it is either.
        None => Delivery {
            attempts: 0,
            ..Delivery::pending(job, now)
        },
    };
    let seen = delivery.attempts;
    delivery.status = DeliveryStatus::Failed;
    delivery.next_attempt_at = None;
    delivery.waiting_for = None;
    delivery.last_error = Some(reason.to_string());
    delivery.updated_at = now;
    log.update_unless_moved(&delivery, seen).await?;
    Ok(())
}

/// On a message's last receive before the dead-letter queue: record the
/// delivery as failed with why it could not be processed (best effort: the
/// store may be what is failing). The message still dead-letters, for replay.
pub async fn record_dead_letter(
    log: &dyn DeliveryLog,
    job: &DeliveryJob,
    error: &AppError,
    now: DateTime<Utc>,
) {
    let reason = format!("could not be processed, moved to the dead-letter queue: {error}");
    // The error itself is logged once, by the consumer, as the message moves
    // to the dead-letter queue; only a failure to record it is logged here.
    if let Err(e) = fail_without_attempt(log, job, &reason, now).await {
        tracing::error!(delivery_id = %job.delivery_id, error = %crate::telemetry::chain(&e), "a dead-lettered delivery could not be marked failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::MemoryDeliveryLog;
    use crate::domain::catalogue::EventType;
    use crate::domain::delivery::{Attempt, SendOutcome};
    use crate::domain::ids::{EventId, IntegrationId, TenantId};
    use std::time::Duration;

    fn job() -> DeliveryJob {
        let tenant = TenantId::generate();
        let event = EventId::generate();
        DeliveryJob::first(
            &tenant,
            &event,
            EventType::ChatClosed,
            &IntegrationId::generate(),
            Utc::now(),
        )
    }

    #[tokio::test]
    async fn a_delivery_not_logged_yet_is_logged_failed_with_the_reason() {
        let log = MemoryDeliveryLog::default();
        let job = job();
        fail_without_attempt(&log, &job, "the integration was deleted", Utc::now())
            .await
            .unwrap();
        let (d, attempts) = log
            .get(&job.tenant_id, &job.delivery_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(d.status, DeliveryStatus::Failed);
        assert_eq!(d.last_error.as_deref(), Some("the integration was deleted"));
        assert!(attempts.is_empty());
    }

    /// A log whose `get` shows the state before a copy of the job logged its
    /// successful attempt: the failure decided on that read must not win.
    struct MovesOnAfterRead(MemoryDeliveryLog);

    #[async_trait::async_trait]
    impl DeliveryLog for MovesOnAfterRead {
        async fn record_attempt(
            &self,
            d: &Delivery,
            a: &Attempt,
        ) -> Result<(), crate::ports::StoreError> {
            self.0.record_attempt(d, a).await
        }
        async fn put_delivery(&self, d: &Delivery) -> Result<(), crate::ports::StoreError> {
            self.0.put_delivery(d).await
        }
        async fn update_unless_moved(
            &self,
            d: &Delivery,
            seen: u32,
        ) -> Result<bool, crate::ports::StoreError> {
            self.0.update_unless_moved(d, seen).await
        }
        async fn get(
            &self,
            tenant: &TenantId,
            id: &crate::domain::ids::DeliveryId,
        ) -> Result<Option<(Delivery, Vec<Attempt>)>, crate::ports::StoreError> {
            let seen = self.0.get(tenant, id).await?;
            if let Some((d, _)) = &seen {
                let mut done = d.clone();
                done.attempts += 1;
                done.status = DeliveryStatus::Succeeded;
                let ok = SendOutcome {
                    status_code: Some(200),
                    error_kind: None,
                    error: None,
                    response_excerpt: None,
                    duration: Duration::from_millis(5),
                    retry_after: None,
                };
                self.0
                    .record_attempt(
                        &done,
                        &Attempt::from_outcome(done.attempts, Utc::now(), &ok),
                    )
                    .await?;
            }
            Ok(seen)
        }
        async fn list(
            &self,
            tenant: &TenantId,
            integration: &IntegrationId,
            query: &crate::ports::DeliveryQuery,
        ) -> Result<crate::ports::Page<Delivery>, crate::ports::StoreError> {
            self.0.list(tenant, integration, query).await
        }
    }

    #[tokio::test]
    async fn a_failure_decided_on_an_older_read_leaves_a_newer_attempt_standing() {
        // GIVEN a delivery whose first attempt failed, and a copy of its retry succeeding meanwhile
        let log = MovesOnAfterRead(MemoryDeliveryLog::default());
        let job = job();
        let mut d = Delivery::pending(&job, Utc::now());
        d.attempts = 1;
        log.0.put_delivery(&d).await.unwrap();
        // WHEN the retry scheduler fails it for a disabled integration
        fail_without_attempt(&log, &job, "the integration is disabled: x", Utc::now())
            .await
            .unwrap();
        // THEN the success stays
        let (d, _) = log
            .0
            .get(&job.tenant_id, &job.delivery_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(d.status, DeliveryStatus::Succeeded);
        assert_eq!(d.attempts, 2);
    }
}
