//! Adapters: the ports implemented on real technology (DynamoDB, SQS, HTTP),
//! and in memory for unit tests of the application services.
pub mod aws;
pub mod dynamodb;
pub mod egress;
pub mod memory;
pub mod sqs;
