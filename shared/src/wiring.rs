//! Wiring: configuration, SDK clients and adapters, built once per cold
//! start from the environment. The functions' `main` and the local runner
//! both build their state here, so both run the very same code.
use std::sync::Arc;

use crate::adapters::aws::{dynamodb_client, load_sdk_config, sqs_client};
use crate::adapters::dynamodb::{
    DynamoDbAttemptStats, DynamoDbChatDeliveries, DynamoDbDeliveryLog, DynamoDbEventStore,
    DynamoDbIntegrationStore, DynamoDbPortalSessionStore, DynamoDbReadAhead, DynamoDbSequenceStore,
    DynamoDbSourceStore, DynamoDbTenantStore,
};
use crate::adapters::egress::{EgressConfig, HttpWebhookSender};
use crate::adapters::sqs::SqsJobQueue;
use crate::app::Stores;
use crate::app::cache::TtlCache;
use crate::app::deliveries::Deliveries;
use crate::app::dispatch::{DispatchSettings, Dispatcher};
use crate::app::intake::Intake;
use crate::app::integrations::Integrations;
use crate::app::outbound::USER_AGENT;
use crate::app::portal::Portal;
use crate::app::retry::RetryScheduler;
use crate::config::{Config, ConfigError};
use crate::metrics::{Metrics, MetricsSink, StdoutSink};
use crate::ports::{JobQueue, SystemClock, WebhookSender};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub struct Wiring {
    pub config: Config,
    pub stores: Stores,
    pub delivery_queue: Arc<dyn JobQueue>,
    pub retry_queue: Arc<dyn JobQueue>,
    /// Where the functions write their EMF metric lines (stdout on Lambda).
    pub metrics_sink: Arc<dyn MetricsSink>,
}

impl Wiring {
    /// Configuration and AWS endpoints from the process environment (Lambda).
    pub async fn from_env() -> Result<Self, ConfigError> {
        let config = Config::from_env()?;
        let sdk = load_sdk_config().await;
        Ok(Self::new(config, dynamodb_client(&sdk), sqs_client(&sdk)))
    }

    /// From explicit configuration and clients (the local runner, tests).
    pub fn new(
        config: Config,
        dynamodb: aws_sdk_dynamodb::Client,
        sqs: aws_sdk_sqs::Client,
    ) -> Self {
        let table = config.table.clone();
        let stores = Stores {
            tenants: Arc::new(DynamoDbTenantStore::new(dynamodb.clone(), table.clone())),
            integrations: Arc::new(DynamoDbIntegrationStore::new(
                dynamodb.clone(),
                table.clone(),
            )),
            events: Arc::new(DynamoDbEventStore::new(dynamodb.clone(), table.clone())),
            portal_sessions: Arc::new(DynamoDbPortalSessionStore::new(
                dynamodb.clone(),
                table.clone(),
            )),
            stats: Arc::new(DynamoDbAttemptStats::new(dynamodb.clone(), table.clone())),
            chats: Arc::new(DynamoDbChatDeliveries::new(dynamodb.clone(), table.clone())),
            sources: Arc::new(DynamoDbSourceStore::new(dynamodb.clone(), table.clone())),
            sequences: Arc::new(DynamoDbSequenceStore::new(dynamodb.clone(), table.clone())),
            read_ahead: Arc::new(DynamoDbReadAhead::new(dynamodb.clone(), table.clone())),
            deliveries: Arc::new(DynamoDbDeliveryLog::new(dynamodb, table, config.retention)),
        };
        Self {
            delivery_queue: Arc::new(SqsJobQueue::new(
                sqs.clone(),
                config.delivery_queue_url.clone(),
            )),
            retry_queue: Arc::new(SqsJobQueue::new(sqs, config.retry_queue_url.clone())),
            stores,
            config,
            metrics_sink: Arc::new(StdoutSink),
        }
    }

    /// The same wiring with metrics written to `sink` (the local stack).
    pub fn with_metrics_sink(mut self, sink: Arc<dyn MetricsSink>) -> Self {
        self.metrics_sink = sink;
        self
    }

    /// A function's metrics (one per cold start).
    pub fn metrics(&self, function: &'static str) -> Arc<Metrics> {
        Arc::new(Metrics::new(function, self.metrics_sink.clone()))
    }

    /// The HTTP client for webhooks (one per cold start, connections reused).
    pub fn sender(&self) -> Arc<dyn WebhookSender> {
        if self.config.allow_private_targets {
            tracing::warn!("CHATHOOKS_ALLOW_PRIVATE_TARGETS is on: the SSRF guard is off");
        }
        Arc::new(HttpWebhookSender::new(EgressConfig {
            allow_private_targets: self.config.allow_private_targets,
            user_agent: USER_AGENT.to_string(),
        }))
    }

    pub fn intake(&self) -> Intake {
        Intake {
            integrations: self.stores.integrations.clone(),
            events: self.stores.events.clone(),
            delivery_queue: self.delivery_queue.clone(),
            sequences: self.stores.sequences.clone(),
            clock: Arc::new(SystemClock),
            retention: self.config.retention,
            cache: TtlCache::new(self.config.integration_cache_ttl),
            metrics: self.metrics(crate::metrics::EVENT_INTAKE),
        }
    }

    pub fn dispatcher(&self, sender: Arc<dyn WebhookSender>) -> Dispatcher {
        Dispatcher {
            integrations: self.stores.integrations.clone(),
            events: self.stores.events.clone(),
            log: self.stores.deliveries.clone(),
            retry_queue: self.retry_queue.clone(),
            delivery_queue: self.delivery_queue.clone(),
            sequences: self.stores.sequences.clone(),
            sender,
            clock: Arc::new(SystemClock),
            tenants: self.stores.tenants.clone(),
            read_ahead: self.stores.read_ahead.clone(),
            settings: DispatchSettings {
                disable_after: self.config.disable_after,
                retry_after_cap: self.config.retry_after_cap,
                max_queue_delay: self.config.max_queue_delay,
                max_receive_count: self.config.max_receive_count,
            },
            metrics: self.metrics(crate::metrics::DISPATCHER),
        }
    }

    pub fn retry_scheduler(&self) -> RetryScheduler {
        RetryScheduler {
            integrations: self.stores.integrations.clone(),
            log: self.stores.deliveries.clone(),
            delivery_queue: self.delivery_queue.clone(),
            retry_queue: self.retry_queue.clone(),
            clock: Arc::new(SystemClock),
            max_queue_delay: self.config.max_queue_delay,
            max_receive_count: self.config.max_receive_count,
            metrics: self.metrics(crate::metrics::RETRY_SCHEDULER),
        }
    }

    pub fn integrations(&self) -> Integrations {
        Integrations {
            store: self.stores.integrations.clone(),
            clock: Arc::new(SystemClock),
            policy: self.config.url_policy(),
            secret_grace: self.config.secret_grace,
            sequences: self.stores.sequences.clone(),
            delivery_queue: self.delivery_queue.clone(),
        }
    }

    pub fn portal(&self) -> Portal {
        Portal {
            store: self.stores.portal_sessions.clone(),
            clock: Arc::new(SystemClock),
        }
    }

    pub fn deliveries(&self) -> Deliveries {
        Deliveries {
            log: self.stores.deliveries.clone(),
            clock: Arc::new(SystemClock),
            integrations: self.stores.integrations.clone(),
            events: self.stores.events.clone(),
            delivery_queue: self.delivery_queue.clone(),
            sequences: self.stores.sequences.clone(),
            retention: self.config.retention,
        }
    }
}
