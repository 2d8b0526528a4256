//! The chats' delivery sequences of ordered integrations (`domain::sequence`).
//!
//! | item           | pk                          | sk                                             |
//! |----------------|-----------------------------|------------------------------------------------|
//! | sequence entry | `Q#{tenant}#{integration}`  | `{chat length}:{chat}#{position}#{delivery id}` |
//!
//! One partition per integration: a chat's entries are the sort keys that
//! start with its length-prefixed id (so no chat id is a prefix of another's
//! range), in position order; the head is the first. Attributes: `job` (the
//! delivery job as JSON), `parked`, `tenant_id` (the tenant purge finds it by
//! it) and `expires_at` (TTL: the event's retention).
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, PutRequest, TransactWriteItem, Update, WriteRequest,
};
use chrono::{DateTime, Utc};

use super::keys::{EXPIRES_AT, PK, SK};
use super::{
    Item, batch_write, build_error, epoch, is_condition_failure, query_prefix, s, string_attr,
    unavailable,
};
use crate::domain::ids::{IntegrationId, TenantId};
use crate::domain::message::DeliveryJob;
use crate::domain::sequence::SequenceEntry;
use crate::ports::{SequenceStore, StoreError};

const JOB: &str = "job";
const PARKED: &str = "parked";
/// The most puts one BatchWriteItem request takes.
const BATCH_WRITE_MAX: usize = 25;

pub fn sequence_pk(tenant: &TenantId, integration: &IntegrationId) -> String {
    format!("Q#{tenant}#{integration}")
}

/// The start of every sort key of one chat's entries.
pub fn chat_prefix(chat: &str) -> String {
    format!("{}:{chat}#", chat.len())
}

/// The entry's key; `None` for a job that is not ordered.
fn entry_key(job: &DeliveryJob) -> Option<Item> {
    let o = job.ordered.as_ref()?;
    let sk = format!(
        "{}{}#{}",
        chat_prefix(&o.chat),
        o.position.key(),
        job.delivery_id
    );
    Some(
        [
            (
                PK.to_string(),
                s(sequence_pk(&job.tenant_id, &job.integration_id)),
            ),
            (SK.to_string(), s(sk)),
        ]
        .into(),
    )
}

fn not_ordered() -> StoreError {
    StoreError::Internal("a sequence entry for a job that is not ordered".into())
}

fn entry_item(entry: &SequenceEntry, expires_at: DateTime<Utc>) -> Result<Item, StoreError> {
    let mut item = entry_key(&entry.job).ok_or_else(not_ordered)?;
    let job = serde_json::to_string(&entry.job).map_err(|e| StoreError::Internal(Box::new(e)))?;
    item.insert(JOB.into(), s(job));
    item.insert(PARKED.into(), AttributeValue::Bool(entry.parked));
    item.insert("tenant_id".into(), s(entry.job.tenant_id.as_str()));
    item.insert(EXPIRES_AT.into(), epoch(expires_at));
    Ok(item)
}

fn entry_from(item: &Item) -> Result<SequenceEntry, StoreError> {
    let job: DeliveryJob = serde_json::from_str(string_attr(item, JOB, "sequence entry")?)
        .map_err(|e| StoreError::Corrupt(format!("sequence entry: {e}")))?;
    let parked = matches!(item.get(PARKED), Some(AttributeValue::Bool(true)));
    let mut entry = SequenceEntry::new(job)
        .ok_or_else(|| StoreError::Corrupt("sequence entry: its job is not ordered".into()))?;
    entry.parked = parked;
    Ok(entry)
}

pub struct DynamoDbSequenceStore {
    client: Client,
    table: String,
}

impl DynamoDbSequenceStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

#[async_trait]
impl SequenceStore for DynamoDbSequenceStore {
    async fn append(
        &self,
        entries: &[SequenceEntry],
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut puts = Vec::with_capacity(entries.len());
        for e in entries {
            let put = PutRequest::builder()
                .set_item(Some(entry_item(e, expires_at)?))
                .build()
                .map_err(build_error)?;
            puts.push(WriteRequest::builder().put_request(put).build());
        }
        for chunk in puts.chunks(BATCH_WRITE_MAX) {
            batch_write(&self.client, &self.table, chunk.to_vec()).await?;
        }
        Ok(())
    }

    async fn head(
        &self,
        tenant: &TenantId,
        integration: &IntegrationId,
        chat: &str,
    ) -> Result<Option<SequenceEntry>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(sequence_pk(tenant, integration)))
            .expression_attribute_values(":prefix", s(chat_prefix(chat)))
            .consistent_read(true)
            .limit(1)
            .send()
            .await
            .map_err(unavailable)?;
        out.items
            .unwrap_or_default()
            .first()
            .map(entry_from)
            .transpose()
    }

    async fn park(&self, entry: &SequenceEntry, head: &SequenceEntry) -> Result<bool, StoreError> {
        let mine = entry_key(&entry.job).ok_or_else(not_ordered)?;
        let theirs = entry_key(&head.job).ok_or_else(not_ordered)?;
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(theirs))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(build_error)?;
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(mine))
            .update_expression("SET parked = :t")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":t", AttributeValue::Bool(true))
            .build()
            .map_err(build_error)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().condition_check(check).build())
            .transact_items(TransactWriteItem::builder().update(update).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if is_condition_failure(&err) => Ok(false),
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn unpark(&self, entry: &SequenceEntry) -> Result<(), StoreError> {
        let key = entry_key(&entry.job).ok_or_else(not_ordered)?;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression("SET parked = :f")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":f", AttributeValue::Bool(false))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Gone already: its delivery was done first.
            Err(err) if is_condition_failure(&err) => Ok(()),
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn remove(&self, job: &DeliveryJob) -> Result<(), StoreError> {
        let key = entry_key(job).ok_or_else(not_ordered)?;
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn entries(
        &self,
        tenant: &TenantId,
        integration: &IntegrationId,
        chat: Option<&str>,
    ) -> Result<Vec<SequenceEntry>, StoreError> {
        let prefix = chat.map(chat_prefix).unwrap_or_default();
        let items = query_prefix(
            &self.client,
            &self.table,
            sequence_pk(tenant, integration),
            &prefix,
        )
        .await?;
        items.iter().map(entry_from).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_chat_id_is_a_prefix_of_another_chats_range() {
        // "c1" and "c1#x" would share a plain prefix; the length keeps them apart
        assert!(!chat_prefix("c1#x").starts_with(&chat_prefix("c1")));
        assert!(!chat_prefix("c10").starts_with(&chat_prefix("c1")));
        assert_eq!(chat_prefix("c1"), "2:c1#");
    }
}
