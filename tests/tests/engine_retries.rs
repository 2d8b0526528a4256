//! Delivery engine under receiver faults, end to end against moto and real
//! receivers on 127.0.0.1, with time-compressed retry schedules: failures
//! then success, timeouts, 429 + Retry-After, 410 Gone, long waits that hop
//! through the retry queue, exhaustion, and retries stopped by disabling or
//! deleting the integration.

use chathooks_tests::fixtures::*;
use chathooks_tests::logs;
use chathooks_tests::receiver::{Receiver, Reply};
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failing_k_times_then_succeeding_is_one_success_and_k_plus_one_attempts() {
    // GIVEN a receiver that fails twice (500, then 503) and then succeeds
    const K: usize = 2;
    let (stack, _admin, tenant) = stack_with(&[]).await;
    let receiver =
        Receiver::scripted(|n, _| Reply::status(if n < K { 500 + n as u16 * 3 } else { 200 }))
            .await;
    integration(
        &tenant,
        &receiver.url("/hook"),
        json!({"retry_policy": [1, 1, 1, 1]}),
    )
    .await;

    // WHEN an event is posted
    let delivery = post_event(&tenant, "evt-k-fails").await;

    // THEN the delivery succeeds after K+1 attempts, the failed ones logged with their status
    let d = wait_settled(&tenant, &delivery, WAIT).await;
    assert_eq!(d["status"], "succeeded", "{d}");
    let log = attempts(&d);
    assert_eq!(log.len(), K + 1, "{d}");
    let numbers: Vec<_> = log.iter().map(|a| a["number"].as_u64().unwrap()).collect();
    assert_eq!(numbers, vec![1, 2, 3]);
    assert_eq!(log[0]["status_code"], 500);
    assert_eq!(log[1]["status_code"], 503);
    assert_eq!(log[2]["status_code"], 200);
    assert_eq!(log[0]["error_kind"], "http-status");

    // AND the receiver saw exactly K+1 requests, all for the same delivery, and no more later
    wait_idle(&stack).await;
    let got = receiver.received();
    assert_eq!(got.len(), K + 1);
    assert!(
        got.iter()
            .all(|r| r.header("webhook-id") == Some(delivery.as_str()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hanging_receiver_times_out_at_the_integration_timeout() {
    // GIVEN a receiver that takes 10 s to answer and an integration with a 1 s timeout, no retries
    let (_stack, _admin, tenant) = stack_with(&[]).await;
    let receiver =
        Receiver::scripted(|_, _| Reply::status(200).after(Duration::from_secs(10))).await;
    integration(
        &tenant,
        &receiver.url("/slow"),
        json!({"timeout_ms": 1000, "retry_policy": "none"}),
    )
    .await;

    // WHEN an event is posted
    let delivery = post_event(&tenant, "evt-hang").await;

    // THEN the only attempt is a timeout of about one second and the delivery failed
    let d = wait_settled(&tenant, &delivery, WAIT).await;
    assert_eq!(d["status"], "failed", "{d}");
    let log = attempts(&d);
    assert_eq!(log.len(), 1, "{d}");
    assert_eq!(log[0]["error_kind"], "timeout", "{d}");
    // (at the 1 s timeout, far short of the receiver's 10 s; the upper
    // bound leaves room for a loaded machine)
    let ms = log[0]["duration_ms"].as_u64().unwrap();
    assert!((950..5000).contains(&ms), "duration {ms} ms");
    assert!(log[0].get("status_code").is_none_or(|s| s.is_null()));
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retry_after_on_429_postpones_the_next_attempt_beyond_the_policy_delay() {
    // GIVEN a receiver answering 429 with Retry-After: 3 once, and a policy asking for 1 s
    let (_stack, _admin, tenant) = stack_with(&[]).await;
    let receiver = Receiver::scripted(|n, _| {
        if n == 0 {
            Reply::status(429).with_header("retry-after", "3")
        } else {
            Reply::status(200)
        }
    })
    .await;
    integration(
        &tenant,
        &receiver.url("/busy"),
        json!({"retry_policy": [1]}),
    )
    .await;

    // WHEN an event is posted
    let delivery = post_event(&tenant, "evt-429").await;

    // THEN the second request comes no earlier than 3 s after the first
    let got = receiver.wait_for(2, WAIT).await;
    assert_eq!(got.len(), 2);
    let gap = got[1].at - got[0].at;
    assert!(
        gap >= Duration::from_secs(3),
        "second attempt after {gap:?}"
    );
    // AND the log shows the postponed schedule and the success
    let d = wait_settled(&tenant, &delivery, WAIT).await;
    assert_eq!(d["status"], "succeeded", "{d}");
    let first = &attempts(&d)[0];
    assert_eq!(first["status_code"], 429);
    let started =
        chrono::DateTime::parse_from_rfc3339(first["started_at"].as_str().unwrap()).unwrap();
    let next =
        chrono::DateTime::parse_from_rfc3339(first["next_attempt_at"].as_str().unwrap()).unwrap();
    assert!((next - started).num_milliseconds() >= 3000, "{first}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gone_disables_the_integration_at_once_with_the_reason() {
    // GIVEN a receiver answering 410 Gone and a policy that would retry twice
    let (stack, _admin, tenant) = stack_with(&[("CHATHOOKS_INTEGRATION_CACHE_SECONDS", "0")]).await;
    let receiver = Receiver::scripted(|_, _| Reply::status(410)).await;
    let (id, _) = integration(
        &tenant,
        &receiver.url("/gone"),
        json!({"retry_policy": [1, 1]}),
    )
    .await;

    // WHEN an event is posted
    let delivery = post_event(&tenant, "evt-410").await;

    // THEN the delivery fails at once, naming the reason
    let d = wait_settled(&tenant, &delivery, WAIT).await;
    assert_eq!(d["status"], "failed", "{d}");
    assert_eq!(attempts(&d).len(), 1);
    assert!(d["last_error"].as_str().unwrap().contains("410"), "{d}");
    // AND the integration is disabled with the reason
    let i = tenant.get(&format!("/v1/integrations/{id}")).await;
    assert_eq!(i.body["enabled"], false, "{:?}", i.body);
    assert!(
        i.body["disabled_reason"].as_str().unwrap().contains("410"),
        "{:?}",
        i.body
    );
    // AND nothing more reaches the receiver: no retry, and a new event plans no delivery
    let again = tenant.post("/v1/events", &closed_chat("evt-410-b")).await;
    assert_eq!(again.status, 202);
    assert_eq!(again.body["deliveries"], json!([]));
    wait_idle(&stack).await;
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_delay_longer_than_the_hop_size_completes_through_hops() {
    logs::capture();
    // GIVEN a hop size of 1 s and a policy waiting 5 s before the retry (only a
    // scheduler taking the retry up 4 s after it became visible would see no hop)
    let (_stack, _admin, tenant) = stack_with(&[("CHATHOOKS_MAX_QUEUE_DELAY_SECONDS", "1")]).await;
    let receiver = Receiver::scripted(|n, _| Reply::status(if n == 0 { 502 } else { 200 })).await;
    integration(&tenant, &receiver.url("/hop"), json!({"retry_policy": [5]})).await;

    // WHEN the first attempt fails
    let delivery = post_event(&tenant, "evt-hop").await;

    // THEN the retry arrives no earlier than 5 s later and succeeds
    let got = receiver.wait_for(2, WAIT).await;
    assert_eq!(got.len(), 2);
    let gap = got[1].at - got[0].at;
    assert!(gap >= Duration::from_secs(5), "retry after {gap:?}");
    let d = wait_settled(&tenant, &delivery, WAIT).await;
    assert_eq!(d["status"], "succeeded", "{d}");
    // AND it got there by hopping: the scheduler sent it back at least once before releasing it
    let hops = logs::lines_with(&[&delivery, "hopped"]);
    let released = logs::lines_with(&[&delivery, "retry released"]);
    assert!(!hops.is_empty(), "no hop logged");
    assert_eq!(released.len(), 1, "{released:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_exhausted_delivery_is_failed_with_its_last_error() {
    // GIVEN a receiver that always answers 503 and a policy of two quick retries
    let (stack, _admin, tenant) = stack_with(&[]).await;
    let receiver = Receiver::scripted(|_, _| Reply::status(503)).await;
    let (id, _) = integration(
        &tenant,
        &receiver.url("/down"),
        json!({"retry_policy": [1, 1]}),
    )
    .await;

    let delivery = post_event(&tenant, "evt-exhaust").await;

    // THEN after three attempts the delivery is failed with the last error
    let d = wait_settled(&tenant, &delivery, WAIT).await;
    assert_eq!(d["status"], "failed", "{d}");
    assert_eq!(attempts(&d).len(), 3);
    let last = d["last_error"].as_str().unwrap();
    assert!(
        last.contains("gave up after 3 attempts") && last.contains("503"),
        "{last}"
    );
    assert_eq!(d["last_status_code"], 503);
    assert!(d.get("next_attempt_at").is_none_or(|v| v.is_null()), "{d}");
    // AND the integration stays enabled (one exhausted delivery is not the failing window)
    let i = tenant.get(&format!("/v1/integrations/{id}")).await;
    assert_eq!(i.body["enabled"], true);
    assert!(i.body["failing_since"].is_string());
    wait_idle(&stack).await;
    assert_eq!(receiver.received().len(), 3);
}

/// A pending retry stops when its integration is disabled (`delete`: false) or deleted.
async fn pending_retry_stops(delete: bool) {
    // GIVEN a failing receiver and a retry due in 5 s (time enough for the
    // change below on a loaded machine)
    let (stack, _admin, tenant) = stack_with(&[]).await;
    let receiver = Receiver::scripted(|_, _| Reply::status(500)).await;
    let (id, _) = integration(
        &tenant,
        &receiver.url("/x"),
        json!({"retry_policy": [5, 5]}),
    )
    .await;
    let delivery = post_event(&tenant, if delete { "evt-del" } else { "evt-off" }).await;
    let d = wait_delivery(&tenant, &delivery, WAIT, |d| !attempts(d).is_empty()).await;
    assert_eq!(d["status"], "pending", "{d}");

    // WHEN the integration is disabled or deleted before the retry is due
    let path = format!("/v1/integrations/{id}");
    let status = if delete {
        tenant.delete(&path).await.status
    } else {
        tenant.patch(&path, &json!({"enabled": false})).await.status
    };
    assert!((200..300).contains(&status), "{status}");

    // THEN the retry is dropped: the delivery is failed with the reason, the receiver sees no more
    let d = wait_delivery(&tenant, &delivery, WAIT, |d| d["status"] == "failed").await;
    assert_eq!(d["status"], "failed", "{d}");
    let why = d["last_error"].as_str().unwrap();
    assert!(
        why.contains(if delete { "deleted" } else { "disabled" }),
        "{why}"
    );
    assert_eq!(attempts(&d).len(), 1);
    // (the retry is dropped when it comes due: wait until it has been)
    wait_idle(&stack).await;
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn disabling_an_integration_stops_its_pending_retries() {
    pending_retry_stops(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleting_an_integration_stops_its_pending_retries() {
    pending_retry_stops(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failing_past_the_window_disables_the_integration() {
    // GIVEN a failing window of zero hours (any second failure in a run disables)
    let (stack, _admin, tenant) = stack_with(&[("CHATHOOKS_DISABLE_AFTER_HOURS", "0")]).await;
    let receiver = Receiver::scripted(|_, _| Reply::status(500)).await;
    let (id, _) = integration(
        &tenant,
        &receiver.url("/fail"),
        json!({"retry_policy": [1, 1, 1]}),
    )
    .await;

    // WHEN the first attempt fails (the run starts) and the retry fails too
    let delivery = post_event(&tenant, "evt-window").await;
    let d = wait_settled(&tenant, &delivery, WAIT).await;

    // THEN the second failure disables the integration, naming when the run began
    assert_eq!(d["status"], "failed", "{d}");
    assert_eq!(attempts(&d).len(), 2, "{d}");
    let i = tenant.get(&format!("/v1/integrations/{id}")).await.body;
    assert_eq!(i["enabled"], false, "{i}");
    let reason = i["disabled_reason"].as_str().unwrap();
    assert!(reason.contains("failed since"), "{reason}");
    assert!(d["last_error"].as_str().unwrap().contains(reason), "{d}");
    // AND the remaining retries never happen
    wait_idle(&stack).await;
    assert_eq!(receiver.received().len(), 2);
}
