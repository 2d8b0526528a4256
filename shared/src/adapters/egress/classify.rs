//! Failed exchanges sorted into `ErrorKind`s, with messages that never carry
//! the URL (reqwest's own `Display` includes it, credentials and all).
use std::error::Error as StdError;
use std::io;
use std::time::Duration;

use super::guard::{LookupFailed, RefusedTarget};
use crate::domain::delivery::ErrorKind;

/// A failed attempt: its kind and a message fit for the delivery log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: ErrorKind,
    pub message: String,
}

impl Failure {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn timed_out(after: Duration) -> Self {
        Self::new(ErrorKind::Timeout, format!("timed out after {after:?}"))
    }
}

/// Sort a transport error (a `reqwest::Error` and its source chain).
pub fn classify(err: &(dyn StdError + 'static), timeout: Duration) -> Failure {
    if let Some(refused) = find::<RefusedTarget>(err) {
        return Failure::new(ErrorKind::RefusedTarget, refused.to_string());
    }
    let cause = root_cause(err);
    if is_timeout(err) {
        return Failure::timed_out(timeout);
    }
    if let Some(lookup) = find::<LookupFailed>(err) {
        return Failure::new(ErrorKind::Dns, format!("DNS lookup failed: {lookup}"));
    }
    if chain(err).any(|e| {
        e.downcast_ref::<reqwest::Error>()
            .is_some_and(|r| r.is_dns())
    }) {
        return Failure::new(ErrorKind::Dns, format!("DNS lookup failed: {cause}"));
    }
    if is_tls(err) {
        return Failure::new(ErrorKind::Tls, format!("TLS failed: {cause}"));
    }
    Failure::new(ErrorKind::Connect, format!("connection failed: {cause}"))
}

/// The error and its causes. An `io::Error` hides its payload from `source()`
/// (it reports the payload's own source), so its payload is visited explicitly.
fn chain<'a>(
    err: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(err), |&e| match e.downcast_ref::<io::Error>() {
        Some(io) => io.get_ref().map(|inner| inner as &(dyn StdError + 'static)),
        None => e.source(),
    })
}

fn find<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    chain(err).find_map(|e| e.downcast_ref::<T>())
}

/// The innermost error: the precise reason, and never reqwest's URL-bearing wrapper.
fn root_cause(err: &(dyn StdError + 'static)) -> String {
    chain(err)
        .last()
        .filter(|e| e.downcast_ref::<reqwest::Error>().is_none())
        .map(|e| e.to_string())
        .unwrap_or_else(|| "unknown error".to_string())
}

fn is_timeout(err: &(dyn StdError + 'static)) -> bool {
    chain(err).any(|e| {
        e.downcast_ref::<reqwest::Error>()
            .is_some_and(|r| r.is_timeout())
            || e.downcast_ref::<io::Error>()
                .is_some_and(|io| io.kind() == io::ErrorKind::TimedOut)
    })
}

/// The TLS stack reports handshake and certificate failures as an
/// `InvalidData` I/O error wrapping its own error, where socket failures are
/// OS errors (refused, reset) that carry an errno.
fn is_tls(err: &(dyn StdError + 'static)) -> bool {
    chain(err).any(|e| {
        e.downcast_ref::<io::Error>().is_some_and(|io| {
            io.kind() == io::ErrorKind::InvalidData && io.raw_os_error().is_none()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::egress::guard::check_ip;

    const T: Duration = Duration::from_secs(2);

    /// A wrapper standing in for the layers reqwest and hyper put around a cause.
    #[derive(Debug, thiserror::Error)]
    #[error("error sending request for url (https://user:secret@example.com/)")]
    struct Wrapper(#[source] Box<dyn StdError + Send + Sync>);

    fn wrapped(inner: impl StdError + Send + Sync + 'static) -> Wrapper {
        Wrapper(Box::new(Wrapper(Box::new(inner))))
    }

    #[test]
    fn a_refusal_is_found_however_deeply_wrapped() {
        // GIVEN the guard's refusal buried under two layers
        let refused = check_ip("10.0.0.1".parse().unwrap()).unwrap_err();
        let failure = classify(&wrapped(refused), T);
        // THEN the kind and the guard's message survive
        assert_eq!(failure.kind, ErrorKind::RefusedTarget);
        assert_eq!(failure.message, "refused: 10.0.0.1 is a private address");
    }

    #[test]
    fn an_io_timeout_is_a_timeout() {
        let err = wrapped(io::Error::from(io::ErrorKind::TimedOut));
        assert_eq!(classify(&err, T), Failure::timed_out(T));
        assert_eq!(Failure::timed_out(T).message, "timed out after 2s");
    }

    #[test]
    fn os_socket_errors_are_connect_failures_named_by_their_cause() {
        let err = wrapped(io::Error::from_raw_os_error(111));
        let failure = classify(&err, T);
        assert_eq!(failure.kind, ErrorKind::Connect);
        assert!(failure.message.starts_with("connection failed: "));
    }

    #[test]
    fn invalid_data_from_the_tls_layer_is_a_tls_failure() {
        let err = wrapped(io::Error::new(
            io::ErrorKind::InvalidData,
            "invalid peer certificate: UnknownIssuer",
        ));
        let failure = classify(&err, T);
        assert_eq!(failure.kind, ErrorKind::Tls);
        assert_eq!(
            failure.message,
            "TLS failed: invalid peer certificate: UnknownIssuer"
        );
    }

    #[test]
    fn a_tls_error_nested_in_another_io_error_is_still_found() {
        // GIVEN the shape hyper-rustls produces: Other(InvalidData(tls error))
        let tls = io::Error::new(io::ErrorKind::InvalidData, "received corrupt message");
        let err = wrapped(io::Error::other(tls));
        // THEN it is a TLS failure named by the innermost cause
        let failure = classify(&err, T);
        assert_eq!(failure.kind, ErrorKind::Tls);
        assert_eq!(failure.message, "TLS failed: received corrupt message");
    }

    #[test]
    fn messages_never_repeat_the_wrappers_url() {
        for err in [
            wrapped(io::Error::from_raw_os_error(104)),
            wrapped(io::Error::new(io::ErrorKind::InvalidData, "bad record")),
        ] {
            let failure = classify(&err, T);
            assert!(!failure.message.contains("secret"), "{}", failure.message);
        }
    }
}
