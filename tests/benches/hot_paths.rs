//! Criterion benchmarks of the CPU hot paths (no I/O):
//! - render + sign one delivery in every format, short (~2 KB) and long (200 messages) chats;
//! - intake: parse, validate and plan the fan-out of one event and of a 100-event batch;
//! - SSRF address classification and target-URL validation;
//! - retry-delay computation.
//!
//! `cargo bench -p chathooks-tests --bench hot_paths`; figures in BENCHMARKS.md.
use aws_sdk_dynamodb::types::AttributeValue;
use chathooks::adapters::dynamodb::events::{compress, stored_payload};
use chathooks::app::intake::plan;
use chathooks::app::integrations::NewIntegration;
use chathooks::app::outbound::prepare;
use chathooks::domain::event::Event;
use chathooks::domain::ids::{DeliveryId, TenantId};
use chathooks::domain::integration::{Format, FormatOptions, Integration};
use chathooks::domain::message::QueueMessage;
use chathooks::domain::retry::RetryPolicy;
use chathooks::domain::ssrf::forbidden_reason;
use chathooks::domain::target_url::{TargetUrl, UrlPolicy};
use chathooks_tests::bench::fixtures::closed_chat;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::json;
use std::hint::black_box;
use std::net::IpAddr;

fn integration(tenant: &TenantId, format: Format) -> Integration {
    let input = NewIntegration {
        name: Some("bench".into()),
        url: "https://hooks.example.com/in".into(),
        format,
        events: match format {
            // The intake benches' integrations also take single messages.
            Format::Standard => vec!["chat.closed".into(), "message.visitor".into()],
            _ => vec!["chat.closed".into()],
        },
        secret: None,
        timeout_ms: None,
        retry_policy: None,
        ordering: None,
        headers: None,
        enabled: None,
        format_options: Some(FormatOptions {
            token: Some("token-123".into()),
            license_id: Some("1025707".into()),
            ..Default::default()
        }),
    };
    Integration::create(tenant, input, UrlPolicy::STRICT, chrono::Utc::now())
        .expect("valid integration")
        .0
}

fn render_and_sign(c: &mut Criterion) {
    let tenant = TenantId::generate();
    let short = Event::from_json(closed_chat("short", 12)).expect("event");
    let long = Event::from_json(closed_chat("long", 200)).expect("event");
    let short_size = serde_json::to_vec(&short).map(|v| v.len()).unwrap_or(0);
    let mut group = c.benchmark_group("render_and_sign");
    for format in Format::ALL {
        let i = integration(&tenant, format);
        let delivery = DeliveryId::derive(&tenant, &short.id, i.id());
        let now = chrono::Utc::now();
        group.bench_function(format!("{}/short_{}B", format.as_str(), short_size), |b| {
            b.iter(|| prepare(black_box(&i), black_box(&short), &delivery, now))
        });
        group.bench_function(format!("{}/long_200_messages", format.as_str()), |b| {
            b.iter(|| prepare(black_box(&i), black_box(&long), &delivery, now))
        });
    }
    group.finish();
}

fn intake(c: &mut Criterion) {
    let tenant = TenantId::generate();
    let integrations: Vec<Integration> = (0..5)
        .map(|_| integration(&tenant, Format::Standard))
        .collect();
    let one = serde_json::to_vec(&closed_chat("evt-1", 12)).expect("json");
    let batch = serde_json::to_vec(&json!({"events": (0..100).map(|i| closed_chat(&format!("evt-{i}"), 12)).collect::<Vec<_>>()})).expect("json");
    let mut group = c.benchmark_group("intake");
    group.throughput(Throughput::Elements(1));
    group.bench_function("one_event_parse_validate_plan_5_integrations", |b| {
        b.iter(|| {
            let (events, _) =
                chathooks::domain::intake_body::parse_events(black_box(&one)).expect("valid");
            plan(&tenant, &events[0], &integrations, chrono::Utc::now())
        })
    });
    group.throughput(Throughput::Elements(100));
    group.bench_function("batch_100_parse_validate_plan_5_integrations", |b| {
        b.iter(|| {
            let (events, _) =
                chathooks::domain::intake_body::parse_events(black_box(&batch)).expect("valid");
            events
                .iter()
                .map(|e| plan(&tenant, e, &integrations, chrono::Utc::now()).len())
                .sum::<usize>()
        })
    });
    // Everything the intake computes for an accepted event before its two
    // requests go out: parse and validate, plan, the stored item's deflated
    // JSON and each job's queue message body. (The SDK's request encoding and
    // signing are left to the I/O side.)
    let one_integration = &integrations[..1];
    group.throughput(Throughput::Elements(1));
    group.bench_function("one_event_all_cpu_1_integration", |b| {
        b.iter(|| {
            let (events, _) =
                chathooks::domain::intake_body::parse_events(black_box(&one)).expect("valid");
            intake_cpu(&tenant, &events, one_integration)
        })
    });
    // The most frequent event of a chat: one message, stored as text.
    let message = serde_json::to_vec(&json!({"id": "evt-m", "type": "message.visitor",
        "chat": {"id": "chat-1"}, "visitor": {"id": "v-1", "name": "Ada"},
        "message": {"id": "m-1", "author_type": "visitor", "author_id": "v-1",
            "text": "Hello, is the order shipped yet?", "sent_at": "2026-11-21T10:00:00Z"}}))
    .expect("json");
    group.bench_function("one_message_event_all_cpu_1_integration", |b| {
        b.iter(|| {
            let (events, _) =
                chathooks::domain::intake_body::parse_events(black_box(&message)).expect("valid");
            intake_cpu(&tenant, &events, one_integration)
        })
    });
    group.throughput(Throughput::Elements(100));
    group.bench_function("batch_100_all_cpu_1_integration", |b| {
        b.iter(|| {
            let (events, _) =
                chathooks::domain::intake_body::parse_events(black_box(&batch)).expect("valid");
            intake_cpu(&tenant, &events, one_integration)
        })
    });
    group.finish();

    let event = closed_chat("evt-1", 12);
    let parsed = Event::parse(&serde_json::to_string(&event).expect("json")).expect("valid");
    let mut group = c.benchmark_group("store");
    group.bench_function("deflate_event_2_5kb", |b| {
        b.iter(|| compress(black_box(&parsed)).expect("deflate").len())
    });
    // The trade the stored item makes: each level's time and size (one
    // compressor reused, as the adapter does).
    let json = serde_json::to_vec(&parsed).expect("json");
    for level in [1, 2, 4, 6, 9] {
        let mut compressor = flate2::Compress::new(flate2::Compression::new(level), false);
        let size = deflate(&mut compressor, &json, None).len();
        eprintln!("deflate level {level}: {} -> {size} bytes", json.len());
        group.bench_function(format!("deflate_level_{level}"), |b| {
            b.iter(|| deflate(&mut compressor, black_box(&json), None).len())
        });
    }
    // The road not taken: a preset dictionary of the event schema's keys.
    // It saves about 100 bytes at every level but no time (BENCHMARKS.md).
    for level in [1, 2, 6] {
        let mut compressor = flate2::Compress::new(flate2::Compression::new(level), false);
        let size = deflate(&mut compressor, &json, Some(SCHEMA_DICTIONARY)).len();
        eprintln!(
            "deflate level {level} + schema dictionary: {} -> {size} bytes",
            json.len()
        );
        group.bench_function(format!("deflate_level_{level}_schema_dictionary"), |b| {
            b.iter(|| deflate(&mut compressor, black_box(&json), Some(SCHEMA_DICTIONARY)).len())
        });
    }
    group.finish();
}

/// The stored event JSON's keys and common values, the most frequent last
/// (deflate codes nearer matches in fewer bits).
const SCHEMA_DICTIONARY: &[u8] = br#"{"id":"","type":"message.agent","type":"chat.started","occurred_at":"","visitor":{"id":"","name":"","username":"","email":"","phone":"","ip":"","browser":"","os":"","city":"","region":"","country":"","country_code":""},"agent":{"id":"","name":"","username":"","email":""},"agents":[{"id":"","groups":[{"id":"","custom_fields":{},"department":"","label":"","tags":["],"topic":"","last_message_at":"","ended_at":"","started_at":"","type":"chat.closed","occurred_at":"2026-","chat":{"id":"","messages":[{"id":"","author_type":"agent","author_id":"","author_name":"","text":"","sent_at":"2026-"},{"author_type":"visitor","author_id":"","author_name":"","text":"","sent_at":"2026-"#;

/// One raw-deflate stream on a reset, reused compressor.
fn deflate(compressor: &mut flate2::Compress, json: &[u8], dictionary: Option<&[u8]>) -> Vec<u8> {
    compressor.reset();
    if let Some(dictionary) = dictionary {
        compressor.set_dictionary(dictionary).expect("dictionary");
    }
    let mut out = Vec::with_capacity(json.len());
    let status = compressor
        .compress_vec(json, &mut out, flate2::FlushCompress::Finish)
        .expect("deflate");
    assert_eq!(status, flate2::Status::StreamEnd);
    out
}

/// The stored items and queue bodies of an intake request, as bytes.
fn intake_cpu(tenant: &TenantId, events: &[Event], integrations: &[Integration]) -> usize {
    let now = chrono::Utc::now();
    events
        .iter()
        .map(|event| {
            let stored = match stored_payload(event).expect("payload").1 {
                AttributeValue::B(blob) => blob.into_inner().len(),
                other => other.as_s().map_or(0, String::len),
            };
            let queued: usize = plan(tenant, event, integrations, now)
                .into_iter()
                .map(|job| QueueMessage::DeliveryV1(job).to_json().len())
                .sum();
            stored + queued
        })
        .sum()
}

fn ssrf(c: &mut Criterion) {
    let addrs: Vec<IpAddr> = [
        "93.184.216.34",
        "10.0.0.1",
        "169.254.169.254",
        "2606:4700:4700::1111",
        "::ffff:127.0.0.1",
        "fd12::1",
    ]
    .iter()
    .map(|s| s.parse().expect("ip"))
    .collect();
    let mut group = c.benchmark_group("ssrf");
    group.throughput(Throughput::Elements(addrs.len() as u64));
    group.bench_function("classify_6_addresses", |b| {
        b.iter(|| {
            addrs
                .iter()
                .filter(|ip| forbidden_reason(**black_box(ip)).is_some())
                .count()
        })
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("target_url_parse", |b| {
        b.iter(|| {
            TargetUrl::parse(
                black_box("https://user:pw@hooks.example.com/in?x=1"),
                UrlPolicy::STRICT,
            )
        })
    });
    group.finish();
}

fn retry_delay(c: &mut Criterion) {
    let policy = RetryPolicy::STANDARD;
    c.bench_function("retry_delay/standard_all_attempts", |b| {
        b.iter_batched(
            || StdRng::seed_from_u64(7),
            |mut rng| {
                (1..=8)
                    .filter_map(|n| policy.delay_after(black_box(n), &mut rng))
                    .count()
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, render_and_sign, intake, ssrf, retry_delay);
criterion_main!(benches);
