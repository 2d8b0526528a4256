//! Logging: JSON lines through `tracing`, level from `RUST_LOG` (default info).

/// Install the JSON subscriber once; later calls are no-ops.
#[cfg(feature = "runtime")]
pub fn init() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_target(false)
        .try_init();
}

/// An error with its whole source chain, `outer: cause: root cause`, for
/// the one log line at the boundary that handles it.
pub struct Chain<'a>(pub &'a (dyn std::error::Error + 'a));

/// [`Chain`] of `err`.
pub fn chain<'a>(err: &'a (dyn std::error::Error + 'a)) -> Chain<'a> {
    Chain(err)
}

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(err) = source {
            write!(f, ": {err}")?;
            source = err.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("inner")]
    struct Inner(#[source] std::io::Error);

    #[test]
    fn the_chain_names_every_source() {
        let err = Outer(Inner(std::io::Error::other("connection refused")));
        assert_eq!(chain(&err).to_string(), "outer: inner: connection refused");
        let store = crate::ports::StoreError::Unavailable(Box::new(err));
        assert_eq!(
            chain(&store).to_string(),
            "the store is unavailable: outer: inner: connection refused"
        );
    }
}
