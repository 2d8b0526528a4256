//! The dispatcher Lambda: consumes the delivery queue, one attempt per message.
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use chathooks::app::dispatch::{Dispatcher, Outcome};
use chathooks::consumer::{Record, or_dead_letter, parse_batch, process_records};
use chathooks::domain::message::{DeliveryJob, QueueMessage};
use chathooks::metrics::{DELIVERIES_FAILED, DELIVERY_LAG, JOBS_STOOD_DOWN, RETRIES_SCHEDULED};

/// The handler Lambda calls, the local runner too.
pub async fn handle(dispatcher: &Dispatcher, event: SqsEvent) -> SqsBatchResponse {
    let max_receives = dispatcher.settings.max_receive_count;
    let records = parse_batch(event, max_receives);
    let reads = &dispatcher.read_ahead(&delivery_jobs(&records)).await;
    let response = process_records(records, |message, receive| async move {
        match message {
            QueueMessage::DeliveryV1(job) => {
                let delivered = dispatcher.deliver_with(&job, reads, receive).await;
                let outcome = or_dead_letter(
                    delivered,
                    &job,
                    receive,
                    &*dispatcher.log,
                    &*dispatcher.clock,
                    &dispatcher.metrics,
                )
                .await?;
                let metrics = &dispatcher.metrics;
                match &outcome {
                    Outcome::Succeeded => {
                        // From the event's acceptance to its successful delivery.
                        let lag = dispatcher.clock.now() - job.created_at;
                        metrics.value(DELIVERY_LAG, &[], lag.num_milliseconds().max(0) as f64);
                        tracing::info!(delivery_id = %job.delivery_id, attempt = job.attempt, "delivered")
                    }
                    Outcome::RetryScheduled { at } => {
                        metrics.count(RETRIES_SCHEDULED, &[], 1);
                        tracing::info!(delivery_id = %job.delivery_id, attempt = job.attempt, next_attempt_at = %at, "attempt failed, retry scheduled")
                    }
                    Outcome::Failed { reason } => {
                        metrics.count_for(DELIVERIES_FAILED, job.tenant_id.as_str(), job.integration_id.as_str());
                        tracing::warn!(delivery_id = %job.delivery_id, attempt = job.attempt, reason = %reason, "delivery failed")
                    }
                    Outcome::StoodDown(reason) => {
                        metrics.count(JOBS_STOOD_DOWN, &[], 1);
                        tracing::info!(delivery_id = %job.delivery_id, reason = %reason, "job stood down")
                    }
                    Outcome::Waiting { behind } => {
                        tracing::info!(delivery_id = %job.delivery_id, waiting_for = %behind, "ordered delivery waiting its turn")
                    }
                }
                Ok(())
            }
            other => Err(format!("unexpected message on the delivery queue: {}", kind(&other))),
        }
    })
    .await;
    // The batch's attempts into the health counters, in one write per integration.
    dispatcher.log.flush_counts().await;
    // The invocation's metrics, as EMF lines.
    dispatcher.metrics.flush();
    response
}

/// The batch's delivery jobs, for reading their events and integrations
/// ahead (a record that does not parse is left to `process_records`).
fn delivery_jobs(records: &[Record]) -> Vec<DeliveryJob> {
    records
        .iter()
        .filter_map(|r| match &r.message {
            Ok(QueueMessage::DeliveryV1(job)) => Some(job.clone()),
            _ => None,
        })
        .collect()
}

fn kind(m: &QueueMessage) -> &'static str {
    match m {
        QueueMessage::DeliveryV1(_) => "delivery.v1",
        QueueMessage::RetryV1(_) => "retry.v1",
    }
}

/// Build the dispatcher from the environment (cold start).
pub async fn init() -> Result<Dispatcher, chathooks::wiring::BoxError> {
    Ok(init_with(&chathooks::wiring::Wiring::from_env().await?))
}

/// Build the dispatcher from explicit wiring (local runner, tests).
pub fn init_with(w: &chathooks::wiring::Wiring) -> Dispatcher {
    w.dispatcher(w.sender())
}
