//! API keys: random, shown once, stored only as a SHA-256 hash; each
//! request's key is looked up strongly (a revoked or expired key is refused
//! on the next request, on every warm function: nothing caches keys), with
//! its tenant's status (`TenantStore::key_with_tenant`).
use chrono::{DateTime, Utc};

use super::AppError;
use crate::config::sha256_hex;
use crate::domain::api_key::{self, ApiKey, KeyShape};
use crate::domain::ids::{ApiKeyId, TenantId};
use crate::domain::tenant::{SUSPENDED_MESSAGE, TenantStatus};
use crate::ports::{StoredKey, Tenant, TenantStore};

pub use crate::domain::api_key::KEY_PREFIX;

/// A new key in the current format (`domain::api_key`).
pub fn new_api_key() -> String {
    api_key::generate()
}

pub fn key_hash(key: &str) -> String {
    sha256_hex(key.as_bytes())
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer(authorization: Option<&str>) -> Option<&str> {
    let value = authorization?.trim();
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim())
}

use crate::domain::validation::constant_time_eq;

/// Whether the header carries one of the deployment's admin keys (the
/// current one, or the previous one while a rotation is under way).
pub fn is_admin(admin_key_hashes: &[&str], authorization: Option<&str>) -> bool {
    let Some(token) = bearer(authorization) else {
        return false;
    };
    let presented = key_hash(token);
    admin_key_hashes.iter().fold(false, |ok, expected| {
        ok | constant_time_eq(expected.as_bytes(), presented.as_bytes())
    })
}

/// Whether a tenant may be served: 403 while suspended, 401 once it is
/// being deleted or gone.
pub fn admit(tenant: Option<Tenant>) -> Result<Tenant, AppError> {
    match tenant {
        Some(t) if t.status == TenantStatus::Active => Ok(t),
        Some(t) if t.status == TenantStatus::Suspended => Err(AppError::Forbidden {
            code: "tenant_suspended",
            message: SUSPENDED_MESSAGE.into(),
        }),
        _ => Err(AppError::Unauthorized),
    }
}

/// The tenant owning the API key, or `Unauthorized` (unknown, revoked or
/// expired key; tenant being deleted), or 403 `tenant_suspended`. Two strong
/// reads (the key, its tenant; one request once the store knows the key's
/// tenant), plus at most one conditional write a minute per key to record
/// its last use.
pub async fn tenant_for_key(
    store: &dyn TenantStore,
    key: Option<&str>,
) -> Result<TenantId, AppError> {
    tenant_for_key_at(store, key, Utc::now()).await
}

pub async fn tenant_for_key_at(
    store: &dyn TenantStore,
    key: Option<&str>,
    now: DateTime<Utc>,
) -> Result<TenantId, AppError> {
    let key = key
        .filter(|k| api_key::shape(k) != KeyShape::Invalid)
        .ok_or(AppError::Unauthorized)?;
    let hash = key_hash(key);
    let (stored, tenant) = store
        .key_with_tenant(&hash)
        .await?
        .ok_or(AppError::Unauthorized)?;
    if let StoredKey::Named(k) = &stored
        && k.is_expired(now)
    {
        return Err(AppError::Unauthorized);
    }
    let tenant = admit(tenant)?;
    // Recording the use is best effort: a failed write never fails the request.
    let recorded = match stored {
        StoredKey::Named(k) if k.needs_touch(now) => store.touch_key(&hash, now).await,
        StoredKey::Named(_) => Ok(()),
        StoredKey::Unnamed(_) => {
            let adopted = ApiKey {
                id: ApiKeyId::generate(),
                tenant_id: tenant.id.clone(),
                name: "default".into(),
                prefix: api_key::shown_prefix(key),
                created_at: tenant.created_at,
                expires_at: None,
                last_used_at: Some(now),
            };
            store.adopt_key(&adopted, &hash).await
        }
    };
    if let Err(e) = recorded {
        tracing::warn!(tenant_id = %tenant.id, error = %crate::telemetry::chain(&e), "could not record an API key's use");
    }
    Ok(tenant.id)
}

/// The tenant of an `Authorization: Bearer` header.
pub async fn authenticate(
    store: &dyn TenantStore,
    authorization: Option<&str>,
) -> Result<TenantId, AppError> {
    tenant_for_key(store, bearer(authorization)).await
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::adapters::memory::MemoryTenantStore;
    use chrono::Duration;
    use std::sync::atomic::Ordering;

    /// A tenant with one key; answers the tenant id and the key.
    pub(crate) async fn tenant_with_key(store: &MemoryTenantStore) -> (TenantId, String) {
        let key = new_api_key();
        let tenant = Tenant {
            id: TenantId::generate(),
            name: "t".into(),
            created_at: Utc::now(),
            status: TenantStatus::Active,
        };
        let record = ApiKey {
            id: ApiKeyId::generate(),
            tenant_id: tenant.id.clone(),
            name: "first".into(),
            prefix: api_key::shown_prefix(&key),
            created_at: tenant.created_at,
            expires_at: None,
            last_used_at: None,
        };
        store
            .create(&tenant, &record, &key_hash(&key))
            .await
            .unwrap();
        (tenant.id, key)
    }

    #[tokio::test]
    async fn a_key_authenticates_its_tenant_only_by_hash() {
        // GIVEN a tenant stored with the hash of its key
        let store = MemoryTenantStore::default();
        let (tenant, key) = tenant_with_key(&store).await;
        // WHEN it presents the key THEN it is that tenant
        let header = format!("Bearer {key}");
        assert_eq!(authenticate(&store, Some(&header)).await.unwrap(), tenant);
        // AND a wrong or missing key is unauthorized
        assert!(matches!(
            authenticate(&store, Some("Bearer chk_nope")).await,
            Err(AppError::Unauthorized)
        ));
        assert!(matches!(
            authenticate(&store, None).await,
            Err(AppError::Unauthorized)
        ));
        assert!(matches!(
            authenticate(&store, Some(&key)).await,
            Err(AppError::Unauthorized)
        ));
    }

    #[tokio::test]
    async fn a_key_with_a_wrong_checksum_is_refused_without_a_lookup() {
        let store = MemoryTenantStore::default();
        let (_, key) = tenant_with_key(&store).await;
        let mut typo = key.clone().into_bytes();
        typo[10] = if typo[10] == b'x' { b'y' } else { b'x' };
        let typo = String::from_utf8(typo).unwrap();
        // the hash of the typo is even stored: the checksum alone refuses it
        store.insert_unnamed_key(&TenantId::generate(), &key_hash(&typo));
        assert!(matches!(
            tenant_for_key(&store, Some(&typo)).await,
            Err(AppError::Unauthorized)
        ));
    }

    #[tokio::test]
    async fn expired_keys_and_suspended_or_deleted_tenants_are_refused() {
        let store = MemoryTenantStore::default();
        let (tenant, _) = tenant_with_key(&store).await;
        let now = Utc::now();
        let expiring = new_api_key();
        let record = ApiKey {
            id: ApiKeyId::generate(),
            tenant_id: tenant.clone(),
            name: "short".into(),
            prefix: api_key::shown_prefix(&expiring),
            created_at: now,
            expires_at: Some(now + Duration::seconds(10)),
            last_used_at: None,
        };
        store
            .add_key(&record, &key_hash(&expiring), 20)
            .await
            .unwrap();
        let at = |secs| now + Duration::seconds(secs);
        assert!(
            tenant_for_key_at(&store, Some(&expiring), at(9))
                .await
                .is_ok()
        );
        assert!(matches!(
            tenant_for_key_at(&store, Some(&expiring), at(10)).await,
            Err(AppError::Unauthorized)
        ));
        // a suspended tenant's keys answer 403, and work again once lifted
        store.set_suspended(&tenant, true).await.unwrap();
        assert!(matches!(
            tenant_for_key_at(&store, Some(&expiring), at(1)).await,
            Err(AppError::Forbidden {
                code: "tenant_suspended",
                ..
            })
        ));
        store.set_suspended(&tenant, false).await.unwrap();
        assert!(
            tenant_for_key_at(&store, Some(&expiring), at(1))
                .await
                .is_ok()
        );
        store.mark_deleting(&tenant).await.unwrap();
        assert!(matches!(
            tenant_for_key_at(&store, Some(&expiring), at(1)).await,
            Err(AppError::Unauthorized)
        ));
    }

    #[tokio::test]
    async fn last_use_is_written_at_most_once_a_minute() {
        let store = MemoryTenantStore::default();
        let (_, key) = tenant_with_key(&store).await;
        let now = Utc::now();
        for secs in [0, 1, 30, 59] {
            tenant_for_key_at(&store, Some(&key), now + Duration::seconds(secs))
                .await
                .unwrap();
        }
        assert_eq!(store.touches.load(Ordering::SeqCst), 1);
        tenant_for_key_at(&store, Some(&key), now + Duration::seconds(60))
            .await
            .unwrap();
        assert_eq!(store.touches.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_key_stored_before_keys_had_names_works_and_is_adopted() {
        let store = MemoryTenantStore::default();
        let (tenant, _) = tenant_with_key(&store).await;
        let earlier = format!("chk_{}", "Q".repeat(43));
        store.insert_unnamed_key(&tenant, &key_hash(&earlier));
        assert_eq!(
            tenant_for_key(&store, Some(&earlier)).await.unwrap(),
            tenant
        );
        let keys = store.list_keys(&tenant).await.unwrap();
        let adopted = keys.iter().find(|k| k.name == "default").unwrap();
        assert_eq!(adopted.prefix, "chk_QQQQQQQQ");
        assert!(adopted.last_used_at.is_some());
    }

    #[test]
    fn admin_check_compares_hashes_with_each_accepted_key() {
        let hash = key_hash("admin-secret");
        let previous = key_hash("old-admin-secret");
        assert!(is_admin(&[&hash], Some("Bearer admin-secret")));
        assert!(!is_admin(&[&hash], Some("Bearer admin-secreT")));
        assert!(!is_admin(&[], Some("Bearer admin-secret")));
        assert!(is_admin(
            &[&hash, &previous],
            Some("Bearer old-admin-secret")
        ));
        assert!(!is_admin(&[&hash], Some("Bearer old-admin-secret")));
    }
}
