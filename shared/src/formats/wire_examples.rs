//! Keeps FORMATS.md honest: each format's example request there is generated
//! here from a golden case, signed as the dispatcher signs it. Run with
//! `PRINT_FORMATS_MD=1 cargo test -p chathooks wire_examples -- --nocapture`
//! to print the blocks after a deliberate change.
use super::golden_tests::{Golden, cases, integration};
use super::render;
use crate::domain::event::Event;
use crate::domain::ids::DeliveryId;
use crate::domain::integration::Format;
use crate::domain::signing::signature_header;

const TIMESTAMP: i64 = 1_709_629_200;
const EXAMPLES: [(Format, &str); 4] = [
    (Format::Rocketchat, "rocketchat/chat_closed_full"),
    (Format::Livechat, "livechat/chat_closed"),
    (Format::Olark, "olark/chat_closed"),
    (Format::Amplifyreach, "amplifyreach/lead_captured"),
];

/// The request as it goes over the wire, then (Olark) the decoded `data`.
fn example(format: Format, case: &str) -> String {
    let (_, _, raw) = cases()
        .into_iter()
        .find(|(_, name, _)| *name == case)
        .unwrap();
    let golden: Golden = serde_json::from_str(raw).unwrap();
    let event: Event = serde_json::from_value(golden.event).unwrap();
    let integration = integration(format, golden.format_options);
    let out = render(&event, &integration).unwrap();
    let id = DeliveryId::derive(&integration.tenant_id, &event.id, &integration.id);
    let signature = signature_header([&integration.secret], id.as_str(), TIMESTAMP, &out.body);
    let url = integration.url.without_credentials();
    let mut text = format!(
        "```http\nPOST {} HTTP/1.1\nHost: {}\nContent-Type: {}\nwebhook-id: {id}\nwebhook-timestamp: {TIMESTAMP}\nwebhook-signature: {signature}\n",
        url.path(),
        integration.url.host(),
        out.content_type,
    );
    for (name, value) in &out.headers {
        text.push_str(&format!("{name}: {value}\n"));
    }
    text.push_str(&format!("\n{}\n```\n", String::from_utf8_lossy(&out.body)));
    if format == Format::Olark {
        let data = super::golden_tests::body_json(format, &out);
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
        .map(|(format, case)| (case, example(format, case)))
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
