//! The one path from (integration, event) to a signed HTTP request, used by
//! the dispatcher and by the config API's test-send alike.
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};

use crate::domain::event::Event;
use crate::domain::ids::DeliveryId;
use crate::domain::integration::Integration;
use crate::domain::signing::signature_header;
use crate::formats::{RenderError, render};
use crate::ports::OutboundRequest;

pub const USER_AGENT: &str = concat!("chathooks/", env!("CARGO_PKG_VERSION"));

/// Render, sign and assemble the request for one attempt at `now`.
pub fn prepare(
    integration: &Integration,
    event: &Event,
    delivery_id: &DeliveryId,
    now: DateTime<Utc>,
) -> Result<OutboundRequest, RenderError> {
    let rendered = render(event, integration)?;
    let timestamp = now.timestamp();
    let signature = signature_header(
        integration.signing_secrets(now),
        delivery_id.as_str(),
        timestamp,
        &rendered.body,
    );
    let mut headers = vec![
        (
            "content-type".to_string(),
            rendered.content_type.to_string(),
        ),
        ("user-agent".to_string(), USER_AGENT.to_string()),
        ("webhook-id".to_string(), delivery_id.to_string()),
        ("webhook-timestamp".to_string(), timestamp.to_string()),
        ("webhook-signature".to_string(), signature),
    ];
    headers.extend(rendered.headers);
    headers.extend(
        integration
            .headers()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    if let Some((user, password)) = integration.url().credentials() {
        let pair = format!("{user}:{}", password.unwrap_or_default());
        headers.push((
            "authorization".to_string(),
            format!("Basic {}", B64.encode(pair)),
        ));
    }
    Ok(OutboundRequest {
        url: integration.url().clone(),
        headers,
        body: rendered.body.into(),
        timeout: integration.timeout(),
    })
}
