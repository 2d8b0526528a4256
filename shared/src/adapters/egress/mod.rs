//! The dispatcher's HTTP egress: `WebhookSender` on one shared reqwest client,
//! hardened against hostile targets (SSRF guard on every resolved address,
//! no redirects, a deadline over the whole exchange, a capped body read).
mod classify;
mod excerpt;
mod guard;
mod retry_after;

pub use guard::RefusedTarget;
pub use retry_after::parse_retry_after;

use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use crate::domain::delivery::ErrorKind;
use crate::ports::{OutboundRequest, SendOutcome, WebhookSender};
use classify::{Failure, classify};
use guard::GuardedResolver;

/// How the egress behaves in this deployment.
#[derive(Debug, Clone)]
pub struct EgressConfig {
    /// Switch the SSRF guard off (local development and tests only).
    pub allow_private_targets: bool,
    pub user_agent: String,
}

/// Sends webhooks. Build once per cold start and clone freely: clones share
/// one connection pool.
///
/// The reqwest client is built on the first send, not in `new`: building it
/// loads and parses the system's TLS root certificates, a few milliseconds
/// that would otherwise delay every cold start (the config API builds a
/// sender for test-sends it may never make).
#[derive(Clone)]
pub struct HttpWebhookSender {
    client: Arc<OnceLock<reqwest::Client>>,
    config: Arc<EgressConfig>,
}

impl HttpWebhookSender {
    pub fn new(config: EgressConfig) -> Self {
        Self {
            client: Arc::new(OnceLock::new()),
            config: Arc::new(config),
        }
    }

    /// The shared client, built on first use (TLS roots included). If it
    /// cannot be built, the attempt fails with the reason (kind `tls`) and is
    /// retried by policy; the next attempt tries to build it again.
    fn client(&self) -> Result<&reqwest::Client, Failure> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let built = build_client(&self.config).map_err(|e| {
            Failure::new(
                ErrorKind::Tls,
                format!("the HTTP client could not be built: {e}"),
            )
        })?;
        Ok(self.client.get_or_init(|| built))
    }

    async fn exchange(
        &self,
        client: &reqwest::Client,
        request: &OutboundRequest,
        started: Instant,
    ) -> Outcome {
        if !self.config.allow_private_targets
            && let Some(ip) = request.url.literal_ip()
            && let Err(refused) = guard::check_ip(ip)
        {
            return Err(Failure::new(ErrorKind::RefusedTarget, refused.to_string()));
        }
        let headers = header_map(&request.headers)?;
        let pending = client
            .post(request.url.without_credentials())
            .headers(headers)
            .body(request.body.clone())
            .timeout(request.timeout)
            .send();
        let deadline = tokio::time::Instant::from_std(started + request.timeout);
        let response = match tokio::time::timeout_at(deadline, pending).await {
            Err(_elapsed) => return Err(Failure::timed_out(request.timeout)),
            Ok(Err(e)) => return Err(classify(&e.without_url(), request.timeout)),
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        let retry_after = match response.headers().get(RETRY_AFTER) {
            Some(value) if !status.is_success() => value
                .to_str()
                .ok()
                .and_then(|v| parse_retry_after(v, SystemTime::now())),
            _ => None,
        };
        // The status is in: a body cut short by the deadline keeps what was read.
        let mut body = Vec::new();
        let _ = tokio::time::timeout_at(deadline, excerpt::read_capped(response, &mut body)).await;
        Ok(Received {
            status: status.as_u16(),
            excerpt: excerpt::to_excerpt(&body),
            retry_after,
        })
    }
}

fn build_client(config: &EgressConfig) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .user_agent(config.user_agent.as_str())
        .redirect(reqwest::redirect::Policy::none())
        // A proxy would resolve the target itself, around the guard.
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver {
            allow_private: config.allow_private_targets,
        }))
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
}

struct Received {
    status: u16,
    excerpt: Option<String>,
    retry_after: Option<Duration>,
}

type Outcome = Result<Received, Failure>;

fn header_map(headers: &[(String, String)]) -> Result<HeaderMap, Failure> {
    let mut map = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        // The value is not quoted: it may be a signature or credentials.
        let invalid = || Failure::new(ErrorKind::Render, format!("header `{name}` is not valid"));
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
        let value = HeaderValue::from_str(value).map_err(|_| invalid())?;
        map.append(name, value);
    }
    Ok(map)
}

/// The outcome, with the URL's password scrubbed from any error text as a last line of defence.
fn into_outcome(outcome: Outcome, request: &OutboundRequest, duration: Duration) -> SendOutcome {
    match outcome {
        Ok(received) => {
            let ok = (200..300).contains(&received.status);
            SendOutcome {
                status_code: Some(received.status),
                error_kind: (!ok).then_some(ErrorKind::HttpStatus),
                error: (!ok).then(|| format!("HTTP {}", received.status)),
                response_excerpt: received.excerpt,
                duration,
                retry_after: received.retry_after,
            }
        }
        Err(failure) => SendOutcome {
            status_code: None,
            error_kind: Some(failure.kind),
            error: Some(scrub(failure.message, request)),
            response_excerpt: None,
            duration,
            retry_after: None,
        },
    }
}

fn scrub(message: String, request: &OutboundRequest) -> String {
    match request.url.credentials() {
        Some((_, Some(password))) if !password.is_empty() => message.replace(&password, "***"),
        _ => message,
    }
}

#[async_trait]
impl WebhookSender for HttpWebhookSender {
    async fn send(&self, request: &OutboundRequest) -> SendOutcome {
        // Built (once) before the clock starts: not part of any attempt's time.
        let client = self.client();
        let started = Instant::now();
        let outcome = match client {
            Ok(client) => self.exchange(client, request, started).await,
            Err(failure) => Err(failure),
        };
        into_outcome(outcome, request, started.elapsed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::target_url::{TargetUrl, UrlPolicy};

    fn request(url: &str) -> OutboundRequest {
        let policy = UrlPolicy {
            allow_http: true,
            allow_private: true,
        };
        OutboundRequest {
            url: TargetUrl::parse(url, policy).unwrap(),
            headers: vec![],
            body: bytes::Bytes::new(),
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn an_invalid_header_fails_without_quoting_its_value() {
        let headers = vec![(
            "authorization".to_string(),
            "Basic x\r\nInjected: 1".to_string(),
        )];
        let failure = header_map(&headers).unwrap_err();
        assert_eq!(failure.kind, ErrorKind::Render);
        assert_eq!(failure.message, "header `authorization` is not valid");
    }

    #[test]
    fn repeated_headers_are_all_kept() {
        let headers = vec![
            ("x-a".to_string(), "1".to_string()),
            ("x-a".to_string(), "2".to_string()),
        ];
        assert_eq!(
            header_map(&headers).unwrap().get_all("x-a").iter().count(),
            2
        );
    }

    #[test]
    fn only_2xx_is_success_and_the_rest_is_named_by_status() {
        let req = request("http://example.com/");
        for (status, ok) in [(200, true), (299, true), (301, false), (410, false)] {
            let received = Received {
                status,
                excerpt: None,
                retry_after: None,
            };
            let outcome = into_outcome(Ok(received), &req, Duration::ZERO);
            assert_eq!(outcome.succeeded(), ok, "{status}");
            assert_eq!(outcome.status_code, Some(status));
            if !ok {
                assert_eq!(outcome.error_kind, Some(ErrorKind::HttpStatus));
                assert_eq!(outcome.error, Some(format!("HTTP {status}")));
            }
        }
    }

    #[test]
    fn a_password_that_leaks_into_an_error_is_scrubbed() {
        let req = request("http://user:hunter2@example.com/");
        let failure = Failure::new(ErrorKind::Connect, "connection failed: hunter2");
        let outcome = into_outcome(Err(failure), &req, Duration::ZERO);
        assert_eq!(outcome.error.as_deref(), Some("connection failed: ***"));
    }
}
