//! Delivery engine against hostile targets: a receiver streaming an endless
//! body, and targets on loopback, private, link-local (cloud metadata) and
//! IPv4-mapped addresses with the SSRF guard on.

use chathooks::app::dispatch::Outcome;
use chathooks::domain::delivery::RESPONSE_EXCERPT_BYTES;
use chathooks::domain::event::Event;
use chathooks::domain::ids::{IntegrationId, TenantId};
use chathooks::domain::message::DeliveryJob;
use chathooks::domain::target_url::UrlPolicy;
use chathooks_tests::fixtures::*;
use chathooks_tests::receiver::Receiver;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A raw HTTP server answering 200 with a chunked body that never ends. It
/// counts the bytes it managed to write and notes when the client hung up.
struct Endless {
    url: String,
    written: Arc<AtomicU64>,
    hung_up: Arc<AtomicBool>,
}

async fn endless_receiver() -> Endless {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/endless", listener.local_addr().unwrap());
    let written = Arc::new(AtomicU64::new(0));
    let hung_up = Arc::new(AtomicBool::new(false));
    let (w, h) = (written.clone(), hung_up.clone());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (w, h) = (w.clone(), h.clone());
            tokio::spawn(async move {
                // Read the request head (and whatever body came with it).
                let mut buf = vec![0u8; 64 * 1024];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|x| x == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let head = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n";
                if socket.write_all(head).await.is_err() {
                    return;
                }
                let chunk = format!("{:x}\r\n{}\r\n", 1024, "x".repeat(1024));
                loop {
                    if socket.write_all(chunk.as_bytes()).await.is_err() {
                        h.store(true, Ordering::SeqCst);
                        return;
                    }
                    w.fetch_add(1024, Ordering::SeqCst);
                }
            });
        }
    });
    Endless {
        url,
        written,
        hung_up,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_endless_body_is_cut_at_the_cap_and_the_attempt_finishes() {
    // GIVEN a receiver that answers 200 and then streams a body forever
    let (_stack, _admin, tenant) = stack_with(&[]).await;
    let endless = endless_receiver().await;
    integration(
        &tenant,
        &endless.url,
        json!({"timeout_ms": 10000, "retry_policy": "none"}),
    )
    .await;

    // WHEN an event is delivered to it
    let delivery = post_event(&tenant, "evt-endless").await;

    // THEN the attempt finishes well before the timeout, with an excerpt of at most 4 KiB
    let d = wait_settled(&tenant, &delivery, Duration::from_secs(20)).await;
    assert_eq!(d["status"], "succeeded", "{d}");
    let a = &attempts(&d)[0];
    assert_eq!(a["status_code"], 200);
    let excerpt = a["response_excerpt"].as_str().unwrap();
    assert!(!excerpt.is_empty() && excerpt.len() <= RESPONSE_EXCERPT_BYTES);
    assert!(excerpt.bytes().all(|b| b == b'x'));
    assert!(a["duration_ms"].as_u64().unwrap() < 5000, "{a}");
    // AND the dispatcher hung up instead of draining the stream
    for _ in 0..50 {
        if endless.hung_up.load(Ordering::SeqCst) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(endless.hung_up.load(Ordering::SeqCst), "still reading");
    let written = endless.written.load(Ordering::SeqCst);
    assert!(written < 64 * 1024 * 1024, "{written} bytes read");
}

const GUARDED: &[(&str, &str)] = &[
    ("CHATHOOKS_ALLOW_PRIVATE_TARGETS", "false"),
    ("CHATHOOKS_ALLOW_HTTP", "true"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_guard_refuses_private_targets_at_creation_and_at_send_time() {
    // GIVEN a stack with the SSRF guard on, and a receiver listening on loopback
    let (stack, admin, _) = stack_with(GUARDED).await;
    let (tenant, tenant_id) = tenant_with_id(&admin).await;
    let receiver = Receiver::start().await;
    let port = receiver.addr.port();
    let literals = [
        format!("http://127.0.0.1:{port}/hook"),
        "http://10.0.0.1/hook".to_string(),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        format!("http://[::1]:{port}/hook"),
        format!("http://[::ffff:127.0.0.1]:{port}/hook"),
    ];

    // THEN the API refuses every literal private address at creation
    for url in &literals {
        let answer = tenant
            .post(
                "/v1/integrations",
                &json!({"name": "x", "url": url, "events": ["chat.closed"]}),
            )
            .await;
        assert_eq!(answer.status, 400, "{url}: {:?}", answer.body);
    }

    // AND a host name that resolves to loopback passes creation but is refused at send time
    let (id, _) = integration(
        &tenant,
        &format!("http://localhost:{port}/hook"),
        json!({"retry_policy": "none"}),
    )
    .await;
    let delivery = post_event(&tenant, "evt-ssrf-name").await;
    let d = wait_settled(&tenant, &delivery, Duration::from_secs(20)).await;
    assert_eq!(d["status"], "failed", "{d}");
    let a = &attempts(&d)[0];
    assert_eq!(a["error_kind"], "refused-target", "{a}");
    assert!(a["error"].as_str().unwrap().contains("localhost"), "{a}");

    // AND the dispatcher refuses literal private addresses stored by any other way
    // (an integration created before the guard was switched on)
    let tenant_id = TenantId::parse(&tenant_id).unwrap();
    let store = &stack.functions.dispatcher.integrations;
    let base = store
        .get(&tenant_id, &IntegrationId::parse(&id).unwrap())
        .await
        .unwrap()
        .unwrap();
    let permissive = UrlPolicy {
        allow_http: true,
        allow_private: true,
    };
    for (n, url) in literals.iter().enumerate() {
        let target = retargeted(&base, url, permissive);
        store.create(&target).await.unwrap();
        let event = Event::from_json(closed_chat(&format!("evt-ssrf-{n}"))).unwrap();
        let job: DeliveryJob = stack
            .accepted_jobs(&tenant_id, &event, &[target])
            .await
            .unwrap()
            .pop()
            .unwrap();
        let outcome = stack.functions.dispatcher.deliver(&job).await.unwrap();
        assert!(
            matches!(outcome, Outcome::Failed { .. }),
            "{url}: {outcome:?}"
        );
        let d = tenant
            .get(&format!("/v1/deliveries/{}", job.delivery_id))
            .await
            .body;
        let a = &attempts(&d)[0];
        assert_eq!(a["error_kind"], "refused-target", "{url}: {a}");
        // (refused before connecting: no connect timeout was waited for)
        assert!(a["duration_ms"].as_u64().unwrap() < 2000, "{url}: {a}");
    }

    // AND nothing ever reached the receiver
    wait_idle(&stack).await;
    assert!(receiver.received().is_empty());
}
