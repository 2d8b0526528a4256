//! Ordered delivery per conversation (`ordering: chat`), end to end against
//! moto with real receivers on 127.0.0.1 that check the signature of every
//! request and record the order events arrive in, per chat.

use chathooks_tests::client::ApiClient;
use chathooks_tests::fixtures::*;
use chathooks_tests::receiver::{Received, Receiver, Reply};
use chathooks_tests::verify::assert_signed;
use rand::Rng;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A visitor's message `id` in `chat`.
fn message(id: &str, chat: &str) -> Value {
    json!({
        "id": id, "type": "message.visitor", "occurred_at": "2026-11-21T10:00:00Z",
        "chat": {"id": chat},
        "message": {"author_type": "visitor", "text": format!("message {id}"), "sent_at": "2026-11-21T10:00:00Z"}
    })
}

fn ids(chat: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{chat}-m{i:03}")).collect()
}

/// An ordered integration for visitor messages at `url`; its id and secret.
async fn ordered(tenant: &ApiClient, url: &str, retry_policy: Value) -> (String, String) {
    let created = create_integration(
        tenant,
        json!({"name": "timeline", "url": url, "events": ["message.visitor"],
               "ordering": "chat", "retry_policy": retry_policy}),
    )
    .await;
    assert_eq!(created["ordering"], "chat", "{created}");
    (
        created["id"].as_str().unwrap().to_string(),
        created["secret"].as_str().unwrap().to_string(),
    )
}

/// The event id and chat of a request, as the standard payload carries them.
fn event_of(r: &Received) -> (String, String) {
    let body = r.json();
    (
        body["data"]["id"].as_str().unwrap_or_default().to_string(),
        body["data"]["chat"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

/// Per chat: the event ids of the requests that were answered 2xx, in the
/// order they arrived, with repeated attempts of one event removed.
fn first_successes(received: &[Received], ok: &HashSet<usize>) -> HashMap<String, Vec<String>> {
    let mut per_chat: HashMap<String, Vec<String>> = HashMap::new();
    let mut seen = HashSet::new();
    for (n, r) in received.iter().enumerate() {
        let (event, chat) = event_of(r);
        if ok.contains(&n) && seen.insert(event.clone()) {
            per_chat.entry(chat).or_default().push(event);
        }
    }
    per_chat
}

/// Per chat: every event id in arrival order, repeated attempts removed.
fn first_arrivals(received: &[Received]) -> HashMap<String, Vec<String>> {
    let mut per_chat: HashMap<String, Vec<String>> = HashMap::new();
    let mut seen = HashSet::new();
    for r in received {
        let (event, chat) = event_of(r);
        if seen.insert(event.clone()) {
            per_chat.entry(chat).or_default().push(event);
        }
    }
    per_chat
}

async fn post_all(tenant: &ApiClient, events: &[Value]) -> Vec<String> {
    let accepted = accept(tenant, &json!({ "events": events })).await;
    accepted["results"]
        .as_array()
        .unwrap_or_else(|| panic!("a batch answer: {accepted}"))
        .iter()
        .map(|a| a["deliveries"][0]["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_chats_of_fifty_reach_a_receiver_failing_30_percent_each_in_its_order() {
    let (stack, _admin, tenant) = stack_with(&[]).await;
    // GIVEN a receiver failing 30 % of requests at random (the failures it chose are kept)
    let seed: u64 = rand::rng().random();
    println!("receiver failure seed {seed}");
    let rng = Arc::new(Mutex::new(
        <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed),
    ));
    let answered_ok = Arc::new(Mutex::new(HashSet::new()));
    let (script_rng, script_ok) = (rng.clone(), answered_ok.clone());
    let receiver = Receiver::scripted(move |n, _| {
        if script_rng.lock().unwrap().random_bool(0.3) {
            Reply::status(500)
        } else {
            script_ok.lock().unwrap().insert(n);
            Reply::status(200)
        }
    })
    .await;
    // (sixteen attempts each: a delivery failing all of them has odds of 4e-9)
    let (_, secret) = ordered(&tenant, &receiver.url("/timeline"), json!(vec![1; 15])).await;

    // WHEN three chats of 50 messages are posted, interleaved, in posts of 10
    let chats = ["alpha", "bravo", "charlie"];
    let mut expected: HashMap<String, Vec<String>> = HashMap::new();
    let mut deliveries = Vec::new();
    let mut all: Vec<Value> = Vec::new();
    for i in 0..50 {
        for chat in chats {
            let id = ids(chat, 50)[i].clone();
            expected
                .entry(chat.to_string())
                .or_default()
                .push(id.clone());
            all.push(message(&id, chat));
        }
    }
    for post in all.chunks(10) {
        deliveries.extend(post_all(&tenant, post).await);
    }

    // THEN every delivery succeeds
    for id in &deliveries {
        let d = wait_settled(&tenant, id, Duration::from_secs(240)).await;
        assert_eq!(d["status"], "succeeded", "{d}");
    }
    wait_idle(&stack).await;
    let received = receiver.received();
    for r in &received {
        assert_signed(r, &secret);
    }
    // AND each chat's first successful arrivals are exactly its order
    let ok = answered_ok.lock().unwrap().clone();
    let got = first_successes(&received, &ok);
    for chat in chats {
        assert_eq!(got.get(chat), expected.get(chat), "chat {chat}");
    }
    // AND so are its first arrivals: no event was tried before the one ahead of it succeeded
    assert_eq!(first_arrivals(&received), expected);
    let failures = received.len() - ok.len();
    println!(
        "{} requests for 150 deliveries, {failures} answered 500",
        received.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_chat_failing_for_a_minute_holds_back_no_other_chat() {
    let (stack, _admin, tenant) = stack_with(&[]).await;
    // GIVEN a receiver that fails every request of chat "stuck" for its first minute
    let start = Instant::now();
    let receiver = Receiver::scripted(move |_, r| {
        let (_, chat) = event_of(r);
        if chat == "stuck" && start.elapsed() < Duration::from_secs(60) {
            Reply::status(503)
        } else {
            Reply::status(200)
        }
    })
    .await;
    ordered(&tenant, &receiver.url("/timeline"), json!(vec![5; 20])).await;

    // WHEN the stuck chat posts 5 messages, then three other chats post 5 each, one post a second
    let stuck = ids("stuck", 5);
    let stuck_posts: Vec<Value> = stuck.iter().map(|id| message(id, "stuck")).collect();
    let stuck_deliveries = post_all(&tenant, &stuck_posts).await;
    let mut posted_at: HashMap<String, Instant> = HashMap::new();
    let others = ["c1", "c2", "c3"];
    for i in 0..5 {
        for chat in others {
            let id = ids(chat, 5)[i].clone();
            post_all(&tenant, &[message(&id, chat)]).await;
            posted_at.insert(id, Instant::now());
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    // THEN the stuck chat's messages all succeed in order once the minute is over
    for id in &stuck_deliveries {
        let d = wait_settled(&tenant, id, Duration::from_secs(180)).await;
        assert_eq!(d["status"], "succeeded", "{d}");
    }
    wait_idle(&stack).await;
    let received = receiver.received();
    let first_stuck_success = received
        .iter()
        .find(|r| event_of(r).1 == "stuck" && r.at.duration_since(start) >= Duration::from_secs(60))
        .map(|r| r.at)
        .expect("the stuck chat succeeded");
    let arrivals = first_arrivals(&received);
    assert_eq!(arrivals["stuck"], stuck);
    // AND every other chat arrived in order, each message before the stuck chat's head got through
    let mut latencies = Vec::new();
    for chat in others {
        assert_eq!(arrivals[chat], ids(chat, 5), "chat {chat}");
        for r in received.iter().filter(|r| event_of(r).1 == chat) {
            let (id, _) = event_of(r);
            assert!(r.at < first_stuck_success, "{id} waited for the stuck chat");
            latencies.push(r.at.saturating_duration_since(posted_at[&id]));
        }
    }
    latencies.sort();
    println!(
        "other chats' post-to-arrival latency while one chat failed: p50 {:?}, max {:?} ({} deliveries)",
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1],
        latencies.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_finally_failed_delivery_releases_the_next_and_stays_failed() {
    let (_stack, _admin, tenant) = stack_with(&[]).await;
    // GIVEN a receiver that always refuses the chat's first message
    let receiver = Receiver::scripted(|_, r| {
        if event_of(r).0 == "chat-x-m000" {
            Reply::status(500)
        } else {
            Reply::status(200)
        }
    })
    .await;
    ordered(&tenant, &receiver.url("/timeline"), json!([1])).await;
    let events: Vec<Value> = ids("chat-x", 3)
        .iter()
        .map(|id| message(id, "chat-x"))
        .collect();
    let deliveries = post_all(&tenant, &events).await;

    // THEN the first fails after its two attempts, and the next two then succeed, in order
    let first = wait_settled(&tenant, &deliveries[0], WAIT).await;
    assert_eq!(first["status"], "failed", "{first}");
    assert_eq!(attempts(&first).len(), 2, "{first}");
    for id in &deliveries[1..] {
        wait_status(&tenant, id, "succeeded").await;
    }
    let order: Vec<String> = receiver.received().iter().map(|r| event_of(r).0).collect();
    assert_eq!(
        order,
        ["chat-x-m000", "chat-x-m000", "chat-x-m001", "chat-x-m002"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_repeated_event_id_is_still_delivered_once() {
    let (stack, _admin, tenant) = stack_with(&[]).await;
    let receiver = Receiver::start().await;
    ordered(&tenant, &receiver.url("/timeline"), json!("standard")).await;
    let events: Vec<Value> = ids("chat-r", 5)
        .iter()
        .map(|id| message(id, "chat-r"))
        .collect();
    let deliveries = post_all(&tenant, &events).await;
    // WHEN the client posts the third again, and then the whole batch again
    post_all(&tenant, &events[2..3]).await;
    post_all(&tenant, &events).await;
    for id in &deliveries {
        wait_status(&tenant, id, "succeeded").await;
    }
    wait_idle(&stack).await;
    // THEN each arrived once, in order
    let order: Vec<String> = receiver.received().iter().map(|r| event_of(r).0).collect();
    assert_eq!(order, ids("chat-r", 5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleting_the_integration_mid_sequence_fails_what_waits_with_the_reason() {
    let (_stack, _admin, tenant) = stack_with(&[]).await;
    // GIVEN the chat's head failing with its next attempt an hour away
    let receiver = Receiver::scripted(|_, _| Reply::status(500)).await;
    let (integration, _) = ordered(&tenant, &receiver.url("/timeline"), json!([3600])).await;
    let events: Vec<Value> = ids("chat-d", 4)
        .iter()
        .map(|id| message(id, "chat-d"))
        .collect();
    let deliveries = post_all(&tenant, &events).await;
    let head = wait_delivery(&tenant, &deliveries[0], WAIT, |d| d["attempt_count"] == 1).await;
    assert_eq!(head["status"], "pending", "{head}");
    // AND the others shown waiting for it
    for id in &deliveries[1..] {
        let d = wait_delivery(&tenant, id, WAIT, |d| d["waiting_for"].is_string()).await;
        assert_eq!(d["waiting_for"], deliveries[0].as_str(), "{d}");
        assert_eq!(
            (d["status"].as_str(), d["attempt_count"].as_u64()),
            (Some("pending"), Some(0))
        );
    }

    // WHEN the integration is deleted
    let deleted = tenant
        .delete(&format!("/v1/integrations/{integration}"))
        .await;
    assert_eq!(deleted.status, 204, "{:?}", deleted.body);

    // THEN every delivery of the chat is failed with the reason, without waiting the hour
    for id in &deliveries {
        let d = wait_status(&tenant, id, "failed").await;
        let reason = d["last_error"].as_str().unwrap_or_default();
        assert!(reason.contains("deleted"), "{d}");
        assert!(d.get("waiting_for").is_none_or(Value::is_null), "{d}");
    }
    // AND the receiver saw only the head's one attempt (its retry, an hour
    // away, fails without a request: the integration is gone)
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ordering_is_a_setting_read_back_and_validated() {
    let (_stack, _admin, tenant) = stack_with(&[]).await;
    let receiver = Receiver::start().await;
    let (id, created) = integration(&tenant, &receiver.url("/x"), json!({})).await;
    assert_eq!(created["ordering"], "none");
    let changed = tenant
        .patch(
            &format!("/v1/integrations/{id}"),
            &json!({"ordering": "chat"}),
        )
        .await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    assert_eq!(changed.body["ordering"], "chat");
    let listed = tenant.get("/v1/integrations").await;
    assert_eq!(
        listed.body["items"][0]["ordering"], "chat",
        "{:?}",
        listed.body
    );
    let bad = tenant
        .patch(
            &format!("/v1/integrations/{id}"),
            &json!({"ordering": "by-visitor"}),
        )
        .await;
    assert_eq!(bad.status, 400, "{:?}", bad.body);
    assert!(bad.body.to_string().contains("ordering"), "{:?}", bad.body);
}
