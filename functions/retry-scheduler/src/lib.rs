//! The retry-scheduler Lambda: consumes the retry queue, releasing due
//! retries to the delivery queue and hopping the others.
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use chathooks::app::retry::{RetryOutcome, RetryScheduler};
use chathooks::consumer::{or_dead_letter, process_batch};
use chathooks::domain::message::QueueMessage;
use chathooks::metrics::{DELIVERIES_FAILED, RETRIES_RELEASED};

/// The handler Lambda calls, the local runner too.
pub async fn handle(scheduler: &RetryScheduler, event: SqsEvent) -> SqsBatchResponse {
    let response = process_batch(event, scheduler.max_receive_count, |message, receive| async move {
        match message {
            QueueMessage::RetryV1(retry) => {
                let handled = scheduler.handle(&retry).await;
                let outcome = or_dead_letter(
                    handled,
                    &retry.job,
                    receive,
                    &*scheduler.log,
                    &*scheduler.clock,
                    &scheduler.metrics,
                )
                .await?;
                let id = &retry.job.delivery_id;
                match outcome {
                    RetryOutcome::Released => {
                        scheduler.metrics.count(RETRIES_RELEASED, &[], 1);
                        tracing::info!(delivery_id = %id, attempt = retry.job.attempt, "retry released")
                    }
                    RetryOutcome::Hopped { remaining_secs } => tracing::info!(delivery_id = %id, remaining_secs, "retry not due, hopped"),
                    RetryOutcome::Dropped { reason } => {
                        scheduler.metrics.count_for(DELIVERIES_FAILED, retry.job.tenant_id.as_str(), retry.job.integration_id.as_str());
                        tracing::warn!(delivery_id = %id, reason = %reason, "retry dropped")
                    }
                }
                Ok(())
            }
            QueueMessage::DeliveryV1(_) => Err("unexpected delivery.v1 message on the retry queue".to_string()),
        }
    })
    .await;
    scheduler.metrics.flush();
    response
}

/// Build the retry scheduler from the environment (cold start).
pub async fn init() -> Result<RetryScheduler, chathooks::wiring::BoxError> {
    Ok(init_with(&chathooks::wiring::Wiring::from_env().await?))
}

/// Build the retry scheduler from explicit wiring (local runner, tests).
pub fn init_with(w: &chathooks::wiring::Wiring) -> RetryScheduler {
    w.retry_scheduler()
}
