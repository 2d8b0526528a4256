//! Integrations: one endpoint a tenant registered, with everything needed to
//! render, sign and send to it. Built only through validation.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

use super::ValidationError;
use super::catalogue::EventType;
use super::ids::{IntegrationId, TenantId};
use super::retry::RetryPolicy;
use super::secret::WebhookSecret;
pub use super::sequence::Ordering;
use super::target_url::{TargetUrl, UrlPolicy};

pub const MIN_TIMEOUT_MS: u32 = 1_000;
pub const MAX_TIMEOUT_MS: u32 = 30_000;
pub const DEFAULT_TIMEOUT_MS: u32 = 10_000;
pub const MAX_NAME_LEN: usize = 200;
pub const MAX_CUSTOM_HEADERS: usize = 20;
/// How a read shows the Rocket.Chat token of `format_options`.
pub const REDACTED: &str = "***";
/// Old secrets kept during grace periods (Svix keeps up to 10).
pub const MAX_RETIRED_SECRETS: usize = 10;

/// The payload shape an integration receives.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Standard,
    Rocketchat,
    Livechat,
    Olark,
    Amplifyreach,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::Standard,
        Format::Rocketchat,
        Format::Livechat,
        Format::Olark,
        Format::Amplifyreach,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Standard => "standard",
            Format::Rocketchat => "rocketchat",
            Format::Livechat => "livechat",
            Format::Olark => "olark",
            Format::Amplifyreach => "amplifyreach",
        }
    }

    /// Whether this format has a payload for the event type (the catalogue table).
    pub fn supports(self, kind: EventType) -> bool {
        use EventType::*;
        if kind == WebhookTest {
            return true;
        }
        match self {
            Format::Standard => true,
            Format::Rocketchat => matches!(
                kind,
                ChatStarted
                    | ChatQueued
                    | ChatTaken
                    | ChatForwarded
                    | ChatClosed
                    | MessageVisitor
                    | MessageAgent
                    | OfflineMessage
                    | LeadCaptured
            ),
            Format::Livechat => matches!(
                kind,
                ChatStarted
                    | ChatQueued
                    | ChatClosed
                    | ChatTagsChanged
                    | TicketCreated
                    | CannedResponseChanged
            ),
            Format::Olark => matches!(
                kind,
                ChatStarted | ChatClosed | OfflineMessage | LeadCaptured
            ),
            Format::Amplifyreach => matches!(kind, ChatClosed | LeadCaptured),
        }
    }

    /// The event types of `events` this format cannot render.
    pub fn unsupported<'a>(
        self,
        events: impl IntoIterator<Item = &'a EventType>,
    ) -> Vec<EventType> {
        events
            .into_iter()
            .copied()
            .filter(|e| !self.supports(*e))
            .collect()
    }
}

/// Per-format settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct FormatOptions {
    /// rocketchat: the `X-RocketChat-Livechat-Token` value; livechat: the body's
    /// `token`. Defaults to the integration's secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// livechat: the body's `license_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_id: Option<String>,
    /// livechat: which data types to include (`chat`, `visitor`,
    /// `pre_chat_survey`, `ticket`, `canned_response`); all the event allows when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_types: Option<BTreeSet<String>>,
    /// olark: also send the extra events (`start`), which carry `eventType`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub extra_events: bool,
}

/// A signing secret kept valid until `expires_at` after a rotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetiredSecret {
    pub secret: WebhookSecret,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
/// Built only through [`Integration::create`] and changed only through its
/// methods, so every integration held has passed validation; the stored form
/// (serde) is the one way in besides, for what was validated when it was written.
pub struct Integration {
    id: IntegrationId,
    tenant_id: TenantId,
    name: String,
    url: TargetUrl,
    format: Format,
    events: BTreeSet<EventType>,
    secret: WebhookSecret,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    retired_secrets: Vec<RetiredSecret>,
    timeout_ms: u32,
    retry_policy: RetryPolicy,
    #[serde(default, skip_serializing_if = "Ordering::is_none")]
    ordering: Ordering,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    format_options: FormatOptions,
    enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    disabled_reason: Option<String>,
    /// Start of the current run of failures with no success; cleared by a success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failing_since: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Integration {
    pub fn id(&self) -> &IntegrationId {
        &self.id
    }

    pub fn tenant_id(&self) -> &TenantId {
        &self.tenant_id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn url(&self) -> &TargetUrl {
        &self.url
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn events(&self) -> &BTreeSet<EventType> {
        &self.events
    }

    pub fn secret(&self) -> &WebhookSecret {
        &self.secret
    }

    pub fn retired_secrets(&self) -> &[RetiredSecret] {
        &self.retired_secrets
    }

    pub fn timeout_ms(&self) -> u32 {
        self.timeout_ms
    }

    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry_policy
    }

    pub fn ordering(&self) -> Ordering {
        self.ordering
    }

    pub fn headers(&self) -> &BTreeMap<String, String> {
        &self.headers
    }

    pub fn format_options(&self) -> &FormatOptions {
        &self.format_options
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Why deliveries stopped, while disabled.
    pub fn disabled_reason(&self) -> Option<&str> {
        self.disabled_reason.as_deref()
    }

    /// Start of the current run of failures with no success.
    pub fn failing_since(&self) -> Option<DateTime<Utc>> {
        self.failing_since
    }

    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    pub fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }

    /// Stop deliveries for `reason` (the dispatcher's auto-disable, a 410 Gone).
    pub fn disable(&mut self, reason: impl Into<String>, at: DateTime<Utc>) {
        self.enabled = false;
        self.disabled_reason = Some(reason.into());
        self.updated_at = at;
    }

    /// Record the start of a run of failures (`None`: a success ended it).
    pub fn set_failing_since(&mut self, since: Option<DateTime<Utc>>) {
        self.failing_since = since;
    }

    /// Whether an event of this type goes to this integration.
    pub fn wants(&self, kind: EventType) -> bool {
        let olark_extra_off = self.format == Format::Olark
            && kind == EventType::ChatStarted
            && !self.format_options.extra_events;
        self.enabled && self.events.contains(&kind) && !olark_extra_off
    }

    /// The secrets that sign a delivery now: the current one, then the retired
    /// ones still in their grace period.
    pub fn signing_secrets(&self, now: DateTime<Utc>) -> impl Iterator<Item = &WebhookSecret> {
        std::iter::once(&self.secret).chain(
            self.retired_secrets
                .iter()
                .filter(move |r| r.expires_at > now)
                .map(|r| &r.secret),
        )
    }

    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.timeout_ms as u64)
    }
}

/// The integration a delivery goes to, if it can be attempted; otherwise
/// (`None`: deleted, or disabled) the reason its delivery is failed with.
pub fn deliverable(integration: Option<Integration>) -> Result<Integration, String> {
    match integration {
        None => Err("the integration was deleted".into()),
        Some(i) if !i.enabled => Err(format!(
            "the integration is disabled: {}",
            i.disabled_reason
                .as_deref()
                .unwrap_or("disabled by the tenant")
        )),
        Some(i) => Ok(i),
    }
}

pub fn validate_name(name: &str) -> Result<(), ValidationError> {
    if name.trim().is_empty() || name.len() > MAX_NAME_LEN || name.chars().any(char::is_control) {
        return Err(ValidationError::field(
            "name",
            format!("must be 1-{MAX_NAME_LEN} characters without control characters"),
        ));
    }
    Ok(())
}

pub fn validate_timeout(timeout_ms: u32) -> Result<(), ValidationError> {
    if !(MIN_TIMEOUT_MS..=MAX_TIMEOUT_MS).contains(&timeout_ms) {
        return Err(ValidationError::field(
            "timeout_ms",
            format!("must be between {MIN_TIMEOUT_MS} and {MAX_TIMEOUT_MS}"),
        ));
    }
    Ok(())
}

/// Header names a tenant may not set: hop-by-hop, framing, and our own signature headers.
const RESERVED_HEADERS: [&str; 16] = [
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    "expect",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
];

pub fn validate_headers(headers: &BTreeMap<String, String>) -> Result<(), ValidationError> {
    if headers.len() > MAX_CUSTOM_HEADERS {
        return Err(ValidationError::field(
            "headers",
            format!("at most {MAX_CUSTOM_HEADERS} custom headers"),
        ));
    }
    for (name, value) in headers {
        let field = format!("headers.{}", name.chars().take(64).collect::<String>());
        let token_ok = !name.is_empty()
            && name.len() <= 128
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token_ok {
            return Err(ValidationError::field(field, "is not a valid header name"));
        }
        let lower = name.to_ascii_lowercase();
        if RESERVED_HEADERS.contains(&lower.as_str()) || lower.starts_with("webhook-") {
            return Err(ValidationError::field(
                field,
                "is reserved and cannot be set as a custom header",
            ));
        }
        if value.len() > 4096 || value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(ValidationError::field(
                field,
                "value must be at most 4096 bytes without CR, LF or NUL",
            ));
        }
        if value.bytes().any(|b| b < 0x20 && b != b'\t' || b == 0x7f) {
            return Err(ValidationError::field(
                field,
                "value must not contain control characters",
            ));
        }
    }
    Ok(())
}

/// A new integration. Unknown fields are rejected.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIntegration {
    /// A label for people (default `webhook`).
    #[serde(default)]
    #[schemars(length(min = 1, max = 200))]
    pub name: Option<String>,
    /// Where deliveries go: an absolute https URL (http only where the deployment allows it).
    #[schemars(length(min = 1, max = 2048))]
    pub url: String,
    /// The payload shape (default `standard`).
    #[serde(default)]
    pub format: Format,
    /// The event types to deliver; each must be renderable by the format.
    #[schemars(with = "Vec<EventType>", length(min = 1))]
    pub events: Vec<String>,
    /// The signing secret (`whsec_` + base64); generated when absent.
    #[serde(default)]
    pub secret: Option<String>,
    /// Request timeout in milliseconds, 1000-30000 (default 10000).
    #[serde(default)]
    #[schemars(range(min = 1000, max = 30000))]
    pub timeout_ms: Option<u32>,
    /// `standard` (default), `rocketchat`, `livechat`, `none`, or a list of delays in seconds.
    #[serde(default)]
    pub retry_policy: Option<RetryPolicy>,
    /// `none` (default): deliveries go as they come. `chat`: the deliveries
    /// of one chat go one at a time, in the order their events were accepted.
    #[serde(default)]
    pub ordering: Option<Ordering>,
    /// Custom headers sent with every delivery (not hop-by-hop, framing or `webhook-*` ones).
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
    /// Whether deliveries are sent (default true).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Per-format settings.
    #[serde(default)]
    pub format_options: Option<FormatOptions>,
}

/// A partial update: only the fields present change. Unknown fields are rejected.
#[derive(Debug, Clone, Deserialize, Default, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrationPatch {
    #[schemars(length(min = 1, max = 200))]
    pub name: Option<String>,
    #[schemars(length(min = 1, max = 2048))]
    pub url: Option<String>,
    pub format: Option<Format>,
    #[schemars(with = "Option<Vec<EventType>>", length(min = 1))]
    pub events: Option<Vec<String>>,
    #[schemars(range(min = 1000, max = 30000))]
    pub timeout_ms: Option<u32>,
    pub retry_policy: Option<RetryPolicy>,
    /// Applies to events accepted from then on; deliveries already in a
    /// chat's sequence keep their order.
    pub ordering: Option<Ordering>,
    pub headers: Option<BTreeMap<String, String>>,
    pub enabled: Option<bool>,
    pub format_options: Option<FormatOptions>,
}

/// Parse every event name; the error lists all unknown and all unrenderable ones.
pub fn parse_events(
    names: &[String],
    format: Format,
) -> Result<BTreeSet<EventType>, ValidationError> {
    if names.is_empty() {
        return Err(ValidationError::field(
            "events",
            "must list at least one event type",
        ));
    }
    let mut events = BTreeSet::new();
    let mut unknown = Vec::new();
    for name in names {
        match name.parse::<EventType>() {
            Ok(t) => {
                events.insert(t);
            }
            Err(_) => unknown.push(name.chars().take(64).collect::<String>()),
        }
    }
    if !unknown.is_empty() {
        return Err(ValidationError::field(
            "events",
            format!(
                "unknown event types: {}; known types: {}",
                unknown.join(", "),
                EventType::ALL.map(|t| t.as_str()).join(", ")
            ),
        ));
    }
    let unsupported = format.unsupported(&events);
    if !unsupported.is_empty() {
        return Err(ValidationError::field(
            "events",
            format!(
                "format `{}` cannot render: {}",
                format.as_str(),
                unsupported
                    .iter()
                    .map(|t| t.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    Ok(events)
}

fn parse_url(raw: &str, policy: UrlPolicy) -> Result<TargetUrl, ValidationError> {
    TargetUrl::parse(raw, policy).map_err(|e| ValidationError::field("url", e.message))
}

fn validate_format_options(o: &FormatOptions) -> Result<(), ValidationError> {
    let short = |field: &str, v: &Option<String>| match v {
        Some(s) if s.is_empty() || s.len() > 256 || s.chars().any(char::is_control) => {
            Err(ValidationError::field(
                format!("format_options.{field}"),
                "must be 1-256 characters without control characters",
            ))
        }
        _ => Ok(()),
    };
    short("token", &o.token)?;
    short("license_id", &o.license_id)?;
    const DATA_TYPES: [&str; 5] = [
        "chat",
        "visitor",
        "pre_chat_survey",
        "ticket",
        "canned_response",
    ];
    if let Some(types) = &o.data_types
        && let Some(bad) = types.iter().find(|t| !DATA_TYPES.contains(&t.as_str()))
    {
        return Err(ValidationError::field(
            "format_options.data_types",
            format!(
                "unknown data type `{bad}`; known: {}",
                DATA_TYPES.join(", ")
            ),
        ));
    }
    Ok(())
}

impl Integration {
    /// A new integration from a tenant's settings, every field validated (the
    /// error names the field); the secret is generated unless given.
    pub fn create(
        tenant: &TenantId,
        input: NewIntegration,
        policy: UrlPolicy,
        now: DateTime<Utc>,
    ) -> Result<(Integration, WebhookSecret), ValidationError> {
        let name = input.name.unwrap_or_else(|| "webhook".into());
        validate_name(&name)?;
        let url = parse_url(&input.url, policy)?;
        let events = parse_events(&input.events, input.format)?;
        let secret = match input.secret {
            Some(s) => {
                WebhookSecret::parse(&s).map_err(|e| ValidationError::field("secret", e.message))?
            }
            None => WebhookSecret::generate(),
        };
        let timeout_ms = input.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
        validate_timeout(timeout_ms)?;
        let retry_policy = input.retry_policy.unwrap_or_default().normalized();
        retry_policy
            .validate()
            .map_err(|e| e.under("retry_policy"))?;
        let headers = input.headers.unwrap_or_default();
        validate_headers(&headers)?;
        let format_options = input.format_options.unwrap_or_default();
        validate_format_options(&format_options)?;
        let integration = Integration {
            id: IntegrationId::generate(),
            tenant_id: tenant.clone(),
            name,
            url,
            format: input.format,
            events,
            secret: secret.clone(),
            retired_secrets: Vec::new(),
            timeout_ms,
            retry_policy,
            ordering: input.ordering.unwrap_or_default(),
            headers,
            format_options,
            enabled: input.enabled.unwrap_or(true),
            disabled_reason: None,
            failing_since: None,
            created_at: now,
            updated_at: now,
        };
        Ok((integration, secret))
    }

    /// An integration with a fixed identity that renders samples (the API's
    /// examples, the golden files): every event type the format renders, the
    /// standard retry policy, no custom headers. Never stored.
    pub fn sample(
        id: IntegrationId,
        tenant_id: TenantId,
        url: TargetUrl,
        format: Format,
        secret: WebhookSecret,
        format_options: FormatOptions,
        now: DateTime<Utc>,
    ) -> Integration {
        Integration {
            id,
            tenant_id,
            name: "sample".into(),
            url,
            format,
            events: EventType::ALL
                .into_iter()
                .filter(|e| format.supports(*e))
                .collect(),
            secret,
            retired_secrets: Vec::new(),
            timeout_ms: DEFAULT_TIMEOUT_MS,
            retry_policy: RetryPolicy::STANDARD,
            ordering: Ordering::None,
            headers: BTreeMap::new(),
            format_options,
            enabled: true,
            disabled_reason: None,
            failing_since: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// Apply a partial update, re-validating what changed.
    pub fn apply(
        self,
        patch: IntegrationPatch,
        policy: UrlPolicy,
        now: DateTime<Utc>,
    ) -> Result<Integration, ValidationError> {
        let mut i = self;
        if let Some(name) = patch.name {
            validate_name(&name)?;
            i.name = name;
        }
        if let Some(url) = patch.url {
            i.url = parse_url(&url, policy)?;
        }
        if let Some(format) = patch.format {
            i.format = format;
        }
        match patch.events {
            Some(names) => i.events = parse_events(&names, i.format)?,
            None => {
                let names: Vec<String> = i.events.iter().map(|e| e.to_string()).collect();
                parse_events(&names, i.format)?;
            }
        }
        if let Some(t) = patch.timeout_ms {
            validate_timeout(t)?;
            i.timeout_ms = t;
        }
        if let Some(p) = patch.retry_policy {
            let p = p.normalized();
            p.validate().map_err(|e| e.under("retry_policy"))?;
            i.retry_policy = p;
        }
        if let Some(o) = patch.ordering {
            i.ordering = o;
        }
        if let Some(h) = patch.headers {
            validate_headers(&h)?;
            i.headers = h;
        }
        if let Some(mut o) = patch.format_options {
            // The token as every read shows it (`***`) keeps the stored one,
            // so settings read, edited and sent back do not clobber it.
            if o.token.as_deref() == Some(REDACTED) {
                o.token = i.format_options.token.clone();
            }
            validate_format_options(&o)?;
            i.format_options = o;
        }
        if let Some(enabled) = patch.enabled {
            if enabled && !i.enabled {
                i.disabled_reason = None;
                i.failing_since = None;
            }
            if !enabled && i.enabled {
                i.disabled_reason = Some("disabled by the tenant".into());
            }
            i.enabled = enabled;
        }
        i.updated_at = now;
        Ok(i)
    }

    /// Replace the signing secret; the old one keeps signing for `grace`
    /// (none when zero). Answers until when the replaced one signs.
    pub fn rotate_secret(
        &mut self,
        secret: WebhookSecret,
        grace: chrono::Duration,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        self.retired_secrets.retain(|r| r.expires_at > now);
        let previous_expires_at = (grace > chrono::Duration::zero()).then(|| now + grace);
        if let Some(expires_at) = previous_expires_at {
            self.retired_secrets.insert(
                0,
                RetiredSecret {
                    secret: self.secret.clone(),
                    expires_at,
                },
            );
        }
        self.retired_secrets.truncate(MAX_RETIRED_SECRETS);
        self.secret = secret;
        self.updated_at = now;
        previous_expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_support_follows_the_catalogue() {
        assert!(Format::Standard.supports(EventType::TicketCreated));
        assert!(Format::Rocketchat.supports(EventType::MessageAgent));
        assert!(!Format::Rocketchat.supports(EventType::TicketCreated));
        assert!(Format::Livechat.supports(EventType::ChatTagsChanged));
        assert!(!Format::Olark.supports(EventType::ChatTaken));
        assert!(Format::Amplifyreach.supports(EventType::LeadCaptured));
        for f in Format::ALL {
            assert!(f.supports(EventType::WebhookTest));
        }
        let bad =
            Format::Amplifyreach.unsupported(&[EventType::ChatClosed, EventType::ChatStarted]);
        assert_eq!(bad, vec![EventType::ChatStarted]);
    }

    #[test]
    fn headers_reject_reserved_names_and_line_breaks() {
        let ok: BTreeMap<_, _> = [("X-Api-Key".to_string(), "abc".to_string())].into();
        assert!(validate_headers(&ok).is_ok());
        for (n, v) in [
            ("Host", "x"),
            ("content-length", "1"),
            ("Transfer-Encoding", "chunked"),
            ("webhook-signature", "v1,x"),
            ("X-A", "a\r\nInjected: 1"),
            ("Bad Name", "x"),
            ("X-B", "a\nb"),
            ("", "x"),
        ] {
            let h: BTreeMap<_, _> = [(n.to_string(), v.to_string())].into();
            assert!(validate_headers(&h).is_err(), "{n}: {v:?}");
        }
    }

    #[test]
    fn timeouts_and_names_are_bounded() {
        assert!(validate_timeout(999).is_err());
        assert!(validate_timeout(1000).is_ok());
        assert!(validate_timeout(30_001).is_err());
        assert!(validate_name("").is_err());
        assert!(validate_name("CRM").is_ok());
    }
}
