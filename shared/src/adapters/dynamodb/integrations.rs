//! Integrations: `pk = T#{tenant}`, `sk = I#{id}`, so every read is tenant-scoped by its key.
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};

use super::keys::{
    INTEGRATION_SK_PREFIX, PK, SK, decode_integration_cursor, encode_integration_cursor,
    integration_sk, tenant_pk,
};
use super::{
    Item, from_item, is_condition_failure, s, string_attr, to_attribute, to_item, unavailable,
};
use crate::domain::ids::{IntegrationId, TenantId};
use crate::domain::integration::Integration;
use crate::ports::{IntegrationStore, Page, StoreError};

/// The most integrations one page returns.
const MAX_PAGE: usize = 1000;

pub struct DynamoDbIntegrationStore {
    client: Client,
    table: String,
}

impl DynamoDbIntegrationStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn item(integration: &Integration) -> Result<Item, StoreError> {
        let mut item = to_item(integration)?;
        item.insert(PK.into(), s(tenant_pk(integration.tenant_id())));
        item.insert(SK.into(), s(integration_sk(integration.id())));
        Ok(item)
    }

    /// An update of an integration that still exists; `false` if it is gone.
    async fn update_existing(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        expression: &str,
        names: &[(&str, &str)],
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<bool, StoreError> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(tenant_pk(tenant)))
            .key(SK, s(integration_sk(id)))
            .update_expression(expression)
            .condition_expression("attribute_exists(pk)");
        for (placeholder, name) in names {
            request = request.expression_attribute_names(*placeholder, *name);
        }
        for (placeholder, value) in values {
            request = request.expression_attribute_values(placeholder, value);
        }
        match request.send().await {
            Ok(_) => Ok(true),
            Err(err) if is_condition_failure(&err) => Ok(false),
            Err(err) => Err(unavailable(err)),
        }
    }
}

#[async_trait]
impl IntegrationStore for DynamoDbIntegrationStore {
    async fn create(&self, integration: &Integration) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::item(integration)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if is_condition_failure(&err) => Err(StoreError::AlreadyExists),
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn get(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
    ) -> Result<Option<Integration>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(tenant_pk(tenant)))
            .key(SK, s(integration_sk(id)))
            .send()
            .await
            .map_err(unavailable)?;
        out.item
            .map(|item| from_item(item, "integration"))
            .transpose()
    }

    async fn list(
        &self,
        tenant: &TenantId,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<Integration>, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE);
        let pk = tenant_pk(tenant);
        let start = match cursor {
            Some(c) => {
                let sk = decode_integration_cursor(c).map_err(|_| StoreError::BadCursor)?;
                Some(Item::from([(PK.into(), s(&pk)), (SK.into(), s(sk))]))
            }
            None => None,
        };
        // One more than asked: whether it comes back tells if there is a next page.
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(&pk))
            .expression_attribute_values(":prefix", s(INTEGRATION_SK_PREFIX))
            .scan_index_forward(true)
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(unavailable)?;
        let mut rows = out.items.unwrap_or_default();
        // A read cut short by DynamoDB's 1 MB page size also leaves more to read.
        let more = rows.len() > limit || out.last_evaluated_key.is_some();
        rows.truncate(limit);
        let next_cursor = match rows.last() {
            Some(last) if more => Some(encode_integration_cursor(string_attr(
                last,
                SK,
                "integration",
            )?)),
            _ => None,
        };
        let items = rows
            .into_iter()
            .map(|item| from_item(item, "integration"))
            .collect::<Result<_, _>>()?;
        Ok(Page { items, next_cursor })
    }

    async fn replace(
        &self,
        previous: &Integration,
        integration: &Integration,
    ) -> Result<bool, StoreError> {
        let mut condition = "#updated = :updated AND #enabled = :enabled".to_string();
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::item(integration)?))
            .expression_attribute_names("#updated", "updated_at")
            .expression_attribute_names("#enabled", "enabled")
            .expression_attribute_names("#failing", "failing_since")
            .expression_attribute_values(":updated", to_attribute(&previous.updated_at())?)
            .expression_attribute_values(":enabled", AttributeValue::Bool(previous.enabled()));
        match previous.failing_since() {
            Some(since) => {
                condition.push_str(" AND #failing = :failing");
                request = request.expression_attribute_values(":failing", to_attribute(&since)?);
            }
            None => condition.push_str(" AND attribute_not_exists(#failing)"),
        }
        let result = request.condition_expression(condition).send().await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if is_condition_failure(&err) => Ok(false),
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn delete(&self, tenant: &TenantId, id: &IntegrationId) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(tenant_pk(tenant)))
            .key(SK, s(integration_sk(id)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }

    async fn set_failing_since(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        since: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let names = [("#fs", "failing_since")];
        match since {
            Some(at) => {
                let values = vec![(":at", to_attribute(&at)?)];
                self.update_existing(tenant, id, "SET #fs = :at", &names, values)
                    .await?;
            }
            None => {
                self.update_existing(tenant, id, "REMOVE #fs", &names, Vec::new())
                    .await?;
            }
        }
        Ok(())
    }

    async fn disable(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let names = [
            ("#enabled", "enabled"),
            ("#reason", "disabled_reason"),
            ("#updated", "updated_at"),
        ];
        let values = vec![
            (":false", AttributeValue::Bool(false)),
            (":reason", s(reason)),
            (":at", to_attribute(&at)?),
        ];
        self.update_existing(
            tenant,
            id,
            "SET #enabled = :false, #reason = :reason, #updated = :at",
            &names,
            values,
        )
        .await?;
        Ok(())
    }
}
