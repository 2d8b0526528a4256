//! The backbone end to end: tenant, integration, event, signed delivery to a
//! real receiver on 127.0.0.1, retry through the retry queue and the
//! scheduler, the delivery log through the API. Against moto, through HTTP.
use chathooks_tests::fixtures::*;
use chathooks_tests::receiver::{Receiver, Reply};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_event_reaches_the_receiver_signed_and_is_logged() {
    // GIVEN a local stack, a tenant and a standard integration pointing at a receiver
    let (stack, admin, tenant) = stack_with(&[]).await;
    let receiver = Receiver::start().await;
    let created = tenant
        .post(
            "/v1/integrations",
            &json!({"name": "crm", "url": receiver.url("/hook"), "events": ["chat.closed"]}),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let secret = created.body["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));

    // WHEN the chat product posts a chat.closed event
    let accepted = tenant
        .post("/v1/events", &closed_chat("evt-backbone-1"))
        .await;
    assert_eq!(accepted.status, 202, "{:?}", accepted.body);
    let delivery_id = accepted.body["deliveries"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // THEN the receiver gets one signed POST in the standard format
    let got = receiver.wait_for(1, WAIT).await;
    assert_eq!(got.len(), 1);
    let hook = &got[0];
    assert_eq!(hook.method, "POST");
    assert_eq!(hook.path, "/hook");
    assert_eq!(hook.header("content-type"), Some("application/json"));
    assert_eq!(hook.header("webhook-id"), Some(delivery_id.as_str()));
    chathooks_tests::verify::assert_signed(hook, &secret);
    let body = hook.json();
    assert_eq!(body["type"], "chat.closed");
    assert_eq!(body["data"]["chat"]["id"], "chat-evt-backbone-1");

    // AND the delivery with its attempt is visible through the API
    let detail = wait_status(&tenant, &delivery_id, "succeeded").await;
    assert_eq!(attempts(&detail).len(), 1, "{detail}");
    assert_eq!(detail["attempts"][0]["status_code"], 200);

    // AND another tenant cannot see it
    let other = new_tenant(&admin).await;
    assert_eq!(
        other
            .get(&format!("/v1/deliveries/{delivery_id}"))
            .await
            .status,
        404
    );

    // AND posting the same event id again creates no second delivery
    let again = tenant
        .post("/v1/events", &closed_chat("evt-backbone-1"))
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["duplicate"], true);
    wait_idle(&stack).await;
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_attempt_is_retried_and_an_exhausted_delivery_fails() {
    let (stack, _admin, tenant) = stack_with(&[]).await;
    // GIVEN a receiver that fails its first request, and one that always fails
    let flaky = Receiver::scripted(|n, _| Reply::status(if n == 0 { 503 } else { 200 })).await;
    let dead = Receiver::scripted(|_, _| Reply::status(500).with_body("boom")).await;
    for (receiver, name) in [(&flaky, "flaky"), (&dead, "dead")] {
        create_integration(
            &tenant,
            json!({"name": name, "url": receiver.url("/"), "events": ["chat.closed"], "retry_policy": [1, 1]}),
        )
        .await;
    }
    // WHEN one event goes to both
    let accepted = accept(&tenant, &closed_chat("evt-retry-1")).await;
    // THEN the flaky receiver gets the retry, the same webhook-id both times
    let got = flaky.wait_for(2, WAIT).await;
    assert_eq!(got.len(), 2, "the retry did not arrive");
    assert_eq!(got[0].header("webhook-id"), got[1].header("webhook-id"));
    // AND the dead one gets all three attempts, then the delivery is failed with the reason
    assert_eq!(dead.wait_for(3, WAIT).await.len(), 3);
    let deliveries = accepted["deliveries"].as_array().unwrap();
    let mut statuses = Vec::new();
    for d in deliveries {
        let detail = wait_settled(&tenant, d["id"].as_str().unwrap(), WAIT).await;
        statuses.push((
            detail["status"].clone(),
            attempts(&detail).len(),
            detail["last_error"].clone(),
        ));
    }
    statuses.sort_by_key(|s| s.1);
    assert_eq!(statuses[0].0, "succeeded");
    assert_eq!(statuses[0].1, 2);
    assert_eq!(statuses[1].0, "failed");
    assert_eq!(statuses[1].1, 3);
    assert!(
        statuses[1]
            .2
            .as_str()
            .unwrap()
            .contains("gave up after 3 attempts"),
        "{:?}",
        statuses[1].2
    );
    wait_idle(&stack).await;
    assert_eq!(flaky.received().len(), 2, "no attempt after the success");
    assert_eq!(dead.received().len(), 3, "no attempt after the last one");
}
