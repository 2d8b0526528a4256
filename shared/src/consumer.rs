//! The SQS side of the dispatcher and the retry scheduler: every record of a
//! batch is parsed and handled on its own, concurrently, and only the failed
//! ones are reported (`ReportBatchItemFailures`), so one bad message never
//! fails its batch. A message that cannot be parsed is reported failed too:
//! after the queue's maxReceiveCount it moves to the dead-letter queue. The
//! handler is told which receive of its message it handles (`ReceiveCount`).
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures::future::join_all;
use std::future::Future;
use tracing::Instrument;

use crate::app::AppError;
use crate::app::failure::record_dead_letter;
use crate::domain::message::{DeliveryJob, QueueMessage, ReceiveCount};
use crate::ports::{Clock, DeliveryLog};

/// Which receive of its message a record is (a record without the
/// attribute counts as a first receive).
fn receive(record: &SqsMessage, max_receive_count: u32) -> ReceiveCount {
    let count = record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(1);
    ReceiveCount {
        count,
        max: max_receive_count,
    }
}

/// One record of a batch, its body parsed (once: a handler may look at the
/// whole batch first, as the dispatcher does to read ahead).
pub struct Record {
    pub message_id: String,
    pub receive: ReceiveCount,
    /// `Err`: the body is not a queue message (why, for the log).
    pub message: Result<QueueMessage, String>,
}

/// Parse each record of `event`.
pub fn parse_batch(event: SqsEvent, max_receive_count: u32) -> Vec<Record> {
    event
        .records
        .into_iter()
        .map(|record| Record {
            message_id: record.message_id.clone().unwrap_or_default(),
            receive: receive(&record, max_receive_count),
            message: QueueMessage::from_json(record.body.as_deref().unwrap_or_default())
                .map_err(|e| e.to_string()),
        })
        .collect()
}

/// Handle each record with `handle(message, receive)`; `Err` from it
/// leaves the record for redelivery (or the dead-letter queue).
pub async fn process_batch<F, Fut, E>(
    event: SqsEvent,
    max_receive_count: u32,
    handle: F,
) -> SqsBatchResponse
where
    F: Fn(QueueMessage, ReceiveCount) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    process_records(parse_batch(event, max_receive_count), handle).await
}

/// `process_batch` for records already parsed.
pub async fn process_records<F, Fut, E>(records: Vec<Record>, handle: F) -> SqsBatchResponse
where
    F: Fn(QueueMessage, ReceiveCount) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let results = join_all(records.into_iter().map(|record| {
        let delivery_id = record
            .message
            .as_ref()
            .ok()
            .map(|m| m.job().delivery_id.as_str());
        // At DEBUG: a span costs its fields' formatting on every message;
        // the lines that matter name their delivery themselves.
        let span = tracing::debug_span!(
            "sqs_message",
            message_id = %record.message_id,
            delivery_id = delivery_id.unwrap_or_default()
        );
        let message_id = record.message_id.clone();
        let handled = process_one(record, &handle);
        async move { (message_id, handled.await) }.instrument(span)
    }))
    .await;
    let mut response = SqsBatchResponse::default();
    for (message_id, ok) in results {
        if !ok {
            response.add_failure(message_id);
        }
    }
    response
}

async fn process_one<F, Fut, E>(record: Record, handle: &F) -> bool
where
    F: Fn(QueueMessage, ReceiveCount) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let message_id = record.message_id;
    let message = match record.message {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(message_id = %message_id, error = %e, "unreadable queue message; it will reach the dead-letter queue");
            return false;
        }
    };
    let delivery_id = message.job().delivery_id.clone();
    let receive = record.receive;
    match handle(message, receive).await {
        Ok(()) => true,
        Err(e) if receive.is_last() => {
            tracing::error!(message_id = %message_id, delivery_id = %delivery_id, error = %e, "message moves to the dead-letter queue");
            false
        }
        Err(e) => {
            tracing::warn!(message_id = %message_id, delivery_id = %delivery_id, error = %e, "message left for redelivery");
            false
        }
    }
}

/// `result` of handling the message carrying `job`, its error as the
/// message's failure. On the message's last receive an error also records
/// the delivery failed with why (the message then moves to the dead-letter
/// queue): a job never disappears without its reason in the log, and it
/// counts among the deliveries failed for good.
pub async fn or_dead_letter<T>(
    result: Result<T, AppError>,
    job: &DeliveryJob,
    receive: ReceiveCount,
    log: &dyn DeliveryLog,
    clock: &dyn Clock,
    metrics: &crate::metrics::Metrics,
) -> Result<T, String> {
    match result {
        Ok(value) => Ok(value),
        Err(e) => {
            if receive.is_last() {
                record_dead_letter(log, job, &e, clock.now()).await;
                metrics.count_for(
                    crate::metrics::DELIVERIES_FAILED,
                    job.tenant_id.as_str(),
                    job.integration_id.as_str(),
                );
            }
            Err(crate::telemetry::chain(&e).to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_receive_count_tells_a_repeat_and_the_last_receive() {
        let mut m = SqsMessage::default();
        let first = receive(&m, 5);
        assert!(!first.is_repeat() && !first.is_last(), "{first:?}");
        m.attributes
            .insert("ApproximateReceiveCount".into(), "1".into());
        assert_eq!(receive(&m, 5), first);
        m.attributes
            .insert("ApproximateReceiveCount".into(), "4".into());
        let fourth = receive(&m, 5);
        assert!(fourth.is_repeat() && !fourth.is_last(), "{fourth:?}");
        m.attributes
            .insert("ApproximateReceiveCount".into(), "5".into());
        assert!(receive(&m, 5).is_last());
    }

    fn record(id: &str, body: &str) -> SqsMessage {
        let mut m = SqsMessage::default();
        m.message_id = Some(id.into());
        m.body = Some(body.into());
        m
    }

    #[tokio::test]
    async fn an_error_on_the_last_receive_fails_the_delivery_for_good_and_counts_it() {
        use crate::adapters::memory::{ManualClock, MemoryDeliveryLog};
        use crate::metrics::{DELIVERIES_FAILED, DISPATCHER, Metrics, MetricsSink};
        use crate::ports::StoreError;

        #[derive(Default)]
        struct Lines(std::sync::Mutex<Vec<String>>);
        impl MetricsSink for Lines {
            fn write_line(&self, line: &str) {
                self.0.lock().unwrap().push(line.to_string());
            }
        }
        let job: DeliveryJob = serde_json::from_str(
            r#"{"delivery_id":"msg_1","tenant_id":"ten_1","integration_id":"int_1","event_id":"e","event_type":"chat.closed","attempt":1,"created_at":"2026-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        let (log, clock) = (
            MemoryDeliveryLog::default(),
            ManualClock::at(chrono::Utc::now()),
        );
        let sink = std::sync::Arc::new(Lines::default());
        let metrics = Metrics::new(DISPATCHER, sink.clone());
        let outage = || AppError::Store(StoreError::Unavailable("down".into()));
        for (count, counted) in [(1, false), (5, true)] {
            let receive = ReceiveCount { count, max: 5 };
            let result: Result<(), _> =
                or_dead_letter(Err(outage()), &job, receive, &log, &clock, &metrics).await;
            assert!(result.unwrap_err().contains("down"));
            metrics.flush();
            let failed = sink
                .0
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.contains(DELIVERIES_FAILED) && l.contains("int_1"));
            assert_eq!(failed, counted, "receive {count}");
        }
    }

    #[tokio::test]
    async fn only_failed_and_unreadable_records_are_reported() {
        let mut event = SqsEvent::default();
        let ok = r#"{"type":"retry.v1","delivery_id":"msg_1","tenant_id":"ten_1","integration_id":"int_1","event_id":"e","event_type":"chat.closed","attempt":2,"created_at":"2026-01-01T00:00:00Z","due_at":"2026-01-01T00:00:00Z"}"#;
        let failing = ok.replace("msg_1", "msg_2");
        event.records = vec![
            record("a", ok),
            record("b", "not json"),
            record("c", &failing),
        ];
        let response = process_batch(event, 5, |m, _| async move {
            match m {
                QueueMessage::RetryV1(r) if r.job.delivery_id.as_str() == "msg_2" => {
                    Err("store down")
                }
                _ => Ok(()),
            }
        })
        .await;
        let failed: Vec<_> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(failed, vec!["b", "c"]);
    }
}
