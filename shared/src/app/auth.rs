//! API keys: random, shown once, stored only as a SHA-256 hash.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::AppError;
use crate::config::sha256_hex;
use crate::domain::ids::{TenantId, random_bytes};
use crate::ports::TenantStore;

pub const KEY_PREFIX: &str = "chk_";

pub fn new_api_key() -> String {
    format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(random_bytes(32)))
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

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether the header carries the deployment's admin key.
pub fn is_admin(admin_key_hash: Option<&str>, authorization: Option<&str>) -> bool {
    match (admin_key_hash, bearer(authorization)) {
        (Some(expected), Some(token)) => {
            constant_time_eq(expected.as_bytes(), key_hash(token).as_bytes())
        }
        _ => false,
    }
}

/// The tenant owning the API key, or `Unauthorized`.
pub async fn tenant_for_key(
    store: &dyn TenantStore,
    key: Option<&str>,
) -> Result<TenantId, AppError> {
    let key = key
        .filter(|k| k.starts_with(KEY_PREFIX) && k.len() < 200)
        .ok_or(AppError::Unauthorized)?;
    store
        .tenant_by_key_hash(&key_hash(key))
        .await?
        .ok_or(AppError::Unauthorized)
}

/// The tenant of an `Authorization: Bearer` header.
pub async fn authenticate(
    store: &dyn TenantStore,
    authorization: Option<&str>,
) -> Result<TenantId, AppError> {
    tenant_for_key(store, bearer(authorization)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::MemoryTenantStore;
    use crate::ports::Tenant;

    #[tokio::test]
    async fn a_key_authenticates_its_tenant_only_by_hash() {
        // GIVEN a tenant stored with the hash of its key
        let store = MemoryTenantStore::default();
        let key = new_api_key();
        let tenant = TenantId::generate();
        store
            .create(
                &Tenant {
                    id: tenant.clone(),
                    name: "t".into(),
                    created_at: chrono::Utc::now(),
                },
                &key_hash(&key),
            )
            .await
            .unwrap();
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

    #[test]
    fn admin_check_compares_hashes() {
        let hash = key_hash("admin-secret");
        assert!(is_admin(Some(&hash), Some("Bearer admin-secret")));
        assert!(!is_admin(Some(&hash), Some("Bearer admin-secreT")));
        assert!(!is_admin(None, Some("Bearer admin-secret")));
    }
}
