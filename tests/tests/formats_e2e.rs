//! Every payload format end to end: events posted to the local stack (moto,
//! HTTP API, emulated SQS consumers) reach real receivers on 127.0.0.1 in the
//! shape the original platform's receiver parses, each signed the Standard
//! Webhooks way, one test per format; plus URL credentials as Basic auth, the
//! "Return JSON" link and the config API refusing events a format cannot render.
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chathooks_tests::fixtures::*;
use chathooks_tests::receiver::{Received, Receiver, Reply};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// ---- events -------------------------------------------------------------

const CHAT_ID: &str = "chat-e2e-1";

fn visitor() -> Value {
    json!({
        "id": "vis-1", "name": "Mary Brown", "username": "mary.brown",
        "email": "mary@example.com", "phone": "+15550100", "ip": "203.0.113.7",
        "browser": "Firefox 120", "os": "Linux", "city": "Oslo", "country": "Norway",
        "country_code": "NO", "custom_fields": {"customerId": "C-77"}
    })
}

fn agent() -> Value {
    json!({"id": "ag-1", "name": "John Doe", "username": "john.doe", "email": "john@example.com"})
}

/// The chat as it stands after `n` messages (1 or 2).
fn chat(n: usize) -> Value {
    let messages = [
        json!({"author_type": "agent", "author_id": "ag-1", "author_name": "John Doe", "author_username": "john.doe",
               "text": "Hello, how can I help?", "sent_at": "2026-11-21T10:00:00.250Z"}),
        json!({"author_type": "visitor", "author_name": "Mary Brown", "author_username": "mary.brown",
               "text": "My invoice is wrong.", "sent_at": "2026-11-21T10:00:05Z"}),
    ];
    json!({
        "id": CHAT_ID, "label": "Invoice", "topic": "billing", "code": 4242,
        "started_at": "2026-11-21T10:00:00Z", "last_message_at": "2026-11-21T10:00:05Z",
        "department": "sales", "tags": ["vip"], "custom_fields": {"plan": "gold"},
        "groups": [{"id": "grp-1", "name": "Sales"}], "agents": [agent()],
        "messages": messages[..n].to_vec()
    })
}

fn chat_started() -> Value {
    json!({"id": "e2e-started", "type": "chat.started", "occurred_at": "2026-11-21T10:00:00Z",
           "chat": chat(1), "visitor": visitor(), "agent": agent()})
}

fn lead_captured() -> Value {
    json!({"id": "e2e-lead", "type": "lead.captured", "occurred_at": "2026-11-21T10:00:06Z",
           "chat": chat(2), "visitor": visitor(), "agent": agent(),
           "lead": {"name": "Mary B. Brown", "email": "mary.lead@example.com", "phone": "+15550199"}})
}

fn chat_closed() -> Value {
    let mut chat = chat(2);
    chat["ended_at"] = json!("2026-11-21T10:01:00Z");
    json!({"id": "e2e-closed", "type": "chat.closed", "occurred_at": "2026-11-21T10:01:00Z",
           "chat": chat, "visitor": visitor(), "agent": agent(),
           "pre_chat_survey": [{"id": "q1", "type": "name", "label": "Your name", "answer": "Mary Brown"}]})
}

/// An offline message from someone the chat product has no visitor for.
fn offline_message() -> Value {
    json!({"id": "e2e-offline", "type": "offline_message", "occurred_at": "2026-11-21T11:00:00Z",
           "offline_message": {"name": "Ann Lee", "email": "Ann.Lee@Example.com",
                               "message": "Please call me back.", "sent_at": "2026-11-21T11:00:00Z"}})
}

// ---- receiver-side checks -----------------------------------------------

/// An Olark body: a form with exactly one field, `data`, holding JSON.
fn olark_data(got: &Received) -> Value {
    assert_eq!(
        got.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let fields: Vec<(String, String)> = form_urlencoded::parse(&got.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert_eq!(fields.len(), 1, "exactly one form field: {fields:?}");
    assert_eq!(fields[0].0, "data");
    serde_json::from_str(&fields[0].1).expect("data is JSON")
}

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect()
}

fn set<'a>(names: &[&'a str]) -> BTreeSet<&'a str> {
    names.iter().copied().collect()
}

fn find<'a>(got: &'a [Received], what: &str, pick: impl Fn(&Received) -> bool) -> &'a Received {
    let hits: Vec<&Received> = got.iter().filter(|r| pick(r)).collect();
    assert_eq!(hits.len(), 1, "expected one {what}, got {}", hits.len());
    hits[0]
}

/// One integration from `body` on a fresh stack (its receiver's URL filled
/// in); `events` posted in order (each answer's delivery count checked
/// against `planned`); then, once the stack is idle, the receiver holds
/// exactly `expected` webhooks, each signed with the integration's secret
/// (checked as a Standard Webhooks receiver checks it). Returns them.
async fn delivered(body: Value, events: &[(Value, usize)], expected: usize) -> Vec<Received> {
    let (stack, _admin, tenant) = stack_with(&[]).await;
    let receiver = Receiver::start().await;
    let mut body = body;
    body["url"] = json!(receiver.url("/hook"));
    let created = create_integration(&tenant, body).await;
    let secret = created["secret"].as_str().unwrap();
    for (event, planned) in events {
        let accepted = accept(&tenant, event).await;
        let deliveries = accepted["deliveries"].as_array().unwrap();
        assert_eq!(deliveries.len(), *planned, "{event}: {accepted}");
    }
    receiver.wait_for(expected, WAIT).await;
    wait_idle(&stack).await;
    let got = receiver.received();
    assert_eq!(got.len(), expected, "{got:?}");
    for r in &got {
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/hook");
        chathooks_tests::verify::assert_signed(r, secret);
    }
    got
}

// ---- tests ----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn standard_is_the_event_under_type_timestamp_and_data() {
    let got = delivered(
        json!({"name": "std", "events": ["chat.closed"]}),
        &[(chat_closed(), 1)],
        1,
    )
    .await;
    // standard: {"type","timestamp","data"} as JSON
    let hook = &got[0];
    assert_eq!(hook.header("content-type"), Some("application/json"));
    let body = hook.json();
    assert_eq!(keys(&body), set(&["type", "timestamp", "data"]));
    assert_eq!(body["type"], "chat.closed");
    assert!(body["timestamp"].is_string());
    assert_eq!(body["timestamp"], "2026-11-21T10:01:00.000Z");
    assert_eq!(body["data"]["id"], "e2e-closed");
    assert_eq!(body["data"]["chat"]["id"], CHAT_ID);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rocketchat_gets_a_livechat_session_and_an_offline_message_with_its_token() {
    let got = delivered(
        json!({"name": "rc", "format": "rocketchat",
        "events": ["chat.closed", "offline_message"], "format_options": {"token": "rc-token-123"}}),
        &[(chat_closed(), 1), (offline_message(), 1)],
        2,
    )
    .await;
    // rocketchat: LivechatSession with seed 002's keys, LivechatOfflineMessage, the token header
    for r in &got {
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(
            r.header("x-rocketchat-livechat-token"),
            Some("rc-token-123")
        );
    }
    let session = find(&got, "LivechatSession", |r| {
        r.json()["type"] == "LivechatSession"
    })
    .json();
    assert_eq!(
        keys(&session),
        set(&[
            "type",
            "_id",
            "label",
            "topic",
            "code",
            "createdAt",
            "lastMessageAt",
            "tags",
            "customFields",
            "visitor",
            "agent",
            "messages"
        ])
    );
    assert_eq!(
        keys(&session["visitor"]),
        set(&[
            "_id",
            "name",
            "username",
            "department",
            "email",
            "phone",
            "ip",
            "browser",
            "os",
            "customFields"
        ])
    );
    assert_eq!(
        keys(&session["agent"]),
        set(&["_id", "username", "name", "email"])
    );
    assert_eq!(session["_id"], CHAT_ID);
    assert_eq!(session["code"], 4242);
    assert_eq!(session["createdAt"], "2026-11-21T10:00:00.000Z");
    assert_eq!(session["visitor"]["department"], "sales");
    let messages = session["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(
        keys(&messages[0]),
        set(&["username", "agentId", "msg", "ts"])
    );
    assert_eq!(messages[0]["agentId"], "ag-1");
    assert_eq!(keys(&messages[1]), set(&["username", "msg", "ts"]));
    assert_eq!(messages[1]["msg"], "My invoice is wrong.");
    let offline = find(&got, "LivechatOfflineMessage", |r| {
        r.json()["type"] == "LivechatOfflineMessage"
    })
    .json();
    assert_eq!(
        keys(&offline),
        set(&["type", "sentAt", "visitor", "message"])
    );
    assert_eq!(
        offline["visitor"],
        json!({"name": "Ann Lee", "email": "Ann.Lee@Example.com"})
    );
    assert_eq!(offline["message"], "Please call me back.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn livechat_gets_chat_ended_with_its_token_license_and_chosen_data_types() {
    let got = delivered(
        json!({"name": "lc", "format": "livechat", "events": ["chat.closed"],
        "format_options": {"token": "lc-token-9", "license_id": "1025707", "data_types": ["chat"]}}),
        &[(chat_closed(), 1)],
        1,
    )
    .await;
    // livechat: chat_ended with the configured token and license, only the chosen data types
    let body = got[0].json();
    assert_eq!(got[0].header("content-type"), Some("application/json"));
    assert_eq!(
        keys(&body),
        set(&["event_type", "token", "license_id", "chat"])
    );
    assert_eq!(body["event_type"], "chat_ended");
    assert_eq!(body["token"], "lc-token-9");
    assert_eq!(body["license_id"], "1025707");
    assert_eq!(body["chat"]["id"], CHAT_ID);
    assert_eq!(body["chat"]["started_timestamp"], 1_795_255_200);
    assert_eq!(body["chat"]["messages"][0]["user_type"], "agent");
    assert_eq!(body["chat"]["messages"][1]["user_type"], "visitor");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn olark_with_extra_events_gets_start_lead_final_and_offline_transcripts() {
    let got = delivered(
        json!({"name": "olark+", "format": "olark",
        "events": ["chat.started", "lead.captured", "chat.closed", "offline_message"],
        "format_options": {"extra_events": true}}),
        &[
            (chat_started(), 1),
            (lead_captured(), 1),
            (chat_closed(), 1),
            (offline_message(), 1),
        ],
        4,
    )
    .await;
    // olark: form field `data` with the transcript; start only with extra events
    let transcripts: Vec<Value> = got.iter().map(olark_data).collect();
    let pick = |what: &str, f: &dyn Fn(&Value) -> bool| -> Value {
        let hits: Vec<&Value> = transcripts.iter().filter(|t| f(t)).collect();
        assert_eq!(hits.len(), 1, "one {what} transcript: {transcripts:?}");
        hits[0].clone()
    };
    let start = pick("start", &|t| t["eventType"] == "start");
    let lead = pick("lead", &|t| t["manuallySubmitted"] == true);
    let closed = pick("closed", &|t| {
        t.get("eventType").is_none()
            && t["manuallySubmitted"] == false
            && t["items"].as_array().is_some_and(|i| i.len() == 2)
    });
    let offline = pick("offline", &|t| t["items"][0]["kind"] == "OfflineMessage");
    for t in [&start, &lead, &closed, &offline] {
        assert_eq!(t["kind"], "Conversation");
        assert_eq!(t["visitor"]["kind"], "Visitor");
    }
    assert_eq!(start["items"].as_array().unwrap().len(), 1);
    assert_eq!(lead["id"], CHAT_ID);
    assert_eq!(
        closed["id"], lead["id"],
        "!lead and final transcript share the id"
    );
    assert_eq!(
        keys(&closed),
        set(&[
            "kind",
            "id",
            "manuallySubmitted",
            "tags",
            "items",
            "visitor",
            "operators",
            "groups"
        ])
    );
    assert_eq!(
        closed["items"][0],
        json!({"kind": "MessageToVisitor", "nickname": "John Doe", "timestamp": "1795255200.25",
               "body": "Hello, how can I help?", "operatorId": "ag-1"})
    );
    assert_eq!(
        closed["items"][1],
        json!({"kind": "MessageToOperator", "nickname": "Mary Brown", "timestamp": "1795255205.0",
               "body": "My invoice is wrong."})
    );
    assert_eq!(closed["visitor"]["id"], "vis-1");
    assert_eq!(closed["visitor"]["fullName"], "Mary Brown");
    assert_eq!(
        closed["visitor"]["customFields"],
        json!({"customerId": "C-77", "plan": "gold"})
    );
    assert_eq!(
        closed["operators"]["ag-1"],
        json!({"kind": "Operator", "id": "ag-1", "username": "john.doe", "nickname": "John Doe",
               "emailAddress": "john@example.com"})
    );
    assert_eq!(
        closed["groups"],
        json!([{"kind": "Group", "id": "grp-1", "name": "Sales"}])
    );
    assert_eq!(lead["visitor"]["fullName"], "Mary B. Brown");
    assert_eq!(lead["visitor"]["emailAddress"], "mary.lead@example.com");
    assert_eq!(
        offline["items"],
        json!([{"kind": "OfflineMessage", "timestamp": "1795258800.0", "body": "Please call me back."}])
    );
    assert_eq!(offline["id"], "e2e-offline");
    assert_eq!(offline["visitor"]["id"], "ann.lee@example.com");
    assert_eq!(offline["visitor"]["fullName"], "Ann Lee");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn olark_without_extra_events_gets_the_final_transcript_only() {
    // chat.started plans no delivery without extra_events, even when subscribed
    let got = delivered(
        json!({"name": "olark", "format": "olark", "events": ["chat.started", "chat.closed"]}),
        &[(chat_started(), 0), (chat_closed(), 1)],
        1,
    )
    .await;
    let plain = olark_data(&got[0]);
    assert!(plain.get("eventType").is_none(), "{plain}");
    assert_eq!(plain["id"], CHAT_ID);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn amplifyreach_gets_the_chat_transcript_and_the_contact_information() {
    let got = delivered(
        json!({"name": "amp", "format": "amplifyreach", "events": ["chat.closed", "lead.captured"]}),
        &[(lead_captured(), 1), (chat_closed(), 1)],
        2,
    )
    .await;
    // amplifyreach: Chat Transcript and Contact Information
    for r in &got {
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
    let transcript = find(&got, "Chat Transcript", |r| {
        r.json()["type"] == "Chat Transcript"
    })
    .json();
    assert_eq!(keys(&transcript), set(&["type", "data"]));
    assert_eq!(
        transcript["data"],
        json!({"chat_transcript": "John Doe: Hello, how can I help?\nMary Brown: My invoice is wrong."})
    );
    let contact = find(&got, "Contact Information", |r| {
        r.json()["type"] == "Contact Information"
    })
    .json();
    assert_eq!(
        contact["data"],
        json!({"name": "Mary B. Brown", "email": "mary.lead@example.com", "phone": "+15550199"})
    );
}

/// A bare HTTP/1.1 server recording each request's raw head (request line
/// and headers, as bytes on the wire), answering 200.
async fn raw_receiver() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let store = heads.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let store = store.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                loop {
                    let n = stream.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_string();
                    let length: usize = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + length {
                        store.lock().unwrap().push(head);
                        let _ = stream
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                            .await;
                        let _ = stream.shutdown().await;
                        return;
                    }
                }
            });
        }
    });
    (addr, heads)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn livechat_url_credentials_become_basic_auth_and_never_leak() {
    let (_stack, _admin, tenant) = stack_with(&[]).await;
    let (addr, heads) = raw_receiver().await;
    let port = addr.port();

    // GIVEN a LiveChat integration whose URL carries credentials, as LiveChat recommends
    let created = tenant
        .post(
            "/v1/integrations",
            &json!({"name": "lc-basic", "format": "livechat",
            "url": format!("http://livechat:password@127.0.0.1:{port}/hook"),
            "events": ["chat.closed"], "retry_policy": [1, 1]}),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    let redacted = format!("http://livechat:***@127.0.0.1:{port}/hook");
    assert_eq!(created.body["url"], redacted);

    // WHEN a chat ends
    let accepted = accept(&tenant, &chat_closed()).await;
    let delivery_id = accepted["deliveries"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // THEN the receiver gets HTTP Basic auth, and no credentials in the request line
    let mut waited = 0;
    while heads.lock().unwrap().is_empty() && waited < 300 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
    }
    let head = heads
        .lock()
        .unwrap()
        .first()
        .cloned()
        .expect("no request arrived");
    let request_line = head.lines().next().unwrap();
    assert_eq!(request_line, "POST /hook HTTP/1.1");
    let authorization = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("authorization")
                .then(|| v.trim().to_string())
        })
        .expect("authorization header");
    assert_eq!(
        authorization,
        format!("Basic {}", B64.encode("livechat:password"))
    );
    assert!(
        !head.contains("password"),
        "the password went out in clear: {head}"
    );
    let host = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("host").then(|| v.trim().to_string())
        })
        .expect("host header");
    assert_eq!(host, format!("127.0.0.1:{port}"));
    let detail = wait_settled(&tenant, &delivery_id, WAIT).await;
    assert_eq!(detail["status"], "succeeded", "{detail}");

    // AND the password appears in no API answer
    let got = tenant.get(&format!("/v1/integrations/{id}")).await;
    assert_eq!(got.body["url"], redacted);
    let list = tenant.get("/v1/integrations").await;
    let deliveries = tenant
        .get(&format!("/v1/integrations/{id}/deliveries"))
        .await;
    for (what, answer) in [
        ("create", &created.body),
        ("get", &got.body),
        ("list", &list.body),
        ("delivery", &detail),
        ("delivery log", &deliveries.body),
    ] {
        let text = answer.to_string();
        assert!(
            !text.contains("password"),
            "{what} shows the password: {text}"
        );
    }
    assert!(list.body.to_string().contains(&redacted));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn return_json_links_are_stored_with_their_delivery() {
    let (_stack, _admin, tenant) = stack_with(&[]).await;

    // GIVEN receivers answering Olark's "Return JSON" with each of the three keys
    let mut receivers = Vec::new();
    for (n, key) in ["link", "url", "integrationUrl"].into_iter().enumerate() {
        let link = format!("https://crm.example.com/leads/{n}");
        let body = json!({ key: link }).to_string();
        let receiver = Receiver::scripted(move |_, _| {
            Reply::status(200)
                .with_header("content-type", "application/json")
                .with_body(body.clone())
        })
        .await;
        let id = create_integration(
            &tenant,
            json!({"name": format!("link-{key}"), "url": receiver.url("/"),
            "format": "olark", "events": ["chat.closed"]}),
        )
        .await["id"]
            .as_str()
            .unwrap()
            .to_string();
        receivers.push((id, link, receiver));
    }
    // AND one answering 200 with no link
    let silent = Receiver::start().await;
    let silent_id = create_integration(
        &tenant,
        json!({"name": "no-link", "url": silent.url("/"),
        "format": "olark", "events": ["chat.closed"]}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();

    // WHEN a chat ends
    let accepted = accept(&tenant, &chat_closed()).await;
    let deliveries = accepted["deliveries"].as_array().unwrap().clone();
    assert_eq!(deliveries.len(), 4);
    let delivery_for = |integration: &str| -> String {
        deliveries
            .iter()
            .find(|d| d["integration_id"] == integration)
            .unwrap_or_else(|| panic!("no delivery for {integration}: {deliveries:?}"))["id"]
            .as_str()
            .unwrap()
            .to_string()
    };

    // THEN each delivery shows the link its receiver returned
    for (integration, link, receiver) in &receivers {
        assert_eq!(receiver.wait_for(1, WAIT).await.len(), 1);
        let detail = wait_settled(&tenant, &delivery_for(integration), WAIT).await;
        assert_eq!(detail["status"], "succeeded", "{detail}");
        assert_eq!(detail["link"], link.as_str(), "{detail}");
    }
    let detail = wait_settled(&tenant, &delivery_for(&silent_id), WAIT).await;
    assert_eq!(detail["status"], "succeeded");
    assert!(detail.get("link").is_none_or(Value::is_null), "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_config_api_refuses_events_a_format_cannot_render_naming_them() {
    let (_stack, admin) = serving(LocalOptions::default()).await;
    let tenant = new_tenant(&admin).await;
    for (format, events, refused) in [
        (
            "amplifyreach",
            json!(["chat.closed", "chat.taken"]),
            "chat.taken",
        ),
        ("olark", json!(["message.visitor"]), "message.visitor"),
        ("livechat", json!(["offline_message"]), "offline_message"),
        ("rocketchat", json!(["ticket.created"]), "ticket.created"),
    ] {
        let answer = tenant
            .post(
                "/v1/integrations",
                &json!({"name": "bad", "url": "http://127.0.0.1:9/",
                "format": format, "events": events}),
            )
            .await;
        assert_eq!(answer.status, 400, "{format}: {:?}", answer.body);
        let text = answer.body.to_string();
        assert!(text.contains(refused), "{format}: {text}");
    }
    let amp_id = create_integration(
        &tenant,
        json!({"name": "amp", "url": "http://127.0.0.1:9/",
        "format": "amplifyreach", "events": ["chat.closed"]}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let patched = tenant
        .patch(
            &format!("/v1/integrations/{amp_id}"),
            &json!({"events": ["chat.taken"]}),
        )
        .await;
    assert_eq!(patched.status, 400, "{:?}", patched.body);
    assert!(patched.body.to_string().contains("chat.taken"));
}
