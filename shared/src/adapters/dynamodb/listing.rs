//! Listing deliveries from one of the log's indexes, newest first: `gsi1`
//! (an integration's deliveries) and `gsi2` (a conversation's). Both sort by
//! creation time and delivery id, page with the same cursor, and filter the
//! same way; only the index and its partition differ.
use aws_sdk_dynamodb::Client;

use super::keys::{
    DELIVERY_SK, DeliveryCursor, PK, SK, decode_delivery_cursor, encode_delivery_cursor,
    sort_timestamp,
};
use super::{Item, from_item, s, string_attr, unavailable};
use crate::domain::delivery::Delivery;
use crate::domain::ids::{IntegrationId, TenantId};
use crate::ports::{DeliveryQuery, Page, StoreError};

/// The most deliveries one page returns.
pub const MAX_PAGE: usize = 1000;
/// The most index pages one listing reads while filters leave it short.
const MAX_QUERY_PAGES: usize = 5;

/// One partition of a delivery index.
pub struct DeliveryIndex<'a> {
    pub name: &'a str,
    pub pk_attribute: &'a str,
    pub sk_attribute: &'a str,
    /// The partition read.
    pub pk: String,
}

/// What a listing keeps besides the query's own filters.
#[derive(Default)]
pub struct Scope<'a> {
    /// Only this tenant's deliveries (whatever partition was named).
    pub tenant: Option<&'a TenantId>,
    /// Only this integration's.
    pub integration: Option<&'a IntegrationId>,
}

impl Scope<'_> {
    fn filters_rows(&self, query: &DeliveryQuery) -> bool {
        self.integration.is_some() || query.status.is_some() || query.event_type.is_some()
    }
}

/// How many items to read for `remaining` wanted: one more than that detects
/// a next page; filters that drop items call for more.
pub fn read_size(filtered: bool, remaining: usize) -> usize {
    if filtered {
        (remaining * 4).clamp(50, MAX_PAGE)
    } else {
        remaining + 1
    }
}

async fn query_page(
    client: &Client,
    table: &str,
    index: &DeliveryIndex<'_>,
    scope: &Scope<'_>,
    query: &DeliveryQuery,
    start: Option<Item>,
    limit: usize,
) -> Result<(Vec<Item>, Option<Item>), StoreError> {
    let mut key_condition = "#gpk = :gpk".to_string();
    let mut request = client
        .query()
        .table_name(table)
        .index_name(index.name)
        .scan_index_forward(false)
        .limit(i32::try_from(limit).unwrap_or(i32::MAX))
        .set_exclusive_start_key(start)
        .expression_attribute_names("#gpk", index.pk_attribute)
        .expression_attribute_values(":gpk", s(&index.pk));
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
        request = request.expression_attribute_names("#gsk", index.sk_attribute);
    }
    let mut filter = Vec::new();
    if let Some(tenant) = scope.tenant {
        filter.push("#tenant = :tenant");
        request = request
            .expression_attribute_names("#tenant", "tenant_id")
            .expression_attribute_values(":tenant", s(tenant.as_str()));
    }
    if let Some(id) = scope.integration {
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

/// The cursor continuing after `item` (a delivery item or an index key).
fn cursor_after(index: &DeliveryIndex<'_>, item: &Item) -> Result<String, StoreError> {
    Ok(encode_delivery_cursor(&DeliveryCursor {
        gsi1sk: string_attr(item, index.sk_attribute, "delivery")?.to_string(),
        pk: string_attr(item, PK, "delivery")?.to_string(),
    }))
}

/// One page of the index partition's deliveries, newest first.
pub async fn list_deliveries(
    client: &Client,
    table: &str,
    index: &DeliveryIndex<'_>,
    scope: &Scope<'_>,
    query: &DeliveryQuery,
) -> Result<Page<Delivery>, StoreError> {
    let limit = query.limit.clamp(1, MAX_PAGE);
    let mut start = match &query.cursor {
        Some(c) => {
            let cursor = decode_delivery_cursor(c).map_err(|_| StoreError::BadCursor)?;
            Some(Item::from([
                (index.pk_attribute.into(), s(&index.pk)),
                (index.sk_attribute.into(), s(cursor.gsi1sk)),
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
        let size = read_size(scope.filters_rows(query), remaining);
        let (mut rows, last_key) =
            query_page(client, table, index, scope, query, start.take(), size).await?;
        if rows.len() > remaining {
            rows.truncate(remaining);
            kept.extend(rows);
            next_cursor = kept.last().map(|i| cursor_after(index, i)).transpose()?;
            break;
        }
        kept.extend(rows);
        let Some(last_key) = last_key else { break };
        if kept.len() == limit || page + 1 == MAX_QUERY_PAGES {
            next_cursor = Some(cursor_after(index, &last_key)?);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filtered_listings_read_ahead_and_plain_ones_read_one_extra() {
        assert_eq!(read_size(false, 10), 11);
        assert_eq!(read_size(true, 10), 50);
        assert_eq!(read_size(true, 1000), MAX_PAGE);
    }
}
