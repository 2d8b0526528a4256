//! The integration tests, one binary: every module runs against real moto
//! servers, one pair shared by the whole binary (each test provisions its own
//! uniquely named tables and queues: `chathooks_tests::fixtures`), and real
//! HTTP receivers on 127.0.0.1. Run one area with a filter, e.g.
//! `cargo test -p chathooks-tests --test integration engine_intake::`.
//! `security_secrets.rs` is a binary of its own: it captures every log line
//! of its process, which must be its run alone.

mod engine_common;

mod adapters_dynamodb;
mod adapters_sqs;
mod api_keys;
mod backbone;
mod config_api;
mod config_api_log;
mod delivery_invariant;
mod engine_batches;
mod engine_deadletter;
mod engine_hostile;
mod engine_intake;
mod engine_retries;
mod events_samples;
mod events_wellformed;
mod formats_e2e;
mod iam;
mod metrics;
mod ordering;
mod outage;
mod portal_api;
mod provision;
mod security_ssrf;
mod security_tenants;
mod soak;
mod sources;
mod tenants_admin;
