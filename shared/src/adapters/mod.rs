//! Adapters: the ports implemented on real technology (DynamoDB, SQS, HTTP),
//! and in memory for unit tests of the application services.
#[cfg(feature = "runtime")]
pub mod aws;
#[cfg(feature = "runtime")]
pub mod dynamodb;
#[cfg(feature = "runtime")]
pub mod egress;
pub mod memory;
#[cfg(feature = "runtime")]
pub mod sqs;
