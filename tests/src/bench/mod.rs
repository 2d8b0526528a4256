//! Benchmark support for `chathooks-bench` (the end-to-end benchmark and the
//! cost model): an SDK interceptor counting every AWS request by service and
//! operation with the DynamoDB capacity it consumes, process statistics from
//! `/proc`, the AWS price list the cost model uses, and the results file
//! (`target/bench-results.jsonl`) every run appends its figures to.
pub mod aws_count;
pub mod cost;
pub mod fixtures;
pub mod ordering;
pub mod procstat;
pub mod results;
