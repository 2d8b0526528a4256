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
use flate2::{
    Compress, CompressError, Compression, Decompress, FlushCompress, FlushDecompress, Status,
};
use std::cell::RefCell;

use super::keys::{EVENT_SK, EXPIRES_AT, PK, SK, event_pk};
use super::{
    Item, epoch, get_consistent, is_condition_failure, s, string_attr, to_attribute, unavailable,
};
use crate::domain::event::{Event, MAX_EVENT_BYTES};
use crate::domain::ids::{EventId, TenantId};
use crate::ports::{EventStore, InsertOutcome, StoreError, StoredEvent};

/// The compressed event JSON.
const PAYLOAD: &str = "event_deflate";
/// The acceptance token of the request whose jobs are valid.
const TOKEN: &str = "token";
const RECEIVED_AT: &str = "received_at";
/// The event JSON as text, for events stored uncompressed.
const TEXT_PAYLOAD: &str = "event";
/// Longest event JSON stored uncompressed: with the item's keys, token and
/// times it still fits one 1 KiB write unit, so compressing it (the larger
/// part of the intake's CPU for an event) would buy nothing.
const STORE_AS_TEXT_MAX_BYTES: usize = 700;
/// zlib's default level: a 2.5 KB transcript deflates to about 725 bytes, one
/// write unit with the rest of the item (level 1 leaves 968, two units).
const COMPRESSION: Compression = Compression::new(6);

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
        get_consistent(&self.client, &self.table, event_pk(tenant, id), EVENT_SK).await
    }
}

/// The event's JSON, deflated.
pub fn compress(event: &Event) -> Result<Vec<u8>, StoreError> {
    // Serialized whole first: the compressor works best on one large input,
    // not on serde's many small writes.
    let json = serde_json::to_vec(event).map_err(|e| unavailable(EventNotSerializable(e)))?;
    deflate(&json).map_err(|e| unavailable(EventNotCompressible(e)))
}

/// The event as stored: JSON text when it is short enough to fit one write
/// unit as it is (a message event), deflated otherwise (a transcript).
pub fn stored_payload(event: &Event) -> Result<(&'static str, AttributeValue), StoreError> {
    let json = serde_json::to_string(event).map_err(|e| unavailable(EventNotSerializable(e)))?;
    if json.len() <= STORE_AS_TEXT_MAX_BYTES {
        return Ok((TEXT_PAYLOAD, AttributeValue::S(json)));
    }
    let packed = deflate(json.as_bytes()).map_err(|e| unavailable(EventNotCompressible(e)))?;
    Ok((PAYLOAD, AttributeValue::B(Blob::new(packed))))
}

thread_local! {
    /// One compressor per thread, reset between events: a new one allocates
    /// and clears its window and hash tables (some 200 KiB), which for a
    /// chat-sized event costs more than compressing it.
    static DEFLATE: RefCell<Compress> = RefCell::new(Compress::new(COMPRESSION, false));
}

/// Raw deflate (no zlib header), as `DeflateDecoder` reads it.
fn deflate(input: &[u8]) -> Result<Vec<u8>, CompressError> {
    DEFLATE.with_borrow_mut(|compressor| {
        compressor.reset();
        let mut out = Vec::with_capacity(input.len() / 2 + 64);
        loop {
            let consumed = usize::try_from(compressor.total_in()).unwrap_or(input.len());
            let rest = input.get(consumed..).unwrap_or_default();
            match compressor.compress_vec(rest, &mut out, FlushCompress::Finish)? {
                Status::StreamEnd => return Ok(out),
                Status::Ok | Status::BufError => out.reserve(out.capacity().max(256)),
            }
        }
    })
}

thread_local! {
    /// One decompressor per thread, reset between events, for the same
    /// reason as the compressor (a new one allocates its 32 KiB window).
    static INFLATE: RefCell<Decompress> = RefCell::new(Decompress::new(false));
}

/// The event back from its deflated JSON (bounded: a corrupt item cannot
/// inflate past the largest event the intake accepts).
pub fn decompress(bytes: &[u8]) -> Result<Event, StoreError> {
    let json = inflate(bytes, MAX_EVENT_BYTES * 2)
        .map_err(|e| StoreError::Corrupt(format!("event: {e}")))?;
    serde_json::from_slice(&json).map_err(|e| StoreError::Corrupt(format!("event: {e}")))
}

/// Raw inflate of `input`, refusing output longer than `limit` bytes or a
/// stream that ends early.
fn inflate(input: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    INFLATE.with_borrow_mut(|inflater| {
        inflater.reset(false);
        let mut out = Vec::with_capacity((input.len() * 4).clamp(256, limit));
        loop {
            let consumed = usize::try_from(inflater.total_in()).unwrap_or(input.len());
            let rest = input.get(consumed..).unwrap_or_default();
            let before = (inflater.total_in(), out.len());
            match inflater
                .decompress_vec(rest, &mut out, FlushDecompress::Finish)
                .map_err(|e| e.to_string())?
            {
                Status::StreamEnd => return Ok(out),
                Status::Ok | Status::BufError => {
                    if out.len() > limit {
                        return Err(format!("inflates past {limit} bytes"));
                    }
                    if out.len() < out.capacity() && (inflater.total_in(), out.len()) == before {
                        return Err("the deflate stream ends early".into());
                    }
                    if out.len() == out.capacity() {
                        out.reserve(out.capacity().max(256));
                    }
                }
            }
        }
    })
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
        let payload = stored_payload(event)?;
        let item: Item = [
            (PK.to_string(), s(event_pk(tenant, &event.id))),
            (SK.to_string(), s(EVENT_SK)),
            (payload.0.to_string(), payload.1),
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
        match self.read(tenant, id).await? {
            Some(item) => stored_event(&item).map(Some),
            None => Ok(None),
        }
    }
}

/// The event, its token and arrival time, from its item.
pub(crate) fn stored_event(item: &Item) -> Result<StoredEvent, StoreError> {
    let event = match item.get(PAYLOAD) {
        Some(AttributeValue::B(blob)) => decompress(blob.as_ref())?,
        // Short events (and items written before compression) are text.
        _ => serde_json::from_str(string_attr(item, TEXT_PAYLOAD, "event")?)
            .map_err(|e| StoreError::Corrupt(format!("event: {e}")))?,
    };
    let received_at = match item.get(RECEIVED_AT) {
        Some(value) => serde_dynamo::from_attribute_value(value.clone()).ok(),
        None => None,
    };
    Ok(StoredEvent {
        event,
        acceptance_token: token_of(item),
        received_at,
    })
}

#[derive(Debug, thiserror::Error)]
#[error("the event cannot be serialized")]
struct EventNotSerializable(#[source] serde_json::Error);

#[derive(Debug, thiserror::Error)]
#[error("the event cannot be compressed")]
struct EventNotCompressible(#[source] CompressError);

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
    fn the_reused_compressor_starts_afresh_for_each_event() {
        let chat = |id: &str, text: &str| {
            Event::from_json(
                json!({"id": id, "type": "chat.closed", "chat": {"id": "c", "messages": [
                {"author_type": "agent", "text": text, "sent_at": "2026-11-21T10:00:00Z"}]}}),
            )
            .unwrap()
        };
        let small = chat("s", "hello");
        let first = compress(&small).unwrap();
        let large = chat("l", &"a long transcript line ".repeat(2000));
        assert_eq!(decompress(&compress(&large).unwrap()).unwrap(), large);
        assert_eq!(compress(&small).unwrap(), first);
        assert_eq!(decompress(&first).unwrap(), small);
    }

    #[test]
    fn output_larger_than_its_first_allocation_is_complete() {
        // Incompressible bytes: deflate's output exceeds half its input.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let noise: Vec<u8> = (0..300_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x.to_le_bytes()[0]
            })
            .collect();
        let packed = deflate(&noise).unwrap();
        assert!(packed.len() > noise.len() / 2 + 64);
        let mut back = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::DeflateDecoder::new(&packed[..]),
            &mut back,
        )
        .unwrap();
        assert_eq!(back, noise);
        // ...and the reused decompressor grows its output to the whole of it
        assert_eq!(inflate(&packed, noise.len()).unwrap(), noise);
    }

    #[test]
    fn inflating_stops_at_the_limit_and_at_a_stream_that_ends_early() {
        let zeros = vec![0u8; 100_000];
        let packed = deflate(&zeros).unwrap();
        assert_eq!(inflate(&packed, zeros.len()).unwrap(), zeros);
        assert!(inflate(&packed, 10_000).unwrap_err().contains("past 10000"));
        let cut = &packed[..packed.len() / 2];
        assert!(inflate(cut, zeros.len()).is_err());
        // the next event still inflates afresh
        assert_eq!(inflate(&packed, zeros.len()).unwrap(), zeros);
    }

    #[test]
    fn short_events_are_stored_as_text_and_transcripts_deflated() {
        let message = Event::from_json(json!({"id": "m", "type": "message.visitor",
            "chat": {"id": "c"}, "message": {"author_type": "visitor", "text": "hi", "sent_at": "2026-11-21T10:00:00Z"}}))
        .unwrap();
        let (name, value) = stored_payload(&message).unwrap();
        assert_eq!(name, "event");
        assert_eq!(
            serde_json::from_str::<Event>(value.as_s().unwrap()).unwrap(),
            message
        );

        let text = "a transcript line that is long enough ".repeat(30);
        let chat = Event::from_json(json!({"id": "c", "type": "chat.closed",
            "chat": {"id": "c", "messages": [{"author_type": "agent", "text": text, "sent_at": "2026-11-21T10:00:00Z"}]}}))
        .unwrap();
        let (name, value) = stored_payload(&chat).unwrap();
        assert_eq!(name, "event_deflate");
        assert_eq!(decompress(value.as_b().unwrap().as_ref()).unwrap(), chat);
    }

    #[test]
    fn a_corrupt_payload_is_reported_not_panicked() {
        assert!(matches!(
            decompress(b"not deflate"),
            Err(StoreError::Corrupt(_))
        ));
    }
}
