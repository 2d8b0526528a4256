//! AWS SDK configuration, loaded once per cold start, and one client per
//! service built from it, shared by every adapter of the function.
//!
//! Endpoints come from the standard environment (`AWS_ENDPOINT_URL`,
//! `AWS_ENDPOINT_URL_SQS`, `AWS_ENDPOINT_URL_DYNAMODB`), so the same code runs
//! against AWS and against a local emulator.
//!
//! What the clients leave out of the SDK's defaults, for CPU per call
//! (BENCHMARKS.md, "CPU per delivery"): stalled-stream protection, which
//! times every poll of every request and response body to abort a transfer
//! slower than 1 B/s after 5 s. Our bodies are a few KB; a call that hangs is
//! bounded by the function's timeout, and its SQS message comes back after
//! the visibility timeout (at-least-once, README "Storage and queues").
//! Retries (standard mode, 3 attempts), the connect timeout, SigV4 and the
//! identity cache stay as the SDK sets them.
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::config::StalledStreamProtectionConfig;

/// The SDK configuration from the environment.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .load()
        .await
}

/// The DynamoDB client configuration the functions use, from `config`.
pub fn dynamodb_config(config: &SdkConfig) -> aws_sdk_dynamodb::config::Builder {
    aws_sdk_dynamodb::config::Builder::from(config)
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
}

/// The SQS client configuration the functions use, from `config`.
pub fn sqs_config(config: &SdkConfig) -> aws_sdk_sqs::config::Builder {
    aws_sdk_sqs::config::Builder::from(config)
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
}

/// A DynamoDB client for `config`; build it once and share it.
pub fn dynamodb_client(config: &SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(dynamodb_config(config).build())
}

/// An SQS client for `config`; build it once and share it.
pub fn sqs_client(config: &SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::from_conf(sqs_config(config).build())
}
