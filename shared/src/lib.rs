//! chathooks shared library.
//!
//! - [`domain`]: plain Rust, no AWS: the event catalogue, integrations,
//!   deliveries, queue messages, signing, retry policies, SSRF rules.
//! - [`formats`]: one renderer per payload format (pure functions).
//! - [`ports`]: the narrow async traits the application needs from the outside world.
//! - [`adapters`]: the ports implemented on DynamoDB, SQS, HTTP, and in memory (unit tests).
//! - [`app`]: application services the four Lambda functions call.
//! - [`api`]: the HTTP error model and request helpers shared by the two HTTP functions.
//! - [`config`], [`telemetry`]: read once at cold start.
//!
//! The `runtime` feature (default) holds everything that needs the AWS SDK,
//! the Lambda runtime or the HTTP client: the real adapters, the request
//! helpers of [`api`], [`consumer`], [`wiring`] and the log subscriber.
pub mod adapters;
pub mod api;
pub mod app;
pub mod config;
#[cfg(feature = "runtime")]
pub mod consumer;
pub mod domain;
pub mod formats;
pub mod metrics;
pub mod ports;
pub mod telemetry;
#[cfg(feature = "runtime")]
pub mod wiring;
