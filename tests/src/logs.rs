//! Capture of everything the process logs through `tracing`, for tests that
//! check what only the logs show (a retry hop) or what must never be in them
//! (secrets). One capture per test binary: install it before the stack starts.
use std::io::Write;
use std::sync::Mutex;

static LINES: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LINES
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Plain-text lines at INFO and up.
pub fn capture() {
    let _ = tracing_subscriber::fmt()
        .with_writer(|| Capture)
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .try_init();
}

/// JSON lines as the functions write them (`chathooks::telemetry`), under `filter`.
pub fn capture_json(filter: &str) {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_current_span(true)
        .with_span_list(true)
        .with_target(true)
        .with_writer(|| Capture)
        .try_init();
}

/// Everything captured so far.
pub fn captured() -> String {
    String::from_utf8_lossy(&LINES.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
}

/// The captured lines containing every one of `needles`.
pub fn lines_with(needles: &[&str]) -> Vec<String> {
    captured()
        .lines()
        .filter(|l| needles.iter().all(|n| l.contains(n)))
        .map(str::to_string)
        .collect()
}
