//! The job queue on SQS: batches of ten, sent concurrently, each failed entry retried once.
use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use futures::future::try_join_all;

use crate::ports::{JobQueue, OutgoingMessage, QueueError};

/// SQS's most messages per `SendMessageBatch`.
const BATCH_SIZE: usize = 10;
/// SQS's longest message delay.
pub const MAX_DELAY_SECONDS: u32 = 900;

pub struct SqsJobQueue {
    client: Client,
    queue_url: String,
}

#[derive(Debug, thiserror::Error)]
enum SendError {
    #[error("the queue rejected {count} messages (first: {code}: {message})")]
    Rejected {
        count: usize,
        code: String,
        message: String,
    },
    #[error("a batch entry could not be built")]
    Build(#[source] aws_sdk_sqs::error::BuildError),
}

impl SqsJobQueue {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }

    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }

    /// Send one batch (at most ten messages); retry the entries SQS reports
    /// as failed once, and fail if any still is.
    async fn send_batch(&self, batch: &[OutgoingMessage]) -> Result<(), QueueError> {
        let mut entries = batch
            .iter()
            .enumerate()
            .map(|(i, msg)| entry(i, msg))
            .collect::<Result<Vec<_>, _>>()?;
        for retry in [false, true] {
            let out = self
                .client
                .send_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries.clone()))
                .send()
                .await
                .map_err(|e| QueueError(Box::new(e)))?;
            if out.failed.is_empty() {
                return Ok(());
            }
            if retry {
                let first = &out.failed[0];
                return Err(QueueError(Box::new(SendError::Rejected {
                    count: out.failed.len(),
                    code: first.code.clone(),
                    message: first.message.clone().unwrap_or_default(),
                })));
            }
            entries.retain(|e| out.failed.iter().any(|f| f.id == e.id));
        }
        Ok(())
    }
}

fn entry(index: usize, msg: &OutgoingMessage) -> Result<SendMessageBatchRequestEntry, QueueError> {
    SendMessageBatchRequestEntry::builder()
        .id(index.to_string())
        .message_body(msg.body.to_json())
        .delay_seconds(msg.delay_seconds.min(MAX_DELAY_SECONDS) as i32)
        .build()
        .map_err(|e| QueueError(Box::new(SendError::Build(e))))
}

#[async_trait]
impl JobQueue for SqsJobQueue {
    async fn send(&self, messages: &[OutgoingMessage]) -> Result<(), QueueError> {
        try_join_all(
            messages
                .chunks(BATCH_SIZE)
                .map(|batch| self.send_batch(batch)),
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalogue::EventType;
    use crate::domain::ids::{DeliveryId, EventId, IntegrationId, TenantId};
    use crate::domain::message::{DeliveryJob, QueueMessage};

    fn outgoing(delay_seconds: u32) -> OutgoingMessage {
        OutgoingMessage {
            body: QueueMessage::DeliveryV1(DeliveryJob {
                delivery_id: DeliveryId::generate(),
                tenant_id: TenantId::generate(),
                integration_id: IntegrationId::generate(),
                event_id: EventId::generate(),
                event_type: EventType::ChatClosed,
                attempt: 1,
                created_at: chrono::Utc::now(),
                acceptance_token: None,
                repeat: false,
                ordered: None,
            }),
            delay_seconds,
        }
    }

    #[test]
    fn entries_carry_the_json_body_and_a_capped_delay() {
        // GIVEN a message delayed longer than SQS allows
        let msg = outgoing(3_600);
        // WHEN it becomes a batch entry
        let e = entry(7, &msg).unwrap();
        // THEN the delay is SQS's maximum, the id its place in the batch, the body its JSON
        assert_eq!(e.delay_seconds, Some(900));
        assert_eq!(e.id, "7");
        assert_eq!(e.message_body, msg.body.to_json());
        assert_eq!(entry(0, &outgoing(2)).unwrap().delay_seconds, Some(2));
    }
}
