//! Portal sessions: how a chat product hands the portal to one of its
//! customers (a tenant). A session is a random bearer token (`chp_` +
//! 256 random bits, base64url) stored only as its SHA-256, with the tenant,
//! its scope and its expiry; it is refused once expired even while the item
//! waits for TTL, and refused at once once revoked (the item is deleted and
//! every check reads it strongly).
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use super::AppError;
use crate::config::sha256_hex;
use crate::domain::ValidationError;
use crate::domain::ids::{PortalSessionId, TenantId, random_bytes};
use crate::ports::{Clock, PortalSession, PortalSessionStore};

/// What tells a portal token from an API key (`chk_`).
pub const TOKEN_PREFIX: &str = "chp_";
/// Random bytes in a token (256 bits).
pub const TOKEN_BYTES: usize = 32;
pub const MIN_EXPIRES_IN_SECONDS: u64 = 300;
pub const MAX_EXPIRES_IN_SECONDS: u64 = 7 * 24 * 3600;
pub const DEFAULT_EXPIRES_IN_SECONDS: u64 = 3600;

/// A new token: `chp_` + base64url(32 random bytes).
pub fn new_token() -> String {
    format!(
        "{TOKEN_PREFIX}{}",
        URL_SAFE_NO_PAD.encode(random_bytes(TOKEN_BYTES))
    )
}

/// The token as stored: SHA-256, hex.
pub fn token_hash(token: &str) -> String {
    sha256_hex(token.as_bytes())
}

/// Whether a bearer token is a portal token (by its prefix).
pub fn is_portal_token(token: &str) -> bool {
    token.starts_with(TOKEN_PREFIX)
}

/// `POST /v1/portal/sessions`: every field optional.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPortalSession {
    /// A read-only session sees everything but changes nothing, and cannot
    /// reveal the signing secret or a signed preview (default false).
    #[serde(default)]
    pub read_only: Option<bool>,
    /// How long the link works, 300-604800 seconds (default 3600).
    #[serde(default)]
    #[schemars(range(min = 300, max = 604800))]
    pub expires_in_seconds: Option<u64>,
}

/// A new session: the token is shown this once.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CreatedPortalSession {
    pub id: PortalSessionId,
    /// `<API base>/portal#token=<token>`: the token travels in the fragment,
    /// so it never reaches a server log.
    pub url: String,
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub read_only: bool,
}

/// Who the caller is, as the portal page asks first.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SessionView {
    pub tenant_id: TenantId,
    pub read_only: bool,
    /// When the portal link stops working; null for an API key.
    pub expires_at: Option<DateTime<Utc>>,
}

/// The portal link of a token, under an API base URL (`https://host[/stage]`).
pub fn portal_url(base: &str, token: &str) -> String {
    format!("{}/portal#token={token}", base.trim_end_matches('/'))
}

/// The session's lifetime from the request, validated.
pub fn expires_in(input: &NewPortalSession) -> Result<chrono::Duration, ValidationError> {
    let seconds = input
        .expires_in_seconds
        .unwrap_or(DEFAULT_EXPIRES_IN_SECONDS);
    if !(MIN_EXPIRES_IN_SECONDS..=MAX_EXPIRES_IN_SECONDS).contains(&seconds) {
        return Err(ValidationError::field(
            "expires_in_seconds",
            format!(
                "must be from {MIN_EXPIRES_IN_SECONDS} (5 minutes) to {MAX_EXPIRES_IN_SECONDS} (7 days)"
            ),
        ));
    }
    Ok(chrono::Duration::seconds(seconds as i64))
}

pub struct Portal {
    pub store: Arc<dyn PortalSessionStore>,
    pub clock: Arc<dyn Clock>,
}

impl Portal {
    /// Start a session for `tenant`; `base` is the API's public base URL.
    pub async fn create(
        &self,
        tenant: &TenantId,
        input: NewPortalSession,
        base: &str,
    ) -> Result<CreatedPortalSession, AppError> {
        let lifetime = expires_in(&input)?;
        let now = self.clock.now();
        // Whole seconds: the TTL attribute and the check agree exactly.
        let expires_at =
            DateTime::from_timestamp((now + lifetime).timestamp(), 0).unwrap_or(now + lifetime);
        let session = PortalSession {
            id: PortalSessionId::generate(),
            tenant_id: tenant.clone(),
            read_only: input.read_only.unwrap_or(false),
            created_at: now,
            expires_at,
        };
        let token = new_token();
        self.store.create(&session, &token_hash(&token)).await?;
        Ok(CreatedPortalSession {
            url: portal_url(base, &token),
            id: session.id,
            token,
            expires_at,
            read_only: session.read_only,
        })
    }

    /// The live session of a token: `PortalLinkEnded` when it is unknown,
    /// revoked or expired.
    pub async fn session_for_token(&self, token: &str) -> Result<PortalSession, AppError> {
        if !is_portal_token(token) || token.len() > 200 {
            return Err(AppError::PortalLinkEnded);
        }
        let session = self
            .store
            .by_token_hash(&token_hash(token))
            .await?
            .ok_or(AppError::PortalLinkEnded)?;
        if session.expires_at <= self.clock.now() {
            return Err(AppError::PortalLinkEnded);
        }
        Ok(session)
    }

    /// Revoke one session; another tenant's reads as a missing one.
    pub async fn revoke(&self, tenant: &TenantId, id: &str) -> Result<(), AppError> {
        let id = PortalSessionId::parse(id).map_err(|_| AppError::NotFound("portal session"))?;
        if self.store.revoke(tenant, &id).await? {
            Ok(())
        } else {
            Err(AppError::NotFound("portal session"))
        }
    }

    /// Revoke every session of the tenant.
    pub async fn revoke_all(&self, tenant: &TenantId) -> Result<usize, AppError> {
        Ok(self.store.revoke_all(tenant).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::{ManualClock, MemoryPortalSessionStore};

    fn portal() -> (Portal, Arc<ManualClock>, Arc<MemoryPortalSessionStore>) {
        let clock = Arc::new(ManualClock::at(Utc::now()));
        let store = Arc::new(MemoryPortalSessionStore::default());
        (
            Portal {
                store: store.clone(),
                clock: clock.clone(),
            },
            clock,
            store,
        )
    }

    #[test]
    fn tokens_carry_256_random_bits_and_are_stored_as_their_hash() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        let raw = URL_SAFE_NO_PAD
            .decode(a.strip_prefix(TOKEN_PREFIX).unwrap())
            .unwrap();
        assert_eq!(raw.len(), 32);
        let hash = token_hash(&a);
        assert_eq!(hash.len(), 64);
        assert!(!hash.contains(&a[4..]));
        assert_eq!(hash, token_hash(&a));
        assert_ne!(hash, token_hash(&b));
    }

    #[tokio::test]
    async fn a_session_works_until_it_expires_then_is_refused() {
        // GIVEN a 300 s session
        let (portal, clock, store) = portal();
        let tenant = TenantId::generate();
        let input = NewPortalSession {
            read_only: Some(true),
            expires_in_seconds: Some(300),
        };
        let created = portal
            .create(&tenant, input, "https://api.example.com/prod/")
            .await
            .unwrap();
        assert_eq!(
            created.url,
            format!(
                "https://api.example.com/prod/portal#token={}",
                created.token
            )
        );
        assert!(created.read_only);
        // THEN only its hash is stored
        assert!(store.holds_hash(&token_hash(&created.token)));
        assert!(!store.holds_hash(&created.token));
        // AND the token works, scoped to its tenant
        let session = portal.session_for_token(&created.token).await.unwrap();
        assert_eq!(session.tenant_id, tenant);
        assert!(session.read_only);
        // WHEN its expiry passes (the item is still stored) THEN it is refused
        clock.advance(chrono::Duration::seconds(299));
        assert!(portal.session_for_token(&created.token).await.is_ok());
        clock.advance(chrono::Duration::seconds(1));
        assert!(matches!(
            portal.session_for_token(&created.token).await,
            Err(AppError::PortalLinkEnded)
        ));
        assert!(store.holds_hash(&token_hash(&created.token)));
    }

    #[tokio::test]
    async fn revocation_is_immediate_and_scoped_to_the_tenant() {
        let (portal, _, _) = portal();
        let tenant = TenantId::generate();
        let other = TenantId::generate();
        let base = "http://127.0.0.1:1";
        let one = portal
            .create(&tenant, NewPortalSession::default(), base)
            .await
            .unwrap();
        let two = portal
            .create(&tenant, NewPortalSession::default(), base)
            .await
            .unwrap();
        let theirs = portal
            .create(&other, NewPortalSession::default(), base)
            .await
            .unwrap();
        // another tenant's session id is not found, and stays valid
        assert!(matches!(
            portal.revoke(&tenant, theirs.id.as_str()).await,
            Err(AppError::NotFound(_))
        ));
        assert!(matches!(
            portal.revoke(&tenant, "not-an-id").await,
            Err(AppError::NotFound(_))
        ));
        portal.revoke(&tenant, one.id.as_str()).await.unwrap();
        assert!(portal.session_for_token(&one.token).await.is_err());
        assert!(portal.session_for_token(&two.token).await.is_ok());
        assert_eq!(portal.revoke_all(&tenant).await.unwrap(), 1);
        assert!(portal.session_for_token(&two.token).await.is_err());
        assert!(portal.session_for_token(&theirs.token).await.is_ok());
    }

    #[tokio::test]
    async fn lifetimes_outside_the_range_name_the_field() {
        let (portal, _, _) = portal();
        let tenant = TenantId::generate();
        for bad in [0, 299, 604_801] {
            let input = NewPortalSession {
                read_only: None,
                expires_in_seconds: Some(bad),
            };
            match portal.create(&tenant, input, "http://x").await {
                Err(AppError::Invalid(e)) => {
                    assert_eq!(e.field.as_deref(), Some("expires_in_seconds"))
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        let created = portal
            .create(&tenant, NewPortalSession::default(), "http://x")
            .await
            .unwrap();
        let lifetime = created.expires_at - Utc::now();
        assert!(lifetime <= chrono::Duration::seconds(3600));
        assert!(lifetime > chrono::Duration::seconds(3590));
        assert!(!created.read_only);
    }

    #[tokio::test]
    async fn malformed_or_unknown_tokens_are_refused() {
        let (portal, _, _) = portal();
        for token in ["chk_abc", "", "chp_", &format!("chp_{}", "a".repeat(300))] {
            assert!(portal.session_for_token(token).await.is_err(), "{token}");
        }
    }
}
