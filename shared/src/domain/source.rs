//! Sources: one URL a platform (Rocket.Chat, LiveChat, Olark, AmplifyReach)
//! posts its own webhooks to; each post is parsed into the canonical event
//! and fanned out to every integration of the tenant (`domain::inbound`).
//!
//! The URL ends in a token: `chs_` + 43 base62 characters (256 bits), shown
//! when the source is created or its URL rotated, stored only as its
//! SHA-256. The platform's own credential, when the source has a secret, is
//! stored the same way and compared, hash to hash, in constant time.
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

use super::ValidationError;
use super::ids::{TenantId, random_bytes};
use super::inbound::Platform;

pub const TOKEN_PREFIX: &str = "chs_";
/// Base62 characters after the prefix: 62^43 > 2^256.
pub const TOKEN_RANDOM_LEN: usize = 43;
pub const TOKEN_LEN: usize = TOKEN_PREFIX.len() + TOKEN_RANDOM_LEN;
/// How long a rotated-out URL keeps working, unless the caller says.
pub const DEFAULT_GRACE: Duration = Duration::hours(24);
/// The longest grace a rotation may give.
pub const MAX_GRACE: Duration = Duration::days(7);
/// How long a deleted source's URL answers 404 (then 401, as any unknown URL).
pub const DELETED_KEPT: Duration = Duration::days(30);
/// The most sources a tenant holds at once.
pub const MAX_SOURCES_PER_TENANT: usize = 50;
const MAX_SECRET: usize = 256;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A source's id: `src_` + a UUIDv7 (time-ordered).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SourceId(String);

impl SourceId {
    pub const PREFIX: &'static str = "src_";

    pub fn generate() -> Self {
        Self(format!("{}{}", Self::PREFIX, uuid::Uuid::now_v7().simple()))
    }

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let rest = raw.strip_prefix(Self::PREFIX).unwrap_or_default();
        if rest.is_empty()
            || rest.len() > 64
            || !rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(ValidationError::general(
                "must be `src_` followed by 1-64 letters, digits, `_` or `-`",
            ));
        }
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SourceId {
    type Error = ValidationError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<SourceId> for String {
    fn from(id: SourceId) -> String {
        id.0
    }
}

impl fmt::Display for SourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl schemars::JsonSchema for SourceId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SourceId".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "pattern": "^src_[A-Za-z0-9_-]{1,64}$"})
    }
}

/// SHA-256 hex: how tokens and secrets are stored and compared.
pub fn hash(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// A new URL token.
pub fn generate_token() -> String {
    // Rejection sampling keeps every base62 character equally likely.
    let mut token = String::with_capacity(TOKEN_LEN);
    token.push_str(TOKEN_PREFIX);
    while token.len() < TOKEN_LEN {
        for byte in random_bytes(64) {
            if byte < 248 && token.len() < TOKEN_LEN {
                token.push(BASE62[(byte % 62) as usize] as char);
            }
        }
    }
    token
}

/// Whether `token` has a token's shape (checked before any store read).
pub fn is_token(token: &str) -> bool {
    token.len() == TOKEN_LEN
        && token.starts_with(TOKEN_PREFIX)
        && token[TOKEN_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric())
}

pub use super::validation::constant_time_eq;

/// A source's name: 1-100 characters without control characters (trimmed).
pub use super::validation::short_name as validate_name;

/// The platform's credential: 1-256 printable characters, no spaces (it
/// travels in a header, a JSON field or a URL's user info).
pub fn validate_secret(secret: &str) -> Result<(), ValidationError> {
    if secret.is_empty()
        || secret.len() > MAX_SECRET
        || !secret
            .chars()
            .all(|c| !c.is_control() && !c.is_whitespace())
    {
        return Err(ValidationError::field(
            "secret",
            format!("must be 1-{MAX_SECRET} characters without spaces or control characters"),
        ));
    }
    Ok(())
}

/// A rotation's grace, when given: at most [`MAX_GRACE`].
pub fn validate_grace(hours: Option<u32>) -> Result<Duration, ValidationError> {
    match hours {
        None => Ok(DEFAULT_GRACE),
        Some(h) if Duration::hours(i64::from(h)) <= MAX_GRACE => Ok(Duration::hours(i64::from(h))),
        Some(_) => Err(ValidationError::field(
            "grace_hours",
            "must be at most 168 (7 days)",
        )),
    }
}

/// The URL token a rotation replaced, accepted until `expires_at`.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviousToken {
    pub hash: String,
    pub expires_at: DateTime<Utc>,
}

/// A source as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub id: SourceId,
    pub tenant_id: TenantId,
    pub name: String,
    pub platform: Platform,
    /// SHA-256 hex of the platform's credential, when the source has one.
    pub secret_hash: Option<String>,
    pub created_at: DateTime<Utc>,
    /// SHA-256 hex of the URL token.
    pub token_hash: String,
    pub previous_token: Option<PreviousToken>,
}

impl Source {
    /// Whether `presented` is the source's secret (constant time). A source
    /// without a secret has nothing to check: `true`.
    pub fn secret_matches(&self, presented: Option<&str>) -> bool {
        match (&self.secret_hash, presented) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(stored), Some(p)) => constant_time_eq(stored.as_bytes(), hash(p).as_bytes()),
        }
    }

    /// The same source under a new token; the current one is kept until
    /// `now + grace` (a previous one still in its grace is dropped).
    pub fn rotated(&self, new_token_hash: String, now: DateTime<Utc>, grace: Duration) -> Self {
        Self {
            token_hash: new_token_hash,
            previous_token: (grace > Duration::zero()).then(|| PreviousToken {
                hash: self.token_hash.clone(),
                expires_at: now + grace,
            }),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_256_bits_and_have_their_shape() {
        let a = generate_token();
        let b = generate_token();
        assert_ne!(a, b);
        assert!(is_token(&a), "{a}");
        assert_eq!(a.len(), TOKEN_LEN);
        // 43 base62 characters: log2(62^43) >= 256
        assert!((TOKEN_RANDOM_LEN as f64) * 62f64.log2() >= 256.0);
        assert!(!is_token(&a[..TOKEN_LEN - 1]));
        assert!(!is_token(&a.replace(TOKEN_PREFIX, "chk_")));
        assert!(!is_token(&format!("{}-", &a[..TOKEN_LEN - 1])));
    }

    #[test]
    fn secrets_are_compared_by_hash() {
        let source = Source {
            id: SourceId::generate(),
            tenant_id: TenantId::generate(),
            name: "rc".into(),
            platform: Platform::Rocketchat,
            secret_hash: Some(hash("s3cret")),
            created_at: Utc::now(),
            token_hash: hash("t"),
            previous_token: None,
        };
        assert!(source.secret_matches(Some("s3cret")));
        assert!(!source.secret_matches(Some("s3cre")));
        assert!(!source.secret_matches(None));
        let open = Source {
            secret_hash: None,
            ..source.clone()
        };
        assert!(open.secret_matches(None));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn inputs_are_validated_with_their_field() {
        assert_eq!(validate_name("  rc  ").unwrap(), "rc");
        assert_eq!(
            validate_name("").unwrap_err().field.as_deref(),
            Some("name")
        );
        assert!(validate_secret("a b").is_err());
        assert!(validate_secret(&"x".repeat(257)).is_err());
        assert!(validate_secret("tok-123").is_ok());
        assert_eq!(validate_grace(None).unwrap(), DEFAULT_GRACE);
        assert_eq!(validate_grace(Some(0)).unwrap(), Duration::zero());
        assert!(validate_grace(Some(169)).is_err());
        assert!(SourceId::parse("src_abc").is_ok());
        assert!(SourceId::parse("int_abc").is_err());
    }

    #[test]
    fn a_rotation_keeps_the_old_token_for_its_grace() {
        let now = Utc::now();
        let source = Source {
            id: SourceId::generate(),
            tenant_id: TenantId::generate(),
            name: "rc".into(),
            platform: Platform::Olark,
            secret_hash: None,
            created_at: now,
            token_hash: "old".into(),
            previous_token: None,
        };
        let next = source.rotated("new".into(), now, DEFAULT_GRACE);
        assert_eq!(next.token_hash, "new");
        let previous = next.previous_token.as_ref().unwrap();
        assert_eq!(previous.hash, "old");
        assert_eq!(previous.expires_at, now + DEFAULT_GRACE);
        assert_eq!(
            source
                .rotated("x".into(), now, Duration::zero())
                .previous_token,
            None
        );
    }
}
