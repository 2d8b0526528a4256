//! Metrics as CloudWatch Embedded Metric Format (EMF) lines: JSON objects
//! with an `_aws.CloudWatchMetrics` directive, written one per line to the
//! function's output, where CloudWatch Logs turns them into metrics (no
//! agent, no API call).
//!
//! A small writer of our own rather than `metrics_cloudwatch_embedded`: that
//! crate installs a global `metrics` recorder and renders each flush through
//! the `metrics` facade's registry (a key per label set, hashed on every
//! record); chathooks records a dozen fixed metrics from three places, so a
//! [`Metrics`] value per function holds the invocation's counts and values in
//! a few small vectors (recording does a linear scan of at most a handful of
//! groups, and a push when a value is new: no string is built per delivery)
//! and renders them once, at the end of the invocation: one EMF line per set
//! of dimension values (a dispatcher batch of ten is usually one to three
//! lines).
//!
//! Dimensions stay low-cardinality so alarms and the dashboard stay cheap:
//! every metric has `Function`; attempts add `Outcome`, `Format` and
//! `ErrorKind`, rejections `Reason`. Each line declares the sets `[Function]`
//! and `[Function, X]` for each extra dimension X, so totals and each
//! breakdown are series of their own. Tenant and integration ids are
//! properties (top-level fields, searchable in Logs Insights), only on the
//! rare lines that need them (deliveries failed for good, integrations
//! disabled).
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::domain::delivery::ErrorKind;
use crate::domain::integration::Format;

/// The CloudWatch namespace of every metric, unless
/// `CHATHOOKS_METRICS_NAMESPACE` names another (template.yaml sets
/// `Chathooks/<stack name>`, so two stacks in one account keep theirs apart).
pub const NAMESPACE: &str = "Chathooks";

/// The namespace this process writes to (read once).
pub fn namespace() -> &'static str {
    static NS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NS.get_or_init(|| {
        std::env::var("CHATHOOKS_METRICS_NAMESPACE")
            .ok()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| NAMESPACE.to_string())
    })
}

/// The `Function` dimension's values.
pub const CONFIG_API: &str = "config-api";
pub const EVENT_INTAKE: &str = "event-intake";
pub const DISPATCHER: &str = "dispatcher";
pub const RETRY_SCHEDULER: &str = "retry-scheduler";

/// The metric names (README: "Metrics and alarms").
pub const COLD_STARTS: &str = "ColdStarts";
pub const EVENTS_ACCEPTED: &str = "EventsAccepted";
pub const EVENTS_DUPLICATE: &str = "EventsDuplicate";
pub const REQUESTS_REJECTED: &str = "RequestsRejected";
pub const DELIVERY_ATTEMPTS: &str = "DeliveryAttempts";
pub const ATTEMPT_DURATION: &str = "AttemptDuration";
pub const DELIVERY_LAG: &str = "DeliveryLag";
pub const RETRIES_SCHEDULED: &str = "RetriesScheduled";
pub const RETRIES_RELEASED: &str = "RetriesReleased";
pub const DELIVERIES_FAILED: &str = "DeliveriesFailed";
pub const INTEGRATIONS_DISABLED: &str = "IntegrationsDisabled";
pub const JOBS_STOOD_DOWN: &str = "JobsStoodDown";

/// Every metric, for documentation checks.
pub const ALL: [&str; 12] = [
    COLD_STARTS,
    EVENTS_ACCEPTED,
    EVENTS_DUPLICATE,
    REQUESTS_REJECTED,
    DELIVERY_ATTEMPTS,
    ATTEMPT_DURATION,
    DELIVERY_LAG,
    RETRIES_SCHEDULED,
    RETRIES_RELEASED,
    DELIVERIES_FAILED,
    INTEGRATIONS_DISABLED,
    JOBS_STOOD_DOWN,
];

/// A metric's CloudWatch unit.
pub fn unit(metric: &str) -> &'static str {
    match metric {
        ATTEMPT_DURATION | DELIVERY_LAG => "Milliseconds",
        _ => "Count",
    }
}

pub use crate::ports::MetricsSink;

/// Lambda's sink: stdout, one line per write (CloudWatch Logs reads it).
pub struct StdoutSink;

impl MetricsSink for StdoutSink {
    fn write_line(&self, line: &str) {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(line.as_bytes());
        let _ = out.write_all(b"\n");
        let _ = out.flush();
    }
}

/// A sink that drops every line (unit tests that do not look at metrics).
pub struct NullSink;

impl MetricsSink for NullSink {
    fn write_line(&self, _line: &str) {}
}

/// At most three extra dimensions besides `Function`.
type Dims = [Option<(&'static str, &'static str)>; 3];

#[derive(Default)]
struct Group {
    dims: Dims,
    counts: Vec<(&'static str, f64)>,
    values: Vec<(&'static str, Vec<f64>)>,
    /// (tenant, integration) ids of the deliveries the line is about.
    ids: Vec<(String, String)>,
}

#[derive(Default)]
struct State {
    cold: bool,
    groups: Vec<Group>,
}

impl State {
    fn group(&mut self, dims: Dims) -> &mut Group {
        let at = match self.groups.iter().position(|g| g.dims == dims) {
            Some(at) => at,
            None => {
                self.groups.push(Group {
                    dims,
                    ..Group::default()
                });
                self.groups.len() - 1
            }
        };
        &mut self.groups[at]
    }
}

/// A distribution's values, room made for a batch's worth at once (a
/// dispatcher batch is at most ten messages), so recording the rest of a
/// batch allocates nothing.
fn first(v: f64) -> Vec<f64> {
    let mut values = Vec::with_capacity(16);
    values.push(v);
    values
}

/// Ids kept per line as properties: enough to find the culprits.
const MAX_IDS: usize = 20;
/// EMF takes at most 100 values per metric in one line.
const MAX_VALUES: usize = 100;

/// One function's metrics for the current invocation, flushed as EMF lines.
pub struct Metrics {
    function: &'static str,
    sink: Arc<dyn MetricsSink>,
    state: Mutex<State>,
}

fn dims(extra: &[(&'static str, &'static str)]) -> Dims {
    let mut d: Dims = [None; 3];
    for (slot, pair) in d.iter_mut().zip(extra) {
        *slot = Some(*pair);
    }
    d
}

impl Metrics {
    /// A function's metrics at its cold start: the first flush counts it.
    pub fn new(function: &'static str, sink: Arc<dyn MetricsSink>) -> Self {
        Self {
            function,
            sink,
            state: Mutex::new(State {
                cold: true,
                groups: Vec::new(),
            }),
        }
    }

    /// Metrics that go nowhere (unit tests).
    pub fn discard(function: &'static str) -> Arc<Self> {
        Arc::new(Self::new(function, Arc::new(NullSink)))
    }

    pub fn function(&self) -> &'static str {
        self.function
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut state)
    }

    /// Add `n` to a count.
    pub fn count(&self, metric: &'static str, extra: &[(&'static str, &'static str)], n: u64) {
        if n == 0 {
            return;
        }
        self.with(|s| {
            let g = s.group(dims(extra));
            match g.counts.iter_mut().find(|(m, _)| *m == metric) {
                Some((_, v)) => *v += n as f64,
                None => g.counts.push((metric, n as f64)),
            }
        });
    }

    /// Record one value of a distribution (milliseconds).
    pub fn value(&self, metric: &'static str, extra: &[(&'static str, &'static str)], v: f64) {
        self.with(|s| {
            let g = s.group(dims(extra));
            match g.values.iter_mut().find(|(m, _)| *m == metric) {
                Some((_, vs)) => vs.push(v),
                None => g.values.push((metric, first(v))),
            }
        });
    }

    /// Count one of `metric` about a delivery, its ids kept as properties.
    pub fn count_for(&self, metric: &'static str, tenant: &str, integration: &str) {
        self.with(|s| {
            let g = s.group(dims(&[]));
            match g.counts.iter_mut().find(|(m, _)| *m == metric) {
                Some((_, v)) => *v += 1.0,
                None => g.counts.push((metric, 1.0)),
            }
            if g.ids.len() < MAX_IDS && !g.ids.iter().any(|(t, i)| t == tenant && i == integration)
            {
                g.ids.push((tenant.to_string(), integration.to_string()));
            }
        });
    }

    /// One webhook attempt: its outcome (`success`, `retry`, `failed`),
    /// format, error kind and duration.
    pub fn attempt(
        &self,
        outcome: &'static str,
        format: Format,
        error: Option<ErrorKind>,
        duration: Duration,
    ) {
        let extra = [
            ("Outcome", outcome),
            ("Format", format.as_str()),
            ("ErrorKind", error.map_or("none", error_kind)),
        ];
        self.with(|s| {
            let g = s.group(dims(&extra));
            match g.counts.iter_mut().find(|(m, _)| *m == DELIVERY_ATTEMPTS) {
                Some((_, v)) => *v += 1.0,
                None => g.counts.push((DELIVERY_ATTEMPTS, 1.0)),
            }
            let ms = duration.as_secs_f64() * 1000.0;
            match g.values.iter_mut().find(|(m, _)| *m == ATTEMPT_DURATION) {
                Some((_, vs)) => vs.push(ms),
                None => g.values.push((ATTEMPT_DURATION, first(ms))),
            }
        });
    }

    /// Write what was recorded since the last flush (and the cold start,
    /// on the first), then start afresh.
    pub fn flush(&self) {
        let (cold, groups) =
            self.with(|s| (std::mem::take(&mut s.cold), std::mem::take(&mut s.groups)));
        let timestamp = chrono::Utc::now().timestamp_millis();
        let mut groups = groups;
        if cold {
            let at = match groups.iter().position(|g| g.dims == [None; 3]) {
                Some(at) => at,
                None => {
                    groups.push(Group::default());
                    groups.len() - 1
                }
            };
            groups[at].counts.push((COLD_STARTS, 1.0));
        }
        for group in groups {
            for line in render(self.function, timestamp, group) {
                self.sink.write_line(&line);
            }
        }
    }
}

/// The `ErrorKind` dimension's value.
pub fn error_kind(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Timeout => "timeout",
        ErrorKind::Connect => "connect",
        ErrorKind::Dns => "dns",
        ErrorKind::RefusedTarget => "refused-target",
        ErrorKind::Tls => "tls",
        ErrorKind::HttpStatus => "http-status",
        ErrorKind::IntegrationDisabled => "integration-disabled",
        ErrorKind::Render => "render",
    }
}

/// A group's EMF lines: one, or more when a distribution has over 100 values.
fn render(function: &'static str, timestamp: i64, group: Group) -> Vec<String> {
    use serde_json::{Map, Value, json};
    let extra: Vec<(&str, &str)> = group.dims.iter().flatten().copied().collect();
    let mut sets = vec![vec!["Function"]];
    sets.extend(extra.iter().map(|(k, _)| vec!["Function", k]));
    let chunks = group
        .values
        .iter()
        .map(|(_, vs)| vs.len().div_ceil(MAX_VALUES))
        .max()
        .unwrap_or(0)
        .max(1);
    let mut lines = Vec::with_capacity(chunks);
    for chunk in 0..chunks {
        let mut root = Map::new();
        let mut metrics = Vec::new();
        if chunk == 0 {
            for (name, n) in &group.counts {
                metrics.push(json!({"Name": name, "Unit": unit(name)}));
                root.insert((*name).to_string(), json!(n));
            }
        }
        for (name, vs) in &group.values {
            let part: Vec<f64> = vs
                .iter()
                .skip(chunk * MAX_VALUES)
                .take(MAX_VALUES)
                .copied()
                .collect();
            if part.is_empty() {
                continue;
            }
            metrics.push(json!({"Name": name, "Unit": unit(name)}));
            root.insert((*name).to_string(), json!(part));
        }
        if metrics.is_empty() {
            continue;
        }
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp,
                "CloudWatchMetrics": [{
                    "Namespace": namespace(),
                    "Dimensions": sets,
                    "Metrics": metrics,
                }],
            }),
        );
        root.insert("Function".into(), json!(function));
        for (k, v) in &extra {
            root.insert((*k).to_string(), json!(v));
        }
        if chunk == 0 && !group.ids.is_empty() {
            let ids: Vec<Value> = group
                .ids
                .iter()
                .map(|(t, i)| json!({"tenant_id": t, "integration_id": i}))
                .collect();
            root.insert("deliveries".into(), Value::Array(ids));
        }
        lines.push(Value::Object(root).to_string());
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[derive(Default)]
    struct Lines(Mutex<Vec<String>>);

    impl MetricsSink for Lines {
        fn write_line(&self, line: &str) {
            self.0.lock().unwrap().push(line.to_string());
        }
    }

    fn parsed(lines: &Lines) -> Vec<Value> {
        lines
            .0
            .lock()
            .unwrap()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn one_line_per_dimension_values_with_the_cold_start_on_the_first_flush() {
        let sink = Arc::new(Lines::default());
        let m = Metrics::new(DISPATCHER, sink.clone());
        m.attempt("success", Format::Standard, None, Duration::from_millis(12));
        m.attempt("success", Format::Standard, None, Duration::from_millis(30));
        m.attempt(
            "retry",
            Format::Standard,
            Some(ErrorKind::HttpStatus),
            Duration::from_millis(5),
        );
        m.count(RETRIES_SCHEDULED, &[], 1);
        m.count_for(DELIVERIES_FAILED, "ten_1", "int_1");
        m.flush();
        let lines = parsed(&sink);
        assert_eq!(lines.len(), 3, "{lines:#?}");
        let success = &lines[0];
        assert_eq!(success["DeliveryAttempts"], 2.0);
        assert_eq!(success["AttemptDuration"], serde_json::json!([12.0, 30.0]));
        assert_eq!(success["Outcome"], "success");
        assert_eq!(success["ErrorKind"], "none");
        let directive = &success["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(
            directive["Dimensions"],
            serde_json::json!([
                ["Function"],
                ["Function", "Outcome"],
                ["Function", "Format"],
                ["Function", "ErrorKind"]
            ])
        );
        assert_eq!(lines[1]["ErrorKind"], "http-status");
        let plain = &lines[2];
        assert_eq!(plain["RetriesScheduled"], 1.0);
        assert_eq!(plain["DeliveriesFailed"], 1.0);
        assert_eq!(plain["ColdStarts"], 1.0);
        assert_eq!(plain["deliveries"][0]["integration_id"], "int_1");
        assert_eq!(
            plain["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([["Function"]])
        );

        // A second flush: nothing recorded, nothing written (no cold start again)
        m.flush();
        assert_eq!(parsed(&sink).len(), 3);
    }

    #[test]
    fn recording_the_rest_of_a_batch_allocates_nothing() {
        let m = Metrics::new(DISPATCHER, Arc::new(NullSink));
        let record = |n: u64| {
            m.attempt("success", Format::Standard, None, Duration::from_millis(n));
            m.value(DELIVERY_LAG, &[], n as f64);
            m.count(RETRIES_SCHEDULED, &[], 1);
            m.count(JOBS_STOOD_DOWN, &[], 1);
        };
        // Every buffer recording may touch: its address and capacity.
        let buffers = || {
            m.with(|s| {
                let mut b = vec![(s.groups.as_ptr() as usize, s.groups.capacity())];
                for g in &s.groups {
                    b.push((g.counts.as_ptr() as usize, g.counts.capacity()));
                    b.push((g.values.as_ptr() as usize, g.values.capacity()));
                    for (_, vs) in &g.values {
                        b.push((vs.as_ptr() as usize, vs.capacity()));
                    }
                }
                b
            })
        };
        // The first of a batch makes its groups...
        record(1);
        let before = buffers();
        // ...the other nine of the batch only add to them: no buffer grows
        // or moves (the crate forbids unsafe code, so no counting allocator)
        for n in 2..=10 {
            record(n);
        }
        assert_eq!(buffers(), before);
        let values: usize = m.with(|s| {
            s.groups
                .iter()
                .flat_map(|g| &g.values)
                .map(|(_, v)| v.len())
                .sum()
        });
        assert_eq!(values, 20);
    }

    #[test]
    fn more_than_a_hundred_values_spill_into_more_lines() {
        let sink = Arc::new(Lines::default());
        let m = Metrics::new(DISPATCHER, sink.clone());
        for n in 0..250 {
            m.value(DELIVERY_LAG, &[], f64::from(n));
        }
        m.count(RETRIES_SCHEDULED, &[], 3);
        m.flush();
        let lines = parsed(&sink);
        assert_eq!(lines.len(), 3);
        let total: usize = lines
            .iter()
            .map(|l| l["DeliveryLag"].as_array().unwrap().len())
            .sum();
        assert_eq!(total, 250);
        assert_eq!(lines[0]["RetriesScheduled"], 3.0);
        assert!(lines[1].get("RetriesScheduled").is_none());
    }
}
