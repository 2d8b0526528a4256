//! The functions' metrics on the local stack: the EMF lines they write are
//! captured in memory ([`CapturedMetrics`], the stack's metrics sink) and
//! read back as CloudWatch would read them: each line checked against the
//! EMF specification, then summed by metric, function and dimensions. `make
//! dev` prints its one-line-a-minute summary from the same lines.
use chathooks::metrics::MetricsSink;
use serde_json::Value;
use std::sync::Mutex;

/// Every EMF line the functions wrote, in order.
#[derive(Debug, Default)]
pub struct CapturedMetrics {
    lines: Mutex<Vec<String>>,
}

impl MetricsSink for CapturedMetrics {
    fn write_line(&self, line: &str) {
        self.lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(line.to_string());
    }
}

impl CapturedMetrics {
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// How many lines so far (to read only the new ones later).
    pub fn len(&self) -> usize {
        self.lines.lock().map(|l| l.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The lines, parsed and checked ([`check_emf`]).
    pub fn parsed(&self) -> Result<Emf, String> {
        self.parsed_from(0)
    }

    /// The lines so far, parsed, and forgotten (`make dev`'s summary reads
    /// each minute's lines once and keeps no history).
    pub fn drain(&self) -> Result<Emf, String> {
        let lines = std::mem::take(&mut *self.lines.lock().unwrap_or_else(|p| p.into_inner()));
        let mut out = Vec::with_capacity(lines.len());
        for line in &lines {
            let v: Value = serde_json::from_str(line).map_err(|e| format!("{e}: {line}"))?;
            check_emf(&v).map_err(|e| format!("{e}: {line}"))?;
            out.push(v);
        }
        Ok(Emf(out))
    }

    /// The lines from the `from`-th on.
    pub fn parsed_from(&self, from: usize) -> Result<Emf, String> {
        let lines = self.lines();
        let mut out = Vec::new();
        for line in lines.iter().skip(from) {
            let v: Value = serde_json::from_str(line).map_err(|e| format!("{e}: {line}"))?;
            check_emf(&v).map_err(|e| format!("{e}: {line}"))?;
            out.push(v);
        }
        Ok(Emf(out))
    }
}

/// Check one line against the EMF specification: `_aws.Timestamp` (epoch
/// milliseconds), `CloudWatchMetrics` directives each with a namespace,
/// dimension sets naming top-level string fields (at most 30 per set), and
/// metrics (name, unit) whose values are top-level numbers or arrays of at
/// most 100 numbers.
pub fn check_emf(v: &Value) -> Result<(), String> {
    let aws = &v["_aws"];
    if !aws["Timestamp"].is_i64() {
        return Err("no _aws.Timestamp".into());
    }
    let directives = aws["CloudWatchMetrics"]
        .as_array()
        .filter(|d| !d.is_empty())
        .ok_or("no CloudWatchMetrics")?;
    for d in directives {
        if d["Namespace"].as_str().is_none_or(str::is_empty) {
            return Err("no Namespace".into());
        }
        for set in d["Dimensions"].as_array().ok_or("no Dimensions")? {
            let keys = set.as_array().ok_or("a dimension set is not a list")?;
            if keys.len() > 30 {
                return Err("over 30 dimensions".into());
            }
            for k in keys {
                let k = k.as_str().ok_or("a dimension is not a string")?;
                if !v[k].is_string() {
                    return Err(format!("dimension {k} has no string value"));
                }
            }
        }
        for m in d["Metrics"].as_array().ok_or("no Metrics")? {
            let name = m["Name"].as_str().ok_or("a metric without a name")?;
            let unit = m["Unit"].as_str().unwrap_or("None");
            if !["Count", "Milliseconds", "Seconds", "None"].contains(&unit) {
                return Err(format!("{name}: unexpected unit {unit}"));
            }
            match &v[name] {
                Value::Number(_) => {}
                Value::Array(values)
                    if values.len() <= 100 && values.iter().all(Value::is_number) => {}
                other => return Err(format!("{name}: not a number or ≤100 numbers: {other}")),
            }
        }
    }
    Ok(())
}

/// Parsed EMF lines.
#[derive(Debug, Clone)]
pub struct Emf(pub Vec<Value>);

impl Emf {
    fn matching<'a>(
        &'a self,
        metric: &'a str,
        function: &'a str,
        dims: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Value> + 'a {
        self.0.iter().filter(move |l| {
            l["Function"] == function
                && dims.iter().all(|(k, v)| l[*k] == *v)
                && l["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                    .as_array()
                    .is_some_and(|ms| ms.iter().any(|m| m["Name"] == metric))
        })
    }

    /// The sum of a count over the lines of `function` with these dimension values.
    pub fn count(&self, metric: &str, function: &str, dims: &[(&str, &str)]) -> f64 {
        self.matching(metric, function, dims)
            .map(|l| match &l[metric] {
                Value::Array(vs) => vs.iter().filter_map(Value::as_f64).sum(),
                v => v.as_f64().unwrap_or(0.0),
            })
            .sum()
    }

    /// Every value of a distribution.
    pub fn values(&self, metric: &str, function: &str, dims: &[(&str, &str)]) -> Vec<f64> {
        self.matching(metric, function, dims)
            .flat_map(|l| match &l[metric] {
                Value::Array(vs) => vs.iter().filter_map(Value::as_f64).collect(),
                v => v.as_f64().into_iter().collect::<Vec<_>>(),
            })
            .collect()
    }

    /// The lines naming `metric`, for their properties.
    pub fn lines_with<'a>(&'a self, metric: &'a str, function: &'a str) -> Vec<&'a Value> {
        self.matching(metric, function, &[]).collect()
    }
}

/// The summary `make dev` prints: deliveries that succeeded and failed for
/// good, and the acceptance-to-success lag's p50 and p99.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub succeeded: u64,
    pub failed: u64,
    pub lag_p50_ms: Option<f64>,
    pub lag_p99_ms: Option<f64>,
}

impl Summary {
    pub fn of(emf: &Emf) -> Self {
        use chathooks::metrics::{
            DELIVERIES_FAILED, DELIVERY_ATTEMPTS, DELIVERY_LAG, DISPATCHER, RETRY_SCHEDULER,
        };
        let succeeded = emf.count(DELIVERY_ATTEMPTS, DISPATCHER, &[("Outcome", "success")]);
        let failed = emf.count(DELIVERIES_FAILED, DISPATCHER, &[])
            + emf.count(DELIVERIES_FAILED, RETRY_SCHEDULER, &[]);
        let mut lag = emf.values(DELIVERY_LAG, DISPATCHER, &[]);
        lag.sort_by(f64::total_cmp);
        Self {
            succeeded: succeeded as u64,
            failed: failed as u64,
            lag_p50_ms: percentile(&lag, 50.0),
            lag_p99_ms: percentile(&lag, 99.0),
        }
    }

    /// Whether anything was delivered or failed.
    pub fn has_traffic(&self) -> bool {
        self.succeeded + self.failed > 0
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.0} ms"));
        write!(
            f,
            "deliveries: {} ok, {} failed; lag p50 {}, p99 {}",
            self.succeeded,
            self.failed,
            ms(self.lag_p50_ms),
            ms(self.lag_p99_ms)
        )
    }
}

/// The nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_line_that_breaks_the_emf_rules_is_refused() {
        let good = json!({"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "N",
            "Dimensions": [["Function"]], "Metrics": [{"Name": "M", "Unit": "Count"}]}]},
            "Function": "f", "M": 1});
        assert_eq!(check_emf(&good), Ok(()));
        let mut no_dim = good.clone();
        no_dim.as_object_mut().unwrap().remove("Function");
        assert!(check_emf(&no_dim).is_err());
        let mut no_value = good.clone();
        no_value.as_object_mut().unwrap().remove("M");
        assert!(check_emf(&no_value).is_err());
        let mut too_many = good.clone();
        too_many["M"] = json!(vec![1; 101]);
        assert!(check_emf(&too_many).is_err());
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 99.0), Some(99.0));
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
    }
}
