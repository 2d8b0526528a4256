//! Accepted events, keyed by (tenant, event id): the intake's idempotency record.
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use super::keys::{EVENT_SK, EXPIRES_AT, PK, SK, event_pk};
use super::{Item, epoch, is_condition_failure, s, string_attr, to_attribute, unavailable};
use crate::domain::event::Event;
use crate::domain::ids::{EventId, TenantId};
use crate::ports::{EventStore, InsertOutcome, StoreError};

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
}

#[async_trait]
impl EventStore for DynamoDbEventStore {
    async fn insert(
        &self,
        tenant: &TenantId,
        event: &Event,
        expires_at: DateTime<Utc>,
    ) -> Result<InsertOutcome, StoreError> {
        let json =
            serde_json::to_string(event).map_err(|e| unavailable(EventNotSerializable(e)))?;
        let item: Item = [
            (PK.to_string(), s(event_pk(tenant, &event.id))),
            (SK.to_string(), s(EVENT_SK)),
            ("tenant_id".to_string(), s(tenant.as_str())),
            ("event".to_string(), s(json)),
            ("queued".to_string(), AttributeValue::Bool(false)),
            ("received_at".to_string(), to_attribute(&Utc::now())?),
            (EXPIRES_AT.to_string(), epoch(expires_at)),
        ]
        .into();
        // A conditional write, not read-then-write: two concurrent intakes of
        // the same event cannot both see it as new once it has been queued.
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR queued = :false")
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .send()
            .await;
        match result {
            Ok(_) => Ok(InsertOutcome::New),
            Err(err) if is_condition_failure(&err) => Ok(InsertOutcome::Duplicate),
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn mark_queued(&self, tenant: &TenantId, id: &EventId) -> Result<(), StoreError> {
        // Conditional so a vanished (expired) event is not re-created as a bare flag.
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(event_pk(tenant, id)))
            .key(SK, s(EVENT_SK))
            .update_expression("SET queued = :true")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if is_condition_failure(&err) => Ok(()),
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn get(&self, tenant: &TenantId, id: &EventId) -> Result<Option<Event>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(event_pk(tenant, id)))
            .key(SK, s(EVENT_SK))
            .send()
            .await
            .map_err(unavailable)?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let json = string_attr(&item, "event", "event")?;
        serde_json::from_str(json)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("event: {e}")))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the event cannot be serialized")]
struct EventNotSerializable(#[source] serde_json::Error);
