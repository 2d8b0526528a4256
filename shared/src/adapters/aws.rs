//! AWS SDK configuration, loaded once per cold start.
//!
//! Endpoints come from the standard environment (`AWS_ENDPOINT_URL`,
//! `AWS_ENDPOINT_URL_SQS`, `AWS_ENDPOINT_URL_DYNAMODB`), so the same code runs
//! against AWS and against a local emulator.
use aws_config::{BehaviorVersion, SdkConfig};

/// The SDK configuration from the environment.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::load_defaults(BehaviorVersion::latest()).await
}

/// A DynamoDB client for `config`; build it once and share it.
pub fn dynamodb_client(config: &SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(config)
}

/// An SQS client for `config`; build it once and share it.
pub fn sqs_client(config: &SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(config)
}
