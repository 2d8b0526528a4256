//! The admin's tenant routes through the real HTTP API on moto: listing and
//! paging, reading, suspension (the tenant's requests answer 403, its events
//! are refused, its pending retries stop, and lifting it restores all that),
//! the admin key's rotation window, and deletion, which purges every item of
//! the tenant (a log of 1,000 deliveries included, resumably) while another
//! tenant's data stays.
use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use chathooks::adapters::dynamodb::{DynamoDbDeliveryLog, DynamoDbTenantStore};
use chathooks::domain::catalogue::EventType;
use chathooks::domain::delivery::{Attempt, Delivery, DeliveryStatus};
use chathooks::domain::ids::{DeliveryId, EventId, IntegrationId, TenantId};
use chathooks::ports::{DeliveryLog, TenantStore as _};
use chathooks_tests::client::ApiClient;
use chathooks_tests::fixtures::*;
use chathooks_tests::receiver::{Receiver, Reply};
use futures::StreamExt;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_admin_lists_pages_and_reads_tenants() {
    let (_stack, admin) = serving(LocalOptions::default()).await;
    let mut made = Vec::new();
    for _ in 0..3 {
        made.push(tenant_with_id(&admin).await);
    }
    // WHEN the admin pages through the tenants two at a time
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..5 {
        let path = match &cursor {
            Some(c) => format!("/v1/tenants?limit=2&cursor={c}"),
            None => "/v1/tenants?limit=2".to_string(),
        };
        let page = admin.get(&path).await;
        assert_eq!(page.status, 200, "{:?}", page.body);
        let items = page.body["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|t| t["id"].as_str().unwrap().to_string()));
        cursor = page.body["next_cursor"].as_str().map(String::from);
        if cursor.is_none() {
            break;
        }
    }
    // THEN each tenant is listed once
    let ids: Vec<String> = made.iter().map(|(_, id)| id.clone()).collect();
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), seen.len(), "{seen:?}");
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(sorted, expected);
    // AND one reads with its status
    let one = admin.get(&format!("/v1/tenants/{}", ids[1])).await;
    assert_eq!(one.status, 200);
    assert_eq!(one.body["id"], ids[1].as_str());
    assert_eq!(one.body["status"], "active");
    assert_eq!(one.body["name"], "test tenant");
    // AND bad requests are 4xx naming the problem, and tenants cannot use these routes
    assert_eq!(admin.get("/v1/tenants?limit=0").await.status, 400);
    let bad_cursor = admin.get("/v1/tenants?cursor=bm9wZQ").await;
    assert_eq!(bad_cursor.status, 400, "{:?}", bad_cursor.body);
    for id in ["ten_doesnotexist", "int_1", "nonsense"] {
        assert_eq!(admin.get(&format!("/v1/tenants/{id}")).await.status, 404);
    }
    let path = format!("/v1/tenants/{}", ids[0]);
    for body in [
        json!({}),
        json!({"suspended": "yes"}),
        json!({"suspended": true, "name": "x"}),
    ] {
        let answer = admin.patch(&path, &body).await;
        assert_eq!(answer.status, 400, "{body}: {:?}", answer.body);
    }
    let tenant = &made[0].0;
    assert_eq!(tenant.get("/v1/tenants").await.status, 401);
    assert_eq!(tenant.get(&path).await.status, 401);
    assert_eq!(
        tenant
            .patch(&path, &json!({"suspended": true}))
            .await
            .status,
        401
    );
    assert_eq!(tenant.delete(&path).await.status, 401);
    assert_eq!(admin.get(&path).await.body["status"], "active");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn during_a_rotation_the_previous_admin_key_works_too() {
    let options = options(&[(
        "CHATHOOKS_ADMIN_KEY_PREVIOUS",
        "the-previous-admin-key-0123456789",
    )]);
    let (_stack, admin) = serving(options).await;
    let previous = admin.with_key("the-previous-admin-key-0123456789");
    assert_eq!(admin.get("/v1/tenants").await.status, 200);
    assert_eq!(previous.get("/v1/tenants").await.status, 200);
    let created = previous.post("/v1/tenants", &json!({})).await;
    assert_eq!(created.status, 201);
    let other = admin.with_key("the-previous-admin-key-0123456788");
    assert_eq!(other.get("/v1/tenants").await.status, 401);
    // without the setting, only the current key is accepted
    let (_stack, admin) = serving(LocalOptions::default()).await;
    assert_eq!(
        admin
            .with_key("the-previous-admin-key-0123456789")
            .get("/v1/tenants")
            .await
            .status,
        401
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn suspension_refuses_requests_and_stops_retries_and_lifting_it_restores_them() {
    let (stack, admin, _) = stack_with(&[]).await;
    let (tenant, id) = tenant_with_id(&admin).await;
    let portal = tenant.post("/v1/portal/sessions", &json!({})).await;
    let by_portal = admin.with_key(portal.body["token"].as_str().unwrap());
    // GIVEN a delivery retrying every second against a failing receiver
    let receiver = Receiver::scripted(|_, _| Reply::status(500)).await;
    integration(
        &tenant,
        &receiver.url("/hook"),
        json!({"retry_policy": vec![1; 20]}),
    )
    .await;
    let delivery = post_event(&tenant, "evt-suspend-1").await;
    receiver.wait_for(2, WAIT).await;

    // WHEN the admin suspends the tenant
    let suspended = admin
        .patch(&format!("/v1/tenants/{id}"), &json!({"suspended": true}))
        .await;
    assert_eq!(suspended.status, 200, "{:?}", suspended.body);
    assert_eq!(suspended.body["status"], "suspended");
    let at_suspension = receiver.received().len();

    // THEN its key and portal link answer 403 with a clear message, and its events are refused
    for answer in [
        tenant.get("/v1/integrations").await,
        by_portal.get("/v1/integrations").await,
        tenant
            .post("/v1/events", &closed_chat("evt-suspend-2"))
            .await,
    ] {
        assert_eq!(answer.status, 403, "{:?}", answer.body);
        assert_eq!(answer.body["error"]["code"], "tenant_suspended");
        let message = answer.body["error"]["message"].as_str().unwrap();
        assert!(message.contains("suspended"), "{message}");
    }
    // AND its retries stop: once nothing is queued, and well past the next
    // retry's time, the receiver has seen nothing beyond an attempt already in flight
    wait_idle(&stack).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = receiver.received().len();
    assert!(after <= at_suspension + 1, "{at_suspension} -> {after}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.received().len(), after);
    assert_eq!(
        admin.get(&format!("/v1/tenants/{id}")).await.body["status"],
        "suspended"
    );

    // WHEN the suspension is lifted
    let lifted = admin
        .patch(&format!("/v1/tenants/{id}"), &json!({"suspended": false}))
        .await;
    assert_eq!(lifted.body["status"], "active");
    // THEN the stopped delivery shows why it stopped
    let d = tenant.get(&format!("/v1/deliveries/{delivery}")).await;
    assert_eq!(d.status, 200, "{:?}", d.body);
    assert_eq!(d.body["status"], "failed");
    let reason = d.body["last_error"].as_str().unwrap_or_default();
    assert!(reason.contains("suspended"), "{}", d.body);
    // AND the tenant's requests and new events work again
    assert_eq!(by_portal.get("/v1/integrations").await.status, 200);
    let seen = receiver.received().len();
    post_event(&tenant, "evt-suspend-3").await;
    receiver.wait_for(seen + 1, WAIT).await;
}

/// Every string anywhere in an attribute value.
fn strings(value: &AttributeValue, out: &mut Vec<String>) {
    match value {
        AttributeValue::S(s) => out.push(s.clone()),
        AttributeValue::M(m) => m.values().for_each(|v| strings(v, out)),
        AttributeValue::L(l) => l.iter().for_each(|v| strings(v, out)),
        AttributeValue::Ss(ss) => out.extend(ss.iter().cloned()),
        _ => {}
    }
}

/// Every item of the table, read with a paged Scan.
async fn scan_all(stack: &chathooks_tests::local::LocalStack) -> Vec<chathooks_item::Item> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let out = stack
            .dynamodb
            .scan()
            .table_name(&stack.config.table)
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        items.extend(out.items.unwrap_or_default());
        start = out.last_evaluated_key;
        if start.is_none() {
            return items;
        }
    }
}

mod chathooks_item {
    pub type Item = std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>;
}

/// Whether an item mentions the tenant or one of its deliveries anywhere.
fn mentions(item: &chathooks_item::Item, tenant: &str, deliveries: &HashSet<String>) -> bool {
    let mut all = Vec::new();
    item.values().for_each(|v| strings(v, &mut all));
    all.iter().any(|s| {
        s.contains(tenant)
            || s.strip_prefix("D#")
                .is_some_and(|id| deliveries.contains(id))
    })
}

/// Write `count` deliveries of the integration straight into the log, each
/// with an attempt, every tenth with a second one (an item of its own), and
/// the hourly counters; answers their ids.
async fn write_log(
    log: &DynamoDbDeliveryLog,
    tenant: &TenantId,
    integration: &IntegrationId,
    count: usize,
) -> Vec<DeliveryId> {
    let now = chrono::Utc::now();
    let ids: Vec<DeliveryId> = (0..count).map(|_| DeliveryId::generate()).collect();
    let written: Vec<()> = futures::stream::iter(ids.iter().enumerate())
        .map(|(n, id)| async move {
            let created = now - chrono::Duration::seconds(n as i64);
            let mut delivery = Delivery {
                id: id.clone(),
                tenant_id: tenant.clone(),
                integration_id: integration.clone(),
                event_id: EventId::parse(&format!("evt-log-{n}")).unwrap(),
                event_type: EventType::ChatClosed,
                chat_id: Some(format!("chat-{}", n % 7)),
                status: DeliveryStatus::Pending,
                attempts: 1,
                created_at: created,
                updated_at: created,
                next_attempt_at: None,
                last_status_code: Some(500),
                last_error: Some("HTTP 500".into()),
                link: None,
                waiting_for: None,
            };
            let attempt = |number| Attempt {
                number,
                started_at: created + chrono::Duration::milliseconds(number as i64),
                duration_ms: 3,
                status_code: Some(500),
                error_kind: None,
                error: None,
                response_excerpt: Some("boom".into()),
                next_attempt_at: None,
            };
            log.record_attempt(&delivery, &attempt(1)).await.unwrap();
            if n % 10 == 0 {
                delivery.attempts = 2;
                delivery.status = DeliveryStatus::Failed;
                log.record_attempt(&delivery, &attempt(2)).await.unwrap();
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert_eq!(written.len(), count);
    log.flush_counts().await;
    ids
}

/// Everything a tenant can own, through the API: its tenant item, two keys,
/// an integration, a portal session, an event (and its queued jobs).
async fn populated_tenant(
    admin: &ApiClient,
    receiver: &Receiver,
) -> (ApiClient, String, String, String) {
    let (tenant, id) = tenant_with_id(admin).await;
    let key = tenant
        .post("/v1/api-keys", &json!({"name": "second"}))
        .await;
    assert_eq!(key.status, 201);
    let (integration_id, _) = integration(&tenant, &receiver.url("/t"), json!({})).await;
    let portal = tenant.post("/v1/portal/sessions", &json!({})).await;
    let token = portal.body["token"].as_str().unwrap().to_string();
    accept(&tenant, &closed_chat("evt-owned-1")).await;
    (tenant, id, integration_id, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleting_a_tenant_with_1000_deliveries_purges_every_item_and_its_keys_401() {
    let (stack, admin) = serving(LocalOptions::default()).await;
    let receiver = Receiver::start().await;
    let log = DynamoDbDeliveryLog::new(
        stack.dynamodb.clone(),
        stack.config.table.clone(),
        chrono::Duration::days(30),
    );
    // GIVEN tenant A with 1,000 deliveries in its log, and tenant B beside it
    let (a, a_id, a_integration, a_token) = populated_tenant(&admin, &receiver).await;
    let (b, b_id, b_integration, _) = populated_tenant(&admin, &receiver).await;
    let a_tenant = TenantId::parse(&a_id).unwrap();
    let b_tenant = TenantId::parse(&b_id).unwrap();
    let a_log = write_log(
        &log,
        &a_tenant,
        &IntegrationId::parse(&a_integration).unwrap(),
        1000,
    )
    .await;
    let b_log = write_log(
        &log,
        &b_tenant,
        &IntegrationId::parse(&b_integration).unwrap(),
        20,
    )
    .await;
    let a_deliveries: HashSet<String> = a_log.iter().map(|d| d.to_string()).collect();
    let before = scan_all(&stack).await;
    let owned_before = before
        .iter()
        .filter(|i| mentions(i, &a_id, &a_deliveries))
        .count();
    assert!(
        owned_before >= 1100,
        "only {owned_before} items of A written"
    );

    // WHEN a deletion is cut short after one step (as a timeout would)
    let store = DynamoDbTenantStore::new(stack.dynamodb.clone(), stack.config.table.clone());
    assert!(store.mark_deleting(&a_tenant).await.unwrap());
    let step = store.purge_step(&a_tenant).await.unwrap();
    assert!(!step.done && step.deleted > 0, "{step:?}");
    // THEN A's keys and portal link already stop working
    let a_second = admin.with_key(a.key.clone().unwrap());
    assert_eq!(a_second.get("/v1/integrations").await.status, 401);
    assert_eq!(
        a_second
            .post("/v1/events", &closed_chat("evt-late"))
            .await
            .status,
        401
    );
    assert_eq!(
        admin
            .with_key(&a_token)
            .get("/v1/integrations")
            .await
            .status,
        401
    );
    assert_eq!(
        admin.get(&format!("/v1/tenants/{a_id}")).await.body["status"],
        "deleting"
    );

    // WHEN the admin deletes A (calling again while the purge continues)
    let started = std::time::Instant::now();
    let mut calls = 0;
    loop {
        calls += 1;
        let answer = admin.delete(&format!("/v1/tenants/{a_id}")).await;
        match answer.status {
            204 => break,
            202 => assert_eq!(answer.body["status"], "deleting"),
            other => panic!("{other}: {:?}", answer.body),
        }
        assert!(calls < 20, "the purge never finished");
    }
    eprintln!(
        "purge: {owned_before} items of A (one step already done), the rest in {:?} over {calls} DELETE call(s)",
        started.elapsed()
    );

    // THEN no item of A remains anywhere in the table
    let after = scan_all(&stack).await;
    let left: Vec<_> = after
        .iter()
        .filter(|i| mentions(i, &a_id, &a_deliveries))
        .collect();
    assert!(
        left.is_empty(),
        "{} items of A left, e.g. {:?}",
        left.len(),
        left.first()
    );
    // AND everything of B is still there
    assert_eq!(
        after
            .iter()
            .filter(|i| mentions(i, &b_id, &HashSet::new()))
            .count(),
        before
            .iter()
            .filter(|i| mentions(i, &b_id, &HashSet::new()))
            .count()
    );
    for id in &b_log {
        assert_eq!(b.get(&format!("/v1/deliveries/{id}")).await.status, 200);
    }
    assert_eq!(
        b.get("/v1/api-keys").await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // AND A's keys answer 401, and A is gone for the admin too
    assert_eq!(a.get("/v1/integrations").await.status, 401);
    assert_eq!(
        a.post("/v1/events", &closed_chat("evt-gone")).await.status,
        401
    );
    assert_eq!(admin.get(&format!("/v1/tenants/{a_id}")).await.status, 404);
    assert_eq!(
        admin.delete(&format!("/v1/tenants/{a_id}")).await.status,
        404
    );
    let listed: Value = admin.get("/v1/tenants").await.body;
    assert!(!listed.to_string().contains(&a_id), "{listed}");
}
