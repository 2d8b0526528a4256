//! The event catalogue as the API shows it: each type with its group, what
//! triggers it and the formats that render it, and a sample of each type
//! rendered by those formats with the dispatcher's own renderers.
use chrono::Utc;
use serde::Serialize;
use std::collections::BTreeMap;

use super::AppError;
use crate::domain::catalogue::{EventGroup, EventType};
use crate::domain::ids::{IntegrationId, TenantId};
use crate::domain::integration::{Format, FormatOptions, Integration};
use crate::domain::samples::sample_event;
use crate::domain::secret::WebhookSecret;
use crate::domain::target_url::{TargetUrl, UrlPolicy};
use crate::formats::render;

/// The secret of the catalogue's samples: the Standard Webhooks
/// specification's example key, public on purpose.
pub const SAMPLE_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
pub const SAMPLE_URL: &str = "https://crm.example.com/hooks/chat";

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct EventTypeInfo {
    #[serde(rename = "type")]
    pub kind: EventType,
    /// chat (lifecycle), messages, offline (offline messages and leads),
    /// tickets, canned (responses), test.
    pub group: EventGroup,
    /// What triggers it.
    pub description: String,
    /// The formats that can render it.
    pub formats: Vec<Format>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct EventTypeList {
    pub event_types: Vec<EventTypeInfo>,
}

/// One rendered sample body.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct RenderedSample {
    pub content_type: String,
    /// The exact body, as a string.
    pub body: String,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct EventTypeSamples {
    #[serde(rename = "type")]
    pub kind: EventType,
    /// By format name: each format that can render the type.
    pub samples: BTreeMap<String, RenderedSample>,
}

pub fn formats_for(kind: EventType) -> Vec<Format> {
    Format::ALL
        .into_iter()
        .filter(|f| f.supports(kind))
        .collect()
}

pub fn event_types() -> EventTypeList {
    EventTypeList {
        event_types: EventType::ALL
            .into_iter()
            .map(|kind| EventTypeInfo {
                kind,
                group: kind.group(),
                description: kind.description().to_string(),
                formats: formats_for(kind),
            })
            .collect(),
    }
}

/// An integration of `format` used only to render samples: the public
/// sample secret, no custom headers, default format options.
pub fn sample_integration(format: Format) -> Result<Integration, AppError> {
    let now = Utc::now();
    let invalid = |what: &str| AppError::Conflict(format!("the sample {what} does not parse"));
    Ok(Integration::sample(
        IntegrationId::parse("int_sample").map_err(|_| invalid("id"))?,
        TenantId::parse("ten_sample").map_err(|_| invalid("tenant"))?,
        TargetUrl::parse(SAMPLE_URL, UrlPolicy::STRICT).map_err(|_| invalid("url"))?,
        format,
        WebhookSecret::parse(SAMPLE_SECRET).map_err(|_| invalid("secret"))?,
        FormatOptions::default(),
        now,
    ))
}

/// A sample event of the type named `raw`, rendered by every format that
/// can render it. An unknown type is 404.
pub fn samples(raw: &str) -> Result<EventTypeSamples, AppError> {
    let kind: EventType = raw.parse().map_err(|_| AppError::NotFound("event type"))?;
    let event = sample_event(kind, Utc::now());
    let mut samples = BTreeMap::new();
    for format in formats_for(kind) {
        let integration = sample_integration(format)?;
        let rendered = render(&event, &integration).map_err(|e| {
            AppError::Conflict(format!(
                "the {} sample did not render: {e}",
                format.as_str()
            ))
        })?;
        samples.insert(
            format.as_str().to_string(),
            RenderedSample {
                content_type: rendered.content_type.to_string(),
                body: String::from_utf8_lossy(&rendered.body).into_owned(),
            },
        );
    }
    Ok(EventTypeSamples { kind, samples })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_is_listed_with_a_group_a_description_and_its_formats() {
        let list = event_types();
        assert_eq!(list.event_types.len(), EventType::ALL.len());
        for info in &list.event_types {
            assert!(!info.description.is_empty());
            assert!(info.formats.contains(&Format::Standard), "{}", info.kind);
        }
        let closed = list
            .event_types
            .iter()
            .find(|i| i.kind == EventType::ChatClosed)
            .unwrap();
        assert_eq!(closed.formats.len(), Format::ALL.len());
        assert_eq!(closed.group, EventGroup::Chat);
        let json = serde_json::to_value(&list).unwrap();
        assert_eq!(json["event_types"][0]["type"], "chat.started");
        assert_eq!(json["event_types"][0]["group"], "chat");
    }

    #[test]
    fn every_format_renders_the_sample_of_every_type_it_supports() {
        for kind in EventType::ALL {
            let s = samples(kind.as_str()).unwrap_or_else(|e| panic!("{kind}: {e}"));
            let names: Vec<&str> = s.samples.keys().map(String::as_str).collect();
            let expected: Vec<&str> = {
                let mut v: Vec<&str> = formats_for(kind).iter().map(|f| f.as_str()).collect();
                v.sort();
                v
            };
            assert_eq!(names, expected, "{kind}");
            for (format, sample) in &s.samples {
                assert!(!sample.body.is_empty(), "{kind} {format}");
            }
        }
        let standard = &samples("chat.closed").unwrap().samples["standard"];
        assert_eq!(standard.content_type, "application/json");
        let body: serde_json::Value = serde_json::from_str(&standard.body).unwrap();
        assert_eq!(body["type"], "chat.closed");
        assert!(matches!(samples("chat.nope"), Err(AppError::NotFound(_))));
    }
}
