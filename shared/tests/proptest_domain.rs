//! Property tests of the domain's input validation: the event parser, the
//! target URL validator, custom-header validation and retry delays. Arbitrary
//! input never panics; whatever is accepted round-trips (serialize, parse
//! again: the same value); delays stay within their policy's bounds.
use chathooks::domain::catalogue::EventType;
use chathooks::domain::event::Event;
use chathooks::domain::integration::validate_headers;
use chathooks::domain::retry::{NamedPolicy, RetryPolicy};
use chathooks::domain::target_url::{TargetUrl, UrlPolicy};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,24}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(field_name(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Field names: mostly the event's own, sometimes anything.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "id",
            "type",
            "occurred_at",
            "chat",
            "visitor",
            "agent",
            "message",
            "messages",
            "text",
            "author_type",
            "sent_at",
            "offline_message",
            "lead",
            "ticket",
            "canned_response",
            "forward",
            "tags_change",
            "events",
            "custom_fields",
        ])
        .prop_map(String::from),
        "[a-z_]{1,12}",
    ]
}

fn event_type() -> impl Strategy<Value = EventType> {
    prop::sample::select(EventType::ALL.to_vec())
}

fn timestamp() -> impl Strategy<Value = String> {
    (0i64..4_102_444_800, 0u32..1_000_000_000).prop_map(|(secs, nanos)| {
        chrono::DateTime::from_timestamp(secs, nanos)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default()
    })
}

fn message() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec!["visitor", "agent", "bot", "system", "robot"]),
        ".{0,40}",
        timestamp(),
        any::<bool>(),
        prop::option::of("[a-zA-Z ]{0,12}"),
    )
        .prop_map(|(author, text, sent_at, whisper, name)| {
            let mut m = json!({"author_type": author, "text": text, "sent_at": sent_at});
            if whisper {
                m["whisper"] = json!(true);
            }
            if let Some(name) = name {
                m["author_name"] = json!(name);
            }
            m
        })
}

/// Plausible events: a catalogue type and the sections of a chat, with
/// random content (so some are valid, some are not).
fn plausible_event() -> impl Strategy<Value = Value> {
    (
        event_type(),
        prop::option::of("[ -~]{0,20}"),
        prop::option::of(timestamp()),
        prop::option::of(("[ -~]{0,12}", prop::collection::vec(message(), 0..4))),
        prop::option::of(message()),
        prop::option::of("[a-z0-9]{0,8}"),
        prop::option::of(prop::collection::btree_map("[a-z]{1,6}", ".{0,8}", 0..3)),
    )
        .prop_map(|(kind, id, at, chat, msg, visitor, custom)| {
            let mut e = json!({"type": kind.as_str()});
            if let Some(id) = id {
                e["id"] = json!(id);
            }
            if let Some(at) = at {
                e["occurred_at"] = json!(at);
            }
            if let Some((chat_id, messages)) = chat {
                e["chat"] = json!({"id": chat_id, "messages": messages});
            }
            if let Some(m) = msg {
                e["message"] = m;
            }
            if let Some(v) = visitor {
                e["visitor"] = json!({"id": v, "custom_fields": custom.unwrap_or_default()});
            }
            e
        })
}

/// Parse, and when accepted: serialize and parse again, expecting the same event.
fn check_event_round_trip(value: Value) -> Result<(), TestCaseError> {
    if let Ok(event) = Event::from_json(value) {
        let serialized =
            serde_json::to_value(&event).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let again = Event::from_json(serialized.clone())
            .map_err(|e| TestCaseError::fail(format!("re-parsing {serialized} failed: {e}")))?;
        prop_assert_eq!(again, event);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_json_never_panics_the_event_parser(value in any_json()) {
        check_event_round_trip(value)?;
    }

    #[test]
    fn plausible_events_round_trip_when_accepted(value in plausible_event()) {
        check_event_round_trip(value)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_event_parser(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(value) = serde_json::from_slice::<Value>(&bytes) {
            check_event_round_trip(value)?;
        }
    }
}

fn url_like() -> impl Strategy<Value = String> {
    let scheme = prop::sample::select(vec!["https", "http", "HTTPS", "ftp", "javascript", ""]);
    let sep = prop::sample::select(vec!["://", ":/", ":", "://\\", ":///"]);
    let userinfo = prop::option::of("[a-z%0-9:@]{0,10}");
    let host = prop_oneof![
        "[a-z0-9-]{1,12}(\\.[a-z]{2,5}){0,2}",
        (any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>())
            .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
        any::<u32>().prop_map(|n| n.to_string()),
        any::<[u16; 8]>().prop_map(|s| format!(
            "[{}]",
            s.iter()
                .map(|p| format!("{p:x}"))
                .collect::<Vec<_>>()
                .join(":")
        )),
        Just("[::ffff:127.0.0.1]".to_string()),
        Just("0x7f.1".to_string()),
        "[ -~]{0,12}",
    ];
    let port = prop::option::of(any::<u16>());
    let rest = "[ -~]{0,24}";
    (scheme, sep, userinfo, host, port, rest).prop_map(|(s, sep, ui, h, p, rest)| {
        let ui = ui.map(|u| format!("{u}@")).unwrap_or_default();
        let p = p.map(|p| format!(":{p}")).unwrap_or_default();
        format!("{s}{sep}{ui}{h}{p}{rest}")
    })
}

fn policy() -> impl Strategy<Value = UrlPolicy> {
    (any::<bool>(), any::<bool>()).prop_map(|(allow_http, allow_private)| UrlPolicy {
        allow_http,
        allow_private,
    })
}

fn check_url(raw: &str, policy: UrlPolicy) -> Result<(), TestCaseError> {
    let Ok(url) = TargetUrl::parse(raw, policy) else {
        return Ok(());
    };
    // Accepted URLs are http(s) with a host, and the policy held.
    let exposed = url.expose().to_string();
    prop_assert!(
        exposed.starts_with("https://") || (policy.allow_http && exposed.starts_with("http://")),
        "{exposed}"
    );
    prop_assert!(!url.host().is_empty());
    if !policy.allow_private
        && let Some(ip) = url.literal_ip()
    {
        prop_assert!(
            chathooks::domain::ssrf::forbidden_reason(ip).is_none(),
            "{ip} accepted"
        );
    }
    // Round trip: the stored form parses again, under the same policy and as stored.
    let again = TargetUrl::parse(&exposed, policy)
        .map_err(|e| TestCaseError::fail(format!("{exposed} no longer parses: {e}")))?;
    prop_assert_eq!(&again, &url);
    let json = serde_json::to_string(&url).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let stored: TargetUrl =
        serde_json::from_str(&json).map_err(|e| TestCaseError::fail(format!("{json}: {e}")))?;
    prop_assert_eq!(&stored, &url);
    // A password never shows in displays: `***` stands in for it.
    if let Some((_, Some(password))) = url.credentials()
        && !password.is_empty()
    {
        let redacted = url.redacted();
        prop_assert!(redacted.contains(":***@"), "{redacted}");
        prop_assert_eq!(format!("{url:?}"), format!("TargetUrl({redacted})"));
        prop_assert_eq!(url.to_string(), redacted);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn url_like_strings_never_panic_and_accepted_urls_round_trip(raw in url_like(), policy in policy()) {
        check_url(&raw, policy)?;
    }

    #[test]
    fn urls_near_the_length_limit_round_trip_when_accepted(
        path in prop::collection::vec(prop::sample::select(vec!["a", " ", "%", "\u{0}", "é", "/", "?"]), 600..1100),
        policy in policy(),
    ) {
        // Characters that percent-encoding lengthens, around MAX_URL_LEN.
        check_url(&format!("https://example.com/{}", path.concat()), policy)?;
    }

    #[test]
    fn arbitrary_strings_never_panic_the_url_validator(raw in ".{0,64}", policy in policy()) {
        check_url(&raw, policy)?;
    }
}

fn header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9-]{1,16}",
        "[ -~]{0,16}",
        ".{0,8}",
        prop::sample::select(vec![
            "Host",
            "content-length",
            "Content-Type",
            "Transfer-Encoding",
            "Connection",
            "webhook-id",
            "Webhook-Signature",
            "webhook-x",
            "TE",
            "X-Api-Key",
        ])
        .prop_map(String::from),
    ]
}

fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,24}",
        ".{0,24}",
        "[a-z]{0,4}[\r\n\0\t\x7f][a-z]{0,4}"
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn accepted_headers_are_safe_to_send_and_round_trip(
        headers in prop::collection::btree_map(header_name(), header_value(), 0..6)
    ) {
        if validate_headers(&headers).is_ok() {
            for (name, value) in &headers {
                // What the sender will do with them must succeed: no injection, valid HTTP.
                prop_assert!(http::HeaderName::from_bytes(name.as_bytes()).is_ok(), "{name:?}");
                prop_assert!(http::HeaderValue::from_str(value).is_ok(), "{value:?}");
                prop_assert!(!value.contains(['\r', '\n', '\0']));
                let lower = name.to_ascii_lowercase();
                prop_assert!(!lower.starts_with("webhook-") && lower != "host" && lower != "content-length");
            }
            let json = serde_json::to_string(&headers).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let again: BTreeMap<String, String> = serde_json::from_str(&json).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(validate_headers(&again).is_ok());
            prop_assert_eq!(again, headers);
        }
    }
}

fn retry_policy() -> impl Strategy<Value = RetryPolicy> {
    prop_oneof![
        Just(RetryPolicy::Named(NamedPolicy::Standard)),
        Just(RetryPolicy::Named(NamedPolicy::Rocketchat)),
        Just(RetryPolicy::Named(NamedPolicy::Livechat)),
        Just(RetryPolicy::Named(NamedPolicy::None)),
        Just(RetryPolicy::Default),
        prop::collection::vec(any::<u32>(), 0..25).prop_map(RetryPolicy::Custom),
        prop::collection::vec(0u32..=7 * 24 * 3600, 0..21).prop_map(RetryPolicy::Custom),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn delays_stay_within_the_policy_bounds(policy in retry_policy(), seed in any::<u64>(), attempt in any::<u32>()) {
        let mut rng = StdRng::seed_from_u64(seed);
        let schedule = policy.schedule().to_vec();
        prop_assert_eq!(policy.max_attempts() as usize, schedule.len() + 1);
        let jittered = matches!(policy, RetryPolicy::Named(NamedPolicy::Standard) | RetryPolicy::Default);
        // Every attempt of the schedule, then a few past it, then an arbitrary one.
        let attempts = (0..=schedule.len() as u32 + 2).chain(std::iter::once(attempt));
        for n in attempts {
            let delay = policy.delay_after(n, &mut rng);
            match n.checked_sub(1).and_then(|i| schedule.get(i as usize)) {
                None => prop_assert_eq!(delay, None, "attempt {} of {:?}", n, policy),
                Some(&base) => {
                    let delay = delay.ok_or_else(|| TestCaseError::fail(format!("no delay after attempt {n}")))?;
                    let base_ms = u64::from(base) * 1000;
                    if jittered {
                        let (lo, hi) = (base_ms * 8 / 10, base_ms * 12 / 10);
                        prop_assert!(
                            delay >= Duration::from_millis(lo.saturating_sub(1)) && delay <= Duration::from_millis(hi + 1),
                            "{:?} outside {}..{} ms", delay, lo, hi
                        );
                    } else {
                        prop_assert_eq!(delay, Duration::from_millis(base_ms));
                    }
                }
            }
        }
    }

    #[test]
    fn policies_round_trip_through_json(policy in retry_policy()) {
        let policy = policy.normalized();
        let json = serde_json::to_value(&policy).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let again: RetryPolicy = serde_json::from_value(json.clone()).map_err(|e| TestCaseError::fail(format!("{json}: {e}")))?;
        prop_assert_eq!(again, policy);
    }
}
