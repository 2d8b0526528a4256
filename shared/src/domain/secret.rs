//! Webhook signing secrets: `whsec_` + base64 of 24 to 64 random bytes.
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use std::fmt;

use super::ValidationError;
use super::ids::random_bytes;

const PREFIX: &str = "whsec_";
const MIN_KEY: usize = 24;
const MAX_KEY: usize = 64;

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WebhookSecret {
    encoded: String,
    key: Vec<u8>,
}

impl WebhookSecret {
    /// A fresh secret with a 32-byte key.
    pub fn generate() -> Self {
        let key = random_bytes(32);
        Self {
            encoded: format!("{PREFIX}{}", B64.encode(&key)),
            key,
        }
    }

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let body = raw.strip_prefix(PREFIX).ok_or_else(|| {
            ValidationError::general("must start with `whsec_` followed by base64")
        })?;
        let key = B64.decode(body).map_err(|_| {
            ValidationError::general("the part after `whsec_` must be valid base64")
        })?;
        if !(MIN_KEY..=MAX_KEY).contains(&key.len()) {
            return Err(ValidationError::general(format!(
                "the key must decode to {MIN_KEY}-{MAX_KEY} bytes (got {})",
                key.len()
            )));
        }
        Ok(Self {
            encoded: raw.to_string(),
            key,
        })
    }

    /// The HMAC key.
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// The `whsec_...` form, to show the tenant once or on explicit request.
    pub fn expose(&self) -> &str {
        &self.encoded
    }
}

impl TryFrom<String> for WebhookSecret {
    type Error = ValidationError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<WebhookSecret> for String {
    fn from(s: WebhookSecret) -> String {
        s.encoded
    }
}

/// Never prints the secret, so it cannot reach a log line through `{:?}`.
impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_parse_back() {
        let s = WebhookSecret::generate();
        assert!(s.expose().starts_with("whsec_"));
        assert_eq!(WebhookSecret::parse(s.expose()).unwrap().key(), s.key());
    }

    #[test]
    fn bad_secrets_are_rejected() {
        assert!(WebhookSecret::parse("abc").is_err());
        assert!(WebhookSecret::parse("whsec_!!!").is_err());
        assert!(WebhookSecret::parse("whsec_c2hvcnQ=").is_err()); // 5 bytes
    }

    #[test]
    fn debug_hides_the_secret() {
        let s = WebhookSecret::generate();
        assert!(!format!("{s:?}").contains(s.expose()));
    }
}
