//! The delivery log through HTTP against moto: filters, pagination, retry,
//! recover; the cross-tenant matrix over every
//! tenant route of the route table; Rocket.Chat's settings call with seed
//! 004's body; the OpenAPI document as served.
use chathooks_tests::client::rocketchat_settings_call;
use chathooks_tests::client::{Answer, ApiClient};
use chathooks_tests::fixtures::*;
use chathooks_tests::receiver::{Receiver, Reply};
use config_api::routes::{Auth, ROUTES, ServedBy};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

fn started_chat(id: &str) -> Value {
    json!({"id": id, "type": "chat.started", "chat": {"id": format!("chat-{id}")}})
}

/// Post `event`; returns the id of its (single) delivery.
async fn post_one(tenant: &ApiClient, event: Value) -> String {
    accept(tenant, &event).await["deliveries"][0]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn ids(answer: &Answer) -> Vec<String> {
    answer.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{:?}", answer.body))
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_delivery_log_filters_pages_retries_and_recovers() {
    let (stack, _admin, tenant) = stack_with(&[]).await;
    // GIVEN a receiver that fails until it is switched on, and no retries
    let up = Arc::new(AtomicBool::new(false));
    let switch = up.clone();
    let receiver = Receiver::scripted(move |_, _| {
        Reply::status(if switch.load(Ordering::SeqCst) {
            200
        } else {
            500
        })
    })
    .await;
    let integration = create_integration(
        &tenant,
        json!({"url": receiver.url("/"), "events": ["chat.closed", "chat.started"], "retry_policy": "none"}),
    )
    .await;
    let iid = integration["id"].as_str().unwrap().to_string();
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    // WHEN three events fail
    let mut deliveries = Vec::new();
    for event in [
        closed_chat("evt-log-1"),
        started_chat("evt-log-2"),
        closed_chat("evt-log-3"),
    ] {
        let d = post_one(&tenant, event).await;
        let failed = wait_status(&tenant, &d, "failed").await;
        assert_eq!(failed["attempts"].as_array().unwrap().len(), 1);
        assert_eq!(failed["attempts"][0]["status_code"], 500);
        deliveries.push(d);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let log = format!("/v1/integrations/{iid}/deliveries");
    // THEN the log lists them newest first
    let all = tenant.get(&log).await;
    assert_eq!(all.status, 200);
    let newest_first: Vec<String> = deliveries.iter().rev().cloned().collect();
    assert_eq!(ids(&all), newest_first);
    // AND pages through them with a cursor
    let page1 = tenant.get(&format!("{log}?limit=2")).await;
    assert_eq!(ids(&page1), newest_first[..2]);
    let cursor = page1.body["next_cursor"].as_str().unwrap();
    let page2 = tenant
        .get(&format!("{log}?limit=2&cursor={}", urlencode(cursor)))
        .await;
    assert_eq!(ids(&page2), newest_first[2..]);
    assert_eq!(page2.body["next_cursor"], Value::Null);
    // AND filters by event type and status
    let started = tenant.get(&format!("{log}?event_type=chat.started")).await;
    assert_eq!(ids(&started), vec![deliveries[1].clone()]);
    assert_eq!(
        ids(&tenant.get(&format!("{log}?status=failed")).await).len(),
        3
    );
    assert!(ids(&tenant.get(&format!("{log}?status=succeeded")).await).is_empty());
    for (query, field) in [
        ("status=bogus", "status"),
        ("event_type=chat.nope", "event_type"),
        ("since=yesterday", "since"),
        ("limit=1000", "limit"),
    ] {
        let answer = tenant.get(&format!("{log}?{query}")).await;
        assert_eq!(answer.status, 400, "{query}");
        assert_eq!(answer.body["error"]["field"], field, "{query}");
    }

    // WHEN the receiver recovers and the first delivery is retried
    up.store(true, Ordering::SeqCst);
    let retried = tenant
        .post(
            &format!("/v1/deliveries/{}/retry", deliveries[0]),
            &json!({}),
        )
        .await;
    assert_eq!(retried.status, 202, "{:?}", retried.body);
    assert_eq!(retried.body["status"], "pending");
    // THEN it succeeds on a second attempt, with both attempts in the log
    let done = wait_status(&tenant, &deliveries[0], "succeeded").await;
    let attempts = done["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0]["status_code"], 500);
    assert_eq!(attempts[1]["status_code"], 200);

    // WHEN the failed ones of a window that excludes them are recovered: nothing
    let future = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let none = tenant
        .post(
            &format!("/v1/integrations/{iid}/recover"),
            &json!({"since": future}),
        )
        .await;
    assert_eq!(none.status, 202, "{:?}", none.body);
    assert_eq!(none.body["requeued"], 0);
    // AND a window covering them re-queues the two still failed
    let recovered = tenant
        .post(
            &format!("/v1/integrations/{iid}/recover"),
            &json!({"since": before.to_rfc3339(), "until": chrono::Utc::now().to_rfc3339()}),
        )
        .await;
    assert_eq!(recovered.status, 202, "{:?}", recovered.body);
    assert_eq!(recovered.body["requeued"], 2);
    for d in &deliveries[1..] {
        wait_status(&tenant, d, "succeeded").await;
    }
    wait_idle(&stack).await;
    assert_eq!(receiver.received().len(), 6);
    // AND a bad window names the field
    for (body, field) in [
        (json!({"since": "soon"}), "since"),
        (
            json!({"since": future, "until": before.to_rfc3339()}),
            "until",
        ),
        (json!({"until": future}), "since"),
    ] {
        let answer = tenant
            .post(&format!("/v1/integrations/{iid}/recover"), &body)
            .await;
        assert_eq!(answer.status, 400, "{body}: {:?}", answer.body);
        if field != "since" || body.get("since").is_some() {
            assert_eq!(answer.body["error"]["field"], field, "{:?}", answer.body);
        }
    }
}

fn urlencode(raw: &str) -> String {
    form_urlencoded::byte_serialize(raw.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn another_tenants_ids_are_404_on_every_route_and_change_nothing() {
    let (stack, admin, a) = stack_with(&[]).await;
    let b = new_tenant(&admin).await;
    // GIVEN tenant A's integration and one of its deliveries (failed, so retry/recover would act)
    let receiver = Receiver::scripted(|_, _| Reply::status(500)).await;
    let integration = create_integration(
        &a,
        json!({"name": "A's", "url": receiver.url("/"), "events": ["chat.closed"], "retry_policy": "none"}),
    )
    .await;
    let iid = integration["id"].as_str().unwrap().to_string();
    let did = post_event(&a, "evt-tenancy-1").await;
    wait_status(&a, &did, "failed").await;
    let sent_before = receiver.received().len();
    let integration_before = a.get(&format!("/v1/integrations/{iid}")).await.body;
    let secret_before = a.get(&format!("/v1/integrations/{iid}/secret")).await.body;
    let delivery_before = a.get(&format!("/v1/deliveries/{did}")).await.body;
    let log_before = a
        .get(&format!("/v1/integrations/{iid}/deliveries"))
        .await
        .body;

    // WHEN tenant B calls every tenant route of the route table with A's ids
    let since = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let mut checked = 0;
    for route in ROUTES
        .iter()
        .filter(|r| matches!(r.auth, Auth::Tenant(_)) && r.served_by == ServedBy::ConfigApi)
        .filter(|r| r.pattern.contains("{id}"))
    {
        let (real, missing) = if route.pattern.starts_with("/v1/deliveries") {
            (did.clone(), "msg_doesnotexist".to_string())
        } else {
            (iid.clone(), "int_doesnotexist".to_string())
        };
        let body = match route.pattern {
            "/v1/integrations/{id}" => {
                Some(json!({"name": "hijacked", "url": "https://evil.example.com/"}))
            }
            "/v1/integrations/{id}/recover" => Some(json!({"since": since})),
            "/v1/integrations/{id}/secret/rotate" => Some(json!({"grace_hours": 0})),
            "/v1/integrations/{id}/preview" => Some(json!({"event_type": "chat.closed"})),
            _ if route.method == http::Method::POST => Some(json!({})),
            _ => None,
        };
        let method = reqwest::Method::from_bytes(route.method.as_str().as_bytes()).unwrap();
        let theirs = b
            .send(
                method.clone(),
                &route.pattern.replace("{id}", &real),
                body.as_ref(),
            )
            .await;
        let nothing = b
            .send(
                method,
                &route.pattern.replace("{id}", &missing),
                body.as_ref(),
            )
            .await;
        // THEN each answers 404, exactly as for an id that does not exist
        assert_eq!(
            theirs.status, 404,
            "{} {}: {:?}",
            route.method, route.pattern, theirs.body
        );
        assert_eq!(
            theirs.body, nothing.body,
            "{} {}",
            route.method, route.pattern
        );
        assert_eq!(theirs.body["error"]["code"], "not_found");
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} routes checked");
    // AND B's list holds none of A's integrations
    assert_eq!(b.get("/v1/integrations").await.body["items"], json!([]));

    // AND A's data is unchanged, and nothing was sent on A's behalf
    wait_idle(&stack).await;
    assert_eq!(
        a.get(&format!("/v1/integrations/{iid}")).await.body,
        integration_before
    );
    assert_eq!(
        a.get(&format!("/v1/integrations/{iid}/secret")).await.body,
        secret_before
    );
    assert_eq!(
        a.get(&format!("/v1/deliveries/{did}")).await.body,
        delivery_before
    );
    assert_eq!(
        a.get(&format!("/v1/integrations/{iid}/deliveries"))
            .await
            .body,
        log_before
    );
    assert_eq!(receiver.received().len(), sent_before);
}

/// Seed 004's body, as Rocket.Chat sends it.
const SEED_004_BODY: &str = r#"{
  "LivechatWebhookUrl": "https://webhook/d548683u3-7f38ow-48ba-ieooefa-oejiduiw",
  "LivechatSecretToken": "",
  "LivechatHttpTimeout": 5000,
  "LivechatWebhookOnStart": true,
  "LivechatWebhookOnClose": true,
  "LivechatWebhookOnChatTaken": true,
  "LivechatWebhookOnChatQueued": false,
  "LivechatWebhookOnForward": false,
  "LivechatWebhookOnOfflineMsg": true,
  "LivechatWebhookOnVisitorMessage": true,
  "LivechatWebhookOnAgentMessage": true
}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rocketchat_settings_call_with_the_seed_body_manages_the_integration() {
    let (_stack, admin) = running(LocalOptions::default()).await;
    let (tenant, tenant_id) = tenant_with_id(&admin).await;
    let key = tenant.key.clone().unwrap();
    let receiver = Receiver::start().await;
    // GIVEN seed 004's body pointing at a receiver, with a secret token
    let mut body: Value = serde_json::from_str(SEED_004_BODY).unwrap();
    body["LivechatWebhookUrl"] = json!(receiver.url("/rocket"));
    body["LivechatSecretToken"] = json!("rc-token-123");
    // WHEN Rocket.Chat posts it with X-Auth-Token (the API key) and X-User-Id (the tenant)
    let (status, answer) = rocketchat_settings_call(
        &admin.base,
        reqwest::Method::POST,
        &key,
        &tenant_id,
        Some(&body),
    )
    .await;
    // THEN it answers Rocket.Chat's success
    assert_eq!(status, 200, "{answer:?}");
    assert_eq!(answer, json!({"success": true}));
    // AND the tenant has one rocketchat integration mapped from the switches
    let list = tenant.get("/v1/integrations").await.body;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    let i = &items[0];
    assert_eq!(i["format"], "rocketchat");
    assert_eq!(i["retry_policy"], "rocketchat");
    assert_eq!(i["timeout_ms"], 5000);
    assert_eq!(i["url"], receiver.url("/rocket"));
    let mut events: Vec<String> = i["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    events.sort();
    assert_eq!(
        events,
        vec![
            "chat.closed",
            "chat.started",
            "chat.taken",
            "message.agent",
            "message.visitor",
            "offline_message"
        ]
    );
    // AND GET answers the settings in the same shape (the token redacted)
    let (status, current) =
        rocketchat_settings_call(&admin.base, reqwest::Method::GET, &key, &tenant_id, None).await;
    assert_eq!(status, 200);
    assert_eq!(current["success"], true);
    let mut expected = body.clone();
    expected["LivechatSecretToken"] = json!("***");
    assert_eq!(current["settings"], expected);
    // AND a delivered chat.closed carries the token header
    post_event(&tenant, "evt-rc-1").await;
    let got = receiver.wait_for(1, WAIT).await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].header("x-rocketchat-livechat-token"),
        Some("rc-token-123")
    );
    assert_eq!(got[0].json()["type"], "LivechatSession");

    // WHEN the exact seed body is posted again (its URL, no token, close switched off)
    let mut seed: Value = serde_json::from_str(SEED_004_BODY).unwrap();
    seed["LivechatWebhookOnClose"] = json!(false);
    let (status, answer) = rocketchat_settings_call(
        &admin.base,
        reqwest::Method::POST,
        &key,
        &tenant_id,
        Some(&seed),
    )
    .await;
    assert_eq!((status, answer), (200, json!({"success": true})));
    // THEN the same integration is updated, not a second one created
    let list = tenant.get("/v1/integrations").await.body;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["id"], i["id"]);
    let (_, current) =
        rocketchat_settings_call(&admin.base, reqwest::Method::GET, &key, &tenant_id, None).await;
    assert_eq!(current["settings"]["LivechatWebhookOnClose"], false);
    assert_eq!(
        current["settings"]["LivechatWebhookUrl"],
        seed["LivechatWebhookUrl"]
    );

    // AND a wrong user id or key is 401 in the error model
    for (token, user) in [
        (key.as_str(), "ten_someoneelse"),
        ("chk_bad", tenant_id.as_str()),
        ("", ""),
    ] {
        let (status, answer) =
            rocketchat_settings_call(&admin.base, reqwest::Method::GET, token, user, None).await;
        assert_eq!(status, 401, "{answer:?}");
        assert_eq!(answer["error"]["code"], "unauthorized");
    }
    // AND an unknown field is rejected
    let mut bad = seed.clone();
    bad["LivechatWebhookOnEverything"] = json!(true);
    let (status, _) = rocketchat_settings_call(
        &admin.base,
        reqwest::Method::POST,
        &key,
        &tenant_id,
        Some(&bad),
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_openapi_document_is_served_and_describes_real_answers() {
    let (_stack, admin) = running(LocalOptions::default()).await;
    let anonymous = ApiClient::new(admin.base.clone(), None);
    let doc = anonymous.get("/openapi.json").await;
    assert_eq!(doc.status, 200);
    assert_eq!(doc.body["openapi"], "3.1.0");
    for route in ROUTES {
        let op = &doc.body["paths"][route.pattern][route.method.as_str().to_ascii_lowercase()];
        assert!(op.is_object(), "{} {}", route.method, route.pattern);
    }
    // the answers of a few routes have every property their schema requires, and no other
    let tenant = new_tenant(&admin).await;
    let created = create_integration(
        &tenant,
        json!({"url": "https://hooks.example.com/x", "events": ["chat.closed"]}),
    )
    .await;
    let view = tenant
        .get(&format!(
            "/v1/integrations/{}",
            created["id"].as_str().unwrap()
        ))
        .await
        .body;
    let list = tenant.get("/v1/integrations").await.body;
    let error = tenant.get("/v1/integrations/int_nope").await.body;
    let schemas = &doc.body["components"]["schemas"];
    for (value, name) in [
        (&created, "CreatedIntegration"),
        (&view, "IntegrationView"),
        (&list, "IntegrationPage"),
        (&error, "Error"),
    ] {
        let schema = &schemas[name];
        let props = schema["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{name}"));
        for required in schema["required"].as_array().unwrap() {
            assert!(
                value.get(required.as_str().unwrap()).is_some(),
                "{name} lacks {required}"
            );
        }
        for key in value.as_object().unwrap().keys() {
            assert!(props.contains_key(key), "{name} does not describe `{key}`");
        }
    }
}
