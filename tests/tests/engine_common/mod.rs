//! The fixtures of `chathooks_tests::fixtures`, under the name test files
//! import them by (`use crate::engine_common::*;`). New tests may import
//! `chathooks_tests::fixtures::*` directly: there is one fixture layer.
pub use chathooks_tests::fixtures::*;
#[allow(unused_imports)]
pub use chathooks_tests::logs;
