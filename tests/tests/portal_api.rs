//! The portal's API through HTTP against moto: portal sessions (creation,
//! scopes, expiry, revocation), what a portal token may and may not do, an
//! integration's health from real deliveries, the signed payload preview,
//! the event catalogue, the delivery log by conversation, and the portal
//! page's headers.
use bytes::Bytes;
use chathooks::app::portal::{new_token, token_hash};
use chathooks::domain::ids::{PortalSessionId, TenantId};
use chathooks::domain::secret::WebhookSecret;
use chathooks::domain::signing::verify;
use chathooks::ports::{PortalSession, PortalSessionStore};
use chathooks_tests::client::{Answer, ApiClient, rocketchat_settings_call};
use chathooks_tests::fixtures::{
    WAIT, accept, closed_chat, integration, options, serving, stack_with, tenant_with_id,
    wait_settled,
};
use chathooks_tests::receiver::{Received, Receiver, Reply};
use chathooks_tests::verify::assert_stock_verifier_accepts;
use serde_json::{Value, json};
use std::time::Instant;

fn assert_error(answer: &Answer, status: u16, code: &str, field: Option<&str>) {
    assert_eq!(answer.status, status, "{:?}", answer.body);
    assert_eq!(answer.body["error"]["code"], code, "{:?}", answer.body);
    assert!(answer.body["error"]["message"].is_string());
    if let Some(field) = field {
        assert_eq!(answer.body["error"]["field"], field, "{:?}", answer.body);
    }
}

/// A new portal session through the API: its token and the answer.
async fn session(tenant: &ApiClient, body: Value) -> (String, Value) {
    let created = tenant.post("/v1/portal/sessions", &body).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let token = created.body["token"].as_str().unwrap().to_string();
    (token, created.body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_portal_session_is_scoped_expires_and_is_revoked_at_once() {
    let (stack, admin, tenant) = stack_with(&[]).await;
    let receiver = Receiver::start().await;
    let (hook, _) = integration(&tenant, &receiver.url("/hook"), json!({})).await;

    // GIVEN a session created with the tenant's API key
    let (token, created) = session(&tenant, json!({})).await;
    assert!(token.starts_with("chp_") && token.len() == 47, "{token}");
    assert_eq!(
        created["url"],
        format!("{}/portal#token={token}", tenant.base)
    );
    assert_eq!(created["read_only"], false);
    assert!(created["id"].as_str().unwrap().starts_with("ps_"));
    let expires: chrono::DateTime<chrono::Utc> =
        created["expires_at"].as_str().unwrap().parse().unwrap();
    let lifetime = expires - chrono::Utc::now();
    assert!(lifetime > chrono::Duration::minutes(59) && lifetime <= chrono::Duration::hours(1));

    // WHEN the page asks who it is THEN it is the tenant, with full access
    let portal = tenant.with_key(&token);
    let me = portal.get("/v1/portal/session").await;
    assert_eq!(me.status, 200, "{:?}", me.body);
    assert_eq!(me.body["read_only"], false);
    assert_eq!(me.body["expires_at"], created["expires_at"]);
    let by_key = tenant.get("/v1/portal/session").await;
    assert_eq!(by_key.body["tenant_id"], me.body["tenant_id"]);
    assert_eq!(by_key.body["expires_at"], Value::Null);

    // AND it reads and changes the tenant's integrations
    let list = portal.get("/v1/integrations").await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["items"][0]["id"], hook.as_str());
    let path = format!("/v1/integrations/{hook}");
    let renamed = portal
        .patch(&path, &json!({"name": "from the portal"}))
        .await;
    assert_eq!(renamed.status, 200, "{:?}", renamed.body);
    assert_eq!(portal.get(&format!("{path}/secret")).await.status, 200);

    // AND it manages the tenant's sources, their URLs shown when issued
    let made = portal
        .post(
            "/v1/sources",
            &json!({"name": "from the portal", "platform": "rocketchat"}),
        )
        .await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    assert!(made.body["url"].as_str().unwrap().contains("/in/"));
    let source = format!("/v1/sources/{}", made.body["id"].as_str().unwrap());
    let rotated = portal.post(&format!("{source}/rotate"), &json!({})).await;
    assert_eq!(rotated.status, 200, "{:?}", rotated.body);
    assert_ne!(rotated.body["url"], made.body["url"]);
    let scratch = portal
        .post(
            "/v1/sources",
            &json!({"name": "scratch", "platform": "olark"}),
        )
        .await;
    let scratch = format!("/v1/sources/{}", scratch.body["id"].as_str().unwrap());
    assert_eq!(portal.delete(&scratch).await.status, 204);
    assert_eq!(tenant.get(&scratch).await.status, 404);

    // AND a portal token never manages access, tenants, events or Rocket.Chat settings
    assert_error(
        &portal.post("/v1/portal/sessions", &json!({})).await,
        403,
        "forbidden",
        None,
    );
    assert_error(
        &portal.delete("/v1/portal/sessions").await,
        403,
        "forbidden",
        None,
    );
    assert_error(
        &portal.post("/v1/tenants", &json!({"name": "x"})).await,
        401,
        "unauthorized",
        None,
    );
    assert_error(
        &portal.post("/v1/events", &closed_chat("evt-portal")).await,
        401,
        "unauthorized",
        None,
    );
    let tenant_id = me.body["tenant_id"].as_str().unwrap();
    let (status, _) =
        rocketchat_settings_call(&tenant.base, reqwest::Method::GET, &token, tenant_id, None).await;
    assert_eq!(status, 401);

    // AND bad bodies name their field
    for (body, field) in [
        (json!({"expires_in_seconds": 299}), "expires_in_seconds"),
        (json!({"expires_in_seconds": 604_801}), "expires_in_seconds"),
        (json!({"expires_in_seconds": -1}), "expires_in_seconds"),
        (json!({"read_only": "yes"}), "read_only"),
    ] {
        let answer = tenant.post("/v1/portal/sessions", &body).await;
        assert_error(&answer, 400, "invalid_request", Some(field));
    }
    assert_error(
        &tenant
            .post("/v1/portal/sessions", &json!({"colour": 1}))
            .await,
        400,
        "invalid_request",
        None,
    );

    // GIVEN a read-only session
    let (read_only, _) = session(
        &tenant,
        json!({"read_only": true, "expires_in_seconds": 300}),
    )
    .await;
    let viewer = tenant.with_key(&read_only);
    assert_eq!(
        viewer.get("/v1/portal/session").await.body["read_only"],
        true
    );
    // THEN it reads everything the page shows
    for read in [
        "/v1/integrations".to_string(),
        path.clone(),
        format!("{path}/stats"),
        format!("{path}/deliveries"),
        "/v1/event-types".to_string(),
        "/v1/event-types/chat.closed/samples".to_string(),
        "/v1/deliveries?chat_id=chat-1".to_string(),
        "/v1/sources".to_string(),
        source.clone(),
    ] {
        let answer = viewer.get(&read).await;
        assert_eq!(answer.status, 200, "{read}: {:?}", answer.body);
    }
    // AND every kind of write, the secret and the signed preview are 403 read_only
    let writes: Vec<(reqwest::Method, String, Option<Value>)> = vec![
        (
            reqwest::Method::POST,
            "/v1/integrations".into(),
            Some(json!({"url": receiver.url("/x"), "events": ["chat.closed"]})),
        ),
        (
            reqwest::Method::PATCH,
            path.clone(),
            Some(json!({"name": "x"})),
        ),
        (reqwest::Method::DELETE, path.clone(), None),
        (reqwest::Method::GET, format!("{path}/secret"), None),
        (
            reqwest::Method::POST,
            format!("{path}/secret/rotate"),
            Some(json!({})),
        ),
        (reqwest::Method::POST, format!("{path}/test"), None),
        (
            reqwest::Method::POST,
            format!("{path}/preview"),
            Some(json!({"event_type": "chat.closed"})),
        ),
        (
            reqwest::Method::POST,
            format!("{path}/recover"),
            Some(json!({"since": "2026-01-01T00:00:00Z"})),
        ),
        (
            reqwest::Method::POST,
            "/v1/deliveries/msg_0123/retry".into(),
            None,
        ),
        (
            reqwest::Method::POST,
            "/v1/sources".into(),
            Some(json!({"name": "x", "platform": "olark"})),
        ),
        (
            reqwest::Method::POST,
            format!("{source}/rotate"),
            Some(json!({})),
        ),
        (reqwest::Method::DELETE, source.clone(), None),
    ];
    for (method, route, body) in &writes {
        let answer = viewer.send(method.clone(), route, body.as_ref()).await;
        assert_error(&answer, 403, "read_only", None);
    }
    // and nothing changed
    assert_eq!(tenant.get(&path).await.body["name"], "from the portal");
    let sources = tenant.get("/v1/sources").await.body;
    assert_eq!(sources["items"].as_array().unwrap().len(), 1, "{sources:?}");
    assert_eq!(receiver.received().len(), 0);

    // GIVEN another tenant THEN its sessions, integrations and sources are out of reach
    let (other, _) = tenant_with_id(&admin).await;
    let (theirs, their_session) = session(&other, json!({})).await;
    assert_error(
        &tenant.with_key(&theirs).get(&path).await,
        404,
        "not_found",
        None,
    );
    let stranger = tenant.with_key(&theirs);
    assert_error(&stranger.get(&source).await, 404, "not_found", None);
    assert_error(
        &stranger.post(&format!("{source}/rotate"), &json!({})).await,
        404,
        "not_found",
        None,
    );
    assert_eq!(stranger.get("/v1/sources").await.body["items"], json!([]));
    let their_id = their_session["id"].as_str().unwrap();
    assert_error(
        &tenant
            .delete(&format!("/v1/portal/sessions/{their_id}"))
            .await,
        404,
        "not_found",
        None,
    );
    assert_eq!(
        other
            .with_key(&theirs)
            .get("/v1/portal/session")
            .await
            .status,
        200
    );

    // WHEN one session is revoked THEN its token is refused at once, and only its
    let id = created["id"].as_str().unwrap();
    let revoked = tenant.delete(&format!("/v1/portal/sessions/{id}")).await;
    assert_eq!(revoked.status, 204, "{:?}", revoked.body);
    let refused = portal.get("/v1/integrations").await;
    assert_error(&refused, 401, "unauthorized", None);
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired or was revoked")
    );
    assert_eq!(viewer.get("/v1/integrations").await.status, 200);
    assert_error(
        &tenant.delete(&format!("/v1/portal/sessions/{id}")).await,
        404,
        "not_found",
        None,
    );
    // WHEN all are revoked THEN the rest go too, and not the other tenant's
    assert_eq!(tenant.delete("/v1/portal/sessions").await.status, 204);
    assert_error(
        &viewer.get("/v1/integrations").await,
        401,
        "unauthorized",
        None,
    );
    assert_eq!(
        other.with_key(&theirs).get("/v1/integrations").await.status,
        200
    );

    // GIVEN a session whose expiry has passed while its item is still stored
    // (TTL removes items within days, not at once)
    let sessions = chathooks::adapters::dynamodb::DynamoDbPortalSessionStore::new(
        stack.dynamodb.clone(),
        stack.stack.table("Table").unwrap(),
    );
    let expired = new_token();
    let now = chrono::Utc::now();
    sessions
        .create(
            &PortalSession {
                id: PortalSessionId::generate(),
                tenant_id: TenantId::parse(tenant_id).unwrap(),
                read_only: false,
                created_at: now - chrono::Duration::hours(2),
                expires_at: now - chrono::Duration::seconds(1),
            },
            &token_hash(&expired),
        )
        .await
        .unwrap();
    assert!(
        sessions
            .by_token_hash(&token_hash(&expired))
            .await
            .unwrap()
            .is_some()
    );
    // THEN it is refused
    let expired = tenant.with_key(&expired);
    assert_error(
        &expired.get("/v1/portal/session").await,
        401,
        "unauthorized",
        None,
    );
    assert_error(
        &expired.get("/v1/integrations").await,
        401,
        "unauthorized",
        None,
    );
    // AND a token that was never issued too
    assert_error(
        &tenant.with_key(new_token()).get("/v1/portal/session").await,
        401,
        "unauthorized",
        None,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revoking_all_sessions_reaches_past_one_transaction() {
    // GIVEN more sessions than one revocation transaction holds (50)
    let (_stack, admin) = serving(options(&[])).await;
    let (tenant, _) = tenant_with_id(&admin).await;
    let mut tokens = Vec::new();
    for _ in 0..51 {
        tokens.push(session(&tenant, json!({"read_only": true})).await.0);
    }
    assert_eq!(
        tenant
            .with_key(&tokens[50])
            .get("/v1/portal/session")
            .await
            .status,
        200
    );
    // WHEN all are revoked THEN none works any more
    assert_eq!(tenant.delete("/v1/portal/sessions").await.status, 204);
    for token in [&tokens[0], &tokens[49], &tokens[50]] {
        let answer = tenant.with_key(token).get("/v1/portal/session").await;
        assert_error(&answer, 401, "unauthorized", None);
    }
    // AND revoking none is fine
    assert_eq!(tenant.delete("/v1/portal/sessions").await.status, 204);
}

/// The request a receiver would get, from a preview's answer.
fn as_received(preview: &Value) -> Received {
    Received {
        method: preview["method"].as_str().unwrap().to_string(),
        path: "/".into(),
        headers: preview["headers"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect(),
        body: Bytes::from(preview["body"].as_str().unwrap().to_string()),
        at: Instant::now(),
    }
}

fn verifies(preview: &Value, secret: &str) -> bool {
    let headers = &preview["headers"];
    let key = WebhookSecret::parse(secret).unwrap();
    verify(
        &key,
        headers["webhook-id"].as_str().unwrap(),
        headers["webhook-timestamp"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap(),
        preview["body"].as_str().unwrap().as_bytes(),
        headers["webhook-signature"].as_str().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn health_preview_catalogue_and_a_conversations_deliveries() {
    let (_stack, admin, tenant) = stack_with(&[]).await;
    // GIVEN two integrations: the first's endpoint fails its first request
    let flaky = Receiver::scripted(|n, _| {
        if n == 0 {
            Reply::status(500)
        } else {
            Reply::status(200)
        }
    })
    .await;
    let steady = Receiver::start().await;
    let (first, created) = integration(
        &tenant,
        &flaky.url("/a"),
        json!({"retry_policy": [1], "headers": {"X-Team": "support"}}),
    )
    .await;
    let secret = created["secret"].as_str().unwrap().to_string();
    let (second, _) = integration(&tenant, &steady.url("/b"), json!({})).await;

    // WHEN two conversations close (A then B), each delivered to both
    let a = accept(&tenant, &closed_chat("conv-a")).await;
    let b = accept(&tenant, &closed_chat("conv-b")).await;
    for accepted in [&a, &b] {
        for d in accepted["deliveries"].as_array().unwrap() {
            let id = d["id"].as_str().unwrap();
            let settled = wait_settled(&tenant, id, WAIT).await;
            assert_eq!(settled["status"], "succeeded", "{settled}");
        }
    }

    // THEN the first integration's health counts the failure and both successes
    let stats = tenant.get(&format!("/v1/integrations/{first}/stats")).await;
    assert_eq!(stats.status, 200, "{:?}", stats.body);
    assert_eq!(stats.body["integration_id"], first.as_str());
    assert_eq!(stats.body["last_24h"], json!({"succeeded": 2, "failed": 1}));
    let last = &stats.body["last_attempt"];
    assert_eq!(last["ok"], true, "{last}");
    assert_eq!(last["status_code"], 200);
    assert_eq!(last["error_kind"], Value::Null);
    let stats = tenant
        .get(&format!("/v1/integrations/{second}/stats"))
        .await;
    assert_eq!(stats.body["last_24h"], json!({"succeeded": 2, "failed": 0}));

    // AND a conversation's deliveries are listed across both integrations, newest first
    let chat = tenant.get("/v1/deliveries?chat_id=chat-conv-a").await;
    assert_eq!(chat.status, 200, "{:?}", chat.body);
    let items = chat.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{items:?}");
    let mut integrations: Vec<&str> = items
        .iter()
        .map(|d| d["integration_id"].as_str().unwrap())
        .collect();
    integrations.sort();
    let mut expected = vec![first.as_str(), second.as_str()];
    expected.sort();
    assert_eq!(integrations, expected);
    for d in items {
        assert_eq!(d["chat_id"], "chat-conv-a");
        assert_eq!(d["event_id"], "conv-a");
    }
    assert!(items[0]["created_at"].as_str() >= items[1]["created_at"].as_str());
    // page by page
    let page = tenant
        .get("/v1/deliveries?chat_id=chat-conv-a&limit=1")
        .await;
    assert_eq!(page.body["items"].as_array().unwrap().len(), 1);
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let rest = tenant
        .get(&format!(
            "/v1/deliveries?chat_id=chat-conv-a&limit=1&cursor={cursor}"
        ))
        .await;
    assert_eq!(rest.body["items"].as_array().unwrap().len(), 1);
    assert_ne!(rest.body["items"][0]["id"], page.body["items"][0]["id"]);
    // one integration's log filtered by conversation
    let filtered = tenant
        .get(&format!(
            "/v1/integrations/{first}/deliveries?chat_id=chat-conv-b"
        ))
        .await;
    let items = filtered.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{:?}", filtered.body);
    assert_eq!(items[0]["integration_id"], first.as_str());
    assert_eq!(items[0]["chat_id"], "chat-conv-b");
    // every delivery shows its conversation
    let log = tenant
        .get(&format!("/v1/integrations/{second}/deliveries"))
        .await;
    assert!(log.body["items"].as_array().unwrap().iter().all(|d| {
        d["chat_id"]
            .as_str()
            .is_some_and(|c| c.starts_with("chat-conv-"))
    }));
    assert_error(
        &tenant.get("/v1/deliveries").await,
        400,
        "invalid_request",
        Some("chat_id"),
    );
    assert_error(
        &tenant
            .get("/v1/deliveries?chat_id=chat-conv-a&cursor=nope")
            .await,
        400,
        "invalid_request",
        Some("cursor"),
    );

    // AND another tenant sees none of it
    let (other, _) = tenant_with_id(&admin).await;
    let theirs = other.get("/v1/deliveries?chat_id=chat-conv-a").await;
    assert_eq!(theirs.status, 200);
    assert_eq!(theirs.body["items"], json!([]));
    assert_error(
        &other.get(&format!("/v1/integrations/{first}/stats")).await,
        404,
        "not_found",
        None,
    );

    // WHEN a chat.closed is previewed THEN it is the request the endpoint would get, signed
    let received_before = flaky.received().len();
    let preview = tenant
        .post(
            &format!("/v1/integrations/{first}/preview"),
            &json!({"event_type": "chat.closed"}),
        )
        .await;
    assert_eq!(preview.status, 200, "{:?}", preview.body);
    let p = &preview.body;
    assert_eq!(p["method"], "POST");
    assert_eq!(p["url"], flaky.url("/a"));
    assert_eq!(p["headers"]["content-type"], "application/json");
    assert_eq!(p["headers"]["X-Team"], "support");
    assert!(
        p["headers"]["user-agent"]
            .as_str()
            .unwrap()
            .starts_with("chathooks/")
    );
    let body: Value = serde_json::from_str(p["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["type"], "chat.closed");
    assert!(verifies(p, &secret));
    assert_stock_verifier_accepts(&as_received(p), &secret);
    // nothing was sent, nothing logged
    assert_eq!(flaky.received().len(), received_before);
    let stats = tenant.get(&format!("/v1/integrations/{first}/stats")).await;
    assert_eq!(stats.body["last_24h"]["succeeded"], 2);

    // WHEN the secret is rotated THEN the secret view shows both, and the preview is signed by both
    let rotated = tenant
        .post(
            &format!("/v1/integrations/{first}/secret/rotate"),
            &json!({}),
        )
        .await;
    assert_eq!(rotated.status, 200);
    let view = tenant
        .get(&format!("/v1/integrations/{first}/secret"))
        .await;
    assert_eq!(view.body["secret"], rotated.body["secret"]);
    assert_eq!(view.body["previous_secret"], secret.as_str());
    assert_eq!(
        view.body["previous_secret_expires_at"],
        rotated.body["previous_secret_expires_at"]
    );
    let preview = tenant
        .post(
            &format!("/v1/integrations/{first}/preview"),
            &json!({"event_type": "chat.started"}),
        )
        .await;
    assert_eq!(preview.status, 200);
    assert!(verifies(&preview.body, &secret));
    assert!(verifies(
        &preview.body,
        rotated.body["secret"].as_str().unwrap()
    ));
    assert_stock_verifier_accepts(
        &as_received(&preview.body),
        rotated.body["secret"].as_str().unwrap(),
    );
    // without a grace there is no previous secret
    tenant
        .post(
            &format!("/v1/integrations/{second}/secret/rotate"),
            &json!({"grace_hours": 0}),
        )
        .await;
    let view = tenant
        .get(&format!("/v1/integrations/{second}/secret"))
        .await;
    assert!(
        view.body.get("previous_secret").is_none(),
        "{:?}",
        view.body
    );

    // AND a type the format cannot render, or an unknown one, names event_type
    let (olark, _) = integration(
        &tenant,
        &steady.url("/c"),
        json!({"format": "olark", "events": ["chat.closed"]}),
    )
    .await;
    for bad in ["chat.taken", "chat.nope"] {
        let answer = tenant
            .post(
                &format!("/v1/integrations/{olark}/preview"),
                &json!({"event_type": bad}),
            )
            .await;
        assert_error(&answer, 400, "invalid_request", Some("event_type"));
    }
    let answer = tenant
        .post(&format!("/v1/integrations/{olark}/preview"), &json!({}))
        .await;
    assert_error(&answer, 400, "invalid_request", None);
    let form = tenant
        .post(
            &format!("/v1/integrations/{olark}/preview"),
            &json!({"event_type": "chat.closed"}),
        )
        .await;
    assert_eq!(form.status, 200, "{:?}", form.body);
    assert_eq!(
        form.body["headers"]["content-type"],
        "application/x-www-form-urlencoded"
    );

    // AND the catalogue lists each type with its group and formats, and renders samples
    let types = tenant.get("/v1/event-types").await;
    assert_eq!(types.status, 200);
    let list = types.body["event_types"].as_array().unwrap();
    assert_eq!(list.len(), 13);
    let taken = list.iter().find(|t| t["type"] == "chat.taken").unwrap();
    assert_eq!(taken["group"], "chat");
    assert!(taken["description"].as_str().unwrap().len() > 10);
    assert_eq!(taken["formats"], json!(["standard", "rocketchat"]));
    let samples = tenant.get("/v1/event-types/lead.captured/samples").await;
    assert_eq!(samples.status, 200, "{:?}", samples.body);
    let by_format = samples.body["samples"].as_object().unwrap();
    let mut names: Vec<&str> = by_format.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(names, ["amplifyreach", "olark", "rocketchat", "standard"]);
    for sample in by_format.values() {
        assert!(!sample["body"].as_str().unwrap().is_empty());
        assert!(sample["content_type"].is_string());
    }
    assert_error(
        &tenant.get("/v1/event-types/chat.nope/samples").await,
        404,
        "not_found",
        None,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_portal_page_is_served_with_strict_headers_and_links_use_the_public_url() {
    let (_stack, admin) = serving(options(&[
        (
            "CHATHOOKS_PORTAL_FRAME_ANCESTORS",
            "https://app.example.com 'self'",
        ),
        ("CHATHOOKS_PUBLIC_URL", "https://hooks.example.com/"),
    ]))
    .await;
    let anonymous = ApiClient::new(admin.base.clone(), None);
    // GIVEN the page and one of its scripts
    let page = anonymous.get("/portal").await;
    let script = anonymous.get("/portal/app.js").await;
    for (answer, content_type) in [(&page, "text/html"), (&script, "text/javascript")] {
        assert_eq!(answer.status, 200);
        let h = |name: &str| {
            answer
                .headers
                .get(name)
                .unwrap()
                .to_str()
                .unwrap()
                .to_string()
        };
        assert!(
            h("content-type").starts_with(content_type),
            "{}",
            h("content-type")
        );
        let csp = h("content-security-policy");
        assert!(
            csp.starts_with("default-src 'self'; script-src 'self'; style-src 'self';"),
            "{csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert!(
            csp.ends_with("frame-ancestors https://app.example.com 'self'"),
            "{csp}"
        );
        assert_eq!(h("x-content-type-options"), "nosniff");
        assert_eq!(h("referrer-policy"), "no-referrer");
    }
    // every file is revalidated: unchanged, it is a 304
    for answer in [&page, &script] {
        assert_eq!(answer.headers.get("cache-control").unwrap(), "no-cache");
    }
    let tag = script.headers.get("etag").unwrap().to_str().unwrap();
    let again = reqwest::Client::new()
        .get(format!("{}/portal/app.js", admin.base))
        .header("if-none-match", tag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers().get("etag").unwrap(), tag);
    assert!(again.bytes().await.unwrap().is_empty());
    let other = reqwest::Client::new()
        .get(format!("{}/portal/app.js", admin.base))
        .header("if-none-match", "\"stale\"")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
    assert_eq!(
        anonymous.get("/portal/").await.status,
        200,
        "a trailing slash is the page too"
    );
    assert_error(
        &anonymous.get("/portal/nope.js").await,
        404,
        "not_found",
        None,
    );
    assert_error(
        &anonymous.get("/portal/..%2FCargo.toml").await,
        404,
        "not_found",
        None,
    );
    // AND a session's link starts with the configured public URL
    let (tenant, _) = tenant_with_id(&admin).await;
    let (token, created) = session(&tenant, json!({"read_only": true})).await;
    assert_eq!(
        created["url"],
        format!("https://hooks.example.com/portal#token={token}")
    );
}
