//! Rocket.Chat compatibility: `POST /api/v1/omnichannel/integrations` takes
//! Rocket.Chat's own settings body (seed 004) and keeps one `rocketchat`
//! integration per tenant in step with it; `GET` answers in the same shape.
use serde::{Deserialize, Serialize};

use super::AppError;
use super::integrations::{IntegrationPatch, Integrations, NewIntegration};
use crate::domain::ValidationError;
use crate::domain::catalogue::EventType;
use crate::domain::ids::TenantId;
use crate::domain::integration::{
    Format, FormatOptions, Integration, MAX_TIMEOUT_MS, MIN_TIMEOUT_MS,
};
use crate::domain::retry::{NamedPolicy, RetryPolicy};

/// The name of the integration these settings manage.
pub const INTEGRATION_NAME: &str = "Rocket.Chat Omnichannel webhook";

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct LivechatWebhookSettings {
    #[serde(default)]
    pub livechat_webhook_url: String,
    #[serde(default)]
    pub livechat_secret_token: String,
    #[serde(default)]
    pub livechat_http_timeout: Option<u32>,
    #[serde(default)]
    pub livechat_webhook_on_start: bool,
    #[serde(default)]
    pub livechat_webhook_on_close: bool,
    #[serde(default)]
    pub livechat_webhook_on_chat_taken: bool,
    #[serde(default)]
    pub livechat_webhook_on_chat_queued: bool,
    #[serde(default)]
    pub livechat_webhook_on_forward: bool,
    #[serde(default)]
    pub livechat_webhook_on_offline_msg: bool,
    #[serde(default)]
    pub livechat_webhook_on_visitor_message: bool,
    #[serde(default)]
    pub livechat_webhook_on_agent_message: bool,
}

impl LivechatWebhookSettings {
    fn switches(&self) -> [(bool, EventType); 8] {
        [
            (self.livechat_webhook_on_start, EventType::ChatStarted),
            (self.livechat_webhook_on_close, EventType::ChatClosed),
            (self.livechat_webhook_on_chat_taken, EventType::ChatTaken),
            (self.livechat_webhook_on_chat_queued, EventType::ChatQueued),
            (self.livechat_webhook_on_forward, EventType::ChatForwarded),
            (
                self.livechat_webhook_on_offline_msg,
                EventType::OfflineMessage,
            ),
            (
                self.livechat_webhook_on_visitor_message,
                EventType::MessageVisitor,
            ),
            (
                self.livechat_webhook_on_agent_message,
                EventType::MessageAgent,
            ),
        ]
    }

    fn events(&self) -> Vec<String> {
        self.switches()
            .into_iter()
            .filter(|(on, _)| *on)
            .map(|(_, e)| e.to_string())
            .collect()
    }

    fn from_integration(i: &Integration) -> Self {
        let on = |e: EventType| i.events().contains(&e);
        Self {
            livechat_webhook_url: i.url().redacted(),
            livechat_secret_token: if i.format_options().token.is_some() {
                "***".into()
            } else {
                String::new()
            },
            livechat_http_timeout: Some(i.timeout_ms()),
            livechat_webhook_on_start: on(EventType::ChatStarted),
            livechat_webhook_on_close: on(EventType::ChatClosed),
            livechat_webhook_on_chat_taken: on(EventType::ChatTaken),
            livechat_webhook_on_chat_queued: on(EventType::ChatQueued),
            livechat_webhook_on_forward: on(EventType::ChatForwarded),
            livechat_webhook_on_offline_msg: on(EventType::OfflineMessage),
            livechat_webhook_on_visitor_message: on(EventType::MessageVisitor),
            livechat_webhook_on_agent_message: on(EventType::MessageAgent),
        }
    }
}

async fn find(
    integrations: &Integrations,
    tenant: &TenantId,
) -> Result<Option<Integration>, AppError> {
    let mut cursor: Option<String> = None;
    loop {
        let page = integrations
            .store
            .list(tenant, cursor.as_deref(), 100)
            .await?;
        if let Some(i) = page
            .items
            .into_iter()
            .find(|i| i.format() == Format::Rocketchat && i.name() == INTEGRATION_NAME)
        {
            return Ok(Some(i));
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(None),
        }
    }
}

/// Create or update the tenant's Rocket.Chat integration from the settings.
pub async fn apply(
    integrations: &Integrations,
    tenant: &TenantId,
    s: LivechatWebhookSettings,
) -> Result<(), AppError> {
    let timeout = s
        .livechat_http_timeout
        .unwrap_or(5_000)
        .clamp(MIN_TIMEOUT_MS, MAX_TIMEOUT_MS);
    let events = s.events();
    let token = (!s.livechat_secret_token.is_empty()).then(|| s.livechat_secret_token.clone());
    let existing = find(integrations, tenant).await?;
    if s.livechat_webhook_url.is_empty() {
        return Err(ValidationError::field("LivechatWebhookUrl", "is required").into());
    }
    let options = FormatOptions {
        token,
        ..Default::default()
    };
    match existing {
        Some(i) => {
            let patch = IntegrationPatch {
                url: Some(s.livechat_webhook_url.clone()),
                events: (!events.is_empty()).then_some(events.clone()),
                timeout_ms: Some(timeout),
                format_options: Some(options),
                enabled: Some(!events.is_empty()),
                ..Default::default()
            };
            integrations.update(tenant, i.id().as_str(), patch).await?;
        }
        None => {
            let input = NewIntegration {
                name: Some(INTEGRATION_NAME.into()),
                url: s.livechat_webhook_url.clone(),
                format: Format::Rocketchat,
                events: if events.is_empty() {
                    vec![EventType::ChatClosed.to_string()]
                } else {
                    events.clone()
                },
                secret: None,
                timeout_ms: Some(timeout),
                retry_policy: Some(RetryPolicy::Named(NamedPolicy::Rocketchat)),
                ordering: None,
                headers: None,
                enabled: Some(!events.is_empty()),
                format_options: Some(options),
            };
            integrations
                .create(tenant, input)
                .await
                .map_err(|e| match e {
                    AppError::Invalid(v) if v.field.as_deref() == Some("url") => {
                        ValidationError::field("LivechatWebhookUrl", v.message).into()
                    }
                    other => other,
                })?;
        }
    }
    Ok(())
}

/// The current settings in Rocket.Chat's shape (all switches off when none).
pub async fn current(
    integrations: &Integrations,
    tenant: &TenantId,
) -> Result<LivechatWebhookSettings, AppError> {
    Ok(find(integrations, tenant)
        .await?
        .map(|i| LivechatWebhookSettings::from_integration(&i))
        .unwrap_or_default())
}
