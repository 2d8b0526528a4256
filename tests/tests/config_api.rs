//! The config API through HTTP against moto: API keys, integrations (CRUD,
//! pagination, validation naming the field, a strict deployment's URL
//! rules), secrets and their rotation, and test-sends.
use chathooks::domain::secret::WebhookSecret;
use chathooks::domain::signing::verify;
use chathooks_tests::client::{Answer, ApiClient};
use chathooks_tests::fixtures::*;
use chathooks_tests::local::LocalStack;
use chathooks_tests::receiver::{Received, Receiver, Reply};
use serde_json::{Value, json};
use std::time::Duration;

fn assert_error(answer: &Answer, status: u16, field: Option<&str>) {
    assert_eq!(answer.status, status, "{:?}", answer.body);
    let error = &answer.body["error"];
    assert!(error["code"].is_string(), "{:?}", answer.body);
    assert!(error["message"].is_string(), "{:?}", answer.body);
    if let Some(field) = field {
        assert_eq!(error["field"], field, "{:?}", answer.body);
    }
}

async fn raw(base: &str, key: Option<&str>, content_type: &str, body: Vec<u8>) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{base}/v1/integrations"))
        .header("content-type", content_type)
        .body(body);
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let bytes = r.bytes().await.unwrap_or_default();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// A stack serving the API (no consumers: nothing here is delivered) and a tenant.
async fn api() -> (LocalStack, ApiClient, ApiClient) {
    let (stack, admin) = serving(LocalOptions::default()).await;
    let tenant = new_tenant(&admin).await;
    (stack, admin, tenant)
}

/// A valid integration body at `https://hooks.example.com/{path}`.
fn hook(path: &str) -> Value {
    json!({"name": format!("hook {path}"), "url": format!("https://hooks.example.com/{path}"), "events": ["chat.closed"]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tenant_key_is_random_shown_once_and_required_on_every_call() {
    let (_stack, admin) = serving(LocalOptions::default()).await;
    // GIVEN a tenant created with the admin key: its key is random and shown once
    let created = admin.post("/v1/tenants", &json!({"name": "acme"})).await;
    assert_eq!(created.status, 201);
    let key = created.body["api_key"].as_str().unwrap().to_string();
    assert!(key.starts_with("chk_") && key.len() > 40, "{key}");
    let tenant = admin.with_key(&key);
    let second = admin.post("/v1/tenants", &json!({"name": "acme"})).await;
    assert_ne!(second.body["api_key"], created.body["api_key"]);
    // THEN a tenant key is not the admin key, and no key or a bad key is 401
    assert_error(&tenant.post("/v1/tenants", &json!({})).await, 401, None);
    let anonymous = ApiClient::new(admin.base.clone(), None);
    assert_error(&anonymous.get("/v1/integrations").await, 401, None);
    assert_error(
        &admin
            .with_key("chk_not-a-key")
            .get("/v1/integrations")
            .await,
        401,
        None,
    );
    assert_eq!(tenant.get("/v1/integrations").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_created_integration_has_its_defaults_and_shows_its_secret_once() {
    let (_stack, _admin, tenant) = api().await;
    // WHEN an integration is created
    let body = create_integration(&tenant, hook("0")).await;
    // THEN the answer has the read-only fields, defaults, and the secret this once
    assert!(body["id"].as_str().unwrap().starts_with("int_"));
    assert!(body["created_at"].is_string() && body["updated_at"].is_string());
    assert_eq!(body["disabled_reason"], Value::Null);
    assert_eq!(body["timeout_ms"], 10_000);
    assert_eq!(body["retry_policy"], "standard");
    assert_eq!(body["format"], "standard");
    assert_eq!(body["enabled"], true);
    let secret = body["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    // AND reading it shows no secret; the secret route does
    let id = body["id"].as_str().unwrap();
    let read = tenant.get(&format!("/v1/integrations/{id}")).await;
    assert_eq!(read.status, 200);
    assert!(read.body.get("secret").is_none());
    assert!(!read.body.to_string().contains(secret));
    let shown = tenant.get(&format!("/v1/integrations/{id}/secret")).await;
    assert_eq!(shown.body["secret"], secret);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn integrations_list_in_creation_order_page_by_page_without_secrets() {
    let (_stack, _admin, tenant) = api().await;
    // GIVEN three integrations
    let mut ids = Vec::new();
    let mut secrets = Vec::new();
    for n in 0..3 {
        let body = create_integration(&tenant, hook(&n.to_string())).await;
        ids.push(body["id"].as_str().unwrap().to_string());
        secrets.push(body["secret"].as_str().unwrap().to_string());
    }
    // THEN the list pages through them in creation order, without secrets
    let page1 = tenant.get("/v1/integrations?limit=2").await;
    assert_eq!(page1.status, 200);
    let cursor = page1.body["next_cursor"].as_str().unwrap().to_string();
    let page2 = tenant
        .get(&format!("/v1/integrations?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(page2.body["next_cursor"], Value::Null);
    let listed: Vec<&Value> = page1.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(page2.body["items"].as_array().unwrap())
        .collect();
    let listed_ids: Vec<&str> = listed.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(listed_ids, ids);
    let text = format!("{} {}", page1.body, page2.body);
    assert!(!text.contains("\"secret\""), "{text}");
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "{text}");
    }
    // AND a bad cursor or limit is named
    assert_error(
        &tenant.get("/v1/integrations?cursor=garbage").await,
        400,
        Some("cursor"),
    );
    assert_error(
        &tenant.get("/v1/integrations?limit=0").await,
        400,
        Some("limit"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_partial_update_changes_only_what_it_names() {
    let (_stack, _admin, tenant) = api().await;
    let created = create_integration(&tenant, hook("0")).await;
    let path = format!("/v1/integrations/{}", created["id"].as_str().unwrap());
    let read = tenant.get(&path).await;
    // WHEN some fields are patched (a moment later, so updated_at moves)
    tokio::time::sleep(Duration::from_millis(5)).await;
    let patched = tenant
        .patch(
            &path,
            &json!({"timeout_ms": 5000, "enabled": false, "retry_policy": [1, 2, 3], "headers": {"X-Team": "crm"}}),
        )
        .await;
    // THEN those change, the rest stays
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    assert_eq!(patched.body["timeout_ms"], 5000);
    assert_eq!(patched.body["enabled"], false);
    assert_eq!(patched.body["disabled_reason"], "disabled by the tenant");
    assert_eq!(patched.body["retry_policy"], json!([1, 2, 3]));
    assert_eq!(patched.body["headers"], json!({"X-Team": "crm"}));
    assert_eq!(patched.body["name"], read.body["name"]);
    assert_eq!(patched.body["url"], read.body["url"]);
    assert_eq!(patched.body["created_at"], read.body["created_at"]);
    assert_ne!(patched.body["updated_at"], read.body["updated_at"]);
    assert_eq!(tenant.get(&path).await.body, patched.body);
    // AND every named retry policy can be set
    for policy in ["rocketchat", "livechat", "none", "standard"] {
        let p = tenant.patch(&path, &json!({"retry_policy": policy})).await;
        assert_eq!(p.body["retry_policy"], policy, "{:?}", p.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_supplied_secret_is_validated_and_kept() {
    let (_stack, _admin, tenant) = api().await;
    let mine = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let mut body = hook("s");
    body["secret"] = json!(mine);
    assert_eq!(
        create_integration(&tenant, body.clone()).await["secret"],
        mine
    );
    body["secret"] = json!("hunter2");
    assert_error(
        &tenant.post("/v1/integrations", &body).await,
        400,
        Some("secret"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deleted_integration_is_404_like_any_unknown_id() {
    let (_stack, _admin, tenant) = api().await;
    let created = create_integration(&tenant, hook("0")).await;
    let path = format!("/v1/integrations/{}", created["id"].as_str().unwrap());
    // WHEN it is deleted: 204
    assert_eq!(tenant.delete(&path).await.status, 204);
    // THEN reading or deleting it again is 404, as for an id that never existed
    assert_error(&tenant.get(&path).await, 404, None);
    assert_error(&tenant.delete(&path).await, 404, None);
    assert_error(&tenant.get("/v1/integrations/not-an-id").await, 404, None);
}

/// `base` with `patch`'s fields set.
fn with(base: &Value, patch: Value) -> Value {
    let mut b = base.clone();
    for (k, v) in patch.as_object().unwrap() {
        b[k] = v.clone();
    }
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn creation_refuses_each_invalid_field_by_name() {
    let (_stack, _admin, tenant) = api().await;
    let base = hook("x");
    let long_url = format!("https://example.com/{}", "a".repeat(2100));
    // (body, the field named, words the message holds)
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            with(&base, json!({"url": "javascript:alert(1)"})),
            "url",
            "",
        ),
        (with(&base, json!({"url": "file:///etc/passwd"})), "url", ""),
        (
            with(&base, json!({"url": "ftp://example.com/x"})),
            "url",
            "",
        ),
        (with(&base, json!({"url": "https:///no-host"})), "url", ""),
        (with(&base, json!({"url": "/relative"})), "url", ""),
        (with(&base, json!({"url": long_url})), "url", "2048"),
        (
            with(
                &base,
                json!({"events": ["chat.closed", "nope", "chat.maybe"]}),
            ),
            "events",
            "nope, chat.maybe",
        ),
        (with(&base, json!({"events": []})), "events", ""),
        (
            with(
                &base,
                json!({"format": "amplifyreach", "events": ["chat.closed", "chat.taken", "ticket.created"]}),
            ),
            "events",
            "chat.taken, ticket.created",
        ),
        (
            with(&base, json!({"timeout_ms": 999})),
            "timeout_ms",
            "1000",
        ),
        (
            with(&base, json!({"timeout_ms": 30001})),
            "timeout_ms",
            "30000",
        ),
        (
            with(&base, json!({"headers": {"Host": "evil"}})),
            "headers.Host",
            "reserved",
        ),
        (
            with(&base, json!({"headers": {"Content-Length": "1"}})),
            "headers.Content-Length",
            "reserved",
        ),
        (
            with(&base, json!({"headers": {"Transfer-Encoding": "chunked"}})),
            "headers.Transfer-Encoding",
            "reserved",
        ),
        (
            with(&base, json!({"headers": {"Connection": "close"}})),
            "headers.Connection",
            "reserved",
        ),
        (
            with(&base, json!({"headers": {"webhook-signature": "v1,x"}})),
            "headers.webhook-signature",
            "reserved",
        ),
        (
            with(&base, json!({"headers": {"X-Ok": "a\r\nX-Injected: 1"}})),
            "headers.X-Ok",
            "CR",
        ),
        (
            with(&base, json!({"headers": {"Bad Name": "x"}})),
            "headers.Bad Name",
            "",
        ),
        (
            with(&base, json!({"retry_policy": "sometimes"})),
            "retry_policy",
            "",
        ),
        (
            with(&base, json!({"retry_policy": [1, 999999999]})),
            "retry_policy",
            "",
        ),
        (with(&base, json!({"format": "xml"})), "format", ""),
        (with(&base, json!({"name": ""})), "name", ""),
        (with(&base, json!({"timeout_ms": "fast"})), "timeout_ms", ""),
    ];
    let mut failures = Vec::new();
    for (body, field, words) in &cases {
        let answer = tenant.post("/v1/integrations", body).await;
        let message = answer.body["error"]["message"].as_str().unwrap_or_default();
        if answer.status != 400
            || answer.body["error"]["field"] != *field
            || !message.contains(words)
        {
            failures.push(format!("{body}: {} {}", answer.status, answer.body));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // AND none of them created anything
    assert_eq!(
        tenant.get("/v1/integrations").await.body["items"],
        json!([])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_update_refuses_each_invalid_field_by_name_and_changes_nothing() {
    let (_stack, _admin, tenant) = api().await;
    let created = create_integration(&tenant, hook("1")).await;
    let path = format!("/v1/integrations/{}", created["id"].as_str().unwrap());
    let before = tenant.get(&path).await.body;
    let mut failures = Vec::new();
    for (patch, field) in [
        (json!({"url": "ftp://example.com/"}), "url"),
        (json!({"events": ["nope"]}), "events"),
        (json!({"timeout_ms": 50}), "timeout_ms"),
        (json!({"headers": {"Host": "x"}}), "headers.Host"),
        (
            json!({"format": "olark", "events": ["chat.taken"]}),
            "events",
        ),
    ] {
        let answer = tenant.patch(&path, &patch).await;
        if answer.status != 400 || answer.body["error"]["field"] != field {
            failures.push(format!("{patch}: {} {}", answer.status, answer.body));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(tenant.get(&path).await.body, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unknown_and_missing_fields_are_named() {
    let (_stack, _admin, tenant) = api().await;
    // an unknown field on create
    let answer = tenant
        .post(
            "/v1/integrations",
            &with(&hook("x"), json!({"colour": "red"})),
        )
        .await;
    assert_error(&answer, 400, None);
    let message = answer.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("unknown field `colour`"), "{message}");
    // the secret is no field of an update (it is rotated)
    let created = create_integration(&tenant, hook("1")).await;
    let answer = tenant
        .patch(
            &format!("/v1/integrations/{}", created["id"].as_str().unwrap()),
            &json!({"secret": "x"}),
        )
        .await;
    assert_error(&answer, 400, None);
    let message = answer.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("unknown field `secret`"), "{message}");
    // a missing required field
    let answer = tenant
        .post("/v1/integrations", &json!({"events": ["chat.closed"]}))
        .await;
    assert_error(&answer, 400, None);
    let message = answer.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("url"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oversized_non_json_and_malformed_bodies_are_413_415_and_400() {
    let (_stack, admin, tenant) = api().await;
    let key = tenant.key.clone().unwrap();
    let base = hook("x");
    // too large: 413
    let (status, body) = raw(
        &admin.base,
        Some(&key),
        "application/json",
        vec![b' '; 2 * 1024 * 1024],
    )
    .await;
    assert_eq!(status, 413, "{body:?}");
    assert_eq!(body["error"]["code"], "payload_too_large");
    // not JSON by its content type: 415
    let (status, body) = raw(
        &admin.base,
        Some(&key),
        "text/plain",
        base.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, 415, "{body:?}");
    assert_eq!(body["error"]["code"], "unsupported_media_type");
    // not even JSON: 400
    let (status, body) = raw(
        &admin.base,
        Some(&key),
        "application/json",
        b"{nope".to_vec(),
    )
    .await;
    assert_eq!(status, 400, "{body:?}");
    // AND none of them created anything
    assert_eq!(
        tenant.get("/v1/integrations").await.body["items"],
        json!([])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unknown_routes_and_methods_answer_in_the_error_model() {
    let (_stack, _admin, tenant) = api().await;
    let created = create_integration(&tenant, hook("1")).await;
    assert_error(&tenant.get("/v1/nothing").await, 404, None);
    let put = tenant
        .send(
            reqwest::Method::PUT,
            &format!("/v1/integrations/{}", created["id"].as_str().unwrap()),
            Some(&json!({})),
        )
        .await;
    assert_error(&put, 405, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_strict_deployment_refuses_plain_http_and_private_targets() {
    // GIVEN a deployment that allows neither plain http nor private targets
    let (_stack, admin) = serving(options(&[
        ("CHATHOOKS_ALLOW_HTTP", "false"),
        ("CHATHOOKS_ALLOW_PRIVATE_TARGETS", "false"),
    ]))
    .await;
    let tenant = new_tenant(&admin).await;
    // WHEN URLs with http or literal private, loopback or link-local addresses are registered
    for (url, words) in [
        ("http://hooks.example.com/x", "https"),
        ("https://127.0.0.1/x", ""),
        ("https://10.1.2.3/x", ""),
        ("https://192.168.0.1/x", ""),
        ("https://169.254.169.254/latest/meta-data", ""),
        ("https://[::1]/x", ""),
        ("https://[fe80::1]/x", ""),
        ("https://0.0.0.0/x", ""),
    ] {
        let answer = tenant
            .post(
                "/v1/integrations",
                &json!({"url": url, "events": ["chat.closed"]}),
            )
            .await;
        // THEN each is refused, naming the url
        assert_error(&answer, 400, Some("url"));
        let message = answer.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(words), "{url}: {message}");
    }
    // AND a public https URL is accepted, and cannot be changed to a private one
    let ok = create_integration(&tenant, hook("x")).await;
    let id = ok["id"].as_str().unwrap();
    let answer = tenant
        .patch(
            &format!("/v1/integrations/{id}"),
            &json!({"url": "https://127.0.0.1/"}),
        )
        .await;
    assert_error(&answer, 400, Some("url"));
}

/// The two signatures of a delivery during a rotation, each verified apart.
fn assert_signed_by_both(got: &Received, old: &str, new: &str) {
    let id = got.header("webhook-id").unwrap();
    let ts: i64 = got.header("webhook-timestamp").unwrap().parse().unwrap();
    let header = got.header("webhook-signature").unwrap();
    let parts: Vec<&str> = header.split(' ').collect();
    assert_eq!(
        parts.len(),
        2,
        "two signatures during the grace period: {header}"
    );
    let old = WebhookSecret::parse(old).unwrap();
    let new = WebhookSecret::parse(new).unwrap();
    assert!(
        verify(&new, id, ts, &got.body, parts[0]),
        "new key signs first"
    );
    assert!(
        verify(&old, id, ts, &got.body, parts[1]),
        "old key still signs"
    );
    assert!(!verify(&old, id, ts, &got.body, parts[0]));
    assert!(verify(&old, id, ts, &got.body, header) && verify(&new, id, ts, &got.body, header));
}

/// A receiver answering 200 with a JSON body carrying a link, and an
/// integration for chat.closed pointing at it (no retries): its id and secret.
async fn linked_receiver(tenant: &ApiClient) -> (Receiver, String, String) {
    let receiver = Receiver::scripted(|_, _| {
        Reply::status(200).with_body(r#"{"ok": true, "link": "https://crm.example.com/tickets/7"}"#)
    })
    .await;
    let created = create_integration(
        tenant,
        json!({"url": receiver.url("/hook"), "events": ["chat.closed"], "retry_policy": "none"}),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_string();
    let secret = created["secret"].as_str().unwrap().to_string();
    (receiver, id, secret)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_test_send_to_a_live_receiver_reports_its_answer_and_is_logged() {
    let (_stack, _admin, tenant) = api().await;
    let (receiver, id, secret) = linked_receiver(&tenant).await;

    // WHEN a test-send goes to a live receiver
    let test = tenant
        .post(&format!("/v1/integrations/{id}/test"), &json!({}))
        .await;
    // THEN it answers ok, the status, the duration, the excerpt and the link
    assert_eq!(test.status, 200, "{:?}", test.body);
    assert_eq!(test.body["ok"], true);
    assert_eq!(test.body["status_code"], 200);
    assert!(test.body["duration_ms"].is_u64());
    assert!(
        test.body["response_excerpt"]
            .as_str()
            .unwrap()
            .contains("tickets/7")
    );
    assert_eq!(test.body["link"], "https://crm.example.com/tickets/7");
    // AND the receiver got a signed webhook.test, synchronously
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["type"], "webhook.test");
    let ts: i64 = got[0].header("webhook-timestamp").unwrap().parse().unwrap();
    assert!(verify(
        &WebhookSecret::parse(&secret).unwrap(),
        got[0].header("webhook-id").unwrap(),
        ts,
        &got[0].body,
        got[0].header("webhook-signature").unwrap()
    ));
    // AND it is in the delivery log
    let delivery = test.body["delivery_id"].as_str().unwrap();
    let logged = tenant.get(&format!("/v1/deliveries/{delivery}")).await;
    assert_eq!(logged.body["event_type"], "webhook.test");
    assert_eq!(logged.body["status"], "succeeded");
    assert_eq!(logged.body["attempts"][0]["status_code"], 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rotated_secret_signs_beside_the_old_one_during_its_grace_period() {
    let (stack, _admin, tenant) = stack_with(&[]).await;
    let (receiver, id, old) = linked_receiver(&tenant).await;

    // WHEN the secret is rotated with the default grace period
    let rotated = tenant
        .post(&format!("/v1/integrations/{id}/secret/rotate"), &json!({}))
        .await;
    assert_eq!(rotated.status, 200, "{:?}", rotated.body);
    let new = rotated.body["secret"].as_str().unwrap().to_string();
    assert!(new.starts_with("whsec_") && new != old);
    let expires: chrono::DateTime<chrono::Utc> = rotated.body["previous_secret_expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let hours = (expires - chrono::Utc::now()).num_minutes() as f64 / 60.0;
    assert!((23.9..=24.0).contains(&hours), "grace of {hours} h");
    assert_eq!(
        tenant
            .get(&format!("/v1/integrations/{id}/secret"))
            .await
            .body["secret"],
        new.as_str()
    );
    // THEN a delivery carries both signatures, each verifying with its key
    post_event(&tenant, "evt-rotation-1").await;
    let got = receiver.wait_for(1, WAIT).await;
    assert_eq!(got.len(), 1);
    assert_signed_by_both(&got[0], &old, &new);
    // AND a test-send is signed the same way
    tenant
        .post(&format!("/v1/integrations/{id}/test"), &json!({}))
        .await;
    assert_signed_by_both(&receiver.received()[1], &old, &new);
    wait_idle(&stack).await;
    assert_eq!(receiver.received().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rotation_without_grace_drops_the_replaced_key_at_once() {
    let (_stack, _admin, tenant) = api().await;
    let (receiver, id, old) = linked_receiver(&tenant).await;
    let rotate = format!("/v1/integrations/{id}/secret/rotate");
    // GIVEN a rotation with the default grace (`old` still signs for a day)
    let new = tenant.post(&rotate, &json!({})).await.body["secret"]
        .as_str()
        .unwrap()
        .to_string();

    // WHEN rotated again with no grace, supplying the secret
    let third = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let rotated = tenant
        .post(&rotate, &json!({"secret": third, "grace_hours": 0}))
        .await;
    assert_eq!(rotated.body["secret"], third);
    assert_eq!(rotated.body["previous_secret_expires_at"], Value::Null);
    tenant
        .post(&format!("/v1/integrations/{id}/test"), &json!({}))
        .await;
    let got = &receiver.received()[0];
    // THEN only the new key signs (the earlier grace of `old` still runs, `new` has none)
    let header = got.header("webhook-signature").unwrap();
    let ts: i64 = got.header("webhook-timestamp").unwrap().parse().unwrap();
    let id_header = got.header("webhook-id").unwrap();
    let signs = |secret: &str| {
        verify(
            &WebhookSecret::parse(secret).unwrap(),
            id_header,
            ts,
            &got.body,
            header,
        )
    };
    assert!(signs(third), "{header}");
    assert!(!signs(&new), "{header}");
    assert!(signs(&old), "{header}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bad_rotation_body_names_its_field() {
    let (_stack, _admin, tenant) = api().await;
    let created = create_integration(&tenant, hook("r")).await;
    let id = created["id"].as_str().unwrap();
    let rotate = format!("/v1/integrations/{id}/secret/rotate");
    for (body, field) in [
        (json!({"grace_hours": 1000}), "grace_hours"),
        (json!({"secret": "nope"}), "secret"),
        (json!({"grace_hours": -1}), "grace_hours"),
    ] {
        let answer = tenant.post(&rotate, &body).await;
        assert_error(&answer, 400, Some(field));
    }
    // AND the secret is unchanged
    let secret = tenant.get(&format!("/v1/integrations/{id}/secret")).await;
    assert_eq!(secret.body["secret"], created["secret"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_test_send_to_a_dead_receiver_reports_the_error_kind_and_logs_a_failure() {
    let (_stack, _admin, tenant) = api().await;
    // GIVEN an integration on a closed port
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let dead = create_integration(
        &tenant,
        json!({"url": format!("http://127.0.0.1:{port}/hook"), "events": ["chat.closed"], "timeout_ms": 2000}),
    )
    .await;
    // WHEN a test-send goes to it
    let test = tenant
        .post(
            &format!("/v1/integrations/{}/test", dead["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    // THEN it answers ok:false with the kind of error, and logs a failed delivery
    assert_eq!(test.status, 200, "{:?}", test.body);
    assert_eq!(test.body["ok"], false);
    assert_eq!(test.body["status_code"], Value::Null);
    assert_eq!(test.body["error_kind"], "connect");
    assert!(test.body["error"].is_string());
    let delivery = test.body["delivery_id"].as_str().unwrap();
    let logged = tenant.get(&format!("/v1/deliveries/{delivery}")).await;
    assert_eq!(logged.body["status"], "failed");
    assert_eq!(logged.body["attempts"][0]["error_kind"], "connect");
}
