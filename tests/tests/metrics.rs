//! The functions' metrics, end to end: a run with known traffic (a delivery
//! that succeeds on its second attempt, one that fails for good, one whose
//! endpoint is gone and gets its integration disabled, a repeated event, two
//! refused requests), then the EMF lines the functions wrote, each checked
//! against the format, and every documented metric with the value that run
//! produced.

use chathooks::metrics::{self as m, DISPATCHER, EVENT_INTAKE, RETRY_SCHEDULER};
use chathooks_tests::fixtures::*;
use chathooks_tests::metrics::Summary;
use chathooks_tests::receiver::{Receiver, Reply};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_documented_metric_carries_the_values_of_the_run() {
    let (stack, admin, tenant_a) = stack_with(&[]).await;
    let (tenant_b, tenant_b_id) = tenant_with_id(&admin).await;
    let (tenant_c, tenant_c_id) = tenant_with_id(&admin).await;
    // A: fails once, then succeeds; B: always 500, no retries; C: 410 Gone
    let flaky = Receiver::scripted(|n, _| Reply::status(if n == 0 { 500 } else { 200 })).await;
    let down = Receiver::scripted(|_, _| Reply::status(500)).await;
    let gone = Receiver::scripted(|_, _| Reply::status(410)).await;
    integration(&tenant_a, &flaky.url("/a"), json!({"retry_policy": [1]})).await;
    let (b_id, _) = integration(&tenant_b, &down.url("/b"), json!({"retry_policy": "none"})).await;
    let (c_id, _) = integration(&tenant_c, &gone.url("/c"), json!({"retry_policy": [1]})).await;

    let a = post_event(&tenant_a, "evt-metrics-a").await;
    let b = post_event(&tenant_b, "evt-metrics-b").await;
    let c = post_event(&tenant_c, "evt-metrics-c").await;
    wait_status(&tenant_a, &a, "succeeded").await;
    wait_status(&tenant_b, &b, "failed").await;
    wait_status(&tenant_c, &c, "failed").await;
    // A repeat of a delivered event: accepted as a duplicate, its job stands down
    let repeat = tenant_a
        .post("/v1/events", &closed_chat("evt-metrics-a"))
        .await;
    assert_eq!(repeat.status, 200, "{:?}", repeat.body);
    // Two refusals: an event without a type, and a bad key
    let invalid = tenant_a.post("/v1/events", &json!({"id": "x"})).await;
    assert_eq!(invalid.status, 400, "{:?}", invalid.body);
    let stranger = tenant_a.with_key("chk_not-a-key");
    let refused = stranger
        .post("/v1/events", &closed_chat("evt-metrics-x"))
        .await;
    assert_eq!(refused.status, 401, "{:?}", refused.body);
    wait_idle(&stack).await;

    let emf = stack.metrics.parsed().expect("valid EMF lines");
    let count =
        |metric: &str, function: &str, dims: &[(&str, &str)]| emf.count(metric, function, dims);

    // The intake
    assert_eq!(count(m::EVENTS_ACCEPTED, EVENT_INTAKE, &[]), 3.0);
    assert_eq!(count(m::EVENTS_DUPLICATE, EVENT_INTAKE, &[]), 1.0);
    assert_eq!(
        count(
            m::REQUESTS_REJECTED,
            EVENT_INTAKE,
            &[("Reason", "invalid_request")]
        ),
        1.0
    );
    assert_eq!(
        count(
            m::REQUESTS_REJECTED,
            EVENT_INTAKE,
            &[("Reason", "unauthorized")]
        ),
        1.0
    );
    assert_eq!(count(m::REQUESTS_REJECTED, EVENT_INTAKE, &[]), 2.0);

    // The dispatcher: 4 attempts (A twice, B, C), by outcome, format and error kind
    assert_eq!(count(m::DELIVERY_ATTEMPTS, DISPATCHER, &[]), 4.0);
    assert_eq!(
        count(m::DELIVERY_ATTEMPTS, DISPATCHER, &[("Outcome", "success")]),
        1.0
    );
    assert_eq!(
        count(m::DELIVERY_ATTEMPTS, DISPATCHER, &[("Outcome", "retry")]),
        1.0
    );
    assert_eq!(
        count(m::DELIVERY_ATTEMPTS, DISPATCHER, &[("Outcome", "failed")]),
        2.0
    );
    assert_eq!(
        count(m::DELIVERY_ATTEMPTS, DISPATCHER, &[("Format", "standard")]),
        4.0
    );
    assert_eq!(
        count(
            m::DELIVERY_ATTEMPTS,
            DISPATCHER,
            &[("ErrorKind", "http-status")]
        ),
        3.0
    );
    assert_eq!(
        count(m::DELIVERY_ATTEMPTS, DISPATCHER, &[("ErrorKind", "none")]),
        1.0
    );
    let durations = emf.values(m::ATTEMPT_DURATION, DISPATCHER, &[]);
    assert_eq!(durations.len(), 4, "{durations:?}");
    assert!(
        durations.iter().all(|d| (0.0..30_000.0).contains(d)),
        "{durations:?}"
    );
    // A's lag: accepted, failed, retried a second later, delivered
    let lag = emf.values(m::DELIVERY_LAG, DISPATCHER, &[]);
    assert_eq!(lag.len(), 1, "{lag:?}");
    assert!((1_000.0..30_000.0).contains(&lag[0]), "{lag:?}");
    assert_eq!(count(m::RETRIES_SCHEDULED, DISPATCHER, &[]), 1.0);
    assert_eq!(count(m::DELIVERIES_FAILED, DISPATCHER, &[]), 2.0);
    assert_eq!(count(m::INTEGRATIONS_DISABLED, DISPATCHER, &[]), 1.0);
    assert_eq!(count(m::JOBS_STOOD_DOWN, DISPATCHER, &[]), 1.0);
    // Tenant and integration ids are properties of the lines about them
    let failed_ids: Vec<(String, String)> = emf
        .lines_with(m::DELIVERIES_FAILED, DISPATCHER)
        .iter()
        .flat_map(|l| l["deliveries"].as_array().cloned().unwrap_or_default())
        .map(|d| {
            (
                d["tenant_id"].as_str().unwrap_or_default().to_string(),
                d["integration_id"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert!(
        failed_ids.contains(&(tenant_b_id.clone(), b_id.clone())),
        "{failed_ids:?}"
    );
    assert!(
        failed_ids.contains(&(tenant_c_id.clone(), c_id.clone())),
        "{failed_ids:?}"
    );
    let disabled = emf.lines_with(m::INTEGRATIONS_DISABLED, DISPATCHER);
    assert_eq!(
        disabled[0]["deliveries"][0]["integration_id"],
        c_id.as_str()
    );
    // and never dimensions
    for line in &emf.0 {
        let sets = line["_aws"]["CloudWatchMetrics"][0]["Dimensions"].to_string();
        assert!(
            !sets.contains("tenant") && !sets.contains("integration"),
            "{sets}"
        );
    }

    // The retry scheduler released A's retry
    assert_eq!(count(m::RETRIES_RELEASED, RETRY_SCHEDULER, &[]), 1.0);
    // One cold start per function that ran
    for function in [EVENT_INTAKE, DISPATCHER, RETRY_SCHEDULER] {
        assert_eq!(count(m::COLD_STARTS, function, &[]), 1.0, "{function}");
    }
    // Every documented metric was written by this run
    for metric in m::ALL {
        let total: f64 = [EVENT_INTAKE, DISPATCHER, RETRY_SCHEDULER]
            .iter()
            .map(|f| count(metric, f, &[]) + emf.values(metric, f, &[]).len() as f64)
            .sum();
        assert!(total > 0.0, "{metric} missing");
    }
    // AND make dev's summary reads the same lines
    let summary = Summary::of(&emf);
    assert_eq!((summary.succeeded, summary.failed), (1, 2), "{summary}");
    assert_eq!(summary.lag_p50_ms, Some(lag[0]));
}

/// The stack alarms on what the README promises, and documents exactly the
/// metrics the functions write.
#[test]
fn the_template_alarms_on_every_dead_letter_queue_and_function_and_shows_every_metric() {
    use chathooks_tests::provision::template::{Reference, Template, references};
    let template = Template::workspace().expect("template.yaml");
    let alarms: Vec<_> = template
        .resources()
        .filter(|r| r.kind == "AWS::CloudWatch::Alarm")
        .collect();
    let alarmed = |metric: &str, reference: &Reference| {
        alarms.iter().any(|a| {
            a.properties["MetricName"].as_str() == Some(metric)
                && references(a.properties).contains(reference)
        })
    };
    let mut dead_letter_queues = Vec::new();
    for queue in template.resources().filter(|r| r.kind == "AWS::SQS::Queue") {
        for r in references(&queue.properties["RedrivePolicy"]) {
            if let Reference::GetAtt(dlq, _) = r {
                dead_letter_queues.push(dlq);
            }
        }
    }
    assert_eq!(dead_letter_queues.len(), 2, "{dead_letter_queues:?}");
    for dlq in &dead_letter_queues {
        let by_name = Reference::GetAtt(dlq.clone(), "QueueName".into());
        assert!(
            alarmed("ApproximateNumberOfMessagesVisible", &by_name),
            "{dlq}"
        );
    }
    let delivery_queue = Reference::GetAtt("DeliveryQueue".into(), "QueueName".into());
    assert!(alarmed("ApproximateAgeOfOldestMessage", &delivery_queue));
    let functions: Vec<_> = template
        .resources()
        .filter(|r| r.kind == "AWS::Serverless::Function")
        .map(|r| r.logical_id.to_string())
        .collect();
    assert_eq!(functions.len(), 4);
    for f in &functions {
        for metric in ["Errors", "Throttles"] {
            assert!(alarmed(metric, &Reference::Ref(f.clone())), "{f} {metric}");
        }
    }
    let on_metric = |name: &str| {
        alarms.iter().find(|a| {
            a.properties["MetricName"].as_str() == Some(name)
                || serde_yaml::to_string(a.properties)
                    .unwrap_or_default()
                    .contains(&format!("MetricName: {name}"))
        })
    };
    let lag = on_metric(m::DELIVERY_LAG).expect("a lag alarm");
    assert_eq!(lag.properties["ExtendedStatistic"].as_str(), Some("p99"));
    assert!(
        on_metric(m::DELIVERIES_FAILED).is_some(),
        "a failed-deliveries alarm"
    );

    // The dashboard shows every metric the functions write
    let dashboard = template
        .resources()
        .find(|r| r.kind == "AWS::CloudWatch::Dashboard")
        .expect("a dashboard");
    let body = serde_yaml::to_string(&dashboard.properties["DashboardBody"]).unwrap();
    for metric in m::ALL {
        assert!(
            body.contains(&format!("\"{metric}\"")),
            "{metric} not on the dashboard"
        );
    }

    // The README's table names exactly these metrics
    let readme = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"),
    )
    .unwrap();
    let section = readme
        .split("## Metrics and alarms")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("a Metrics and alarms section");
    let documented: std::collections::BTreeSet<&str> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .filter(|name| name.chars().next().is_some_and(|c| c.is_ascii_uppercase()))
        .filter(|name| !name.ends_with("Alarm"))
        .collect();
    let written: std::collections::BTreeSet<&str> = m::ALL.into_iter().collect();
    assert_eq!(documented, written);
}
