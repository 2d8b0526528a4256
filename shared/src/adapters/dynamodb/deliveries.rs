//! The delivery log: one item per delivery (`D#{id}` / `DELIVERY`, indexed by
//! integration and creation time in `gsi1`) and one per attempt (`D#{id}` / `A#{n}#{started_at}`),
//! so a delivery and its attempts come back in one query.
//!
//! An attempt's item is written before the delivery item counts it, and a
//! read leaves out attempts the delivery does not count yet, so no reader
//! sees a status without the attempt that set it.
//!
//! The common case, a delivery whose first attempt is also its first write,
//! is one conditional put: the first attempt rides inside the delivery item
//! (`first_attempt`), one write instead of two. Every later write updates the
//! delivery item in place (keeping that attempt) and puts further attempts,
//! or a first attempt made twice (a queue message consumed twice), as their
//! own items, so the log still shows every request a receiver saw.
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Duration;
use std::collections::HashMap;

use super::keys::{
    ATTEMPT_SK_PREFIX, DELIVERY_SK, DeliveryCursor, EXPIRES_AT, GSI1, GSI1PK, GSI1SK, PK, SK,
    attempt_sk, decode_delivery_cursor, delivery_gsi1sk, delivery_pk, encode_delivery_cursor,
    integration_gsi1pk, sort_timestamp,
};
use super::{Item, epoch, from_item, is_condition_failure, s, string_attr, to_item, unavailable};
use crate::domain::delivery::{Attempt, Delivery, attempts_shown_with};
use crate::domain::ids::{DeliveryId, IntegrationId, TenantId};
use crate::ports::{DeliveryLog, DeliveryQuery, Page, StoreError};

/// The most deliveries one page returns.
const MAX_PAGE: usize = 1000;
/// The most index pages one listing reads while filters leave it short.
const MAX_QUERY_PAGES: usize = 5;
/// The most reads of one delivery's items (a delivery has a few dozen attempts at most).
const MAX_GET_PAGES: usize = 10;
/// The delivery item's attribute holding its first attempt.
const FIRST_ATTEMPT: &str = "first_attempt";
/// The delivery's attempt count, as `Delivery` serializes it.
const ATTEMPT_COUNT: &str = "attempt_count";

/// A condition on the stored attempt count for an update of the delivery.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Guard {
    None,
    /// Only while it is exactly this (the state a decision was made on; a
    /// delivery not logged yet counts 0).
    Exactly(u32),
    /// Only while it is at most this (no later attempt recorded yet).
    NotBeyond(u32),
}
/// The delivery's attributes that are left out when empty, so an update removes them.
const OPTIONAL_ATTRIBUTES: [&str; 4] =
    ["next_attempt_at", "last_status_code", "last_error", "link"];

pub struct DynamoDbDeliveryLog {
    client: Client,
    table: String,
    /// How long deliveries and attempts are kept after the delivery was created.
    retention: Duration,
    /// Attempts logged since the last `flush_counts`.
    tally: super::stats::Tally,
}

impl DynamoDbDeliveryLog {
    pub fn new(client: Client, table: impl Into<String>, retention: Duration) -> Self {
        Self {
            client,
            table: table.into(),
            retention,
            tally: super::stats::Tally::default(),
        }
    }

    fn delivery_item(&self, delivery: &Delivery) -> Result<Item, StoreError> {
        let mut item = to_item(delivery)?;
        item.insert(PK.into(), s(delivery_pk(&delivery.id)));
        item.insert(SK.into(), s(DELIVERY_SK));
        item.insert(
            GSI1PK.into(),
            s(integration_gsi1pk(&delivery.integration_id)),
        );
        item.insert(
            GSI1SK.into(),
            s(delivery_gsi1sk(delivery.created_at, &delivery.id)),
        );
        item.insert(
            EXPIRES_AT.into(),
            epoch(delivery.created_at + self.retention),
        );
        super::chats::add_chat_keys(&mut item, delivery);
        Ok(item)
    }

    fn attempt_item(&self, delivery: &Delivery, attempt: &Attempt) -> Result<Item, StoreError> {
        let mut item = to_item(attempt)?;
        item.insert(PK.into(), s(delivery_pk(&delivery.id)));
        item.insert(SK.into(), s(attempt_sk(attempt.number, attempt.started_at)));
        item.insert(
            EXPIRES_AT.into(),
            epoch(delivery.created_at + self.retention),
        );
        Ok(item)
    }

    /// Put the delivery with its first attempt inside, only if the log has
    /// nothing of it yet. `false` when it does.
    async fn put_with_first_attempt(
        &self,
        delivery: &Delivery,
        attempt: &Attempt,
    ) -> Result<bool, StoreError> {
        let mut item = self.delivery_item(delivery)?;
        item.insert(FIRST_ATTEMPT.into(), AttributeValue::M(to_item(attempt)?));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if is_condition_failure(&err) => Ok(false),
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn put_attempt(&self, delivery: &Delivery, attempt: &Attempt) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.attempt_item(delivery, attempt)?))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Write the delivery's attributes in place (creating the item if need
    /// be), leaving an attempt stored inside it untouched.
    async fn update_delivery(&self, delivery: &Delivery) -> Result<(), StoreError> {
        self.update_delivery_if(delivery, Guard::None)
            .await
            .map(drop)
    }

    /// [`Self::update_delivery`] under a condition on the stored attempt
    /// count: `false` if it does not hold.
    async fn update_delivery_if(
        &self,
        delivery: &Delivery,
        guard: Guard,
    ) -> Result<bool, StoreError> {
        let item = self.delivery_item(delivery)?;
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        let mut sets = Vec::new();
        for (n, (name, value)) in item.into_iter().enumerate() {
            if name == PK || name == SK {
                continue;
            }
            sets.push(format!("#a{n} = :v{n}"));
            names.insert(format!("#a{n}"), name);
            values.insert(format!(":v{n}"), value);
        }
        let absent: Vec<&str> = OPTIONAL_ATTRIBUTES
            .into_iter()
            .filter(|name| !names.values().any(|n| n == name))
            .collect();
        let mut removes = Vec::new();
        for (n, name) in absent.into_iter().enumerate() {
            names.insert(format!("#r{n}"), name.to_string());
            removes.push(format!("#r{n}"));
        }
        let mut expression = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(delivery_pk(&delivery.id)))
            .key(SK, s(DELIVERY_SK))
            .update_expression(expression);
        let condition = match guard {
            Guard::None => None,
            Guard::Exactly(0) => Some((0, "attribute_not_exists(#count) OR #count = :count")),
            Guard::Exactly(n) => Some((n, "#count = :count")),
            Guard::NotBeyond(n) => Some((n, "attribute_not_exists(#count) OR #count <= :count")),
        };
        if let Some((n, expression)) = condition {
            names.insert("#count".into(), ATTEMPT_COUNT.into());
            values.insert(":count".into(), AttributeValue::N(n.to_string()));
            update = update.condition_expression(expression);
        }
        let result = update
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if guard != Guard::None && is_condition_failure(&err) => Ok(false),
            Err(err) => Err(unavailable(err)),
        }
    }

    /// The tenant's deliveries of one integration, newest first, starting after `start`.
    async fn query_page(
        &self,
        tenant: &TenantId,
        integration: &IntegrationId,
        query: &DeliveryQuery,
        start: Option<Item>,
        limit: usize,
    ) -> Result<(Vec<Item>, Option<Item>), StoreError> {
        let mut key_condition = "#gpk = :gpk".to_string();
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .expression_attribute_names("#gpk", GSI1PK)
            .expression_attribute_values(":gpk", s(integration_gsi1pk(integration)));
        match (query.since, query.until) {
            (Some(since), Some(until)) => {
                key_condition.push_str(" AND #gsk BETWEEN :since AND :until");
                request = request
                    .expression_attribute_values(":since", s(sort_timestamp(since)))
                    .expression_attribute_values(":until", s(sort_timestamp(until)));
            }
            (Some(since), None) => {
                key_condition.push_str(" AND #gsk >= :since");
                request = request.expression_attribute_values(":since", s(sort_timestamp(since)));
            }
            (None, Some(until)) => {
                key_condition.push_str(" AND #gsk < :until");
                request = request.expression_attribute_values(":until", s(sort_timestamp(until)));
            }
            (None, None) => {}
        }
        if query.since.is_some() || query.until.is_some() {
            request = request.expression_attribute_names("#gsk", GSI1SK);
        }
        // Always scoped to the caller's tenant, whatever integration id it names.
        let mut filter = "#tenant = :tenant".to_string();
        request = request
            .expression_attribute_names("#tenant", "tenant_id")
            .expression_attribute_values(":tenant", s(tenant.as_str()));
        if let Some(status) = query.status {
            filter.push_str(" AND #status = :status");
            request = request
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":status", s(status.as_str()));
        }
        if let Some(kind) = query.event_type {
            filter.push_str(" AND #type = :type");
            request = request
                .expression_attribute_names("#type", "event_type")
                .expression_attribute_values(":type", s(kind.as_str()));
        }
        let out = request
            .key_condition_expression(key_condition)
            .filter_expression(filter)
            .send()
            .await
            .map_err(unavailable)?;
        Ok((out.items.unwrap_or_default(), out.last_evaluated_key))
    }
}

/// The cursor continuing after `item` (a delivery item or an index key).
fn cursor_after(item: &Item) -> Result<String, StoreError> {
    Ok(encode_delivery_cursor(&DeliveryCursor {
        gsi1sk: string_attr(item, GSI1SK, "delivery")?.to_string(),
        pk: string_attr(item, PK, "delivery")?.to_string(),
    }))
}

/// How many items to read for `remaining` wanted: one more than that detects
/// a next page; filters that drop items call for more.
fn read_size(query: &DeliveryQuery, remaining: usize) -> usize {
    if query.status.is_some() || query.event_type.is_some() {
        (remaining * 4).clamp(50, MAX_PAGE)
    } else {
        remaining + 1
    }
}

#[async_trait]
impl DeliveryLog for DynamoDbDeliveryLog {
    async fn record_attempt(
        &self,
        delivery: &Delivery,
        attempt: &Attempt,
    ) -> Result<(), StoreError> {
        if !(attempt.number == 1 && self.put_with_first_attempt(delivery, attempt).await?) {
            // The attempt first, then the state that counts it: a reader between
            // the two writes sees the earlier state, with the new attempt left
            // out (`attempts_shown_with`), never a state without its attempt.
            // An attempt that finishes after a later one (a message consumed
            // twice) is logged, but leaves the delivery's newer state alone.
            self.put_attempt(delivery, attempt).await?;
            self.update_delivery_if(delivery, Guard::NotBeyond(delivery.attempts))
                .await?;
        }
        self.tally.add(delivery, attempt);
        Ok(())
    }

    async fn flush_counts(&self) {
        self.tally
            .flush(&self.client, &self.table, self.retention)
            .await;
    }

    async fn put_delivery(&self, delivery: &Delivery) -> Result<(), StoreError> {
        self.update_delivery(delivery).await
    }

    async fn update_unless_moved(
        &self,
        delivery: &Delivery,
        seen_attempts: u32,
    ) -> Result<bool, StoreError> {
        self.update_delivery_if(delivery, Guard::Exactly(seen_attempts))
            .await
    }

    async fn get(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
    ) -> Result<Option<(Delivery, Vec<Attempt>)>, StoreError> {
        let mut delivery: Option<Delivery> = None;
        let mut attempts: Vec<Attempt> = Vec::new();
        let mut start = None;
        for _ in 0..MAX_GET_PAGES {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(delivery_pk(id)))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable)?;
            for mut item in out.items.unwrap_or_default() {
                let sk = string_attr(&item, SK, "delivery")?;
                if sk == DELIVERY_SK {
                    if let Some(AttributeValue::M(first)) = item.remove(FIRST_ATTEMPT) {
                        attempts.push(from_item(first, "attempt")?);
                    }
                    delivery = Some(from_item(item, "delivery")?);
                } else if sk.starts_with(ATTEMPT_SK_PREFIX) {
                    attempts.push(from_item(item, "attempt")?);
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        // Another tenant's delivery reads exactly as a missing one.
        let Some(delivery) = delivery.filter(|d| &d.tenant_id == tenant) else {
            return Ok(None);
        };
        let attempts = attempts_shown_with(&delivery, attempts);
        Ok(Some((delivery, attempts)))
    }

    async fn list(
        &self,
        tenant: &TenantId,
        integration: &IntegrationId,
        query: &DeliveryQuery,
    ) -> Result<Page<Delivery>, StoreError> {
        let limit = query.limit.clamp(1, MAX_PAGE);
        let mut start = match &query.cursor {
            Some(c) => {
                let cursor = decode_delivery_cursor(c).map_err(|_| StoreError::BadCursor)?;
                Some(Item::from([
                    (GSI1PK.into(), s(integration_gsi1pk(integration))),
                    (GSI1SK.into(), s(cursor.gsi1sk)),
                    (PK.into(), s(cursor.pk)),
                    (SK.into(), s(DELIVERY_SK)),
                ]))
            }
            None => None,
        };
        if let (Some(since), Some(until)) = (query.since, query.until)
            && since >= until
        {
            return Ok(Page {
                items: Vec::new(),
                next_cursor: None,
            });
        }
        let mut kept: Vec<Item> = Vec::new();
        let mut next_cursor = None;
        for page in 0..MAX_QUERY_PAGES {
            let remaining = limit - kept.len();
            let (mut rows, last_key) = self
                .query_page(
                    tenant,
                    integration,
                    query,
                    start.take(),
                    read_size(query, remaining),
                )
                .await?;
            if rows.len() > remaining {
                rows.truncate(remaining);
                kept.extend(rows);
                next_cursor = kept.last().map(cursor_after).transpose()?;
                break;
            }
            kept.extend(rows);
            let Some(last_key) = last_key else { break };
            if kept.len() == limit || page + 1 == MAX_QUERY_PAGES {
                next_cursor = Some(cursor_after(&last_key)?);
                break;
            }
            start = Some(last_key);
        }
        let items = kept
            .into_iter()
            .map(|item| from_item(item, "delivery"))
            .collect::<Result<_, _>>()?;
        Ok(Page { items, next_cursor })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::delivery::DeliveryStatus;

    #[test]
    fn filtered_listings_read_ahead_and_plain_ones_read_one_extra() {
        let plain = DeliveryQuery::default();
        assert_eq!(read_size(&plain, 10), 11);
        let filtered = DeliveryQuery {
            status: Some(DeliveryStatus::Failed),
            ..DeliveryQuery::default()
        };
        assert_eq!(read_size(&filtered, 10), 50);
        assert_eq!(read_size(&filtered, 1000), MAX_PAGE);
    }
}
