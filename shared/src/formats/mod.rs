//! Payload formats: one module per format, each a pure function from
//! (event, integration) to the body and the format's own headers.
//! Signing and the Standard Webhooks headers are added by `app::outbound`
//! for every format alike.
use crate::domain::event::Event;
use crate::domain::integration::{Format, Integration};

pub mod amplifyreach;
mod common;
#[cfg(test)]
pub(crate) mod golden_tests;
#[cfg(test)]
pub(crate) mod key_sets;
pub mod livechat;
pub mod olark;
pub mod rocketchat;
pub mod standard;
#[cfg(test)]
mod wire_examples;

/// A rendered payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// The format's own headers (e.g. Rocket.Chat's token header).
    pub headers: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RenderError {
    #[error("format `{format}` cannot render `{event_type}` events")]
    Unsupported {
        format: &'static str,
        event_type: &'static str,
    },
    #[error("the event lacks `{0}`, which this format needs")]
    Missing(&'static str),
}

pub const JSON: &str = "application/json";

/// Render `event` for `integration` in the integration's format.
pub fn render(event: &Event, integration: &Integration) -> Result<Rendered, RenderError> {
    match integration.format() {
        Format::Standard => standard::render(event),
        Format::Rocketchat => rocketchat::render(event, integration),
        Format::Livechat => livechat::render(event, integration),
        Format::Olark => olark::render(event),
        Format::Amplifyreach => amplifyreach::render(event),
    }
}
