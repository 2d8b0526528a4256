//! Tenants: created with the admin key, each with its first API key.
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::AppError;
use super::auth::{key_hash, new_api_key};
use crate::domain::ValidationError;
use crate::domain::ids::TenantId;
use crate::ports::{Tenant, TenantStore};

#[derive(Debug, Deserialize, Default, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    #[serde(default)]
    pub name: Option<String>,
}

/// The answer to a tenant creation: the API key is shown this once.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CreatedTenant {
    pub id: TenantId,
    pub name: String,
    pub api_key: String,
    pub created_at: chrono::DateTime<Utc>,
}

pub async fn create(store: &dyn TenantStore, input: NewTenant) -> Result<CreatedTenant, AppError> {
    let name = input.name.unwrap_or_else(|| "tenant".into());
    if name.trim().is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err(ValidationError::field(
            "name",
            "must be 1-200 characters without control characters",
        )
        .into());
    }
    let tenant = Tenant {
        id: TenantId::generate(),
        name,
        created_at: Utc::now(),
    };
    let api_key = new_api_key();
    store.create(&tenant, &key_hash(&api_key)).await?;
    Ok(CreatedTenant {
        id: tenant.id,
        name: tenant.name,
        api_key,
        created_at: tenant.created_at,
    })
}
