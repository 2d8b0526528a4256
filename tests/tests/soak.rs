//! Fault soak: `SOAK_EVENTS` events (default 100 in CI; `make soak` runs 10,000)
//! posted in batches to two integrations whose receivers fail a random 30 %
//! of requests (seeded RNG, decided per request), with a time-compressed
//! schedule of twenty 1-second retries. Every delivery must end `succeeded`
//! and the delivery log must reconcile exactly with what the receivers saw:
//! per webhook-id, requests received == attempts logged, and successes
//! received == successes logged, at least one. (SQS is at-least-once, and
//! moto with concurrent pollers now and then hands one message to two
//! consumers: such a duplicate send is logged as its own attempt, so the log
//! still reconciles exactly; duplicates are counted and printed.)
//!
//! Exhausting the schedule takes 21 failures in a row: p = 0.3^21 ≈ 1.0e-11
//! per delivery, ≈ 2e-7 over the 20,000 deliveries of the full soak.

use crate::engine_common::*;
use chathooks::domain::retry::MAX_CUSTOM_RETRIES;
use chathooks_tests::receiver::{Receiver, Reply};
use futures::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

const FAILURE_RATE: f64 = 0.3;
const SEED: u64 = 0x5eed_c4a7;
const BATCH: usize = 100;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Whether a receiver seeded with `seed` fails its `n`-th request (0-based,
/// in the order it recorded them): a seeded RNG per request, so the decision
/// can be recomputed from the record.
fn fails(seed: u64, n: usize) -> bool {
    StdRng::seed_from_u64(seed ^ (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .random_bool(FAILURE_RATE)
}

struct Flaky {
    receiver: Receiver,
    seed: u64,
}

/// A receiver failing a seeded-random 30 % of requests with 500.
async fn flaky(seed: u64) -> Flaky {
    let receiver =
        Receiver::scripted(move |n, _| Reply::status(if fails(seed, n) { 500 } else { 200 })).await;
    Flaky { receiver, seed }
}

/// Per webhook-id: (requests, successes), from what the receiver recorded.
fn tally(flaky: &Flaky) -> HashMap<String, (usize, usize)> {
    let mut seen: HashMap<String, (usize, usize)> = HashMap::new();
    for (n, r) in flaky.receiver.received().iter().enumerate() {
        let id = r.header("webhook-id").unwrap_or_default().to_string();
        let e = seen.entry(id).or_default();
        e.0 += 1;
        if !fails(flaky.seed, n) {
            e.1 += 1;
        }
    }
    seen
}

/// Deliveries with at least one successful request.
fn successes(receivers: &[Flaky]) -> usize {
    receivers
        .iter()
        .map(|r| tally(r).values().filter(|(_, ok)| *ok > 0).count())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_delivery_succeeds_and_the_log_reconciles_with_the_receivers() {
    let events = env_number("SOAK_EVENTS", 100);
    let deadline_secs = env_number("SOAK_DEADLINE_SECS", 60 + events / 4);
    let started = Instant::now();

    // GIVEN two integrations whose receivers fail 30 % of requests at random,
    // each retrying twenty times one second apart
    let (_stack, _admin, tenant) = stack_opts(chathooks_tests::local::LocalOptions {
        pollers: 4,
        ..options(&[])
    })
    .await;
    let mut receivers = Vec::new();
    for n in 0..2u64 {
        let r = flaky(SEED + n).await;
        integration(
            &tenant,
            &r.receiver.url("/soak"),
            json!({"retry_policy": vec![1; MAX_CUSTOM_RETRIES]}),
        )
        .await;
        receivers.push(r);
    }

    // WHEN the events arrive in batches
    let ids: Vec<String> = (0..events).map(|n| format!("evt-soak-{n}")).collect();
    let mut deliveries = Vec::new();
    for chunk in ids.chunks(BATCH) {
        let body = json!({"events": chunk.iter().map(|id| closed_chat(id)).collect::<Vec<_>>()});
        let accepted = tenant.post("/v1/events", &body).await;
        assert_eq!(accepted.status, 202, "{:?}", accepted.body);
        for result in accepted.body["results"].as_array().unwrap() {
            for d in result["deliveries"].as_array().unwrap() {
                deliveries.push(d["id"].as_str().unwrap().to_string());
            }
        }
    }
    let expected = events * receivers.len();
    assert_eq!(deliveries.len(), expected);
    eprintln!("soak: {events} events accepted in {:?}", started.elapsed());

    // THEN every delivery reaches its one success before the deadline
    let deadline = started + Duration::from_secs(deadline_secs as u64);
    loop {
        let done = successes(&receivers);
        if done >= expected {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "deadline: {done}/{expected} deliveries succeeded after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // (late duplicates would show up here)
    tokio::time::sleep(Duration::from_secs(2)).await;
    eprintln!(
        "soak: all {expected} deliveries succeeded after {:?}",
        started.elapsed()
    );

    // AND per webhook-id: one success, and as many requests as logged attempts
    let mut seen: HashMap<String, (usize, usize)> = HashMap::new();
    for r in &receivers {
        seen.extend(tally(r));
    }
    assert_eq!(seen.len(), expected, "receivers saw other webhook-ids");
    let logged: Vec<(String, Value)> = futures::stream::iter(deliveries.iter().cloned())
        .map(|id| {
            let tenant = tenant.clone();
            async move {
                let d = tenant.get(&format!("/v1/deliveries/{id}")).await.body;
                (id, d)
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut mismatches = Vec::new();
    let mut duplicates = Vec::new();
    let mut histogram: BTreeMap<usize, usize> = BTreeMap::new();
    for (id, d) in &logged {
        let attempts = attempts(d);
        let (requests, ok) = seen.get(id).copied().unwrap_or_default();
        *histogram.entry(attempts.len()).or_default() += 1;
        let ok_logged = attempts.iter().filter(|a| a["status_code"] == 200).count();
        let times: Vec<String> = receivers
            .iter()
            .flat_map(|r| r.receiver.received())
            .filter(|r| r.header("webhook-id") == Some(id.as_str()))
            .map(|r| format!("{:?}", r.at.duration_since(started)))
            .collect();
        if ok > 1 {
            duplicates.push(format!("{id} at {times:?}"));
        }
        if d["status"] != "succeeded" || requests != attempts.len() || ok != ok_logged || ok == 0 {
            mismatches.push(format!(
                "{id}: {} with {} attempts logged ({ok_logged} ok), {requests} requests ({ok} ok) at {times:?}",
                d["status"],
                attempts.len()
            ));
        }
    }
    eprintln!(
        "soak: attempts per delivery {histogram:?}; {} duplicated successes {duplicates:?}",
        duplicates.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    // AND the faults really happened (the soak exercised retries)
    assert!(histogram.keys().any(|&n| n > 1), "{histogram:?}");
}
