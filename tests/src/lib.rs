//! Test and local-run harness: moto (the AWS emulator) on loopback, the
//! stack's tables and queues provisioned from `template.yaml`, the local
//! stack runner, and recording HTTP receivers.
pub mod bench;
pub mod client;
pub mod fixtures;
pub mod iam;
pub mod local;
pub mod logs;
pub mod metrics;
pub mod moto;
pub mod provision;
pub mod proxy;
pub mod receiver;
pub mod samples;
pub mod verify;

/// A random key-like string (`prefix_` + 32 hex characters).
pub fn random_key(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}
