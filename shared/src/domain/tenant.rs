//! A tenant's lifecycle: active, suspended by an operator, or being deleted.
use serde::{Deserialize, Serialize};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    /// Its keys, portal links and events are accepted.
    #[default]
    Active,
    /// Its keys and portal links answer 403, its events are refused and its
    /// pending deliveries fail with the reason; lifting it restores them.
    Suspended,
    /// Being purged: its keys answer 401 and its data is being removed.
    Deleting,
}

impl TenantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Deleting => "deleting",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            "deleting" => Some(Self::Deleting),
            _ => None,
        }
    }
}

/// What a suspended tenant's callers are told (403) and what its stopped
/// deliveries record as their reason.
pub const SUSPENDED_MESSAGE: &str = "the tenant is suspended: its requests are refused and its deliveries stopped until an operator lifts the suspension";

/// The reason a pending delivery of a suspended tenant fails with.
pub const SUSPENDED_DELIVERY_REASON: &str = "the tenant is suspended";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_their_names() {
        for s in [
            TenantStatus::Active,
            TenantStatus::Suspended,
            TenantStatus::Deleting,
        ] {
            assert_eq!(TenantStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(TenantStatus::parse("gone"), None);
    }
}
