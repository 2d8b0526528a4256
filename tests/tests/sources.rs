//! Sources end to end: the platforms' own webhooks (the seeds' examples, the
//! golden payloads that reproduce them) posted to source URLs of the local
//! stack reach a `standard` and a `livechat` integration of the tenant, each
//! signed the Standard Webhooks way and checked by the stock verifier; a
//! wrong URL or credential is a 401 and queues nothing; a repeated post is
//! delivered once and a longer Olark transcript again; another tenant's
//! source is a 404; a rotated URL keeps working for its grace and a deleted
//! source's answers 404.
use chathooks_tests::client::{Answer, ApiClient};
use chathooks_tests::fixtures::*;
use chathooks_tests::receiver::{Received, Receiver};
use chathooks_tests::verify::assert_signed;
use serde_json::{Value, json};

/// The payload of a golden file (`shared/src/formats/golden/...`).
fn golden(raw: &str) -> Value {
    serde_json::from_str::<Value>(raw).unwrap()["expected"].clone()
}

/// Seed 002's `LivechatSession` example.
fn rocketchat_session() -> Value {
    golden(include_str!(
        "../../shared/src/formats/golden/rocketchat/chat_closed.json"
    ))
}

/// Seed 002's `LivechatOfflineMessage` example.
fn rocketchat_offline() -> Value {
    golden(include_str!(
        "../../shared/src/formats/golden/rocketchat/offline_message.json"
    ))
}

/// Seed 001's `chat_started` with the chat, visitor and pre_chat_survey data types.
fn livechat_started() -> Value {
    golden(include_str!(
        "../../shared/src/formats/golden/livechat/chat_started_full.json"
    ))
}

/// Seed 003's `Contact Information` example.
fn amplifyreach_contact() -> Value {
    golden(include_str!(
        "../../shared/src/formats/golden/amplifyreach/lead_captured.json"
    ))
}

/// Olark's transcript example (FORMATS.md, `olark`).
fn olark_transcript() -> Value {
    golden(include_str!(
        "../../shared/src/formats/golden/olark/chat_closed.json"
    ))
}

fn form(conversation: &Value) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("data", &conversation.to_string())
        .finish()
}

/// A source of the tenant: its id and URL.
async fn source(tenant: &ApiClient, platform: &str, secret: Option<&str>) -> (String, String) {
    let mut body = json!({"name": format!("{platform} relay"), "platform": platform});
    if let Some(secret) = secret {
        body["secret"] = json!(secret);
    }
    let created = tenant.post("/v1/sources", &body).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let url = created.body["url"].as_str().unwrap().to_string();
    assert!(
        url.starts_with(&format!("{}/in/chs_", tenant.base)),
        "{url}"
    );
    assert_eq!(created.body["platform"], platform);
    assert_eq!(created.body["secret"].as_str(), secret);
    (created.body["id"].as_str().unwrap().to_string(), url)
}

/// A platform's post: no API key, its own headers and body.
async fn post(url: &str, content_type: &str, headers: &[(&str, &str)], body: String) -> Answer {
    let mut req = reqwest::Client::new()
        .post(url)
        .header("content-type", content_type)
        .body(body);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let response = req.send().await.expect("post to the local API");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap_or_default();
    Answer {
        status,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        headers,
    }
}

async fn post_json(url: &str, headers: &[(&str, &str)], body: &Value) -> Answer {
    post(url, "application/json", headers, body.to_string()).await
}

/// Asserts the platform's 200 with `{"success": true, ...}`; answers the event id.
fn queued(answer: &Answer, duplicate: bool) -> String {
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["success"], true, "{:?}", answer.body);
    assert_eq!(answer.body["duplicate"], duplicate, "{:?}", answer.body);
    answer.body["event_id"].as_str().unwrap().to_string()
}

/// The standard delivery of the event `id`.
fn standard_of<'a>(got: &'a [Received], id: &str) -> &'a Received {
    got.iter()
        .find(|r| r.json()["data"]["id"] == id)
        .unwrap_or_else(|| panic!("no delivery of {id}"))
}

const RC_SECRET: &str = "rc-secret-7Hq2";
const LC_SECRET: &str = "lc-secret-Pw91";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_seed_examples_posted_to_sources_reach_every_integration_in_its_format() {
    // GIVEN a tenant with a `standard` and a `livechat` integration
    let (stack, _admin, tenant) = stack_with(&[]).await;
    let standard = Receiver::start().await;
    let livechat = Receiver::start().await;
    let std_created = create_integration(
        &tenant,
        json!({"name": "crm", "url": standard.url("/std"),
               "events": ["chat.started", "chat.closed", "offline_message", "lead.captured"]}),
    )
    .await;
    let lc_created = create_integration(
        &tenant,
        json!({"name": "lc", "format": "livechat", "url": livechat.url("/lc"),
               "events": ["chat.started", "chat.closed"]}),
    )
    .await;
    // AND a source per platform
    let (_, rc) = source(&tenant, "rocketchat", Some(RC_SECRET)).await;
    let (_, lc) = source(&tenant, "livechat", Some(LC_SECRET)).await;
    let (_, olark) = source(&tenant, "olark", None).await;
    let (_, ar) = source(&tenant, "amplifyreach", None).await;

    // WHEN each platform posts its own example
    let token = [("X-RocketChat-Livechat-Token", RC_SECRET)];
    let session = queued(&post_json(&rc, &token, &rocketchat_session()).await, false);
    let offline = queued(&post_json(&rc, &token, &rocketchat_offline()).await, false);
    let mut started = livechat_started();
    started["secret_key"] = json!(LC_SECRET);
    let started = queued(&post_json(&lc, &[], &started).await, false);
    let contact = queued(&post_json(&ar, &[], &amplifyreach_contact()).await, false);
    let transcript = queued(
        &post(
            &olark,
            "application/x-www-form-urlencoded",
            &[],
            form(&olark_transcript()),
        )
        .await,
        false,
    );

    // THEN the standard integration gets all five, the livechat one the
    // three it renders, each signed and verified by the stock library
    standard.wait_for(5, WAIT).await;
    livechat.wait_for(3, WAIT).await;
    wait_idle(&stack).await;
    let (std_got, lc_got) = (standard.received(), livechat.received());
    assert_eq!(std_got.len(), 5, "{std_got:?}");
    assert_eq!(lc_got.len(), 3, "{lc_got:?}");
    for r in &std_got {
        assert_signed(r, std_created["secret"].as_str().unwrap());
    }
    for r in &lc_got {
        assert_signed(r, lc_created["secret"].as_str().unwrap());
    }

    // AND the ids and the transcripts are carried over
    let s = standard_of(&std_got, &session).json();
    assert_eq!(s["type"], "chat.closed");
    assert_eq!(s["data"]["chat"]["id"], "fasd6f5a4sd6f8a4sdf");
    assert_eq!(s["data"]["chat"]["code"], 123123);
    let texts: Vec<&str> = s["data"]["chat"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["message content", "message content from agent"]);
    assert_eq!(s["data"]["agent"]["id"], "asdf89as6df8");
    let o = standard_of(&std_got, &offline).json();
    assert_eq!(o["type"], "offline_message");
    assert_eq!(
        o["data"]["offline_message"]["message"],
        "message from the form"
    );
    let l = standard_of(&std_got, &started).json();
    assert_eq!(l["type"], "chat.started");
    assert_eq!(l["data"]["chat"]["id"], "MH022RD0K5");
    assert_eq!(l["data"]["visitor"]["id"], "S126126161.O136OJPO1");
    assert_eq!(l["data"]["pre_chat_survey"][0]["answer"], "Mary Brown");
    let c = standard_of(&std_got, &contact).json();
    assert_eq!(c["type"], "lead.captured");
    assert_eq!(c["data"]["lead"]["phone"], "+919811123456");
    let t = standard_of(&std_got, &transcript).json();
    assert_eq!(t["data"]["chat"]["id"], "EV695BI2930A6XMO32886MPT899443414");
    assert_eq!(
        t["data"]["chat"]["messages"][1]["text"],
        "Yes, please help me with billing."
    );
    assert_eq!(
        t["data"]["visitor"]["custom_fields"]["favoriteColor"],
        "blue"
    );

    // AND LiveChat's receiver gets LiveChat's shape of each chat
    let lc_chats: Vec<(String, String)> = lc_got
        .iter()
        .map(|r| {
            let body = r.json();
            (
                body["event_type"].as_str().unwrap().to_string(),
                body["chat"]["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for expected in [
        ("chat_ended", "fasd6f5a4sd6f8a4sdf"),
        ("chat_started", "MH022RD0K5"),
        ("chat_ended", "EV695BI2930A6XMO32886MPT899443414"),
    ] {
        assert!(
            lc_chats
                .iter()
                .any(|(t, id)| t == expected.0 && id == expected.1),
            "{expected:?} not in {lc_chats:?}"
        );
    }
    let ended = lc_got
        .iter()
        .map(Received::json)
        .find(|b| b["chat"]["id"] == "EV695BI2930A6XMO32886MPT899443414")
        .unwrap();
    assert_eq!(
        ended["chat"]["messages"][0]["text"],
        "Hi there. Need any help?"
    );
    assert_eq!(ended["visitor"]["email"], "bob@example.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wrong_url_or_credential_queues_nothing_and_a_repeat_is_delivered_once() {
    let (stack, _admin, tenant) = stack_with(&[]).await;
    let receiver = Receiver::start().await;
    let (iid, created) = integration(
        &tenant,
        &receiver.url("/hook"),
        json!({"events": ["chat.closed", "offline_message"]}),
    )
    .await;
    let (_, rc) = source(&tenant, "rocketchat", Some(RC_SECRET)).await;
    let (_, lc) = source(&tenant, "livechat", Some(LC_SECRET)).await;
    let (_, olark) = source(&tenant, "olark", None).await;
    let session = rocketchat_session();

    // WHEN posts carry a wrong or no credential, or go to a URL no source has
    let refused = [
        post_json(
            &rc,
            &[("X-RocketChat-Livechat-Token", "rc-secret-7Hq")],
            &session,
        )
        .await,
        post_json(&rc, &[], &session).await,
        post_json(&lc, &[], &{
            let mut p = livechat_started();
            p["secret_key"] = json!("not-the-secret");
            p
        })
        .await,
        post_json(
            &format!("{}/in/chs_{}", tenant.base, "A".repeat(43)),
            &[],
            &session,
        )
        .await,
        post_json(&format!("{}/in/not-a-token", tenant.base), &[], &session).await,
    ];
    // (LiveChat's recommended `https://user:password@...` URL: Basic credentials)
    let mut no_body_secret = livechat_started();
    no_body_secret.as_object_mut().unwrap().remove("token");
    let basic = |password: &str| {
        use base64::Engine;
        let pair = format!("livechat:{password}");
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    };
    let wrong_basic = basic("lc-secret-Pw9");
    let refused_basic = post_json(&lc, &[("authorization", &wrong_basic)], &no_body_secret).await;
    assert_eq!(refused_basic.status, 401, "{:?}", refused_basic.body);
    let right_basic = basic(LC_SECRET);
    let by_basic = post_json(&lc, &[("authorization", &right_basic)], &no_body_secret).await;
    queued(&by_basic, false);
    // THEN each is a 401 naming no secret
    for answer in &refused {
        assert_eq!(answer.status, 401, "{:?}", answer.body);
        assert_eq!(answer.body["error"]["code"], "unauthorized");
        assert!(!answer.body.to_string().contains(RC_SECRET));
    }
    // AND a payload the platform never sends is a 400 naming what is wrong
    let token = [("X-RocketChat-Livechat-Token", RC_SECRET)];
    let bad = post_json(&rc, &token, &json!({"type": "LivechatSessionExploded"})).await;
    assert_eq!(bad.status, 400, "{:?}", bad.body);
    assert!(
        bad.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("LivechatSessionExploded"),
        "{:?}",
        bad.body
    );
    let bad = post(
        &olark,
        "application/x-www-form-urlencoded",
        &[],
        "other=1".into(),
    )
    .await;
    assert_eq!(bad.status, 400, "{:?}", bad.body);

    // WHEN the same post comes again after it was delivered (a platform
    // retrying, e.g. after its own timeout: Rocket.Chat waits 10 s)
    let first = queued(&post_json(&rc, &token, &session).await, false);
    receiver.wait_for(1, WAIT).await;
    wait_idle(&stack).await;
    let again = queued(&post_json(&rc, &token, &session).await, true);
    assert_eq!(first, again);
    // AND an Olark transcript, then the same conversation with one more message
    let transcript = olark_transcript();
    let mut longer = transcript.clone();
    longer["items"].as_array_mut().unwrap().push(json!(
        {"kind": "MessageToOperator", "nickname": "Bob Doe", "timestamp": "1307116710.5", "body": "Thanks!"}
    ));
    let form_post = |c: &Value| post(&olark, "application/x-www-form-urlencoded", &[], form(c));
    let shorter = queued(&form_post(&transcript).await, false);
    let more = queued(&form_post(&longer).await, false);
    assert_ne!(shorter, more);

    // THEN the receiver gets the session once and both transcripts, nothing
    // else (a repeat racing the first delivery's attempt would be delivered
    // again under the same `webhook-id`: receivers dedupe on it)
    receiver.wait_for(3, WAIT).await;
    wait_idle(&stack).await;
    let got = receiver.received();
    let mut ids: Vec<String> = got
        .iter()
        .map(|r| r.json()["data"]["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    let mut expected = vec![first, shorter, more.clone()];
    expected.sort();
    assert_eq!(ids, expected);
    for r in &got {
        assert_signed(r, created["secret"].as_str().unwrap());
    }
    let last = standard_of(&got, &more).json();
    assert_eq!(last["data"]["chat"]["messages"][3]["text"], "Thanks!");
    // AND the log has those three deliveries only
    let log = tenant
        .get(&format!("/v1/integrations/{iid}/deliveries"))
        .await;
    assert_eq!(
        log.body["items"].as_array().unwrap().len(),
        3,
        "{:?}",
        log.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sources_are_the_tenants_own_rotate_with_a_grace_and_delete_for_good() {
    let (_stack, admin, a) = stack_with(&[]).await;
    let b = new_tenant(&admin).await;
    let (id, url) = source(&a, "amplifyreach", None).await;
    let contact = amplifyreach_contact();

    // another tenant's source is a 404, exactly as one that does not exist
    for (method, path, body) in [
        (reqwest::Method::GET, format!("/v1/sources/{id}"), None),
        (reqwest::Method::DELETE, format!("/v1/sources/{id}"), None),
        (
            reqwest::Method::POST,
            format!("/v1/sources/{id}/rotate"),
            Some(json!({})),
        ),
    ] {
        let theirs = b.send(method.clone(), &path, body.as_ref()).await;
        let nothing = b
            .send(
                method,
                &path.replace(&id, "src_doesnotexist"),
                body.as_ref(),
            )
            .await;
        assert_eq!(theirs.status, 404, "{path}: {:?}", theirs.body);
        assert_eq!(theirs.body, nothing.body, "{path}");
    }
    assert_eq!(b.get("/v1/sources").await.body["items"], json!([]));
    // the owner reads it, never its URL nor a secret
    let view = a.get(&format!("/v1/sources/{id}")).await;
    assert_eq!(view.status, 200);
    assert_eq!(view.body["platform"], "amplifyreach");
    assert_eq!(view.body["has_secret"], false);
    assert!(!view.body.to_string().contains("/in/"), "{:?}", view.body);
    let listed = a.get("/v1/sources").await.body;
    assert_eq!(listed["items"][0]["id"], id.as_str());
    // bad input is a 400 naming the field
    let bad = a
        .post("/v1/sources", &json!({"name": "x", "platform": "icq"}))
        .await;
    assert_eq!(bad.status, 400, "{:?}", bad.body);
    let bad = a
        .post(
            "/v1/sources",
            &json!({"name": "x", "platform": "olark", "secret": "has space"}),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.body["error"]["field"], "secret", "{:?}", bad.body);

    // a payload whose event would not fit where any event does is a 413
    let lines: Vec<String> = (0..4000)
        .map(|i| format!("Visitor: line {i} {}", "x".repeat(140)))
        .collect();
    let huge = json!({"type": "Chat Transcript", "data": {"chat_transcript": lines.join("\n")}});
    let too_large = post_json(&url, &[], &huge).await;
    assert_eq!(too_large.status, 413, "{:?}", too_large.body);
    assert_eq!(too_large.body["error"]["code"], "payload_too_large");

    // rotating: the new URL works, the old one through the grace
    let rotated = a
        .post(&format!("/v1/sources/{id}/rotate"), &json!({}))
        .await;
    assert_eq!(rotated.status, 200, "{:?}", rotated.body);
    let new_url = rotated.body["url"].as_str().unwrap().to_string();
    assert_ne!(new_url, url);
    assert!(rotated.body["previous_url_expires_at"].is_string());
    queued(&post_json(&new_url, &[], &contact).await, false);
    queued(&post_json(&url, &[], &contact).await, true);
    // a rotation without grace stops the current URL at once
    let hard = a
        .post(
            &format!("/v1/sources/{id}/rotate"),
            &json!({"grace_hours": 0}),
        )
        .await;
    assert_eq!(hard.status, 200, "{:?}", hard.body);
    let newest = hard.body["url"].as_str().unwrap().to_string();
    assert_eq!(post_json(&new_url, &[], &contact).await.status, 401);
    assert_eq!(post_json(&url, &[], &contact).await.status, 401);
    queued(&post_json(&newest, &[], &contact).await, true);

    // deleting: its URL answers 404 from the next post on
    assert_eq!(a.delete(&format!("/v1/sources/{id}")).await.status, 204);
    let gone = post_json(&newest, &[], &contact).await;
    assert_eq!(gone.status, 404, "{:?}", gone.body);
    assert_eq!(a.get(&format!("/v1/sources/{id}")).await.status, 404);
    assert_eq!(a.get("/v1/sources").await.body["items"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deleted_tenants_sources_are_purged_with_it() {
    let (stack, admin, _) = stack_with(&[]).await;
    let (tenant, tenant_id) = tenant_with_id(&admin).await;
    // GIVEN a source rotated once (two URL items), and a deleted one (its tombstone)
    let (id, url) = source(&tenant, "livechat", Some(LC_SECRET)).await;
    let rotated = tenant
        .post(&format!("/v1/sources/{id}/rotate"), &json!({}))
        .await;
    assert_eq!(rotated.status, 200, "{:?}", rotated.body);
    let (gone, _) = source(&tenant, "olark", None).await;
    assert_eq!(
        tenant.delete(&format!("/v1/sources/{gone}")).await.status,
        204
    );
    let mentions =
        |item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>| {
            item.values()
                .any(|v| v.as_s().is_ok_and(|s| s.contains(tenant_id.as_str())))
        };
    let scan = || async {
        stack
            .dynamodb
            .scan()
            .table_name(&stack.config.table)
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .items
            .unwrap_or_default()
    };
    let before = scan().await.iter().filter(|i| mentions(i)).count();
    // tenant, key and its index, two sources' items, three URL items
    assert!(before >= 7, "{before}");

    // WHEN the admin deletes the tenant
    for calls in 0.. {
        let answer = admin.delete(&format!("/v1/tenants/{tenant_id}")).await;
        match answer.status {
            204 => break,
            202 => assert!(calls < 20, "the purge never finished"),
            other => panic!("{other}: {:?}", answer.body),
        }
    }
    // THEN nothing of its sources remains, and their URLs are unknown
    let left: Vec<_> = scan().await.into_iter().filter(|i| mentions(i)).collect();
    assert!(left.is_empty(), "{left:?}");
    let answer = post_json(&url, &[], &livechat_started()).await;
    assert_eq!(answer.status, 401, "{:?}", answer.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dynamodb_source_store_keeps_its_conditions() {
    use chathooks::adapters::dynamodb::DynamoDbSourceStore;
    use chathooks::domain::ids::TenantId;
    use chathooks::domain::inbound::Platform;
    use chathooks::domain::source::{Source, SourceId, hash};
    use chathooks::ports::{SourceLookup, SourceStore, StoreError};

    let (client, table) = fresh_table().await.unwrap();
    let store = DynamoDbSourceStore::new(client, table);
    let now = chrono::Utc::now();
    let tenant = TenantId::generate();
    let source = Source {
        id: SourceId::generate(),
        tenant_id: tenant.clone(),
        name: "rc".into(),
        platform: Platform::Rocketchat,
        secret_hash: Some(hash("s")),
        created_at: now,
        token_hash: hash("t1"),
        previous_token: None,
    };
    // created once; a second create of the same items is refused
    store.create(&source).await.unwrap();
    assert!(matches!(
        store.create(&source).await,
        Err(StoreError::AlreadyExists)
    ));
    let live = |found: Option<SourceLookup>| match found {
        Some(SourceLookup::Live(s)) => s,
        other => panic!("{other:?}"),
    };
    let found = live(store.by_token_hash(&hash("t1")).await.unwrap());
    assert_eq!(found.secret_hash, source.secret_hash);
    assert_eq!(found.created_at.timestamp(), now.timestamp());
    let other = TenantId::generate();
    assert_eq!(store.get(&other, &source.id).await.unwrap(), None);
    assert!(store.list(&other).await.unwrap().is_empty());

    // a rotation from what was read: the new token and the old one in grace
    let stored = store.get(&tenant, &source.id).await.unwrap().unwrap();
    let next = stored.rotated(hash("t2"), now, chrono::Duration::hours(1));
    assert!(store.rotate(&stored, &next).await.unwrap());
    assert_eq!(
        live(store.by_token_hash(&hash("t2")).await.unwrap()).token_hash,
        hash("t2")
    );
    assert!(store.by_token_hash(&hash("t1")).await.unwrap().is_some());
    // a rotation from a stale read changes nothing
    let stale = stored.rotated(hash("t3"), now, chrono::Duration::hours(1));
    assert!(!store.rotate(&stored, &stale).await.unwrap());
    assert_eq!(store.by_token_hash(&hash("t3")).await.unwrap(), None);
    // a second rotation drops the first token at once
    let current = store.get(&tenant, &source.id).await.unwrap().unwrap();
    let last = current.rotated(hash("t4"), now, chrono::Duration::zero());
    assert!(store.rotate(&current, &last).await.unwrap());
    for gone in ["t1", "t2"] {
        assert_eq!(
            store.by_token_hash(&hash(gone)).await.unwrap(),
            None,
            "{gone}"
        );
    }
    // another tenant cannot delete it; its owner can, and its URL is a tombstone
    let until = now + chrono::Duration::days(30);
    assert!(!store.delete(&other, &source.id, until).await.unwrap());
    assert!(store.delete(&tenant, &source.id, until).await.unwrap());
    assert!(!store.delete(&tenant, &source.id, until).await.unwrap());
    assert_eq!(
        store.by_token_hash(&hash("t4")).await.unwrap(),
        Some(SourceLookup::Deleted)
    );
    assert!(store.list(&tenant).await.unwrap().is_empty());
}
