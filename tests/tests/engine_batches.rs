//! The delivery engine's SQS side: a batch runs concurrently, a dispatcher
//! killed mid-batch loses nothing, and a poison message reaches the
//! dead-letter queue without holding up its batch.

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use chathooks::domain::event::Event;
use chathooks::domain::ids::{IntegrationId, TenantId};
use chathooks::domain::message::{DeliveryJob, QueueMessage};
use chathooks_tests::fixtures::*;
use chathooks_tests::local::{LocalOptions, LocalStack};
use chathooks_tests::receiver::{Receiver, Reply};
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// One delivery job per event id for the integration `id`, as the intake plans them.
async fn jobs_for(
    stack: &LocalStack,
    tenant_id: &str,
    id: &str,
    events: &[String],
) -> Vec<DeliveryJob> {
    let tenant_id = TenantId::parse(tenant_id).unwrap();
    let integration = stack
        .functions
        .dispatcher
        .integrations
        .get(&tenant_id, &IntegrationId::parse(id).unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut jobs = Vec::new();
    for e in events {
        let event = Event::from_json(closed_chat(e)).unwrap();
        let accepted = stack
            .accepted_jobs(&tenant_id, &event, std::slice::from_ref(&integration))
            .await
            .unwrap();
        jobs.extend(accepted);
    }
    jobs
}

fn record(n: usize, body: String) -> SqsMessage {
    let mut m = SqsMessage::default();
    m.message_id = Some(format!("m-{n}"));
    m.body = Some(body);
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_of_ten_slow_deliveries_runs_concurrently() {
    // GIVEN a receiver that answers after one second
    let (stack, admin, _) = stack_with(&[]).await;
    let (tenant, tenant_id) = tenant_with_id(&admin).await;
    let receiver =
        Receiver::scripted(|_, _| Reply::status(200).after(Duration::from_secs(1))).await;
    let (id, _) = integration(&tenant, &receiver.url("/slow"), json!({"timeout_ms": 5000})).await;
    let events: Vec<String> = (0..10).map(|n| format!("evt-batch-{n}")).collect();
    let mut event = SqsEvent::default();
    for (n, job) in jobs_for(&stack, &tenant_id, &id, &events)
        .await
        .into_iter()
        .enumerate()
    {
        event
            .records
            .push(record(n, QueueMessage::DeliveryV1(job).to_json()));
    }
    assert_eq!(event.records.len(), 10);

    // WHEN the dispatcher handles the batch of ten
    let started = Instant::now();
    let response = dispatcher::handle(&stack.functions.dispatcher, event).await;
    let took = started.elapsed();

    // THEN every message succeeded, in far less than ten sequential seconds
    // (five would be two at a time; the margin is for a loaded machine)
    assert!(response.batch_item_failures.is_empty());
    assert!(took < Duration::from_secs(5), "batch took {took:?}");
    assert_eq!(receiver.received().len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dispatcher_killed_mid_batch_loses_nothing() {
    // GIVEN one poller per queue, a 2 s visibility timeout and a receiver that hangs while "crashing"
    let (mut stack, _admin, tenant) = stack_opts(LocalOptions {
        visibility_timeout: Some(2),
        pollers: 1,
        ..LocalOptions::default()
    })
    .await;
    let crashing = Arc::new(AtomicBool::new(true));
    let hang = crashing.clone();
    let receiver = Receiver::scripted(move |_, _| {
        if hang.load(Ordering::SeqCst) {
            Reply::status(200).after(Duration::from_secs(60))
        } else {
            Reply::status(200)
        }
    })
    .await;
    integration(
        &tenant,
        &receiver.url("/crash"),
        json!({"timeout_ms": 30000}),
    )
    .await;
    let ids: Vec<String> = (0..5).map(|n| format!("evt-crash-{n}")).collect();
    let batch: Vec<_> = ids.iter().map(|id| closed_chat(id)).collect();
    let accepted = tenant.post("/v1/events", &json!({"events": batch})).await;
    assert_eq!(accepted.status, 202, "{:?}", accepted.body);
    let deliveries: Vec<String> = accepted.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["deliveries"][0]["id"].as_str().unwrap().to_string())
        .collect();

    // WHEN the dispatcher dies while its batch is in flight
    let before = receiver.wait_for(1, WAIT).await;
    assert!(!before.is_empty(), "nothing was dispatched");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stack.kill_consumers().await;
    crashing.store(false, Ordering::SeqCst);
    let in_flight = receiver.received().len();
    stack.start_consumers();

    // THEN every delivery still succeeds: the abandoned messages came back after the timeout
    for id in &deliveries {
        let d = wait_delivery(&tenant, id, WAIT, |d| d["status"] == "succeeded").await;
        assert_eq!(
            d["status"], "succeeded",
            "{id}: {d} ({in_flight} were in flight)"
        );
    }
    let delivered: BTreeSet<String> = receiver
        .received()
        .iter()
        .filter_map(|r| r.header("webhook-id").map(str::to_string))
        .collect();
    assert_eq!(delivered, deliveries.iter().cloned().collect());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_poison_message_reaches_the_dead_letter_queue_without_blocking_its_batch() {
    // GIVEN a 1 s visibility timeout (the queue's maxReceiveCount is 5) and a healthy receiver
    let (stack, admin, _) = stack_opts(LocalOptions {
        visibility_timeout: Some(1),
        ..LocalOptions::default()
    })
    .await;
    let (tenant, tenant_id) = tenant_with_id(&admin).await;
    let receiver = Receiver::start().await;
    let (id, _) = integration(&tenant, &receiver.url("/ok"), json!({})).await;
    let events: Vec<String> = (0..3).map(|n| format!("evt-good-{n}")).collect();
    let good = jobs_for(&stack, &tenant_id, &id, &events).await;
    let mut bodies: Vec<String> = good
        .iter()
        .map(|j| QueueMessage::DeliveryV1(j.clone()).to_json())
        .collect();
    let unknown = json!({"type": "delivery.v9", "delivery_id": "msg_x"}).to_string();
    bodies.insert(1, "this is not json".to_string());
    bodies.push(unknown.clone());

    // WHEN good and poison messages arrive in one SendMessageBatch
    let entries = bodies
        .iter()
        .enumerate()
        .map(|(n, b)| {
            aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                .id(n.to_string())
                .message_body(b)
                .build()
                .unwrap()
        })
        .collect();
    let sent = stack
        .sqs
        .send_message_batch()
        .queue_url(stack.queue_url("DeliveryQueue"))
        .set_entries(Some(entries))
        .send()
        .await
        .unwrap();
    assert!(sent.failed.is_empty());

    // THEN the good ones are delivered at once
    let got = receiver.wait_for(3, WAIT).await;
    let delivered: BTreeSet<_> = got
        .iter()
        .filter_map(|r| r.header("webhook-id").map(str::to_string))
        .collect();
    let expected: BTreeSet<_> = good.iter().map(|j| j.delivery_id.to_string()).collect();
    assert_eq!(delivered, expected);

    // AND both poison messages end in the dead-letter queue
    let dlq = stack.queue_url("DeliveryDeadLetterQueue");
    let mut dead = BTreeSet::new();
    let deadline = Instant::now() + WAIT;
    while dead.len() < 2 && Instant::now() < deadline {
        let out = stack
            .sqs
            .receive_message()
            .queue_url(&dlq)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        for m in out.messages.unwrap_or_default() {
            dead.insert(m.body.unwrap_or_default());
        }
    }
    let poison: BTreeSet<_> = ["this is not json".to_string(), unknown].into();
    assert_eq!(dead, poison);
    // AND the good ones were delivered once each, never dead-lettered
    assert_eq!(receiver.received().len(), 3);
}
