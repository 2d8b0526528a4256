//! Benchmark support for `chathooks-bench` (the end-to-end benchmark and the
//! cost model): an SDK interceptor counting every AWS request by service and
//! operation with the DynamoDB capacity it consumes, process statistics from
//! `/proc`, CPU time by thread and the functions' own threads, a counting
//! allocator, log-line counting, a keep-alive front for moto, the AWS price list the cost model uses, and
//! the results file (`target/bench-results.jsonl`) every run appends its
//! figures to.
pub mod alloc;
pub mod aws_count;
pub mod cost;
pub mod fixtures;
pub mod keepalive;
pub mod logcount;
pub mod ordering;
pub mod procstat;
pub mod results;
pub mod threads;
