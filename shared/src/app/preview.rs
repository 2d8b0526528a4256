//! The payload preview: the exact request an integration would receive for
//! a sample event of a type, rendered and signed by the dispatcher's own
//! path (`outbound::prepare`) with the integration's real secrets. Nothing
//! is sent and nothing is logged.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::AppError;
use crate::domain::ValidationError;
use crate::domain::catalogue::EventType;
use crate::domain::ids::DeliveryId;
use crate::domain::integration::Integration;
use crate::domain::samples::sample_event;

use super::outbound::prepare;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    /// A type the integration's format can render.
    #[schemars(with = "EventType")]
    pub event_type: String,
}

/// The request as it would go out.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Preview {
    /// Always `POST`.
    pub method: String,
    /// The target URL, credentials shown as `user:***`.
    pub url: String,
    /// Every header sent: content-type, user-agent, webhook-id,
    /// webhook-timestamp, webhook-signature (one signature per valid
    /// secret), the format's own headers and the custom ones.
    pub headers: BTreeMap<String, String>,
    /// The exact body.
    pub body: String,
}

/// Preview a sample event of `event_type` for `integration` at `now`.
pub fn preview(
    integration: &Integration,
    event_type: &str,
    now: DateTime<Utc>,
) -> Result<Preview, AppError> {
    let kind: EventType = event_type
        .parse()
        .map_err(|e: ValidationError| ValidationError::field("event_type", e.message))?;
    if !integration.format().supports(kind) {
        return Err(ValidationError::field(
            "event_type",
            format!(
                "format `{}` cannot render `{kind}` events",
                integration.format().as_str()
            ),
        )
        .into());
    }
    let event = sample_event(kind, now);
    let delivery_id = DeliveryId::derive(integration.tenant_id(), &event.id, integration.id());
    let request = prepare(integration, &event, &delivery_id, now)
        .map_err(|e| ValidationError::field("event_type", e.to_string()))?;
    let from_url = integration.url().credentials().is_some();
    let headers = request
        .headers
        .into_iter()
        .map(|(name, value)| {
            // The URL's password stays hidden, as everywhere else.
            if from_url && name == "authorization" && value.starts_with("Basic ") {
                (name, "Basic ***".to_string())
            } else {
                (name, value)
            }
        })
        .collect();
    Ok(Preview {
        method: "POST".into(),
        url: integration.url().redacted(),
        headers,
        body: String::from_utf8_lossy(&request.body).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::catalogue::sample_integration;
    use crate::domain::integration::{Format, IntegrationPatch};
    use crate::domain::secret::WebhookSecret;
    use crate::domain::signing::verify;
    use crate::domain::target_url::UrlPolicy;

    #[test]
    fn the_preview_is_signed_with_every_valid_secret_over_the_exact_body() {
        // GIVEN a standard integration in a rotation's grace, with a custom header
        let now = Utc::now();
        let headers = IntegrationPatch {
            headers: Some([("X-Team".to_string(), "support".to_string())].into()),
            ..IntegrationPatch::default()
        };
        let mut hook = sample_integration(Format::Standard)
            .unwrap()
            .apply(headers, UrlPolicy::STRICT, now)
            .unwrap();
        let old = hook.secret().clone();
        hook.rotate_secret(WebhookSecret::generate(), chrono::Duration::hours(1), now);
        // WHEN a chat.closed is previewed
        let p = preview(&hook, "chat.closed", now).unwrap();
        // THEN both secrets' signatures verify over the body, and the headers are all there
        let id = &p.headers["webhook-id"];
        let ts: i64 = p.headers["webhook-timestamp"].parse().unwrap();
        let sig = &p.headers["webhook-signature"];
        assert_eq!(sig.split(' ').count(), 2);
        assert!(verify(hook.secret(), id, ts, p.body.as_bytes(), sig));
        assert!(verify(&old, id, ts, p.body.as_bytes(), sig));
        assert_eq!(p.headers["content-type"], "application/json");
        assert_eq!(p.headers["X-Team"], "support");
        assert_eq!(p.method, "POST");
        let body: serde_json::Value = serde_json::from_str(&p.body).unwrap();
        assert_eq!(body["type"], "chat.closed");
    }

    #[test]
    fn a_type_the_format_cannot_render_names_the_field_and_passwords_stay_hidden() {
        let hook = sample_integration(Format::Amplifyreach).unwrap();
        for bad in ["chat.taken", "nope"] {
            match preview(&hook, bad, Utc::now()) {
                Err(AppError::Invalid(e)) => assert_eq!(e.field.as_deref(), Some("event_type")),
                other => panic!("{bad}: {other:?}"),
            }
        }
        let url = IntegrationPatch {
            url: Some("https://u:hunter2@crm.example.com/in".into()),
            ..IntegrationPatch::default()
        };
        let hook = hook.apply(url, UrlPolicy::STRICT, Utc::now()).unwrap();
        let p = preview(&hook, "lead.captured", Utc::now()).unwrap();
        let all = serde_json::to_string(&p).unwrap();
        assert!(!all.contains("hunter2"));
        assert!(p.url.contains("u:***@"));
        assert_eq!(p.headers["authorization"], "Basic ***");
    }
}
