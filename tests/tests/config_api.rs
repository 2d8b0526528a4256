//! The config API through HTTP against moto: integrations (CRUD, pagination,
//! validation naming the field), API keys, secrets and their rotation,
//! test-sends, the delivery log (filters, retry, recover), deletion stopping
//! retries, the Rocket.Chat settings call, and the OpenAPI document.
use chathooks::domain::secret::WebhookSecret;
use chathooks::domain::signing::verify;
use chathooks_tests::client::{Answer, ApiClient};
use chathooks_tests::local::{LocalOptions, new_tenant, running};
use chathooks_tests::receiver::{Received, Receiver, Reply};
use serde_json::{Value, json};
use std::time::Duration;

fn closed_chat(id: &str) -> Value {
    json!({
        "id": id, "type": "chat.closed", "occurred_at": "2026-11-21T10:00:00Z",
        "chat": {"id": "chat-42", "messages": [
            {"author_type": "visitor", "author_name": "Mary", "text": "Hello", "sent_at": "2026-11-21T09:59:00Z"}
        ]},
        "visitor": {"id": "v-1", "name": "Mary"}
    })
}

async fn create(tenant: &ApiClient, body: Value) -> Value {
    let created = tenant.post("/v1/integrations", &body).await;
    assert_eq!(created.status, 201, "{body} -> {:?}", created.body);
    created.body
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn integrations_crud_pagination_secrets_and_validation() {
    let (_stack, admin) = running(LocalOptions::default()).await.unwrap();
    // GIVEN a tenant created with the admin key: its key is random and shown once
    let created = admin.post("/v1/tenants", &json!({"name": "acme"})).await;
    assert_eq!(created.status, 201);
    let key = created.body["api_key"].as_str().unwrap().to_string();
    assert!(key.starts_with("chk_") && key.len() > 40, "{key}");
    let tenant = admin.with_key(&key);
    let second = admin.post("/v1/tenants", &json!({"name": "acme"})).await;
    assert_ne!(second.body["api_key"], created.body["api_key"]);
    // a tenant key is not the admin key, and no key or a bad key is 401
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

    // WHEN it creates three integrations
    let mut ids = Vec::new();
    let mut secrets = Vec::new();
    for n in 0..3 {
        let body = create(
            &tenant,
            json!({"name": format!("hook {n}"), "url": format!("https://hooks.example.com/{n}"), "events": ["chat.closed"]}),
        )
        .await;
        // THEN each answer has the read-only fields, defaults, and the secret this once
        assert!(body["id"].as_str().unwrap().starts_with("int_"));
        assert!(body["created_at"].is_string() && body["updated_at"].is_string());
        assert_eq!(body["disabled_reason"], Value::Null);
        assert_eq!(body["timeout_ms"], 10_000);
        assert_eq!(body["retry_policy"], "standard");
        assert_eq!(body["format"], "standard");
        assert_eq!(body["enabled"], true);
        assert!(body["secret"].as_str().unwrap().starts_with("whsec_"));
        ids.push(body["id"].as_str().unwrap().to_string());
        secrets.push(body["secret"].as_str().unwrap().to_string());
    }

    // AND the list pages through them in creation order, without secrets
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
    for (text, secret) in [page1.body.to_string(), page2.body.to_string()]
        .iter()
        .zip(&secrets)
    {
        assert!(!text.contains(secret.as_str()) && !text.contains("\"secret\""));
    }
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

    // AND read shows no secret; the secret route does
    let read = tenant.get(&format!("/v1/integrations/{}", ids[0])).await;
    assert_eq!(read.status, 200);
    assert!(read.body.get("secret").is_none());
    assert!(!read.body.to_string().contains(&secrets[0]));
    let secret = tenant
        .get(&format!("/v1/integrations/{}/secret", ids[0]))
        .await;
    assert_eq!(secret.body["secret"], secrets[0].as_str());

    // AND a partial update changes only what it names
    tokio::time::sleep(Duration::from_millis(5)).await;
    let patched = tenant
        .patch(
            &format!("/v1/integrations/{}", ids[0]),
            &json!({"timeout_ms": 5000, "enabled": false, "retry_policy": [1, 2, 3], "headers": {"X-Team": "crm"}}),
        )
        .await;
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
    let reread = tenant.get(&format!("/v1/integrations/{}", ids[0])).await;
    assert_eq!(reread.body, patched.body);
    for policy in ["rocketchat", "livechat", "none", "standard"] {
        let p = tenant
            .patch(
                &format!("/v1/integrations/{}", ids[0]),
                &json!({"retry_policy": policy}),
            )
            .await;
        assert_eq!(p.body["retry_policy"], policy, "{:?}", p.body);
    }

    // AND a supplied secret is validated, and kept
    let mine = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let body = create(
        &tenant,
        json!({"url": "https://hooks.example.com/s", "events": ["chat.closed"], "secret": mine}),
    )
    .await;
    assert_eq!(body["secret"], mine);
    assert_error(
        &tenant
            .post(
                "/v1/integrations",
                &json!({"url": "https://hooks.example.com/s", "events": ["chat.closed"], "secret": "hunter2"}),
            )
            .await,
        400,
        Some("secret"),
    );

    // AND delete answers 204, then 404 like any unknown id
    let deleted = tenant.delete(&format!("/v1/integrations/{}", ids[2])).await;
    assert_eq!(deleted.status, 204);
    assert_error(
        &tenant.get(&format!("/v1/integrations/{}", ids[2])).await,
        404,
        None,
    );
    assert_error(
        &tenant.delete(&format!("/v1/integrations/{}", ids[2])).await,
        404,
        None,
    );
    assert_error(&tenant.get("/v1/integrations/not-an-id").await, 404, None);

    // Validation names the field, for creation and for updates
    let long_url = format!("https://example.com/{}", "a".repeat(2100));
    let base = json!({"url": "https://hooks.example.com/x", "events": ["chat.closed"]});
    let with = |patch: Value| {
        let mut b = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (with(json!({"url": "javascript:alert(1)"})), "url", ""),
        (with(json!({"url": "file:///etc/passwd"})), "url", ""),
        (with(json!({"url": "ftp://example.com/x"})), "url", ""),
        (with(json!({"url": "https:///no-host"})), "url", ""),
        (with(json!({"url": "/relative"})), "url", ""),
        (with(json!({"url": long_url})), "url", "2048"),
        (
            with(json!({"events": ["chat.closed", "nope", "chat.maybe"]})),
            "events",
            "nope, chat.maybe",
        ),
        (with(json!({"events": []})), "events", ""),
        (
            with(
                json!({"format": "amplifyreach", "events": ["chat.closed", "chat.taken", "ticket.created"]}),
            ),
            "events",
            "chat.taken, ticket.created",
        ),
        (with(json!({"timeout_ms": 999})), "timeout_ms", "1000"),
        (with(json!({"timeout_ms": 30001})), "timeout_ms", "30000"),
        (
            with(json!({"headers": {"Host": "evil"}})),
            "headers.Host",
            "reserved",
        ),
        (
            with(json!({"headers": {"Content-Length": "1"}})),
            "headers.Content-Length",
            "reserved",
        ),
        (
            with(json!({"headers": {"Transfer-Encoding": "chunked"}})),
            "headers.Transfer-Encoding",
            "reserved",
        ),
        (
            with(json!({"headers": {"Connection": "close"}})),
            "headers.Connection",
            "reserved",
        ),
        (
            with(json!({"headers": {"webhook-signature": "v1,x"}})),
            "headers.webhook-signature",
            "reserved",
        ),
        (
            with(json!({"headers": {"X-Ok": "a\r\nX-Injected: 1"}})),
            "headers.X-Ok",
            "CR",
        ),
        (
            with(json!({"headers": {"Bad Name": "x"}})),
            "headers.Bad Name",
            "",
        ),
        (
            with(json!({"retry_policy": "sometimes"})),
            "retry_policy",
            "",
        ),
        (
            with(json!({"retry_policy": [1, 999999999]})),
            "retry_policy",
            "",
        ),
        (with(json!({"format": "xml"})), "format", ""),
        (with(json!({"name": ""})), "name", ""),
        (with(json!({"timeout_ms": "fast"})), "timeout_ms", ""),
    ];
    for (body, field, words) in &cases {
        let answer = tenant.post("/v1/integrations", body).await;
        assert_error(&answer, 400, Some(field));
        let message = answer.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(words), "{body}: {message}");
    }
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
        let answer = tenant
            .patch(&format!("/v1/integrations/{}", ids[1]), &patch)
            .await;
        assert_error(&answer, 400, Some(field));
    }
    // unknown fields are rejected by name
    let answer = tenant
        .post("/v1/integrations", &with(json!({"colour": "red"})))
        .await;
    assert_error(&answer, 400, None);
    assert!(
        answer.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `colour`"),
        "{:?}",
        answer.body
    );
    let answer = tenant
        .patch(
            &format!("/v1/integrations/{}", ids[1]),
            &json!({"secret": "x"}),
        )
        .await;
    assert!(
        answer.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `secret`")
    );
    // a missing required field is named
    let answer = tenant
        .post("/v1/integrations", &json!({"events": ["chat.closed"]}))
        .await;
    assert_error(&answer, 400, None);
    assert!(
        answer.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("url")
    );
    // too large: 413; not JSON: 415; not even JSON: 400
    let (status, body) = raw(
        &admin.base,
        Some(&key),
        "application/json",
        vec![b' '; 2 * 1024 * 1024],
    )
    .await;
    assert_eq!(status, 413, "{body:?}");
    assert_eq!(body["error"]["code"], "payload_too_large");
    let (status, body) = raw(
        &admin.base,
        Some(&key),
        "text/plain",
        base.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, 415, "{body:?}");
    assert_eq!(body["error"]["code"], "unsupported_media_type");
    let (status, body) = raw(
        &admin.base,
        Some(&key),
        "application/json",
        b"{nope".to_vec(),
    )
    .await;
    assert_eq!(status, 400, "{body:?}");
    // the unchanged integration is still as it was after all of that
    assert_eq!(
        tenant
            .get(&format!("/v1/integrations/{}", ids[1]))
            .await
            .body["url"],
        "https://hooks.example.com/1"
    );
    // unknown routes and methods answer in the error model too
    assert_error(&tenant.get("/v1/nothing").await, 404, None);
    let put = tenant
        .send(
            reqwest::Method::PUT,
            &format!("/v1/integrations/{}", ids[1]),
            Some(&json!({})),
        )
        .await;
    assert_error(&put, 405, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_strict_deployment_refuses_plain_http_and_private_targets() {
    // GIVEN a deployment that allows neither plain http nor private targets
    let options = LocalOptions {
        settings: vec![
            ("CHATHOOKS_ALLOW_HTTP".into(), "false".into()),
            ("CHATHOOKS_ALLOW_PRIVATE_TARGETS".into(), "false".into()),
        ],
        ..LocalOptions::default()
    };
    let (_stack, admin) = running(options).await.unwrap();
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
    let ok = create(
        &tenant,
        json!({"url": "https://hooks.example.com/x", "events": ["chat.closed"]}),
    )
    .await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotation_signs_with_both_keys_and_test_sends_report_live_and_dead_receivers() {
    let (_stack, admin) = running(LocalOptions::default()).await.unwrap();
    let tenant = new_tenant(&admin).await;
    let receiver = Receiver::scripted(|_, _| {
        Reply::status(200).with_body(r#"{"ok": true, "link": "https://crm.example.com/tickets/7"}"#)
    })
    .await;
    let created = create(
        &tenant,
        json!({"url": receiver.url("/hook"), "events": ["chat.closed"], "retry_policy": "none"}),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_string();
    let old = created["secret"].as_str().unwrap().to_string();

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
        &WebhookSecret::parse(&old).unwrap(),
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
    let accepted = tenant
        .post("/v1/events", &closed_chat("evt-rotation-1"))
        .await;
    assert_eq!(accepted.status, 202, "{:?}", accepted.body);
    let got = receiver.wait_for(2, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 2);
    assert_signed_by_both(&got[1], &old, &new);
    // AND a test-send is signed the same way
    tenant
        .post(&format!("/v1/integrations/{id}/test"), &json!({}))
        .await;
    assert_signed_by_both(&receiver.received()[2], &old, &new);

    // WHEN rotated again with no grace, supplying the secret
    let third = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let rotated = tenant
        .post(
            &format!("/v1/integrations/{id}/secret/rotate"),
            &json!({"secret": third, "grace_hours": 0}),
        )
        .await;
    assert_eq!(rotated.body["secret"], third);
    assert_eq!(rotated.body["previous_secret_expires_at"], Value::Null);
    tenant
        .post(&format!("/v1/integrations/{id}/test"), &json!({}))
        .await;
    let got = &receiver.received()[3];
    // THEN only the new key signs (the earlier grace of `old` still runs, `new` has none)
    let header = got.header("webhook-signature").unwrap();
    let ts: i64 = got.header("webhook-timestamp").unwrap().parse().unwrap();
    let id_header = got.header("webhook-id").unwrap();
    assert!(verify(
        &WebhookSecret::parse(third).unwrap(),
        id_header,
        ts,
        &got.body,
        header
    ));
    assert!(!verify(
        &WebhookSecret::parse(&new).unwrap(),
        id_header,
        ts,
        &got.body,
        header
    ));
    assert!(verify(
        &WebhookSecret::parse(&old).unwrap(),
        id_header,
        ts,
        &got.body,
        header
    ));
    // AND a bad rotation body names its field
    for (body, field) in [
        (json!({"grace_hours": 1000}), "grace_hours"),
        (json!({"secret": "nope"}), "secret"),
        (json!({"grace_hours": -1}), "grace_hours"),
    ] {
        let answer = tenant
            .post(&format!("/v1/integrations/{id}/secret/rotate"), &body)
            .await;
        assert_error(&answer, 400, Some(field));
    }

    // WHEN a test-send goes to a dead receiver (a closed port)
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let dead = create(
        &tenant,
        json!({"url": format!("http://127.0.0.1:{port}/hook"), "events": ["chat.closed"], "timeout_ms": 2000}),
    )
    .await;
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
