//! The integration tests' fixtures, one layer for every test file: moto
//! emulators shared by the tests of a process, local stacks on them (each
//! with uniquely named tables and queues, so tests never see each other's
//! data), tenants, integrations and events through the API, and waits on
//! the delivery log and the queues instead of fixed sleeps.
//!
//! A test usually reads:
//! ```ignore
//! let (stack, _admin, tenant) = stack_with(&[]).await;
//! let (id, _) = integration(&tenant, &receiver.url("/hook"), json!({})).await;
//! let delivery = post_event(&tenant, "evt-1").await;
//! let d = wait_settled(&tenant, &delivery, WAIT).await;
//! wait_idle(&stack).await; // nothing left to deliver: now count what arrived
//! ```
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{Value, json};

use crate::client::ApiClient;
use crate::local::LocalStack;
use crate::moto::{Emulator, sdk_config};

pub use crate::local::{LocalOptions, new_tenant};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long a test waits for something the engine does within a second or
/// two when the machine is idle: generous, since a wait returns as soon as
/// its condition holds, and a loaded machine (2 cores shared by the tests,
/// moto and whatever else runs) is many times slower.
pub const WAIT: Duration = Duration::from_secs(30);

/// Emulators shared by the tests of this process (`CHATHOOKS_TEST_EMULATORS`,
/// default 1), each a moto pair (SQS and DynamoDB in their own processes),
/// handed out round-robin and started on first use.
const DEFAULT_EMULATORS: usize = 1;

struct Pool {
    slots: Vec<OnceLock<Result<Arc<Emulator>, String>>>,
    next: AtomicUsize,
}

static POOL: OnceLock<Pool> = OnceLock::new();

fn pool() -> &'static Pool {
    POOL.get_or_init(|| {
        let size = std::env::var("CHATHOOKS_TEST_EMULATORS")
            .ok()
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_EMULATORS);
        Pool {
            slots: (0..size).map(|_| OnceLock::new()).collect(),
            next: AtomicUsize::new(0),
        }
    })
}

/// A shared emulator (the next one of the pool), started on first use.
/// Statics are never dropped, so a watchdog stops the moto servers once this
/// process is gone.
pub fn emulator() -> Result<Arc<Emulator>, BoxError> {
    let pool = pool();
    let slot = &pool.slots[pool.next.fetch_add(1, Ordering::Relaxed) % pool.slots.len()];
    let started = slot.get_or_init(|| {
        let emulator = Emulator::start().map_err(|e| e.to_string())?;
        reap_when_gone(&[emulator.sqs.pid(), emulator.dynamodb.pid()]);
        Ok(Arc::new(emulator))
    });
    started.clone().map_err(Into::into)
}

/// Stop `pids` once the current process has exited.
fn reap_when_gone(pids: &[u32]) {
    let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
    let script = "while kill -0 \"$0\" 2>/dev/null; do sleep 1; done; kill \"$@\" 2>/dev/null";
    // Best effort: without the watchdog the servers only outlive the tests.
    let _ = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(std::process::id().to_string())
        .args(&pids)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

// ---- stacks ---------------------------------------------------------------

/// Options with these `CHATHOOKS_*` settings over the template's.
pub fn options(settings: &[(&str, &str)]) -> LocalOptions {
    LocalOptions {
        settings: settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..LocalOptions::default()
    }
}

/// A fresh stack on a shared emulator: provisioned, not serving, no consumers.
pub async fn start(options: LocalOptions) -> LocalStack {
    let emulator = emulator().expect("moto emulator");
    LocalStack::start_on(emulator, options)
        .await
        .expect("local stack")
}

/// A fresh stack on a shared emulator serving the API on a free port, its
/// consumers not started (nothing is delivered until `start_consumers`), and
/// an admin client for it.
pub async fn serving(options: LocalOptions) -> (LocalStack, ApiClient) {
    let mut stack = start(options).await;
    let addr = stack.serve(0).await.expect("serve the API");
    let admin = ApiClient::new(
        format!("http://{addr}"),
        Some(stack.options.admin_key.clone()),
    );
    (stack, admin)
}

/// A fresh stack on a shared emulator, serving the API on a free port with
/// its consumers running, and an admin client for it.
pub async fn running(options: LocalOptions) -> (LocalStack, ApiClient) {
    let (mut stack, admin) = serving(options).await;
    stack.start_consumers();
    (stack, admin)
}

/// A running stack (see [`running`]), its admin client and a tenant on it.
pub async fn stack_opts(options: LocalOptions) -> (LocalStack, ApiClient, ApiClient) {
    let (stack, admin) = running(options).await;
    let tenant = new_tenant(&admin).await;
    (stack, admin, tenant)
}

/// A running stack with these `CHATHOOKS_*` settings, its admin client and a tenant.
pub async fn stack_with(settings: &[(&str, &str)]) -> (LocalStack, ApiClient, ApiClient) {
    stack_opts(options(settings)).await
}

/// A new tenant: its client and its id.
pub async fn tenant_with_id(admin: &ApiClient) -> (ApiClient, String) {
    let created = admin
        .post("/v1/tenants", &json!({"name": "test tenant"}))
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let key = created.body["api_key"].as_str().expect("api_key");
    let id = created.body["id"].as_str().expect("id").to_string();
    (admin.with_key(key), id)
}

// ---- integrations and events ---------------------------------------------

/// Create an integration from `body`; returns the API's answer (201, with the secret).
pub async fn create_integration(tenant: &ApiClient, body: Value) -> Value {
    let created = tenant.post("/v1/integrations", &body).await;
    assert_eq!(created.status, 201, "{body} -> {:?}", created.body);
    created.body
}

/// Create a standard integration for chat.closed at `url`, with `extra`
/// fields merged in. Returns its id and the API's answer.
pub async fn integration(tenant: &ApiClient, url: &str, extra: Value) -> (String, Value) {
    let mut body = json!({"name": "test", "url": url, "events": ["chat.closed"]});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    let created = create_integration(tenant, body).await;
    let id = created["id"].as_str().expect("id").to_string();
    (id, created)
}

/// A chat.closed event `id` for the chat `chat-{id}`, with one visitor message.
pub fn closed_chat(id: &str) -> Value {
    json!({
        "id": id, "type": "chat.closed", "occurred_at": "2026-11-21T10:00:00Z",
        "chat": {"id": format!("chat-{id}"), "messages": [
            {"author_type": "visitor", "author_name": "Mary Brown", "text": "Hello", "sent_at": "2026-11-21T09:59:00Z"}
        ]},
        "visitor": {"id": "v-1", "name": "Mary Brown", "email": "mary.brown@example.com"}
    })
}

/// Post `event` (one event or a batch); asserts 202 and returns the answer.
pub async fn accept(tenant: &ApiClient, event: &Value) -> Value {
    let accepted = tenant.post("/v1/events", event).await;
    assert_eq!(accepted.status, 202, "{event}: {:?}", accepted.body);
    accepted.body
}

/// Post one chat.closed event; returns the id of its (single) delivery.
pub async fn post_event(tenant: &ApiClient, event_id: &str) -> String {
    let accepted = accept(tenant, &closed_chat(event_id)).await;
    accepted["deliveries"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no delivery planned: {accepted}"))
        .to_string()
}

// ---- the delivery log ----------------------------------------------------

/// Poll `GET /v1/deliveries/{id}` until `done` holds or `timeout` passes;
/// returns the last body (the log has a delivery from its first attempt on:
/// until then the answer is a 404).
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

/// Wait until the delivery is no longer pending (succeeded or failed).
pub async fn wait_settled(tenant: &ApiClient, id: &str, timeout: Duration) -> Value {
    wait_delivery(tenant, id, timeout, |d| {
        d["status"] == "succeeded" || d["status"] == "failed"
    })
    .await
}

/// Wait until the delivery's status is `status`.
pub async fn wait_status(tenant: &ApiClient, id: &str, status: &str) -> Value {
    let d = wait_delivery(tenant, id, WAIT, |d| d["status"] == status).await;
    assert_eq!(d["status"], status, "{d}");
    d
}

/// A delivery's attempts as the API lists them.
pub fn attempts(delivery: &Value) -> Vec<Value> {
    delivery["attempts"].as_array().cloned().unwrap_or_default()
}

// ---- the queues ------------------------------------------------------------

/// The queues a job lives in between the intake and its last attempt.
const WORK_QUEUES: [&str; 2] = ["DeliveryQueue", "RetryQueue"];

/// Messages a queue holds in any state (visible, received and not yet
/// deleted, delayed), read from moto directly (not through a stack's outage
/// proxy); a queue that does not exist holds none.
pub async fn queue_depth(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> u64 {
    let out = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
        .send()
        .await;
    let out = match out {
        Ok(out) => out,
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_queue_does_not_exist()) =>
        {
            return 0;
        }
        Err(e) => panic!("GetQueueAttributes {queue_url}: {e:?}"),
    };
    out.attributes()
        .into_iter()
        .flat_map(|a| a.values())
        .filter_map(|n| n.parse::<u64>().ok())
        .sum()
}

/// Wait until the stack has nothing left to do: its delivery and retry
/// queues hold no message in any state, on two rounds of reads in a row. A
/// job moving between the two queues is always in one of them (it is sent to
/// the next before it is deleted from the one it was in), so two clean
/// rounds mean every attempt that will ever be made has been made: what a
/// receiver got by then is all it gets. Panics after `timeout` with the depths.
pub async fn wait_idle_within(stack: &LocalStack, timeout: Duration) {
    let sqs = aws_sdk_sqs::Client::new(&sdk_config(&stack.emulator.sqs.endpoint).await);
    let urls: Vec<String> = WORK_QUEUES.iter().map(|q| stack.queue_url(q)).collect();
    let deadline = Instant::now() + timeout;
    let mut clean_rounds = 0;
    loop {
        let mut depths = Vec::new();
        for url in &urls {
            depths.push(queue_depth(&sqs, url).await);
        }
        if depths.iter().all(|d| *d == 0) {
            clean_rounds += 1;
            if clean_rounds == 2 {
                return;
            }
        } else {
            clean_rounds = 0;
        }
        assert!(
            Instant::now() < deadline,
            "still busy after {timeout:?}: {WORK_QUEUES:?} hold {depths:?} messages"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// [`wait_idle_within`] the default [`WAIT`].
pub async fn wait_idle(stack: &LocalStack) {
    wait_idle_within(stack, WAIT).await;
}

// ---- bare tables and queues (adapter tests) --------------------------------

/// `prefix` followed by a random suffix.
pub fn unique_name(prefix: &str) -> String {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}-{}", &suffix[..12])
}

/// A DynamoDB client on a shared emulator.
pub async fn dynamodb_client() -> Result<aws_sdk_dynamodb::Client, BoxError> {
    let config = emulator()?.dynamodb_config().await;
    Ok(aws_sdk_dynamodb::Client::new(&config))
}

/// An SQS client on a shared emulator.
pub async fn sqs_client() -> Result<aws_sdk_sqs::Client, BoxError> {
    let config = emulator()?.sqs_config().await;
    Ok(aws_sdk_sqs::Client::new(&config))
}

fn key(name: &str, kind: KeyType) -> Result<KeySchemaElement, BoxError> {
    Ok(KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()?)
}

fn string_attribute(name: &str) -> Result<AttributeDefinition, BoxError> {
    Ok(AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()?)
}

/// Create the stack's table (pk/sk, index `gsi1` on gsi1pk/gsi1sk, TTL on
/// `expires_at`) under `name`.
pub async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str) -> Result<(), BoxError> {
    let gsi1 = GlobalSecondaryIndex::builder()
        .index_name("gsi1")
        .key_schema(key("gsi1pk", KeyType::Hash)?)
        .key_schema(key("gsi1sk", KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()?;
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .attribute_definitions(string_attribute("pk")?)
        .attribute_definitions(string_attribute("sk")?)
        .attribute_definitions(string_attribute("gsi1pk")?)
        .attribute_definitions(string_attribute("gsi1sk")?)
        .global_secondary_indexes(gsi1)
        .send()
        .await?;
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("expires_at")
                .enabled(true)
                .build()?,
        )
        .send()
        .await?;
    Ok(())
}

/// A fresh table on a shared emulator: the client and the table's name.
pub async fn fresh_table() -> Result<(aws_sdk_dynamodb::Client, String), BoxError> {
    let client = dynamodb_client().await?;
    let name = unique_name("chathooks");
    create_table(&client, &name).await?;
    Ok((client, name))
}

/// A fresh standard queue on a shared emulator: the client and the queue's URL.
pub async fn fresh_queue() -> Result<(aws_sdk_sqs::Client, String), BoxError> {
    let client = sqs_client().await?;
    let out = client
        .create_queue()
        .queue_name(unique_name("chathooks"))
        .send()
        .await?;
    let url = out.queue_url.ok_or("CreateQueue returned no queue URL")?;
    Ok((client, url))
}

/// A new integration with `base`'s settings pointed at `url`, validated under
/// `policy`: the SSRF tests store straight into the table the URLs the API
/// refuses, to check the dispatcher's own guard.
pub fn retargeted(
    base: &chathooks::domain::integration::Integration,
    url: &str,
    policy: chathooks::domain::target_url::UrlPolicy,
) -> chathooks::domain::integration::Integration {
    use chathooks::domain::integration::{Integration, NewIntegration};
    let input = NewIntegration {
        name: Some(base.name().to_string()),
        url: url.to_string(),
        format: base.format(),
        events: base.events().iter().map(|e| e.to_string()).collect(),
        secret: Some(base.secret().expose().to_string()),
        timeout_ms: Some(base.timeout_ms()),
        retry_policy: Some(base.retry_policy().clone()),
        ordering: None,
        headers: Some(base.headers().clone()),
        enabled: Some(true),
        format_options: Some(base.format_options().clone()),
    };
    Integration::create(base.tenant_id(), input, policy, chrono::Utc::now())
        .unwrap_or_else(|e| panic!("{url}: {e}"))
        .0
}
