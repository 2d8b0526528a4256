//! The benchmarks' results file: each run appends one JSON line per figure
//! to `target/bench-results.jsonl` (`BENCH_RESULTS` to write elsewhere), and
//! `scripts/bench-table.py` prints BENCHMARKS.md's tables from it, so a
//! figure in the doc always comes with the command that produced it.
//!
//! A line: `{"bench", "name", "figure", "unit", "command", "date", "load"}`,
//! where `bench` is the scenario (`e2e`, `soak`...), `name` the figure
//! (`latency_p50`...), `command` the exact command line of the run and
//! `load` the 1-minute load average when the line was written.
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;

/// Where results go: `$BENCH_RESULTS`, else `target/bench-results.jsonl`
/// at the workspace root.
pub fn path() -> PathBuf {
    std::env::var_os("BENCH_RESULTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            crate::moto::workspace_root()
                .join("target")
                .join("bench-results.jsonl")
        })
}

/// The figures of one run, written together by [`Run::append`].
#[derive(Debug)]
pub struct Run {
    bench: String,
    command: String,
    figures: Vec<(String, f64, String)>,
}

impl Run {
    pub fn new(bench: &str, command: impl Into<String>) -> Self {
        Self {
            bench: bench.to_string(),
            command: command.into(),
            figures: Vec::new(),
        }
    }

    /// Records one figure (`unit` as printed: `ms`, `s`, `deliveries/s`, `$`...).
    pub fn figure(&mut self, name: &str, figure: f64, unit: &str) -> &mut Self {
        self.figures
            .push((name.to_string(), figure, unit.to_string()));
        self
    }

    /// Appends the run's figures to the results file, one JSON line each.
    pub fn append(&self) -> std::io::Result<PathBuf> {
        let path = path();
        self.append_to(&path)?;
        Ok(path)
    }

    /// Appends the run's figures to `path`, one JSON line each.
    pub fn append_to(&self, path: &std::path::Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let date = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let load = load_average();
        let mut out = String::new();
        for (name, figure, unit) in &self.figures {
            // NaN and infinities are not JSON: such a figure is written as null.
            let value = if figure.is_finite() {
                json!(figure)
            } else {
                json!(null)
            };
            out.push_str(
                &json!({
                    "bench": self.bench, "name": name, "figure": value, "unit": unit,
                    "command": self.command, "date": date, "load": load,
                })
                .to_string(),
            );
            out.push('\n');
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        file.write_all(out.as_bytes())
    }
}

/// The 1-minute load average (`/proc/loadavg`), if readable.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn a_run_appends_one_json_line_per_figure() -> Result<(), Box<dyn std::error::Error>> {
        let dir = std::env::temp_dir().join(format!("bench-results-{}", uuid::Uuid::new_v4()));
        let file = dir.join("r.jsonl");
        let mut run = Run::new("e2e", "chathooks-bench e2e --events 1");
        run.figure("latency_p50", 1.5, "ms")
            .figure("latency_max", f64::NAN, "ms");
        run.append_to(&file)?;
        run.append_to(&file)?;
        let lines: Vec<Value> = std::fs::read_to_string(&file)?
            .lines()
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()?;
        std::fs::remove_dir_all(&dir)?;
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0]["bench"], "e2e");
        assert_eq!(lines[0]["name"], "latency_p50");
        assert_eq!(lines[0]["figure"], 1.5);
        assert_eq!(lines[0]["unit"], "ms");
        assert_eq!(lines[0]["command"], "chathooks-bench e2e --events 1");
        assert!(lines[0]["date"].as_str().is_some_and(|d| d.ends_with('Z')));
        assert_eq!(lines[1]["figure"], Value::Null);
        Ok(())
    }
}
