//! Accepted events, keyed by (tenant, event id): the intake's idempotency
//! record and the payload kept for retries and replays.
//!
//! One item per event, written once by a conditional put: the event's JSON
//! deflate-compressed (a chat transcript shrinks to a third or less, and
//! DynamoDB bills writes per started KiB) and the acceptance token of the
//! intake request whose delivery jobs are valid.
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use std::io::Read;

use super::keys::{EVENT_SK, EXPIRES_AT, PK, SK, event_pk};
use super::{Item, epoch, is_condition_failure, s, string_attr, to_attribute, unavailable};
use crate::domain::event::{Event, MAX_EVENT_BYTES};
use crate::domain::ids::{EventId, TenantId};
use crate::ports::{EventStore, InsertOutcome, StoreError, StoredEvent};

/// The compressed event JSON.
const PAYLOAD: &str = "event_deflate";
/// The acceptance token of the request whose jobs are valid.
const TOKEN: &str = "token";
const RECEIVED_AT: &str = "received_at";

pub struct DynamoDbEventStore {
    client: Client,
    table: String,
}

impl DynamoDbEventStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The stored item, read strongly consistently (the token decides which
    /// jobs may send, so a stale read must not be trusted).
    async fn read(&self, tenant: &TenantId, id: &EventId) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(event_pk(tenant, id)))
            .key(SK, s(EVENT_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item)
    }
}

/// The event's JSON, deflated.
pub fn compress(event: &Event) -> Result<Vec<u8>, StoreError> {
    let mut encoder = DeflateEncoder::new(Vec::with_capacity(1024), Compression::default());
    serde_json::to_writer(&mut encoder, event).map_err(|e| unavailable(EventNotSerializable(e)))?;
    encoder
        .finish()
        .map_err(|e| unavailable(EventNotCompressible(e)))
}

/// The event back from its deflated JSON (bounded: a corrupt item cannot
/// inflate past the largest event the intake accepts).
pub fn decompress(bytes: &[u8]) -> Result<Event, StoreError> {
    let mut json = Vec::with_capacity(bytes.len() * 4);
    DeflateDecoder::new(bytes)
        .take(MAX_EVENT_BYTES as u64 * 2)
        .read_to_end(&mut json)
        .map_err(|e| StoreError::Corrupt(format!("event: {e}")))?;
    serde_json::from_slice(&json).map_err(|e| StoreError::Corrupt(format!("event: {e}")))
}

fn token_of(item: &Item) -> Option<String> {
    match item.get(TOKEN) {
        Some(AttributeValue::S(t)) => Some(t.clone()),
        _ => None,
    }
}

#[async_trait]
impl EventStore for DynamoDbEventStore {
    async fn insert(
        &self,
        tenant: &TenantId,
        event: &Event,
        token: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<InsertOutcome, StoreError> {
        let item: Item = [
            (PK.to_string(), s(event_pk(tenant, &event.id))),
            (SK.to_string(), s(EVENT_SK)),
            (
                PAYLOAD.to_string(),
                AttributeValue::B(Blob::new(compress(event)?)),
            ),
            (TOKEN.to_string(), s(token)),
            (RECEIVED_AT.to_string(), to_attribute(&Utc::now())?),
            (EXPIRES_AT.to_string(), epoch(expires_at)),
        ]
        .into();
        // A conditional write, not read-then-write: of two concurrent intakes
        // of the same event exactly one stores it.
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(InsertOutcome::New),
            Err(err) if is_condition_failure(&err) => err,
            Err(err) => return Err(unavailable(err)),
        };
        let stored = match err.into_service_error() {
            PutItemError::ConditionalCheckFailedException(e) => e.item,
            _ => None,
        };
        let stored = match stored {
            Some(item) => Some(item),
            None => self.read(tenant, &event.id).await?,
        };
        match stored.as_ref().and_then(token_of) {
            // Our own write, retried by the SDK after a lost answer.
            Some(t) if t == token => Ok(InsertOutcome::New),
            Some(t) => Ok(InsertOutcome::Duplicate { token: t }),
            None => Ok(InsertOutcome::Duplicate {
                token: String::new(),
            }),
        }
    }

    async fn retoken(
        &self,
        tenant: &TenantId,
        id: &EventId,
        from: &str,
        to: &str,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(event_pk(tenant, id)))
            .key(SK, s(EVENT_SK))
            .update_expression("SET #token = :to")
            .condition_expression(
                "attribute_exists(pk) AND (#token = :from OR attribute_not_exists(#token))",
            )
            .expression_attribute_names("#token", TOKEN)
            .expression_attribute_values(":from", s(from))
            .expression_attribute_values(":to", s(to))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if is_condition_failure(&err) => Ok(false),
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn remove(&self, tenant: &TenantId, id: &EventId, token: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(event_pk(tenant, id)))
            .key(SK, s(EVENT_SK))
            .condition_expression("#token = :token")
            .expression_attribute_names("#token", TOKEN)
            .expression_attribute_values(":token", s(token))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if is_condition_failure(&err) => Ok(()),
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn get(
        &self,
        tenant: &TenantId,
        id: &EventId,
    ) -> Result<Option<StoredEvent>, StoreError> {
        let Some(item) = self.read(tenant, id).await? else {
            return Ok(None);
        };
        let event = match item.get(PAYLOAD) {
            Some(AttributeValue::B(blob)) => decompress(blob.as_ref())?,
            // Items written before compression kept the JSON as a string.
            _ => serde_json::from_str(string_attr(&item, "event", "event")?)
                .map_err(|e| StoreError::Corrupt(format!("event: {e}")))?,
        };
        let received_at = match item.get(RECEIVED_AT) {
            Some(value) => serde_dynamo::from_attribute_value(value.clone()).ok(),
            None => None,
        };
        Ok(Some(StoredEvent {
            event,
            token: token_of(&item),
            received_at,
        }))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the event cannot be serialized")]
struct EventNotSerializable(#[source] serde_json::Error);

#[derive(Debug, thiserror::Error)]
#[error("the event cannot be compressed")]
struct EventNotCompressible(#[source] std::io::Error);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_survive_compression_and_chats_shrink() {
        let messages: Vec<_> = (0..12)
            .map(|i| json!({"author_type": "visitor", "text": format!("message {i} about the order"), "sent_at": "2026-11-21T10:00:00Z"}))
            .collect();
        let event = Event::from_json(
            json!({"id": "e1", "type": "chat.closed", "chat": {"id": "c", "messages": messages}}),
        )
        .unwrap();
        let packed = compress(&event).unwrap();
        assert!(packed.len() * 2 < serde_json::to_vec(&event).unwrap().len());
        assert_eq!(decompress(&packed).unwrap(), event);
    }

    #[test]
    fn a_corrupt_payload_is_reported_not_panicked() {
        assert!(matches!(
            decompress(b"not deflate"),
            Err(StoreError::Corrupt(_))
        ));
    }
}
