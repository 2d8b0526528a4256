//! Adapters: the ports implemented on real technology.
pub mod aws;
pub mod dynamodb;
pub mod sqs;
