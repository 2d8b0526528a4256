//! Every sample in `events/` (the files `sam local invoke -e` uses) runs
//! through its function's handler against the local stack and succeeds, so
//! the samples never rot. Placeholder keys and ids in the samples are
//! replaced by real ones created along the way.
use aws_lambda_events::sqs::SqsEvent;
use chathooks_tests::fixtures::{LocalOptions, WAIT, start};
use chathooks_tests::local::LocalStack;
use chathooks_tests::moto::workspace_root;
use chathooks_tests::receiver::Receiver;
use chathooks_tests::samples::{ADMIN_PLACEHOLDER, CONFIG_API_SAMPLES, Real, uncovered};
use serde_json::Value;

fn read(name: &str) -> String {
    std::fs::read_to_string(workspace_root().join("events").join(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

async fn invoke_http(stack: &LocalStack, name: &str, real: &Real) -> (u16, Value) {
    let raw = real
        .apply(&read(name))
        .replace(ADMIN_PLACEHOLDER, &stack.options.admin_key);
    let request = lambda_http::request::from_str(&raw)
        .unwrap_or_else(|e| panic!("{name} is not an API Gateway event: {e}"));
    let response = stack.call(request).await;
    let status = response.status().as_u16();
    let body: &[u8] = response.body().as_ref();
    (status, serde_json::from_slice(body).unwrap_or(Value::Null))
}

fn sqs_event(name: &str, real: &Real) -> SqsEvent {
    serde_json::from_str(&real.apply(&read(name)))
        .unwrap_or_else(|e| panic!("{name} is not an SQS event: {e}"))
}

/// Whether the receiver got, within `WAIT`, the standard webhook of the event `id`.
async fn delivered(receiver: &Receiver, id: &Value) -> Option<Value> {
    let deadline = std::time::Instant::now() + WAIT;
    while std::time::Instant::now() < deadline {
        let found = receiver
            .received()
            .iter()
            .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap_or(Value::Null))
            .find(|body| &body["data"]["id"] == id);
        if found.is_some() {
            return found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_sample_event_runs_through_its_handler() {
    let mut stack = start(LocalOptions::default()).await;
    let receiver = Receiver::start().await;
    let mut real = Real {
        target: receiver.url("/hooks/chat"),
        ..Default::default()
    };

    // The tenant, with the admin key.
    let (status, body) = invoke_http(&stack, "config-api-create-tenant.json", &real).await;
    assert_eq!(status, 201, "{body}");
    real.tenant = body["id"].as_str().unwrap().to_string();
    real.key = body["api_key"].as_str().unwrap().to_string();

    // An integration (the sample's target replaced by the local receiver).
    let (status, body) = invoke_http(&stack, "config-api-create-integration.json", &real).await;
    assert_eq!(status, 201, "{body}");
    real.integration = body["id"].as_str().unwrap().to_string();

    // A Rocket.Chat source: its URL's token is what the source post's sample names.
    let (status, body) = invoke_http(&stack, "config-api-create-source.json", &real).await;
    assert_eq!(status, 201, "{body}");
    real.set_source(&body).unwrap();

    // The intake samples.
    let (status, body) = invoke_http(&stack, "event-intake-chat-closed.json", &real).await;
    assert_eq!(status, 202, "{body}");
    real.delivery = body["deliveries"][0]["id"].as_str().unwrap().to_string();
    let (status, body) = invoke_http(&stack, "event-intake-batch.json", &real).await;
    assert_eq!(status, 202, "{body}");

    // The consumers' samples through the dispatcher and retry-scheduler handlers.
    let response = dispatcher::handle(
        &stack.functions.dispatcher,
        sqs_event("dispatcher-delivery.json", &real),
    )
    .await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert!(
        !receiver.wait_for(1, WAIT).await.is_empty(),
        "the dispatcher sample was not delivered"
    );
    let response = retry_scheduler::handle(
        &stack.functions.retry_scheduler,
        sqs_event("retry-scheduler-retry.json", &real),
    )
    .await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");

    // Every other API sample, the deletion last.
    for (name, want) in CONFIG_API_SAMPLES {
        let (status, body) = invoke_http(&stack, name, &real).await;
        assert_eq!(status, want, "{name}: {body}");
        if name == "event-intake-rocketchat-session.json" {
            // Rocket.Chat's post is a chat.closed of its conversation,
            // delivered to the tenant's integration by the queue's consumers.
            assert_eq!(body["success"], true, "{name}: {body}");
            stack.start_consumers();
            let got = delivered(&receiver, &body["event_id"])
                .await
                .unwrap_or_else(|| panic!("{name}: {body} was not delivered"));
            assert_eq!(got["type"], "chat.closed", "{got}");
            assert_eq!(got["data"]["chat"]["id"], "fasd6f5a4sd6f8a4sdf", "{got}");
        }
    }

    // No sample is left out of this test.
    let left = uncovered(&workspace_root().join("events")).unwrap();
    assert!(
        left.is_empty(),
        "events/ samples not run by this test: {left:?}"
    );
}
