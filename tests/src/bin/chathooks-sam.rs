//! The functions' own `bootstrap` binaries in the SAM CLI's containers,
//! against moto on this machine (`scripts/sam-local/*.sh` set up the container
//! engine, the base image and `sam build` first):
//!
//! - `invoke <events/file>`: `sam local invoke -e` of one sample, with what it
//!   needs (a tenant, an integration, a delivery) made first through
//!   `sam local invoke` too;
//! - `samples`: every sample in `events/` through `sam local invoke`, each
//!   asserting what `tests/tests/events_samples.rs` asserts in process;
//! - `local`: the whole system: `sam local start-api` on 127.0.0.1:$PORT and
//!   the dispatcher's and retry scheduler's SQS event-source mappings driven
//!   through `sam local start-lambda` (the Lambda Invoke API) with the batches
//!   pollers receive from moto. Ctrl-C stops it all.
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chathooks_tests::local::{LocalOptions, LocalStack, walkthrough};
use chathooks_tests::moto::{free_port, workspace_root};
use chathooks_tests::receiver::Receiver;
use chathooks_tests::samples::{
    ADMIN_PLACEHOLDER, CONFIG_API_SAMPLES, Real, SETUP_SAMPLES, uncovered,
};
use clap::{Parser, Subcommand};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Parser)]
#[command(about = "chathooks through the SAM CLI against moto")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// `sam local invoke -e` of one sample (after making what it refers to).
    Invoke { event: PathBuf },
    /// Every sample in events/ through `sam local invoke`, checked.
    Samples,
    /// The whole system through `sam local start-api` and `start-lambda`.
    Local,
}

const FUNCTIONS: [&str; 4] = [
    "ConfigApiFunction",
    "EventIntakeFunction",
    "DispatcherFunction",
    "RetrySchedulerFunction",
];

/// The function a sample is for, from its file name.
fn function_for(sample: &str) -> Result<&'static str, BoxError> {
    [
        ("config-api-", "ConfigApiFunction"),
        ("event-intake-", "EventIntakeFunction"),
        ("dispatcher-", "DispatcherFunction"),
        ("retry-scheduler-", "RetrySchedulerFunction"),
    ]
    .into_iter()
    .find(|(prefix, _)| sample.starts_with(prefix))
    .map(|(_, f)| f)
    .ok_or_else(|| format!("events/{sample}: no function for this name").into())
}

/// moto with the stack's tables and queues, and the SAM CLI's view of it:
/// an env-vars file and parameter overrides that point every function at it.
struct Sam {
    stack: LocalStack,
    dir: PathBuf,
    template: PathBuf,
    env_vars: PathBuf,
    parameters: String,
}

impl Sam {
    async fn start(admin_key: String) -> Result<Self, BoxError> {
        Self::start_with(admin_key, &[]).await
    }

    /// With `config_api` settings for the config API over the template's.
    async fn start_with(admin_key: String, config_api: &[(&str, &str)]) -> Result<Self, BoxError> {
        let root = workspace_root();
        let dir = root.join("target/sam-local");
        let template = dir.join("build/template.yaml");
        if !template.exists() {
            return Err(format!(
                "{} is missing: run scripts/sam-local/build.sh (make sam-build-local)",
                template.display()
            )
            .into());
        }
        let stack = LocalStack::start(LocalOptions {
            admin_key: admin_key.clone(),
            ..Default::default()
        })
        .await?;
        let (sqs, dynamodb) = (
            stack.emulator.sqs.endpoint.clone(),
            stack.emulator.dynamodb.endpoint.clone(),
        );
        let local = [
            ("CHATHOOKS_ALLOW_PRIVATE_TARGETS", "true"),
            ("CHATHOOKS_ALLOW_HTTP", "true"),
        ];
        let mut vars = Map::new();
        for function in FUNCTIONS {
            let mut overrides = local.to_vec();
            if function == "ConfigApiFunction" {
                overrides.push(("CHATHOOKS_ADMIN_KEY", admin_key.as_str()));
                overrides.extend_from_slice(config_api);
            }
            let mut env: Map<String, Value> = stack
                .stack
                .function_env_for(function, &overrides)?
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            env.insert("AWS_ENDPOINT_URL_SQS".into(), sqs.clone().into());
            env.insert("AWS_ENDPOINT_URL_DYNAMODB".into(), dynamodb.clone().into());
            if let Ok(filter) = std::env::var("RUST_LOG") {
                env.insert("RUST_LOG".into(), filter.into());
            }
            vars.insert(function.to_string(), Value::Object(env));
        }
        let env_vars = dir.join(format!("env-{}.json", std::process::id()));
        std::fs::write(&env_vars, serde_json::to_vec_pretty(&vars)?)?;
        let arch = std::env::var("SAM_ARCH").unwrap_or_else(|_| "x86_64".into());
        let parameters = format!(
            "Architecture={arch} AdminKey={admin_key} AllowPrivateTargets=true AllowHttp=true \
             SqsEndpointUrl={sqs} DynamoDbEndpointUrl={dynamodb}"
        );
        Ok(Self {
            stack,
            dir,
            template,
            env_vars,
            parameters,
        })
    }

    /// A `sam local <what>` command with the flags every one of them needs offline.
    fn sam(&self, what: &str) -> Command {
        // The SAM CLI through scripts/sam-local/sam.py: `--docker-network host`
        // then gives the containers the host's network (see that file).
        let root = workspace_root();
        let mut c = Command::new(root.join(".venv/bin/python"));
        c.arg(root.join("scripts/sam-local/sam.py"))
            .args(["local", what, "--template"])
            .arg(&self.template)
            .args([
                "--skip-pull-image",
                "--docker-network",
                "host",
                "--env-vars",
            ])
            .arg(&self.env_vars)
            .args(["--parameter-overrides", &self.parameters])
            .env("SAM_CLI_TELEMETRY", "0")
            .env("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9")
            .env("AWS_MAX_ATTEMPTS", "1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_REGION", "us-east-1");
        c
    }

    /// `sam local invoke -e` of `event` on `function`; the function's response.
    fn invoke(&self, function: &str, label: &str, event: &str) -> Result<Value, BoxError> {
        let file = self.dir.join(format!("event-{}.json", std::process::id()));
        std::fs::write(&file, event)?;
        let started = Instant::now();
        let out = self
            .sam("invoke")
            .arg("--event")
            .arg(&file)
            .arg(function)
            .stdin(Stdio::null())
            .output()?;
        let _ = std::fs::remove_file(&file);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let response = stdout
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .and_then(|l| serde_json::from_str::<Value>(l).ok());
        match response {
            Some(v) if out.status.success() && v.get("errorType").is_none() => {
                if std::env::var_os("CHATHOOKS_SAM_VERBOSE").is_some() {
                    eprintln!("{stderr}");
                }
                eprintln!(
                    "sam local invoke {function} -e {label}: {:.1} s",
                    started.elapsed().as_secs_f64()
                );
                Ok(v)
            }
            _ => Err(format!(
                "sam local invoke {function} -e {label} failed ({}):\n{stderr}\n{stdout}",
                out.status
            )
            .into()),
        }
    }

    /// An API Gateway sample through its function: the status and JSON body.
    fn invoke_http(&self, name: &str, real: &Real) -> Result<(u16, Value), BoxError> {
        let event = real
            .apply(&read(name)?)
            .replace(ADMIN_PLACEHOLDER, &self.stack.options.admin_key);
        let response = self.invoke(function_for(name)?, name, &event)?;
        let status = response["statusCode"]
            .as_u64()
            .ok_or_else(|| format!("{name}: no statusCode in {response}"))?;
        let body = match &response["body"] {
            Value::String(s) if response["isBase64Encoded"] == json!(true) => {
                use base64::Engine;
                let bytes = base64::engine::general_purpose::STANDARD.decode(s)?;
                serde_json::from_slice(&bytes).unwrap_or(Value::Null)
            }
            Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
            _ => Value::Null,
        };
        Ok((u16::try_from(status)?, body))
    }

    /// An SQS sample through its consumer: the batch response.
    fn invoke_sqs(&self, name: &str, real: &Real) -> Result<SqsBatchResponse, BoxError> {
        let event = real.apply(&read(name)?);
        let _: SqsEvent =
            serde_json::from_str(&event).map_err(|e| format!("{name} is not an SQS event: {e}"))?;
        let response = self.invoke(function_for(name)?, name, &event)?;
        Ok(serde_json::from_value(response)?)
    }
}

impl Drop for Sam {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.env_vars);
    }
}

fn read(name: &str) -> Result<String, BoxError> {
    std::fs::read_to_string(workspace_root().join("events").join(name))
        .map_err(|e| format!("events/{name}: {e}").into())
}

fn expect(name: &str, (status, body): (u16, Value), want: u16) -> Result<Value, BoxError> {
    if status == want {
        Ok(body)
    } else {
        Err(format!("{name}: status {status}, expected {want}: {body}").into())
    }
}

fn text(body: &Value, pointer: &str) -> Result<String, BoxError> {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| format!("no {pointer} in {body}").into())
}

/// What a sample refers to, made through the functions in SAM's containers:
/// the tenant, the integration (its target the local receiver), a source
/// (for the source post's sample) and, for samples naming a delivery, an
/// accepted event.
fn prepare(sam: &Sam, receiver: &Receiver, real: &mut Real, up_to: &str) -> Result<(), BoxError> {
    real.target = receiver.url("/hooks/chat");
    let name = "config-api-create-tenant.json";
    let body = expect(name, sam.invoke_http(name, real)?, 201)?;
    if up_to == name {
        return Ok(());
    }
    real.tenant = text(&body, "/id")?;
    real.key = text(&body, "/api_key")?;
    let name = "config-api-create-integration.json";
    let body = expect(name, sam.invoke_http(name, real)?, 201)?;
    if up_to == name {
        return Ok(());
    }
    real.integration = text(&body, "/id")?;
    let name = "config-api-create-source.json";
    let body = expect(name, sam.invoke_http(name, real)?, 201)?;
    if up_to == name {
        return Ok(());
    }
    real.set_source(&body)?;
    let name = "event-intake-chat-closed.json";
    let body = expect(name, sam.invoke_http(name, real)?, 202)?;
    real.delivery = text(&body, "/deliveries/0/id")?;
    Ok(())
}

async fn samples() -> Result<(), BoxError> {
    let started = Instant::now();
    let sam = Sam::start(chathooks_tests::random_key("adm")).await?;
    let receiver = Receiver::start().await;
    let mut real = Real::default();
    prepare(&sam, &receiver, &mut real, "")?;

    let name = "event-intake-batch.json";
    expect(name, sam.invoke_http(name, &real)?, 202)?;

    let name = "dispatcher-delivery.json";
    let response = sam.invoke_sqs(name, &real)?;
    if !response.batch_item_failures.is_empty() {
        return Err(format!("{name}: {response:?}").into());
    }
    if receiver
        .wait_for(1, Duration::from_secs(10))
        .await
        .is_empty()
    {
        return Err(format!("{name}: the receiver got nothing").into());
    }
    let name = "retry-scheduler-retry.json";
    let response = sam.invoke_sqs(name, &real)?;
    if !response.batch_item_failures.is_empty() {
        return Err(format!("{name}: {response:?}").into());
    }
    for (name, want) in CONFIG_API_SAMPLES {
        expect(name, sam.invoke_http(name, &real)?, want)?;
    }

    // No sample is left out.
    let left = uncovered(&workspace_root().join("events"))?;
    if !left.is_empty() {
        return Err(format!("events/ samples not run by `chathooks-sam samples`: {left:?}").into());
    }
    let count = SETUP_SAMPLES.len() + CONFIG_API_SAMPLES.len();
    eprintln!(
        "every sample ({count}) passed through sam local invoke in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn invoke_one(event: &Path) -> Result<(), BoxError> {
    let name = event
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .ok_or("EVENT must name a file in events/")?;
    let function = function_for(&name)?;
    let sam = Sam::start(chathooks_tests::random_key("adm")).await?;
    let receiver = Receiver::start().await;
    let mut real = Real::default();
    prepare(&sam, &receiver, &mut real, &name)?;
    if name.starts_with("config-api-create-") || name == "event-intake-chat-closed.json" {
        // made by prepare, which checked its status
        return Ok(());
    }
    let raw = real
        .apply(&read(&name)?)
        .replace(ADMIN_PLACEHOLDER, &sam.stack.options.admin_key);
    let response = sam.invoke(function, &name, &raw)?;
    println!("{}", serde_json::to_string_pretty(&response)?);
    if name.starts_with("dispatcher-") {
        let got = receiver.wait_for(1, Duration::from_secs(10)).await;
        eprintln!("the local receiver got {} request(s)", got.len());
    }
    Ok(())
}

/// A child process in its own process group (so the terminal's Ctrl-C
/// reaches only this runner, which stops it with SIGTERM, as SAM wants).
fn spawn(mut command: Command, log: &Path) -> Result<Child, BoxError> {
    use std::os::unix::process::CommandExt;
    let file = std::fs::File::create(log)?;
    Ok(command
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .spawn()?)
}

/// Stop a SAM CLI command: SIGINT, on which it removes its containers (on
/// SIGTERM it exits leaving them running), then SIGTERM, then SIGKILL.
fn terminate(child: &mut Child) {
    for (signal, wait) in [("-INT", 30), ("-TERM", 5)] {
        let _ = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(wait);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Remove the containers a SAM CLI command started: it leaves its warm
/// containers running when it stops. Each is named in its log.
fn remove_containers(logs: &[&Path]) {
    let ids: Vec<String> = logs
        .iter()
        .filter_map(|log| std::fs::read_to_string(log).ok())
        .flat_map(|text| {
            text.lines()
                .filter_map(|l| l.trim().strip_prefix("SAM_CONTAINER_ID: "))
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    if ids.is_empty() {
        return;
    }
    let removed = Command::new("docker")
        .args(["rm", "--force"])
        .args(&ids)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !matches!(removed, Ok(s) if s.success()) {
        eprintln!("could not remove every SAM container: {}", ids.join(" "));
    }
}

async fn wait_for_port(port: u16, child: &mut Child, what: &str) -> Result<(), BoxError> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("{what} exited: {status}").into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(format!("{what} did not listen on {port} within 120 s").into())
}

/// One SQS event-source mapping: receive a batch, invoke the function
/// through the Lambda Invoke API, delete what it did not report failed.
async fn poll(
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    invoke_url: String,
    function: &'static str,
) {
    let http = reqwest::Client::new();
    loop {
        let received = sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_system_attribute_names(
                aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount,
            )
            .send()
            .await;
        let messages = match received {
            Ok(out) => out.messages.unwrap_or_default(),
            Err(e) => {
                eprintln!("{function}: receive failed: {e}");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        if messages.is_empty() {
            continue;
        }
        let mut event = SqsEvent::default();
        let mut handles = HashMap::new();
        for m in messages {
            let mut record = SqsMessage::default();
            record.message_id = m.message_id.clone();
            record.receipt_handle = m.receipt_handle.clone();
            record.body = m.body.clone();
            record.event_source = Some("aws:sqs".into());
            record.event_source_arn = Some(queue_arn(&queue_url));
            record.aws_region = Some("us-east-1".into());
            if let Some(attrs) = &m.attributes {
                record.attributes = attrs
                    .iter()
                    .map(|(k, v)| (k.as_str().to_string(), v.clone()))
                    .collect();
            }
            if let (Some(id), Some(handle)) = (m.message_id, m.receipt_handle) {
                handles.insert(id, handle);
            }
            event.records.push(record);
        }
        let records = event.records.len();
        let started = Instant::now();
        let response = async {
            let body = serde_json::to_string(&event)?;
            let reply = http.post(&invoke_url).body(body).send().await?;
            let failed = reply.headers().get("x-amz-function-error").cloned();
            let text = reply.text().await?;
            if let Some(kind) = failed {
                return Err::<SqsBatchResponse, BoxError>(
                    format!("function error {kind:?}: {text}").into(),
                );
            }
            Ok(serde_json::from_str::<SqsBatchResponse>(&text)?)
        }
        .await;
        let response = match response {
            Ok(r) => r,
            Err(e) => {
                // As Lambda: the whole batch comes back after the visibility timeout.
                eprintln!("{function}: invoke failed, batch left to redeliver: {e}");
                continue;
            }
        };
        eprintln!(
            "{function}: {records} record(s), {} failed, {:.0} ms through start-lambda",
            response.batch_item_failures.len(),
            started.elapsed().as_secs_f64() * 1000.0
        );
        for failure in &response.batch_item_failures {
            handles.remove(&failure.item_identifier);
        }
        let entries: Vec<_> = handles
            .into_values()
            .enumerate()
            .filter_map(|(i, handle)| {
                aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(handle)
                    .build()
                    .ok()
            })
            .collect();
        if entries.is_empty() {
            continue;
        }
        if let Err(e) = sqs
            .delete_message_batch()
            .queue_url(&queue_url)
            .set_entries(Some(entries))
            .send()
            .await
        {
            eprintln!("{function}: delete failed; the messages will be redelivered: {e}");
        }
    }
}

/// moto's queue URLs end with the account and the name; SQS ARNs carry both.
fn queue_arn(url: &str) -> String {
    let mut parts = url.rsplit('/');
    let name = parts.next().unwrap_or_default();
    let account = parts.next().unwrap_or("123456789012");
    format!("arn:aws:sqs:us-east-1:{account}:{name}")
}

async fn local() -> Result<(), BoxError> {
    let (port, admin_key, generated) = chathooks_tests::local::run_settings()?;
    eprintln!(
        "starting moto (SQS and DynamoDB) and provisioning template.yaml's tables and queues..."
    );
    // Handlers first: the SAM CLI children then start with SIGINT at its
    // default even when this runner was started with it ignored (in the
    // background), so SIGINT can stop them and their containers.
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    let api = format!("http://127.0.0.1:{port}");
    // start-api tells the function its domain is "localhost" over https:
    // portal links name the local API instead, as CHATHOOKS_PUBLIC_URL is for.
    let sam = Sam::start_with(admin_key.clone(), &[("CHATHOOKS_PUBLIC_URL", api.as_str())]).await?;
    let lambda_port = free_port();
    let mut start_api = sam.sam("start-api");
    start_api
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--warm-containers", "EAGER"]);
    let mut lambda = sam.sam("start-lambda");
    lambda
        .args(["--host", "127.0.0.1", "--port", &lambda_port.to_string()])
        .args(["--warm-containers", "LAZY"]);
    let api_log = sam.dir.join("start-api.log");
    let lambda_log = sam.dir.join("start-lambda.log");
    eprintln!(
        "starting sam local start-api (log {}) and start-lambda (log {})...",
        api_log.display(),
        lambda_log.display()
    );
    let started = Instant::now();
    let mut children = vec![spawn(start_api, &api_log)?, spawn(lambda, &lambda_log)?];
    let ready = async {
        wait_for_port(port, &mut children[0], "sam local start-api").await?;
        wait_for_port(lambda_port, &mut children[1], "sam local start-lambda").await
    }
    .await;
    if let Err(e) = ready {
        for child in &mut children {
            terminate(child);
        }
        return Err(e);
    }
    eprintln!(
        "SAM CLI listening after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let invoke = |function: &str| {
        format!("http://127.0.0.1:{lambda_port}/2015-03-31/functions/{function}/invocations")
    };
    let pollers = [
        tokio::spawn(poll(
            sam.stack.sqs.clone(),
            sam.stack.queue_url("DeliveryQueue"),
            invoke("DispatcherFunction"),
            "DispatcherFunction",
        )),
        tokio::spawn(poll(
            sam.stack.sqs.clone(),
            sam.stack.queue_url("RetryQueue"),
            invoke("RetrySchedulerFunction"),
            "RetrySchedulerFunction",
        )),
    ];
    println!(
        "\nchathooks is running locally through the SAM CLI\n\
         \n  API             {api}  (sam local start-api, the functions in containers)\
         \n  Lambda API      http://127.0.0.1:{lambda_port}  (sam local start-lambda: the dispatcher and retry scheduler)\
         \n  admin key       {}{admin_key}\
         \n  table           {}\
         \n  delivery queue  {}\
         \n  retry queue     {}\
         \n  SQS emulator    {}\
         \n  DynamoDB emul.  {}\
         \n\n  NOTE: local mode allows private-network and plain-http targets (the SSRF guard is off),\
         \n  so receivers on 127.0.0.1 work. Deployed stacks refuse them unless configured otherwise.\n",
        if generated { "(generated) " } else { "" },
        sam.stack.stack.table("Table").unwrap_or_default(),
        sam.stack.queue_url("DeliveryQueue"),
        sam.stack.queue_url("RetryQueue"),
        sam.stack.emulator.sqs.endpoint,
        sam.stack.emulator.dynamodb.endpoint,
    );
    println!("{}", walkthrough(&api, &admin_key));
    tokio::select! {
        _ = interrupt.recv() => {},
        _ = term.recv() => {},
    }
    eprintln!("stopping the SAM CLI (its containers too) and moto...");
    for poller in pollers {
        poller.abort();
    }
    for child in &mut children {
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
    }
    for child in &mut children {
        terminate(child);
    }
    remove_containers(&[&api_log, &lambda_log]);
    drop(sam);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let cli = Cli::parse();
    match cli.command {
        Cmd::Invoke { event } => invoke_one(&event).await,
        Cmd::Samples => samples().await,
        Cmd::Local => local().await,
    }
}
