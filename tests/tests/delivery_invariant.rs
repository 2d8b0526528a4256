//! A delivery is never shown in a state its listed attempts do not account
//! for: readers poll a delivery as fast as they can while its attempts are
//! logged, and every answer is checked (the DynamoDB log alone, then the
//! whole engine through the API).
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chathooks::adapters::dynamodb::DynamoDbDeliveryLog;
use chathooks::domain::catalogue::EventType;
use chathooks::domain::delivery::{Attempt, Delivery, DeliveryStatus, ErrorKind};
use chathooks::domain::ids::{DeliveryId, EventId, IntegrationId, TenantId};
use chathooks::ports::DeliveryLog;
use chathooks_tests::fixtures::fresh_table;
use chathooks_tests::receiver::{Receiver, Reply};

use crate::engine_common::*;

/// What a reader may see: attempts numbered 1..=attempt_count (an attempt
/// made twice is listed twice), the last status code and the status those
/// attempts produced. `Err` names what does not add up.
fn accounted_for(d: &Delivery, attempts: &[Attempt]) -> Result<(), String> {
    let numbers: Vec<u32> = attempts.iter().map(|a| a.number).collect();
    let mut distinct = numbers.clone();
    distinct.dedup();
    let expected: Vec<u32> = (1..=d.attempts).collect();
    if distinct != expected {
        return Err(format!(
            "attempt_count {} with attempts numbered {numbers:?}",
            d.attempts
        ));
    }
    let Some(last) = attempts.last() else {
        return match d.status {
            DeliveryStatus::Succeeded => Err("succeeded without an attempt".into()),
            _ => Ok(()),
        };
    };
    let last_codes: Vec<Option<u16>> = attempts
        .iter()
        .filter(|a| a.number == d.attempts)
        .map(|a| a.status_code)
        .collect();
    if !last_codes.contains(&d.last_status_code) {
        return Err(format!(
            "last_status_code {:?} but attempt {} answered {last_codes:?}",
            d.last_status_code, d.attempts
        ));
    }
    let last_succeeded = attempts
        .iter()
        .filter(|a| a.number == d.attempts)
        .any(Attempt::succeeded);
    match d.status {
        DeliveryStatus::Succeeded if !last_succeeded => Err(format!(
            "succeeded, but attempt {} did not: {last:?}",
            d.attempts
        )),
        DeliveryStatus::Pending | DeliveryStatus::Failed if last_succeeded => Err(format!(
            "{} after a successful attempt {}",
            d.status.as_str(),
            d.attempts
        )),
        _ => Ok(()),
    }
}

fn attempt(number: u32, at: DateTime<Utc>, code: u16) -> Attempt {
    let ok = (200..300).contains(&code);
    Attempt {
        number,
        started_at: at,
        duration_ms: 3,
        status_code: Some(code),
        error_kind: (!ok).then_some(ErrorKind::HttpStatus),
        error: (!ok).then(|| format!("HTTP {code}")),
        response_excerpt: None,
        next_attempt_at: (!ok).then(|| at + ChronoDuration::seconds(1)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_log_never_shows_a_state_without_the_attempt_that_set_it() {
    // GIVEN a delivery log on moto and a delivery whose first attempt failed
    let (client, table) = fresh_table().await.expect("table");
    let log = Arc::new(DynamoDbDeliveryLog::new(
        client,
        table,
        ChronoDuration::days(30),
    ));
    let tenant = TenantId::generate();
    let t0 = Utc::now();
    let mut delivery = Delivery {
        id: DeliveryId::generate(),
        tenant_id: tenant.clone(),
        integration_id: IntegrationId::generate(),
        event_id: EventId::generate(),
        event_type: EventType::ChatClosed,
        chat_id: None,
        status: DeliveryStatus::Pending,
        attempts: 1,
        created_at: t0,
        updated_at: t0,
        next_attempt_at: None,
        last_status_code: Some(500),
        last_error: Some("HTTP 500".into()),
        link: None,
        waiting_for: None,
    };
    log.record_attempt(&delivery, &attempt(1, t0, 500))
        .await
        .expect("first attempt");

    // WHEN 40 more attempts are logged, the last one a success, while a reader polls
    const LAST: u32 = 41;
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (log, done, tenant, id) = (
            log.clone(),
            done.clone(),
            tenant.clone(),
            delivery.id.clone(),
        );
        tokio::spawn(async move {
            let mut reads = 0u32;
            let mut wrong = Vec::new();
            loop {
                let finished = done.load(Ordering::SeqCst);
                let (d, attempts) = log.get(&tenant, &id).await.expect("read").expect("found");
                reads += 1;
                if let Err(e) = accounted_for(&d, &attempts) {
                    wrong.push(e);
                }
                if finished {
                    return (reads, wrong, d, attempts);
                }
            }
        })
    };
    for n in 2..=LAST {
        let at = t0 + ChronoDuration::milliseconds(i64::from(n) * 10);
        let code = if n == LAST { 200 } else { 500 + (n % 4) as u16 };
        delivery.attempts = n;
        delivery.updated_at = at;
        delivery.last_status_code = Some(code);
        delivery.status = if n == LAST {
            DeliveryStatus::Succeeded
        } else {
            DeliveryStatus::Pending
        };
        log.record_attempt(&delivery, &attempt(n, at, code))
            .await
            .expect("attempt");
    }
    done.store(true, Ordering::SeqCst);

    // THEN every read added up, and the last one shows the success with all its attempts
    let (reads, wrong, last, attempts) = reader.await.expect("reader");
    assert!(
        reads > 40,
        "only {reads} reads while the attempts were logged"
    );
    assert!(
        wrong.is_empty(),
        "{} of {reads} reads: {wrong:?}",
        wrong.len()
    );
    assert_eq!(last.status, DeliveryStatus::Succeeded);
    assert_eq!(attempts.len(), LAST as usize);
}

/// Read `GET /v1/deliveries/{id}` back to back until it settles; every
/// answer must add up. Returns the settled delivery and how many reads
/// found it between attempts (pending after at least one).
async fn watch_until_settled(
    tenant: &chathooks_tests::client::ApiClient,
    id: &str,
    timeout: Duration,
) -> (Value, usize) {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut reads = 0;
    let mut between = 0;
    loop {
        let got = tenant.get(&format!("/v1/deliveries/{id}")).await;
        assert!(
            got.status == 200 || got.status == 404,
            "{}: {}",
            got.status,
            got.body
        );
        if got.status == 200 {
            reads += 1;
            let d: Delivery = serde_json::from_value(got.body.clone()).expect("a delivery");
            let attempts: Vec<Attempt> =
                serde_json::from_value(got.body["attempts"].clone()).expect("its attempts");
            if let Err(e) = accounted_for(&d, &attempts) {
                panic!(
                    "read {reads} shows a state that could not exist: {e}\n{}",
                    got.body
                );
            }
            if d.status != DeliveryStatus::Pending {
                return (got.body, between);
            }
            if d.attempts > 0 {
                between += 1;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not settled in {timeout:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_delivery_read_while_it_is_retried_always_adds_up() {
    // GIVEN one receiver failing three times before it succeeds, one that always fails
    let (_stack, _admin, tenant) = stack_with(&[]).await;
    let flaky = Receiver::scripted(|n, _| Reply::status(if n < 3 { 500 } else { 200 })).await;
    let broken = Receiver::scripted(|_, _| Reply::status(503)).await;
    let policy = serde_json::json!({"retry_policy": [1, 1, 1]});
    integration(&tenant, &flaky.url("/hook"), policy.clone()).await;
    integration(&tenant, &broken.url("/hook"), policy).await;

    // WHEN an event goes to both, and each delivery is read back to back until it settles
    let accepted = tenant
        .post("/v1/events", &closed_chat("evt-invariant"))
        .await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let ids: Vec<String> = accepted.body["deliveries"]
        .as_array()
        .expect("deliveries")
        .iter()
        .map(|d| d["id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(ids.len(), 2);
    let (a, b) = tokio::join!(
        watch_until_settled(&tenant, &ids[0], Duration::from_secs(60)),
        watch_until_settled(&tenant, &ids[1], Duration::from_secs(60)),
    );

    // THEN every read added up, one delivery succeeded on its fourth attempt, the other failed after four
    let mut settled = [a.0, b.0];
    settled.sort_by_key(|d| d["status"].as_str().map(str::to_string));
    let (failed, succeeded) = (&settled[0], &settled[1]);
    assert_eq!(succeeded["status"], "succeeded", "{succeeded}");
    assert_eq!(succeeded["attempt_count"], 4, "{succeeded}");
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["attempt_count"], 4, "{failed}");
    // AND the reads saw each delivery between its attempts (retries are 1 s apart)
    assert!(
        a.1 >= 1 && b.1 >= 1,
        "reads between attempts: {} and {}",
        a.1,
        b.1
    );
}
