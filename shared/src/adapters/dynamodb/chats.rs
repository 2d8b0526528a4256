//! The delivery log by conversation: a delivery whose event has a chat is
//! indexed in `gsi2` under `C#{tenant}#{chat id}`, sorted like `gsi1` by
//! creation time and id, so one conversation's deliveries across all the
//! tenant's integrations come back newest first from one index.
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;

use super::keys::{
    DELIVERY_SK, DeliveryCursor, PK, SK, decode_delivery_cursor, delivery_gsi1sk,
    encode_delivery_cursor, sort_timestamp,
};
use super::{Item, from_item, s, string_attr, unavailable};
use crate::domain::delivery::Delivery;
use crate::domain::ids::{IntegrationId, TenantId};
use crate::ports::{ChatDeliveries, DeliveryQuery, Page, StoreError};

pub const GSI2: &str = "gsi2";
pub const GSI2PK: &str = "gsi2pk";
pub const GSI2SK: &str = "gsi2sk";

/// The most deliveries one page returns.
const MAX_PAGE: usize = 1000;
/// The most index pages one listing reads while filters leave it short.
const MAX_QUERY_PAGES: usize = 5;

/// Tenant ids never contain `#`: the chat id after the second `#` is unambiguous.
pub fn chat_gsi2pk(tenant: &TenantId, chat_id: &str) -> String {
    format!("C#{tenant}#{chat_id}")
}

/// Index a delivery item by its conversation, when its event has one.
pub fn add_chat_keys(item: &mut Item, delivery: &Delivery) {
    if let Some(chat) = delivery.chat_id.as_deref().filter(|c| !c.is_empty()) {
        item.insert(GSI2PK.into(), s(chat_gsi2pk(&delivery.tenant_id, chat)));
        item.insert(
            GSI2SK.into(),
            s(delivery_gsi1sk(delivery.created_at, &delivery.id)),
        );
    }
}

pub struct DynamoDbChatDeliveries {
    client: Client,
    table: String,
}

impl DynamoDbChatDeliveries {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    async fn query_page(
        &self,
        pk: &str,
        integration: Option<&IntegrationId>,
        query: &DeliveryQuery,
        start: Option<Item>,
        limit: usize,
    ) -> Result<(Vec<Item>, Option<Item>), StoreError> {
        let mut key_condition = "#gpk = :gpk".to_string();
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI2)
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .expression_attribute_names("#gpk", GSI2PK)
            .expression_attribute_values(":gpk", s(pk));
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
            request = request.expression_attribute_names("#gsk", GSI2SK);
        }
        // Only delivery items carry gsi2 keys; the filters asked for.
        let mut filter = Vec::new();
        if let Some(id) = integration {
            filter.push("#int = :int");
            request = request
                .expression_attribute_names("#int", "integration_id")
                .expression_attribute_values(":int", s(id.as_str()));
        }
        if let Some(status) = query.status {
            filter.push("#status = :status");
            request = request
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":status", s(status.as_str()));
        }
        if let Some(kind) = query.event_type {
            filter.push("#type = :type");
            request = request
                .expression_attribute_names("#type", "event_type")
                .expression_attribute_values(":type", s(kind.as_str()));
        }
        if !filter.is_empty() {
            request = request.filter_expression(filter.join(" AND "));
        }
        let out = request
            .key_condition_expression(key_condition)
            .send()
            .await
            .map_err(unavailable)?;
        Ok((out.items.unwrap_or_default(), out.last_evaluated_key))
    }
}

fn cursor_after(item: &Item) -> Result<String, StoreError> {
    Ok(encode_delivery_cursor(&DeliveryCursor {
        gsi1sk: string_attr(item, GSI2SK, "delivery")?.to_string(),
        pk: string_attr(item, PK, "delivery")?.to_string(),
    }))
}

/// Read one more than wanted to detect a next page; filters call for more.
fn read_size(query: &DeliveryQuery, integration: bool, remaining: usize) -> usize {
    if integration || query.status.is_some() || query.event_type.is_some() {
        (remaining * 4).clamp(50, MAX_PAGE)
    } else {
        remaining + 1
    }
}

#[async_trait]
impl ChatDeliveries for DynamoDbChatDeliveries {
    async fn list_for_chat(
        &self,
        tenant: &TenantId,
        chat_id: &str,
        integration: Option<&IntegrationId>,
        query: &DeliveryQuery,
    ) -> Result<Page<Delivery>, StoreError> {
        let pk = chat_gsi2pk(tenant, chat_id);
        let limit = query.limit.clamp(1, MAX_PAGE);
        let mut start = match &query.cursor {
            Some(c) => {
                let cursor = decode_delivery_cursor(c).map_err(|_| StoreError::BadCursor)?;
                Some(Item::from([
                    (GSI2PK.into(), s(&pk)),
                    (GSI2SK.into(), s(cursor.gsi1sk)),
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
            let size = read_size(query, integration.is_some(), remaining);
            let (mut rows, last_key) = self
                .query_page(&pk, integration, query, start.take(), size)
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

    #[test]
    fn filtered_reads_read_ahead() {
        let plain = DeliveryQuery::default();
        assert_eq!(read_size(&plain, false, 10), 11);
        assert_eq!(read_size(&plain, true, 10), 50);
    }

    #[test]
    fn a_chat_key_is_scoped_to_its_tenant() {
        let a = TenantId::parse("ten_a").unwrap();
        let b = TenantId::parse("ten_b").unwrap();
        assert_ne!(chat_gsi2pk(&a, "c-1"), chat_gsi2pk(&b, "c-1"));
        assert_eq!(chat_gsi2pk(&a, "x#y"), "C#ten_a#x#y");
    }
}
