//! Logging: JSON lines through `tracing`, level from `RUST_LOG` (default
//! info). A line carries its own fields only; `CHATHOOKS_LOG_SPANS=1` adds
//! the current span and the span list to every line (and `RUST_LOG=debug`
//! turns on the per-message `sqs_message` span of the queue consumers).

/// Install the JSON subscriber once, writing to stdout; later calls are no-ops.
#[cfg(feature = "runtime")]
pub fn init() {
    init_with_writer(std::io::stdout);
}

/// [`init`] with the lines written to `writer` (benchmarks count them).
#[cfg(feature = "runtime")]
pub fn init_with_writer<W>(writer: W)
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let spans = spans_asked(std::env::var("CHATHOOKS_LOG_SPANS").ok().as_deref());
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(spans)
        .with_span_list(spans)
        .with_target(false)
        .with_writer(writer)
        .try_init();
}

/// Whether `CHATHOOKS_LOG_SPANS` asks for span JSON on every line.
#[cfg(feature = "runtime")]
fn spans_asked(value: Option<&str>) -> bool {
    matches!(value.map(str::trim), Some("1" | "true" | "yes"))
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

    #[cfg(feature = "runtime")]
    #[test]
    fn span_json_only_when_asked() {
        assert!(!spans_asked(None));
        assert!(!spans_asked(Some("")));
        assert!(!spans_asked(Some("0")));
        assert!(spans_asked(Some("1")));
        assert!(spans_asked(Some("true")));
    }

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
