//! Golden tests: each file under `golden/<format>/` holds a canonical event,
//! the integration's format options and the payload the platform's receivers
//! expect (written from the seeds, field for field where a seed gives one).
use chrono::Utc;
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

use super::{RenderError, Rendered, render};
use crate::domain::catalogue::EventType;
use crate::domain::event::Event;
use crate::domain::ids::{IntegrationId, TenantId};
use crate::domain::integration::{Format, FormatOptions, Integration};
use crate::domain::secret::WebhookSecret;
use crate::domain::target_url::{TargetUrl, UrlPolicy};

pub const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

/// An integration of `format` for tenant `ten_acme` with the fixed test secret.
pub fn integration(format: Format, format_options: FormatOptions) -> Integration {
    Integration::sample(
        IntegrationId::parse("int_golden").unwrap(),
        TenantId::parse("ten_acme").unwrap(),
        TargetUrl::parse("https://crm.example.com/hooks/chat", UrlPolicy::STRICT).unwrap(),
        format,
        WebhookSecret::parse(SECRET).unwrap(),
        format_options,
        Utc::now(),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Golden {
    #[allow(dead_code)]
    about: String,
    /// `false` for seed examples the intake itself would refuse (e.g. an empty id).
    #[serde(default = "yes")]
    validate: bool,
    #[serde(default)]
    pub format_options: FormatOptions,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    pub event: Value,
    pub expected: Value,
}

fn yes() -> bool {
    true
}

macro_rules! golden {
    ($format:expr, $dir:literal, [$($case:literal),* $(,)?]) => {
        [$(($format, concat!($dir, "/", $case), include_str!(concat!("golden/", $dir, "/", $case, ".json")))),*]
    };
}

pub fn cases() -> Vec<(Format, &'static str, &'static str)> {
    let mut all = Vec::new();
    all.extend(golden!(
        Format::Rocketchat,
        "rocketchat",
        [
            "chat_started",
            "chat_queued",
            "chat_taken",
            "chat_forwarded",
            "chat_closed",
            "chat_closed_full",
            "message_visitor",
            "message_agent",
            "offline_message",
            "lead_captured",
            "webhook_test",
        ]
    ));
    all.extend(golden!(
        Format::Livechat,
        "livechat",
        [
            "chat_started",
            "chat_started_full",
            "chat_queued",
            "chat_closed",
            "chat_tags_changed",
            "ticket_created",
            "canned_response_changed",
            "webhook_test",
        ]
    ));
    all.extend(golden!(
        Format::Olark,
        "olark",
        [
            "chat_started",
            "chat_closed",
            "offline_message",
            "offline_message_no_visitor",
            "lead_captured",
            "webhook_test",
        ]
    ));
    all.extend(golden!(
        Format::Amplifyreach,
        "amplifyreach",
        [
            "chat_closed",
            "lead_captured",
            "lead_captured_from_visitor",
            "webhook_test",
        ]
    ));
    all
}

/// The JSON a rendered body carries: Olark's is the form field `data`.
pub fn body_json(format: Format, out: &Rendered) -> Value {
    if format == Format::Olark {
        assert_eq!(out.content_type, "application/x-www-form-urlencoded");
        let fields: Vec<(String, String)> = form_urlencoded::parse(&out.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        assert_eq!(fields.len(), 1, "exactly one form field");
        assert_eq!(fields[0].0, "data");
        serde_json::from_str(&fields[0].1).unwrap()
    } else {
        assert_eq!(out.content_type, "application/json");
        serde_json::from_slice(&out.body).unwrap()
    }
}

/// Walks both values and names the first path whose object keys differ.
fn assert_same_keys(path: &str, actual: &Value, expected: &Value) {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            let ak: BTreeSet<_> = a.keys().collect();
            let ek: BTreeSet<_> = e.keys().collect();
            assert_eq!(ak, ek, "keys differ at `{path}`");
            for k in ek {
                assert_same_keys(&format!("{path}.{k}"), &a[k], &e[k]);
            }
        }
        (Value::Array(a), Value::Array(e)) => {
            assert_eq!(a.len(), e.len(), "lengths differ at `{path}`");
            for (i, (x, y)) in a.iter().zip(e).enumerate() {
                assert_same_keys(&format!("{path}[{i}]"), x, y);
            }
        }
        _ => {}
    }
}

#[test]
fn every_golden_payload_matches_key_by_key() {
    for (format, name, raw) in cases() {
        // GIVEN a canonical event and an integration in the format
        let golden: Golden = serde_json::from_str(raw).unwrap_or_else(|e| panic!("{name}: {e}"));
        let event: Event =
            serde_json::from_value(golden.event).unwrap_or_else(|e| panic!("{name}: {e}"));
        if golden.validate {
            event.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let integration = integration(format, golden.format_options);
        // WHEN it is rendered
        let out = render(&event, &integration).unwrap_or_else(|e| panic!("{name}: {e}"));
        // THEN the body is the reference payload, key for key, with the format's headers
        let actual = body_json(format, &out);
        assert_same_keys(name, &actual, &golden.expected);
        assert_eq!(actual, golden.expected, "{name}");
        let headers: BTreeMap<String, String> = out.headers.into_iter().collect();
        assert_eq!(headers, golden.headers, "{name}: headers");
    }
}

#[test]
fn every_type_a_platform_format_supports_has_a_golden_case() {
    let names: BTreeSet<&str> = cases().iter().map(|(_, n, _)| *n).collect();
    for format in Format::ALL {
        if format == Format::Standard {
            continue;
        }
        for kind in EventType::ALL.into_iter().filter(|k| format.supports(*k)) {
            let case = format!("{}/{}", format.as_str(), kind.as_str().replace('.', "_"));
            let covered = names.iter().any(|n| n.starts_with(&case));
            assert!(covered, "no golden case for {case}");
        }
    }
}

#[test]
fn platform_formats_refuse_types_they_have_no_payload_for() {
    for format in Format::ALL {
        for kind in EventType::ALL.into_iter().filter(|k| !format.supports(*k)) {
            let event = Event::from_json(serde_json::json!({
                "type": kind.as_str(), "chat": {"id": "c"}, "ticket": {"id": "t"},
                "canned_response": {"id": 1, "text": "x", "modified_at": "2020-01-01T00:00:00Z"},
                "forward": {}, "message": {"author_type": "agent", "text": "x", "sent_at": "2020-01-01T00:00:00Z"},
                "offline_message": {"message": "x", "sent_at": "2020-01-01T00:00:00Z"},
                "lead": {}
            }))
            .unwrap();
            let err = render(&event, &integration(format, FormatOptions::default())).unwrap_err();
            assert_eq!(
                err,
                RenderError::Unsupported {
                    format: format.as_str(),
                    event_type: kind.as_str()
                }
            );
        }
    }
}

#[test]
fn a_missing_section_is_an_error_not_a_panic() {
    // GIVEN events that skipped validation and lack the section their format needs
    let cases = [
        (Format::Rocketchat, "chat.closed", "chat"),
        (Format::Rocketchat, "offline_message", "offline_message"),
        (Format::Livechat, "chat.closed", "chat"),
        (Format::Livechat, "ticket.created", "ticket"),
        (
            Format::Livechat,
            "canned_response.changed",
            "canned_response",
        ),
        (Format::Olark, "chat.closed", "chat"),
        (Format::Olark, "offline_message", "offline_message"),
        (Format::Amplifyreach, "chat.closed", "chat"),
        (Format::Amplifyreach, "lead.captured", "lead"),
    ];
    for (format, kind, section) in cases {
        let event: Event = serde_json::from_value(serde_json::json!({"type": kind})).unwrap();
        // WHEN rendered THEN the missing section is named
        let err = render(&event, &integration(format, FormatOptions::default())).unwrap_err();
        assert_eq!(err, RenderError::Missing(section), "{format:?} {kind}");
    }
    let event: Event = serde_json::from_value(serde_json::json!(
        {"type": "message.agent", "chat": {"id": "c"}}
    ))
    .unwrap();
    let err = render(
        &event,
        &integration(Format::Rocketchat, FormatOptions::default()),
    );
    assert_eq!(err.unwrap_err(), RenderError::Missing("message"));
}
