//! The HTTP egress against real receivers on 127.0.0.1: outcomes, timeouts,
//! capped bodies, no redirects, and the SSRF guard refusing before any connect.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure here is a test failure
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chathooks::adapters::egress::{EgressConfig, HttpWebhookSender};
use chathooks::domain::delivery::{ErrorKind, RESPONSE_EXCERPT_BYTES};
use chathooks::domain::target_url::{TargetUrl, UrlPolicy};
use chathooks::ports::{OutboundRequest, SendOutcome, WebhookSender};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

// ---- a receiver: a raw HTTP/1.1 server that records what it got ----------

#[derive(Debug, Clone)]
struct Recorded {
    head: String,
    body: Vec<u8>,
}

#[derive(Clone)]
enum Reply {
    /// Send this raw response and close.
    Raw(String),
    /// Read the request, then never answer.
    Hang,
    /// A 200 whose body never ends, written as fast as the client reads.
    Endless,
    /// A 200 whose body trickles one byte every 100 ms, forever.
    Drip,
    /// Answer whatever arrives (a TLS hello) with plain text and close.
    NotTls,
}

struct Receiver {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Receiver {
    async fn start(reply: Reply) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = requests.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, reply.clone(), recorded.clone()));
            }
        });
        Self { addr, requests }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

fn respond(status: &str, extra_headers: &str, body: &str) -> Reply {
    Reply::Raw(format!(
        "HTTP/1.1 {status}\r\n{extra_headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ))
}

async fn serve(mut socket: TcpStream, reply: Reply, requests: Arc<Mutex<Vec<Recorded>>>) {
    if let Reply::NotTls = reply {
        let mut hello = [0u8; 512];
        let _ = socket.read(&mut hello).await;
        let _ = socket
            .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            .await;
        return;
    }
    let Some(request) = read_request(&mut socket).await else {
        return;
    };
    requests.lock().unwrap().push(request);
    match reply {
        Reply::Raw(raw) => {
            let _ = socket.write_all(raw.as_bytes()).await;
            let _ = socket.shutdown().await;
        }
        Reply::Hang => tokio::time::sleep(Duration::from_secs(60)).await,
        Reply::Endless | Reply::Drip => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n";
            if socket.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let (chunk, pause) = match reply {
                Reply::Drip => (&b"d"[..], Duration::from_millis(100)),
                _ => (&[b'x'; 1024][..], Duration::ZERO),
            };
            while socket.write_all(chunk).await.is_ok() {
                tokio::time::sleep(pause).await;
            }
        }
        Reply::NotTls => {}
    }
}

async fn read_request(socket: &mut TcpStream) -> Option<Recorded> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        let n = socket.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = socket.read(&mut tmp).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&tmp[..n]);
    }
    Some(Recorded { head, body })
}

// ---- helpers -----------------------------------------------------------------

fn sender(allow_private_targets: bool) -> HttpWebhookSender {
    HttpWebhookSender::new(EgressConfig {
        allow_private_targets,
        user_agent: "chathooks-test/1".into(),
    })
}

fn request(url: &str, timeout: Duration) -> OutboundRequest {
    let policy = UrlPolicy {
        allow_http: true,
        allow_private: true,
    };
    OutboundRequest {
        url: TargetUrl::parse(url, policy).unwrap(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: Bytes::from_static(b"{\"event\":\"chat_started\"}"),
        timeout,
    }
}

async fn send(allow_private: bool, url: &str) -> SendOutcome {
    sender(allow_private)
        .send(&request(url, Duration::from_secs(5)))
        .await
}

const OPEN: bool = true;
const GUARDED: bool = false;

// ---- outcomes ------------------------------------------------------------------

#[tokio::test]
async fn a_2xx_is_a_success_with_the_body_as_excerpt() {
    let receiver =
        Receiver::start(respond("200 OK", "", r#"{"link":"https://x.example/1"}"#)).await;
    let outcome = send(OPEN, &receiver.url("/hook")).await;
    assert!(outcome.succeeded(), "{outcome:?}");
    assert_eq!(outcome.status_code, Some(200));
    assert_eq!(outcome.error, None);
    assert_eq!(
        outcome.response_excerpt.as_deref(),
        Some(r#"{"link":"https://x.example/1"}"#)
    );
    assert!(outcome.duration > Duration::ZERO);
}

#[tokio::test]
async fn the_request_carries_the_given_headers_and_body_exactly() {
    // GIVEN a signed request with a repeated header
    let receiver = Receiver::start(respond("204 No Content", "", "")).await;
    let mut req = request(&receiver.url("/hook?tenant=a%20b"), Duration::from_secs(5));
    req.headers
        .push(("webhook-signature".into(), "v1,abc=".into()));
    req.headers.push(("x-multi".into(), "one".into()));
    req.headers.push(("x-multi".into(), "two".into()));
    // WHEN it is sent
    let outcome = sender(OPEN).send(&req).await;
    // THEN the receiver got exactly that POST
    assert!(outcome.succeeded(), "{outcome:?}");
    assert_eq!(outcome.response_excerpt, None);
    let got = receiver.requests();
    assert_eq!(got.len(), 1);
    let head = got[0].head.to_ascii_lowercase();
    assert!(
        head.starts_with("post /hook?tenant=a%20b http/1.1\r\n"),
        "{head}"
    );
    for line in [
        "content-type: application/json",
        "webhook-signature: v1,abc=",
        "x-multi: one",
        "x-multi: two",
        "user-agent: chathooks-test/1",
    ] {
        assert!(head.contains(line), "missing {line:?} in {head}");
    }
    assert_eq!(got[0].body, b"{\"event\":\"chat_started\"}");
}

#[tokio::test]
async fn url_credentials_go_only_in_the_basic_auth_header() {
    // GIVEN a URL with credentials, and the caller's Authorization header
    let receiver = Receiver::start(respond("200 OK", "", "")).await;
    let url = format!("http://livechat:s3cret@{}/hook", receiver.addr);
    let mut req = request(&url, Duration::from_secs(5));
    req.headers
        .push(("authorization".into(), "Basic bGl2ZWNoYXQ6czNjcmV0".into()));
    // WHEN it is sent
    let outcome = sender(OPEN).send(&req).await;
    // THEN the header passes through and the credentials are nowhere else
    assert!(outcome.succeeded(), "{outcome:?}");
    let got = receiver.requests();
    assert!(
        got[0]
            .head
            .contains("authorization: Basic bGl2ZWNoYXQ6czNjcmV0")
    );
    assert!(
        got[0].head.starts_with("POST /hook HTTP/1.1"),
        "{}",
        got[0].head
    );
    assert_eq!(got[0].head.matches("s3cret").count(), 0);
}

#[tokio::test]
async fn a_5xx_is_an_http_status_failure() {
    let receiver = Receiver::start(respond("500 Internal Server Error", "", "boom")).await;
    let outcome = send(OPEN, &receiver.url("/")).await;
    assert!(!outcome.succeeded());
    assert_eq!(outcome.status_code, Some(500));
    assert_eq!(outcome.error_kind, Some(ErrorKind::HttpStatus));
    assert_eq!(outcome.error.as_deref(), Some("HTTP 500"));
    assert_eq!(outcome.response_excerpt.as_deref(), Some("boom"));
    assert_eq!(outcome.retry_after, None);
}

#[tokio::test]
async fn retry_after_on_a_429_becomes_a_delay() {
    let receiver =
        Receiver::start(respond("429 Too Many Requests", "Retry-After: 7\r\n", "")).await;
    let outcome = send(OPEN, &receiver.url("/")).await;
    assert_eq!(outcome.error_kind, Some(ErrorKind::HttpStatus));
    assert_eq!(outcome.status_code, Some(429));
    assert_eq!(outcome.retry_after, Some(Duration::from_secs(7)));
}

#[tokio::test]
async fn retry_after_as_a_past_http_date_means_no_delay() {
    let header = "Retry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\n";
    let receiver = Receiver::start(respond("503 Service Unavailable", header, "")).await;
    let outcome = send(OPEN, &receiver.url("/")).await;
    assert_eq!(outcome.status_code, Some(503));
    assert_eq!(outcome.retry_after, Some(Duration::ZERO));
}

// ---- redirects -----------------------------------------------------------------

#[tokio::test]
async fn a_redirect_is_a_failure_and_is_not_followed() {
    // GIVEN a receiver redirecting to another (private, loopback) receiver
    let target = Receiver::start(respond("200 OK", "", "")).await;
    let location = format!("Location: {}\r\n", target.url("/stolen"));
    let receiver = Receiver::start(respond("302 Found", &location, "")).await;
    // WHEN a webhook is sent to the first
    let outcome = send(OPEN, &receiver.url("/")).await;
    // THEN it fails on the 302 and the redirect target saw nothing
    assert_eq!(outcome.status_code, Some(302));
    assert_eq!(outcome.error_kind, Some(ErrorKind::HttpStatus));
    assert_eq!(outcome.error.as_deref(), Some("HTTP 302"));
    assert_eq!(receiver.requests().len(), 1);
    assert!(target.requests().is_empty());
}

#[tokio::test]
async fn a_redirect_to_the_metadata_address_is_not_followed() {
    let location = "Location: http://169.254.169.254/latest/meta-data/\r\n";
    let receiver = Receiver::start(respond("307 Temporary Redirect", location, "")).await;
    let started = Instant::now();
    let outcome = send(OPEN, &receiver.url("/")).await;
    assert_eq!(outcome.status_code, Some(307));
    assert_eq!(outcome.error_kind, Some(ErrorKind::HttpStatus));
    assert!(started.elapsed() < Duration::from_secs(1));
}

// ---- hostile receivers -----------------------------------------------------------

#[tokio::test]
async fn a_receiver_that_hangs_times_out_at_the_given_timeout() {
    let receiver = Receiver::start(Reply::Hang).await;
    let started = Instant::now();
    let outcome = sender(OPEN)
        .send(&request(&receiver.url("/"), Duration::from_secs(1)))
        .await;
    let took = started.elapsed();
    assert_eq!(outcome.error_kind, Some(ErrorKind::Timeout), "{outcome:?}");
    assert_eq!(outcome.error.as_deref(), Some("timed out after 1s"));
    assert_eq!(outcome.status_code, None);
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert_eq!(receiver.requests().len(), 1);
}

#[tokio::test]
async fn an_endless_body_is_cut_at_the_excerpt_cap() {
    let receiver = Receiver::start(Reply::Endless).await;
    let started = Instant::now();
    let outcome = sender(OPEN)
        .send(&request(&receiver.url("/"), Duration::from_secs(2)))
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(outcome.succeeded(), "{outcome:?}");
    let excerpt = outcome.response_excerpt.unwrap();
    assert_eq!(excerpt.len(), RESPONSE_EXCERPT_BYTES);
    assert!(excerpt.bytes().all(|b| b == b'x'));
}

#[tokio::test]
async fn a_trickling_body_is_cut_by_the_deadline_keeping_the_status() {
    // GIVEN a 200 whose body drips in forever
    let receiver = Receiver::start(Reply::Drip).await;
    let started = Instant::now();
    // WHEN sent with a 1 s timeout
    let outcome = sender(OPEN)
        .send(&request(&receiver.url("/"), Duration::from_secs(1)))
        .await;
    // THEN the call ends at the deadline, with the status and what had arrived
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(outcome.status_code, Some(200));
    let excerpt = outcome.response_excerpt.unwrap_or_default();
    assert!(!excerpt.is_empty() && excerpt.len() < 100, "{excerpt:?}");
}

// ---- the SSRF guard -------------------------------------------------------------

#[tokio::test]
async fn the_guard_refuses_private_targets_before_any_connect() {
    let receiver = Receiver::start(respond("200 OK", "", "")).await;
    let port = receiver.addr.port();
    for url in [
        format!("http://127.0.0.1:{port}/"),
        format!("http://localhost:{port}/"),
        format!("http://[::1]:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        "http://10.0.0.1/".to_string(),
        "http://169.254.169.254/latest/meta-data/".to_string(),
    ] {
        let started = Instant::now();
        let outcome = send(GUARDED, &url).await;
        assert_eq!(
            outcome.error_kind,
            Some(ErrorKind::RefusedTarget),
            "{url}: {outcome:?}"
        );
        assert_eq!(outcome.status_code, None);
        assert!(
            outcome.error.as_deref().unwrap().starts_with("refused: "),
            "{outcome:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{url} took {:?}",
            started.elapsed()
        );
    }
    assert!(receiver.requests().is_empty());
}

#[tokio::test]
async fn the_guard_names_the_host_and_the_address_it_resolved_to() {
    let outcome = send(GUARDED, "http://localhost:9/").await;
    let error = outcome.error.unwrap();
    assert!(
        error.starts_with("refused: localhost resolves to "),
        "{error}"
    );
    assert!(error.ends_with("a loopback address"), "{error}");
}

#[tokio::test]
async fn without_the_guard_a_loopback_receiver_is_reached() {
    let receiver = Receiver::start(respond("200 OK", "", "")).await;
    let outcome = send(OPEN, &receiver.url("/")).await;
    assert!(outcome.succeeded(), "{outcome:?}");
    assert_eq!(receiver.requests().len(), 1);
}

// ---- transport failures ------------------------------------------------------------

#[tokio::test]
async fn a_closed_port_is_a_connect_failure_without_the_password_in_it() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let outcome = send(OPEN, &format!("http://user:s3cret@127.0.0.1:{port}/")).await;
    assert_eq!(outcome.error_kind, Some(ErrorKind::Connect), "{outcome:?}");
    let error = outcome.error.unwrap();
    assert!(
        !error.contains("s3cret") && !error.contains("127.0.0.1"),
        "{error}"
    );
}

#[tokio::test]
async fn an_unknown_host_is_a_dns_failure() {
    let outcome = send(OPEN, "http://no-such-host.invalid/").await;
    assert_eq!(outcome.error_kind, Some(ErrorKind::Dns), "{outcome:?}");
    assert!(outcome.error.unwrap().contains("no-such-host.invalid"));
}

#[tokio::test]
async fn a_receiver_that_does_not_speak_tls_is_a_tls_failure() {
    let receiver = Receiver::start(Reply::NotTls).await;
    let url = format!("https://{}/", receiver.addr);
    let outcome = send(OPEN, &url).await;
    assert_eq!(outcome.error_kind, Some(ErrorKind::Tls), "{outcome:?}");
}

#[tokio::test]
async fn clones_share_one_client_across_concurrent_deliveries() {
    fn assert_shareable<T: Clone + Send + Sync + 'static>() {}
    assert_shareable::<HttpWebhookSender>();
    let receiver = Receiver::start(respond("200 OK", "", "ok")).await;
    let sender = sender(OPEN);
    let url = receiver.url("/");
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (sender, req) = (sender.clone(), request(&url, Duration::from_secs(5)));
            tokio::spawn(async move { sender.send(&req).await })
        })
        .collect();
    for task in tasks {
        assert!(task.await.unwrap().succeeded());
    }
    assert_eq!(receiver.requests().len(), 8);
}
