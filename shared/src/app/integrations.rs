//! Integration management: create, list, read, change, delete, secrets, test-send.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::AppError;
use super::outbound::prepare;
use crate::domain::ValidationError;
use crate::domain::catalogue::EventType;
use crate::domain::delivery::{Attempt, Delivery, DeliveryStatus, link_from_response};
use crate::domain::event::Event;
use crate::domain::ids::{DeliveryId, IntegrationId, TenantId};
use crate::domain::integration::*;
use crate::domain::message::DeliveryJob;
use crate::domain::retry::RetryPolicy;
use crate::domain::secret::WebhookSecret;
use crate::domain::target_url::{TargetUrl, UrlPolicy};
use crate::ports::{DeliveryLog, IntegrationStore, Page, WebhookSender};

/// Old secrets kept during grace periods (Svix keeps up to 10).
pub const MAX_RETIRED_SECRETS: usize = 10;
pub const MAX_PAGE: usize = 100;

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
    pub headers: Option<BTreeMap<String, String>>,
    pub enabled: Option<bool>,
    pub format_options: Option<FormatOptions>,
}

/// An integration as the API shows it: no secret, credentials redacted.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct IntegrationView {
    pub id: IntegrationId,
    pub name: String,
    pub url: String,
    pub format: Format,
    pub events: BTreeSet<EventType>,
    pub timeout_ms: u32,
    pub retry_policy: RetryPolicy,
    pub headers: BTreeMap<String, String>,
    pub format_options: FormatOptions,
    pub enabled: bool,
    /// Why the integration is disabled (by the tenant, after `410 Gone`, after failing too long).
    pub disabled_reason: Option<String>,
    /// Start of the current run of failures without a success.
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Integration> for IntegrationView {
    fn from(i: &Integration) -> Self {
        let mut format_options = i.format_options.clone();
        if format_options.token.is_some() {
            format_options.token = Some("***".into());
        }
        Self {
            id: i.id.clone(),
            name: i.name.clone(),
            url: i.url.redacted(),
            format: i.format,
            events: i.events.clone(),
            timeout_ms: i.timeout_ms,
            retry_policy: i.retry_policy.clone(),
            headers: i.headers.clone(),
            format_options,
            enabled: i.enabled,
            disabled_reason: i.disabled_reason.clone(),
            failing_since: i.failing_since,
            created_at: i.created_at,
            updated_at: i.updated_at,
        }
    }
}

/// The answer to a creation: the view plus the secret, shown this once.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CreatedIntegration {
    #[serde(flatten)]
    pub integration: IntegrationView,
    pub secret: String,
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

pub fn build(
    tenant: &TenantId,
    input: NewIntegration,
    policy: UrlPolicy,
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
    let now = Utc::now();
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

/// Apply a partial update, re-validating what changed.
pub fn apply(
    mut i: Integration,
    patch: IntegrationPatch,
    policy: UrlPolicy,
) -> Result<Integration, ValidationError> {
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
    if let Some(h) = patch.headers {
        validate_headers(&h)?;
        i.headers = h;
    }
    if let Some(o) = patch.format_options {
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
    i.updated_at = Utc::now();
    Ok(i)
}

pub struct Integrations {
    pub store: Arc<dyn IntegrationStore>,
    pub policy: UrlPolicy,
    pub secret_grace: chrono::Duration,
}

impl Integrations {
    pub async fn create(
        &self,
        tenant: &TenantId,
        input: NewIntegration,
    ) -> Result<CreatedIntegration, AppError> {
        let (integration, secret) = build(tenant, input, self.policy)?;
        self.store.create(&integration).await?;
        Ok(CreatedIntegration {
            integration: IntegrationView::from(&integration),
            secret: secret.expose().to_string(),
        })
    }

    pub async fn get(&self, tenant: &TenantId, id: &str) -> Result<Integration, AppError> {
        let id = IntegrationId::parse(id).map_err(|_| AppError::NotFound("integration"))?;
        self.store
            .get(tenant, &id)
            .await?
            .ok_or(AppError::NotFound("integration"))
    }

    pub async fn list(
        &self,
        tenant: &TenantId,
        cursor: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Page<IntegrationView>, AppError> {
        let limit = limit.unwrap_or(50).clamp(1, MAX_PAGE);
        let page = self.store.list(tenant, cursor, limit).await?;
        Ok(Page {
            items: page.items.iter().map(IntegrationView::from).collect(),
            next_cursor: page.next_cursor,
        })
    }

    pub async fn update(
        &self,
        tenant: &TenantId,
        id: &str,
        patch: IntegrationPatch,
    ) -> Result<IntegrationView, AppError> {
        let current = self.get(tenant, id).await?;
        let updated = apply(current, patch, self.policy)?;
        if !self.store.replace(&updated).await? {
            return Err(AppError::NotFound("integration"));
        }
        Ok(IntegrationView::from(&updated))
    }

    pub async fn delete(&self, tenant: &TenantId, id: &str) -> Result<(), AppError> {
        let id = IntegrationId::parse(id).map_err(|_| AppError::NotFound("integration"))?;
        if self.store.delete(tenant, &id).await? {
            Ok(())
        } else {
            Err(AppError::NotFound("integration"))
        }
    }

    /// Replace the secret; the old one keeps signing for `grace`. Answers the
    /// integration, the new secret and until when the replaced one signs
    /// (`None` without a grace period).
    pub async fn rotate_secret(
        &self,
        tenant: &TenantId,
        id: &str,
        new_secret: Option<String>,
        grace: Option<chrono::Duration>,
    ) -> Result<(Integration, WebhookSecret, Option<DateTime<Utc>>), AppError> {
        let mut i = self.get(tenant, id).await?;
        let secret = match new_secret {
            Some(s) => {
                WebhookSecret::parse(&s).map_err(|e| ValidationError::field("secret", e.message))?
            }
            None => WebhookSecret::generate(),
        };
        let now = Utc::now();
        let grace = grace.unwrap_or(self.secret_grace);
        i.retired_secrets.retain(|r| r.expires_at > now);
        let previous_expires_at = (grace > chrono::Duration::zero()).then(|| now + grace);
        if grace > chrono::Duration::zero() {
            i.retired_secrets.insert(
                0,
                RetiredSecret {
                    secret: i.secret.clone(),
                    expires_at: now + grace,
                },
            );
        }
        i.retired_secrets.truncate(MAX_RETIRED_SECRETS);
        i.secret = secret.clone();
        i.updated_at = now;
        if !self.store.replace(&i).await? {
            return Err(AppError::NotFound("integration"));
        }
        Ok((i, secret, previous_expires_at))
    }
}

/// The result of a test-send, as the API shows it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TestResult {
    pub ok: bool,
    pub delivery_id: DeliveryId,
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    pub error_kind: Option<crate::domain::delivery::ErrorKind>,
    pub error: Option<String>,
    pub response_excerpt: Option<String>,
    pub link: Option<String>,
}

/// Send a `webhook.test` delivery now, through the same rendering, signing
/// and egress path as the dispatcher, and log it like any delivery.
pub async fn test_send(
    integration: &Integration,
    sender: &dyn WebhookSender,
    log: &dyn DeliveryLog,
) -> Result<TestResult, AppError> {
    let now = Utc::now();
    let event = Event {
        id: crate::domain::ids::EventId::generate(),
        kind: EventType::WebhookTest,
        occurred_at: now,
        chat: None,
        visitor: None,
        agent: None,
        message: None,
        pre_chat_survey: Vec::new(),
        offline_message: None,
        lead: None,
        ticket: None,
        canned_response: None,
        forward: None,
        tags_change: None,
    };
    let job = DeliveryJob::first(
        &integration.tenant_id,
        &event.id,
        event.kind,
        &integration.id,
        now,
    );
    let request = prepare(integration, &event, &job.delivery_id, now)
        .map_err(|e| ValidationError::general(e.to_string()))?;
    let outcome = sender.send(&request).await;
    let ok = outcome.succeeded();
    let link = ok
        .then(|| {
            outcome
                .response_excerpt
                .as_deref()
                .and_then(link_from_response)
        })
        .flatten();
    let mut delivery = Delivery::pending(&job, now);
    delivery.attempts = 1;
    delivery.status = if ok {
        DeliveryStatus::Succeeded
    } else {
        DeliveryStatus::Failed
    };
    delivery.last_status_code = outcome.status_code;
    delivery.last_error = outcome.error.clone();
    delivery.link = link.clone();
    let attempt = Attempt::from_outcome(1, now, &outcome);
    log.record_attempt(&delivery, &attempt).await?;
    Ok(TestResult {
        ok,
        delivery_id: job.delivery_id,
        status_code: outcome.status_code,
        duration_ms: attempt.duration_ms,
        error_kind: outcome.error_kind,
        error: outcome.error,
        response_excerpt: outcome.response_excerpt,
        link,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const OPEN: UrlPolicy = UrlPolicy {
        allow_http: true,
        allow_private: true,
    };

    /// A valid standard integration for unit tests.
    pub fn integration_for(tenant: &TenantId, events: &[EventType]) -> Integration {
        let input = NewIntegration {
            name: Some("test".into()),
            url: "https://hooks.example.com/in".into(),
            format: Format::Standard,
            events: events.iter().map(|e| e.to_string()).collect(),
            secret: None,
            timeout_ms: None,
            retry_policy: None,
            headers: None,
            enabled: None,
            format_options: None,
        };
        build(tenant, input, UrlPolicy::STRICT).unwrap().0
    }

    fn input(events: &[&str], format: Format) -> NewIntegration {
        NewIntegration {
            name: None,
            url: "https://x.example/".into(),
            format,
            events: events.iter().map(|s| s.to_string()).collect(),
            secret: None,
            timeout_ms: None,
            retry_policy: None,
            headers: None,
            enabled: None,
            format_options: None,
        }
    }

    #[test]
    fn defaults_are_filled_in() {
        let (i, secret) = build(
            &TenantId::generate(),
            input(&["chat.closed"], Format::Standard),
            OPEN,
        )
        .unwrap();
        assert_eq!(i.timeout_ms, 10_000);
        assert_eq!(i.retry_policy, RetryPolicy::STANDARD);
        assert!(i.enabled);
        assert!(secret.expose().starts_with("whsec_"));
    }

    #[test]
    fn every_unknown_or_unrenderable_event_is_listed() {
        let err = build(
            &TenantId::generate(),
            input(&["chat.closed", "nope", "bad"], Format::Standard),
            OPEN,
        )
        .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("events"));
        assert!(err.message.contains("nope, bad"), "{err}");
        let err = build(
            &TenantId::generate(),
            input(
                &["chat.closed", "chat.taken", "ticket.created"],
                Format::Amplifyreach,
            ),
            OPEN,
        )
        .unwrap_err();
        assert!(err.message.contains("chat.taken, ticket.created"), "{err}");
    }

    #[test]
    fn patch_revalidates_events_against_a_new_format() {
        let (i, _) = build(
            &TenantId::generate(),
            input(&["chat.taken"], Format::Standard),
            OPEN,
        )
        .unwrap();
        let patch = IntegrationPatch {
            format: Some(Format::Olark),
            ..Default::default()
        };
        assert!(apply(i.clone(), patch, OPEN).is_err());
        let patch = IntegrationPatch {
            enabled: Some(false),
            ..Default::default()
        };
        let off = apply(i, patch, OPEN).unwrap();
        assert!(!off.enabled);
        assert_eq!(
            off.disabled_reason.as_deref(),
            Some("disabled by the tenant")
        );
    }

    #[test]
    fn the_view_hides_secrets_and_passwords() {
        let mut inp = input(&["chat.closed"], Format::Standard);
        inp.url = "https://u:hunter2@x.example/".into();
        let (i, secret) = build(&TenantId::generate(), inp, OPEN).unwrap();
        let json = serde_json::to_string(&IntegrationView::from(&i)).unwrap();
        assert!(!json.contains("hunter2"));
        assert!(!json.contains(secret.expose()));
        assert!(json.contains("u:***@"));
    }
}
