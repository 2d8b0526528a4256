//! Tenants, their API keys and the purge of a deleted tenant.
//!
//! | item          | pk                | sk          | attributes |
//! |---------------|-------------------|-------------|------------|
//! | tenant        | `T#{tenant}`      | `TENANT`    | tenant_id, name, created_at, status (absent: active), key_count, gsi1pk = `TENANTS`, gsi1sk = `{created_at}#{tenant}`, purge_cursor, purge_scanned |
//! | API key       | `K#{sha256 hex}`  | `KEY`       | tenant_id, key_id, name, prefix, created_at, key_expires_at, last_used_at |
//! | its tenant's index | `T#{tenant}` | `K#{key id}` | key_hash |
//!
//! A key item holding only `tenant_id` is a key stored before keys had
//! names; the first request with it adopts it (`adopt_key`). `key_count` on
//! the tenant item keeps a tenant's last key from being revoked: revoking is
//! one transaction deleting the key and decrementing the count only while it
//! is above 1.
//!
//! Which tenant a key hash belongs to never changes, so the store remembers
//! it from each key it reads (`KeyOwners`, for the life of the warm
//! function) and reads a known key together with its tenant in one strongly
//! consistent BatchGetItem: the key's validity and the tenant's status are
//! still read on every request, never remembered.
//!
//! Purging a tenant walks the whole table with a paged, strongly consistent
//! Scan (the log is keyed by delivery, and events by tenant and event id, so
//! no index lists everything of a tenant), deleting each item of the tenant:
//! an item whose key names the tenant right after its kind (`T#`, `E#`,
//! `S#`, ... `{tenant}`), or that carries its `tenant_id` (deliveries, keys,
//! portal sessions), and, with each delivery, its attempts. The Scan's
//! position is saved on the tenant item after each page, so a purge cut
//! short continues where it stopped; the tenant item goes last.
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, DeleteRequest, Put, ReturnValue, TransactWriteItem, Update,
    WriteRequest,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use std::collections::HashMap;

use super::keys::{
    GSI1, GSI1PK, GSI1SK, KEY_SK, PK, SK, TENANT_SK, key_pk, sort_timestamp, tenant_pk,
};
use super::{
    Item, batch_get, build_error, create_all, get_consistent, is_condition_failure, query_prefix,
    s, string_attr, unavailable,
};
use crate::domain::api_key::{ApiKey, LAST_USED_GRANULARITY};
use crate::domain::ids::{ApiKeyId, TenantId};
use crate::domain::tenant::TenantStatus;
use crate::ports::{
    Added, Page, PurgeProgress, Revoked, StoreError, StoredKey, Tenant, TenantStore,
    key_then_tenant,
};

/// The index partition every tenant item is listed in.
pub const TENANTS_GSI1PK: &str = "TENANTS";
/// The sort key prefix of a tenant's key index items.
pub const KEY_INDEX_PREFIX: &str = "K#";
/// Items a purge step's Scan reads per page.
const PURGE_PAGE: i32 = 500;
/// Delivery partitions a purge step reads at once.
const PARALLEL_READS: usize = 8;
/// BatchWriteItem requests a purge step makes at once.
const PARALLEL_WRITES: usize = 4;
/// BatchWriteItem takes at most 25 requests.
const BATCH_WRITE: usize = 25;

const STATUS: &str = "status";
const KEY_COUNT: &str = "key_count";
const PURGE_CURSOR: &str = "purge_cursor";
const PURGE_SCANNED: &str = "purge_scanned";
const KEY_EXPIRES_AT: &str = "key_expires_at";
const LAST_USED_AT: &str = "last_used_at";

pub struct DynamoDbTenantStore {
    client: Client,
    table: String,
    owners: KeyOwners,
}

impl DynamoDbTenantStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            owners: KeyOwners::default(),
        }
    }
}

/// The most key hashes a warm function remembers the tenant of; past it the
/// memory starts afresh (the next read of each key is two reads again).
const MAX_KEY_OWNERS: usize = 10_000;

/// Key hash → the tenant it belongs to, as read: an immutable fact about a
/// key, not its validity.
#[derive(Default)]
struct KeyOwners(std::sync::Mutex<HashMap<String, TenantId>>);

impl KeyOwners {
    fn get(&self, key_hash: &str) -> Option<TenantId> {
        self.0.lock().ok()?.get(key_hash).cloned()
    }

    fn remember(&self, key_hash: &str, tenant: &TenantId) {
        if let Ok(mut owners) = self.0.lock() {
            if owners.len() >= MAX_KEY_OWNERS {
                owners.clear();
            }
            owners.insert(key_hash.to_string(), tenant.clone());
        }
    }

    fn forget(&self, key_hash: &str) {
        if let Ok(mut owners) = self.0.lock() {
            owners.remove(key_hash);
        }
    }
}

pub fn key_index_sk(id: &ApiKeyId) -> String {
    format!("{KEY_INDEX_PREFIX}{id}")
}

fn tenant_gsi1sk(created_at: DateTime<Utc>, id: &TenantId) -> String {
    format!("{}#{id}", sort_timestamp(created_at))
}

fn time_attr(item: &Item, name: &str, what: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::S(raw)) => DateTime::parse_from_rfc3339(raw)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| StoreError::Corrupt(format!("{what}: `{name}` is not a timestamp"))),
        Some(_) => Err(StoreError::Corrupt(format!(
            "{what}: `{name}` is not a string"
        ))),
    }
}

pub(crate) fn tenant_from_item(item: &Item) -> Result<Tenant, StoreError> {
    const WHAT: &str = "tenant";
    let id = TenantId::parse(string_attr(item, "tenant_id", WHAT)?)
        .map_err(|e| StoreError::Corrupt(format!("{WHAT}: tenant_id: {}", e.message)))?;
    let status = match item.get(STATUS) {
        None => TenantStatus::Active,
        Some(AttributeValue::S(raw)) => TenantStatus::parse(raw)
            .ok_or_else(|| StoreError::Corrupt(format!("{WHAT}: unknown status {raw}")))?,
        Some(_) => return Err(StoreError::Corrupt(format!("{WHAT}: status"))),
    };
    Ok(Tenant {
        id,
        name: string_attr(item, "name", WHAT)?.to_string(),
        created_at: time_attr(item, "created_at", WHAT)?
            .ok_or_else(|| StoreError::Corrupt(format!("{WHAT}: created_at is missing")))?,
        status,
    })
}

fn key_from_item(item: &Item) -> Result<StoredKey, StoreError> {
    const WHAT: &str = "API key";
    let tenant_id = TenantId::parse(string_attr(item, "tenant_id", WHAT)?)
        .map_err(|e| StoreError::Corrupt(format!("{WHAT}: tenant_id: {}", e.message)))?;
    if !item.contains_key("key_id") {
        return Ok(StoredKey::Unnamed(tenant_id));
    }
    let id = ApiKeyId::parse(string_attr(item, "key_id", WHAT)?)
        .map_err(|e| StoreError::Corrupt(format!("{WHAT}: key_id: {}", e.message)))?;
    Ok(StoredKey::Named(ApiKey {
        id,
        tenant_id,
        name: string_attr(item, "name", WHAT)?.to_string(),
        prefix: string_attr(item, "prefix", WHAT)?.to_string(),
        created_at: time_attr(item, "created_at", WHAT)?
            .ok_or_else(|| StoreError::Corrupt(format!("{WHAT}: created_at is missing")))?,
        expires_at: time_attr(item, KEY_EXPIRES_AT, WHAT)?,
        last_used_at: time_attr(item, LAST_USED_AT, WHAT)?,
    }))
}

fn key_item(key: &ApiKey, key_hash: &str) -> Item {
    let mut item: Item = [
        (PK.to_string(), s(key_pk(key_hash))),
        (SK.to_string(), s(KEY_SK)),
        ("tenant_id".to_string(), s(key.tenant_id.as_str())),
        ("key_id".to_string(), s(key.id.as_str())),
        ("name".to_string(), s(&key.name)),
        ("prefix".to_string(), s(&key.prefix)),
        ("created_at".to_string(), s(sort_timestamp(key.created_at))),
    ]
    .into();
    if let Some(at) = key.expires_at {
        item.insert(KEY_EXPIRES_AT.into(), s(sort_timestamp(at)));
    }
    if let Some(at) = key.last_used_at {
        item.insert(LAST_USED_AT.into(), s(sort_timestamp(at)));
    }
    item
}

fn key_index_item(key: &ApiKey, key_hash: &str) -> Item {
    [
        (PK.to_string(), s(tenant_pk(&key.tenant_id))),
        (SK.to_string(), s(key_index_sk(&key.id))),
        ("key_hash".to_string(), s(key_hash)),
    ]
    .into()
}

fn put(table: &str, item: Item, condition: &str) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(condition)
        .build()
        .map_err(build_error)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// Which items of a transaction failed their condition, if it was cancelled for that.
fn failed_conditions<R>(
    err: &aws_sdk_dynamodb::error::SdkError<TransactWriteItemsError, R>,
) -> Option<Vec<bool>> {
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(e)) => {
            let reasons: Vec<bool> = e
                .cancellation_reasons()
                .iter()
                .map(|r| r.code() == Some("ConditionalCheckFailed"))
                .collect();
            reasons.iter().any(|f| *f).then_some(reasons)
        }
        _ => None,
    }
}

/// Whether an item belongs to `tenant`: its key names the tenant right after
/// the item's kind (`T#{tenant}`, `E#{tenant}#...`, `S#{tenant}#...`), or it
/// carries the tenant's id.
pub fn owned_by(item: &Item, tenant: &TenantId) -> bool {
    let by_key = match item.get(PK) {
        Some(AttributeValue::S(pk)) => pk.split('#').nth(1) == Some(tenant.as_str()),
        _ => false,
    };
    by_key || matches!(item.get("tenant_id"), Some(AttributeValue::S(t)) if t == tenant.as_str())
}

fn table_key(item: &Item) -> Option<Item> {
    Some(
        [
            (PK.to_string(), item.get(PK)?.clone()),
            (SK.to_string(), item.get(SK)?.clone()),
        ]
        .into(),
    )
}

impl DynamoDbTenantStore {
    async fn tenant_item(&self, id: &TenantId) -> Result<Option<Item>, StoreError> {
        get_consistent(&self.client, &self.table, tenant_pk(id), TENANT_SK).await
    }

    /// Delete items by table key, 25 per request (a few requests at once).
    async fn delete_keys(&self, keys: Vec<Item>) -> Result<usize, StoreError> {
        let count = keys.len();
        let chunks: Vec<Vec<Item>> = keys.chunks(BATCH_WRITE).map(<[Item]>::to_vec).collect();
        let results: Vec<Result<(), StoreError>> = futures::stream::iter(chunks)
            .map(|chunk| async move { self.delete_chunk(chunk).await })
            .buffer_unordered(PARALLEL_WRITES)
            .collect()
            .await;
        results.into_iter().collect::<Result<Vec<()>, _>>()?;
        Ok(count)
    }

    /// One BatchWriteItem of at most 25 deletes, asking again (with a
    /// growing pause) for what DynamoDB leaves unprocessed.
    async fn delete_chunk(&self, chunk: Vec<Item>) -> Result<(), StoreError> {
        let requests = chunk
            .into_iter()
            .map(|key| {
                DeleteRequest::builder()
                    .set_key(Some(key))
                    .build()
                    .map(|d| WriteRequest::builder().delete_request(d).build())
                    .map_err(build_error)
            })
            .collect::<Result<Vec<_>, _>>()?;
        super::batch_write(&self.client, &self.table, requests).await
    }

    /// Every item of one partition (a delivery and its attempts, a tenant's partition).
    async fn partition_keys(&self, pk: &AttributeValue) -> Result<Vec<Item>, StoreError> {
        let mut keys = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", pk.clone())
                .projection_expression("pk, sk")
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable)?;
            keys.extend(out.items.unwrap_or_default().iter().filter_map(table_key));
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(keys);
            }
        }
    }

    /// One page of the purge Scan from `start`: deletes what of it is the
    /// tenant's (never the tenant item: it goes last). Answers the count and
    /// where the next page starts.
    async fn purge_page(
        &self,
        tenant: &TenantId,
        start: Option<Item>,
    ) -> Result<(usize, Option<Item>), StoreError> {
        let out = self
            .client
            .scan()
            .table_name(&self.table)
            .limit(PURGE_PAGE)
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(unavailable)?;
        let own_pk = tenant_pk(tenant);
        let mut doomed = Vec::new();
        let mut deliveries = Vec::new();
        for item in out.items.unwrap_or_default() {
            if !owned_by(&item, tenant) {
                continue;
            }
            let (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) =
                (item.get(PK), item.get(SK))
            else {
                continue;
            };
            if *pk == own_pk {
                continue; // the tenant's partition goes last, in `finish`
            }
            if sk == super::keys::DELIVERY_SK {
                deliveries.push(s(pk.clone()));
            } else if let Some(key) = table_key(&item) {
                doomed.push(key);
            }
        }
        // A delivery's attempts carry no tenant id: they go with it.
        let partitions: Vec<Result<Vec<Item>, StoreError>> = futures::stream::iter(deliveries)
            .map(|pk| async move { self.partition_keys(&pk).await })
            .buffer_unordered(PARALLEL_READS)
            .collect()
            .await;
        for keys in partitions {
            doomed.extend(keys?);
        }
        doomed.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        doomed.dedup();
        let deleted = self.delete_keys(doomed).await?;
        Ok((deleted, out.last_evaluated_key))
    }

    /// Delete the tenant's own partition, the tenant item last.
    async fn finish(&self, tenant: &TenantId) -> Result<usize, StoreError> {
        let pk = s(tenant_pk(tenant));
        let keys = self.partition_keys(&pk).await?;
        let (last, rest): (Vec<Item>, Vec<Item>) = keys
            .into_iter()
            .partition(|k| k.get(SK) == Some(&s(TENANT_SK)));
        let mut deleted = self.delete_keys(rest).await?;
        deleted += self.delete_keys(last).await?;
        Ok(deleted)
    }
}

#[async_trait]
impl TenantStore for DynamoDbTenantStore {
    async fn create(
        &self,
        tenant: &Tenant,
        first_key: &ApiKey,
        key_hash: &str,
    ) -> Result<(), StoreError> {
        let tenant_item: Item = [
            (PK.to_string(), s(tenant_pk(&tenant.id))),
            (SK.to_string(), s(TENANT_SK)),
            ("tenant_id".to_string(), s(tenant.id.as_str())),
            ("name".to_string(), s(&tenant.name)),
            (
                "created_at".to_string(),
                s(sort_timestamp(tenant.created_at)),
            ),
            (STATUS.to_string(), s(tenant.status.as_str())),
            (KEY_COUNT.to_string(), AttributeValue::N("1".into())),
            (GSI1PK.to_string(), s(TENANTS_GSI1PK)),
            (
                GSI1SK.to_string(),
                s(tenant_gsi1sk(tenant.created_at, &tenant.id)),
            ),
        ]
        .into();
        create_all(
            &self.client,
            &self.table,
            vec![
                tenant_item,
                key_item(first_key, key_hash),
                key_index_item(first_key, key_hash),
            ],
        )
        .await
    }

    async fn key_by_hash(&self, key_hash: &str) -> Result<Option<StoredKey>, StoreError> {
        let item = get_consistent(&self.client, &self.table, key_pk(key_hash), KEY_SK).await?;
        let key = item.as_ref().map(key_from_item).transpose()?;
        match &key {
            Some(key) => self.owners.remember(key_hash, key.tenant()),
            None => self.owners.forget(key_hash),
        }
        Ok(key)
    }

    /// A key whose tenant is known: both items in one BatchGetItem. Any
    /// other case (first read, a key left unprocessed, a tenant that is not
    /// the one remembered) reads one after the other.
    async fn key_with_tenant(
        &self,
        key_hash: &str,
    ) -> Result<Option<(StoredKey, Option<Tenant>)>, StoreError> {
        let read_apart = || key_then_tenant(self, key_hash);
        let Some(owner) = self.owners.get(key_hash) else {
            return read_apart().await;
        };
        let (key_pk, tenant_pk) = (key_pk(key_hash), tenant_pk(&owner));
        let wanted = [(&key_pk, KEY_SK), (&tenant_pk, TENANT_SK)]
            .into_iter()
            .map(|(pk, sk)| [(PK.to_string(), s(pk.as_str())), (SK.to_string(), s(sk))].into())
            .collect();
        let (items, left) = batch_get(&self.client, &self.table, wanted).await?;
        if !left.is_empty() {
            return read_apart().await;
        }
        let is = |item: &&Item, pk: &str| item.get(PK) == Some(&s(pk));
        let Some(key_item) = items.iter().find(|i| is(i, &key_pk)) else {
            self.owners.forget(key_hash);
            return Ok(None);
        };
        let key = key_from_item(key_item)?;
        if key.tenant() != &owner {
            return read_apart().await;
        }
        let tenant = items
            .iter()
            .find(|i| is(i, &tenant_pk))
            .map(tenant_from_item)
            .transpose()?;
        Ok(Some((key, tenant)))
    }

    async fn adopt_key(&self, key: &ApiKey, key_hash: &str) -> Result<(), StoreError> {
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        let mut sets = Vec::new();
        for (name, value) in key_item(key, key_hash) {
            if name == PK || name == SK || name == "tenant_id" {
                continue;
            }
            let n = format!("#a{}", sets.len());
            let v = format!(":a{}", sets.len());
            sets.push(format!("{n} = {v}"));
            names.insert(n, name);
            values.insert(v, value);
        }
        let key_update = Update::builder()
            .table_name(&self.table)
            .key(PK, s(key_pk(key_hash)))
            .key(SK, s(KEY_SK))
            .update_expression(format!("SET {}", sets.join(", ")))
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(key_id)")
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(build_error)?;
        let tenant_update = Update::builder()
            .table_name(&self.table)
            .key(PK, s(tenant_pk(&key.tenant_id)))
            .key(SK, s(TENANT_SK))
            .update_expression(
                "SET key_count = if_not_exists(key_count, :zero) + :one, gsi1pk = :g, gsi1sk = if_not_exists(gsi1sk, :gs)",
            )
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":g", s(TENANTS_GSI1PK))
            .expression_attribute_values(":gs", s(tenant_gsi1sk(key.created_at, &key.tenant_id)))
            .build()
            .map_err(build_error)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(key_update).build())
            .transact_items(TransactWriteItem::builder().update(tenant_update).build())
            .transact_items(put(
                &self.table,
                key_index_item(key, key_hash),
                "attribute_not_exists(pk)",
            )?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // adopted meanwhile by a concurrent request, or gone: nothing to do
            Err(err) if failed_conditions(&err).is_some() => Ok(()),
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn touch_key(&self, key_hash: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(key_pk(key_hash)))
            .key(SK, s(KEY_SK))
            .update_expression("SET last_used_at = :now")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(last_used_at) OR last_used_at <= :cutoff)",
            )
            .expression_attribute_values(":now", s(sort_timestamp(at)))
            .expression_attribute_values(":cutoff", s(sort_timestamp(at - LAST_USED_GRANULARITY)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if is_condition_failure(&err) => Ok(()),
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn get(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        self.tenant_item(id)
            .await?
            .as_ref()
            .map(tenant_from_item)
            .transpose()
    }

    async fn list(&self, cursor: Option<&str>, limit: usize) -> Result<Page<Tenant>, StoreError> {
        let start = cursor.map(decode_tenant_cursor).transpose()?;
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("gsi1pk = :p")
            .expression_attribute_values(":p", s(TENANTS_GSI1PK))
            .limit(limit.clamp(1, 100) as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(unavailable)?;
        let items = out
            .items
            .unwrap_or_default()
            .iter()
            .map(tenant_from_item)
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = match out.last_evaluated_key {
            Some(last) => Some(encode_tenant_cursor(&last)?),
            None => None,
        };
        Ok(Page { items, next_cursor })
    }

    async fn set_suspended(
        &self,
        id: &TenantId,
        suspended: bool,
    ) -> Result<Option<TenantStatus>, StoreError> {
        let status = if suspended {
            TenantStatus::Suspended
        } else {
            TenantStatus::Active
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(tenant_pk(id)))
            .key(SK, s(TENANT_SK))
            .update_expression("SET #st = :s")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(#st) OR #st <> :deleting)",
            )
            .expression_attribute_names("#st", STATUS)
            .expression_attribute_values(":s", s(status.as_str()))
            .expression_attribute_values(":deleting", s(TenantStatus::Deleting.as_str()))
            .return_values(ReturnValue::None)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Some(status)),
            Err(err) if is_condition_failure(&err) => Ok(self.get(id).await?.map(|t| t.status)),
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn add_key(&self, key: &ApiKey, key_hash: &str, max: usize) -> Result<Added, StoreError> {
        let count = Update::builder()
            .table_name(&self.table)
            .key(PK, s(tenant_pk(&key.tenant_id)))
            .key(SK, s(TENANT_SK))
            .update_expression("SET key_count = if_not_exists(key_count, :zero) + :one")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(#st) OR #st = :active) AND (attribute_not_exists(key_count) OR key_count < :max)",
            )
            .expression_attribute_names("#st", STATUS)
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":active", s(TenantStatus::Active.as_str()))
            .expression_attribute_values(":max", AttributeValue::N(max.to_string()))
            .build()
            .map_err(build_error)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(count).build())
            .transact_items(put(
                &self.table,
                key_item(key, key_hash),
                "attribute_not_exists(pk)",
            )?)
            .transact_items(put(
                &self.table,
                key_index_item(key, key_hash),
                "attribute_not_exists(pk)",
            )?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Added::Added),
            Err(err) => match failed_conditions(&err) {
                Some(failed) if failed.first() == Some(&true) => {
                    match self.get(&key.tenant_id).await? {
                        Some(t) if t.status == TenantStatus::Active => Ok(Added::TooMany),
                        _ => Ok(Added::TenantNotActive),
                    }
                }
                Some(_) => Err(StoreError::AlreadyExists),
                None => Err(unavailable(err)),
            },
        }
    }

    async fn list_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKey>, StoreError> {
        let index = query_prefix(
            &self.client,
            &self.table,
            tenant_pk(tenant),
            KEY_INDEX_PREFIX,
        )
        .await?;
        let mut hashes = Vec::with_capacity(index.len());
        for item in &index {
            hashes.push(string_attr(item, "key_hash", "API key index")?.to_string());
        }
        let wanted = hashes
            .iter()
            .map(|hash| {
                [
                    (PK.to_string(), s(key_pk(hash))),
                    (SK.to_string(), s(KEY_SK)),
                ]
                .into()
            })
            .collect();
        let (mut items, left) = batch_get(&self.client, &self.table, wanted).await?;
        for key in left {
            let read = self
                .client
                .get_item()
                .table_name(&self.table)
                .set_key(Some(key))
                .consistent_read(true)
                .send()
                .await
                .map_err(unavailable)?;
            items.extend(read.item);
        }
        let mut keys = Vec::with_capacity(items.len());
        for item in &items {
            if let StoredKey::Named(key) = key_from_item(item)?
                && key.tenant_id == *tenant
            {
                keys.push(key);
            }
        }
        keys.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(keys)
    }

    async fn revoke_key(&self, tenant: &TenantId, id: &ApiKeyId) -> Result<Revoked, StoreError> {
        let Some(index) = get_consistent(
            &self.client,
            &self.table,
            tenant_pk(tenant),
            key_index_sk(id),
        )
        .await?
        else {
            return Ok(Revoked::NotFound);
        };
        let hash = string_attr(&index, "key_hash", "API key index")?.to_string();
        let count = Update::builder()
            .table_name(&self.table)
            .key(PK, s(tenant_pk(tenant)))
            .key(SK, s(TENANT_SK))
            .update_expression("SET key_count = key_count - :one")
            .condition_expression("key_count > :one")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .build()
            .map_err(build_error)?;
        let delete = |pk: String, sk: String| {
            Delete::builder()
                .table_name(&self.table)
                .key(PK, s(pk))
                .key(SK, s(sk))
                .condition_expression("attribute_exists(pk)")
                .build()
                .map(|d| TransactWriteItem::builder().delete(d).build())
                .map_err(build_error)
        };
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(count).build())
            .transact_items(delete(tenant_pk(tenant), key_index_sk(id))?)
            .transact_items(delete(key_pk(&hash), KEY_SK.to_string())?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Revoked::Revoked),
            Err(err) => match failed_conditions(&err) {
                Some(failed) if failed.get(1) == Some(&true) => Ok(Revoked::NotFound),
                Some(failed) if failed.first() == Some(&true) => Ok(Revoked::LastKey),
                Some(_) => Ok(Revoked::NotFound),
                None => Err(unavailable(err)),
            },
        }
    }

    async fn mark_deleting(&self, id: &TenantId) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(tenant_pk(id)))
            .key(SK, s(TENANT_SK))
            .update_expression("SET #st = :deleting")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#st", STATUS)
            .expression_attribute_values(":deleting", s(TenantStatus::Deleting.as_str()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if is_condition_failure(&err) => Ok(false),
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn purge_step(&self, id: &TenantId) -> Result<PurgeProgress, StoreError> {
        let Some(item) = self.tenant_item(id).await? else {
            return Ok(PurgeProgress {
                deleted: 0,
                done: true,
            });
        };
        if tenant_from_item(&item)?.status != TenantStatus::Deleting {
            return Err(StoreError::Corrupt(
                "tenant: purged without being marked as deleted".into(),
            ));
        }
        if matches!(item.get(PURGE_SCANNED), Some(AttributeValue::Bool(true))) {
            let deleted = self.finish(id).await?;
            return Ok(PurgeProgress {
                deleted,
                done: true,
            });
        }
        let start = match item.get(PURGE_CURSOR) {
            Some(AttributeValue::M(m)) => Some(m.clone()),
            _ => None,
        };
        let (deleted, next) = self.purge_page(id, start).await?;
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(tenant_pk(id)))
            .key(SK, s(TENANT_SK))
            .condition_expression("attribute_exists(pk)");
        let update = match next {
            Some(next) => update
                .update_expression("SET purge_cursor = :c")
                .expression_attribute_values(":c", AttributeValue::M(next)),
            None => update
                .update_expression("SET purge_scanned = :t REMOVE purge_cursor")
                .expression_attribute_values(":t", AttributeValue::Bool(true)),
        };
        match update.send().await {
            Ok(_) => {}
            Err(err) if is_condition_failure(&err) => {
                return Ok(PurgeProgress {
                    deleted,
                    done: true,
                });
            }
            Err(err) => return Err(unavailable(err)),
        }
        Ok(PurgeProgress {
            deleted,
            done: false,
        })
    }
}

/// A tenant listing's cursor: the last tenant's index sort key.
fn encode_tenant_cursor(last: &Item) -> Result<String, StoreError> {
    let sk = string_attr(last, GSI1SK, "tenant listing cursor")?;
    Ok(URL_SAFE_NO_PAD.encode(sk.as_bytes()))
}

/// Accepts only `{timestamp}#{tenant id}`.
fn decode_tenant_cursor(cursor: &str) -> Result<Item, StoreError> {
    let raw = URL_SAFE_NO_PAD
        .decode(cursor.as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or(StoreError::BadCursor)?;
    let (at, id) = raw.split_once('#').ok_or(StoreError::BadCursor)?;
    DateTime::parse_from_rfc3339(at).map_err(|_| StoreError::BadCursor)?;
    let id = TenantId::parse(id).map_err(|_| StoreError::BadCursor)?;
    Ok([
        (GSI1PK.to_string(), s(TENANTS_GSI1PK)),
        (GSI1SK.to_string(), s(raw.clone())),
        (PK.to_string(), s(tenant_pk(&id))),
        (SK.to_string(), s(TENANT_SK)),
    ]
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ownership_is_the_tenant_right_after_the_kind_or_its_id() {
        let t = TenantId::parse("ten_a").unwrap();
        let item = |pk: &str, tenant: Option<&str>| -> Item {
            let mut i: Item = [(PK.to_string(), s(pk)), (SK.to_string(), s("X"))].into();
            if let Some(tenant) = tenant {
                i.insert("tenant_id".into(), s(tenant));
            }
            i
        };
        assert!(owned_by(&item("T#ten_a", None), &t));
        assert!(owned_by(&item("E#ten_a#evt-1", None), &t));
        assert!(owned_by(&item("S#ten_a#int_1", None), &t));
        assert!(owned_by(&item("D#msg_1", Some("ten_a")), &t));
        assert!(!owned_by(&item("D#msg_1", Some("ten_b")), &t));
        assert!(!owned_by(&item("T#ten_ab", None), &t));
        // another tenant's event whose id happens to be this tenant's id
        assert!(!owned_by(&item("E#ten_b#ten_a", None), &t));
    }

    #[test]
    fn tenant_cursors_round_trip_and_reject_other_keys() {
        let id = TenantId::generate();
        let sk = tenant_gsi1sk(Utc::now(), &id);
        let last: Item = [(GSI1SK.to_string(), s(&sk))].into();
        let cursor = encode_tenant_cursor(&last).unwrap();
        let key = decode_tenant_cursor(&cursor).unwrap();
        assert_eq!(key.get(PK), Some(&s(tenant_pk(&id))));
        for bad in [
            "%%",
            "bm9wZQ",
            &URL_SAFE_NO_PAD.encode("2026-01-01T00:00:00Z#int_1"),
        ] {
            assert!(matches!(
                decode_tenant_cursor(bad),
                Err(StoreError::BadCursor)
            ));
        }
    }
}
