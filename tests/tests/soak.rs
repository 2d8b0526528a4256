//! Fault soak: `SOAK_EVENTS` events (default 100, as `make test` runs it;
//! `make soak` runs more, paced, see the Makefile) posted in batches of
//! `SOAK_BATCH` (default 100) at `SOAK_RATE` events/s (default 0: each post
//! as soon as the previous one is accepted) to two integrations whose
//! receivers fail a random 30 % of requests (seeded RNG, decided per
//! request), with a time-compressed schedule of twenty 1-second retries.
//! Pacing keeps moto's queues short: its SQS scans a whole queue on every
//! call, so a soak posted all at once slows to a crawl as the queue deepens. Every delivery must end `succeeded`
//! and the delivery log must reconcile exactly with what the receivers saw:
//! per webhook-id, requests received == attempts logged, and successes
//! received == successes logged, at least one. (SQS is at-least-once, and
//! moto with concurrent pollers now and then hands one message to two
//! consumers: such a duplicate send is logged as its own attempt, so the log
//! still reconciles exactly; duplicates are counted and printed.)
//!
//! Exhausting the schedule takes 21 failures in a row: p = 0.3^21 ≈ 1.0e-11
//! per delivery, ≈ 1e-7 over 10,000 deliveries.
//!
//! With `SOAK_RECORD` set (`make soak` sets it) the run's figures (events,
//! deliveries, attempts, duplicates, lost, duration) are appended to the
//! benchmarks' results file (`chathooks_tests::bench::results`).

use crate::engine_common::*;
use chathooks::domain::retry::MAX_CUSTOM_RETRIES;
use chathooks_tests::bench::results;
use chathooks_tests::receiver::{Receiver, Reply};
use futures::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

const FAILURE_RATE: f64 = 0.3;
const SEED: u64 = 0x5eed_c4a7;

/// A number from the environment; a set but malformed value fails the test
/// (a mistyped size must not silently run the default).
fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
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
    let events: usize = env_number("SOAK_EVENTS", 100);
    let batch: usize = env_number("SOAK_BATCH", 100).clamp(1, 100);
    let rate: f64 = env_number("SOAK_RATE", 0.0);
    let paced_secs = if rate > 0.0 {
        (events as f64 / rate) as usize
    } else {
        0
    };
    let deadline_secs: usize = env_number("SOAK_DEADLINE_SECS", 60 + events / 4 + paced_secs);
    let started = Instant::now();
    eprintln!(
        "soak: {events} events in posts of {batch} at {}, deadline {deadline_secs} s",
        if rate > 0.0 {
            format!("{rate} events/s")
        } else {
            "the rate the intake accepts them".to_string()
        }
    );

    // GIVEN two integrations whose receivers fail 30 % of requests at random,
    // each retrying twenty times one second apart
    let (_stack, _admin, tenant) = stack_opts(chathooks_tests::local::LocalOptions {
        pollers: 4,
        ..options(&[])
    })
    .await;
    let mut receivers = Vec::new();
    let mut integrations = Vec::new();
    for n in 0..2u64 {
        let r = flaky(SEED + n).await;
        let (id, _) = integration(
            &tenant,
            &r.receiver.url("/soak"),
            json!({"retry_policy": vec![1; MAX_CUSTOM_RETRIES]}),
        )
        .await;
        integrations.push(id);
        receivers.push(r);
    }

    // WHEN the events arrive in batches
    let ids: Vec<String> = (0..events).map(|n| format!("evt-soak-{n}")).collect();
    let mut deliveries = Vec::new();
    let mut last_report = Instant::now();
    for (k, chunk) in ids.chunks(batch).enumerate() {
        if rate > 0.0 {
            let due = started + Duration::from_secs_f64((k * batch) as f64 / rate);
            tokio::time::sleep_until(due.into()).await;
        }
        if last_report.elapsed() > Duration::from_secs(30) {
            last_report = Instant::now();
            eprintln!(
                "soak: {:?}: {} events posted, {} deliveries succeeded",
                started.elapsed(),
                k * batch,
                successes(&receivers)
            );
        }
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
        if last_report.elapsed() > Duration::from_secs(30) {
            last_report = Instant::now();
            eprintln!(
                "soak: {:?}: {done}/{expected} deliveries succeeded",
                started.elapsed()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let delivered_in = started.elapsed();
    // (late duplicates would show up here)
    tokio::time::sleep(Duration::from_secs(2)).await;
    eprintln!(
        "soak: all {expected} deliveries succeeded after {:?}",
        started.elapsed()
    );

    // AND per webhook-id: one success, and as many requests as logged
    // attempts. Every delivery is checked in the log's pages (status,
    // attempt_count, last status code: 100 deliveries a call, where moto
    // scans the whole table on each); the attempt lists are read for a
    // sample (`SOAK_DETAIL`, default 1,000) and for every delivery the pages
    // or the receivers found anything odd with.
    let mut seen: HashMap<String, (usize, usize)> = HashMap::new();
    for r in &receivers {
        seen.extend(tally(r));
    }
    assert_eq!(seen.len(), expected, "receivers saw other webhook-ids");
    let mut listed: HashMap<String, Value> = HashMap::new();
    for integration in &integrations {
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/v1/integrations/{integration}/deliveries?limit=100");
            if let Some(c) = &cursor {
                path.push_str("&cursor=");
                path.extend(form_urlencoded::byte_serialize(c.as_bytes()));
            }
            let page = tenant.get(&path).await;
            assert_eq!(page.status, 200, "{path}: {:?}", page.body);
            for d in page.body["items"].as_array().cloned().unwrap_or_default() {
                let id = d["id"].as_str().unwrap_or_default().to_string();
                assert!(listed.insert(id.clone(), d).is_none(), "{id} listed twice");
            }
            cursor = page.body["next_cursor"].as_str().map(str::to_string);
            if cursor.is_none() {
                break;
            }
        }
    }
    let mut histogram: BTreeMap<usize, usize> = BTreeMap::new();
    let mut suspects = Vec::new();
    for id in &deliveries {
        let (requests, ok) = seen.get(id).copied().unwrap_or_default();
        let d = listed.get(id).cloned().unwrap_or(Value::Null);
        let count = d["attempt_count"].as_u64().unwrap_or(0) as usize;
        *histogram.entry(count).or_default() += 1;
        if d["status"] != "succeeded"
            || count != requests
            || d["last_status_code"] != 200
            || ok != 1
        {
            suspects.push(id.clone());
        }
    }
    let sample: usize = env_number("SOAK_DETAIL", 1000);
    let mut detailed: Vec<String> = deliveries.iter().take(sample).cloned().collect();
    detailed.extend(
        suspects
            .iter()
            .filter(|id| !detailed.contains(id))
            .cloned()
            .collect::<Vec<_>>(),
    );
    let logged: Vec<(String, Value)> = futures::stream::iter(detailed.iter().cloned())
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
    // When each webhook-id arrived (read once: `received()` copies the record).
    let mut times: HashMap<String, Vec<Duration>> = HashMap::new();
    for r in &receivers {
        for req in r.receiver.received() {
            let id = req.header("webhook-id").unwrap_or_default().to_string();
            times
                .entry(id)
                .or_default()
                .push(req.at.duration_since(started));
        }
    }
    let mut mismatches = Vec::new();
    let mut duplicates = Vec::new();
    for id in &suspects {
        let d = &listed.get(id).cloned().unwrap_or(Value::Null);
        let (requests, ok) = seen.get(id).copied().unwrap_or_default();
        let at = times.get(id).cloned().unwrap_or_default();
        // A duplicated success (SQS at-least-once) is consistent only when
        // each send is logged: the detail below checks that.
        if ok > 1 {
            duplicates.push(format!("{id} at {at:?}"));
        }
        if d["status"] != "succeeded"
            || d["attempt_count"].as_u64() != Some(requests as u64)
            || ok == 0
        {
            mismatches.push(format!(
                "{id}: listed {} with attempt_count {}, last status {}; {requests} requests ({ok} ok) at {at:?}",
                d["status"], d["attempt_count"], d["last_status_code"]
            ));
        }
    }
    for (id, d) in &logged {
        let attempts = attempts(d);
        let (requests, ok) = seen.get(id).copied().unwrap_or_default();
        let ok_logged = attempts.iter().filter(|a| a["status_code"] == 200).count();
        if d["status"] != "succeeded" || requests != attempts.len() || ok != ok_logged || ok == 0 {
            let at = times.get(id).cloned().unwrap_or_default();
            mismatches.push(format!(
                "{id}: {} with {} attempts logged ({ok_logged} ok), {requests} requests ({ok} ok) at {at:?}",
                d["status"],
                attempts.len()
            ));
        }
    }
    let total_attempts: usize = histogram.iter().map(|(n, k)| n * k).sum();
    let lost = deliveries
        .iter()
        .filter(|id| {
            listed.get(*id).is_none_or(|d| d["status"] != "succeeded")
                || seen.get(*id).is_none_or(|s| s.1 == 0)
        })
        .count();
    eprintln!(
        "soak: attempts per delivery {histogram:?}; {} duplicated successes {duplicates:?}",
        duplicates.len()
    );
    eprintln!(
        "soak: result: {events} events, {expected} deliveries, {total_attempts} attempts, {} duplicates, lost {lost}, {} mismatches ({} attempt lists read); all delivered in {:.0} s, checked in {:.0} s",
        duplicates.len(),
        mismatches.len(),
        logged.len(),
        delivered_in.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    if std::env::var_os("SOAK_RECORD").is_some() {
        let command = format!(
            "SOAK_EVENTS={events} SOAK_BATCH={batch} SOAK_RATE={rate} cargo test -p chathooks-tests --test integration soak:: -- --nocapture"
        );
        let mut run = results::Run::new("soak", command);
        run.figure("events", events as f64, "events")
            .figure("deliveries", expected as f64, "deliveries")
            .figure("attempts", total_attempts as f64, "attempts")
            .figure("duplicates", duplicates.len() as f64, "deliveries")
            .figure("lost", lost as f64, "deliveries")
            .figure("mismatches", mismatches.len() as f64, "deliveries")
            .figure("delivered_in", delivered_in.as_secs_f64(), "s")
            .figure("duration", started.elapsed().as_secs_f64(), "s");
        match run.append() {
            Ok(path) => eprintln!("soak: figures appended to {}", path.display()),
            Err(e) => eprintln!("soak: figures not recorded: {e}"),
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    assert_eq!(lost, 0, "deliveries never succeeded");
    // AND the faults really happened (the soak exercised retries)
    assert!(histogram.keys().any(|&n| n > 1), "{histogram:?}");
}
