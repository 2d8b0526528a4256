//! Who is calling a tenant route, resolved once per request from the
//! `Authorization: Bearer` header: a tenant API key (`chk_`) or a portal
//! token (`chp_`), told apart by prefix. Each route states the [`Access`] it
//! needs; [`Caller::allows`] is the one rule deciding it.
use super::AppError;
use super::auth::{admit, bearer, tenant_for_key};
use super::portal::{Portal, is_portal_token};
use crate::domain::ids::TenantId;
use crate::ports::{PortalSession, TenantStore};

/// An authenticated caller of a tenant route.
#[derive(Debug, Clone, PartialEq)]
pub enum Caller {
    /// The tenant's API key: the chat product's backend.
    ApiKey(TenantId),
    /// A portal session's token: a person in the portal page.
    Portal(PortalSession),
}

/// What a route needs from its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reading: any caller of the tenant.
    Read,
    /// Changing something, or revealing a secret or a valid signature: API
    /// keys and portal sessions that are not read-only.
    Write,
    /// Managing the tenant's access itself (portal sessions): API keys only.
    ApiKeyOnly,
}

impl Caller {
    pub fn tenant(&self) -> &TenantId {
        match self {
            Caller::ApiKey(tenant) => tenant,
            Caller::Portal(session) => &session.tenant_id,
        }
    }

    pub fn read_only(&self) -> bool {
        matches!(self, Caller::Portal(s) if s.read_only)
    }

    /// `Ok` when the caller may use a route needing `access`; 403 otherwise.
    pub fn allows(&self, access: Access) -> Result<(), AppError> {
        match (self, access) {
            (Caller::ApiKey(_), _) | (Caller::Portal(_), Access::Read) => Ok(()),
            (Caller::Portal(_), Access::ApiKeyOnly) => Err(AppError::Forbidden {
                code: "forbidden",
                message: "a portal token cannot do this: use the tenant's API key".into(),
            }),
            (Caller::Portal(s), Access::Write) if s.read_only => Err(AppError::Forbidden {
                code: "read_only",
                message: "this portal link is read-only".into(),
            }),
            (Caller::Portal(_), Access::Write) => Ok(()),
        }
    }
}

/// The caller an `Authorization` header names: `Unauthorized` without a
/// valid API key, `PortalLinkEnded` for an unknown, expired or revoked
/// portal token.
pub async fn identify(
    tenants: &dyn TenantStore,
    portal: &Portal,
    authorization: Option<&str>,
) -> Result<Caller, AppError> {
    match bearer(authorization) {
        Some(token) if is_portal_token(token) => {
            let session = portal.session_for_token(token).await?;
            // A suspended tenant's links answer 403; a deleted one's have ended.
            match admit(tenants.get(&session.tenant_id).await?) {
                Ok(_) => Ok(Caller::Portal(session)),
                Err(AppError::Unauthorized) => Err(AppError::PortalLinkEnded),
                Err(e) => Err(e),
            }
        }
        other => tenant_for_key(tenants, other).await.map(Caller::ApiKey),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::{ManualClock, MemoryPortalSessionStore, MemoryTenantStore};
    use crate::app::portal::NewPortalSession;
    use chrono::Utc;
    use std::sync::Arc;

    fn session(read_only: bool) -> Caller {
        Caller::Portal(PortalSession {
            id: crate::domain::ids::PortalSessionId::generate(),
            tenant_id: TenantId::generate(),
            read_only,
            created_at: Utc::now(),
            expires_at: Utc::now(),
        })
    }

    #[test]
    fn the_access_rule_per_caller() {
        let key = Caller::ApiKey(TenantId::generate());
        let full = session(false);
        let read_only = session(true);
        for access in [Access::Read, Access::Write, Access::ApiKeyOnly] {
            assert!(key.allows(access).is_ok());
        }
        assert!(full.allows(Access::Read).is_ok());
        assert!(full.allows(Access::Write).is_ok());
        assert!(matches!(
            full.allows(Access::ApiKeyOnly),
            Err(AppError::Forbidden {
                code: "forbidden",
                ..
            })
        ));
        assert!(read_only.allows(Access::Read).is_ok());
        assert!(matches!(
            read_only.allows(Access::Write),
            Err(AppError::Forbidden {
                code: "read_only",
                ..
            })
        ));
        assert!(matches!(
            read_only.allows(Access::ApiKeyOnly),
            Err(AppError::Forbidden {
                code: "forbidden",
                ..
            })
        ));
        assert!(read_only.read_only() && !full.read_only() && !key.read_only());
    }

    #[tokio::test]
    async fn the_prefix_decides_how_a_token_is_checked() {
        let tenants = MemoryTenantStore::default();
        let (tenant, key) = crate::app::auth::tests::tenant_with_key(&tenants).await;
        let portal = Portal {
            store: Arc::new(MemoryPortalSessionStore::default()),
            clock: Arc::new(ManualClock::at(Utc::now())),
        };
        let created = portal
            .create(&tenant, NewPortalSession::default(), "http://x")
            .await
            .unwrap();
        let by_key = identify(&tenants, &portal, Some(&format!("Bearer {key}")))
            .await
            .unwrap();
        assert_eq!(by_key, Caller::ApiKey(tenant.clone()));
        let by_token = identify(
            &tenants,
            &portal,
            Some(&format!("Bearer {}", created.token)),
        )
        .await
        .unwrap();
        assert_eq!(by_token.tenant(), &tenant);
        assert!(matches!(by_token, Caller::Portal(_)));
        // a portal token's hash is not an API key, nor the reverse
        let forged = format!("Bearer chk_{}", &created.token[4..]);
        assert!(matches!(
            identify(&tenants, &portal, Some(&forged)).await,
            Err(AppError::Unauthorized)
        ));
        let forged = format!("Bearer chp_{}", &key[4..]);
        assert!(matches!(
            identify(&tenants, &portal, Some(&forged)).await,
            Err(AppError::PortalLinkEnded)
        ));
        assert!(matches!(
            identify(&tenants, &portal, None).await,
            Err(AppError::Unauthorized)
        ));
        // a suspended tenant's portal link answers 403, a deleted one's has ended
        let link = format!("Bearer {}", created.token);
        tenants.set_suspended(&tenant, true).await.unwrap();
        assert!(matches!(
            identify(&tenants, &portal, Some(&link)).await,
            Err(AppError::Forbidden {
                code: "tenant_suspended",
                ..
            })
        ));
        tenants.mark_deleting(&tenant).await.unwrap();
        assert!(matches!(
            identify(&tenants, &portal, Some(&link)).await,
            Err(AppError::PortalLinkEnded)
        ));
    }
}
