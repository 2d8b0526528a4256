//! The sequencing rules of ordered delivery (`domain::sequence`) end to end
//! through the intake, the dispatcher, the retry scheduler and the config
//! API's services, on the in-memory adapters with a manual clock. The queue
//! hands jobs out in the reverse of the order they were sent, as SQS may.
use chrono::Utc;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::cache::TtlCache;
use super::deliveries::Deliveries;
use super::dispatch::{DispatchSettings, Dispatcher, Outcome, StandDown};
use super::intake::Intake;
use super::integrations::Integrations;
use super::retry::RetryScheduler;
use crate::adapters::memory::*;
use crate::domain::catalogue::EventType;
use crate::domain::delivery::{DeliveryStatus, SendOutcome};
use crate::domain::event::Event;
use crate::domain::ids::{DeliveryId, EventId, TenantId};
use crate::domain::integration::{Integration, IntegrationPatch, Ordering};
use crate::domain::message::QueueMessage;
use crate::domain::retry::RetryPolicy;
use crate::domain::target_url::UrlPolicy;
use crate::ports::{Clock, DeliveryLog, IntegrationStore, OutboundRequest, WebhookSender};

/// A receiver that answers by event: `fail[event]` failures first, then 2xx.
#[derive(Default)]
struct Receiver {
    /// Event ids of the deliveries that arrived, in arrival order (repeats included).
    arrivals: Mutex<Vec<String>>,
    fail: Mutex<HashMap<String, (u32, u16)>>,
    /// Which event each delivery id carries.
    events_of: Mutex<HashMap<String, String>>,
}

impl Receiver {
    fn fail(&self, event: &str, times: u32, status: u16) {
        self.fail
            .lock()
            .unwrap()
            .insert(event.to_string(), (times, status));
    }

    fn arrivals(&self) -> Vec<String> {
        self.arrivals.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl WebhookSender for Receiver {
    async fn send(&self, request: &OutboundRequest) -> SendOutcome {
        let id = request
            .headers
            .iter()
            .find(|(k, _)| k == "webhook-id")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let event = self
            .events_of
            .lock()
            .unwrap()
            .get(&id)
            .cloned()
            .unwrap_or(id);
        self.arrivals.lock().unwrap().push(event.clone());
        let mut fail = self.fail.lock().unwrap();
        match fail.get_mut(&event) {
            Some((left, status)) if *left > 0 => {
                *left -= 1;
                ScriptedSender::status(*status)
            }
            _ => ScriptedSender::status(200),
        }
    }
}

struct Stack {
    tenant: TenantId,
    integrations: Arc<MemoryIntegrationStore>,
    log: Arc<MemoryDeliveryLog>,
    sequences: Arc<MemorySequenceStore>,
    delivery: Arc<MemoryQueue>,
    retry: Arc<MemoryQueue>,
    clock: Arc<ManualClock>,
    receiver: Arc<Receiver>,
    intake: Intake,
    dispatcher: Dispatcher,
    scheduler: RetryScheduler,
}

fn integration(tenant: &TenantId, ordering: Ordering, policy: RetryPolicy) -> Integration {
    super::integrations::tests::integration_for(tenant, &EventType::ALL)
        .apply(
            IntegrationPatch {
                ordering: Some(ordering),
                retry_policy: Some(policy),
                ..IntegrationPatch::default()
            },
            UrlPolicy::STRICT,
            Utc::now(),
        )
        .unwrap()
}

impl Stack {
    async fn new(ordered: &[(Ordering, RetryPolicy)]) -> (Self, Vec<Integration>) {
        let tenant = TenantId::generate();
        let integrations = Arc::new(MemoryIntegrationStore::default());
        let mut made = Vec::new();
        for (ordering, policy) in ordered {
            let i = integration(&tenant, *ordering, policy.clone());
            integrations.create(&i).await.unwrap();
            made.push(i);
        }
        let (events, log, sequences) = (
            Arc::new(MemoryEventStore::default()),
            Arc::new(MemoryDeliveryLog::default()),
            Arc::new(MemorySequenceStore::default()),
        );
        let (delivery, retry) = (
            Arc::new(MemoryQueue::default()),
            Arc::new(MemoryQueue::default()),
        );
        let clock = Arc::new(ManualClock::at(Utc::now()));
        let receiver = Arc::new(Receiver::default());
        let intake = Intake {
            integrations: integrations.clone(),
            events: events.clone(),
            delivery_queue: delivery.clone(),
            sequences: sequences.clone(),
            clock: clock.clone(),
            retention: chrono::Duration::days(30),
            cache: TtlCache::new(std::time::Duration::ZERO),
            metrics: crate::metrics::Metrics::discard(crate::metrics::EVENT_INTAKE),
        };
        let tenants: Arc<dyn crate::ports::TenantStore> = Arc::new(MemoryTenantStore::default());
        let dispatcher = Dispatcher {
            integrations: integrations.clone(),
            events: events.clone(),
            log: log.clone(),
            retry_queue: retry.clone(),
            delivery_queue: delivery.clone(),
            sequences: sequences.clone(),
            sender: receiver.clone(),
            clock: clock.clone(),
            settings: DispatchSettings {
                disable_after: chrono::Duration::days(5),
                retry_after_cap: std::time::Duration::from_secs(3600),
                max_queue_delay: 900,
                max_receive_count: 5,
            },
            read_ahead: Arc::new(crate::app::batch_reads::EachStoreReads {
                events: events.clone(),
                integrations: integrations.clone(),
                tenants: tenants.clone(),
            }),
            tenants,
            metrics: crate::metrics::Metrics::discard(crate::metrics::DISPATCHER),
        };
        let scheduler = RetryScheduler {
            integrations: integrations.clone(),
            log: log.clone(),
            delivery_queue: delivery.clone(),
            retry_queue: retry.clone(),
            clock: clock.clone(),
            max_queue_delay: 900,
            max_receive_count: 5,
            metrics: crate::metrics::Metrics::discard(crate::metrics::RETRY_SCHEDULER),
        };
        let stack = Stack {
            tenant,
            integrations,
            log,
            sequences,
            delivery,
            retry,
            clock,
            receiver,
            intake,
            dispatcher,
            scheduler,
        };
        (stack, made)
    }

    /// A visitor's message in `chat`, or an offline message (no chat).
    fn event(id: &str, chat: Option<&str>) -> Event {
        let raw = match chat {
            Some(chat) => {
                serde_json::json!({"id": id, "type": "message.visitor", "chat": {"id": chat},
                "message": {"author_type": "visitor", "text": id, "sent_at": "2026-11-21T10:00:00Z"}})
            }
            None => serde_json::json!({"id": id, "type": "offline_message",
                "offline_message": {"message": id, "sent_at": "2026-11-21T10:00:00Z"}}),
        };
        Event::from_json(raw).unwrap()
    }

    /// Post events in one request, remembering which delivery carries which event.
    async fn post(&self, events: &[Event]) {
        let answers = self.intake.accept(&self.tenant, events).await.unwrap();
        let mut of = self.receiver.events_of.lock().unwrap();
        for a in answers {
            for d in a.deliveries {
                of.insert(d.id.to_string(), a.event_id.to_string());
            }
        }
    }

    /// Run every queued job, the newest first, and every retry once its
    /// message's delay has passed on the clock, until nothing is left.
    async fn pump(&self) -> Vec<Outcome> {
        let mut outcomes = Vec::new();
        for _ in 0..10_000 {
            let mut jobs = self.delivery.take();
            if jobs.is_empty() {
                let retries = self.retry.take();
                if retries.is_empty() {
                    return outcomes;
                }
                for m in retries {
                    self.clock
                        .advance(chrono::Duration::seconds(i64::from(m.delay_seconds)));
                    let QueueMessage::RetryV1(r) = m.body else {
                        panic!("not a retry")
                    };
                    self.scheduler.handle(&r).await.unwrap();
                }
                continue;
            }
            jobs.reverse();
            for m in jobs {
                outcomes.push(self.run(m).await);
            }
        }
        panic!("the queues never emptied")
    }

    /// One delivery job, a millisecond after the one before.
    async fn run(&self, message: crate::ports::OutgoingMessage) -> Outcome {
        let QueueMessage::DeliveryV1(job) = message.body else {
            panic!("not a delivery job")
        };
        self.clock.advance(chrono::Duration::milliseconds(1));
        self.dispatcher.deliver(&job).await.unwrap()
    }

    /// Run the delivery queue's jobs, as `pump`, until it is empty, but
    /// leave the retries waiting.
    async fn drain(&self) {
        loop {
            let mut jobs = self.delivery.take();
            if jobs.is_empty() {
                return;
            }
            jobs.reverse();
            for m in jobs {
                self.run(m).await;
            }
        }
    }

    /// The config API's integrations service on the same stores.
    fn integrations_service(&self) -> Integrations {
        Integrations {
            store: self.integrations.clone(),
            clock: self.clock.clone(),
            policy: UrlPolicy::STRICT,
            secret_grace: chrono::Duration::hours(24),
            sequences: self.sequences.clone(),
            delivery_queue: self.delivery.clone(),
        }
    }

    /// The config API's delivery log service on the same stores.
    fn deliveries(&self) -> Deliveries {
        Deliveries {
            log: self.log.clone(),
            clock: self.clock.clone(),
            integrations: self.integrations.clone(),
            events: self.intake.events.clone(),
            delivery_queue: self.delivery.clone(),
            sequences: self.sequences.clone(),
            retention: chrono::Duration::days(30),
        }
    }

    async fn status(&self, event: &str, integration: &Integration) -> (DeliveryStatus, u32) {
        let id = DeliveryId::derive(
            &self.tenant,
            &EventId::parse(event).unwrap(),
            integration.id(),
        );
        let (d, _) = self.log.get(&self.tenant, &id).await.unwrap().unwrap();
        (d.status, d.attempts)
    }
}

fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:02}")).collect()
}

fn chat_events(prefix: &str, chat: &str, n: usize) -> Vec<Event> {
    ids(prefix, n)
        .iter()
        .map(|id| Stack::event(id, Some(chat)))
        .collect()
}

#[tokio::test]
async fn a_chats_deliveries_arrive_in_acceptance_order_though_the_queue_reverses_them() {
    let (s, _) = Stack::new(&[(Ordering::Chat, RetryPolicy::STANDARD)]).await;
    // GIVEN two posts of one chat
    s.post(&chat_events("a", "c1", 5)).await;
    s.clock.advance(chrono::Duration::milliseconds(5));
    s.post(&chat_events("b", "c1", 3)).await;
    // WHEN the queue hands the jobs out newest first
    let outcomes = s.pump().await;
    // THEN the receiver sees them in the order they were accepted, once each
    let expected: Vec<String> = ids("a", 5).into_iter().chain(ids("b", 3)).collect();
    assert_eq!(s.receiver.arrivals(), expected);
    assert!(
        outcomes
            .iter()
            .any(|o| matches!(o, Outcome::Waiting { .. })),
        "the later jobs waited: {outcomes:?}"
    );
    assert!(s.sequences.all().is_empty(), "every sequence emptied");
}

#[tokio::test]
async fn a_waiting_delivery_shows_what_it_waits_for() {
    let (s, made) = Stack::new(&[(Ordering::Chat, RetryPolicy::Custom(vec![60]))]).await;
    s.receiver.fail("a00", 1, 500);
    s.post(&chat_events("a", "c1", 2)).await;
    // the first job fails and schedules its retry; the second waits
    s.drain().await;
    let head = DeliveryId::derive(&s.tenant, &EventId::parse("a00").unwrap(), made[0].id());
    let second = DeliveryId::derive(&s.tenant, &EventId::parse("a01").unwrap(), made[0].id());
    let (d, _) = s.log.get(&s.tenant, &second).await.unwrap().unwrap();
    assert_eq!(
        (d.status, d.attempts, d.waiting_for.as_ref()),
        (DeliveryStatus::Pending, 0, Some(&head))
    );
    assert_eq!(d.chat_id.as_deref(), Some("c1"));
    // AND once the head's retry succeeds, it goes, and no longer waits
    s.pump().await;
    let (d, _) = s.log.get(&s.tenant, &second).await.unwrap().unwrap();
    assert_eq!((d.status, d.waiting_for), (DeliveryStatus::Succeeded, None));
    assert_eq!(s.receiver.arrivals(), ["a00", "a00", "a01"]);
}

#[tokio::test]
async fn retries_keep_their_place_through_schedules_longer_than_the_queue_delay() {
    // a retry an hour later: four hops of the retry queue
    let (s, made) = Stack::new(&[(Ordering::Chat, RetryPolicy::Custom(vec![3600, 3600]))]).await;
    s.receiver.fail("a01", 2, 503);
    s.post(&chat_events("a", "c1", 4)).await;
    let start = s.clock.now();
    s.pump().await;
    assert_eq!(
        s.receiver.arrivals(),
        ["a00", "a01", "a01", "a01", "a02", "a03"].map(String::from)
    );
    assert!(s.clock.now() - start >= chrono::Duration::hours(2));
    for e in ids("a", 4) {
        assert_eq!(s.status(&e, &made[0]).await.0, DeliveryStatus::Succeeded);
    }
}

#[tokio::test]
async fn a_failing_chat_holds_back_no_other_chat_nor_an_unordered_integration() {
    let (s, made) = Stack::new(&[
        (Ordering::Chat, RetryPolicy::Custom(vec![600])),
        (Ordering::None, RetryPolicy::Custom(vec![600])),
    ])
    .await;
    // (both integrations' first attempts of a00 fail)
    s.receiver.fail("a00", 2, 500);
    let mut events = chat_events("a", "c1", 3);
    events.extend(chat_events("b", "c2", 3));
    events.push(Stack::event("n00", None));
    s.post(&events).await;
    // WHEN every job has run but the retry of c1's failed head, not yet due
    s.drain().await;
    // THEN chat c2, the chatless event and c1 through the unordered integration all arrived
    let (ordered, unordered) = (&made[0], &made[1]);
    for e in ["b00", "b01", "b02", "n00"] {
        assert_eq!(
            s.status(e, ordered).await.0,
            DeliveryStatus::Succeeded,
            "{e}"
        );
    }
    for e in ["a01", "a02"] {
        assert_eq!(
            s.status(e, unordered).await.0,
            DeliveryStatus::Succeeded,
            "{e}"
        );
        assert_eq!(
            s.status(e, ordered).await,
            (DeliveryStatus::Pending, 0),
            "{e}"
        );
    }
    // AND c1 follows once its head's retry succeeds
    s.pump().await;
    for e in ["a00", "a01", "a02"] {
        assert_eq!(
            s.status(e, ordered).await.0,
            DeliveryStatus::Succeeded,
            "{e}"
        );
    }
}

#[tokio::test]
async fn a_finally_failed_delivery_stays_failed_and_releases_the_next() {
    let (s, made) = Stack::new(&[(Ordering::Chat, RetryPolicy::Custom(vec![30]))]).await;
    s.receiver.fail("a00", 2, 500);
    s.post(&chat_events("a", "c1", 3)).await;
    s.pump().await;
    assert_eq!(s.status("a00", &made[0]).await, (DeliveryStatus::Failed, 2));
    assert_eq!(s.status("a01", &made[0]).await.0, DeliveryStatus::Succeeded);
    assert_eq!(s.status("a02", &made[0]).await.0, DeliveryStatus::Succeeded);
    assert_eq!(
        s.receiver.arrivals(),
        ["a00", "a00", "a01", "a02"].map(String::from)
    );
}

#[tokio::test]
async fn a_repeated_event_is_delivered_once_in_its_first_place() {
    let (s, _) = Stack::new(&[(Ordering::Chat, RetryPolicy::STANDARD)]).await;
    let events = chat_events("a", "c1", 3);
    s.post(&events).await;
    // the client posts the middle one again before anything ran
    s.post(&events[1..2]).await;
    s.pump().await;
    assert_eq!(s.receiver.arrivals(), ids("a", 3));
}

#[tokio::test]
async fn a_repeat_of_a_parked_event_meets_its_release_and_it_is_sent_once() {
    let (s, _) = Stack::new(&[(Ordering::Chat, RetryPolicy::STANDARD)]).await;
    let events = chat_events("a", "c1", 2);
    s.post(&events).await;
    let mut jobs = s.delivery.take();
    // GIVEN the second job parked behind the first
    let first = jobs.remove(0);
    let parked = s.run(jobs.remove(0)).await;
    assert!(matches!(parked, Outcome::Waiting { .. }), "{parked:?}");
    // WHEN the client posts the second event again
    s.post(&events[1..2]).await;
    // THEN the repeat's job stands down: the parked one is released in its
    // turn (were both to run at once, both would send)
    let repeat = s.delivery.take().remove(0);
    let outcome = s.run(repeat).await;
    assert!(
        matches!(outcome, Outcome::StoodDown(StandDown::AlreadyLogged)),
        "{outcome:?}"
    );
    s.run(first).await;
    s.pump().await;
    assert_eq!(s.receiver.arrivals(), ids("a", 2));
}

#[tokio::test]
async fn deleting_the_integration_fails_what_waits_with_the_reason() {
    let (s, made) = Stack::new(&[(Ordering::Chat, RetryPolicy::Custom(vec![86_400]))]).await;
    s.receiver.fail("a00", 1, 500);
    s.post(&chat_events("a", "c1", 4)).await;
    // the head failed with a retry a day away; the others wait
    s.drain().await;
    // WHEN the tenant deletes the integration
    let service = s.integrations_service();
    service
        .delete(&s.tenant, made[0].id().as_str())
        .await
        .unwrap();
    // THEN without waiting for the day, each is failed with the reason, in order
    s.drain().await;
    for e in ids("a", 4) {
        let id = DeliveryId::derive(&s.tenant, &EventId::parse(&e).unwrap(), made[0].id());
        let (d, _) = s.log.get(&s.tenant, &id).await.unwrap().unwrap();
        assert_eq!(d.status, DeliveryStatus::Failed, "{e}");
        assert!(
            d.last_error
                .as_deref()
                .unwrap_or_default()
                .contains("deleted"),
            "{e}: {:?}",
            d.last_error
        );
    }
    assert_eq!(s.receiver.arrivals(), ["a00"]);
    assert!(s.sequences.all().is_empty());
    // AND the head's own retry, a day later, changes nothing
    s.pump().await;
    assert_eq!(s.receiver.arrivals(), ["a00"]);
}

#[tokio::test]
async fn disabling_the_integration_fails_what_waits_in_every_chat_with_the_reason() {
    let (s, made) = Stack::new(&[(Ordering::Chat, RetryPolicy::Custom(vec![86_400]))]).await;
    s.receiver.fail("a00", 1, 500);
    s.receiver.fail("b00", 1, 500);
    let mut events = chat_events("a", "c1", 2);
    events.extend(chat_events("b", "c2", 2));
    s.post(&events).await;
    s.drain().await;
    // WHEN the tenant disables the integration
    let service = s.integrations_service();
    let patch = IntegrationPatch {
        enabled: Some(false),
        ..IntegrationPatch::default()
    };
    service
        .update(&s.tenant, made[0].id().as_str(), patch)
        .await
        .unwrap();
    s.drain().await;
    // THEN both chats' heads and what waited behind them failed with the reason, no request made
    for e in ["a00", "a01", "b00", "b01"] {
        let id = DeliveryId::derive(&s.tenant, &EventId::parse(e).unwrap(), made[0].id());
        let (d, _) = s.log.get(&s.tenant, &id).await.unwrap().unwrap();
        assert_eq!(d.status, DeliveryStatus::Failed, "{e}");
        assert!(
            d.last_error
                .as_deref()
                .unwrap_or_default()
                .contains("disabled"),
            "{e}: {:?}",
            d.last_error
        );
    }
    assert_eq!(s.receiver.arrivals().len(), 2);
    assert!(s.sequences.all().is_empty());
}

#[tokio::test]
async fn gone_disables_and_fails_what_waits_in_every_chat() {
    let (s, made) = Stack::new(&[(Ordering::Chat, RetryPolicy::Custom(vec![86_400]))]).await;
    s.receiver.fail("b00", 1, 500);
    s.receiver.fail("a00", 1, 410);
    let mut events = chat_events("b", "c2", 2);
    s.post(&events).await;
    // c2's head fails first, with a retry a day away
    s.drain().await;
    events = chat_events("a", "c1", 2);
    s.post(&events).await;
    // WHEN c1's head gets 410 Gone
    s.drain().await;
    // THEN the integration is disabled and every waiting delivery of both chats failed
    assert!(!s.integrations.all()[0].enabled());
    for e in ["a00", "a01", "b00", "b01"] {
        assert_eq!(s.status(e, &made[0]).await.0, DeliveryStatus::Failed, "{e}");
    }
    assert!(s.sequences.all().is_empty());
}

#[tokio::test]
async fn a_manual_retry_of_a_failed_ordered_delivery_goes_to_the_end_of_its_chat() {
    let (s, made) = Stack::new(&[(
        Ordering::Chat,
        RetryPolicy::Named(crate::domain::retry::NamedPolicy::None),
    )])
    .await;
    s.receiver.fail("a00", 1, 500);
    s.post(&chat_events("a", "c1", 2)).await;
    s.pump().await;
    assert_eq!(s.status("a00", &made[0]).await, (DeliveryStatus::Failed, 1));
    // a new event of the chat, accepted but not yet attempted
    s.clock.advance(chrono::Duration::seconds(1));
    s.post(&chat_events("b", "c1", 1)).await;
    s.clock.advance(chrono::Duration::seconds(1));
    let deliveries = s.deliveries();
    let id = DeliveryId::derive(&s.tenant, &EventId::parse("a00").unwrap(), made[0].id());
    deliveries.retry(&s.tenant, id.as_str()).await.unwrap();
    s.pump().await;
    // THEN it was attempted after what the chat had queued before the retry
    assert_eq!(
        s.receiver.arrivals(),
        ["a00", "a01", "b00", "a00"].map(String::from)
    );
    assert_eq!(
        s.status("a00", &made[0]).await,
        (DeliveryStatus::Succeeded, 2)
    );
}

#[tokio::test]
async fn recovering_failed_ordered_deliveries_replays_them_in_their_order() {
    let (s, made) = Stack::new(&[(
        Ordering::Chat,
        RetryPolicy::Named(crate::domain::retry::NamedPolicy::None),
    )])
    .await;
    for e in ids("a", 4) {
        s.receiver.fail(&e, 1, 500);
    }
    s.post(&chat_events("a", "c1", 4)).await;
    s.pump().await;
    let deliveries = s.deliveries();
    let since = s.clock.now() - chrono::Duration::hours(1);
    let count = deliveries
        .recover(&s.tenant, made[0].id().as_str(), since, None)
        .await
        .unwrap();
    assert_eq!(count, 4);
    s.pump().await;
    let replayed: Vec<String> = s.receiver.arrivals()[4..].to_vec();
    assert_eq!(replayed, ids("a", 4));
}

#[tokio::test]
async fn a_job_received_again_after_its_delivery_left_the_sequence_stands_down() {
    let (s, _) = Stack::new(&[(Ordering::Chat, RetryPolicy::STANDARD)]).await;
    s.post(&chat_events("a", "c1", 2)).await;
    let jobs: Vec<_> = s
        .delivery
        .take()
        .into_iter()
        .map(|m| match m.body {
            QueueMessage::DeliveryV1(j) => j,
            _ => panic!(),
        })
        .collect();
    for j in &jobs {
        s.dispatcher.deliver(j).await.unwrap();
    }
    s.pump().await;
    assert_eq!(s.receiver.arrivals(), ids("a", 2));
    // WHEN a copy of the first job comes again (a lost delete)
    let again = s.dispatcher.deliver(&jobs[0]).await.unwrap();
    // THEN it is not sent a second time
    assert!(matches!(again, Outcome::StoodDown(_)), "{again:?}");
    assert_eq!(s.receiver.arrivals(), ids("a", 2));
}
