//! Test and local-run harness: moto (the AWS emulator) on loopback, the
//! stack's tables and queues provisioned from `template.yaml`, receivers.
pub mod fixtures;
pub mod moto;
