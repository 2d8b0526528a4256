//! Secrets never reach the logs. Every log line of an end-to-end run is
//! captured (the same JSON lines `chathooks::telemetry::init` writes, at
//! TRACE for the project's crates so nothing of ours is filtered) while the
//! run uses every kind of secret: the admin key, tenant API keys, webhook
//! secrets (generated, supplied, rotated), a Basic-auth password in an
//! integration URL, a Rocket.Chat token, custom header values, a source's
//! URL tokens and platform secret; through failing deliveries, retries,
//! test-sends, manual retries, a target that refuses connections and posts
//! to a source with a wrong credential. None of the secret strings (nor the Basic-auth
//! credentials in base64) may appear in any captured line.

use base64::Engine;
use chathooks_tests::fixtures::*;
use chathooks_tests::receiver::{Receiver, Reply};
use serde_json::json;

/// The project's crates at TRACE; dependencies at DEBUG (the AWS SDK and
/// hyper at TRACE dump whole wire bodies, which hold stored secrets by
/// design: that is the store, not our logging, and no deployment runs them
/// at TRACE).
const FILTER: &str = "debug,chathooks=trace,config_api=trace,event_intake=trace,\
dispatcher=trace,retry_scheduler=trace,chathooks_tests=trace";

fn capture() {
    chathooks_tests::logs::capture_json(FILTER);
}

use chathooks_tests::logs::captured;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_secret_ever_appears_in_the_logs() {
    capture();
    let (stack, admin, tenant) = stack_with(&[]).await;
    let (other, _) = tenant_with_id(&admin).await;
    let mut secrets: Vec<(String, String)> = vec![
        ("admin key".into(), admin.key.clone().unwrap()),
        ("tenant API key".into(), tenant.key.clone().unwrap()),
        ("other tenant API key".into(), other.key.clone().unwrap()),
    ];
    // a receiver that fails every other request (retries, failed attempts)
    let receiver =
        Receiver::scripted(|n, _| Reply::status(if n % 2 == 0 { 500 } else { 200 })).await;

    // standard format with a generated secret and a custom header
    let header_value = "hdr-value-7f3c9a1e5b";
    let (standard, created) = integration(
        &tenant,
        &receiver.url("/standard"),
        json!({"retry_policy": [1, 1], "headers": {"X-Api-Key": header_value}}),
    )
    .await;
    secrets.push((
        "generated secret".into(),
        created["secret"].as_str().unwrap().into(),
    ));
    secrets.push(("custom header value".into(), header_value.into()));

    // a supplied secret
    let supplied = "whsec_c3VwcGxpZWQtc2VjcmV0LWZvci1sb2dzLXRlc3Q=";
    integration(
        &tenant,
        &receiver.url("/supplied"),
        json!({"retry_policy": [1], "secret": supplied}),
    )
    .await;
    secrets.push(("supplied secret".into(), supplied.into()));

    // LiveChat with Basic auth in the URL
    let (user, password) = ("lcuser", "B4sicPassw0rdZq");
    let basic_url = receiver
        .url("/livechat")
        .replace("http://", &format!("http://{user}:{password}@"));
    let livechat = tenant
        .post(
            "/v1/integrations",
            &json!({"name": "lc", "url": basic_url, "format": "livechat",
                    "events": ["chat.closed"], "retry_policy": [1, 1]}),
        )
        .await;
    assert_eq!(livechat.status, 201, "{:?}", livechat.body);
    secrets.push(("basic-auth password".into(), password.into()));
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    secrets.push(("basic-auth header".into(), basic));

    // Rocket.Chat with a token
    let token = "rc-token-Q9w8e7r6t5";
    let rc = tenant
        .post(
            "/v1/integrations",
            &json!({"name": "rc", "url": receiver.url("/rc"), "format": "rocketchat",
                    "events": ["chat.closed"], "retry_policy": [1, 1],
                    "format_options": {"token": token}}),
        )
        .await;
    assert_eq!(rc.status, 201, "{:?}", rc.body);
    secrets.push(("Rocket.Chat token".into(), token.into()));

    // a target that refuses connections, with a password in its URL (error paths)
    let closed = chathooks_tests::moto::free_port();
    let refused_password = "Refus3dPassw0rdXy";
    let refused_id = tenant
        .post(
            "/v1/integrations",
            &json!({"name": "down", "url": format!("http://u:{refused_password}@127.0.0.1:{closed}/x"),
                    "events": ["chat.closed"], "retry_policy": "none", "timeout_ms": 1000}),
        )
        .await;
    assert_eq!(refused_id.status, 201, "{:?}", refused_id.body);
    secrets.push((
        "password of a refused target".into(),
        refused_password.into(),
    ));

    // rotation, with a supplied new secret and a generated one
    let rotated_to = "whsec_cm90YXRlZC1zZWNyZXQtZm9yLWxvZ3MtdGVzdA==";
    let rotated = tenant
        .post(
            &format!("/v1/integrations/{standard}/secret/rotate"),
            &json!({"secret": rotated_to, "grace_hours": 1}),
        )
        .await;
    assert_eq!(rotated.status, 200, "{:?}", rotated.body);
    secrets.push(("rotated-to secret".into(), rotated_to.into()));
    let rotated_again = tenant
        .post(
            &format!("/v1/integrations/{standard}/secret/rotate"),
            &json!({"grace_hours": 1}),
        )
        .await;
    assert_eq!(rotated_again.status, 200, "{:?}", rotated_again.body);
    secrets.push((
        "generated rotated secret".into(),
        rotated_again.body["secret"].as_str().unwrap().into(),
    ));

    // WHEN events flow: deliveries fail, retry and succeed; test-sends; a manual retry
    let accepted = tenant
        .post("/v1/events", &closed_chat("evt-secrets-1"))
        .await;
    assert_eq!(accepted.status, 202, "{:?}", accepted.body);
    let ids: Vec<String> = accepted.body["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 5);
    for id in &ids {
        wait_settled(&tenant, id, WAIT).await;
    }
    let test = tenant
        .post(&format!("/v1/integrations/{standard}/test"), &json!({}))
        .await;
    assert_eq!(test.status, 200, "{:?}", test.body);
    for id in &ids {
        tenant
            .post(&format!("/v1/deliveries/{id}/retry"), &json!({}))
            .await;
    }
    wait_idle(&stack).await;
    // API keys made, used, listed, expiring, revoked and refused
    let made = tenant
        .post("/v1/api-keys", &json!({"name": "logged?"}))
        .await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    let new_key = made.body["api_key"].as_str().unwrap().to_string();
    secrets.push(("created API key".into(), new_key.clone()));
    let expires = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let expiring = tenant
        .post(
            "/v1/api-keys",
            &json!({"name": "expiring", "expires_at": expires}),
        )
        .await;
    assert_eq!(expiring.status, 201, "{:?}", expiring.body);
    secrets.push((
        "expiring API key".into(),
        expiring.body["api_key"].as_str().unwrap().into(),
    ));
    let with_new = admin.with_key(&new_key);
    assert_eq!(with_new.get("/v1/integrations").await.status, 200);
    assert_eq!(with_new.get("/v1/api-keys").await.status, 200);
    let revoke = format!("/v1/api-keys/{}", made.body["id"].as_str().unwrap());
    assert_eq!(tenant.delete(&revoke).await.status, 204);
    assert_eq!(with_new.get("/v1/integrations").await.status, 401);
    assert_eq!(
        with_new
            .post("/v1/events", &closed_chat("evt-revoked"))
            .await
            .status,
        401
    );
    // a third tenant suspended (its key refused), then deleted and purged
    let (third, third_id) = tenant_with_id(&admin).await;
    secrets.push(("third tenant API key".into(), third.key.clone().unwrap()));
    let third_path = format!("/v1/tenants/{third_id}");
    let suspended = admin.patch(&third_path, &json!({"suspended": true})).await;
    assert_eq!(suspended.status, 200, "{:?}", suspended.body);
    assert_eq!(third.get("/v1/integrations").await.status, 403);
    assert_eq!(admin.get("/v1/tenants").await.status, 200);
    assert_eq!(admin.delete(&third_path).await.status, 204);
    assert_eq!(third.get("/v1/integrations").await.status, 401);
    // failed authentications
    let bad = admin.with_key(format!("{}x", tenant.key.clone().unwrap()));
    assert_eq!(bad.get("/v1/integrations").await.status, 401);
    // a source: its URL token and platform secret, posts with the right and
    // a wrong credential, a rotation, a deletion
    let source_secret = "src-secret-Zx81Qp";
    let source = tenant
        .post(
            "/v1/sources",
            &json!({"name": "rc", "platform": "rocketchat", "secret": source_secret}),
        )
        .await;
    assert_eq!(source.status, 201, "{:?}", source.body);
    secrets.push(("source secret".into(), source_secret.into()));
    let source_post = |url: String, token: &'static str| async move {
        let offline = json!({"type": "LivechatOfflineMessage", "sentAt": "2026-11-21T10:00:00Z",
                             "visitor": {"name": "n", "email": "n@example.com"}, "message": "m"});
        reqwest::Client::new()
            .post(url)
            .header("content-type", "application/json")
            .header("X-RocketChat-Livechat-Token", token)
            .body(offline.to_string())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    let url = source.body["url"].as_str().unwrap().to_string();
    let token_of = |url: &str| url.rsplit('/').next().unwrap().to_string();
    secrets.push(("source URL token".into(), token_of(&url)));
    assert_eq!(source_post(url.clone(), "src-secret-Zx81Qp").await, 200);
    assert_eq!(source_post(url.clone(), "wrong-secret").await, 401);
    let source_id = source.body["id"].as_str().unwrap();
    let rotated = tenant
        .post(&format!("/v1/sources/{source_id}/rotate"), &json!({}))
        .await;
    assert_eq!(rotated.status, 200, "{:?}", rotated.body);
    let rotated_url = rotated.body["url"].as_str().unwrap().to_string();
    secrets.push(("rotated source URL token".into(), token_of(&rotated_url)));
    assert_eq!(
        source_post(rotated_url.clone(), "src-secret-Zx81Qp").await,
        200
    );
    let deleted = tenant.delete(&format!("/v1/sources/{source_id}")).await;
    assert_eq!(deleted.status, 204);
    assert_eq!(source_post(rotated_url, "src-secret-Zx81Qp").await, 404);
    let got = receiver.received();
    assert!(got.len() >= 6, "{}", got.len());

    // THEN the logs are not empty and show the work that was done...
    let logs = captured();
    let dump = std::env::temp_dir().join("chathooks-security-secrets.log");
    let _ = std::fs::write(&dump, &logs);
    assert!(logs.lines().count() > 20, "{logs}");
    for line in logs.lines() {
        assert!(
            serde_json::from_str::<serde_json::Value>(line).is_ok(),
            "not a JSON line: {line}"
        );
    }
    for id in &ids {
        assert!(
            logs.contains(id.as_str()),
            "{id} not logged, see {}",
            dump.display()
        );
    }
    for expected in [
        "retry scheduled",
        "delivery failed",
        "delivered",
        "aws_sdk_dynamodb",
    ] {
        assert!(
            logs.contains(expected),
            "no `{expected}`, see {}",
            dump.display()
        );
    }
    // ...each SQS message handled in a span carrying its message and delivery ids...
    let in_span = |l: &str| {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_default();
        v["spans"].as_array().into_iter().flatten().any(|span| {
            span["name"] == "sqs_message"
                && span["message_id"].as_str().is_some_and(|m| !m.is_empty())
                && ids.iter().any(|id| span["delivery_id"] == id.as_str())
        })
    };
    assert!(
        logs.lines().any(in_span),
        "no sqs_message span with its message and delivery ids, see {}",
        dump.display()
    );
    // ...the functions' metric lines (EMF) were written too...
    let metrics = stack.metrics.lines();
    assert!(
        metrics.iter().any(|l| l.contains("DeliveryAttempts")),
        "{metrics:?}"
    );
    // ...and none of the secrets is in them, in any line, at any level
    let mut leaks = Vec::new();
    for (what, secret) in &secrets {
        assert!(secret.len() >= 10, "{what}: {secret}");
        for line in logs
            .lines()
            .chain(metrics.iter().map(String::as_str))
            .filter(|l| l.contains(secret.as_str()))
        {
            leaks.push(format!("{what} in: {line}"));
        }
    }
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
}
