//! The stores on one DynamoDB table (single-table design, see [`keys`]).
//!
//! Each store owns a client (built once per cold start) and the table name.
//! SDK errors become [`StoreError::Unavailable`] with the SDK error as source
//! (an outage: 503); a request the SDK refuses to build or a value that does
//! not serialize becomes [`StoreError::Internal`] (a bug: 500); items that
//! do not map back to the domain become [`StoreError::Corrupt`].
use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;

use crate::ports::StoreError;

pub mod chats;
pub mod deliveries;
pub mod events;
pub mod integrations;
pub mod keys;
pub mod listing;
pub mod portal;
pub mod read_ahead;
pub mod sequences;
pub mod sources;
pub mod stats;
pub mod tenants;

pub use chats::DynamoDbChatDeliveries;
pub use deliveries::DynamoDbDeliveryLog;
pub use events::DynamoDbEventStore;
pub use integrations::DynamoDbIntegrationStore;
pub use portal::DynamoDbPortalSessionStore;
pub use read_ahead::DynamoDbReadAhead;
pub use sequences::DynamoDbSequenceStore;
pub use sources::DynamoDbSourceStore;
pub use stats::DynamoDbAttemptStats;
pub use tenants::DynamoDbTenantStore;

pub(crate) type Item = HashMap<String, AttributeValue>;

/// The store could not be reached or refused the request.
pub(crate) fn unavailable<E>(err: E) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    StoreError::Unavailable(Box::new(err))
}

/// A value of ours that does not map to an item (a bug, not an outage).
#[derive(Debug, thiserror::Error)]
#[error("the value cannot be stored")]
pub(crate) struct Unstorable(#[source] serde_dynamo::Error);

pub(crate) fn to_item<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::Internal(Box::new(Unstorable(e))))
}

pub(crate) fn from_item<T: DeserializeOwned>(item: Item, what: &str) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

pub(crate) fn to_attribute<T: Serialize>(value: &T) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(value)
        .map_err(|e| StoreError::Internal(Box::new(Unstorable(e))))
}

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// Epoch seconds, the TTL attribute's type.
pub(crate) fn epoch(at: chrono::DateTime<chrono::Utc>) -> AttributeValue {
    AttributeValue::N(at.timestamp().to_string())
}

/// A string attribute of an item, or `Corrupt` naming what is missing.
pub(crate) fn string_attr<'a>(
    item: &'a Item,
    name: &str,
    what: &str,
) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        _ => Err(StoreError::Corrupt(format!(
            "{what}: attribute `{name}` is missing or not a string"
        ))),
    }
}

/// A request the SDK builders refused (a required field left out: a bug).
pub(crate) fn build_error(err: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Internal(Box::new(err))
}

/// Whether a request failed only because its condition expression did not hold.
pub(crate) fn is_condition_failure<E, R>(err: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: ConditionFailure,
{
    err.as_service_error()
        .is_some_and(ConditionFailure::is_condition_failure)
}

/// The operation errors that can be a failed condition.
pub(crate) trait ConditionFailure {
    fn is_condition_failure(&self) -> bool;
}

impl ConditionFailure for aws_sdk_dynamodb::operation::put_item::PutItemError {
    fn is_condition_failure(&self) -> bool {
        self.is_conditional_check_failed_exception()
    }
}

impl ConditionFailure for aws_sdk_dynamodb::operation::update_item::UpdateItemError {
    fn is_condition_failure(&self) -> bool {
        self.is_conditional_check_failed_exception()
    }
}

impl ConditionFailure for aws_sdk_dynamodb::operation::delete_item::DeleteItemError {
    fn is_condition_failure(&self) -> bool {
        self.is_conditional_check_failed_exception()
    }
}

/// A transaction cancelled because one of its conditions did not hold.
impl ConditionFailure
    for aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError
{
    fn is_condition_failure(&self) -> bool {
        match self {
            Self::TransactionCanceledException(e) => e
                .cancellation_reasons()
                .iter()
                .any(|r| r.code() == Some("ConditionalCheckFailed")),
            _ => false,
        }
    }
}

/// The item at (`pk`, `sk`), read strongly consistent.
pub(crate) async fn get_consistent(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    pk: impl Into<String>,
    sk: impl Into<String>,
) -> Result<Option<Item>, StoreError> {
    let out = client
        .get_item()
        .table_name(table)
        .key(keys::PK, s(pk))
        .key(keys::SK, s(sk))
        .consistent_read(true)
        .send()
        .await
        .map_err(unavailable)?;
    Ok(out.item)
}

/// Every item of partition `pk` whose sort key starts with `prefix` (the
/// whole partition when it is empty), every page, strongly consistent (a
/// tenant's API keys, its portal sessions, an integration's sequences).
pub(crate) async fn query_prefix(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    pk: String,
    prefix: &str,
) -> Result<Vec<Item>, StoreError> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let mut query = client
            .query()
            .table_name(table)
            .expression_attribute_values(":pk", s(pk.clone()));
        query = if prefix.is_empty() {
            query.key_condition_expression("pk = :pk")
        } else {
            query
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":prefix", s(prefix))
        };
        let out = query
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(unavailable)?;
        items.extend(out.items.unwrap_or_default());
        start = out.last_evaluated_key;
        if start.is_none() {
            return Ok(items);
        }
    }
}

/// The most keys one BatchGetItem request takes.
const BATCH_GET_MAX_KEYS: usize = 100;
/// BatchGetItem requests per chunk before its unprocessed keys are given up.
const BATCH_GET_ROUNDS: usize = 3;

/// The items at `keys`, strongly consistent, 100 keys a BatchGetItem; the
/// keys DynamoDB leaves unprocessed are asked again, and those still left
/// after a few rounds are returned second, for the caller to read one by one.
pub(crate) async fn batch_get(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    keys: Vec<Item>,
) -> Result<(Vec<Item>, Vec<Item>), StoreError> {
    use aws_sdk_dynamodb::types::KeysAndAttributes;
    let (mut found, mut left) = (Vec::with_capacity(keys.len()), Vec::new());
    for chunk in keys.chunks(BATCH_GET_MAX_KEYS) {
        let mut pending = chunk.to_vec();
        for _ in 0..BATCH_GET_ROUNDS {
            if pending.is_empty() {
                break;
            }
            let request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut pending)))
                .consistent_read(true)
                .build()
                .map_err(build_error)?;
            let out = client
                .batch_get_item()
                .request_items(table, request)
                .send()
                .await
                .map_err(unavailable)?;
            found.extend(
                out.responses
                    .and_then(|mut r| r.remove(table))
                    .unwrap_or_default(),
            );
            pending = out
                .unprocessed_keys
                .and_then(|mut u| u.remove(table))
                .map(|k| k.keys)
                .unwrap_or_default();
        }
        left.extend(pending);
    }
    Ok((found, left))
}

/// BatchWriteItem requests (puts or deletes, at most 25) until DynamoDB
/// has processed every one, asking again with a growing pause for what it
/// leaves unprocessed; `Unavailable` when it keeps leaving some.
pub(crate) async fn batch_write(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    mut requests: Vec<aws_sdk_dynamodb::types::WriteRequest>,
) -> Result<(), StoreError> {
    let mut rounds = 0u32;
    while !requests.is_empty() {
        rounds += 1;
        if rounds > 12 {
            return Err(StoreError::Unavailable(
                "the table kept leaving writes unprocessed".into(),
            ));
        }
        if rounds > 1 {
            let wait = 50u64 << rounds.min(6);
            tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
        }
        let out = client
            .batch_write_item()
            .request_items(table, requests)
            .send()
            .await
            .map_err(unavailable)?;
        requests = out
            .unprocessed_items
            .and_then(|mut m| m.remove(table))
            .unwrap_or_default();
    }
    Ok(())
}

/// Create every item, all or none, each only where its key is free:
/// `AlreadyExists` when one is taken (a tenant and its key hash, a portal
/// session and its index entry).
pub(crate) async fn create_all(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    items: Vec<Item>,
) -> Result<(), StoreError> {
    use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
    let mut request = client.transact_write_items();
    for item in items {
        let put = Put::builder()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(build_error)?;
        request = request.transact_items(TransactWriteItem::builder().put(put).build());
    }
    match request.send().await {
        Ok(_) => Ok(()),
        Err(err) if is_condition_failure(&err) => Err(StoreError::AlreadyExists),
        Err(err) => Err(unavailable(err)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_that_do_not_serialize_and_refused_builders_are_bugs_not_outages() {
        // A number is not an item: serde_dynamo refuses it.
        let err = to_item(&42u32).unwrap_err();
        assert!(matches!(err, StoreError::Internal(_)), "{err:?}");
        // A Put without its item and table name: the builder refuses it.
        let err = aws_sdk_dynamodb::types::Put::builder()
            .build()
            .map_err(build_error)
            .unwrap_err();
        assert!(matches!(err, StoreError::Internal(_)), "{err:?}");
        assert!(
            crate::telemetry::chain(&err)
                .to_string()
                .contains("required when building Put"),
            "{}",
            crate::telemetry::chain(&err)
        );
        // AND the API answers a bug with 500, an outage with 503
        let api = crate::api::error::ApiError::from(crate::app::AppError::from(err));
        assert_eq!(api.status, http::StatusCode::INTERNAL_SERVER_ERROR);
        let outage = unavailable(std::io::Error::other("connection refused"));
        let api = crate::api::error::ApiError::from(crate::app::AppError::from(outage));
        assert_eq!(api.status, http::StatusCode::SERVICE_UNAVAILABLE);
    }
}
