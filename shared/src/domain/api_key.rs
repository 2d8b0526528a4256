//! API keys: their format, checksum, names, expiry and the rule for
//! recording their last use.
//!
//! A key reads `chk_` + 32 random base62 characters + 6 base62 characters of
//! checksum: the CRC-32 of everything before it (`chk_` and the random part),
//! as an unsigned number written in base62 with `0`s in front. 42 characters
//! in all, only `[A-Za-z0-9_]`, so a double click selects it whole. A secret
//! scanner matches `chk_[A-Za-z0-9]{38}` and confirms a hit offline with the
//! checksum; the service refuses a key whose checksum is wrong without a
//! store read. Keys issued in the earlier form (`chk_` + 43 base64url
//! characters) stay valid: they are looked up by hash like any other.
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::ValidationError;
use super::ids::{ApiKeyId, TenantId, random_bytes};

pub const KEY_PREFIX: &str = "chk_";
/// Random base62 characters after the prefix (about 190 bits).
pub const RANDOM_LEN: usize = 32;
/// Base62 characters of checksum at the end.
pub const CHECKSUM_LEN: usize = 6;
/// The length of a key in the current format.
pub const KEY_LEN: usize = KEY_PREFIX.len() + RANDOM_LEN + CHECKSUM_LEN;
/// How much of a key is shown in listings: the prefix and 8 random characters.
pub const SHOWN_PREFIX_LEN: usize = KEY_PREFIX.len() + 8;
/// `last_used_at` is written at most this often per key.
pub const LAST_USED_GRANULARITY: Duration = Duration::seconds(60);
/// The most keys a tenant holds at once.
pub const MAX_KEYS_PER_TENANT: usize = 20;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// CRC-32 (IEEE 802.3, the one zip and PNG use).
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// `n` in base62, left-padded with `0` to 6 characters (62^6 > 2^32).
fn base62_6(mut n: u32) -> String {
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(out.to_vec()).unwrap_or_default()
}

/// The checksum of a key's first part (`chk_` and the random characters).
pub fn checksum(body: &str) -> String {
    base62_6(crc32(body.as_bytes()))
}

/// A new random key in the current format.
pub fn generate() -> String {
    // Rejection sampling keeps every base62 character equally likely.
    let mut random = String::with_capacity(RANDOM_LEN);
    while random.len() < RANDOM_LEN {
        for byte in random_bytes(48) {
            if byte < 248 && random.len() < RANDOM_LEN {
                random.push(BASE62[(byte % 62) as usize] as char);
            }
        }
    }
    let body = format!("{KEY_PREFIX}{random}");
    let sum = checksum(&body);
    format!("{body}{sum}")
}

/// What a presented token looks like, before any store read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyShape {
    /// The current format with a correct checksum.
    Valid,
    /// The earlier format (or any other `chk_` token): only the store can tell.
    Unchecked,
    /// Not a key, or the current format with a wrong checksum: refuse it
    /// without reading the store.
    Invalid,
}

pub fn shape(token: &str) -> KeyShape {
    if !token.starts_with(KEY_PREFIX) || token.len() > 200 {
        return KeyShape::Invalid;
    }
    let rest = &token[KEY_PREFIX.len()..];
    let current = token.len() == KEY_LEN && rest.bytes().all(|b| b.is_ascii_alphanumeric());
    if !current {
        return KeyShape::Unchecked;
    }
    let (body, sum) = token.split_at(KEY_LEN - CHECKSUM_LEN);
    if checksum(body) == sum {
        KeyShape::Valid
    } else {
        KeyShape::Invalid
    }
}

/// The part of a key shown in listings, to recognise it.
pub fn shown_prefix(key: &str) -> String {
    key.chars().take(SHOWN_PREFIX_LEN).collect()
}

/// A key's name: 1-100 characters without control characters (trimmed).
pub use super::validation::short_name as validate_name;

/// An expiry, when given, must be in the future.
pub fn validate_expiry(
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, ValidationError> {
    match expires_at {
        Some(at) if at <= now => Err(ValidationError::field(
            "expires_at",
            "must be in the future (an RFC 3339 timestamp)",
        )),
        other => Ok(other),
    }
}

/// An API key as stored and listed (never the key itself: its SHA-256 is
/// the store's lookup key, and `prefix` its first characters).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ApiKey {
    pub id: ApiKeyId,
    #[serde(skip)]
    #[schemars(skip)]
    pub tenant_id: TenantId,
    pub name: String,
    /// The key's first characters, to recognise it.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    /// Refused from this instant on; `null`: never expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// The last request made with it, to the minute; `null`: never used.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// Whether a request at `now` should record itself as the last use: at
    /// most once per [`LAST_USED_GRANULARITY`] per key.
    pub fn needs_touch(&self, now: DateTime<Utc>) -> bool {
        self.last_used_at
            .is_none_or(|last| now - last >= LAST_USED_GRANULARITY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        // the CRC-32 catalogue's check value for "123456789"
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn generated_keys_have_the_documented_shape_and_a_valid_checksum() {
        for _ in 0..200 {
            let key = generate();
            assert_eq!(key.len(), KEY_LEN, "{key}");
            assert!(key.starts_with("chk_"));
            assert!(key[4..].bytes().all(|b| b.is_ascii_alphanumeric()), "{key}");
            assert_eq!(shape(&key), KeyShape::Valid, "{key}");
            assert_eq!(shown_prefix(&key).len(), 12);
            assert!(key.starts_with(&shown_prefix(&key)));
        }
        assert_ne!(generate(), generate());
    }

    #[test]
    fn a_changed_character_breaks_the_checksum() {
        let key = generate();
        for i in 4..KEY_LEN {
            let mut bytes = key.clone().into_bytes();
            bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
            let typo = String::from_utf8(bytes).unwrap();
            assert_eq!(shape(&typo), KeyShape::Invalid, "{typo}");
        }
    }

    #[test]
    fn the_checksum_is_base62_of_the_crc_padded_to_six() {
        assert_eq!(base62_6(0), "000000");
        assert_eq!(base62_6(61), "00000z");
        assert_eq!(base62_6(62), "000010");
        assert_eq!(base62_6(u32::MAX), "4gfFC3");
        let body = "chk_00000000000000000000000000000000";
        assert_eq!(checksum(body), base62_6(crc32(body.as_bytes())));
    }

    #[test]
    fn earlier_keys_are_unchecked_and_foreign_tokens_invalid() {
        let earlier = format!("chk_{}", "A-_b".repeat(10) + "xyz");
        assert_eq!(earlier.len(), 47);
        assert_eq!(shape(&earlier), KeyShape::Unchecked);
        assert_eq!(shape("chk_nope"), KeyShape::Unchecked);
        assert_eq!(shape("chp_whatever"), KeyShape::Invalid);
        assert_eq!(shape("sk_live_123"), KeyShape::Invalid);
        assert_eq!(
            shape(&format!("chk_{}", "a".repeat(300))),
            KeyShape::Invalid
        );
    }

    #[test]
    fn names_and_expiries_are_validated() {
        assert_eq!(validate_name("  CI deploy ").unwrap(), "CI deploy");
        for bad in ["", "   ", "a\nb", &"x".repeat(101)] {
            let e = validate_name(bad).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("name"));
        }
        let now = Utc::now();
        assert_eq!(validate_expiry(None, now).unwrap(), None);
        let later = now + Duration::days(1);
        assert_eq!(validate_expiry(Some(later), now).unwrap(), Some(later));
        let e = validate_expiry(Some(now), now).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("expires_at"));
    }

    fn key(expires_at: Option<DateTime<Utc>>, last_used_at: Option<DateTime<Utc>>) -> ApiKey {
        ApiKey {
            id: ApiKeyId::generate(),
            tenant_id: TenantId::generate(),
            name: "k".into(),
            prefix: "chk_12345678".into(),
            created_at: Utc::now(),
            expires_at,
            last_used_at,
        }
    }

    #[test]
    fn expiry_counts_from_its_instant_on() {
        let now = Utc::now();
        assert!(!key(None, None).is_expired(now));
        assert!(!key(Some(now + Duration::seconds(1)), None).is_expired(now));
        assert!(key(Some(now), None).is_expired(now));
        assert!(key(Some(now - Duration::seconds(1)), None).is_expired(now));
    }

    #[test]
    fn last_use_is_recorded_at_most_once_a_minute() {
        let now = Utc::now();
        assert!(key(None, None).needs_touch(now));
        assert!(!key(None, Some(now - Duration::seconds(59))).needs_touch(now));
        assert!(key(None, Some(now - Duration::seconds(60))).needs_touch(now));
    }
}
