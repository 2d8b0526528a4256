//! The intake side of the delivery engine: duplicate event ids (single and
//! batch bodies), events too large to travel inline in the queue message, and
//! the warm intake's cache of a tenant's integrations.

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use chathooks::domain::message::QueueMessage;
use chathooks_tests::fixtures::*;
use chathooks_tests::receiver::Receiver;
use serde_json::json;
use std::collections::BTreeSet;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_duplicate_event_id_creates_no_second_delivery() {
    // GIVEN an integration for chat.closed
    let (stack, _admin, tenant) = stack_with(&[]).await;
    let receiver = Receiver::start().await;
    integration(&tenant, &receiver.url("/dup"), json!({})).await;

    // WHEN the same event is posted twice, then again in a batch with a new one, then that batch again
    let first = tenant.post("/v1/events", &closed_chat("evt-dup-a")).await;
    let again = tenant.post("/v1/events", &closed_chat("evt-dup-a")).await;
    let batch = json!({"events": [closed_chat("evt-dup-a"), closed_chat("evt-dup-b")]});
    let mixed = tenant.post("/v1/events", &batch).await;
    let repeat = tenant.post("/v1/events", &batch).await;

    // THEN only the first sighting of each id is new, and repeats name the same delivery
    assert_eq!(first.status, 202);
    assert_eq!(
        (again.status, &again.body["duplicate"]),
        (200, &json!(true))
    );
    assert_eq!(again.body["deliveries"], first.body["deliveries"]);
    assert_eq!(mixed.status, 202, "{:?}", mixed.body);
    let r = &mixed.body["results"];
    assert_eq!(r[0]["duplicate"], true);
    assert_eq!(r[0]["deliveries"], first.body["deliveries"]);
    assert_eq!(r[1]["duplicate"], false);
    let r2 = &repeat.body["results"];
    assert_eq!(
        (&r2[0]["duplicate"], &r2[1]["duplicate"]),
        (&json!(true), &json!(true))
    );
    assert_eq!(r2[1]["deliveries"], r[1]["deliveries"]);

    // AND the receiver gets one webhook per event id: every request for an
    // event carries the same webhook-id (a repeat racing the first request's
    // attempt may send it again, as SQS may; receivers dedupe on it)
    wait_idle(&stack).await;
    let got = receiver.received();
    let pairs: std::collections::BTreeSet<(String, String)> = got
        .iter()
        .map(|r| {
            let chat = r.json()["data"]["chat"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            (chat, r.header("webhook-id").unwrap_or_default().to_string())
        })
        .collect();
    let chats: std::collections::BTreeSet<&String> = pairs.iter().map(|(c, _)| c).collect();
    assert_eq!((pairs.len(), chats.len()), (2, 2), "{pairs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_large_event_travels_by_reference_and_is_delivered_whole() {
    // GIVEN a stack whose consumers are not running, and an integration
    let (mut stack, admin) = serving(LocalOptions::default()).await;
    let (tenant, _) = tenant_with_id(&admin).await;
    let receiver = Receiver::start().await;
    integration(&tenant, &receiver.url("/big"), json!({})).await;

    // WHEN an event of about 200 KiB (under the 256 KiB limit) is posted
    let text = "y".repeat(1000);
    let messages: Vec<_> = (0..200)
        .map(|n| json!({"author_type": "agent", "author_name": "Ann", "text": format!("{n}:{text}"), "sent_at": "2026-11-21T10:00:00Z"}))
        .collect();
    let event = json!({"id": "evt-big", "type": "chat.closed", "chat": {"id": "chat-big", "messages": messages}});
    let size = event.to_string().len();
    assert!(size > 150 * 1024 && size < 256 * 1024, "{size}");
    let accepted = tenant.post("/v1/events", &event).await;
    assert_eq!(accepted.status, 202, "{:?}", accepted.body);

    // THEN the queue message carries a reference, not the event
    let out = stack
        .sqs
        .receive_message()
        .queue_url(stack.queue_url("DeliveryQueue"))
        .max_number_of_messages(10)
        .wait_time_seconds(2)
        .send()
        .await
        .unwrap();
    let queued = out.messages.unwrap_or_default();
    assert_eq!(queued.len(), 1);
    let body = queued[0].body.clone().unwrap();
    assert!(body.len() < 4096, "message is {} bytes", body.len());
    match QueueMessage::from_json(&body).unwrap() {
        QueueMessage::DeliveryV1(job) => {
            assert_eq!(job.event_id.as_str(), "evt-big");
            assert!(job.acceptance_token.is_some());
        }
        other => panic!("{other:?}"),
    }

    // AND the dispatcher handling that message delivers the whole event
    let mut record = SqsMessage::default();
    record.message_id = queued[0].message_id.clone();
    record.body = Some(body);
    let mut sqs_event = SqsEvent::default();
    sqs_event.records.push(record);
    let response = dispatcher::handle(&stack.functions.dispatcher, sqs_event).await;
    assert!(response.batch_item_failures.is_empty());
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    let delivered = got[0].json();
    let sent = delivered["data"]["chat"]["messages"].as_array().unwrap();
    assert_eq!(sent.len(), 200);
    assert_eq!(sent[199]["text"], format!("199:{text}"));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_intake_cache_is_bounded_and_never_sends_to_a_disabled_integration() {
    // GIVEN a 1 s intake cache and one integration
    let (stack, _admin, tenant) = stack_with(&[("CHATHOOKS_INTEGRATION_CACHE_SECONDS", "1")]).await;
    let a = Receiver::start().await;
    let b = Receiver::start().await;
    let (a_id, _) = integration(&tenant, &a.url("/a"), json!({})).await;
    let first = tenant.post("/v1/events", &closed_chat("evt-cache-1")).await;
    assert_eq!(first.body["deliveries"].as_array().unwrap().len(), 1);

    // WHEN a second integration is added, it is seen once the cache entry expires
    integration(&tenant, &b.url("/b"), json!({})).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let later = tenant.post("/v1/events", &closed_chat("evt-cache-2")).await;
    assert_eq!(
        later.body["deliveries"].as_array().unwrap().len(),
        2,
        "{:?}",
        later.body
    );

    // WHEN the first is disabled while the cache still lists it as enabled
    let off = tenant
        .patch(
            &format!("/v1/integrations/{a_id}"),
            &json!({"enabled": false}),
        )
        .await;
    assert_eq!(off.status, 200, "{:?}", off.body);
    let stale = tenant.post("/v1/events", &closed_chat("evt-cache-3")).await;
    assert_eq!(stale.status, 202);

    // THEN whatever the intake planned, the disabled integration receives nothing more
    wait_idle(&stack).await;
    assert_eq!(b.received().len(), 2);
    let to_a: BTreeSet<_> = a
        .received()
        .iter()
        .map(|r| {
            r.json()["data"]["chat"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    let expected_a: BTreeSet<_> = [
        "chat-evt-cache-1".to_string(),
        "chat-evt-cache-2".to_string(),
    ]
    .into();
    assert_eq!(to_a, expected_a);
    // AND a delivery planned from the stale cache is failed with the reason, without a request
    for planned in stale.body["deliveries"].as_array().unwrap() {
        if planned["integration_id"] == a_id.as_str() {
            let id = planned["id"].as_str().unwrap();
            let d = wait_settled(&tenant, id, WAIT).await;
            assert_eq!(d["status"], "failed", "{d}");
            assert!(
                d["last_error"].as_str().unwrap().contains("disabled"),
                "{d}"
            );
            assert!(
                attempts(&d)
                    .iter()
                    .all(|x| x.get("status_code").is_none_or(|s| s.is_null()))
            );
        }
    }
}
