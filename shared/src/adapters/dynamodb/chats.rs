//! The delivery log by conversation: a delivery whose event has a chat is
//! indexed in `gsi2` under `C#{tenant}#{chat id}`, sorted like `gsi1` by
//! creation time and id, so one conversation's deliveries across all the
//! tenant's integrations come back newest first from one index.
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;

use super::keys::delivery_gsi1sk;
use super::listing::{DeliveryIndex, Scope, list_deliveries};
use super::{Item, s};
use crate::domain::delivery::Delivery;
use crate::domain::ids::{IntegrationId, TenantId};
use crate::ports::{ChatDeliveries, DeliveryQuery, Page, StoreError};

pub const GSI2: &str = "gsi2";
pub const GSI2PK: &str = "gsi2pk";
pub const GSI2SK: &str = "gsi2sk";

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
        let index = DeliveryIndex {
            name: GSI2,
            pk_attribute: GSI2PK,
            sk_attribute: GSI2SK,
            pk: chat_gsi2pk(tenant, chat_id),
        };
        // The partition is the tenant's own; only delivery items carry gsi2 keys.
        let scope = Scope {
            tenant: None,
            integration,
        };
        list_deliveries(&self.client, &self.table, &index, &scope, query).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chat_key_is_scoped_to_its_tenant() {
        let a = TenantId::parse("ten_a").unwrap();
        let b = TenantId::parse("ten_b").unwrap();
        assert_ne!(chat_gsi2pk(&a, "c-1"), chat_gsi2pk(&b, "c-1"));
        assert_eq!(chat_gsi2pk(&a, "x#y"), "C#ten_a#x#y");
    }
}
