//! `chathooks-bench ordering`: what ordered delivery per conversation
//! (`ordering: chat`) adds to a delivery, in one run of the local stack:
//! the same events (~2 KB closed chats spread over `--chats` conversations)
//! go first to an unordered integration alone, then to an ordered one
//! alone, each phase on a tenant of its own; for each phase the latency from
//! the intake's 202 to the receiver's first arrival (p50, p99) and the AWS
//! requests counted per delivery, priced as the cost model prices them.
use clap::Args;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::aws_count::{AwsCounter, Tally};
use super::cost::{self, Usage};
use super::fixtures::closed_chat;
use super::results;
use crate::local::{Instruments, LocalOptions, LocalStack, clients, new_tenant, running};
use crate::receiver::{Receiver, Reply};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Args)]
pub struct OrderingArgs {
    /// Events per phase.
    #[arg(long, default_value_t = 400)]
    pub events: usize,
    /// Conversations the events are spread over, round robin.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub chats: u32,
    /// Events per second (single posts).
    #[arg(long, default_value_t = 10.0)]
    pub rate: f64,
    /// A phase stops here, delivered or not.
    #[arg(long, default_value_t = 600)]
    pub deadline_secs: u64,
}

/// One phase's figures.
struct Phase {
    delivered: usize,
    latencies_ms: Vec<f64>,
    tally: Tally,
    posts: usize,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub async fn run(args: &OrderingArgs, command: &str) -> Result<(), BoxError> {
    println!(
        "ordering: {} events over {} chats at {}/s, single posts, unordered then ordered",
        args.events, args.chats, args.rate
    );
    let counter = AwsCounter::new();
    let (stack, admin) = running(LocalOptions {
        instruments: Instruments {
            interceptor: Some(counter.shared()),
            ..Instruments::default()
        },
        // Lambda's event-source mapping long-polls for 20 s.
        poll_wait_seconds: 20,
        ..LocalOptions::default()
    })
    .await?;
    let mut record = results::Run::new("ordering", command);
    let mut phases = Vec::new();
    for ordering in ["none", "chat"] {
        let phase = phase(args, &admin, &counter, ordering).await?;
        let mut sorted = phase.latencies_ms.clone();
        sorted.sort_by(f64::total_cmp);
        let (p50, p99) = (percentile(&sorted, 0.50), percentile(&sorted, 0.99));
        let d = phase.delivered.max(1) as f64;
        let mut tally = phase.tally.clone();
        // Updated items are priced at 1 KB and no index copy in both phases:
        // the difference between them is what ordering adds.
        tally.resolve_updates(|_, _| None);
        println!(
            "ordering {ordering}: {} of {} delivered; latency p50 {p50:.1} ms, p99 {p99:.1} ms",
            phase.delivered, args.events
        );
        for ((service, op), n) in &tally.requests {
            println!(
                "  {service:>9} {op:<22} {n:>7} = {:.3} per delivery",
                *n as f64 / d
            );
        }
        let usage = Usage {
            api_requests: phase.posts as f64 / d,
            lambda_invocations: 0.0,
            lambda_gb_seconds: 0.0,
            sqs_requests: tally.sqs_billed as f64 / d,
            wru: tally.wru / d,
            rru: tally.rru / d,
        };
        println!(
            "  per delivery: SQS {:.3} requests, DynamoDB {:.3} WRU, {:.3} RRU",
            usage.sqs_requests, usage.wru, usage.rru
        );
        record
            .figure(&format!("{ordering}_latency_p50"), p50, "ms")
            .figure(&format!("{ordering}_latency_p99"), p99, "ms")
            .figure(
                &format!("{ordering}_sqs_per_delivery"),
                usage.sqs_requests,
                "requests",
            )
            .figure(&format!("{ordering}_wru_per_delivery"), usage.wru, "WRU")
            .figure(&format!("{ordering}_rru_per_delivery"), usage.rru, "RRU");
        phases.push((p50, p99, usage));
    }
    let [(p50_none, p99_none, none), (p50_chat, p99_chat, chat)] = phases[..] else {
        return Err("two phases expected".into());
    };
    let added = Usage {
        api_requests: 0.0,
        lambda_invocations: 0.0,
        lambda_gb_seconds: 0.0,
        sqs_requests: chat.sqs_requests - none.sqs_requests,
        wru: chat.wru - none.wru,
        rru: chat.rru - none.rru,
    };
    let (on_demand, provisioned) = (
        cost::per_million(&added).total(),
        cost::per_million_provisioned(&added).total(),
    );
    println!(
        "ordered against unordered: p50 {p50_chat:.1} vs {p50_none:.1} ms ({:.2}×), p99 {p99_chat:.1} vs {p99_none:.1} ms; adds {:.3} SQS requests, {:.3} WRU, {:.3} RRU per delivery = ${on_demand:.3} per million on demand, ${provisioned:.3} provisioned ({})",
        p50_chat / p50_none,
        added.sqs_requests,
        added.wru,
        added.rru,
        cost::PRICES_AS_OF
    );
    // What bounds the difference on moto: its Query looks at every item of
    // the table (moto/dynamodb/models/table.py), a GetItem at one; on
    // DynamoDB both read only the items they return.
    let (query_ms, get_ms, items) = moto_read_costs(&stack).await?;
    println!(
        "moto at the end of the run ({items} items in the table): a sequence's head Query {query_ms:.1} ms, a GetItem {get_ms:.1} ms (medians of 50)"
    );
    record
        .figure("moto_query_ms", query_ms, "ms")
        .figure("moto_getitem_ms", get_ms, "ms")
        .figure("p50_ratio", p50_chat / p50_none, "x")
        .figure("added_cost_on_demand", on_demand, "$ per million")
        .figure("added_cost_provisioned", provisioned, "$ per million");
    let path = record.append()?;
    println!("figures appended to {}", path.display());
    Ok(())
}

/// Median milliseconds of 50 head Queries (an empty chat's sequence) and
/// of 50 GetItems against the stack's table, and the table's item count.
async fn moto_read_costs(stack: &LocalStack) -> Result<(f64, f64, usize), BoxError> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let (dynamodb, _) = clients(&stack.emulator).await;
    let table = stack
        .stack
        .tables
        .values()
        .next()
        .ok_or("the stack has no table")?
        .clone();
    let items = dynamodb
        .scan()
        .table_name(&table)
        .select(aws_sdk_dynamodb::types::Select::Count)
        .send()
        .await?
        .count as usize;
    let s = |v: &str| AttributeValue::S(v.to_string());
    let (mut query, mut get) = (Vec::new(), Vec::new());
    for _ in 0..50 {
        let t = Instant::now();
        dynamodb
            .query()
            .table_name(&table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s("Q#probe#probe"))
            .expression_attribute_values(":prefix", s("5:probe#"))
            .consistent_read(true)
            .limit(1)
            .send()
            .await?;
        query.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        dynamodb
            .get_item()
            .table_name(&table)
            .key("pk", s("E#probe#probe"))
            .key("sk", s("EVENT"))
            .consistent_read(true)
            .send()
            .await?;
        get.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    query.sort_by(f64::total_cmp);
    get.sort_by(f64::total_cmp);
    Ok((percentile(&query, 0.5), percentile(&get, 0.5), items))
}

/// Post the events one at a time at the rate, to a fresh tenant whose one
/// integration has `ordering`, and wait for every delivery to arrive.
async fn phase(
    args: &OrderingArgs,
    admin: &crate::client::ApiClient,
    counter: &AwsCounter,
    ordering: &str,
) -> Result<Phase, BoxError> {
    let tenant = new_tenant(admin).await;
    let arrivals: Arc<Mutex<HashMap<String, Instant>>> = Arc::new(Mutex::new(HashMap::new()));
    let log = arrivals.clone();
    let receiver = Receiver::scripted(move |_, req| {
        let id = req.header("webhook-id").unwrap_or_default().to_string();
        if let Ok(mut l) = log.lock() {
            l.entry(id).or_insert(req.at);
        }
        Reply::status(200)
    })
    .await;
    let created = tenant
        .post(
            "/v1/integrations",
            &json!({"name": format!("bench-{ordering}"), "url": receiver.url("/hook"),
                    "events": ["chat.closed"], "timeout_ms": 5000, "retry_policy": [1, 1],
                    "ordering": ordering}),
        )
        .await;
    if created.status != 201 {
        return Err(format!("integration: {:?}", created.body).into());
    }
    let run = uuid::Uuid::new_v4().simple().to_string();
    counter.reset();
    let started = Instant::now();
    let mut accepted: HashMap<String, Instant> = HashMap::with_capacity(args.events);
    let mut posts = 0;
    for i in 0..args.events {
        let due = started + Duration::from_secs_f64(i as f64 / args.rate);
        tokio::time::sleep_until(due.into()).await;
        let mut event = closed_chat(&format!("{run}-{i}"), 12);
        event["chat"]["id"] = json!(format!("{run}-chat-{}", i as u32 % args.chats));
        let answer = tenant.post("/v1/events", &event).await;
        posts += 1;
        let Some(id) = answer.body["deliveries"][0]["id"].as_str() else {
            return Err(format!("post {i}: {} {:?}", answer.status, answer.body).into());
        };
        accepted.insert(id.to_string(), Instant::now());
    }
    let deadline = started + Duration::from_secs(args.deadline_secs);
    loop {
        let done = arrivals.lock().map(|a| a.len()).unwrap_or(0);
        if done >= accepted.len() || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The last deliveries' log writes, and nothing left in flight.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let arrived = arrivals.lock().map(|a| a.clone()).unwrap_or_default();
    let latencies_ms = accepted
        .iter()
        .filter_map(|(id, at)| {
            let got = arrived.get(id)?;
            Some(got.saturating_duration_since(*at).as_secs_f64() * 1000.0)
        })
        .collect::<Vec<_>>();
    Ok(Phase {
        delivered: latencies_ms.len(),
        latencies_ms,
        tally: counter.snapshot(),
        posts,
    })
}
