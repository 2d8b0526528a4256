//! Helpers shared by the delivery-engine fault-injection tests (`engine_*.rs`).

use chathooks_tests::client::ApiClient;
use chathooks_tests::local::{LocalOptions, LocalStack, new_tenant, running};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// A local stack with these `CHATHOOKS_*` settings, and a tenant on it.
pub async fn stack_with(settings: &[(&str, &str)]) -> (LocalStack, ApiClient, ApiClient) {
    stack_opts(options(settings)).await
}

pub fn options(settings: &[(&str, &str)]) -> LocalOptions {
    LocalOptions {
        settings: settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..LocalOptions::default()
    }
}

pub async fn stack_opts(options: LocalOptions) -> (LocalStack, ApiClient, ApiClient) {
    let (stack, admin) = running(options).await.expect("local stack");
    let tenant = new_tenant(&admin).await;
    (stack, admin, tenant)
}

/// Create an integration for chat.closed at `url`, with `extra` fields merged in.
/// Returns its id and the API's answer.
pub async fn integration(tenant: &ApiClient, url: &str, extra: Value) -> (String, Value) {
    let mut body = json!({"name": "engine", "url": url, "events": ["chat.closed"]});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    let created = tenant.post("/v1/integrations", &body).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().expect("id").to_string();
    (id, created.body)
}

pub fn closed_chat(id: &str) -> Value {
    json!({
        "id": id, "type": "chat.closed",
        "chat": {"id": format!("chat-{id}"), "messages": [
            {"author_type": "visitor", "author_name": "Mary", "text": "Hello", "sent_at": "2026-11-21T10:00:00Z"}
        ]}
    })
}

/// Post one chat.closed event; returns the id of its (single) delivery.
pub async fn post_event(tenant: &ApiClient, event_id: &str) -> String {
    let accepted = tenant.post("/v1/events", &closed_chat(event_id)).await;
    assert_eq!(accepted.status, 202, "{:?}", accepted.body);
    accepted.body["deliveries"][0]["id"]
        .as_str()
        .expect("one delivery")
        .to_string()
}

/// Poll `GET /v1/deliveries/{id}` until `done` holds or `timeout` passes; returns the last body.
pub async fn wait_delivery(
    tenant: &ApiClient,
    id: &str,
    timeout: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let got = tenant.get(&format!("/v1/deliveries/{id}")).await;
        if (got.status == 200 && done(&got.body)) || Instant::now() >= deadline {
            return got.body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Wait until the delivery is no longer pending.
pub async fn wait_settled(tenant: &ApiClient, id: &str, timeout: Duration) -> Value {
    wait_delivery(tenant, id, timeout, |d| {
        d["status"] == "succeeded" || d["status"] == "failed"
    })
    .await
}

pub fn attempts(delivery: &Value) -> Vec<Value> {
    delivery["attempts"].as_array().cloned().unwrap_or_default()
}

/// A new tenant: its client and its id.
pub async fn tenant_with_id(admin: &ApiClient) -> (ApiClient, String) {
    let created = admin.post("/v1/tenants", &json!({"name": "engine"})).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let key = created.body["api_key"].as_str().expect("api_key");
    let id = created.body["id"].as_str().expect("id").to_string();
    (admin.with_key(key), id)
}

#[allow(unused_imports)]
pub use chathooks_tests::logs;
