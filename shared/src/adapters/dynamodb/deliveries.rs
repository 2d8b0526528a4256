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
    ATTEMPT_SK_PREFIX, DELIVERY_SK, EXPIRES_AT, GSI1, GSI1PK, GSI1SK, PK, SK, attempt_sk,
    delivery_gsi1sk, delivery_pk, integration_gsi1pk,
};
use super::listing::{DeliveryIndex, Scope, list_deliveries};
use super::{Item, epoch, from_item, is_condition_failure, s, string_attr, to_item, unavailable};
use crate::domain::delivery::{Attempt, Delivery, attempts_shown_with};
use crate::domain::ids::{DeliveryId, IntegrationId, TenantId};
use crate::ports::{DeliveryLog, DeliveryQuery, Page, StoreError};

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
const OPTIONAL_ATTRIBUTES: [&str; 5] = [
    "next_attempt_at",
    "last_status_code",
    "last_error",
    "link",
    "waiting_for",
];

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
        let index = DeliveryIndex {
            name: GSI1,
            pk_attribute: GSI1PK,
            sk_attribute: GSI1SK,
            pk: integration_gsi1pk(integration),
        };
        // Always scoped to the caller's tenant, whatever integration id it names.
        let scope = Scope {
            tenant: Some(tenant),
            integration: None,
        };
        list_deliveries(&self.client, &self.table, &index, &scope, query).await
    }
}
