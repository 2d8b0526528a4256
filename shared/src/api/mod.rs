//! The HTTP error model and request helpers of the two HTTP functions.
//! `ApiError` is the one place application errors become status codes.
pub mod error;
#[cfg(feature = "runtime")]
pub mod request;
pub mod schema;

pub use error::ApiError;
#[cfg(feature = "runtime")]
pub use request::*;
