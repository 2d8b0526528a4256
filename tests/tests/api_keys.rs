//! A tenant's API keys through the real HTTP API on moto: a new key works on
//! the config API and the intake, a revoked or expired key is refused on the
//! very next request of a warm function (keys are never cached: the window
//! is zero), the last key cannot be revoked, `last_used_at` is recorded, and
//! a key stored before keys had names keeps working and is listed.
use std::time::Duration;

use chathooks::app::auth::key_hash;
use chathooks_tests::client::ApiClient;
use chathooks_tests::fixtures::*;
use serde_json::{Value, json};

/// The current key format: `chk_` and 38 base62 characters.
fn well_formed(key: &str) -> bool {
    key.len() == 42
        && key.starts_with("chk_")
        && key[4..].bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A request on the config API and one on the intake, with `client`'s key:
/// their statuses.
async fn use_key(client: &ApiClient, event_id: &str) -> (u16, u16) {
    let config = client.get("/v1/integrations").await.status;
    let intake = client
        .post("/v1/events", &closed_chat(event_id))
        .await
        .status;
    (config, intake)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_key_works_and_a_revoked_one_is_refused_on_the_next_request() {
    let (_stack, admin) = serving(LocalOptions::default()).await;
    let created = admin.post("/v1/tenants", &json!({"name": "keys"})).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let first_key = created.body["api_key"].as_str().unwrap().to_string();
    let first_id = created.body["api_key_id"].as_str().unwrap().to_string();
    assert!(well_formed(&first_key), "{first_key}");
    let first = admin.with_key(&first_key);

    // GIVEN the tenant's first key, listed by its prefix only
    let listed = first.get("/v1/api-keys").await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    let items = listed.body["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["id"], first_id.as_str());
    assert_eq!(items[0]["prefix"], &first_key[..12]);
    assert!(!listed.body.to_string().contains(&first_key[12..]));

    // WHEN a second key is created
    let made = first
        .post("/v1/api-keys", &json!({"name": "deploy bot"}))
        .await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    let second_key = made.body["api_key"].as_str().unwrap().to_string();
    let second_id = made.body["id"].as_str().unwrap().to_string();
    assert!(well_formed(&second_key), "{second_key}");
    assert_eq!(made.body["name"], "deploy bot");
    assert_eq!(made.body["prefix"], &second_key[..12]);
    assert_eq!(made.body["expires_at"], Value::Null);
    assert_eq!(made.body["last_used_at"], Value::Null);
    assert_ne!(second_key, first_key);

    // THEN it works on the config API and the intake (both now warm)
    let second = admin.with_key(&second_key);
    assert_eq!(use_key(&second, "evt-key-1").await, (200, 202));
    let listed = first.get("/v1/api-keys").await.body;
    let ids: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [first_id.as_str(), second_id.as_str()]);
    assert!(!listed.to_string().contains(&second_key));

    // WHEN it is revoked
    let revoked = first.delete(&format!("/v1/api-keys/{second_id}")).await;
    assert_eq!(revoked.status, 204, "{:?}", revoked.body);
    // THEN the very next request with it is refused, on both warm functions
    assert_eq!(use_key(&second, "evt-key-2").await, (401, 401));
    // AND revoking it again is a 404, and the first key still works
    assert_eq!(
        first
            .delete(&format!("/v1/api-keys/{second_id}"))
            .await
            .status,
        404
    );
    assert_eq!(use_key(&first, "evt-key-3").await, (200, 202));

    // AND the tenant's last key cannot be revoked, the answer says why
    let last = first.delete(&format!("/v1/api-keys/{first_id}")).await;
    assert_eq!(last.status, 409, "{:?}", last.body);
    assert_eq!(last.body["error"]["code"], "conflict");
    let message = last.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("last API key"), "{message}");
    assert_eq!(first.get("/v1/integrations").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_key_requests_are_4xx_naming_the_problem() {
    let (_stack, admin) = serving(LocalOptions::default()).await;
    let tenant = new_tenant(&admin).await;
    let past = (chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339();
    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "a\u{7}b"}), "name"),
        (json!({"name": "x".repeat(101)}), "name"),
        (json!({"name": "ok", "expires_at": past}), "expires_at"),
        (
            json!({"name": "ok", "expires_at": "tomorrow"}),
            "expires_at",
        ),
        (json!({"name": "ok", "scope": "all"}), "scope"),
        (json!({}), "name"),
    ] {
        let answer = tenant.post("/v1/api-keys", &body).await;
        assert_eq!(answer.status, 400, "{body} -> {:?}", answer.body);
        let text = answer.body["error"].to_string();
        assert!(text.contains(field), "{body} -> {text}");
    }
    // ids that are not the tenant's keys are 404, never a 500
    for id in ["key_doesnotexist", "int_123", "nonsense"] {
        let answer = tenant.delete(&format!("/v1/api-keys/{id}")).await;
        assert_eq!(answer.status, 404, "{id}: {:?}", answer.body);
    }
    // keys are managed with an API key: not a portal token, not the admin key
    let portal = tenant.post("/v1/portal/sessions", &json!({})).await;
    let token = portal.body["token"].as_str().unwrap();
    let by_portal = admin.with_key(token);
    assert_eq!(by_portal.get("/v1/api-keys").await.status, 403);
    let made = by_portal.post("/v1/api-keys", &json!({"name": "x"})).await;
    assert_eq!(made.status, 403);
    assert_eq!(admin.get("/v1/api-keys").await.status, 401);
    // a key with a wrong checksum is refused like an unknown one
    let key = tenant.key.clone().unwrap();
    let mut typo = key.into_bytes();
    typo[20] = if typo[20] == b'a' { b'b' } else { b'a' };
    let typo = admin.with_key(String::from_utf8(typo).unwrap());
    assert_eq!(typo.get("/v1/integrations").await.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_key_is_refused() {
    let (_stack, admin) = serving(LocalOptions::default()).await;
    let tenant = new_tenant(&admin).await;
    // GIVEN a key expiring in two seconds
    let expires = chrono::Utc::now() + chrono::Duration::seconds(2);
    let made = tenant
        .post(
            "/v1/api-keys",
            &json!({"name": "short-lived", "expires_at": expires.to_rfc3339()}),
        )
        .await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    let expiring = admin.with_key(made.body["api_key"].as_str().unwrap());
    let shown =
        chrono::DateTime::parse_from_rfc3339(made.body["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!(shown.timestamp_millis(), expires.timestamp_millis());
    // THEN it works until then (the functions warm up)
    assert_eq!(use_key(&expiring, "evt-exp-1").await, (200, 202));
    // AND from its expiry on, both refuse it
    let wait = (expires - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_millis(50)).await;
    assert_eq!(use_key(&expiring, "evt-exp-2").await, (401, 401));
    // while the tenant's other key is unaffected
    assert_eq!(use_key(&tenant, "evt-exp-3").await, (200, 202));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn last_used_at_is_recorded_and_not_rewritten_within_the_minute() {
    let (_stack, admin) = serving(LocalOptions::default()).await;
    let tenant = new_tenant(&admin).await;
    let made = tenant.post("/v1/api-keys", &json!({"name": "probe"})).await;
    let id = made.body["id"].as_str().unwrap().to_string();
    let probe = admin.with_key(made.body["api_key"].as_str().unwrap());
    let last_used = |listing: &Value| {
        listing["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"] == id.as_str())
            .map(|k| k["last_used_at"].clone())
            .unwrap()
    };
    // GIVEN a key never used
    assert_eq!(
        last_used(&tenant.get("/v1/api-keys").await.body),
        Value::Null
    );
    // WHEN it is used
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    assert_eq!(probe.get("/v1/integrations").await.status, 200);
    // THEN its last use is recorded
    let first = last_used(&tenant.get("/v1/api-keys").await.body);
    let at = chrono::DateTime::parse_from_rfc3339(first.as_str().expect("a timestamp")).unwrap();
    assert!(at >= before && at <= chrono::Utc::now(), "{at}");
    // AND further uses within the minute do not rewrite it
    for _ in 0..3 {
        assert_eq!(probe.get("/v1/integrations").await.status, 200);
    }
    assert_eq!(last_used(&tenant.get("/v1/api-keys").await.body), first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_key_stored_before_keys_had_names_works_and_becomes_listed() {
    let (stack, admin) = serving(LocalOptions::default()).await;
    let (tenant, tenant_id) = tenant_with_id(&admin).await;
    // GIVEN a key item as the service stored it before keys had names:
    // only the tenant id under the hash of a key in the earlier format
    let earlier = format!("chk_{}", "Ab3-_x".repeat(7) + "Q");
    assert_eq!(earlier.len(), 47);
    stack
        .dynamodb
        .put_item()
        .table_name(&stack.config.table)
        .item("pk", s(&format!("K#{}", key_hash(&earlier))))
        .item("sk", s("KEY"))
        .item("tenant_id", s(&tenant_id))
        .send()
        .await
        .unwrap();
    // THEN it authenticates its tenant on both functions
    let old = admin.with_key(&earlier);
    assert_eq!(use_key(&old, "evt-old-1").await, (200, 202));
    // AND it is listed beside the tenant's other key, by its prefix
    let listed = tenant.get("/v1/api-keys").await.body;
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{listed}");
    let adopted = items
        .iter()
        .find(|k| k["prefix"] == earlier[..12])
        .unwrap_or_else(|| panic!("{listed}"));
    assert!(adopted["last_used_at"].is_string());
    // AND it can be revoked like any other
    let id = adopted["id"].as_str().unwrap();
    assert_eq!(
        tenant.delete(&format!("/v1/api-keys/{id}")).await.status,
        204
    );
    assert_eq!(old.get("/v1/integrations").await.status, 401);
}

fn s(v: &str) -> aws_sdk_dynamodb::types::AttributeValue {
    aws_sdk_dynamodb::types::AttributeValue::S(v.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn authenticating_costs_two_strong_reads_in_one_request_and_one_write_a_minute_per_key() {
    use chathooks_tests::bench::aws_count::AwsCounter;
    let counter = AwsCounter::new();
    let mut options = LocalOptions::default();
    options.instruments.interceptor = Some(counter.shared());
    let (_stack, admin) = serving(options).await;
    let tenant = new_tenant(&admin).await;
    // WHEN 20 requests are made on a route that reads nothing itself
    counter.reset();
    for _ in 0..20 {
        assert_eq!(tenant.get("/v1/event-types").await.status, 200);
    }
    // THEN each read the key and its tenant strongly: the first as two
    // GetItems, the others, the key's tenant known, in one BatchGetItem;
    // and the key's last use was written once
    let tally = counter.snapshot();
    let count = |op: &str| {
        tally
            .requests
            .iter()
            .filter(|((_, o), _)| o == op)
            .map(|(_, n)| *n)
            .sum::<u64>()
    };
    assert_eq!(count("GetItem"), 2, "{:?}", tally.requests);
    assert_eq!(count("BatchGetItem"), 19, "{:?}", tally.requests);
    assert_eq!(count("UpdateItem"), 1, "{:?}", tally.requests);
    assert_eq!(tally.total_requests(), 22, "{:?}", tally.requests);
    assert!((tally.rru - 40.0).abs() < 1e-9, "{} RRU", tally.rru);
}
