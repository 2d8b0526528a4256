//! Cross-tenant cases the route-table matrix of `config_api_log.rs` does not
//! reach: the Rocket.Chat settings call with one tenant's key and another's
//! X-User-Id, and event ids, which are the tenant's own: the same id posted by
//! two tenants is two events, delivered to each tenant's endpoints only.

use chathooks_tests::client::rocketchat_settings_call;
use chathooks_tests::fixtures::*;
use chathooks_tests::receiver::Receiver;
use serde_json::{Value, json};

fn settings(url: &str) -> Value {
    json!({
        "LivechatWebhookUrl": url,
        "LivechatSecretToken": "tok-of-b-1234567",
        "LivechatWebhookOnClose": true,
        "LivechatWebhookOnStart": false
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_rocketchat_call_with_another_tenants_user_id_is_401_and_changes_nothing() {
    let (_stack, admin) = serving(LocalOptions::default()).await;
    let (a, a_id) = tenant_with_id(&admin).await;
    let (b, b_id) = tenant_with_id(&admin).await;
    let a_key = a.key.clone().unwrap();
    let b_key = b.key.clone().unwrap();
    let receiver = Receiver::start().await;
    // GIVEN B's Rocket.Chat settings
    let mine = settings(&receiver.url("/b"));
    let (status, _) = rocketchat_settings_call(
        &admin.base,
        reqwest::Method::POST,
        &b_key,
        &b_id,
        Some(&mine),
    )
    .await;
    assert_eq!(status, 200);
    let b_before = b.get("/v1/integrations").await.body;

    // WHEN A's key is used with B's user id, to read and to overwrite
    let hijack = settings("https://evil.example.com/steal");
    for (method, body) in [
        (reqwest::Method::GET, None),
        (reqwest::Method::POST, Some(&hijack)),
    ] {
        let (status, answer) =
            rocketchat_settings_call(&admin.base, method.clone(), &a_key, &b_id, body).await;
        // THEN 401, revealing nothing of B's settings
        assert_eq!(status, 401, "{method}: {answer}");
        assert_eq!(answer["error"]["code"], "unauthorized");
        assert!(!answer.to_string().contains("/b"), "{answer}");
        // AND B's key with A's id likewise
        let (status, _) = rocketchat_settings_call(&admin.base, method, &b_key, &a_id, body).await;
        assert_eq!(status, 401);
    }
    // AND neither tenant's integrations changed
    assert_eq!(b.get("/v1/integrations").await.body, b_before);
    assert_eq!(a.get("/v1/integrations").await.body["items"], json!([]));
    // AND the admin key is no Rocket.Chat credential either
    let (status, _) = rocketchat_settings_call(
        &admin.base,
        reqwest::Method::GET,
        admin.key.as_deref().unwrap(),
        &b_id,
        None,
    )
    .await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_event_id_in_two_tenants_is_two_events() {
    // GIVEN tenants A and B, each with an integration on its own receiver
    let (stack, admin, _) = stack_with(&[]).await;
    let (a, _) = tenant_with_id(&admin).await;
    let (b, _) = tenant_with_id(&admin).await;
    let (ra, rb) = (Receiver::start().await, Receiver::start().await);
    integration(&a, &ra.url("/a"), json!({"retry_policy": [1]})).await;
    integration(&b, &rb.url("/b"), json!({"retry_policy": [1]})).await;

    // WHEN both post an event with the same id
    let event = closed_chat("evt-shared-id");
    let from_a = a.post("/v1/events", &event).await;
    let from_b = b.post("/v1/events", &event).await;

    // THEN both are accepted as new, with different delivery ids
    assert_eq!(from_a.status, 202, "{:?}", from_a.body);
    assert_eq!(from_b.status, 202, "{:?}", from_b.body);
    assert_eq!(from_b.body["duplicate"], false, "{:?}", from_b.body);
    let da = from_a.body["deliveries"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let db = from_b.body["deliveries"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(da, db);
    // AND each tenant's endpoint gets exactly its own
    let got_a = ra.wait_for(1, WAIT).await;
    let got_b = rb.wait_for(1, WAIT).await;
    wait_idle(&stack).await;
    assert_eq!((ra.received().len(), rb.received().len()), (1, 1));
    assert_eq!(got_a[0].header("webhook-id"), Some(da.as_str()));
    assert_eq!(got_b[0].header("webhook-id"), Some(db.as_str()));
    // AND neither can read the other's delivery
    assert_eq!(a.get(&format!("/v1/deliveries/{db}")).await.status, 404);
    assert_eq!(b.get(&format!("/v1/deliveries/{da}")).await.status, 404);
    // AND a repeat within one tenant is still a duplicate
    let again = a.post("/v1/events", &event).await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(again.body["duplicate"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn another_tenants_api_keys_are_404_and_never_listed() {
    let (_stack, admin) = serving(LocalOptions::default()).await;
    let (a, a_id) = tenant_with_id(&admin).await;
    let (b, _) = tenant_with_id(&admin).await;
    // GIVEN A's second key
    let made = a.post("/v1/api-keys", &json!({"name": "A's"})).await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    let a_key_id = made.body["id"].as_str().unwrap().to_string();
    let a_second = admin.with_key(made.body["api_key"].as_str().unwrap());
    let a_keys = a.get("/v1/api-keys").await.body;

    // WHEN B revokes A's key by its id
    let theirs = b.delete(&format!("/v1/api-keys/{a_key_id}")).await;
    let nothing = b.delete("/v1/api-keys/key_doesnotexist").await;
    // THEN 404, exactly as for a key that does not exist
    assert_eq!(theirs.status, 404, "{:?}", theirs.body);
    assert_eq!(theirs.body, nothing.body);
    assert_eq!(theirs.body["error"]["code"], "not_found");
    // AND B's listing holds only B's own key, none of A's ids or prefixes
    let b_keys = b.get("/v1/api-keys").await.body;
    assert_eq!(b_keys["items"].as_array().unwrap().len(), 1, "{b_keys}");
    for key in a_keys["items"].as_array().unwrap() {
        let text = b_keys.to_string();
        assert!(!text.contains(key["id"].as_str().unwrap()), "{text}");
        assert!(!text.contains(key["prefix"].as_str().unwrap()), "{text}");
    }
    // AND A's keys are untouched and still work
    assert_eq!(a.get("/v1/api-keys").await.body, a_keys);
    assert_eq!(a_second.get("/v1/integrations").await.status, 200);
    // AND no tenant key reaches the admin routes, its own tenant's included
    for path in ["/v1/tenants".to_string(), format!("/v1/tenants/{a_id}")] {
        assert_eq!(b.get(&path).await.status, 401, "{path}");
        assert_eq!(a.get(&path).await.status, 401, "{path}");
    }
    let suspend = json!({"suspended": true});
    assert_eq!(
        b.patch(&format!("/v1/tenants/{a_id}"), &suspend)
            .await
            .status,
        401
    );
    assert_eq!(b.delete(&format!("/v1/tenants/{a_id}")).await.status, 401);
    assert_eq!(
        admin.get(&format!("/v1/tenants/{a_id}")).await.body["status"],
        "active"
    );
}
