//! Keeps FORMATS.md honest: each format's example request there is generated
//! here from a golden case by `app::outbound::prepare`, the very function
//! the dispatcher sends with (every header it adds, signed as it signs). Run
//! with `PRINT_FORMATS_MD=1 cargo test -p chathooks wire_examples -- --nocapture`
//! to print the blocks after a deliberate change.
use chrono::{DateTime, Utc};

use super::golden_tests::{Golden, cases, integration};
use crate::app::outbound::prepare;
use crate::domain::event::Event;
use crate::domain::ids::DeliveryId;
use crate::domain::integration::{Format, IntegrationPatch};
use crate::domain::target_url::UrlPolicy;

const TIMESTAMP: i64 = 1_709_629_200;
/// (format, golden case whose event is rendered, integration URL): the
/// LiveChat one carries credentials, as LiveChat's docs suggest, to show the
/// Basic auth header.
const EXAMPLES: [(Format, &str, &str); 5] = [
    (
        Format::Standard,
        "rocketchat/message_visitor",
        "https://crm.example.com/hooks/chat",
    ),
    (
        Format::Rocketchat,
        "rocketchat/chat_closed_full",
        "https://crm.example.com/hooks/chat",
    ),
    (
        Format::Livechat,
        "livechat/chat_closed",
        "https://livechat:password@crm.example.com/hooks/chat",
    ),
    (
        Format::Olark,
        "olark/chat_closed",
        "https://crm.example.com/hooks/chat",
    ),
    (
        Format::Amplifyreach,
        "amplifyreach/lead_captured",
        "https://crm.example.com/hooks/chat",
    ),
];

/// Header names as the docs write them (they are case-insensitive; the
/// sender puts them on the wire in lower case).
fn display_name(name: &str) -> &str {
    match name {
        "content-type" => "Content-Type",
        "user-agent" => "User-Agent",
        "authorization" => "Authorization",
        other => other,
    }
}

/// The request as it goes over the wire, then (Olark) the decoded `data`.
fn example(format: Format, case: &str, url: &str) -> String {
    let (_, _, raw) = cases()
        .into_iter()
        .find(|(_, name, _)| *name == case)
        .unwrap();
    let golden: Golden = serde_json::from_str(raw).unwrap();
    let event: Event = serde_json::from_value(golden.event).unwrap();
    let patch = IntegrationPatch {
        url: Some(url.to_string()),
        ..IntegrationPatch::default()
    };
    let integration = integration(format, golden.format_options)
        .apply(patch, UrlPolicy::STRICT, Utc::now())
        .unwrap();
    let id = DeliveryId::derive(integration.tenant_id(), &event.id, integration.id());
    let now: DateTime<Utc> = DateTime::from_timestamp(TIMESTAMP, 0).unwrap();
    let request = prepare(&integration, &event, &id, now).unwrap();
    let target = request.url.without_credentials();
    let mut text = format!(
        "```http\nPOST {} HTTP/1.1\nHost: {}\n",
        target.path(),
        request.url.host(),
    );
    for (name, value) in &request.headers {
        text.push_str(&format!("{}: {value}\n", display_name(name)));
    }
    text.push_str(&format!(
        "\n{}\n```\n",
        String::from_utf8_lossy(&request.body)
    ));
    if format == Format::Olark {
        let rendered = super::render(&event, &integration).unwrap();
        let data = super::golden_tests::body_json(format, &rendered);
        text.push_str(&format!(
            "\nThe `data` field, decoded (keys sorted):\n\n```json\n{}\n```\n",
            serde_json::to_string_pretty(&data).unwrap()
        ));
    }
    text
}

#[test]
fn formats_md_shows_each_format_as_rendered_and_signed() {
    let doc = include_str!("../../../FORMATS.md");
    let blocks: Vec<(&str, String)> = EXAMPLES
        .into_iter()
        .map(|(format, case, url)| (case, example(format, case, url)))
        .collect();
    if std::env::var_os("PRINT_FORMATS_MD").is_some() {
        for (case, block) in &blocks {
            println!("==== {case}\n{block}");
        }
    }
    for (case, block) in &blocks {
        assert!(
            doc.contains(block.as_str()),
            "FORMATS.md lacks the current {case} example:\n{block}"
        );
    }
}
