//! The domain: plain Rust with no AWS crate in it.
pub mod api_key;
pub mod catalogue;
pub mod delivery;
pub mod event;
pub mod ids;
pub mod inbound;
pub mod intake_body;
pub mod integration;
pub mod message;
pub mod retry;
pub mod samples;
pub mod secret;
pub mod sequence;
pub mod signing;
pub mod source;
pub mod ssrf;
pub mod target_url;
pub mod tenant;
pub mod validation;

pub use validation::ValidationError;
