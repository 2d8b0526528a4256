//! SSRF matrix with the guard on (private targets refused, plain http
//! allowed so the only reason to refuse is the address): every spelling of a
//! loopback/private/metadata address, one row per case, refused by the
//! config API where the address is literal (400 naming `url`, on create, on
//! PATCH and through the Rocket.Chat settings call) AND by the dispatcher at
//! send time (`refused-target`, nothing reaches the receiver listening on the
//! address) for an integration stored straight into the table, as one
//! created before the guard was switched on would be. Host names that resolve
//! to private addresses offline (`localhost`, every `/etc/hosts` name) pass
//! the API (no DNS at creation) and are refused at send time. A redirect to
//! the metadata address is never followed.

use chathooks::app::dispatch::Outcome;
use chathooks::domain::event::Event;
use chathooks::domain::ids::{IntegrationId, TenantId};
use chathooks::domain::integration::Integration;
use chathooks::domain::message::DeliveryJob;
use chathooks::domain::target_url::{TargetUrl, UrlPolicy};
use chathooks_tests::fixtures::*;
use chathooks_tests::local::LocalStack;
use chathooks_tests::receiver::{Receiver, Reply};
use futures::StreamExt;
use serde_json::json;

const GUARDED: &[(&str, &str)] = &[
    ("CHATHOOKS_ALLOW_PRIVATE_TARGETS", "false"),
    ("CHATHOOKS_ALLOW_HTTP", "true"),
];

const PERMISSIVE: UrlPolicy = UrlPolicy {
    allow_http: true,
    allow_private: true,
};

/// One row: a name for the failure message and a URL template (`{p}`: the
/// port of the receiver listening on 127.0.0.1).
const LITERALS: &[(&str, &str)] = &[
    ("loopback", "http://127.0.0.1:{p}/hook"),
    ("loopback, https", "https://127.0.0.1:{p}/hook"),
    ("loopback, other /8 address", "http://127.5.6.7:{p}/hook"),
    ("loopback, short form", "http://127.1:{p}/hook"),
    ("loopback, decimal", "http://2130706433:{p}/hook"),
    ("loopback, octal", "http://0177.0.0.1:{p}/hook"),
    ("loopback, hex dotted", "http://0x7f.0.0.1:{p}/hook"),
    ("loopback, hex whole", "http://0x7f000001:{p}/hook"),
    ("loopback, mixed radix", "http://0x7f.0.0.01:{p}/hook"),
    ("loopback, trailing dot", "http://127.0.0.1.:{p}/hook"),
    (
        "loopback, percent-encoded",
        "http://%31%32%37.0.0.1:{p}/hook",
    ),
    (
        "loopback, fullwidth digits",
        "http://１２７.０.０.１:{p}/hook",
    ),
    (
        "loopback, with credentials",
        "http://user:pw@127.0.0.1:{p}/hook",
    ),
    (
        "unspecified (reaches loopback on Linux)",
        "http://0.0.0.0:{p}/hook",
    ),
    ("unspecified, bare zero", "http://0:{p}/hook"),
    ("private 10/8", "http://10.0.0.1/hook"),
    ("private 172.16/12", "http://172.16.0.1/hook"),
    ("private 192.168/16", "http://192.168.1.1/hook"),
    ("carrier-grade NAT", "http://100.64.0.1/hook"),
    (
        "cloud metadata",
        "http://169.254.169.254/latest/meta-data/iam/",
    ),
    (
        "cloud metadata, decimal",
        "http://2852039166/latest/meta-data/",
    ),
    ("broadcast", "http://255.255.255.255/hook"),
    ("multicast", "http://224.0.0.1/hook"),
    ("IPv6 loopback", "http://[::1]:{p}/hook"),
    (
        "IPv6 loopback, expanded",
        "http://[0:0:0:0:0:0:0:1]:{p}/hook",
    ),
    ("IPv6 unspecified", "http://[::]:{p}/hook"),
    ("IPv6 link-local", "http://[fe80::1]/hook"),
    ("IPv6 unique local", "http://[fd00::1]/hook"),
    (
        "IPv6 metadata (AWS)",
        "http://[fd00:ec2::254]/latest/meta-data/",
    ),
    ("IPv4-mapped, dotted", "http://[::ffff:127.0.0.1]:{p}/hook"),
    ("IPv4-mapped, hex", "http://[::ffff:7f00:1]:{p}/hook"),
    (
        "IPv4-mapped, expanded",
        "http://[0:0:0:0:0:ffff:127.0.0.1]:{p}/hook",
    ),
    (
        "IPv4-mapped metadata",
        "http://[::ffff:169.254.169.254]/latest/",
    ),
    ("IPv4-mapped private", "http://[::ffff:a00:1]/hook"),
    ("IPv4-compatible, dotted", "http://[::127.0.0.1]:{p}/hook"),
    ("IPv4-compatible, hex", "http://[::7f00:1]:{p}/hook"),
    ("IPv4-compatible metadata", "http://[::a9fe:a9fe]/latest/"),
    ("NAT64 loopback", "http://[64:ff9b::7f00:1]:{p}/hook"),
    ("NAT64 dotted", "http://[64:ff9b::127.0.0.1]:{p}/hook"),
    ("NAT64 metadata", "http://[64:ff9b::a9fe:a9fe]/latest/"),
    ("NAT64 local-use prefix", "http://[64:ff9b:1::a00:1]/hook"),
    ("6to4 of loopback", "http://[2002:7f00:1::]/hook"),
];

fn fill(template: &str, port: u16) -> String {
    template.replace("{p}", &port.to_string())
}

/// Host names this machine resolves offline to a private address: `localhost`
/// and every name in /etc/hosts mapped to a loopback or private address.
fn private_names() -> Vec<String> {
    let mut names = vec!["localhost".to_string(), "LocalHost".to_string()];
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    for line in hosts.lines() {
        let line = line.split('#').next().unwrap_or_default();
        let mut fields = line.split_whitespace();
        let Some(ip) = fields
            .next()
            .and_then(|ip| ip.parse::<std::net::IpAddr>().ok())
        else {
            continue;
        };
        if chathooks::domain::ssrf::forbidden_reason(ip).is_none() {
            continue;
        }
        for name in fields {
            // URL hosts are ASCII names; skip anything url would reject.
            if !names.iter().any(|n| n.eq_ignore_ascii_case(name))
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-".contains(c))
            {
                names.push(name.to_string());
            }
        }
    }
    names
}

/// Deliver one chat.closed event to a copy of `base` pointed at `url`,
/// stored straight into the table; returns the outcome and the logged attempt.
async fn deliver_to(
    stack: &LocalStack,
    tenant: &chathooks_tests::client::ApiClient,
    base: &Integration,
    url: &str,
    event_id: &str,
) -> (Outcome, serde_json::Value) {
    let store = &stack.functions.dispatcher.integrations;
    let target = retargeted(base, url, PERMISSIVE);
    store.create(&target).await.unwrap();
    let event = Event::from_json(closed_chat(event_id)).unwrap();
    let job: DeliveryJob = stack
        .accepted_jobs(base.tenant_id(), &event, &[target])
        .await
        .unwrap()
        .pop()
        .unwrap();
    let outcome = stack.functions.dispatcher.deliver(&job).await.unwrap();
    let d = tenant
        .get(&format!("/v1/deliveries/{}", job.delivery_id))
        .await
        .body;
    (outcome, attempts(&d).first().cloned().unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_spelling_of_a_private_address_is_refused_by_the_api_and_the_dispatcher() {
    // GIVEN a stack with the guard on, a receiver on 127.0.0.1, and a tenant
    // with one ordinary integration (the template for the stored ones)
    let (stack, admin, _) = stack_with(GUARDED).await;
    let (tenant, tenant_id) = tenant_with_id(&admin).await;
    let receiver = Receiver::start().await;
    let port = receiver.addr.port();
    let (base_id, _) = integration(
        &tenant,
        "https://hooks.example.com/in",
        json!({"retry_policy": "none"}),
    )
    .await;
    let tenant_id = TenantId::parse(&tenant_id).unwrap();
    let base = stack
        .functions
        .dispatcher
        .integrations
        .get(&tenant_id, &IntegrationId::parse(&base_id).unwrap())
        .await
        .unwrap()
        .unwrap();

    // (the rows are independent: checked a few at a time, each naming itself)
    let check = |n: usize, case: &'static str, template: &'static str| {
        let (stack, tenant, base, base_id) = (&stack, &tenant, &base, &base_id);
        async move {
            let mut failures = Vec::new();
            let url = fill(template, port);
            // the row really is a literal address (else it belongs with the names)
            let parsed = TargetUrl::parse(&url, PERMISSIVE).unwrap();
            assert!(
                parsed.literal_ip().is_some(),
                "{case}: {url} is not literal"
            );

            // THEN the API refuses it on create, naming `url`
            let created = tenant
                .post(
                    "/v1/integrations",
                    &json!({"name": case, "url": url, "events": ["chat.closed"]}),
                )
                .await;
            if created.status != 400 || created.body["error"]["field"] != "url" {
                failures.push(format!(
                    "{case} ({url}): create answered {} {}",
                    created.status, created.body
                ));
            }
            // AND on PATCH of an existing integration
            let patched = tenant
                .patch(&format!("/v1/integrations/{base_id}"), &json!({"url": url}))
                .await;
            if patched.status != 400 || patched.body["error"]["field"] != "url" {
                failures.push(format!(
                    "{case} ({url}): PATCH answered {} {}",
                    patched.status, patched.body
                ));
            }

            // AND the dispatcher refuses it at send time, quickly, without connecting
            let (outcome, attempt) =
                deliver_to(stack, tenant, base, &url, &format!("evt-lit-{n}")).await;
            if !matches!(outcome, Outcome::Failed { .. })
                || attempt["error_kind"] != "refused-target"
                || attempt["duration_ms"].as_u64().unwrap_or(u64::MAX) >= 1000
            {
                failures.push(format!("{case} ({url}): dispatch {outcome:?} {attempt}"));
            }
            // AND the error names the address without the URL's password
            if attempt["error"]
                .as_str()
                .unwrap_or_default()
                .contains("pw@")
            {
                failures.push(format!("{case}: password in {attempt}"));
            }
            failures
        }
    };
    let failures: Vec<String> = futures::stream::iter(LITERALS.iter().enumerate())
        .map(|(n, (case, template))| check(n, case, template))
        .buffer_unordered(4)
        .collect::<Vec<Vec<String>>>()
        .await
        .into_iter()
        .flatten()
        .collect();

    // AND the base integration still points where it did
    let base_now = tenant.get(&format!("/v1/integrations/{base_id}")).await;
    assert_eq!(base_now.body["url"], "https://hooks.example.com/in");

    // AND the Rocket.Chat settings call refuses a literal private URL too
    let rc = reqwest::Client::new()
        .post(format!("{}/api/v1/omnichannel/integrations", admin.base))
        .header("X-Auth-Token", tenant.key.clone().unwrap())
        .header("X-User-Id", tenant_id.to_string())
        .header("content-type", "application/json")
        .body(
            json!({"LivechatWebhookUrl": fill("http://[::ffff:7f00:1]:{p}/rc", port),
                   "LivechatWebhookOnClose": true})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(rc.status(), 400, "{:?}", rc.text().await);

    // AND nothing ever reached the receiver on loopback
    wait_idle(&stack).await;
    assert!(receiver.received().is_empty(), "{:?}", receiver.received());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn host_names_resolving_to_private_addresses_are_refused_at_send_time() {
    // GIVEN a guarded stack and a receiver on loopback
    let (stack, admin, _) = stack_with(GUARDED).await;
    let (tenant, tenant_id) = tenant_with_id(&admin).await;
    let receiver = Receiver::start().await;
    let port = receiver.addr.port();
    let names = private_names();
    assert!(names.len() >= 2, "{names:?}");

    let mut failures = Vec::new();
    for (n, name) in names.iter().enumerate() {
        let url = format!("http://{name}:{port}/hook");
        // THEN the API accepts the name (it does not resolve at creation)...
        let (id, _) = integration(&tenant, &url, json!({"retry_policy": "none"})).await;
        // ...and the dispatcher refuses it at send time, naming the host
        let tid = TenantId::parse(&tenant_id).unwrap();
        let base = stack
            .functions
            .dispatcher
            .integrations
            .get(&tid, &IntegrationId::parse(&id).unwrap())
            .await
            .unwrap()
            .unwrap();
        let (outcome, attempt) =
            deliver_to(&stack, &tenant, &base, &url, &format!("evt-name-{n}")).await;
        let error = attempt["error"].as_str().unwrap_or_default().to_lowercase();
        if !matches!(outcome, Outcome::Failed { .. })
            || attempt["error_kind"] != "refused-target"
            || !error.contains(&name.to_lowercase())
        {
            failures.push(format!("{name}: {outcome:?} {attempt}"));
        }
        // AND the test-send route refuses it as well
        let test = tenant
            .post(&format!("/v1/integrations/{id}/test"), &json!({}))
            .await;
        if test.body.to_string().contains("\"succeeded\"") || test.status == 500 {
            failures.push(format!("{name}: test-send {} {}", test.status, test.body));
        }
        tenant.delete(&format!("/v1/integrations/{id}")).await;
    }
    wait_idle(&stack).await;
    assert!(receiver.received().is_empty(), "{:?}", receiver.received());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redirect_to_a_private_address_is_never_followed() {
    // GIVEN a stack with the guard OFF (so the first hop, on loopback, is reached),
    // a second receiver on loopback, and a receiver answering 302 to each of
    // the metadata address and the second receiver
    let (stack, _admin, tenant) = stack_with(&[]).await;
    let inner = Receiver::start().await;
    let inner_url = inner.url("/internal");
    let redirector = Receiver::scripted(move |n, _| {
        let to = if n % 2 == 0 {
            "http://169.254.169.254/latest/meta-data/iam/security-credentials/".to_string()
        } else {
            inner_url.clone()
        };
        Reply::status(302).with_header("location", &to)
    })
    .await;
    integration(
        &tenant,
        &redirector.url("/hook"),
        json!({"retry_policy": "none", "timeout_ms": 3000}),
    )
    .await;

    // WHEN two events are delivered
    let first = post_event(&tenant, "evt-redirect-1").await;
    let second = post_event(&tenant, "evt-redirect-2").await;

    // THEN each delivery fails on the 302 itself, in one attempt, quickly
    for id in [first, second] {
        let d = wait_settled(&tenant, &id, WAIT).await;
        assert_eq!(d["status"], "failed", "{d}");
        let a = attempts(&d);
        assert_eq!(a.len(), 1, "{d}");
        assert_eq!(a[0]["status_code"], 302, "{d}");
        assert!(a[0]["duration_ms"].as_u64().unwrap() < 2000, "{d}");
    }
    // AND the redirector was asked twice, the redirect target never
    wait_idle(&stack).await;
    assert_eq!(redirector.received().len(), 2);
    assert!(inner.received().is_empty(), "{:?}", inner.received());

    // AND with the guard on, the first hop itself is refused at the API
    let (_guarded, admin) = serving(options(GUARDED)).await;
    let guarded_tenant = new_tenant(&admin).await;
    let refused = guarded_tenant
        .post(
            "/v1/integrations",
            &json!({"name": "r", "url": redirector.url("/hook"), "events": ["chat.closed"]}),
        )
        .await;
    assert_eq!(refused.status, 400, "{:?}", refused.body);
    assert_eq!(refused.body["error"]["field"], "url");
}
