//! The whole system on one machine: moto for SQS and DynamoDB, the stack's
//! tables and queues provisioned from `template.yaml`, the HTTP API served
//! by the very handlers API Gateway invokes, and the SQS event-source
//! mappings of the dispatcher and retry scheduler emulated (batches of up to
//! ten, only the successful messages deleted, failed ones redelivered after
//! the visibility timeout).
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use bytes::Bytes;
use chathooks::app::intake::plan;
use chathooks::config::Config;
use chathooks::domain::event::Event;
use chathooks::domain::ids::TenantId;
use chathooks::domain::integration::Integration;
use chathooks::domain::message::DeliveryJob;
use chathooks::wiring::{BoxError, Wiring};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::{Body, Request, Response};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::bench::threads::FunctionThread;
use crate::moto::{Emulator, sdk_config};
use crate::provision::{Stack, provision, unique_prefix};

/// API Gateway's payload limit.
const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;

/// How the local stack is set up.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    pub admin_key: String,
    /// Extra configuration (any `CHATHOOKS_*` variable), applied over the template's.
    pub settings: Vec<(String, String)>,
    /// Visibility timeout for messages the emulated event-source mapping
    /// receives (`None`: the queue's own, as in AWS).
    pub visibility_timeout: Option<i32>,
    /// Concurrent pollers per queue (Lambda scales consumers out likewise).
    pub pollers: usize,
    /// The pollers' long-poll wait. Short by default so tests stop quickly;
    /// benchmarks use Lambda's own 20 s, which decides how many empty
    /// ReceiveMessage calls are billed.
    pub poll_wait_seconds: i32,
    /// Reach each moto server through a switchable TCP proxy
    /// (`LocalStack::proxies`), to cut SQS or DynamoDB off in outage tests.
    pub through_proxies: bool,
    /// Benchmark instruments (none by default).
    pub instruments: Instruments,
    /// Check, when the stack is dropped, every AWS call each function made
    /// against the IAM statements template.yaml grants it (`crate::iam`);
    /// on by default: a call a role does not allow fails the test.
    pub check_iam: bool,
    /// Run each function's handler on a thread of its own
    /// (`bench::threads::FunctionThread`), so its CPU time can be read apart
    /// from the HTTP server's, the pollers' and the caller's.
    pub function_threads: bool,
    /// With `function_threads`, each function's runtime: 0, single-threaded
    /// (the bootstraps' `#[tokio::main(flavor = "current_thread")]`), or
    /// multi-threaded with this many workers.
    pub function_workers: usize,
    /// Reach moto through a keep-alive HTTP front (`bench::keepalive`): the
    /// SDK clients reuse their connections as they do against AWS, where
    /// moto closes every one after its response.
    pub keep_alive: bool,
}

/// Observes one emulated event-source invocation: the queue's logical id,
/// the number of records and the handler's duration.
pub type InvocationObserver = Arc<dyn Fn(&str, usize, Duration) + Send + Sync>;

/// Hooks for benchmarks: an SDK interceptor attached to the functions'
/// clients (e.g. to count AWS requests) and an observer of the emulated
/// SQS invocations (e.g. to sum handler durations).
#[derive(Clone, Default)]
pub struct Instruments {
    pub interceptor: Option<aws_smithy_runtime_api::client::interceptors::SharedInterceptor>,
    pub on_invocation: Option<InvocationObserver>,
    /// Where the functions write their metric lines (default: captured in
    /// `LocalStack::metrics`).
    pub metrics_sink: Option<Arc<dyn chathooks::metrics::MetricsSink>>,
    /// The functions' clients exactly as the product builds them: no IAM
    /// recorder (`LocalStack::iam` stays empty; turn `check_iam` off too).
    pub bare_clients: bool,
}

impl std::fmt::Debug for Instruments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instruments")
            .field("interceptor", &self.interceptor.is_some())
            .field("on_invocation", &self.on_invocation.is_some())
            .field("metrics_sink", &self.metrics_sink.is_some())
            .field("bare_clients", &self.bare_clients)
            .finish()
    }
}

impl Default for LocalOptions {
    fn default() -> Self {
        Self {
            admin_key: crate::random_key("adm"),
            settings: Vec::new(),
            visibility_timeout: None,
            pollers: 2,
            poll_wait_seconds: 1,
            through_proxies: false,
            instruments: Instruments::default(),
            check_iam: true,
            function_threads: false,
            function_workers: 0,
            keep_alive: false,
        }
    }
}

/// The handlers of the four functions, built from one wiring.
pub struct Functions {
    pub config_api: config_api::ConfigApi,
    pub event_intake: event_intake::IntakeApi,
    pub dispatcher: chathooks::app::dispatch::Dispatcher,
    pub retry_scheduler: chathooks::app::retry::RetryScheduler,
    /// Each function's own thread (`LocalOptions::function_threads`).
    pub threads: Option<FunctionThreads>,
}

impl Functions {
    /// Run `handle` as the function `pick` names: on that function's own
    /// thread when the functions have threads, else on the caller's runtime.
    async fn invoke<T, Fut>(
        self: &Arc<Self>,
        pick: fn(&FunctionThreads) -> &FunctionThread,
        handle: impl FnOnce(Arc<Self>) -> Fut + Send + 'static,
    ) -> T
    where
        Fut: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        match &self.threads {
            Some(threads) => {
                let f = self.clone();
                pick(threads).run(move || handle(f)).await
            }
            None => handle(self.clone()).await,
        }
    }
}

/// The functions' own threads, each a single-threaded runtime.
pub struct FunctionThreads {
    pub config_api: FunctionThread,
    pub event_intake: FunctionThread,
    pub dispatcher: FunctionThread,
    pub retry_scheduler: FunctionThread,
}

impl FunctionThreads {
    fn spawn(workers: usize) -> std::io::Result<Self> {
        Ok(Self {
            config_api: FunctionThread::spawn_with("config-api", workers)?,
            event_intake: FunctionThread::spawn_with("event-intake", workers)?,
            dispatcher: FunctionThread::spawn_with("dispatcher", workers)?,
            retry_scheduler: FunctionThread::spawn_with("retry-scheduler", workers)?,
        })
    }

    /// Each thread with its function's name.
    pub fn all(&self) -> [&FunctionThread; 4] {
        [
            &self.config_api,
            &self.event_intake,
            &self.dispatcher,
            &self.retry_scheduler,
        ]
    }
}

/// The switchable TCP proxies between the SDK clients and each moto server.
pub struct Proxies {
    pub sqs: crate::proxy::TcpProxy,
    pub dynamodb: crate::proxy::TcpProxy,
}

pub struct LocalStack {
    /// The emulator the stack lives in: its own (stopped with the stack) or
    /// one shared with other stacks (`chathooks_tests::fixtures`).
    pub emulator: Arc<Emulator>,
    pub stack: Stack,
    pub functions: Arc<Functions>,
    pub sqs: aws_sdk_sqs::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub options: LocalOptions,
    pub config: Config,
    /// The proxies in front of moto, when `through_proxies` was set.
    pub proxies: Option<Proxies>,
    /// Every AWS call of each function (its clients and its event-source
    /// mapping), for the IAM check.
    pub iam: crate::iam::IamRecorder,
    /// Every EMF metric line the functions wrote (their metrics sink).
    pub metrics: Arc<crate::metrics::CapturedMetrics>,
    /// The SQS clients of the event-source mappings, as the function's role.
    esm_sqs: HashMap<String, aws_sdk_sqs::Client>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    /// The emulated event-source mappings' pollers (killable on their own).
    consumers: Vec<JoinHandle<()>>,
}

impl LocalStack {
    /// Start moto, provision the stack and build the functions.
    pub async fn start(options: LocalOptions) -> Result<Self, BoxError> {
        let emulator = Emulator::start()?;
        Self::start_on(emulator, options).await
    }

    /// Provision a fresh stack (uniquely named tables and queues) on a
    /// running emulator, owned (`Emulator`) or shared (`Arc<Emulator>`).
    pub async fn start_on(
        emulator: impl Into<Arc<Emulator>>,
        options: LocalOptions,
    ) -> Result<Self, BoxError> {
        let emulator = emulator.into();
        let proxies = if options.through_proxies {
            let upstream = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
            Some(Proxies {
                sqs: crate::proxy::TcpProxy::start(upstream(emulator.sqs.port())).await?,
                dynamodb: crate::proxy::TcpProxy::start(upstream(emulator.dynamodb.port())).await?,
            })
        } else {
            None
        };
        let (dynamodb_endpoint, sqs_endpoint) = match &proxies {
            Some(p) => (p.dynamodb.endpoint(), p.sqs.endpoint()),
            None => (
                emulator.dynamodb.endpoint.clone(),
                emulator.sqs.endpoint.clone(),
            ),
        };
        let mut fronts = Vec::new();
        let (dynamodb_endpoint, sqs_endpoint) = if options.keep_alive {
            let (dynamodb, dynamodb_task) =
                crate::bench::keepalive::start(&dynamodb_endpoint).await?;
            let (sqs, sqs_task) = crate::bench::keepalive::start(&sqs_endpoint).await?;
            fronts.extend([dynamodb_task, sqs_task]);
            (dynamodb, sqs)
        } else {
            (dynamodb_endpoint, sqs_endpoint)
        };
        let (dynamodb_sdk, sqs_sdk) = (
            sdk_config(&dynamodb_endpoint).await,
            sdk_config(&sqs_endpoint).await,
        );
        let iam = crate::iam::IamRecorder::new();
        // Clients as one function's role: the benchmark's interceptor, and
        // the IAM recorder when `function` is named.
        let clients_of = |function: Option<&str>| {
            // The functions' own client configuration (chathooks::adapters::aws).
            let mut dynamodb_conf = chathooks::adapters::aws::dynamodb_config(&dynamodb_sdk);
            let mut sqs_conf = chathooks::adapters::aws::sqs_config(&sqs_sdk);
            if let Some(interceptor) = &options.instruments.interceptor {
                dynamodb_conf.push_interceptor(interceptor.clone());
                sqs_conf.push_interceptor(interceptor.clone());
            }
            if let Some(function) = function.filter(|_| !options.instruments.bare_clients) {
                dynamodb_conf.push_interceptor(iam.interceptor(function));
                sqs_conf.push_interceptor(iam.interceptor(function));
            }
            (
                aws_sdk_dynamodb::Client::from_conf(dynamodb_conf.build()),
                aws_sdk_sqs::Client::from_conf(sqs_conf.build()),
            )
        };
        let (dynamodb, sqs) = clients_of(None);
        let stack = provision(&dynamodb, &sqs, &unique_prefix("chathooks")).await?;
        let mut vars: HashMap<String, String> = stack
            .function_env_for(
                "ConfigApiFunction",
                &[
                    ("CHATHOOKS_ADMIN_KEY", options.admin_key.as_str()),
                    // Local: receivers run on 127.0.0.1 over plain http.
                    ("CHATHOOKS_ALLOW_PRIVATE_TARGETS", "true"),
                    ("CHATHOOKS_ALLOW_HTTP", "true"),
                ],
            )?
            .into_iter()
            .collect();
        vars.extend(options.settings.iter().cloned());
        let config = Config::from_lookup(&vars)?;
        use crate::iam::{CONFIG_API, DISPATCHER, EVENT_INTAKE, RETRY_SCHEDULER};
        // Each function with clients of its own, as each has its own role.
        let metrics = Arc::new(crate::metrics::CapturedMetrics::default());
        let sink: Arc<dyn chathooks::metrics::MetricsSink> = match &options.instruments.metrics_sink
        {
            Some(sink) => sink.clone(),
            None => metrics.clone(),
        };
        let wiring = |function: &str| {
            let (dynamodb, sqs) = clients_of(Some(function));
            Wiring::new(config.clone(), dynamodb, sqs).with_metrics_sink(sink.clone())
        };
        let functions = Arc::new(Functions {
            config_api: config_api::init_with(&wiring(CONFIG_API)),
            event_intake: event_intake::init_with(&wiring(EVENT_INTAKE)),
            dispatcher: dispatcher::init_with(&wiring(DISPATCHER)),
            retry_scheduler: retry_scheduler::init_with(&wiring(RETRY_SCHEDULER)),
            threads: if options.function_threads {
                Some(FunctionThreads::spawn(options.function_workers)?)
            } else {
                None
            },
        });
        // Lambda's event-source mappings poll and delete with the role of
        // the function they invoke.
        let esm_sqs = HashMap::from([
            ("DeliveryQueue".to_string(), clients_of(Some(DISPATCHER)).1),
            (
                "RetryQueue".to_string(),
                clients_of(Some(RETRY_SCHEDULER)).1,
            ),
        ]);
        let (shutdown, _) = watch::channel(false);
        Ok(Self {
            emulator,
            stack,
            functions,
            sqs,
            dynamodb,
            options,
            config,
            proxies,
            iam,
            metrics,
            esm_sqs,
            shutdown,
            tasks: fronts,
            consumers: Vec::new(),
        })
    }

    /// Route a request as API Gateway does (template.yaml): `POST /v1/events`
    /// and `POST /in/{token}` to the event intake, everything else to the config API.
    pub async fn call(&self, req: Request) -> Response<Body> {
        route(&self.functions, req).await
    }

    /// Serve the HTTP API on 127.0.0.1:`port` (0: any free port).
    pub async fn serve(&mut self, port: u16) -> Result<SocketAddr, BoxError> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let functions = self.functions.clone();
        let mut stop = self.shutdown.subscribe();
        self.tasks.push(tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    _ = stop.changed() => break,
                };
                let Ok((stream, _)) = accepted else { continue };
                let functions = functions.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<Incoming>| {
                        let functions = functions.clone();
                        async move {
                            Ok::<_, std::convert::Infallible>(serve_one(&functions, req).await)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }));
        Ok(addr)
    }

    /// Emulate the SQS event-source mappings of the dispatcher and the retry scheduler.
    pub fn start_consumers(&mut self) {
        let delivery = self.queue_url("DeliveryQueue");
        let retry = self.queue_url("RetryQueue");
        let (delivery_in_flight, retry_in_flight) = (InFlight::default(), InFlight::default());
        for _ in 0..self.options.pollers.max(1) {
            let f = self.functions.clone();
            let handler: Handler = Arc::new(move |event| {
                let f = f.clone();
                Box::pin(async move {
                    f.invoke(
                        |t| &t.dispatcher,
                        move |g| async move { dispatcher::handle(&g.dispatcher, event).await },
                    )
                    .await
                })
            });
            self.spawn_poller(delivery.clone(), delivery_in_flight.clone(), handler);
            let f = self.functions.clone();
            let handler: Handler = Arc::new(move |event| {
                let f = f.clone();
                Box::pin(async move {
                    f.invoke(
                        |t| &t.retry_scheduler,
                        move |g| async move {
                            retry_scheduler::handle(&g.retry_scheduler, event).await
                        },
                    )
                    .await
                })
            });
            self.spawn_poller(retry.clone(), retry_in_flight.clone(), handler);
        }
    }

    /// Store `event` as the intake does and return its delivery jobs for
    /// `integrations`, under that acceptance: for tests and benches that
    /// hand jobs to the dispatcher themselves instead of through the queue.
    pub async fn accepted_jobs(
        &self,
        tenant: &TenantId,
        event: &Event,
        integrations: &[Integration],
    ) -> Result<Vec<DeliveryJob>, BoxError> {
        let token = uuid::Uuid::new_v4().simple().to_string();
        let expires = chrono::Utc::now() + chrono::Duration::days(1);
        self.functions
            .dispatcher
            .events
            .insert(tenant, event, &token, expires)
            .await?;
        Ok(plan(tenant, event, integrations, chrono::Utc::now())
            .into_iter()
            .map(|job| DeliveryJob {
                acceptance_token: Some(token.clone()),
                ..job
            })
            .collect())
    }

    pub fn queue_url(&self, logical_id: &str) -> String {
        self.stack
            .queue_url(logical_id)
            .unwrap_or_default()
            .to_string()
    }

    fn spawn_poller(&mut self, queue_url: String, in_flight: InFlight, handler: Handler) {
        let handler = match self.options.instruments.on_invocation.clone() {
            None => handler,
            Some(observe) => {
                let logical_id = self
                    .stack
                    .queues
                    .iter()
                    .find(|(_, url)| **url == queue_url)
                    .map(|(id, _)| id.clone())
                    .unwrap_or_default();
                let timed: Handler = Arc::new(move |event: SqsEvent| {
                    let (handler, observe, logical_id) =
                        (handler.clone(), observe.clone(), logical_id.clone());
                    Box::pin(async move {
                        let records = event.records.len();
                        let started = std::time::Instant::now();
                        let response = handler(event).await;
                        observe(&logical_id, records, started.elapsed());
                        response
                    })
                });
                timed
            }
        };
        let sqs = self
            .stack
            .queues
            .iter()
            .find(|(_, url)| **url == queue_url)
            .and_then(|(id, _)| self.esm_sqs.get(id))
            .unwrap_or(&self.sqs)
            .clone();
        let visibility = self.options.visibility_timeout;
        let wait = self.options.poll_wait_seconds;
        let mut stop = self.shutdown.subscribe();
        self.consumers.push(tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = poll_once(&sqs, &queue_url, &in_flight, visibility, wait, &handler) => {},
                    _ = stop.changed() => break,
                }
            }
        }));
    }

    /// Kill the consumers as a crashed Lambda dies: batches in flight are
    /// abandoned mid-way (nothing deleted, nothing reported), so their
    /// messages come back after the visibility timeout. The HTTP API keeps
    /// running; `start_consumers` starts fresh ones.
    pub async fn kill_consumers(&mut self) {
        for task in self.consumers.drain(..) {
            task.abort();
            let _ = task.await;
        }
    }

    /// Stop the server and the consumers (an emulator of its own stops when dropped).
    pub async fn stop(&mut self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks.drain(..).chain(self.consumers.drain(..)) {
            task.abort();
            let _ = task.await;
        }
    }
}

impl LocalStack {
    /// The calls the functions made that the roles template.yaml grants
    /// them do not allow (`Err`: the policies could not be expanded).
    pub fn iam_denied(&self) -> Result<Vec<crate::iam::Call>, String> {
        let policies = crate::iam::Policies::template()?.for_stack(&self.stack)?;
        Ok(policies.denied(&self.iam.calls()))
    }
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks.iter().chain(&self.consumers) {
            task.abort();
        }
        if self.options.check_iam && !std::thread::panicking() {
            match self.iam_denied() {
                Ok(denied) if denied.is_empty() => {}
                Ok(denied) => panic!(
                    "calls the functions' IAM roles (template.yaml) do not allow:\n  {}",
                    denied
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("\n  ")
                ),
                Err(e) => panic!("cannot check the functions' calls against their IAM roles: {e}"),
            }
        }
    }
}

type Handler =
    Arc<dyn Fn(SqsEvent) -> Pin<Box<dyn Future<Output = SqsBatchResponse> + Send>> + Send + Sync>;

/// The message ids a queue's pollers are handling. Moto checks and marks a
/// message's visibility without a lock, so two receives at the same moment
/// can both return one message (seen in CI: one event delivered twice at
/// once). SQS hands a message to one receiver per visibility timeout, so a
/// poller drops a message another poller holds: that one's delete, with its
/// earlier receive handle, still removes it (moto accepts any handle a
/// message had). Receives stay concurrent, as Lambda's pollers are.
#[derive(Clone, Default)]
struct InFlight(Arc<std::sync::Mutex<HashSet<String>>>);

impl InFlight {
    /// Keep the messages no other poller holds, and hold them until the
    /// returned claim drops (after their delete, or when the poller dies).
    fn claim(&self, messages: &mut Vec<aws_sdk_sqs::types::Message>) -> Claim {
        let mut held = self.0.lock().unwrap_or_else(|p| p.into_inner());
        messages.retain(|m| match &m.message_id {
            Some(id) => held.insert(id.clone()) || {
                tracing::debug!(message_id = %id, "moto handed out a message another poller holds; dropped");
                false
            },
            None => true,
        });
        Claim {
            in_flight: self.clone(),
            ids: messages
                .iter()
                .filter_map(|m| m.message_id.clone())
                .collect(),
        }
    }
}

struct Claim {
    in_flight: InFlight,
    ids: Vec<String>,
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut held = self.in_flight.0.lock().unwrap_or_else(|p| p.into_inner());
        for id in &self.ids {
            held.remove(id);
        }
    }
}

/// One receive → invoke → delete cycle of an event-source mapping.
async fn poll_once(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    in_flight: &InFlight,
    visibility: Option<i32>,
    wait_seconds: i32,
    handler: &Handler,
) {
    let mut receive = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(wait_seconds)
        .message_system_attribute_names(
            aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount,
        );
    if let Some(v) = visibility {
        receive = receive.visibility_timeout(v);
    }
    let mut messages = match receive.send().await {
        Ok(out) => out.messages.unwrap_or_default(),
        Err(e) => {
            tracing::warn!(error = %e, "receive failed; retrying");
            tokio::time::sleep(Duration::from_millis(500)).await;
            return;
        }
    };
    let _claim = in_flight.claim(&mut messages);
    if messages.is_empty() {
        return;
    }
    let mut event = SqsEvent::default();
    let mut handles = HashMap::new();
    for m in messages {
        let mut record = SqsMessage::default();
        record.message_id = m.message_id.clone();
        record.receipt_handle = m.receipt_handle.clone();
        record.body = m.body.clone();
        record.event_source = Some("aws:sqs".into());
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
    let response = handler(event).await;
    for failure in &response.batch_item_failures {
        handles.remove(&failure.item_identifier);
    }
    if handles.is_empty() {
        return;
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
    if let Err(e) = sqs
        .delete_message_batch()
        .queue_url(queue_url)
        .set_entries(Some(entries))
        .send()
        .await
    {
        tracing::warn!(error = %e, "delete failed; the messages will be redelivered");
    }
}

async fn route(functions: &Arc<Functions>, req: Request) -> Response<Body> {
    let path = req.uri().path();
    let to_intake = path == "/v1/events"
        || path
            .strip_prefix("/in/")
            .is_some_and(|token| !token.is_empty() && !token.contains('/'));
    let to_intake = req.method() == http::Method::POST && to_intake;
    if to_intake {
        functions
            .invoke(
                |t| &t.event_intake,
                move |f| async move { event_intake::handle(&f.event_intake, req).await },
            )
            .await
    } else {
        functions
            .invoke(
                |t| &t.config_api,
                move |f| async move { config_api::handle(&f.config_api, req).await },
            )
            .await
    }
}

/// Turn a hyper request into the `lambda_http::Request` API Gateway would
/// deliver, invoke, and turn the response back.
async fn serve_one(
    functions: &Arc<Functions>,
    req: hyper::Request<Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let bytes = match Limited::new(body, MAX_REQUEST_BYTES).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            let mut r = hyper::Response::new(Full::new(Bytes::from_static(
                br#"{"message":"Request Entity Too Large"}"#,
            )));
            *r.status_mut() = hyper::StatusCode::PAYLOAD_TOO_LARGE;
            return r;
        }
    };
    let body = if bytes.is_empty() {
        Body::Empty
    } else {
        match String::from_utf8(bytes.to_vec()) {
            Ok(text) => Body::Text(text),
            Err(e) => Body::Binary(e.into_bytes()),
        }
    };
    let request = Request::from_parts(parts, body);
    let response = route(functions, request).await;
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Empty => Bytes::new(),
        Body::Text(t) => Bytes::from(t),
        Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}

/// SDK clients for an emulator (helper for tests that inspect queues/tables).
pub async fn clients(emulator: &Emulator) -> (aws_sdk_dynamodb::Client, aws_sdk_sqs::Client) {
    (
        aws_sdk_dynamodb::Client::new(&sdk_config(&emulator.dynamodb.endpoint).await),
        aws_sdk_sqs::Client::new(&sdk_config(&emulator.sqs.endpoint).await),
    )
}

/// A running local stack serving HTTP on a free port with its consumers
/// started, and an admin client for it.
pub async fn running(
    options: LocalOptions,
) -> Result<(LocalStack, crate::client::ApiClient), BoxError> {
    let mut stack = LocalStack::start(options).await?;
    let addr = stack.serve(0).await?;
    stack.start_consumers();
    let admin = crate::client::ApiClient::new(
        format!("http://{addr}"),
        Some(stack.options.admin_key.clone()),
    );
    Ok((stack, admin))
}

/// Create a tenant through the API; the client carries its API key.
pub async fn new_tenant(admin: &crate::client::ApiClient) -> crate::client::ApiClient {
    let created = admin
        .post("/v1/tenants", &serde_json::json!({"name": "test tenant"}))
        .await;
    assert_eq!(
        created.status, 201,
        "tenant creation failed: {:?}",
        created.body
    );
    let key = created.body["api_key"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    admin.with_key(key)
}

/// The copy-paste walkthrough `make dev` and `make sam-local` print for
/// the API at `api` (the README's, with the admin key filled in).
pub fn walkthrough(api: &str, admin: &str) -> String {
    format!(
        r#"Walkthrough (copy-paste into another terminal, from the repository root):

  export API={api} ADMIN={admin}
  json() {{ python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }}

  # 1. a tenant and its API key (shown once)
  KEY=$(curl -s -X POST $API/v1/tenants -H "authorization: Bearer $ADMIN" \
        -H 'content-type: application/json' -d '{{"name":"acme"}}' | json '["api_key"]')

  # 2. an integration: standard format, retries after 2 s and 5 s
  curl -s -X POST $API/v1/integrations -H "authorization: Bearer $KEY" -H 'content-type: application/json' \
       -d '{{"name":"demo","url":"http://127.0.0.1:4000/hook","events":["chat.closed"],"retry_policy":[2,5]}}' > /tmp/integration.json
  SECRET=$(json '["secret"]' < /tmp/integration.json)

  # 3. a receiver verifying signatures with the standardwebhooks library; it fails its first request
  .venv/bin/python scripts/receiver.py --port 4000 --secret "$SECRET" --fail-first 1 &
  sleep 1

  # 4. a chat.closed event: 202 once queued
  curl -s -X POST $API/v1/events -H "authorization: Bearer $KEY" -H 'content-type: application/json' \
       -d '{{"id":"chat-42-closed","type":"chat.closed","chat":{{"id":"chat-42","messages":[{{"author_type":"visitor","author_name":"Mary","text":"Hello","sent_at":"2026-11-21T10:00:00Z"}}]}}}}' > /tmp/accepted.json
  DELIVERY=$(json '["deliveries"][0]["id"]' < /tmp/accepted.json)

  # 5. after a few seconds: the failed first attempt, then the retry that succeeded
  sleep 8; curl -s $API/v1/deliveries/$DELIVERY -H "authorization: Bearer $KEY" | python3 -m json.tool

  # 6. the portal for this tenant: open the printed link in a browser (valid for an hour)
  curl -s -X POST $API/v1/portal/sessions -H "authorization: Bearer $KEY" | json '["url"]'
"#
    )
}

/// What `make dev` and `make sam-local` read from the environment: the
/// port (`PORT`, default 3000) and the admin key (`CHATHOOKS_ADMIN_KEY`, or
/// a random one: then `true`).
pub fn run_settings() -> Result<(u16, String, bool), String> {
    let port = match std::env::var("PORT") {
        Ok(p) => p
            .parse()
            .map_err(|_| format!("PORT must be a port number, got `{p}`"))?,
        Err(_) => 3000,
    };
    Ok(match std::env::var("CHATHOOKS_ADMIN_KEY") {
        Ok(k) if !k.is_empty() => (port, k, false),
        _ => (port, crate::random_key("adm"), true),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sqs::types::Message;

    fn messages(ids: &[&str]) -> Vec<Message> {
        ids.iter()
            .map(|id| Message::builder().message_id(*id).build())
            .collect()
    }

    fn ids(messages: &[Message]) -> Vec<&str> {
        messages.iter().filter_map(|m| m.message_id()).collect()
    }

    #[test]
    fn a_message_another_poller_holds_is_dropped_until_its_claim_ends() {
        let in_flight = InFlight::default();
        let mut first = messages(&["a", "b"]);
        let held = in_flight.claim(&mut first);
        assert_eq!(ids(&first), ["a", "b"]);
        // moto hands "b" out a second time while the first poller holds it
        let mut second = messages(&["b", "c"]);
        let _also = in_flight.claim(&mut second);
        assert_eq!(ids(&second), ["c"]);
        // once the first poller is done (or dies), "b" may be received again
        drop(held);
        let mut third = messages(&["b", "c"]);
        let _again = in_flight.claim(&mut third);
        assert_eq!(ids(&third), ["b"]);
    }
}
