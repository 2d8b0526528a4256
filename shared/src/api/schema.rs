//! JSON Schemas of the value types the API shows as plain strings (ids, URLs,
//! secrets, event types), for the OpenAPI document. The derives on the DTOs
//! build on these.
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Serialize;
use std::borrow::Cow;

use crate::domain::catalogue::EventType;
use crate::domain::ids::{ApiKeyId, DeliveryId, EventId, IntegrationId, PortalSessionId, TenantId};
use crate::domain::secret::WebhookSecret;
use crate::domain::target_url::{MAX_URL_LEN, TargetUrl};

macro_rules! string_schema {
    ($ty:ty, $name:literal, $schema:tt) => {
        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                $name.into()
            }
            fn inline_schema() -> bool {
                true
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!($schema)
            }
        }
    };
}

string_schema!(TenantId, "TenantId", {
    "type": "string", "pattern": "^ten_[A-Za-z0-9_-]{1,64}$", "description": "a tenant id"
});
string_schema!(IntegrationId, "IntegrationId", {
    "type": "string", "pattern": "^int_[A-Za-z0-9_-]{1,64}$", "description": "an integration id"
});
string_schema!(DeliveryId, "DeliveryId", {
    "type": "string", "pattern": "^msg_[A-Za-z0-9_-]{1,64}$",
    "description": "a delivery id: the `webhook-id` header, the same on every attempt"
});
string_schema!(PortalSessionId, "PortalSessionId", {
    "type": "string", "pattern": "^ps_[A-Za-z0-9_-]{1,64}$", "description": "a portal session id"
});
string_schema!(ApiKeyId, "ApiKeyId", {
    "type": "string", "pattern": "^key_[A-Za-z0-9_-]{1,64}$",
    "description": "an API key's id (not the key: that is shown only once)"
});
string_schema!(EventId, "EventId", {
    "type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[!-~]+$",
    "description": "the event's id (its idempotency key): printable ASCII without spaces"
});
string_schema!(TargetUrl, "TargetUrl", {
    "type": "string", "maxLength": MAX_URL_LEN,
    "description": "an absolute http(s) URL; a password in it is shown as ***"
});
string_schema!(WebhookSecret, "WebhookSecret", {
    "type": "string", "pattern": "^whsec_[A-Za-z0-9+/=]+$",
    "description": "`whsec_` followed by the base64 of 24-64 random bytes"
});

impl JsonSchema for EventType {
    fn schema_name() -> Cow<'static, str> {
        "EventType".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let names: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        json_schema!({"type": "string", "enum": names, "description": "an event type of the catalogue"})
    }
}

/// The body of every error answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ErrorDetail {
    /// A stable machine-readable code such as `invalid_request` or `not_found`.
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
    /// The request field at fault (`url`, `headers.Host`, `events`...), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}
