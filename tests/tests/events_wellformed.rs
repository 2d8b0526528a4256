//! Every sample in `events/` is what Lambda would deliver: API samples are
//! HTTP API (payload v2) requests on a route the template declares for the
//! function the file is named after, with bodies our domain accepts; SQS
//! samples carry queue messages the consumers parse.
use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::sqs::SqsEvent;
use chathooks::domain::catalogue::EventType;
use chathooks::domain::event::{Event, MAX_BATCH_EVENTS};
use chathooks::domain::inbound::{self, Platform};
use chathooks::domain::message::QueueMessage;
use chathooks::domain::source;
use chathooks_tests::moto::workspace_root;
use chathooks_tests::provision::Template;
use std::path::PathBuf;

/// Every sample: (file stem, parsed JSON).
fn samples() -> Vec<(String, serde_json::Value)> {
    let dir = workspace_root().join("events");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&p).unwrap();
            let json = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: not JSON: {e}", p.display()));
            (stem, json)
        })
        .collect()
}

/// The `METHOD /path` route keys template.yaml declares for the function built as `binary`.
fn routes_of(template: &Template, binary: &str) -> Vec<String> {
    let function = template
        .resources()
        .find(|r| {
            r.kind == "AWS::Serverless::Function"
                && r.metadata["BuildProperties"]["Binary"].as_str() == Some(binary)
        })
        .unwrap_or_else(|| panic!("no function builds `{binary}`"));
    function.properties["Events"]
        .as_mapping()
        .into_iter()
        .flatten()
        .filter(|(_, e)| e["Type"].as_str() == Some("HttpApi"))
        .map(|(_, e)| {
            let p = &e["Properties"];
            format!(
                "{} {}",
                p["Method"].as_str().unwrap(),
                p["Path"].as_str().unwrap()
            )
        })
        .collect()
}

const BINARIES: [&str; 4] = [
    "config-api",
    "event-intake",
    "dispatcher",
    "retry-scheduler",
];

fn binary_of(stem: &str) -> &'static str {
    BINARIES
        .into_iter()
        .find(|b| stem.starts_with(&format!("{b}-")))
        .unwrap_or_else(|| panic!("{stem}: not named `<function>-<what>`"))
}

#[test]
fn every_function_has_samples_and_every_sample_names_its_function() {
    let stems: Vec<String> = samples().into_iter().map(|(s, _)| s).collect();
    for binary in BINARIES {
        assert!(
            stems.iter().any(|s| binary_of(s) == binary),
            "no sample for {binary}"
        );
    }
    for expected in [
        "config-api-create-tenant",
        "config-api-rocketchat-settings",
        "config-api-openapi",
        "event-intake-chat-closed",
        "event-intake-batch",
        "config-api-create-source",
        "event-intake-rocketchat-session",
        "config-api-create-api-key",
        "config-api-list-api-keys",
        "config-api-list-tenants",
        "config-api-update-tenant",
        "dispatcher-delivery",
        "retry-scheduler-retry",
    ] {
        assert!(stems.iter().any(|s| s == expected), "missing {expected}");
    }
}

#[test]
fn api_samples_are_http_api_requests_on_a_declared_route() {
    let template = Template::workspace().unwrap();
    let mut checked = 0;
    for (stem, json) in samples() {
        let binary = binary_of(&stem);
        if binary == "dispatcher" || binary == "retry-scheduler" {
            continue;
        }
        // GIVEN an API sample WHEN it is read as Lambda's HTTP API request
        let request: ApiGatewayV2httpRequest = serde_json::from_value(json.clone())
            .unwrap_or_else(|e| panic!("{stem}: not an HTTP API v2 request: {e}"));

        // THEN it is a v2 request on a route of its own function, path and method agreeing
        assert_eq!(request.version.as_deref(), Some("2.0"), "{stem}");
        let route = request.route_key.clone().unwrap();
        assert!(
            routes_of(&template, binary).contains(&route),
            "{stem}: route {route} is not one of {binary}'s"
        );
        assert_eq!(
            request.request_context.route_key.as_deref(),
            Some(route.as_str())
        );
        let path = request.raw_path.clone().unwrap();
        assert_eq!(
            request.request_context.http.path.as_deref(),
            Some(path.as_str())
        );
        let (method, template_path) = route.split_once(' ').unwrap();
        if method != "ANY" {
            assert_eq!(
                request.request_context.http.method.as_str(),
                method,
                "{stem}"
            );
        }
        if let Some(proxy) = template_path.strip_suffix("{proxy+}") {
            assert_eq!(
                format!("{proxy}{}", request.path_parameters["proxy"]),
                path,
                "{stem}"
            );
        } else if let Some(prefix) = template_path.strip_suffix("{token}") {
            let token = &request.path_parameters["token"];
            assert_eq!(format!("{prefix}{token}"), path, "{stem}");
            assert!(
                source::is_token(token),
                "{stem}: {token} is not a source token"
            );
        } else {
            assert_eq!(template_path, path, "{stem}");
        }
        assert!(!request.is_base64_encoded, "{stem}");

        // AND a body is JSON sent as such
        if let Some(body) = &request.body {
            let parsed: serde_json::Value = serde_json::from_str(body)
                .unwrap_or_else(|e| panic!("{stem}: body is not JSON: {e}"));
            assert_eq!(
                request.headers.get("content-type").unwrap(),
                "application/json",
                "{stem}"
            );
            check_events_in(&stem, &parsed);
        }
        checked += 1;
    }
    assert!(checked >= 23, "only {checked} API samples");
}

/// An intake body is one event or `{"events": [...]}`, each valid; a post
/// to a source is its platform's own payload, which its parser reads.
fn check_events_in(stem: &str, body: &serde_json::Value) {
    if !stem.starts_with("event-intake-") {
        return;
    }
    if stem == "event-intake-rocketchat-session" {
        let raw = serde_json::to_vec(body).unwrap();
        let inbound = inbound::parse(Platform::Rocketchat, Some("application/json"), &raw)
            .unwrap_or_else(|e| panic!("{stem}: Rocket.Chat's parser refused it: {e}"));
        assert_eq!(inbound.event.kind, EventType::ChatClosed, "{stem}");
        return;
    }
    let events: Vec<serde_json::Value> = match body.get("events") {
        Some(list) => list.as_array().unwrap().clone(),
        None => vec![body.clone()],
    };
    assert!(
        !events.is_empty() && events.len() <= MAX_BATCH_EVENTS,
        "{stem}"
    );
    for event in events {
        Event::from_json(event).unwrap_or_else(|e| panic!("{stem}: invalid event: {e}"));
    }
}

#[test]
fn the_rocketchat_settings_sample_carries_its_auth_headers() {
    let (_, json) = samples()
        .into_iter()
        .find(|(s, _)| s == "config-api-rocketchat-settings")
        .unwrap();
    let request: ApiGatewayV2httpRequest = serde_json::from_value(json).unwrap();
    assert!(request.headers.contains_key("x-auth-token"));
    assert!(request.headers.contains_key("x-user-id"));
    let body: serde_json::Value = serde_json::from_str(request.body.as_deref().unwrap()).unwrap();
    assert_eq!(body["LivechatHttpTimeout"], 5000);
    assert_eq!(body["LivechatWebhookOnChatQueued"], false);
}

#[test]
fn sqs_samples_carry_queue_messages_of_their_consumer() {
    for (stem, json) in samples() {
        let expected_type = match binary_of(&stem) {
            "dispatcher" => "delivery.v1",
            "retry-scheduler" => "retry.v1",
            _ => continue,
        };
        // GIVEN an SQS sample WHEN it is read as Lambda's SQS event
        let event: SqsEvent = serde_json::from_value(json)
            .unwrap_or_else(|e| panic!("{stem}: not an SQS event: {e}"));
        assert!(!event.records.is_empty(), "{stem}");
        for record in &event.records {
            // THEN each body is a queue message of the version its consumer reads
            let body = record.body.as_deref().unwrap();
            let message = QueueMessage::from_json(body)
                .unwrap_or_else(|e| panic!("{stem}: body is not a QueueMessage: {e}"));
            let job = match (&message, expected_type) {
                (QueueMessage::DeliveryV1(job), "delivery.v1") => job,
                (QueueMessage::RetryV1(retry), "retry.v1") => {
                    assert!(retry.due_at > retry.job.created_at, "{stem}");
                    &retry.job
                }
                _ => panic!("{stem}: expected {expected_type}, got {message:?}"),
            };
            // AND it names the event the intake sample stores (jobs carry ids;
            // the dispatcher reads the stored event)
            assert_eq!(job.event_id.as_str(), "evt-chat-42-closed", "{stem}");
            assert_eq!(job.event_type, EventType::ChatClosed, "{stem}");
            assert!(record.message_id.is_some() && record.receipt_handle.is_some());
        }
    }
}

#[test]
fn the_source_post_sample_carries_the_secret_its_source_is_created_with() {
    let find = |stem: &str| {
        let (_, json) = samples().into_iter().find(|(s, _)| s == stem).unwrap();
        serde_json::from_value::<ApiGatewayV2httpRequest>(json).unwrap()
    };
    let created = find("config-api-create-source");
    let body: serde_json::Value = serde_json::from_str(created.body.as_deref().unwrap()).unwrap();
    assert_eq!(body["platform"], "rocketchat");
    let post = find("event-intake-rocketchat-session");
    assert_eq!(
        post.headers
            .get("x-rocketchat-livechat-token")
            .and_then(|v| v.to_str().ok()),
        body["secret"].as_str()
    );
    assert!(!post.headers.contains_key("authorization"));
}
