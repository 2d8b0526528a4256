//! A tenant's API keys: created with a name and an optional expiry (the key
//! is shown once), listed by prefix, revoked at once. A tenant keeps at
//! least one key.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::AppError;
use super::auth::{key_hash, new_api_key};
use crate::domain::api_key::{self, ApiKey, MAX_KEYS_PER_TENANT, validate_expiry, validate_name};
use crate::domain::ids::{ApiKeyId, TenantId};
use crate::ports::{Added, Revoked, StoreError, TenantStore};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// What the key is for (1-100 characters), shown in listings.
    pub name: String,
    /// RFC 3339; the key is refused from then on. Absent: it never expires.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// A new key: `api_key` is shown this once.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CreatedApiKey {
    pub id: ApiKeyId,
    pub name: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// The key itself: `chk_` + 38 characters. Store it now: it is never shown again.
    pub api_key: String,
}

/// The tenant's keys, oldest first (never the keys themselves).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ApiKeyList {
    pub items: Vec<ApiKey>,
}

pub const LAST_KEY_MESSAGE: &str = "this is the tenant's last API key: create another key first, so the tenant is never left without a way in";

pub async fn create(
    store: &dyn TenantStore,
    tenant: &TenantId,
    input: NewApiKey,
    now: DateTime<Utc>,
) -> Result<CreatedApiKey, AppError> {
    let name = validate_name(&input.name)?;
    let expires_at = validate_expiry(input.expires_at, now)?;
    // A collision of 190 random bits does not happen; a retry costs nothing.
    for _ in 0..3 {
        let secret = new_api_key();
        let key = ApiKey {
            id: ApiKeyId::generate(),
            tenant_id: tenant.clone(),
            name: name.clone(),
            prefix: api_key::shown_prefix(&secret),
            created_at: now,
            expires_at,
            last_used_at: None,
        };
        match store
            .add_key(&key, &key_hash(&secret), MAX_KEYS_PER_TENANT)
            .await
        {
            Ok(Added::Added) => {
                return Ok(CreatedApiKey {
                    id: key.id,
                    name: key.name,
                    prefix: key.prefix,
                    created_at: key.created_at,
                    expires_at: key.expires_at,
                    last_used_at: None,
                    api_key: secret,
                });
            }
            Ok(Added::TooMany) => {
                return Err(AppError::Conflict(format!(
                    "the tenant already has {MAX_KEYS_PER_TENANT} API keys, the most it may hold: revoke one first"
                )));
            }
            Ok(Added::TenantNotActive) => return Err(AppError::Unauthorized),
            Err(StoreError::AlreadyExists) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::AlreadyExists.into())
}

pub async fn list(store: &dyn TenantStore, tenant: &TenantId) -> Result<ApiKeyList, AppError> {
    Ok(ApiKeyList {
        items: store.list_keys(tenant).await?,
    })
}

/// Revoke the key `raw_id` names: refused from the next request on. An id
/// that is not one of the tenant's keys is a 404, whoever's it is.
pub async fn revoke(
    store: &dyn TenantStore,
    tenant: &TenantId,
    raw_id: &str,
) -> Result<(), AppError> {
    let id = ApiKeyId::parse(raw_id).map_err(|_| AppError::NotFound("API key"))?;
    match store.revoke_key(tenant, &id).await? {
        Revoked::Revoked => Ok(()),
        Revoked::NotFound => Err(AppError::NotFound("API key")),
        Revoked::LastKey => Err(AppError::Conflict(LAST_KEY_MESSAGE.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::MemoryTenantStore;
    use crate::app::auth::tenant_for_key;
    use crate::app::auth::tests::tenant_with_key;
    use chrono::Duration;

    #[tokio::test]
    async fn keys_are_created_listed_and_revoked_but_never_the_last() {
        let store = MemoryTenantStore::default();
        let (tenant, first) = tenant_with_key(&store).await;
        let now = Utc::now();
        // GIVEN a second key
        let created = create(
            &store,
            &tenant,
            NewApiKey {
                name: "deploy".into(),
                expires_at: None,
            },
            now,
        )
        .await
        .unwrap();
        assert!(created.api_key.starts_with(&created.prefix));
        assert_eq!(
            tenant_for_key(&store, Some(&created.api_key))
                .await
                .unwrap(),
            tenant
        );
        // THEN both are listed, without the keys
        let listed = list(&store, &tenant).await.unwrap().items;
        assert_eq!(listed.len(), 2);
        let json = serde_json::to_string(&listed).unwrap();
        assert!(!json.contains(&created.api_key) && !json.contains(&first));
        // WHEN the first is revoked THEN it no longer works, the new one does
        let first_id = listed
            .iter()
            .find(|k| k.id != created.id)
            .unwrap()
            .id
            .clone();
        revoke(&store, &tenant, first_id.as_str()).await.unwrap();
        assert!(matches!(
            tenant_for_key(&store, Some(&first)).await,
            Err(AppError::Unauthorized)
        ));
        // AND the last one cannot be revoked
        let err = revoke(&store, &tenant, created.id.as_str())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, AppError::Conflict(m) if m.contains("last API key")),
            "{err:?}"
        );
        // AND unknown or malformed ids are 404
        for bad in ["key_nope", "int_123", "../x"] {
            assert!(matches!(
                revoke(&store, &tenant, bad).await,
                Err(AppError::NotFound("API key"))
            ));
        }
    }

    #[tokio::test]
    async fn bad_names_and_past_expiries_are_refused() {
        let store = MemoryTenantStore::default();
        let (tenant, _) = tenant_with_key(&store).await;
        let now = Utc::now();
        let bad = [("", None), ("ok", Some(now - Duration::seconds(1)))];
        for (name, expires_at) in bad {
            let err = create(
                &store,
                &tenant,
                NewApiKey {
                    name: name.into(),
                    expires_at,
                },
                now,
            )
            .await
            .unwrap_err();
            assert!(matches!(err, AppError::Invalid(_)), "{err:?}");
        }
    }

    #[tokio::test]
    async fn a_tenant_holds_at_most_the_maximum_of_keys() {
        let store = MemoryTenantStore::default();
        let (tenant, _) = tenant_with_key(&store).await;
        for _ in 1..MAX_KEYS_PER_TENANT {
            let input = NewApiKey {
                name: "k".into(),
                expires_at: None,
            };
            create(&store, &tenant, input, Utc::now()).await.unwrap();
        }
        let input = NewApiKey {
            name: "one too many".into(),
            expires_at: None,
        };
        let err = create(&store, &tenant, input, Utc::now())
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::Conflict(_)), "{err:?}");
    }
}
