//! Identifiers. Each is a prefixed, validated newtype, so an id of one kind
//! cannot be passed where another is expected.
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

use super::ValidationError;

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new id: time-ordered (UUIDv7), so sorting ids sorts by creation.
            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, uuid::Uuid::now_v7().simple()))
            }

            pub fn parse(raw: &str) -> Result<Self, ValidationError> {
                let rest = raw.strip_prefix($prefix).ok_or_else(|| {
                    ValidationError::general(format!("must start with `{}`", $prefix))
                })?;
                if rest.is_empty()
                    || rest.len() > 64
                    || !rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                {
                    return Err(ValidationError::general(format!(
                        "must be `{}` followed by 1-64 letters, digits, `_` or `-`",
                        $prefix
                    )));
                }
                Ok(Self(raw.to_string()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = ValidationError;
            fn try_from(raw: String) -> Result<Self, Self::Error> {
                Self::parse(&raw)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

prefixed_id!(
    /// A tenant: one customer workspace of the chat product.
    TenantId,
    "ten_"
);
prefixed_id!(
    /// An integration: one endpoint registered by a tenant.
    IntegrationId,
    "int_"
);
prefixed_id!(
    /// A delivery: one event to one integration. It is the `webhook-id`
    /// header, the same on every attempt, so receivers can dedupe on it.
    DeliveryId,
    "msg_"
);

prefixed_id!(
    /// A portal session: one link to the portal handed to a tenant's user.
    /// Not a secret: the session's token is.
    PortalSessionId,
    "ps_"
);

prefixed_id!(
    /// An API key: its public id (the key itself is a secret, kept as a hash).
    ApiKeyId,
    "key_"
);

impl DeliveryId {
    /// The delivery of `event` to `integration` always gets the same id, so an
    /// intake retried after a partial failure fans out the same deliveries
    /// again (receivers dedupe them on `webhook-id`) instead of new ones.
    pub fn derive(tenant: &TenantId, event: &EventId, integration: &IntegrationId) -> Self {
        let mut h = Sha256::new();
        for part in [tenant.as_str(), event.as_str(), integration.as_str()] {
            h.update((part.len() as u32).to_be_bytes());
            h.update(part.as_bytes());
        }
        Self(format!(
            "{}{}",
            Self::PREFIX,
            hex::encode(&h.finalize()[..16])
        ))
    }
}

/// An event id, chosen by the chat product (its idempotency key) or generated.
/// Any 1-128 printable ASCII characters without spaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EventId(String);

impl EventId {
    pub fn generate() -> Self {
        Self(format!("evt_{}", uuid::Uuid::now_v7().simple()))
    }

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        if raw.is_empty() || raw.len() > 128 || !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ValidationError::general(
                "must be 1-128 printable ASCII characters without spaces",
            ));
        }
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for EventId {
    type Error = ValidationError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<EventId> for String {
    fn from(id: EventId) -> String {
        id.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `n` random bytes from the OS-seeded thread RNG.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    rand::rng().fill_bytes(&mut buf);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_and_sort_by_time() {
        let a = IntegrationId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = IntegrationId::generate();
        assert!(IntegrationId::parse(a.as_str()).is_ok());
        assert!(a < b);
    }

    #[test]
    fn wrong_prefix_is_rejected() {
        let err = TenantId::parse("int_abc").unwrap_err();
        assert!(err.message.contains("ten_"));
        assert!(TenantId::parse("ten_").is_err());
        assert!(TenantId::parse("ten_a b").is_err());
    }

    #[test]
    fn derived_delivery_ids_are_stable_and_distinct() {
        let t = TenantId::parse("ten_a").unwrap();
        let e = EventId::parse("e1").unwrap();
        let i1 = IntegrationId::parse("int_1").unwrap();
        let i2 = IntegrationId::parse("int_2").unwrap();
        assert_eq!(
            DeliveryId::derive(&t, &e, &i1),
            DeliveryId::derive(&t, &e, &i1)
        );
        assert_ne!(
            DeliveryId::derive(&t, &e, &i1),
            DeliveryId::derive(&t, &e, &i2)
        );
        assert!(DeliveryId::parse(DeliveryId::derive(&t, &e, &i1).as_str()).is_ok());
    }

    #[test]
    fn event_ids_reject_spaces_and_overlong() {
        assert!(EventId::parse("chat-42.closed").is_ok());
        assert!(EventId::parse("a b").is_err());
        assert!(EventId::parse(&"x".repeat(129)).is_err());
        assert!(EventId::parse("").is_err());
    }
}
