//! Log lines and bytes the functions write, counted on their way to
//! `/dev/null` (one `write` per line, as stdout's line buffering does on
//! Lambda): the product's own subscriber (`chathooks::telemetry`) with a
//! counting writer, and a metrics sink counting the EMF lines likewise.
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Clone, Default)]
pub struct LineCounter {
    lines: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
}

impl LineCounter {
    /// (lines, bytes) so far.
    pub fn get(&self) -> (u64, u64) {
        (
            self.lines.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }

    fn add(&self, buf: &[u8]) {
        self.lines.fetch_add(
            buf.iter().filter(|b| **b == b'\n').count() as u64,
            Ordering::Relaxed,
        );
        self.bytes.fetch_add(buf.len() as u64, Ordering::Relaxed);
    }
}

/// A writer per log line: counts it and writes it to /dev/null.
pub struct CountingWriter<'a> {
    counter: &'a LineCounter,
    null: &'a std::fs::File,
}

impl Write for CountingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.counter.add(buf);
        self.null.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `tracing_subscriber`'s `MakeWriter` for `chathooks::telemetry::init_with_writer`.
#[derive(Clone)]
pub struct CountingMakeWriter {
    counter: LineCounter,
    null: Arc<std::fs::File>,
}

impl CountingMakeWriter {
    pub fn new(counter: LineCounter) -> std::io::Result<Self> {
        Ok(Self {
            counter,
            null: Arc::new(std::fs::OpenOptions::new().write(true).open("/dev/null")?),
        })
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CountingMakeWriter {
    type Writer = CountingWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        CountingWriter {
            counter: &self.counter,
            null: &self.null,
        }
    }
}

/// A metrics sink that counts the EMF lines and writes them to /dev/null,
/// as `StdoutSink` writes them to stdout on Lambda.
pub struct CountingMetricsSink {
    counter: LineCounter,
    null: std::sync::Mutex<std::fs::File>,
}

impl CountingMetricsSink {
    pub fn new(counter: LineCounter) -> std::io::Result<Self> {
        Ok(Self {
            counter,
            null: std::sync::Mutex::new(std::fs::OpenOptions::new().write(true).open("/dev/null")?),
        })
    }
}

impl chathooks::metrics::MetricsSink for CountingMetricsSink {
    fn write_line(&self, line: &str) {
        self.counter.add(line.as_bytes());
        self.counter.add(b"\n");
        let mut null = self.null.lock().unwrap_or_else(|p| p.into_inner());
        let _ = null.write_all(line.as_bytes());
        let _ = null.write_all(b"\n");
    }
}
