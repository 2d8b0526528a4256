//! Tenants and the hashes of their API keys.
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;

use super::keys::{KEY_SK, PK, SK, TENANT_SK, key_pk, tenant_pk};
use super::{Item, create_all, s, string_attr, to_attribute, unavailable};
use crate::domain::ids::TenantId;
use crate::ports::{StoreError, Tenant, TenantStore};

pub struct DynamoDbTenantStore {
    client: Client,
    table: String,
}

impl DynamoDbTenantStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

#[async_trait]
impl TenantStore for DynamoDbTenantStore {
    async fn create(&self, tenant: &Tenant, key_hash: &str) -> Result<(), StoreError> {
        let tenant_item: Item = [
            (PK.to_string(), s(tenant_pk(&tenant.id))),
            (SK.to_string(), s(TENANT_SK)),
            ("tenant_id".to_string(), s(tenant.id.as_str())),
            ("name".to_string(), s(&tenant.name)),
            ("created_at".to_string(), to_attribute(&tenant.created_at)?),
        ]
        .into();
        let key_item: Item = [
            (PK.to_string(), s(key_pk(key_hash))),
            (SK.to_string(), s(KEY_SK)),
            ("tenant_id".to_string(), s(tenant.id.as_str())),
        ]
        .into();
        create_all(&self.client, &self.table, vec![tenant_item, key_item]).await
    }

    async fn tenant_by_key_hash(&self, key_hash: &str) -> Result<Option<TenantId>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(key_pk(key_hash)))
            .key(SK, s(KEY_SK))
            .send()
            .await
            .map_err(unavailable)?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let raw = string_attr(&item, "tenant_id", "API key")?;
        TenantId::parse(raw)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("API key: tenant_id: {}", e.message)))
    }
}
