//! End-to-end benchmark of the local stack and the data for the cost model.
//!
//! ```sh
//! cargo run --release -p chathooks-tests --bin chathooks-bench -- e2e --events 600 --integrations 1 --rate 10
//! cargo run --release -p chathooks-tests --bin chathooks-bench -- e2e --events 1000 --integrations 1 --rate 25 --mode single
//! cargo run --release -p chathooks-tests --bin chathooks-bench -- e2e --events 200 --fail-first --rate 5   # one retry each
//! cargo run --release -p chathooks-tests --bin chathooks-bench -- emulator --messages 2000     # moto's SQS alone
//! cargo run --release -p chathooks-tests --bin chathooks-bench -- emulator-path --samples 300  # each moto call of the path
//! cargo run --release -p chathooks-tests --bin chathooks-bench -- batch10 --repeat 5           # ten 1 s deliveries
//! cargo run --release -p chathooks-tests --bin chathooks-bench -- help e2e                     # every flag
//! ```
//!
//! `e2e` posts events (~2 KB closed chats; `--mode batch` in posts of
//! `--batch-size`, or `single`) at `--rate` events/s (0: as fast as the
//! intake answers) for one tenant with `--integrations` endpoints on one
//! 127.0.0.1 receiver answering after `--delay-ms`; it reports sustained
//! deliveries/s, the latency from the intake's 202 to the receiver's arrival,
//! CPU and memory of this process and of each moto server, checks every
//! delivery arrived exactly once (and a sample in the log: succeeded, one
//! attempt), and turns the counted AWS requests into dollars per million
//! deliveries. It stops by itself at `--deadline-secs`.
//!
//! Every subcommand appends its figures to `target/bench-results.jsonl`
//! (`chathooks_tests::bench::results`); `scripts/bench-table.py` prints
//! BENCHMARKS.md's tables from that file.
use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use chathooks::domain::event::Event;
use chathooks::domain::ids::{IntegrationId, TenantId};
use chathooks::domain::message::QueueMessage;
use chathooks_tests::bench::alloc::CountingAlloc;
use chathooks_tests::bench::aws_count::{
    AwsCounter, sdk_indexes_of, sdk_item_size, sdk_key_string,
};
use chathooks_tests::bench::cost::{self, Usage};
use chathooks_tests::bench::fixtures::closed_chat;
use chathooks_tests::bench::logcount::{CountingMakeWriter, CountingMetricsSink, LineCounter};
use chathooks_tests::bench::procstat::{cpu_seconds, own_pid, vm_hwm_kib, vm_rss_kib};
use chathooks_tests::bench::results;
use chathooks_tests::bench::threads::{ThreadGroup, process_cpu_ns};
use chathooks_tests::client::ApiClient;
use chathooks_tests::local::{Instruments, LocalOptions, LocalStack, clients, new_tenant, running};
use chathooks_tests::receiver::{Receiver, Reply};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Every allocation counted by thread group (`bench::alloc`).
#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// The local stack's benchmarks; each run appends its figures to the
/// results file (`target/bench-results.jsonl`, see `scripts/bench-table.py`).
#[derive(Debug, Parser)]
#[command(
    name = "chathooks-bench",
    about = "Benchmarks of the local stack; each run appends its figures to target/bench-results.jsonl"
)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// Events posted to the local stack, delivered to a receiver on 127.0.0.1: latency, throughput, exactly once, cost.
    E2e(E2eArgs),
    /// moto's SQS alone, with the same SDK: SendMessageBatch, then ReceiveMessage + DeleteMessageBatch.
    Emulator(EmulatorArgs),
    /// Each moto call of the delivery path, alone, one at a time.
    EmulatorPath(EmulatorPathArgs),
    /// A batch of ten deliveries to a receiver answering after one second, through the dispatcher handler.
    Batch10(Batch10Args),
    /// The SDK's floor: CPU and allocations of one empty call against moto (a GetItem of a missing item, a ReceiveMessage of an empty queue), per client configuration.
    SdkFloor(SdkFloorArgs),
    /// What ordered delivery per chat adds: latency and AWS requests per delivery, unordered then ordered.
    Ordering(chathooks_tests::bench::ordering::OrderingArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// `{"events": [...]}` posts of `--batch-size` events.
    Batch,
    /// One event per post.
    Single,
}

#[derive(Debug, Args)]
struct E2eArgs {
    /// Events to post.
    #[arg(long, default_value_t = 10_000)]
    events: usize,
    /// Integrations of the tenant, each a delivery per event.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    integrations: u16,
    /// The receiver's delay before it answers, in milliseconds.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    #[arg(long, value_enum, default_value_t = Mode::Batch)]
    mode: Mode,
    /// Events per post in batch mode.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u8).range(1..=100))]
    batch_size: u8,
    /// Events per second (0: each post as soon as a worker is free).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Concurrent posting workers.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..))]
    concurrency: u16,
    /// Pollers per queue of the emulated event-source mappings.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    pollers: u16,
    /// The run stops here, delivered or not.
    #[arg(long, default_value_t = 900)]
    deadline_secs: u64,
    /// Deliveries checked in the log through the API.
    #[arg(long, default_value_t = 200)]
    sample_check: usize,
    /// Messages in each posted chat transcript.
    #[arg(long, default_value_t = 12)]
    chat_messages: usize,
    /// The receiver answers each delivery's first attempt 503 (one retry each).
    #[arg(long)]
    fail_first: bool,
    /// No request-counting interceptor and no IAM recorder on the functions'
    /// SDK clients: the product's own clients, for the CPU figures (no cost
    /// figures then).
    #[arg(long)]
    uninstrumented: bool,
    /// Reach moto through a keep-alive HTTP front, so the functions' SDK
    /// clients reuse connections as against AWS (moto closes each after its
    /// response); the front's CPU counts as the harness's.
    #[arg(long)]
    keep_alive: bool,
    /// Run the functions' handlers on the harness's runtime, as before
    /// functions had threads of their own (no per-function CPU figures).
    #[arg(long)]
    shared_runtime: bool,
    /// Each function's runtime: 0, single-threaded, as the bootstraps run;
    /// N, multi-threaded with N workers (`#[tokio::main]`'s default).
    #[arg(long, default_value_t = 0)]
    function_workers: usize,
}

#[derive(Debug, Args)]
struct EmulatorArgs {
    #[arg(long, default_value_t = 2000)]
    messages: usize,
    /// Concurrent senders.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    concurrency: u16,
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    pollers: u16,
    #[arg(long, default_value_t = 600)]
    deadline_secs: u64,
}

#[derive(Debug, Args)]
struct EmulatorPathArgs {
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).range(1..))]
    samples: u32,
    /// Samples per second.
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
}

#[derive(Debug, Args)]
struct SdkFloorArgs {
    /// Calls measured per operation and configuration (after 20 to warm up).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    calls: u32,
}

#[derive(Debug, Args)]
struct Batch10Args {
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..))]
    repeat: u16,
}

/// This run's command line, as the results file records it.
fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!(
        "cargo run --release -p chathooks-tests --bin chathooks-bench -- {}",
        args.join(" ")
    )
}

/// Appends a run's figures to the results file (a failure to write is reported, not fatal).
fn record(run: &results::Run) {
    match run.append() {
        Ok(path) => println!("figures appended to {}", path.display()),
        Err(e) => eprintln!("figures not recorded: {e}"),
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), BoxError> {
    match Cli::parse().scenario {
        Scenario::E2e(args) => e2e(&args).await,
        Scenario::Emulator(args) => emulator(&args).await,
        Scenario::EmulatorPath(args) => emulator_path(&args).await,
        Scenario::Batch10(args) => batch10(&args).await,
        Scenario::SdkFloor(args) => sdk_floor(&args).await,
        Scenario::Ordering(args) => {
            chathooks_tests::bench::ordering::run(&args, &command_line()).await
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn mib(kib: Option<u64>) -> String {
    kib.map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
        .unwrap_or_else(|| "n/a".into())
}

struct Arrival {
    id: String,
    at: Instant,
}

#[derive(Default)]
struct Invocations {
    count: HashMap<String, u64>,
    records: HashMap<String, u64>,
    seconds: HashMap<String, f64>,
    billed_gb_seconds: f64,
}

async fn e2e(args: &E2eArgs) -> Result<(), BoxError> {
    let events = args.events;
    let integrations = usize::from(args.integrations);
    let delay = Duration::from_millis(args.delay_ms);
    let batch = args.mode == Mode::Batch;
    let batch_size = if batch {
        usize::from(args.batch_size)
    } else {
        1
    };
    let rate = args.rate;
    let concurrency = usize::from(args.concurrency);
    let pollers = usize::from(args.pollers);
    let deadline = Duration::from_secs(args.deadline_secs);
    let sample = args.sample_check;
    let messages = args.chat_messages;
    let fail_first = args.fail_first;
    let expected_per_id = if fail_first { 2 } else { 1 };
    println!(
        "e2e: {events} events × {integrations} integration(s), {} of {batch_size}, rate {}, concurrency {concurrency}, pollers {pollers}, receiver delay {delay:?}{}",
        if batch { "batch posts" } else { "single posts" },
        if rate > 0.0 {
            format!("{rate} events/s")
        } else {
            "unthrottled".into()
        },
        if fail_first {
            ", each delivery's first attempt answered 503 (one retry)"
        } else {
            ""
        }
    );
    if !args.shared_runtime {
        match args.function_workers {
            0 => println!("each function on a single-threaded runtime of its own"),
            n => println!("each function on a multi-threaded runtime of its own, {n} workers"),
        }
    }

    let counter = AwsCounter::new();
    let invocations = Arc::new(Mutex::new(Invocations::default()));
    let observed = invocations.clone();
    // The product's log subscriber, its lines counted on their way to /dev/null.
    let log_lines = LineCounter::default();
    chathooks::telemetry::init_with_writer(CountingMakeWriter::new(log_lines.clone())?);
    let metric_lines = LineCounter::default();
    let instrumented = !args.uninstrumented;
    // The load generator and the receiver on a runtime of their own, so
    // their CPU time is set apart from the stack's.
    let load = ThreadGroup::default();
    let load_rt = load.runtime("load", 2)?;
    let instruments = Instruments {
        interceptor: instrumented.then(|| counter.shared()),
        metrics_sink: Some(Arc::new(CountingMetricsSink::new(metric_lines.clone())?)),
        bare_clients: !instrumented,
        on_invocation: Some(Arc::new(move |queue: &str, records, took: Duration| {
            if let Ok(mut inv) = observed.lock() {
                *inv.count.entry(queue.to_string()).or_default() += 1;
                *inv.records.entry(queue.to_string()).or_default() += records as u64;
                *inv.seconds.entry(queue.to_string()).or_default() += took.as_secs_f64();
                // Lambda bills duration rounded up to the millisecond.
                inv.billed_gb_seconds +=
                    (took.as_secs_f64() * 1000.0).ceil() / 1000.0 * cost::LAMBDA_MEMORY_GB;
            }
        })),
    };
    let (stack, admin) = running(LocalOptions {
        pollers,
        instruments,
        // Lambda's event-source mapping long-polls for 20 s.
        poll_wait_seconds: 20,
        check_iam: instrumented,
        function_threads: !args.shared_runtime,
        function_workers: args.function_workers,
        keep_alive: args.keep_alive,
        ..LocalOptions::default()
    })
    .await?;
    let threads: Vec<&chathooks_tests::bench::threads::FunctionThread> = stack
        .functions
        .threads
        .as_ref()
        .map(|t| t.all().to_vec())
        .unwrap_or_default();
    let tenant = new_tenant(&admin).await;

    let arrivals: Arc<Mutex<Vec<Arrival>>> = Arc::new(Mutex::new(Vec::with_capacity(
        events * integrations * expected_per_id,
    )));
    let arrived = Arc::new(AtomicUsize::new(0));
    let seen: Arc<Mutex<HashSet<String>>> = Arc::new(Mutex::new(HashSet::new()));
    let (log, count) = (arrivals.clone(), arrived.clone());
    let receiver = load_rt
        .spawn(Receiver::scripted(move |_, req| {
            let id = req.header("webhook-id").unwrap_or_default().to_string();
            let first = seen
                .lock()
                .map(|mut s| s.insert(id.clone()))
                .unwrap_or(true);
            if let Ok(mut l) = log.lock() {
                l.push(Arrival { id, at: req.at });
            }
            count.fetch_add(1, Ordering::SeqCst);
            if fail_first && first {
                Reply::status(503).after(delay)
            } else {
                Reply::status(200).after(delay)
            }
        }))
        .await?;
    for k in 0..integrations {
        let created = tenant
            .post(
                "/v1/integrations",
                &json!({"name": format!("bench-{k}"), "url": receiver.url(&format!("/hook-{k}")),
                        "events": ["chat.closed"], "timeout_ms": 5000, "retry_policy": [1, 1]}),
            )
            .await;
        if created.status != 201 {
            return Err(format!("integration: {:?}", created.body).into());
        }
    }
    let sample_body = serde_json::to_vec(&closed_chat("size-probe", messages))?;
    println!("event size: {} bytes of JSON", sample_body.len());

    // Post.
    counter.reset();
    let posts = events.div_ceil(batch_size);
    let accepted: Arc<Mutex<HashMap<String, Instant>>> = Arc::new(Mutex::new(HashMap::new()));
    let post_seconds: Arc<Mutex<Vec<f64>>> = Arc::new(Mutex::new(Vec::with_capacity(posts)));
    let next = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(AtomicUsize::new(0));
    let run = uuid::Uuid::new_v4().simple().to_string();
    let cpu_before = cpu_seconds(own_pid()).unwrap_or(0.0);
    let cpu_start = Cpu::sample(&load, &threads);
    let moto_cpu_before = (
        cpu_seconds(stack.emulator.sqs.pid()).unwrap_or(0.0),
        cpu_seconds(stack.emulator.dynamodb.pid()).unwrap_or(0.0),
    );
    let started = Instant::now();
    let hard_stop = started + deadline;
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        // A client of its own, its connections driven on the load runtime.
        let (tenant, accepted, post_seconds, next, failures, run) = (
            ApiClient::new(tenant.base.clone(), tenant.key.clone()),
            accepted.clone(),
            post_seconds.clone(),
            next.clone(),
            failures.clone(),
            run.clone(),
        );
        workers.push(load_rt.spawn(async move {
            loop {
                let p = next.fetch_add(1, Ordering::SeqCst);
                if p >= posts || Instant::now() > hard_stop {
                    break;
                }
                if rate > 0.0 {
                    let due = started + Duration::from_secs_f64((p * batch_size) as f64 / rate);
                    tokio::time::sleep_until(due.into()).await;
                }
                let ids: Vec<String> = (p * batch_size..((p + 1) * batch_size).min(events))
                    .map(|n| format!("bench-{run}-{n}"))
                    .collect();
                let body = if batch {
                    json!({"events": ids.iter().map(|id| closed_chat(id, messages)).collect::<Vec<_>>()})
                } else {
                    closed_chat(&ids[0], messages)
                };
                let t0 = Instant::now();
                let answer = tenant.post("/v1/events", &body).await;
                let now = Instant::now();
                if answer.status != 202 {
                    failures.fetch_add(1, Ordering::SeqCst);
                    eprintln!("post {p}: {} {:?}", answer.status, answer.body);
                    continue;
                }
                if let Ok(mut s) = post_seconds.lock() {
                    s.push((now - t0).as_secs_f64());
                }
                let results: Vec<Value> = if batch {
                    answer.body["results"].as_array().cloned().unwrap_or_default()
                } else {
                    vec![answer.body.clone()]
                };
                if let Ok(mut a) = accepted.lock() {
                    for r in results {
                        for d in r["deliveries"].as_array().into_iter().flatten() {
                            if let Some(id) = d["id"].as_str() {
                                a.insert(id.to_string(), now);
                            }
                        }
                    }
                }
            }
        }));
    }
    let expected = events * integrations * expected_per_id;
    let mut last_report = Instant::now();
    while arrived.load(Ordering::SeqCst) < expected && Instant::now() < hard_stop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if last_report.elapsed() > Duration::from_secs(10) {
            last_report = Instant::now();
            println!(
                "  {:>6.1} s: posted {} / {events} events, {} / {expected} arrivals",
                started.elapsed().as_secs_f64(),
                accepted.lock().map(|a| a.len() / integrations).unwrap_or(0),
                arrived.load(Ordering::SeqCst)
            );
        }
    }
    for w in workers {
        let _ = w.await;
    }
    // Let stray duplicates (if any) show up.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let elapsed = started.elapsed();
    let cpu_split = Cpu::sample(&load, &threads).since(&cpu_start);
    let cpu = cpu_seconds(own_pid()).unwrap_or(0.0) - cpu_before;
    let moto_cpu = (
        cpu_seconds(stack.emulator.sqs.pid()).unwrap_or(0.0) - moto_cpu_before.0,
        cpu_seconds(stack.emulator.dynamodb.pid()).unwrap_or(0.0) - moto_cpu_before.1,
    );
    let mut tally = counter.snapshot();

    // Exactly once.
    let accepted = accepted.lock().map(|a| a.clone()).unwrap_or_default();
    let arrivals = std::mem::take(&mut *arrivals.lock().map_err(|_| "poisoned")?);
    let mut per_id: HashMap<&str, (usize, Instant)> = HashMap::new();
    for a in &arrivals {
        let e = per_id.entry(a.id.as_str()).or_insert((0, a.at));
        e.0 += 1;
        if a.at < e.1 {
            e.1 = a.at;
        }
    }
    let wrong: Vec<_> = per_id
        .iter()
        .filter(|(_, (n, _))| *n != expected_per_id)
        .collect();
    let missing = accepted
        .keys()
        .filter(|id| !per_id.contains_key(id.as_str()))
        .count();
    let unknown = per_id
        .keys()
        .filter(|id| !accepted.contains_key(**id))
        .count();
    let deliveries = accepted.len();
    let mut latencies: Vec<f64> = accepted
        .iter()
        .filter_map(|(id, at)| {
            per_id
                .get(id.as_str())
                .map(|(_, first)| first.saturating_duration_since(*at).as_secs_f64() * 1000.0)
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let first_accept = accepted.values().min().copied().unwrap_or(started);
    let last_arrival = arrivals.iter().map(|a| a.at).max().unwrap_or(started);
    let window = last_arrival
        .saturating_duration_since(first_accept)
        .as_secs_f64();
    let complete = per_id.len();

    println!("\n== result ({:.1} s wall) ==", elapsed.as_secs_f64());
    println!(
        "deliveries accepted {deliveries} (post failures {}), arrived {complete}, missing {missing}, unknown {unknown}, ids not arriving exactly {expected_per_id}× {}",
        failures.load(Ordering::SeqCst),
        wrong.len()
    );
    println!(
        "sustained: {:.1} deliveries/s ({} deliveries from the first 202 to the last arrival, {:.1} s)",
        complete as f64 / window.max(1e-9),
        complete,
        window
    );
    println!(
        "added latency 202 → receiver: p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 50.0),
        percentile(&latencies, 95.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or(f64::NAN)
    );
    let mut post_s = post_seconds.lock().map(|p| p.clone()).unwrap_or_default();
    post_s.sort_by(f64::total_cmp);
    println!(
        "POST /v1/events round trip: p50 {:.1} ms, p99 {:.1} ms ({} posts)",
        percentile(&post_s, 50.0) * 1000.0,
        percentile(&post_s, 99.0) * 1000.0,
        post_s.len()
    );
    println!(
        "CPU: this process {:.2} s = {:.0} µs per delivery (intake, dispatcher, retry scheduler, SDK clients, AND the load generator and receiver); moto SQS {:.2} s, moto DynamoDB {:.2} s",
        cpu,
        cpu / complete.max(1) as f64 * 1e6,
        moto_cpu.0,
        moto_cpu.1
    );
    println!(
        "RSS now / peak: this process {} / {}; moto SQS {} / {}; moto DynamoDB {} / {}",
        mib(vm_rss_kib(own_pid())),
        mib(vm_hwm_kib(own_pid())),
        mib(vm_rss_kib(stack.emulator.sqs.pid())),
        mib(vm_hwm_kib(stack.emulator.sqs.pid())),
        mib(vm_rss_kib(stack.emulator.dynamodb.pid())),
        mib(vm_hwm_kib(stack.emulator.dynamodb.pid())),
    );

    let d = complete.max(1) as f64;
    let per_d = |ns: u64| ns as f64 / 1e3 / d;
    let stack_ns = cpu_split.process_ns.saturating_sub(cpu_split.load_ns);
    let functions_ns: u64 = cpu_split.functions.iter().map(|f| f.cpu_ns).sum();
    let stack_allocs = cpu_split
        .process_allocs
        .0
        .saturating_sub(cpu_split.load_allocs.0);
    println!(
        "CPU per delivery ({complete} deliveries, {events} events; load {:.2}): the stack (this process less the load generator and receiver) {:.0} µs, {:.0} allocations",
        load_average(),
        per_d(stack_ns),
        stack_allocs as f64 / d
    );
    for f in &cpu_split.functions {
        println!(
            "  {:<16} {:>7.0} µs per delivery, {:>6.0} allocations ({:.0} bytes) per delivery{}",
            f.name,
            per_d(f.cpu_ns),
            f.allocs as f64 / d,
            f.alloc_bytes as f64 / d,
            if f.name == "event-intake" {
                format!(
                    ", {:.0} µs per event",
                    f.cpu_ns as f64 / 1e3 / events.max(1) as f64
                )
            } else {
                String::new()
            }
        );
    }
    println!(
        "  {:<16} {:>7.0} µs per delivery (the local HTTP server, the event-source pollers, the bench's bookkeeping)",
        "harness",
        per_d(stack_ns.saturating_sub(functions_ns))
    );
    println!(
        "  load generator and receiver {:.0} µs per delivery (not counted)",
        per_d(cpu_split.load_ns)
    );
    let (lines, bytes) = log_lines.get();
    let (emf_lines, emf_bytes) = metric_lines.get();
    println!(
        "log lines per delivery {:.2} ({:.0} bytes); metric (EMF) lines per delivery {:.2} ({:.0} bytes); peak RSS of this process (stack and load together) {}",
        lines as f64 / d,
        bytes as f64 / d,
        emf_lines as f64 / d,
        emf_bytes as f64 / d,
        mib(vm_hwm_kib(own_pid()))
    );

    // Size the updated items and price the run.
    let resolved = resolve_update_sizes(&stack, &mut tally).await;
    let inv = invocations
        .lock()
        .map(|i| Invocations {
            count: i.count.clone(),
            records: i.records.clone(),
            seconds: i.seconds.clone(),
            billed_gb_seconds: i.billed_gb_seconds,
        })
        .unwrap_or_default();
    let intake_gb_s: f64 = post_s
        .iter()
        .map(|s| (s * 1000.0).ceil() / 1000.0 * cost::LAMBDA_MEMORY_GB)
        .sum();
    let consumer_invocations: u64 = inv.count.values().sum();
    println!("\nAWS requests per delivery (counted by the SDK interceptor, every attempt):");
    for ((service, op), n) in &tally.requests {
        println!("  {service:>9} {op:<22} {:>8} = {:.3}", n, *n as f64 / d);
    }
    println!(
        "  SQS billed requests (64 KB chunks) {:.3}; DynamoDB WRU {:.3} (updates sized from {resolved} stored items), RRU {:.3}",
        tally.sqs_billed as f64 / d,
        tally.wru / d,
        tally.rru / d
    );
    for (op, wru) in &tally.wru_by_op {
        println!("  WRU from {op}: {:.3} per delivery", wru / d);
    }
    for (queue, n) in &inv.count {
        println!(
            "  invocations of {queue}: {n} ({:.2} records each, {:.1} ms each)",
            inv.records.get(queue).copied().unwrap_or(0) as f64 / *n as f64,
            inv.seconds.get(queue).copied().unwrap_or(0.0) / *n as f64 * 1000.0
        );
    }
    let usage = Usage {
        api_requests: post_s.len() as f64 / d,
        lambda_invocations: (post_s.len() as u64 + consumer_invocations) as f64 / d,
        lambda_gb_seconds: (intake_gb_s + inv.billed_gb_seconds) / d,
        sqs_requests: tally.sqs_billed as f64 / d,
        wru: tally.wru / d,
        rru: tally.rru / d,
    };
    let bill = cost::per_million(&usage);
    println!(
        "cost per million deliveries ({}): API Gateway ${:.3}, Lambda requests ${:.3}, Lambda duration ${:.3} ({:.4} GB-s per delivery, measured against moto), SQS ${:.3}, DynamoDB writes ${:.3}, reads ${:.3}; total ${:.3}",
        cost::PRICES_AS_OF,
        bill.api_gateway,
        bill.lambda_requests,
        bill.lambda_duration,
        usage.lambda_gb_seconds,
        bill.sqs,
        bill.dynamodb_writes,
        bill.dynamodb_reads,
        bill.total()
    );
    let provisioned = cost::per_million_provisioned(&usage);
    println!(
        "  the same with the table on provisioned capacity (auto scaling at {:.0} % utilisation): DynamoDB writes ${:.3}, reads ${:.3}; total ${:.3}",
        cost::PROVISIONED_UTILISATION * 100.0,
        provisioned.dynamodb_writes,
        provisioned.dynamodb_reads,
        provisioned.total()
    );

    // A sample of the log: succeeded, with the expected number of attempts.
    let ids: Vec<String> = accepted.keys().take(sample).cloned().collect();
    let bad = check_log(&tenant, &ids, expected_per_id).await;
    println!(
        "delivery log sample: {} of {} checked deliveries not `succeeded` with {expected_per_id} attempt(s)",
        bad.len(),
        ids.len()
    );
    for b in bad.iter().take(5) {
        println!("  {b}");
    }
    // An id that arrived more often than expected is consistent only if the
    // log lists one attempt per arrival: SQS handed its message to two
    // consumers (at-least-once), and both sends were recorded.
    let extra: Vec<(String, usize)> = wrong
        .iter()
        .map(|(id, (n, _))| (id.to_string(), *n))
        .collect();
    let unlogged = arrivals_not_logged(&tenant, &extra).await;
    println!(
        "arrivals against the log: {} ids arrived other than {expected_per_id}× ({} of them with one logged attempt per arrival)",
        extra.len(),
        extra.len() - unlogged.len()
    );
    for u in unlogged.iter().take(5) {
        println!("  {u}");
    }
    let once = wrong.is_empty() && missing == 0 && unknown == 0 && bad.is_empty() && complete > 0;
    let as_logged =
        unlogged.is_empty() && missing == 0 && unknown == 0 && bad.is_empty() && complete > 0;
    println!(
        "exactly once: {}; every arrival logged: {}",
        if once { "OK" } else { "NO" },
        if as_logged { "OK" } else { "FAILED" }
    );
    let mut run = results::Run::new("e2e", command_line());
    run.figure("deliveries", deliveries as f64, "deliveries")
        .figure("missing", missing as f64, "deliveries")
        .figure("unknown", unknown as f64, "deliveries")
        .figure("not_exactly_once", wrong.len() as f64, "deliveries")
        .figure("exactly_once", f64::from(u8::from(once)), "bool")
        .figure(
            "every_arrival_logged",
            f64::from(u8::from(as_logged)),
            "bool",
        )
        .figure(
            "sustained",
            complete as f64 / window.max(1e-9),
            "deliveries/s",
        )
        .figure("latency_p50", percentile(&latencies, 50.0), "ms")
        .figure("latency_p95", percentile(&latencies, 95.0), "ms")
        .figure("latency_p99", percentile(&latencies, 99.0), "ms")
        .figure(
            "latency_max",
            latencies.last().copied().unwrap_or(f64::NAN),
            "ms",
        )
        .figure("post_p50", percentile(&post_s, 50.0) * 1000.0, "ms")
        .figure("post_p99", percentile(&post_s, 99.0) * 1000.0, "ms")
        .figure("cpu_per_delivery", cpu / d * 1e6, "µs")
        .figure("stack_cpu_per_delivery", per_d(stack_ns), "µs")
        .figure(
            "harness_cpu_per_delivery",
            per_d(stack_ns.saturating_sub(functions_ns)),
            "µs",
        )
        .figure("load_cpu_per_delivery", per_d(cpu_split.load_ns), "µs")
        .figure(
            "stack_allocs_per_delivery",
            stack_allocs as f64 / d,
            "allocations",
        )
        .figure("log_lines_per_delivery", lines as f64 / d, "lines")
        .figure("log_bytes_per_delivery", bytes as f64 / d, "bytes")
        .figure("emf_lines_per_delivery", emf_lines as f64 / d, "lines")
        .figure("emf_bytes_per_delivery", emf_bytes as f64 / d, "bytes")
        .figure(
            "peak_rss",
            vm_hwm_kib(own_pid()).map_or(f64::NAN, |k| k as f64 / 1024.0),
            "MiB",
        )
        .figure("moto_sqs_cpu", moto_cpu.0, "s")
        .figure("moto_dynamodb_cpu", moto_cpu.1, "s")
        .figure("cost_api_gateway", bill.api_gateway, "$/M")
        .figure("cost_lambda_requests", bill.lambda_requests, "$/M")
        .figure("cost_lambda_duration", bill.lambda_duration, "$/M")
        .figure("cost_sqs", bill.sqs, "$/M")
        .figure("cost_dynamodb_writes", bill.dynamodb_writes, "$/M")
        .figure("cost_dynamodb_reads", bill.dynamodb_reads, "$/M")
        .figure("cost_on_demand", bill.total(), "$/M")
        .figure("cost_provisioned", provisioned.total(), "$/M")
        .figure("wru_per_delivery", tally.wru / d, "WRU")
        .figure("rru_per_delivery", tally.rru / d, "RRU");
    for f in &cpu_split.functions {
        run.figure(
            &format!("{}_cpu_per_delivery", f.name),
            per_d(f.cpu_ns),
            "µs",
        )
        .figure(
            &format!("{}_allocs_per_delivery", f.name),
            f.allocs as f64 / d,
            "allocations",
        );
        if f.name == "event-intake" {
            run.figure(
                "event-intake_cpu_per_event",
                f.cpu_ns as f64 / 1e3 / events.max(1) as f64,
                "µs",
            );
        }
    }
    if instrumented {
        for ((service, op), n) in &tally.requests {
            run.figure(&format!("aws_{service}_{op}"), *n as f64 / d, "requests");
        }
    }
    record(&run);
    load_rt.shutdown_background();
    if !as_logged {
        std::process::exit(1);
    }
    Ok(())
}

/// The ids (with how often each arrived) whose logged attempts do not match their arrivals.
async fn arrivals_not_logged(tenant: &ApiClient, arrived: &[(String, usize)]) -> Vec<String> {
    let mut bad = Vec::new();
    for (id, n) in arrived {
        let detail = tenant.get(&format!("/v1/deliveries/{id}")).await;
        let logged = detail.body["attempts"].as_array().map_or(0, Vec::len);
        if detail.status != 200 || logged != *n {
            bad.push(format!(
                "{id}: arrived {n}×, {logged} attempts logged ({})",
                detail.status
            ));
        }
    }
    bad
}

async fn check_log(tenant: &ApiClient, ids: &[String], attempts: usize) -> Vec<String> {
    let mut bad = Vec::new();
    for chunk in ids.chunks(8) {
        let answers = futures::future::join_all(
            chunk
                .iter()
                .map(|id| async move { (id, tenant.get(&format!("/v1/deliveries/{id}")).await) }),
        )
        .await;
        for (id, a) in answers {
            let status = a.body["status"].as_str().unwrap_or_default();
            let count = a.body["attempt_count"].as_u64().unwrap_or(0) as usize;
            if a.status != 200 || status != "succeeded" || count != attempts {
                bad.push(format!("{id}: {} {status} attempts {count}", a.status));
            }
        }
    }
    bad
}

/// Size every updated item from the table (scanned with an uncounted client).
async fn resolve_update_sizes(
    stack: &LocalStack,
    tally: &mut chathooks_tests::bench::aws_count::Tally,
) -> usize {
    let (dynamodb, _) = clients(&stack.emulator).await;
    let mut sizes: HashMap<(String, String), (usize, usize)> = HashMap::new();
    let tables: HashSet<String> = tally.updates.keys().map(|(t, _)| t.clone()).collect();
    for table in tables {
        let Ok(described) = dynamodb.describe_table().table_name(&table).send().await else {
            continue;
        };
        let key_names: Vec<String> = described
            .table
            .and_then(|t| t.key_schema)
            .unwrap_or_default()
            .into_iter()
            .map(|k| k.attribute_name)
            .collect();
        let names: Vec<&str> = key_names.iter().map(String::as_str).collect();
        let mut start = None;
        loop {
            let Ok(page) = dynamodb
                .scan()
                .table_name(&table)
                .set_exclusive_start_key(start)
                .send()
                .await
            else {
                break;
            };
            for item in page.items.unwrap_or_default() {
                sizes.insert(
                    (table.clone(), sdk_key_string(&item, &names)),
                    (sdk_item_size(&item), sdk_indexes_of(&item)),
                );
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
    }
    let found = sizes.len();
    tally.resolve_updates(|t, k| sizes.get(&(t.to_string(), k.to_string())).copied());
    found
}

/// moto's SQS alone, with the same SDK: SendMessageBatch, then ReceiveMessage + DeleteMessageBatch.
async fn emulator(args: &EmulatorArgs) -> Result<(), BoxError> {
    let messages = args.messages;
    let senders = usize::from(args.concurrency);
    let pollers = usize::from(args.pollers);
    let stack = LocalStack::start(LocalOptions::default()).await?;
    let queue = stack.queue_url("DeliveryQueue");
    let body = serde_json::to_string(&closed_chat("emulator", 12))?;
    println!(
        "emulator: {messages} messages of {} bytes, {senders} senders, {pollers} pollers, moto SQS at {}",
        body.len(),
        stack.emulator.sqs.endpoint
    );
    let next = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..senders {
        let (sqs, queue, body, next) =
            (stack.sqs.clone(), queue.clone(), body.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let start = next.fetch_add(10, Ordering::SeqCst);
                if start >= messages {
                    break;
                }
                let entries: Vec<_> = (start..(start + 10).min(messages))
                    .filter_map(|n| {
                        aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                            .id(n.to_string())
                            .message_body(body.clone())
                            .build()
                            .ok()
                    })
                    .collect();
                let _ = sqs
                    .send_message_batch()
                    .queue_url(&queue)
                    .set_entries(Some(entries))
                    .send()
                    .await;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let send = t0.elapsed().as_secs_f64();
    println!(
        "SendMessageBatch: {messages} messages in {send:.1} s = {:.1} messages/s",
        messages as f64 / send
    );
    let received = Arc::new(AtomicUsize::new(0));
    let t1 = Instant::now();
    let stop = t1 + Duration::from_secs(args.deadline_secs);
    let mut tasks = Vec::new();
    for _ in 0..pollers {
        let (sqs, queue, received) = (stack.sqs.clone(), queue.clone(), received.clone());
        tasks.push(tokio::spawn(async move {
            while received.load(Ordering::SeqCst) < messages && Instant::now() < stop {
                let Ok(out) = sqs
                    .receive_message()
                    .queue_url(&queue)
                    .max_number_of_messages(10)
                    .wait_time_seconds(1)
                    .send()
                    .await
                else {
                    continue;
                };
                let entries: Vec<_> = out
                    .messages
                    .unwrap_or_default()
                    .into_iter()
                    .enumerate()
                    .filter_map(|(i, m)| {
                        aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                            .id(i.to_string())
                            .set_receipt_handle(m.receipt_handle)
                            .build()
                            .ok()
                    })
                    .collect();
                if entries.is_empty() {
                    continue;
                }
                received.fetch_add(entries.len(), Ordering::SeqCst);
                let _ = sqs
                    .delete_message_batch()
                    .queue_url(&queue)
                    .set_entries(Some(entries))
                    .send()
                    .await;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let recv = t1.elapsed().as_secs_f64();
    let n = received.load(Ordering::SeqCst);
    println!(
        "ReceiveMessage + DeleteMessageBatch (queue {messages} deep, draining): {n} messages in {recv:.1} s = {:.1} messages/s",
        n as f64 / recv
    );
    println!(
        "RSS: moto SQS {}, this process {}",
        mib(vm_rss_kib(stack.emulator.sqs.pid())),
        mib(vm_rss_kib(own_pid()))
    );
    let mut run = results::Run::new("emulator", command_line());
    run.figure("send", messages as f64 / send, "messages/s")
        .figure("receive_delete", n as f64 / recv, "messages/s")
        .figure(
            "moto_sqs_rss",
            vm_rss_kib(stack.emulator.sqs.pid()).map_or(f64::NAN, |k| k as f64 / 1024.0),
            "MiB",
        );
    record(&run);
    Ok(())
}

/// moto alone on the delivery path: each emulator call the path makes after
/// the intake's 202 (and the intake's own two), timed one at a time at
/// `--rate` per second with the functions' own adapters and SDK clients, so
/// an end-to-end figure can be split into the emulator's share and ours.
async fn emulator_path(args: &EmulatorPathArgs) -> Result<(), BoxError> {
    let samples = args.samples as usize;
    let rate = args.rate.max(0.1);
    let stack = LocalStack::start(LocalOptions::default()).await?;
    let queue = stack.queue_url("DeliveryQueue");
    let tenant = TenantId::generate();
    let events = stack.functions.dispatcher.events.clone();
    println!(
        "emulator path: {samples} samples at {rate}/s; moto SQS at {}, DynamoDB at {}",
        stack.emulator.sqs.endpoint, stack.emulator.dynamodb.endpoint
    );
    // One poller long-polling as Lambda's event-source mapping does.
    let (arrived_tx, mut arrived_rx) = tokio::sync::mpsc::unbounded_channel::<(String, Instant)>();
    let poller = {
        let (sqs, queue) = (stack.sqs.clone(), queue.clone());
        tokio::spawn(async move {
            loop {
                let Ok(out) = sqs
                    .receive_message()
                    .queue_url(&queue)
                    .max_number_of_messages(10)
                    .wait_time_seconds(20)
                    .send()
                    .await
                else {
                    continue;
                };
                let at = Instant::now();
                for m in out.messages.unwrap_or_default() {
                    let _ = arrived_tx.send((m.body.clone().unwrap_or_default(), at));
                    let _ = sqs
                        .delete_message()
                        .queue_url(&queue)
                        .set_receipt_handle(m.receipt_handle)
                        .send()
                        .await;
                }
            }
        })
    };
    let ms = |since: Instant| since.elapsed().as_secs_f64() * 1000.0;
    let (mut put, mut get, mut send, mut wake) = (vec![], vec![], vec![], vec![]);
    let period = Duration::from_secs_f64(1.0 / rate);
    let expires = chrono::Utc::now() + chrono::Duration::days(1);
    for i in 0..samples {
        let next = Instant::now() + period;
        let event = Event::from_json(closed_chat(&format!("path-{i}"), 12))?;
        let t = Instant::now();
        events.insert(&tenant, &event, "token", expires).await?;
        put.push(ms(t));
        let t = Instant::now();
        events.get(&tenant, &event.id).await?;
        get.push(ms(t));
        let t = Instant::now();
        stack
            .sqs
            .send_message()
            .queue_url(&queue)
            .message_body(format!("path-{i}"))
            .send()
            .await?;
        send.push(ms(t));
        let sent = Instant::now();
        let deadline = sent + Duration::from_secs(30);
        while let Ok(Some((body, at))) =
            tokio::time::timeout_at(deadline.into(), arrived_rx.recv()).await
        {
            if body == format!("path-{i}") {
                wake.push(at.saturating_duration_since(sent).as_secs_f64() * 1000.0);
                break;
            }
        }
        tokio::time::sleep_until(next.into()).await;
    }
    poller.abort();
    println!("call (moto, one at a time)                     p50      p95      p99      max   n");
    let mut run = results::Run::new("emulator-path", command_line());
    for (key, name, values) in [
        (
            "put_item",
            "intake: PutItem, conditional (event item)",
            &mut put,
        ),
        ("send_message", "intake: SendMessage", &mut send),
        (
            "wake_up",
            "delivery: queue wake-up (send -> receive)",
            &mut wake,
        ),
        (
            "get_item",
            "delivery: GetItem, consistent (event item)",
            &mut get,
        ),
    ] {
        values.sort_by(f64::total_cmp);
        for p in [50.0, 95.0, 99.0] {
            run.figure(&format!("{key}_p{p}"), percentile(values, p), "ms");
        }
        run.figure(
            &format!("{key}_max"),
            values.last().copied().unwrap_or(f64::NAN),
            "ms",
        );
        println!(
            "{name:<46} {:>6.1} ms {:>6.1} ms {:>6.1} ms {:>6.1} ms {}",
            percentile(values, 50.0),
            percentile(values, 95.0),
            percentile(values, 99.0),
            values.last().copied().unwrap_or(f64::NAN),
            values.len()
        );
    }
    println!(
        "moto CPU: SQS {:.1} s, DynamoDB {:.1} s",
        cpu_seconds(stack.emulator.sqs.pid()).unwrap_or(0.0),
        cpu_seconds(stack.emulator.dynamodb.pid()).unwrap_or(0.0)
    );
    record(&run);
    Ok(())
}

/// A batch of ten deliveries to a receiver answering after one second, through the dispatcher handler.
async fn batch10(args: &Batch10Args) -> Result<(), BoxError> {
    let repeat = usize::from(args.repeat);
    let (stack, admin) = running(LocalOptions {
        pollers: 1,
        ..LocalOptions::default()
    })
    .await?;
    let created = admin.post("/v1/tenants", &json!({"name": "bench"})).await;
    let tenant_id = TenantId::parse(created.body["id"].as_str().unwrap_or_default())?;
    let tenant = admin.with_key(created.body["api_key"].as_str().unwrap_or_default());
    let receiver =
        Receiver::scripted(|_, _| Reply::status(200).after(Duration::from_secs(1))).await;
    // The jobs go straight to the handler, never through SQS.
    let made = tenant
        .post(
            "/v1/integrations",
            &json!({"name": "slow", "url": receiver.url("/slow"), "events": ["chat.closed"], "timeout_ms": 5000}),
        )
        .await;
    let id = IntegrationId::parse(made.body["id"].as_str().unwrap_or_default())?;
    let integration = stack
        .functions
        .dispatcher
        .integrations
        .get(&tenant_id, &id)
        .await?
        .ok_or("integration not stored")?;
    let mut took = Vec::new();
    for r in 0..repeat {
        let mut event = SqsEvent::default();
        for n in 0..10 {
            let e = Event::from_json(closed_chat(&format!("batch10-{r}-{n}"), 12))?;
            for job in stack
                .accepted_jobs(&tenant_id, &e, std::slice::from_ref(&integration))
                .await?
            {
                let mut m = SqsMessage::default();
                m.message_id = Some(format!("m-{r}-{n}"));
                m.body = Some(QueueMessage::DeliveryV1(job).to_json());
                event.records.push(m);
            }
        }
        let t0 = Instant::now();
        let response = dispatcher::handle(&stack.functions.dispatcher, event).await;
        let t = t0.elapsed().as_secs_f64();
        if !response.batch_item_failures.is_empty() {
            return Err(format!("failures: {:?}", response.batch_item_failures).into());
        }
        took.push(t);
    }
    took.sort_by(f64::total_cmp);
    println!(
        "batch of ten 1 s deliveries through dispatcher::handle, {repeat} runs: min {:.3} s, median {:.3} s, max {:.3} s (receiver got {})",
        took[0],
        percentile(&took, 50.0),
        took[took.len() - 1],
        receiver.received().len()
    );
    let mut run = results::Run::new("batch10", command_line());
    run.figure("min", took[0], "s")
        .figure("median", percentile(&took, 50.0), "s")
        .figure("max", took[took.len() - 1], "s");
    record(&run);
    Ok(())
}

/// The 1-minute load average (`/proc/loadavg`), NaN if unknown.
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// One function's thread: CPU time and allocations.
#[derive(Clone)]
struct FunctionCpu {
    name: String,
    cpu_ns: u64,
    allocs: u64,
    alloc_bytes: u64,
}

/// The process's CPU time and allocations, with the load generator's and
/// each function's apart.
struct Cpu {
    process_ns: u64,
    load_ns: u64,
    process_allocs: (u64, u64),
    load_allocs: (u64, u64),
    functions: Vec<FunctionCpu>,
}

impl Cpu {
    fn sample(
        load: &ThreadGroup,
        functions: &[&chathooks_tests::bench::threads::FunctionThread],
    ) -> Self {
        Self {
            process_ns: process_cpu_ns(),
            load_ns: load.cpu_ns(),
            process_allocs: chathooks_tests::bench::alloc::process(),
            load_allocs: load.allocations(),
            functions: functions
                .iter()
                .map(|f| {
                    let (allocs, alloc_bytes) = f.group.allocations();
                    FunctionCpu {
                        name: f.name().to_string(),
                        cpu_ns: f.group.cpu_ns(),
                        allocs,
                        alloc_bytes,
                    }
                })
                .collect(),
        }
    }

    /// What happened between `before` and this sample.
    fn since(self, before: &Cpu) -> Self {
        let sub = |a: (u64, u64), b: (u64, u64)| (a.0.saturating_sub(b.0), a.1.saturating_sub(b.1));
        Self {
            process_ns: self.process_ns.saturating_sub(before.process_ns),
            load_ns: self.load_ns.saturating_sub(before.load_ns),
            process_allocs: sub(self.process_allocs, before.process_allocs),
            load_allocs: sub(self.load_allocs, before.load_allocs),
            functions: self
                .functions
                .iter()
                .zip(&before.functions)
                .map(|(a, b)| FunctionCpu {
                    name: a.name.clone(),
                    cpu_ns: a.cpu_ns.saturating_sub(b.cpu_ns),
                    allocs: a.allocs.saturating_sub(b.allocs),
                    alloc_bytes: a.alloc_bytes.saturating_sub(b.alloc_bytes),
                })
                .collect(),
        }
    }
}

/// One empty call per operation, `calls` times in a row on a thread of its
/// own, per client configuration: the SDK's CPU floor per call (moto's own
/// time is in its process, not counted).
async fn sdk_floor(args: &SdkFloorArgs) -> Result<(), BoxError> {
    use chathooks_tests::bench::threads::{FunctionThread, thread_cpu_ns};
    let calls = args.calls;
    let stack = LocalStack::start(LocalOptions {
        check_iam: false,
        ..LocalOptions::default()
    })
    .await?;
    let table = stack.stack.table("Table").unwrap_or_default().to_string();
    let queue = stack.queue_url("RetryQueue");
    let (dynamodb_front, _dynamodb_task) =
        chathooks_tests::bench::keepalive::start(&stack.emulator.dynamodb.endpoint).await?;
    let (sqs_front, _sqs_task) =
        chathooks_tests::bench::keepalive::start(&stack.emulator.sqs.endpoint).await?;
    let mut variants: Vec<Variant> = Vec::new();
    type Variant = (String, aws_sdk_dynamodb::Client, aws_sdk_sqs::Client);
    for (transport, dynamodb_endpoint, sqs_endpoint) in [
        (
            "moto directly (a connection per call)",
            &stack.emulator.dynamodb.endpoint,
            &stack.emulator.sqs.endpoint,
        ),
        (
            "keep-alive front (connections reused)",
            &dynamodb_front,
            &sqs_front,
        ),
    ] {
        let dynamodb_sdk = chathooks_tests::moto::sdk_config(dynamodb_endpoint).await;
        let sqs_sdk = chathooks_tests::moto::sdk_config(sqs_endpoint).await;
        variants.extend(
            client_variants(&dynamodb_sdk, &sqs_sdk)
                .into_iter()
                .map(|(name, dynamodb, sqs)| (format!("{name}, {transport}"), dynamodb, sqs)),
        );
    }
    println!(
        "SDK floor: {calls} empty calls per operation and configuration, each configuration on a thread of its own (load {:.2})",
        load_average()
    );
    let mut run = results::Run::new("sdk-floor", command_line());
    for (index, (name, dynamodb, sqs)) in variants.into_iter().enumerate() {
        let thread = FunctionThread::spawn(&format!("sdk-floor-{index}"))?;
        for op in ["GetItem", "ReceiveMessage"] {
            let (dynamodb, sqs, table, queue) =
                (dynamodb.clone(), sqs.clone(), table.clone(), queue.clone());
            let measured = thread
                .run(move || async move {
                    let one = || async {
                        if op == "GetItem" {
                            dynamodb
                                .get_item()
                                .table_name(&table)
                                .key(
                                    "pk",
                                    aws_sdk_dynamodb::types::AttributeValue::S("floor".into()),
                                )
                                .key(
                                    "sk",
                                    aws_sdk_dynamodb::types::AttributeValue::S("missing".into()),
                                )
                                .send()
                                .await
                                .map(|_| ())
                                .map_err(|e| e.to_string())
                        } else {
                            sqs.receive_message()
                                .queue_url(&queue)
                                .wait_time_seconds(0)
                                .send()
                                .await
                                .map(|_| ())
                                .map_err(|e| e.to_string())
                        }
                    };
                    for _ in 0..20 {
                        one().await?;
                    }
                    let (cpu0, (a0, b0)) = (
                        thread_cpu_ns(),
                        chathooks_tests::bench::alloc::this_thread(),
                    );
                    let t0 = Instant::now();
                    for _ in 0..calls {
                        one().await?;
                    }
                    let wall = t0.elapsed();
                    let (cpu1, (a1, b1)) = (
                        thread_cpu_ns(),
                        chathooks_tests::bench::alloc::this_thread(),
                    );
                    Ok::<_, String>((cpu1 - cpu0, a1 - a0, b1 - b0, wall))
                })
                .await?;
            let (cpu_ns, allocs, bytes, wall) = measured;
            let n = f64::from(calls);
            println!(
                "  {name:<86} {op:<15} {:>6.1} µs CPU, {:>5.0} allocations ({:>6.0} bytes), {:>5.2} ms wall per call",
                cpu_ns as f64 / 1e3 / n,
                allocs as f64 / n,
                bytes as f64 / n,
                wall.as_secs_f64() * 1e3 / n
            );
            let key = format!("{index}_{op}");
            run.figure(&format!("{key}_cpu"), cpu_ns as f64 / 1e3 / n, "µs")
                .figure(&format!("{key}_allocs"), allocs as f64 / n, "allocations");
        }
    }
    record(&run);
    Ok(())
}

/// The client configurations `sdk-floor` compares, from one SDK config per service.
fn client_variants(
    dynamodb_sdk: &aws_config::SdkConfig,
    sqs_sdk: &aws_config::SdkConfig,
) -> Vec<(&'static str, aws_sdk_dynamodb::Client, aws_sdk_sqs::Client)> {
    use chathooks::adapters::aws::{dynamodb_config, sqs_config};
    let counter = AwsCounter::new();
    vec![
        (
            "SDK defaults (Client::new)",
            aws_sdk_dynamodb::Client::new(dynamodb_sdk),
            aws_sdk_sqs::Client::new(sqs_sdk),
        ),
        (
            "the functions' clients (adapters::aws)",
            aws_sdk_dynamodb::Client::from_conf(dynamodb_config(dynamodb_sdk).build()),
            aws_sdk_sqs::Client::from_conf(sqs_config(sqs_sdk).build()),
        ),
        (
            "the functions' clients + the request counter",
            aws_sdk_dynamodb::Client::from_conf(
                dynamodb_config(dynamodb_sdk)
                    .interceptor(counter.clone())
                    .build(),
            ),
            aws_sdk_sqs::Client::from_conf(sqs_config(sqs_sdk).interceptor(counter).build()),
        ),
    ]
}
