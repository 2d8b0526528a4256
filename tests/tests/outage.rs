//! Emulator outages: SQS or DynamoDB cut off by the TCP proxy in front of
//! moto (moto itself keeps running, with its state). The intake answers 503,
//! never 202, while a dependency it needs is unreachable, and quickly; a
//! re-post once it is back is accepted and delivered. A dispatcher that
//! cannot reach DynamoDB leaves its messages for redelivery without logging
//! a failed attempt, and they are delivered once it is back. Nothing is lost.
//! A message whose delete was lost comes back, and is not sent twice.

use aws_sdk_sqs::types::QueueAttributeName;
use chathooks_tests::fixtures::*;
use chathooks_tests::local::{LocalOptions, clients};
use chathooks_tests::receiver::{Receiver, Reply};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long a 503 may take: the SDK retries a refused connection a few
/// times with short backoff; it must not hang the chat product.
const FAST: Duration = Duration::from_secs(8);

/// Visibility timeout of the emulated event-source mapping: longer than a
/// handler takes to give up on an unreachable store (the SDK's retries), as
/// the template's queue visibility is longer than the function timeout; a
/// shorter one would hand a message still in flight to a second poller.
const VISIBILITY: i32 = 5;

fn outage_options() -> LocalOptions {
    LocalOptions {
        through_proxies: true,
        visibility_timeout: Some(VISIBILITY),
        ..LocalOptions::default()
    }
}

fn batch(ids: &[String]) -> Value {
    json!({"events": ids.iter().map(|id| closed_chat(id)).collect::<Vec<_>>()})
}

/// Event ids the receiver got (from the Standard Webhooks payloads).
fn received_events(receiver: &Receiver) -> Vec<String> {
    receiver
        .received()
        .iter()
        .map(|r| {
            let body = r.json();
            body["data"]["event_id"]
                .as_str()
                .or_else(|| body["data"]["id"].as_str())
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_sqs_unreachable_the_intake_answers_503_and_a_repost_delivers_everything() {
    // GIVEN a stack reaching moto through proxies, and an integration
    let (stack, _admin, tenant) = stack_opts(outage_options()).await;
    let proxies = stack.proxies.as_ref().unwrap();
    let receiver = Receiver::start().await;
    integration(
        &tenant,
        &receiver.url("/hook"),
        json!({"retry_policy": [1, 1]}),
    )
    .await;
    let ids: Vec<String> = (0..5).map(|n| format!("evt-sqs-out-{n}")).collect();
    // (warm the intake's integration cache so only SQS is in the way)
    let warm = tenant
        .post("/v1/events", &closed_chat("evt-sqs-warm"))
        .await;
    assert_eq!(warm.status, 202, "{:?}", warm.body);
    receiver.wait_for(1, WAIT).await;

    // WHEN SQS is unreachable
    proxies.sqs.cut();
    // THEN a batch and a single event are both answered 503 (never 202), quickly
    for body in [batch(&ids), closed_chat("evt-sqs-single")] {
        let started = Instant::now();
        let answer = tenant.post("/v1/events", &body).await;
        let took = started.elapsed();
        assert_eq!(answer.status, 503, "{:?}", answer.body);
        assert_eq!(
            answer.body["error"]["code"], "unavailable",
            "{:?}",
            answer.body
        );
        assert!(took < FAST, "503 took {took:?}");
    }

    // WHEN SQS is back and the same events are posted again
    proxies.sqs.restore();
    let again = tenant.post("/v1/events", &batch(&ids)).await;
    // THEN they are accepted as new (the failed post queued nothing)
    assert_eq!(again.status, 202, "{:?}", again.body);
    for (n, item) in again.body["results"].as_array().unwrap().iter().enumerate() {
        assert_eq!(item["duplicate"], false, "{n}: {item}");
    }
    let single = tenant
        .post("/v1/events", &closed_chat("evt-sqs-single"))
        .await;
    assert_eq!(single.status, 202, "{:?}", single.body);
    // AND every one of them is delivered exactly once
    receiver.wait_for(7, WAIT).await;
    wait_idle(&stack).await;
    let got: Vec<String> = received_events(&receiver);
    let mut want: BTreeSet<String> = ids.iter().cloned().collect();
    want.insert("evt-sqs-single".into());
    want.insert("evt-sqs-warm".into());
    assert_eq!(got.len(), 7, "{got:?}");
    assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_dynamodb_unreachable_the_intake_answers_503() {
    let (stack, _admin, tenant) = stack_opts(outage_options()).await;
    let proxies = stack.proxies.as_ref().unwrap();
    let receiver = Receiver::start().await;
    integration(
        &tenant,
        &receiver.url("/hook"),
        json!({"retry_policy": [1, 1]}),
    )
    .await;

    // WHEN DynamoDB is unreachable (the integration list may be cached: the event store is not)
    proxies.dynamodb.cut();
    let started = Instant::now();
    let answer = tenant.post("/v1/events", &closed_chat("evt-ddb-out")).await;
    // THEN 503, quickly
    assert_eq!(answer.status, 503, "{:?}", answer.body);
    assert!(started.elapsed() < FAST, "503 took {:?}", started.elapsed());
    // AND the config API says 503 too (not 500, not a leak of internals)
    let listed = tenant.get("/v1/integrations").await;
    assert_eq!(listed.status, 503, "{:?}", listed.body);
    assert!(
        !listed.body.to_string().contains("127.0.0.1"),
        "{:?}",
        listed.body
    );

    // WHEN it is back, the same event is accepted and delivered
    proxies.dynamodb.restore();
    let again = tenant.post("/v1/events", &closed_chat("evt-ddb-out")).await;
    assert_eq!(again.status, 202, "{:?}", again.body);
    let got = receiver.wait_for(1, WAIT).await;
    assert_eq!(got.len(), 1);
    assert!(!receiver.received().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dispatcher_without_dynamodb_leaves_its_messages_and_delivers_them_later() {
    // GIVEN events queued while the consumers are stopped, and a count of
    // the messages the dispatcher has handled
    let handled = Arc::new(AtomicUsize::new(0));
    let count = handled.clone();
    let mut options = outage_options();
    options.instruments.on_invocation = Some(Arc::new(move |queue: &str, records, _| {
        if queue == "DeliveryQueue" {
            count.fetch_add(records, Ordering::SeqCst);
        }
    }));
    let (mut stack, _admin, tenant) = stack_opts(options).await;
    let receiver = Receiver::start().await;
    integration(
        &tenant,
        &receiver.url("/hook"),
        json!({"retry_policy": [1, 1]}),
    )
    .await;
    stack.kill_consumers().await;
    let ids: Vec<String> = (0..4).map(|n| format!("evt-disp-out-{n}")).collect();
    let accepted = tenant.post("/v1/events", &batch(&ids)).await;
    assert_eq!(accepted.status, 202, "{:?}", accepted.body);
    let deliveries: Vec<String> = accepted.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["deliveries"][0]["id"].as_str().unwrap().to_string())
        .collect();

    // WHEN DynamoDB becomes unreachable and the dispatcher runs
    stack.proxies.as_ref().unwrap().dynamodb.cut();
    stack.start_consumers();
    // (until every message has been through a handler that could not reach it)
    let deadline = Instant::now() + WAIT;
    while handled.load(Ordering::SeqCst) < ids.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        handled.load(Ordering::SeqCst) >= ids.len(),
        "not all handled"
    );
    // THEN nothing was sent
    assert!(receiver.received().is_empty(), "{:?}", receiver.received());

    // WHEN DynamoDB is back
    stack.proxies.as_ref().unwrap().dynamodb.restore();
    // THEN every delivery succeeds in exactly one attempt: no failed attempt was logged
    for id in &deliveries {
        let d = wait_settled(&tenant, id, WAIT).await;
        assert_eq!(d["status"], "succeeded", "{d}");
        let a = attempts(&d);
        assert_eq!(a.len(), 1, "{d}");
        assert_eq!(a[0]["status_code"], 200, "{d}");
    }
    wait_idle(&stack).await;
    let got = received_events(&receiver);
    assert_eq!(got.len(), ids.len(), "{got:?}");
    assert_eq!(
        got.into_iter().collect::<BTreeSet<_>>(),
        ids.iter().cloned().collect::<BTreeSet<_>>()
    );
}

/// A queue's (visible, in flight) message counts, read past the proxies.
async fn queue_counts(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> (u64, u64) {
    let out = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .expect("queue attributes");
    let count = |name: QueueAttributeName| {
        out.attributes()
            .and_then(|a| a.get(&name))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    (
        count(QueueAttributeName::ApproximateNumberOfMessages),
        count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    )
}

/// Poll until the queue's counts are `want`, or the timeout passes; returns the last.
async fn wait_counts(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    want: (u64, u64),
    timeout: Duration,
) -> (u64, u64) {
    let deadline = Instant::now() + timeout;
    loop {
        let got = queue_counts(sqs, queue_url).await;
        if got == want || Instant::now() >= deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_message_whose_delete_was_lost_comes_back_and_is_not_sent_twice() {
    // GIVEN a receiver that takes a moment to answer
    let (stack, _admin, tenant) = stack_opts(outage_options()).await;
    let proxies = stack.proxies.as_ref().unwrap();
    let receiver =
        Receiver::scripted(|_, _| Reply::status(200).after(Duration::from_millis(1500))).await;
    integration(&tenant, &receiver.url("/hook"), json!({})).await;
    let (_, direct) = clients(&stack.emulator).await;
    let queue = stack.queue_url("DeliveryQueue");
    let id = post_event(&tenant, "evt-lost-delete").await;

    // WHEN SQS becomes unreachable while the attempt is in flight
    assert_eq!(receiver.wait_for(1, WAIT).await.len(), 1);
    proxies.sqs.cut();
    // THEN the attempt is logged (DynamoDB is reachable) ...
    let d = wait_settled(&tenant, &id, WAIT).await;
    assert_eq!(d["status"], "succeeded", "{d}");
    // ... but the delete is lost: the message comes back once its visibility ends
    let back = wait_counts(&direct, &queue, (1, 0), WAIT).await;
    assert_eq!(back, (1, 0), "the message should be visible again");

    // WHEN SQS is back and the message is received a second time
    proxies.sqs.restore();
    // THEN it is handled (and deleted) ...
    let drained = wait_counts(&direct, &queue, (0, 0), WAIT).await;
    assert_eq!(drained, (0, 0), "the message should be consumed");
    // ... without a second request, and the log still holds one attempt
    wait_idle(&stack).await;
    assert_eq!(
        receiver.received().len(),
        1,
        "{:?}",
        received_events(&receiver)
    );
    let d = tenant.get(&format!("/v1/deliveries/{id}")).await.body;
    assert_eq!(
        (d["status"].as_str(), attempts(&d).len()),
        (Some("succeeded"), 1),
        "{d}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_manual_retry_with_the_store_unreachable_answers_503_not_409() {
    // GIVEN a failed delivery (no retries) on a stack reaching moto through proxies
    let (stack, _admin, tenant) = stack_opts(outage_options()).await;
    let proxies = stack.proxies.as_ref().unwrap();
    let receiver = Receiver::scripted(|_, _| Reply::status(500)).await;
    let (integration_id, _) = integration(
        &tenant,
        &receiver.url("/hook"),
        json!({"retry_policy": "none"}),
    )
    .await;
    let delivery = post_event(&tenant, "evt-retry-outage").await;
    let failed = wait_settled(&tenant, &delivery, WAIT).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    wait_idle(&stack).await;

    // WHEN DynamoDB goes down exactly at the retry's read of the integration
    // (the delivery itself was read: the store answered a moment before)
    proxies.dynamodb.cut_on(integration_id.as_bytes());
    let started = Instant::now();
    let answer = tenant
        .post(&format!("/v1/deliveries/{delivery}/retry"), &json!({}))
        .await;
    // THEN 503 "try again", quickly: an outage, not a conflict
    assert!(!proxies.dynamodb.is_up(), "the integration was never read");
    assert_eq!(answer.status, 503, "{:?}", answer.body);
    assert_eq!(
        answer.body["error"]["code"], "unavailable",
        "{:?}",
        answer.body
    );
    assert!(started.elapsed() < FAST, "503 took {:?}", started.elapsed());

    // WHEN the store is back, the same retry is accepted
    proxies.dynamodb.restore();
    let answer = tenant
        .post(&format!("/v1/deliveries/{delivery}/retry"), &json!({}))
        .await;
    assert_eq!(answer.status, 202, "{:?}", answer.body);
    // AND with the integration deleted, a retry is a conflict (409)
    let deleted = tenant
        .delete(&format!("/v1/integrations/{integration_id}"))
        .await;
    assert!(
        deleted.status == 204 || deleted.status == 200,
        "{:?}",
        deleted.body
    );
    wait_idle(&stack).await;
    let answer = tenant
        .post(&format!("/v1/deliveries/{delivery}/retry"), &json!({}))
        .await;
    assert_eq!(answer.status, 409, "{:?}", answer.body);
}
