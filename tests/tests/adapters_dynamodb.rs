//! The DynamoDB stores against moto through the real SDK, each test on its own table.
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;

use chathooks::adapters::dynamodb::{
    DynamoDbDeliveryLog, DynamoDbEventStore, DynamoDbIntegrationStore, DynamoDbReadAhead,
    DynamoDbTenantStore,
};
use chathooks::domain::catalogue::EventType;
use chathooks::domain::delivery::{Attempt, Delivery, DeliveryStatus, ErrorKind};
use chathooks::domain::event::Event;
use chathooks::domain::ids::{DeliveryId, EventId, IntegrationId, TenantId};
use chathooks::domain::integration::{
    Format, FormatOptions, Integration, IntegrationPatch, NewIntegration,
};
use chathooks::domain::retry::RetryPolicy;
use chathooks::domain::target_url::UrlPolicy;
use chathooks::domain::tenant::TenantStatus;
use chathooks::ports::{
    AheadKeys, DeliveryLog, DeliveryQuery, EventStore, InsertOutcome, IntegrationStore, ReadAhead,
    StoreError, Tenant, TenantStore,
};
use chathooks_tests::fixtures::fresh_table;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 4, 10, 0, 0).unwrap()
}

fn integration(tenant: &TenantId, name: &str) -> Integration {
    let input = NewIntegration {
        name: Some(name.to_string()),
        url: "https://crm.example.com/hooks".into(),
        format: Format::Livechat,
        events: vec!["chat.closed".into(), "chat.started".into()],
        secret: None,
        timeout_ms: Some(5_000),
        // An untagged list of numbers: the shape most likely to break item mapping.
        retry_policy: Some(RetryPolicy::Custom(vec![1, 60, 3_600])),
        ordering: None,
        headers: Some([("X-Api-Key".to_string(), "k".to_string())].into()),
        enabled: None,
        format_options: Some(FormatOptions {
            license_id: Some("123".into()),
            data_types: Some(["chat".to_string()].into()),
            ..FormatOptions::default()
        }),
    };
    Integration::create(tenant, input, UrlPolicy::STRICT, t0())
        .unwrap()
        .0
}

/// `i` renamed at `at`.
fn renamed(i: &Integration, name: &str, at: DateTime<Utc>) -> Integration {
    let patch = IntegrationPatch {
        name: Some(name.to_string()),
        ..IntegrationPatch::default()
    };
    i.clone().apply(patch, UrlPolicy::STRICT, at).unwrap()
}

fn delivery(
    tenant: &TenantId,
    integration: &IntegrationId,
    created_at: DateTime<Utc>,
    status: DeliveryStatus,
    event_type: EventType,
) -> Delivery {
    Delivery {
        id: DeliveryId::generate(),
        tenant_id: tenant.clone(),
        integration_id: integration.clone(),
        event_id: EventId::generate(),
        event_type,
        chat_id: None,
        status,
        attempts: 0,
        created_at,
        updated_at: created_at,
        next_attempt_at: None,
        last_status_code: None,
        last_error: None,
        link: None,
        waiting_for: None,
    }
}

fn ids(items: &[Delivery]) -> Vec<DeliveryId> {
    items.iter().map(|d| d.id.clone()).collect()
}

/// The ids of `deliveries` at `positions`, in that order.
fn pick(deliveries: &[Delivery], positions: &[usize]) -> Vec<DeliveryId> {
    positions
        .iter()
        .map(|&i| deliveries[i].id.clone())
        .collect()
}

/// A tenant named `name` and its first key record.
fn tenant_and_key(name: &str) -> (Tenant, chathooks::domain::api_key::ApiKey) {
    let tenant = Tenant {
        id: TenantId::generate(),
        name: name.into(),
        created_at: t0(),
        status: chathooks::domain::tenant::TenantStatus::Active,
    };
    let key = chathooks::domain::api_key::ApiKey {
        id: chathooks::domain::ids::ApiKeyId::generate(),
        tenant_id: tenant.id.clone(),
        name: "default".into(),
        prefix: "chk_12345678".into(),
        created_at: t0(),
        expires_at: None,
        last_used_at: None,
    };
    (tenant, key)
}

#[tokio::test]
async fn tenants_are_found_by_key_hash_and_a_reused_key_is_rejected() {
    let (client, table) = fresh_table().await.unwrap();
    let store = DynamoDbTenantStore::new(client, table);
    let (tenant, key) = tenant_and_key("Acme");
    let owner = |k: Option<chathooks::ports::StoredKey>| k.map(|k| k.tenant().clone());

    // GIVEN a tenant created with a key hash
    store.create(&tenant, &key, "aa11").await.unwrap();

    // THEN the hash finds it and an unknown hash finds nothing
    assert_eq!(
        owner(store.key_by_hash("aa11").await.unwrap()),
        Some(tenant.id.clone())
    );
    assert_eq!(store.key_by_hash("bb22").await.unwrap(), None);
    assert_eq!(store.get(&tenant.id).await.unwrap(), Some(tenant.clone()));

    // AND a second tenant with the same key hash is refused, and writes nothing
    let (other, other_key) = tenant_and_key("Other");
    let err = store.create(&other, &other_key, "aa11").await.unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists), "{err:?}");
    assert_eq!(store.get(&other.id).await.unwrap(), None);
    assert_eq!(
        owner(store.key_by_hash("aa11").await.unwrap()),
        Some(tenant.id)
    );
    store.create(&other, &other_key, "cc33").await.unwrap();
    assert_eq!(
        owner(store.key_by_hash("cc33").await.unwrap()),
        Some(other.id)
    );
}

/// A fresh table, its client, and a client of it that counts its requests.
async fn counted_table() -> (
    aws_sdk_dynamodb::Client,
    aws_sdk_dynamodb::Client,
    chathooks_tests::bench::aws_count::AwsCounter,
    String,
) {
    let (client, table) = fresh_table().await.unwrap();
    let counter = chathooks_tests::bench::aws_count::AwsCounter::new();
    let counted = aws_sdk_dynamodb::Client::from_conf(
        client
            .config()
            .to_builder()
            .interceptor(counter.clone())
            .build(),
    );
    (client, counted, counter, table)
}

/// The requests `counter` saw since `before`, by operation.
fn requests_since(
    counter: &chathooks_tests::bench::aws_count::AwsCounter,
    before: &chathooks_tests::bench::aws_count::Tally,
) -> Vec<(String, u64)> {
    counter
        .snapshot()
        .requests
        .into_iter()
        .map(|((_, op), n)| {
            let earlier = before
                .requests
                .iter()
                .find(|((_, o), _)| *o == op)
                .map_or(0, |(_, n)| *n);
            (op, n - earlier)
        })
        .filter(|(_, n)| *n > 0)
        .collect()
}

#[tokio::test]
async fn a_known_key_is_read_with_its_tenant_in_one_request_and_both_fresh() {
    // GIVEN a tenant with two keys, and the store of a warm function that
    // counts its requests (another function's store makes the changes)
    let (client, counted, counter, table) = counted_table().await;
    let warm = DynamoDbTenantStore::new(counted, table.clone());
    let admin = DynamoDbTenantStore::new(client, table);
    let (tenant, first) = tenant_and_key("Acme");
    admin.create(&tenant, &first, "hash-1").await.unwrap();
    let second = chathooks::domain::api_key::ApiKey {
        id: chathooks::domain::ids::ApiKeyId::generate(),
        name: "second".into(),
        ..first.clone()
    };
    admin.add_key(&second, "hash-2", 10).await.unwrap();
    let read = async |hash: &str| {
        let before = counter.snapshot();
        let found = warm.key_with_tenant(hash).await.unwrap();
        (found, requests_since(&counter, &before))
    };
    let status = |found: &Option<(chathooks::ports::StoredKey, Option<Tenant>)>| {
        found
            .as_ref()
            .map(|(k, t)| (k.tenant().clone(), t.as_ref().map(|t| t.status)))
    };
    let active = Some((tenant.id.clone(), Some(TenantStatus::Active)));

    // WHEN the warm function first reads a key THEN the key, then its tenant
    let (found, asked) = read("hash-1").await;
    assert_eq!(status(&found), active);
    assert_eq!(asked, vec![("GetItem".to_string(), 2)]);
    // WHEN it reads the key again THEN both come in one request
    let (found, asked) = read("hash-1").await;
    assert_eq!(status(&found), active);
    assert_eq!(asked, vec![("BatchGetItem".to_string(), 1)]);

    // WHEN the tenant is suspended elsewhere THEN the very next read says so
    admin.set_suspended(&tenant.id, true).await.unwrap();
    let (found, asked) = read("hash-1").await;
    assert_eq!(
        status(&found),
        Some((tenant.id.clone(), Some(TenantStatus::Suspended)))
    );
    assert_eq!(asked, vec![("BatchGetItem".to_string(), 1)]);
    admin.set_suspended(&tenant.id, false).await.unwrap();

    // WHEN a known key is revoked elsewhere THEN the very next read finds no key
    assert!(read("hash-2").await.0.is_some());
    admin.revoke_key(&tenant.id, &second.id).await.unwrap();
    let (found, asked) = read("hash-2").await;
    assert!(found.is_none());
    assert_eq!(asked, vec![("BatchGetItem".to_string(), 1)]);
    // AND it is forgotten: the next read asks for the key alone
    let (found, asked) = read("hash-2").await;
    assert!(found.is_none());
    assert_eq!(asked, vec![("GetItem".to_string(), 1)]);

    // WHEN the tenant is being deleted THEN its known key reads so at once
    admin.mark_deleting(&tenant.id).await.unwrap();
    let (found, _) = read("hash-1").await;
    assert_eq!(
        status(&found),
        Some((tenant.id.clone(), Some(TenantStatus::Deleting)))
    );
}

#[tokio::test]
async fn integrations_are_created_read_and_scoped_to_their_tenant() {
    let (client, table) = fresh_table().await.unwrap();
    let store = DynamoDbIntegrationStore::new(client, table);
    let tenant = TenantId::generate();
    let stranger = TenantId::generate();
    let created = integration(&tenant, "CRM");

    // GIVEN a stored integration
    store.create(&created).await.unwrap();

    // THEN it reads back equal, every field included
    assert_eq!(
        store.get(&tenant, created.id()).await.unwrap(),
        Some(created.clone())
    );
    // AND creating it again is refused
    let err = store.create(&created).await.unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists), "{err:?}");
    // AND another tenant neither sees, lists nor deletes it
    assert_eq!(store.get(&stranger, created.id()).await.unwrap(), None);
    assert!(
        store
            .list(&stranger, None, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(!store.delete(&stranger, created.id()).await.unwrap());
    assert!(store.get(&tenant, created.id()).await.unwrap().is_some());
}

#[tokio::test]
async fn integrations_list_in_creation_order_page_by_page() {
    let (client, table) = fresh_table().await.unwrap();
    let store = DynamoDbIntegrationStore::new(client, table);
    let tenant = TenantId::generate();
    // GIVEN three integrations created one after the other (time-ordered ids)
    let mut created = Vec::new();
    for name in ["a", "b", "c"] {
        let i = integration(&tenant, name);
        store.create(&i).await.unwrap();
        created.push(i);
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    // AND another tenant's, which must never show up
    store
        .create(&integration(&TenantId::generate(), "x"))
        .await
        .unwrap();

    // WHEN listed two at a time
    let first = store.list(&tenant, None, 2).await.unwrap();
    let cursor = first.next_cursor.clone().expect("a second page");
    let second = store.list(&tenant, Some(&cursor), 2).await.unwrap();

    // THEN the pages hold the three in creation order, then end
    assert_eq!(first.items, created[..2].to_vec());
    assert_eq!(second.items, created[2..].to_vec());
    assert_eq!(second.next_cursor, None);
    // AND the same cursor gives the same page again
    assert_eq!(store.list(&tenant, Some(&cursor), 2).await.unwrap(), second);
    // AND everything fits on one big page
    let all = store.list(&tenant, None, 10).await.unwrap();
    assert_eq!(all.items, created);
    assert_eq!(all.next_cursor, None);
}

#[tokio::test]
async fn tampered_cursors_are_rejected() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    let (client, table) = fresh_table().await.unwrap();
    let integrations = DynamoDbIntegrationStore::new(client.clone(), table.clone());
    let deliveries = DynamoDbDeliveryLog::new(client, table, Duration::days(30));
    let tenant = TenantId::generate();

    for bad in [
        "!!not-base64!!".to_string(),
        URL_SAFE_NO_PAD.encode("TENANT"),
        URL_SAFE_NO_PAD.encode("K#abc"),
    ] {
        let err = integrations
            .list(&tenant, Some(&bad), 10)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::BadCursor), "{bad}: {err:?}");
        let query = DeliveryQuery {
            cursor: Some(bad.clone()),
            limit: 10,
            ..DeliveryQuery::default()
        };
        let err = deliveries
            .list(&tenant, &IntegrationId::generate(), &query)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::BadCursor), "{bad}: {err:?}");
    }
}

#[tokio::test]
async fn integrations_are_replaced_updated_disabled_and_deleted() {
    let (client, table) = fresh_table().await.unwrap();
    let store = DynamoDbIntegrationStore::new(client, table);
    let tenant = TenantId::generate();
    let read = integration(&tenant, "CRM");
    store.create(&read).await.unwrap();

    // WHEN replaced THEN the new settings are read back
    let patch = IntegrationPatch {
        name: Some("Renamed".into()),
        retry_policy: Some(RetryPolicy::STANDARD),
        ..IntegrationPatch::default()
    };
    let stored = read
        .clone()
        .apply(patch, UrlPolicy::STRICT, t0() + Duration::minutes(1))
        .unwrap();
    assert!(store.replace(&read, &stored).await.unwrap());
    assert_eq!(
        store.get(&tenant, stored.id()).await.unwrap(),
        Some(stored.clone())
    );
    // AND a replace decided on an older read changes nothing
    let stale = renamed(&read, "Stale", t0() + Duration::minutes(1));
    assert!(!store.replace(&read, &stale).await.unwrap());
    assert_eq!(
        store.get(&tenant, stored.id()).await.unwrap(),
        Some(stored.clone())
    );
    // AND replacing one that does not exist reports false and creates nothing
    let ghost = integration(&tenant, "ghost");
    assert!(!store.replace(&ghost, &ghost).await.unwrap());
    assert_eq!(store.get(&tenant, ghost.id()).await.unwrap(), None);

    // WHEN a failure run starts THEN it is recorded, and a success clears it
    let since = t0() + Duration::minutes(2);
    store
        .set_failing_since(&tenant, stored.id(), Some(since))
        .await
        .unwrap();
    let read = store.get(&tenant, stored.id()).await.unwrap().unwrap();
    assert_eq!(read.failing_since(), Some(since));
    assert_eq!(read.name(), "Renamed");
    store
        .set_failing_since(&tenant, stored.id(), None)
        .await
        .unwrap();
    let read = store.get(&tenant, stored.id()).await.unwrap().unwrap();
    assert_eq!(read, stored);
    // AND updating a vanished one is not an error and does not create it
    store
        .set_failing_since(&tenant, ghost.id(), Some(since))
        .await
        .unwrap();
    store
        .disable(&tenant, ghost.id(), "gone", since)
        .await
        .unwrap();
    assert_eq!(store.get(&tenant, ghost.id()).await.unwrap(), None);

    // WHEN disabled THEN enabled, reason and updated_at change, nothing else
    let at = t0() + Duration::minutes(3);
    store
        .disable(&tenant, stored.id(), "failing for 5 days", at)
        .await
        .unwrap();
    // AND a change decided before the disable cannot re-enable it
    let again = renamed(&stored, "Renamed again", at);
    assert!(!store.replace(&stored, &again).await.unwrap());
    let read = store.get(&tenant, stored.id()).await.unwrap().unwrap();
    assert_eq!(read, {
        let mut disabled = stored.clone();
        disabled.disable("failing for 5 days", at);
        disabled
    });

    // WHEN deleted THEN it is gone, and a second delete reports false
    assert!(store.delete(&tenant, stored.id()).await.unwrap());
    assert_eq!(store.get(&tenant, stored.id()).await.unwrap(), None);
    assert!(!store.delete(&tenant, stored.id()).await.unwrap());
}

#[tokio::test]
async fn events_are_stored_once_and_repeats_can_move_the_token() {
    let (client, table) = fresh_table().await.unwrap();
    let store = DynamoDbEventStore::new(client, table);
    let tenant = TenantId::generate();
    let event = Event::from_json(json!({
        "id": "chat-42.closed", "type": "chat.closed", "occurred_at": "2025-03-04T10:00:00.123Z",
        "chat": {"id": "c42", "tags": ["vip"]}, "visitor": {"id": "v1", "name": "Ann"}
    }))
    .unwrap();
    let expires = Utc::now() + Duration::days(30);

    // GIVEN a first insert THEN it is new, and the event reads back equal, with its token
    assert_eq!(
        store.insert(&tenant, &event, "t1", expires).await.unwrap(),
        InsertOutcome::New
    );
    let stored = store.get(&tenant, &event.id).await.unwrap().unwrap();
    assert_eq!(stored.event, event);
    assert_eq!(stored.acceptance_token.as_deref(), Some("t1"));
    assert!(stored.received_at.is_some());
    // WHEN the same request's write is repeated (the SDK retrying a lost answer) THEN still new
    assert_eq!(
        store.insert(&tenant, &event, "t1", expires).await.unwrap(),
        InsertOutcome::New
    );
    // WHEN another request inserts it THEN a duplicate naming the stored token
    assert_eq!(
        store.insert(&tenant, &event, "t2", expires).await.unwrap(),
        InsertOutcome::Duplicate { token: "t1".into() }
    );
    // AND that request can move the token, once: a stale `from` is refused
    assert!(store.retoken(&tenant, &event.id, "t1", "t2").await.unwrap());
    assert!(!store.retoken(&tenant, &event.id, "t1", "t3").await.unwrap());
    let stored = store.get(&tenant, &event.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.event, stored.acceptance_token.as_deref()),
        (event.clone(), Some("t2"))
    );
    // AND the same event id is independent per tenant
    let other = TenantId::generate();
    assert_eq!(store.get(&other, &event.id).await.unwrap(), None);
    assert_eq!(
        store.insert(&other, &event, "t9", expires).await.unwrap(),
        InsertOutcome::New
    );
    // AND moving the token of an unknown event creates nothing
    let unknown = EventId::parse("never-seen").unwrap();
    assert!(!store.retoken(&tenant, &unknown, "", "t4").await.unwrap());
    assert_eq!(store.get(&tenant, &unknown).await.unwrap(), None);
}

#[tokio::test]
async fn a_batch_reads_its_events_integrations_and_tenants_at_once() {
    // GIVEN 120 stored events (more than one BatchGetItem takes) in two
    // tenants, short ones stored as text and transcripts deflated; an
    // integration of the first tenant, which is suspended; the second
    // tenant not stored
    let (client, counted, counter, table) = counted_table().await;
    let reader = DynamoDbReadAhead::new(counted, table.clone());
    let store = DynamoDbEventStore::new(client.clone(), table.clone());
    let tenants = DynamoDbTenantStore::new(client.clone(), table.clone());
    let integrations = DynamoDbIntegrationStore::new(client, table);
    let (tenant_a, key) = tenant_and_key("A");
    tenants.create(&tenant_a, &key, "ahead").await.unwrap();
    tenants.set_suspended(&tenant_a.id, true).await.unwrap();
    let (a, b) = (tenant_a.id.clone(), TenantId::generate());
    let hook = integration(&a, "crm");
    integrations.create(&hook).await.unwrap();
    let expires = Utc::now() + Duration::days(30);
    let transcript: Vec<_> = (0..30)
        .map(|i| json!({"author_type": "visitor", "text": format!("line {i} of a long chat"), "sent_at": "2026-11-21T10:00:00Z"}))
        .collect();
    let mut stored = Vec::new();
    for i in 0..120 {
        let tenant = if i % 2 == 0 { &a } else { &b };
        let messages = if i % 3 == 0 {
            transcript.clone()
        } else {
            vec![]
        };
        let event = Event::from_json(json!({"id": format!("evt-{i}"), "type": "chat.closed",
            "chat": {"id": format!("c{i}"), "messages": messages}}))
        .unwrap();
        store
            .insert(tenant, &event, &format!("t{i}"), expires)
            .await
            .unwrap();
        stored.push((tenant.clone(), event));
    }
    // AND keys for what is not there: another tenant's event id, an unknown
    // id, the integration's id under the other tenant
    let mut keys = AheadKeys {
        events: stored
            .iter()
            .map(|(t, e)| (t.clone(), e.id.clone()))
            .collect(),
        integrations: vec![
            (a.clone(), hook.id().clone()),
            (b.clone(), hook.id().clone()),
        ],
        tenants: vec![a.clone(), b.clone()],
    };
    let stray = [
        (b.clone(), EventId::parse("evt-0").unwrap()),
        (a.clone(), EventId::parse("never-seen").unwrap()),
    ];
    keys.events.extend(stray.iter().cloned());

    // WHEN they are read at once
    let found = reader.read_ahead(&keys).await.unwrap();

    // THEN every stored event reads back whole, with its own token
    assert_eq!(found.events.len(), 122);
    for (i, (tenant, event)) in stored.iter().enumerate() {
        let got = found.events[&(tenant.clone(), event.id.clone())]
            .as_ref()
            .unwrap();
        assert_eq!(&got.event, event);
        assert_eq!(
            got.acceptance_token.as_deref(),
            Some(format!("t{i}").as_str())
        );
        assert!(got.received_at.is_some());
    }
    // AND what is not stored is known absent, not left unread
    for key in &stray {
        assert_eq!(found.events.get(key), Some(&None), "{key:?}");
    }
    assert_eq!(
        found.integrations[&(a.clone(), hook.id().clone())],
        Some(hook.clone())
    );
    assert_eq!(found.integrations[&(b.clone(), hook.id().clone())], None);
    assert_eq!(found.tenants[&a], Some(TenantStatus::Suspended));
    assert_eq!(found.tenants[&b], None);
    // AND 126 keys took two BatchGetItem requests, and nothing else
    let tally = counter.snapshot();
    assert_eq!(
        tally
            .requests
            .iter()
            .map(|((_, op), n)| (op.as_str(), *n))
            .collect::<Vec<_>>(),
        vec![("BatchGetItem", 2)]
    );
    // AND an empty read asks nothing
    let none = reader.read_ahead(&AheadKeys::default()).await.unwrap();
    assert!(none.events.is_empty() && none.tenants.is_empty());
    assert_eq!(counter.snapshot().total_requests(), 2);
}

#[tokio::test]
async fn a_first_attempt_made_twice_is_logged_twice() {
    // GIVEN a queue message consumed twice: two consumers each make attempt 1
    let (client, table) = fresh_table().await.unwrap();
    let log = DynamoDbDeliveryLog::new(client, table, Duration::days(30));
    let tenant = TenantId::generate();
    let mut d = delivery(
        &tenant,
        &IntegrationId::generate(),
        t0(),
        DeliveryStatus::Succeeded,
        EventType::ChatClosed,
    );
    d.attempts = 1;
    let attempt = |ms: i64| Attempt {
        number: 1,
        started_at: t0() + Duration::milliseconds(ms),
        duration_ms: 5,
        status_code: Some(200),
        error_kind: None,
        error: None,
        response_excerpt: None,
        next_attempt_at: None,
    };
    // WHEN both record it THEN the log shows both requests the receiver saw
    log.record_attempt(&d, &attempt(0)).await.unwrap();
    log.record_attempt(&d, &attempt(3)).await.unwrap();
    let (read, attempts) = log.get(&tenant, &d.id).await.unwrap().unwrap();
    assert_eq!(read, d);
    assert_eq!(attempts, vec![attempt(0), attempt(3)]);
}

#[tokio::test]
async fn a_delivery_reads_back_with_its_attempts_in_order() {
    let (client, table) = fresh_table().await.unwrap();
    let log = DynamoDbDeliveryLog::new(client, table, Duration::days(30));
    let tenant = TenantId::generate();
    let mut d = delivery(
        &tenant,
        &IntegrationId::generate(),
        t0(),
        DeliveryStatus::Pending,
        EventType::ChatClosed,
    );

    // GIVEN a failed first attempt, recorded with the delivery's new state
    let first = Attempt {
        number: 1,
        started_at: t0(),
        duration_ms: 120,
        status_code: Some(500),
        error_kind: Some(ErrorKind::HttpStatus),
        error: Some("HTTP 500".into()),
        response_excerpt: Some("oops".into()),
        next_attempt_at: Some(t0() + Duration::seconds(5)),
    };
    d.attempts = 1;
    d.last_status_code = Some(500);
    d.next_attempt_at = first.next_attempt_at;
    log.record_attempt(&d, &first).await.unwrap();
    // AND a successful second one
    let second = Attempt {
        number: 2,
        started_at: t0() + Duration::seconds(5),
        duration_ms: 80,
        status_code: Some(200),
        error_kind: None,
        error: None,
        response_excerpt: Some(r#"{"link":"https://crm/x"}"#.into()),
        next_attempt_at: None,
    };
    d.attempts = 2;
    d.status = DeliveryStatus::Succeeded;
    d.last_status_code = Some(200);
    d.next_attempt_at = None;
    d.link = Some("https://crm/x".into());
    d.updated_at = second.started_at;
    log.record_attempt(&d, &second).await.unwrap();

    // WHEN read THEN the latest state comes back with both attempts, oldest first
    let (read, attempts) = log.get(&tenant, &d.id).await.unwrap().unwrap();
    assert_eq!(read, d);
    assert_eq!(attempts, vec![first, second]);
    // AND another tenant cannot tell it exists
    assert!(
        log.get(&TenantId::generate(), &d.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        log.get(&tenant, &DeliveryId::generate())
            .await
            .unwrap()
            .is_none()
    );

    // WHEN only the state changes THEN the attempts are kept
    d.status = DeliveryStatus::Failed;
    log.put_delivery(&d).await.unwrap();
    let (read, attempts) = log.get(&tenant, &d.id).await.unwrap().unwrap();
    assert_eq!(read.status, DeliveryStatus::Failed);
    assert_eq!(attempts.len(), 2);
}

/// A fresh delivery log, a tenant, and a delivery of it (not yet stored).
async fn log_and_delivery(status: DeliveryStatus) -> (DynamoDbDeliveryLog, TenantId, Delivery) {
    let (client, table) = fresh_table().await.unwrap();
    let log = DynamoDbDeliveryLog::new(client, table, Duration::days(30));
    let tenant = TenantId::generate();
    let d = delivery(
        &tenant,
        &IntegrationId::generate(),
        Utc::now(),
        status,
        EventType::ChatClosed,
    );
    (log, tenant, d)
}

#[tokio::test]
async fn an_attempt_finishing_after_a_later_one_is_logged_but_leaves_the_state() {
    let (log, tenant, mut d) = log_and_delivery(DeliveryStatus::Pending).await;
    let at = |n: u32, code: u16| Attempt {
        number: n,
        started_at: Utc::now(),
        duration_ms: 5,
        status_code: Some(code),
        error_kind: None,
        error: None,
        response_excerpt: None,
        next_attempt_at: None,
    };
    // GIVEN attempt 2 succeeded and was recorded
    let (first, second) = (at(1, 500), at(2, 200));
    let mut done = d.clone();
    done.attempts = 2;
    done.status = DeliveryStatus::Succeeded;
    log.record_attempt(&done, &second).await.unwrap();
    // WHEN attempt 1 (its message consumed late) records its failure
    d.attempts = 1;
    d.status = DeliveryStatus::Failed;
    log.record_attempt(&d, &first).await.unwrap();
    // THEN both attempts are logged and the delivery keeps attempt 2's state
    let (read, attempts) = log.get(&tenant, &d.id).await.unwrap().unwrap();
    assert_eq!(read.status, DeliveryStatus::Succeeded);
    assert_eq!(read.attempts, 2);
    assert_eq!(attempts.len(), 2);
}

#[tokio::test]
async fn a_requeue_written_after_its_job_ran_leaves_the_outcome() {
    // GIVEN a delivery that failed its one attempt
    let (log, tenant, mut failed) = log_and_delivery(DeliveryStatus::Failed).await;
    failed.attempts = 1;
    log.put_delivery(&failed).await.unwrap();
    // AND a manual retry's job that ran (a second attempt, succeeded) before
    // the retry's own write of `pending` landed
    let mut succeeded = failed.clone();
    succeeded.attempts = 2;
    succeeded.status = DeliveryStatus::Succeeded;
    log.put_delivery(&succeeded).await.unwrap();
    let mut pending = failed.clone();
    pending.status = DeliveryStatus::Pending;
    // WHEN the retry writes `pending` against the one attempt it saw
    // THEN nothing is written and the outcome stays
    assert!(!log.update_unless_moved(&pending, 1).await.unwrap());
    let (read, _) = log.get(&tenant, &failed.id).await.unwrap().unwrap();
    assert_eq!(read.status, DeliveryStatus::Succeeded);
    assert_eq!(read.attempts, 2);
    // AND against the count it has, the write is made
    pending.attempts = 2;
    assert!(log.update_unless_moved(&pending, 2).await.unwrap());
    let (read, _) = log.get(&tenant, &failed.id).await.unwrap().unwrap();
    assert_eq!(read.status, DeliveryStatus::Pending);
}

#[tokio::test]
async fn deliveries_list_newest_first_filtered_windowed_and_paged() {
    use DeliveryStatus::{Failed, Succeeded};
    use EventType::{ChatClosed, ChatStarted};

    let (client, table) = fresh_table().await.unwrap();
    let log = DynamoDbDeliveryLog::new(client, table, Duration::days(30));
    let tenant = TenantId::generate();
    let integration = IntegrationId::generate();
    // GIVEN five deliveries a minute apart (d[0] oldest)
    let shapes = [
        (Succeeded, ChatClosed),
        (Failed, ChatStarted),
        (Failed, ChatClosed),
        (Succeeded, ChatClosed),
        (Succeeded, ChatStarted),
    ];
    let mut d = Vec::new();
    for (i, (status, kind)) in shapes.into_iter().enumerate() {
        let at = t0() + Duration::minutes(i as i64);
        let one = delivery(&tenant, &integration, at, status, kind);
        log.put_delivery(&one).await.unwrap();
        d.push(one);
    }
    // AND deliveries of another integration and of another tenant under the same integration id
    let stranger = TenantId::generate();
    log.put_delivery(&delivery(
        &tenant,
        &IntegrationId::generate(),
        t0(),
        Succeeded,
        ChatClosed,
    ))
    .await
    .unwrap();
    let foreign = delivery(&stranger, &integration, t0(), Succeeded, ChatClosed);
    log.put_delivery(&foreign).await.unwrap();

    let list = |query: DeliveryQuery| {
        let log = &log;
        let tenant = &tenant;
        let integration = &integration;
        async move { log.list(tenant, integration, &query).await.unwrap() }
    };
    let q = |limit: usize| DeliveryQuery {
        limit,
        ..DeliveryQuery::default()
    };

    // THEN everything comes newest first, on one page
    let all = list(q(10)).await;
    assert_eq!(ids(&all.items), pick(&d, &[4, 3, 2, 1, 0]));
    assert_eq!(all.next_cursor, None);
    // AND filters on status and event type combine
    let failed = list(DeliveryQuery {
        status: Some(Failed),
        ..q(10)
    })
    .await;
    assert_eq!(ids(&failed.items), pick(&d, &[2, 1]));
    let closed = list(DeliveryQuery {
        event_type: Some(ChatClosed),
        ..q(10)
    })
    .await;
    assert_eq!(ids(&closed.items), pick(&d, &[3, 2, 0]));
    let closed_ok = list(DeliveryQuery {
        status: Some(Succeeded),
        event_type: Some(ChatClosed),
        ..q(10)
    })
    .await;
    assert_eq!(ids(&closed_ok.items), pick(&d, &[3, 0]));
    // AND the time window is [since, until)
    let window = list(DeliveryQuery {
        since: Some(t0() + Duration::minutes(1)),
        until: Some(t0() + Duration::minutes(3)),
        ..q(10)
    })
    .await;
    assert_eq!(ids(&window.items), pick(&d, &[2, 1]));
    let recent = list(DeliveryQuery {
        since: Some(t0() + Duration::minutes(3)),
        ..q(10)
    })
    .await;
    assert_eq!(ids(&recent.items), pick(&d, &[4, 3]));
    let early = list(DeliveryQuery {
        until: Some(t0() + Duration::minutes(1)),
        ..q(10)
    })
    .await;
    assert_eq!(ids(&early.items), pick(&d, &[0]));

    // WHEN paged two at a time THEN the cursor walks the list to its end
    let mut seen = Vec::new();
    let mut cursor = None;
    for _ in 0..3 {
        let page = list(DeliveryQuery {
            cursor: cursor.clone(),
            ..q(2)
        })
        .await;
        assert!(page.items.len() <= 2);
        seen.extend(ids(&page.items));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, ids(&all.items));
    assert_eq!(cursor, None);
    // AND paging composes with filters
    let page1 = list(DeliveryQuery {
        event_type: Some(ChatClosed),
        ..q(2)
    })
    .await;
    assert_eq!(ids(&page1.items), pick(&d, &[3, 2]));
    let page2 = list(DeliveryQuery {
        event_type: Some(ChatClosed),
        cursor: page1.next_cursor.clone(),
        ..q(2)
    })
    .await;
    assert_eq!(ids(&page2.items), pick(&d, &[0]));
    assert_eq!(page2.next_cursor, None);

    // AND the other tenant sees only its own delivery
    let theirs = log.list(&stranger, &integration, &q(10)).await.unwrap();
    assert_eq!(ids(&theirs.items), vec![foreign.id]);
}
