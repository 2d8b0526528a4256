//! Shared test fixtures: one emulator per test binary, and uniquely named
//! tables and queues so tests never see each other's data.
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};

use crate::moto::Emulator;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

static EMULATOR: OnceLock<Result<Emulator, String>> = OnceLock::new();

/// The test binary's emulator, started on first use. Statics are never
/// dropped, so a watchdog stops the moto servers once this process is gone.
pub fn emulator() -> Result<&'static Emulator, BoxError> {
    let started = EMULATOR.get_or_init(|| {
        let emulator = Emulator::start().map_err(|e| e.to_string())?;
        reap_when_gone(&[emulator.sqs.pid(), emulator.dynamodb.pid()]);
        Ok(emulator)
    });
    started.as_ref().map_err(|e| e.clone().into())
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

/// `prefix` followed by a random suffix.
pub fn unique_name(prefix: &str) -> String {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}-{}", &suffix[..12])
}

/// A DynamoDB client on the emulator.
pub async fn dynamodb_client() -> Result<aws_sdk_dynamodb::Client, BoxError> {
    let config = emulator()?.dynamodb_config().await;
    Ok(aws_sdk_dynamodb::Client::new(&config))
}

/// An SQS client on the emulator.
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

/// A fresh table on the emulator: the client and the table's name.
pub async fn fresh_table() -> Result<(aws_sdk_dynamodb::Client, String), BoxError> {
    let client = dynamodb_client().await?;
    let name = unique_name("chathooks");
    create_table(&client, &name).await?;
    Ok((client, name))
}

/// A fresh standard queue on the emulator: the client and the queue's URL.
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
