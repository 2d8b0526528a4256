//! What the config API and the dispatcher do to the chats' sequences of an
//! ordered integration (`domain::sequence`) besides taking turns.
use chrono::{DateTime, Utc};

use super::AppError;
use crate::domain::ids::{IntegrationId, TenantId};
use crate::domain::message::{DeliveryJob, QueueMessage};
use crate::domain::sequence::{InOrder, Position, SequenceEntry};
use crate::ports::{JobQueue, OutgoingMessage, SequenceStore};

/// Send each chat's head of the integration's sequences to the dispatcher
/// now: once the integration is deleted or disabled, the head fails there
/// with the reason and what waits behind it follows, one after the other,
/// instead of waiting for the head's scheduled retry. Best effort (the
/// heads' own retries still come): a failure is logged, not answered.
pub async fn release_heads(
    sequences: &dyn SequenceStore,
    queue: &dyn JobQueue,
    tenant: &TenantId,
    integration: &IntegrationId,
) {
    let heads = match sequences.entries(tenant, integration, None).await {
        Ok(entries) => first_of_each_chat(entries),
        Err(err) => {
            tracing::warn!(integration_id = %integration, error = %crate::telemetry::chain(&err), "could not read the integration's chat sequences to end them");
            return;
        }
    };
    let messages: Vec<OutgoingMessage> = heads
        .iter()
        .map(|head| OutgoingMessage {
            body: QueueMessage::DeliveryV1(head.released_job()),
            delay_seconds: 0,
        })
        .collect();
    if !messages.is_empty()
        && let Err(err) = queue.send(&messages).await
    {
        tracing::warn!(integration_id = %integration, error = %crate::telemetry::chain(&err), "could not send the chat sequences' heads to end them");
    }
}

/// Entries in sequence order per chat: the first of each chat.
fn first_of_each_chat(entries: Vec<SequenceEntry>) -> Vec<SequenceEntry> {
    let mut heads: Vec<SequenceEntry> = Vec::new();
    for e in entries {
        if heads
            .last()
            .is_none_or(|h| h.in_order().chat != e.in_order().chat)
        {
            heads.push(e);
        }
    }
    heads
}

/// A manual retry's place for `job` in `chat`'s sequence: the one it still
/// holds (a head is attempted now, a waiting delivery keeps waiting), or
/// else a new one at the end, returned to be appended before the job is
/// queued. `index` orders the deliveries of one recover call.
pub async fn place_again(
    sequences: &dyn SequenceStore,
    job: &DeliveryJob,
    chat: &str,
    now: DateTime<Utc>,
    index: usize,
) -> Result<(InOrder, Option<SequenceEntry>), AppError> {
    let held = sequences
        .entries(&job.tenant_id, &job.integration_id, Some(chat))
        .await?
        .into_iter()
        .find(|e| e.delivery_id() == &job.delivery_id);
    if let Some(held) = held {
        return Ok((held.in_order().clone(), None));
    }
    let order = InOrder {
        chat: chat.to_string(),
        position: Position::at(now, index),
    };
    let entry = SequenceEntry::new(DeliveryJob {
        ordered: Some(order.clone()),
        ..job.clone()
    });
    Ok((order, entry))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::{MemoryQueue, MemorySequenceStore};
    use crate::domain::catalogue::EventType;
    use crate::domain::ids::EventId;

    fn job(tenant: &TenantId, integration: &IntegrationId, chat: &str, n: usize) -> DeliveryJob {
        let mut j = DeliveryJob::first(
            tenant,
            &EventId::parse(&format!("e{n}")).unwrap(),
            EventType::ChatClosed,
            integration,
            Utc::now(),
        );
        j.acceptance_token = Some("t".into());
        j.ordered = Some(InOrder {
            chat: chat.into(),
            position: Position::at(Utc::now(), n),
        });
        j
    }

    #[tokio::test]
    async fn ending_an_integrations_sequences_sends_each_chats_head_once() {
        let (tenant, integration) = (TenantId::generate(), IntegrationId::generate());
        let store = MemorySequenceStore::default();
        let entries: Vec<SequenceEntry> = [("a", 0), ("a", 1), ("b", 2), ("b", 3), ("c", 4)]
            .into_iter()
            .filter_map(|(chat, n)| SequenceEntry::new(job(&tenant, &integration, chat, n)))
            .collect();
        store.append(&entries, Utc::now()).await.unwrap();
        let queue = MemoryQueue::default();
        release_heads(&store, &queue, &tenant, &integration).await;
        let sent: Vec<DeliveryJob> = queue
            .take()
            .into_iter()
            .map(|m| match m.body {
                QueueMessage::DeliveryV1(j) => j,
                other => panic!("{other:?}"),
            })
            .collect();
        let ids: Vec<_> = sent
            .iter()
            .map(|j| j.event_id.as_str().to_string())
            .collect();
        assert_eq!(ids, ["e0", "e2", "e4"]);
        // sent as the sequence's own jobs: no intake token to stand down on
        assert!(sent.iter().all(|j| j.acceptance_token.is_none()));
    }

    #[tokio::test]
    async fn a_manual_retry_keeps_a_held_place_or_takes_a_new_one_at_the_end() {
        let (tenant, integration) = (TenantId::generate(), IntegrationId::generate());
        let store = MemorySequenceStore::default();
        let held = job(&tenant, &integration, "a", 0);
        store
            .append(&[SequenceEntry::new(held.clone()).unwrap()], Utc::now())
            .await
            .unwrap();
        let (order, new) = place_again(&store, &held, "a", Utc::now(), 0)
            .await
            .unwrap();
        assert_eq!(Some(order), held.ordered);
        assert!(new.is_none());
        let left = job(&tenant, &integration, "a", 1);
        let later = Utc::now() + chrono::Duration::seconds(1);
        let (order, new) = place_again(&store, &left, "a", later, 0).await.unwrap();
        assert_eq!(order.position, Position::at(later, 0));
        assert_eq!(new.unwrap().job.ordered, Some(order));
    }
}
