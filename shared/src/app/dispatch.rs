//! The dispatcher: one attempt of one delivery, its log entry, and what comes
//! next (success, a scheduled retry, or failure with the reason).
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;

use super::AppError;
use super::batch_reads::BatchReads;
use super::failure::fail_without_attempt;
use super::outbound::prepare;
use crate::domain::delivery::{Attempt, Delivery, DeliveryStatus, link_from_response};
use crate::domain::ids::DeliveryId;
use crate::domain::integration::{Integration, deliverable};
use crate::domain::message::{DeliveryJob, QueueMessage, ReceiveCount, RetryJob};
use crate::domain::sequence::{InOrder, SequenceEntry, Turn, turn};
use crate::ports::{
    Clock, DeliveryLog, EventStore, IntegrationStore, JobQueue, OutgoingMessage, ReadAhead,
    SendOutcome, SequenceStore, StoreError, StoredEvent, TenantStore, WebhookSender,
};

#[derive(Debug, Clone)]
pub struct DispatchSettings {
    /// Failing without a success this long disables the integration.
    pub disable_after: chrono::Duration,
    /// The most a receiver's `Retry-After` may postpone the next attempt.
    pub retry_after_cap: Duration,
    /// The largest delay one SQS message can carry (900 s); longer waits hop.
    pub max_queue_delay: u32,
    /// The delivery queue's maxReceiveCount.
    pub max_receive_count: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Succeeded,
    RetryScheduled {
        at: DateTime<Utc>,
    },
    Failed {
        reason: String,
    },
    /// Not sent and not logged: another job of the same delivery is the valid one.
    StoodDown(StandDown),
    /// An ordered delivery not attempted yet: `behind` is its chat's head;
    /// its job is sent again once the head is done.
    Waiting {
        behind: DeliveryId,
    },
}

/// Why a job stood down instead of sending (`Dispatcher::stand_down_reason`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StandDown {
    /// A repeat of the event moved it to another request's acceptance token.
    Superseded,
    /// A repeat's job for an integration created after the event was first accepted.
    IntegrationNewerThanEvent,
    /// A repeat's job for a delivery the log already has.
    AlreadyLogged,
    /// A copy of a job whose attempt the log already has.
    AttemptLogged { attempt: u32, receive: u32 },
}

impl std::fmt::Display for StandDown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Superseded => f.write_str("superseded by a repeat of the event"),
            Self::IntegrationNewerThanEvent => {
                f.write_str("the integration was created after the event was accepted")
            }
            Self::AlreadyLogged => f.write_str("the log already has this delivery"),
            Self::AttemptLogged { attempt, receive } => write!(
                f,
                "attempt {attempt} is already logged: this job is a copy (receive {receive})"
            ),
        }
    }
}

pub struct Dispatcher {
    pub integrations: Arc<dyn IntegrationStore>,
    pub events: Arc<dyn EventStore>,
    pub log: Arc<dyn DeliveryLog>,
    pub retry_queue: Arc<dyn JobQueue>,
    /// Where a parked ordered delivery's job goes again once its turn comes.
    pub delivery_queue: Arc<dyn JobQueue>,
    /// The chats' sequences of ordered integrations.
    pub sequences: Arc<dyn SequenceStore>,
    pub sender: Arc<dyn WebhookSender>,
    pub clock: Arc<dyn Clock>,
    pub settings: DispatchSettings,
    /// Read once per batch: a suspended tenant's deliveries stop with the reason.
    pub tenants: Arc<dyn TenantStore>,
    /// A batch's events, integrations and tenants' statuses, in one read.
    pub read_ahead: Arc<dyn ReadAhead>,
    /// Attempts and disabled integrations, recorded here; the handler
    /// records the jobs' outcomes and flushes once per invocation.
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// Seconds for an SQS delay: rounded up, capped at the hop size.
pub fn queue_delay(delay: Duration, max_queue_delay: u32) -> u32 {
    let secs = delay.as_millis().div_ceil(1000);
    u32::try_from(secs).unwrap_or(u32::MAX).min(max_queue_delay)
}

/// Times an ordered job looks at its sequence again when the head moved
/// while it parked.
const TURN_ROUNDS: usize = 5;

/// What the dispatcher read for a job.
struct Found<'a> {
    stored: Option<std::borrow::Cow<'a, StoredEvent>>,
    integration: Option<Integration>,
    tenant: Option<crate::domain::tenant::TenantStatus>,
}

/// Where an ordered job stands (`Dispatcher::take_turn`).
enum Taken {
    Go(SequenceEntry),
    Wait {
        placed: SequenceEntry,
        head: DeliveryId,
    },
    Left,
}

fn is_final(d: &Delivery) -> bool {
    d.status != DeliveryStatus::Pending
}

/// An intake job whose request's token a repeat of the event superseded,
/// or a repeat's job for an integration created after the event was first
/// accepted.
fn superseded(
    job: &DeliveryJob,
    stored: Option<&StoredEvent>,
    integration: Option<&Integration>,
) -> Option<StandDown> {
    let (Some(token), Some(stored)) = (&job.acceptance_token, stored) else {
        return None;
    };
    if stored.acceptance_token.as_ref() != Some(token) {
        return Some(StandDown::Superseded);
    }
    if job.repeat
        && let (Some(i), Some(received)) = (integration, stored.received_at)
        && i.created_at() > received
    {
        return Some(StandDown::IntegrationNewerThanEvent);
    }
    None
}

/// A copy of a job whose attempt the log already has.
fn copy_of_logged(
    job: &DeliveryJob,
    logged: Option<&Delivery>,
    receive: ReceiveCount,
) -> Option<StandDown> {
    let logged = logged?;
    (logged.attempts >= job.attempt).then_some(StandDown::AttemptLogged {
        attempt: job.attempt,
        receive: receive.count,
    })
}

impl Dispatcher {
    /// Make the attempt `job` asks for. `Err` means "try this message again
    /// later" (a store or queue was unavailable): nothing is lost.
    pub async fn deliver(&self, job: &DeliveryJob) -> Result<Outcome, AppError> {
        self.deliver_with(job, &BatchReads::none(), ReceiveCount::FIRST)
            .await
    }

    /// What a batch of jobs will read, read once ahead (`deliver_with`): one
    /// request for a lone job's three reads too.
    pub async fn read_ahead(&self, jobs: &[DeliveryJob]) -> BatchReads {
        BatchReads::read(jobs, &*self.read_ahead).await
    }

    /// `deliver`, with the event and integration taken from `reads` where
    /// they were read ahead, for the `receive`-th receive of the job's message.
    pub async fn deliver_with(
        &self,
        job: &DeliveryJob,
        reads: &BatchReads,
        receive: ReceiveCount,
    ) -> Result<Outcome, AppError> {
        let now = self.clock.now();
        // An ordered job's sequence head is read with the rest: one round trip.
        let head = async {
            match &job.ordered {
                Some(o) => self
                    .sequences
                    .head(&job.tenant_id, &job.integration_id, &o.chat)
                    .await
                    .map(Some),
                None => Ok(None),
            }
        };
        let (stored, integration, tenant, head) = futures::try_join!(
            reads.event(job, &*self.events),
            reads.integration(job, &*self.integrations),
            reads.tenant_status(job, &*self.tenants),
            head,
        )?;
        if let Some(order) = &job.ordered {
            let found = Found {
                stored,
                integration,
                tenant,
            };
            return self
                .deliver_in_order(job, order, found, head.flatten(), receive, now)
                .await;
        }
        if let Some(reason) = self
            .stand_down_reason(job, stored.as_deref(), integration.as_ref(), receive)
            .await?
        {
            return Ok(Outcome::StoodDown(reason));
        }
        let found = Found {
            stored,
            integration,
            tenant,
        };
        self.attempt(job, found, now).await
    }

    /// The attempt itself, once the job may make it: refused for a
    /// suspended tenant, failed without a request when the integration or
    /// the event is gone, otherwise sent and settled.
    async fn attempt(
        &self,
        job: &DeliveryJob,
        found: Found<'_>,
        now: DateTime<Utc>,
    ) -> Result<Outcome, AppError> {
        let Found {
            stored,
            integration,
            tenant,
        } = found;
        if let Some(refused) = super::tenants::refuse_delivery(tenant, &*self.log, job, now).await?
        {
            return Ok(refused);
        }
        let integration = match deliverable(integration) {
            Ok(i) => i,
            Err(reason) => return self.fail_without_attempt(job, reason, now).await,
        };
        let Some(stored) = stored else {
            let reason = "the event is no longer stored".to_string();
            return self.fail_without_attempt(job, reason, now).await;
        };
        let request = match prepare(&integration, &stored.event, &job.delivery_id, now) {
            Ok(r) => r,
            Err(e) => return self.fail_without_attempt(job, e.to_string(), now).await,
        };
        let outcome = self.sender.send(&request).await;
        let chat_id = stored.event.chat.as_ref().map(|c| c.id.as_str());
        self.settle(job, &integration, chat_id, outcome, now).await
    }

    /// An ordered job (`domain::sequence`): attempted only as its chat's
    /// head; otherwise parked behind the head, or, once its delivery has
    /// left the sequence, not attempted again by a copy. A head that
    /// succeeded or finally failed moves the sequence on.
    async fn deliver_in_order(
        &self,
        job: &DeliveryJob,
        order: &InOrder,
        found: Found<'_>,
        head: Option<SequenceEntry>,
        receive: ReceiveCount,
        now: DateTime<Utc>,
    ) -> Result<Outcome, AppError> {
        // A superseded intake job never touches the sequence: the repeat's job does.
        if let Some(reason) = superseded(job, found.stored.as_deref(), found.integration.as_ref()) {
            return Ok(Outcome::StoodDown(reason));
        }
        // The intake's job on its first receive is the delivery's first
        // job: the log has nothing of it yet (as for unordered jobs, the
        // common case skips that read; it is made if the delivery turns out
        // to have left its sequence). Any other job reads what the log has.
        let first = job.attempt == 1
            && !receive.is_repeat()
            && !job.repeat
            && job.acceptance_token.is_some();
        let mut logged = if first { None } else { self.logged(job).await? };
        // A repeat's job for a delivery the first request's job got to (it
        // was attempted, or parked and is released in its turn).
        if job.repeat && logged.is_some() {
            return Ok(Outcome::StoodDown(StandDown::AlreadyLogged));
        }
        let placed = match self.take_turn(job, order, head).await? {
            Taken::Go(placed) => placed,
            Taken::Wait { placed, head } => {
                return self.wait_behind(&placed, head, logged, now).await;
            }
            Taken::Left => {
                if first {
                    logged = self.logged(job).await?;
                }
                if let Some(reason) = copy_of_logged(job, logged.as_ref(), receive) {
                    // Done: whatever its head's release left undone is done now.
                    if logged.as_ref().is_some_and(is_final) {
                        self.move_on(job).await?;
                    }
                    return Ok(Outcome::StoodDown(reason));
                }
                // Out of every sequence yet not done (its place was undone
                // after a refused intake): attempted as an unordered one.
                return self.attempt(job, found, now).await;
            }
        };
        let ended = found.integration.as_ref().is_none_or(|i| !i.enabled());
        let done = logged.as_ref().is_some_and(is_final);
        // A head whose integration ended is failed now (its scheduled retry
        // may be hours away), so what waits behind it ends too.
        if let Some(reason) = copy_of_logged(job, logged.as_ref(), receive)
            && (done || !ended)
        {
            if done {
                self.move_on(&placed.job).await?;
            }
            return Ok(Outcome::StoodDown(reason));
        }
        let outcome = self.attempt(job, found, now).await?;
        if matches!(outcome, Outcome::Succeeded | Outcome::Failed { .. }) {
            self.move_on(&placed.job).await?;
        }
        Ok(outcome)
    }

    /// The delivery's state as the log has it.
    async fn logged(&self, job: &DeliveryJob) -> Result<Option<Delivery>, AppError> {
        let logged = self.log.get(&job.tenant_id, &job.delivery_id).await?;
        Ok(logged.map(|(d, _)| d))
    }

    /// Look at the job's sequence: its head goes; another waits, parked
    /// behind the head as one atomic write with the head still there, so
    /// whoever moves the head on afterwards sees it parked and sends it.
    /// `head` is the sequence's head as read with the job's other reads.
    async fn take_turn(
        &self,
        job: &DeliveryJob,
        order: &InOrder,
        head: Option<SequenceEntry>,
    ) -> Result<Taken, AppError> {
        let (tenant, integration) = (&job.tenant_id, &job.integration_id);
        // A repeat's job finds the place its event's first acceptance made.
        let placed = if job.repeat {
            let entries = self
                .sequences
                .entries(tenant, integration, Some(&order.chat))
                .await?;
            match entries
                .into_iter()
                .find(|e| e.delivery_id() == &job.delivery_id)
            {
                Some(e) => e,
                None => return Ok(Taken::Left),
            }
        } else {
            SequenceEntry::new(job.clone()).ok_or(StoreError::Internal(
                "an ordered job without its place".into(),
            ))?
        };
        let mut read_ahead = Some(head);
        for _ in 0..TURN_ROUNDS {
            let head = match read_ahead.take() {
                Some(head) => head,
                None => {
                    self.sequences
                        .head(tenant, integration, &order.chat)
                        .await?
                }
            };
            match turn(&placed.job, placed.in_order(), head.as_ref()) {
                Turn::Go => return Ok(Taken::Go(placed)),
                Turn::Left => return Ok(Taken::Left),
                Turn::WaitFor(ahead) => {
                    if let Some(head) = head
                        && self.sequences.park(&placed, &head).await?
                    {
                        return Ok(Taken::Wait {
                            placed,
                            head: ahead,
                        });
                    }
                }
            }
        }
        Err(StoreError::Unavailable("the chat's sequence kept moving: try again".into()).into())
    }

    /// Show the parked delivery as pending, waiting for `head`, unless the
    /// log has moved on (its released job may have run already).
    async fn wait_behind(
        &self,
        placed: &SequenceEntry,
        head: DeliveryId,
        logged: Option<Delivery>,
        now: DateTime<Utc>,
    ) -> Result<Outcome, AppError> {
        let job = &placed.job;
        let mut delivery = logged.unwrap_or_else(|| Delivery::pending(job, now));
        let seen = delivery.attempts;
        delivery.status = DeliveryStatus::Pending;
        delivery.next_attempt_at = None;
        delivery.waiting_for = Some(head.clone());
        delivery.updated_at = now;
        self.log.update_unless_moved(&delivery, seen).await?;
        Ok(Outcome::Waiting { behind: head })
    }

    /// The head is done: take it out of its sequence, then send the next
    /// delivery's job again if it was parked (its own job came and went).
    async fn move_on(&self, head: &DeliveryJob) -> Result<(), AppError> {
        let Some(order) = &head.ordered else {
            return Ok(());
        };
        self.sequences.remove(head).await?;
        let next = self
            .sequences
            .head(&head.tenant_id, &head.integration_id, &order.chat)
            .await?;
        if let Some(next) = next.filter(|n| n.parked) {
            self.delivery_queue
                .send(&[OutgoingMessage {
                    body: QueueMessage::DeliveryV1(next.released_job()),
                    delay_seconds: 0,
                }])
                .await?;
            // Sent: a copy of this job moving on again must not send it twice.
            self.sequences.unpark(&next).await?;
        }
        Ok(())
    }

    async fn fail_without_attempt(
        &self,
        job: &DeliveryJob,
        reason: String,
        now: DateTime<Utc>,
    ) -> Result<Outcome, AppError> {
        fail_without_attempt(&*self.log, job, &reason, now).await?;
        Ok(Outcome::Failed { reason })
    }

    /// Why a job must not send (nothing is logged for it), if it must not:
    /// - an intake job whose request's token a repeat of the event superseded;
    /// - a repeat's job for a delivery the log already has, or for an
    ///   integration created after the event was first accepted;
    /// - a copy of a job whose attempt the log already has: a message the
    ///   queue handed out again (its consumer made the attempt but the delete
    ///   was lost), or a second release of a retry (the retry scheduler's
    ///   delete was lost, or a manual retry met the scheduled one). First
    ///   attempts on their first receive, the common case, skip this read.
    async fn stand_down_reason(
        &self,
        job: &DeliveryJob,
        stored: Option<&StoredEvent>,
        integration: Option<&Integration>,
        receive: ReceiveCount,
    ) -> Result<Option<StandDown>, AppError> {
        if let Some(reason) = superseded(job, stored, integration) {
            return Ok(Some(reason));
        }
        let repeat_of_event = job.repeat && job.acceptance_token.is_some() && stored.is_some();
        let may_be_a_copy = receive.is_repeat() || job.attempt > 1;
        if !repeat_of_event && !may_be_a_copy {
            return Ok(None);
        }
        let Some((logged, _)) = self.log.get(&job.tenant_id, &job.delivery_id).await? else {
            return Ok(None);
        };
        if repeat_of_event {
            return Ok(Some(StandDown::AlreadyLogged));
        }
        Ok(copy_of_logged(job, Some(&logged), receive))
    }

    /// Decide what comes after the attempt, and log it. The log's record of
    /// an attempt is written last, after what it implies (the retry queued,
    /// the integration disabled or cleared): a message received again whose
    /// attempt is logged has nothing left to do (`stand_down_reason`).
    async fn settle(
        &self,
        job: &DeliveryJob,
        integration: &Integration,
        chat_id: Option<&str>,
        outcome: SendOutcome,
        now: DateTime<Utc>,
    ) -> Result<Outcome, AppError> {
        let mut attempt = Attempt::from_outcome(job.attempt, now, &outcome);
        let mut delivery = Delivery::pending(job, now);
        delivery.chat_id = chat_id.map(str::to_string);
        delivery.attempts = job.attempt;
        delivery.last_status_code = outcome.status_code;
        delivery.last_error = outcome.error.clone();

        if outcome.succeeded() {
            delivery.status = DeliveryStatus::Succeeded;
            delivery.link = outcome
                .response_excerpt
                .as_deref()
                .and_then(link_from_response);
            if integration.failing_since().is_some() {
                self.integrations
                    .set_failing_since(integration.tenant_id(), integration.id(), None)
                    .await?;
            }
            self.log.record_attempt(&delivery, &attempt).await?;
            self.metrics
                .attempt("success", integration.format(), None, outcome.duration);
            return Ok(Outcome::Succeeded);
        }

        let error = outcome
            .error
            .clone()
            .unwrap_or_else(|| "attempt failed".into());
        if outcome.status_code == Some(410) {
            let reason = "the endpoint answered 410 Gone".to_string();
            return self
                .give_up(
                    &mut delivery,
                    &attempt,
                    &outcome,
                    integration,
                    Some(reason),
                    now,
                )
                .await;
        }
        let failing_since = integration.failing_since().unwrap_or(now);
        if integration.failing_since().is_none() {
            self.integrations
                .set_failing_since(integration.tenant_id(), integration.id(), Some(now))
                .await?;
        } else if now - failing_since >= self.settings.disable_after {
            let reason = format!(
                "deliveries have failed since {} without a success",
                failing_since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            );
            return self
                .give_up(
                    &mut delivery,
                    &attempt,
                    &outcome,
                    integration,
                    Some(reason),
                    now,
                )
                .await;
        }

        let delay = integration
            .retry_policy()
            .delay_after(job.attempt, &mut rand::rng());
        let Some(mut delay) = delay else {
            delivery.last_error = Some(format!("gave up after {} attempts: {error}", job.attempt));
            return self
                .give_up(&mut delivery, &attempt, &outcome, integration, None, now)
                .await;
        };
        if let Some(asked) = outcome.retry_after {
            delay = delay.max(asked.min(self.settings.retry_after_cap));
        }
        let due = now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
        attempt.next_attempt_at = Some(due);
        delivery.next_attempt_at = Some(due);
        let next = RetryJob {
            // A retry belongs to the delivery, not to the intake request:
            // no acceptance token to check any more.
            job: DeliveryJob {
                attempt: job.attempt + 1,
                acceptance_token: None,
                repeat: false,
                ..job.clone()
            },
            due_at: due,
        };
        self.retry_queue
            .send(&[OutgoingMessage {
                body: QueueMessage::RetryV1(next),
                delay_seconds: queue_delay(delay, self.settings.max_queue_delay),
            }])
            .await?;
        self.log.record_attempt(&delivery, &attempt).await?;
        self.metrics.attempt(
            "retry",
            integration.format(),
            outcome.error_kind,
            outcome.duration,
        );
        Ok(Outcome::RetryScheduled { at: due })
    }

    async fn give_up(
        &self,
        delivery: &mut Delivery,
        attempt: &Attempt,
        sent: &SendOutcome,
        integration: &Integration,
        disable_reason: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Outcome, AppError> {
        delivery.status = DeliveryStatus::Failed;
        if let Some(reason) = &disable_reason {
            delivery.last_error = Some(format!("integration disabled: {reason}"));
        }
        if let Some(reason) = &disable_reason {
            tracing::warn!(integration_id = %integration.id(), reason = %reason, "disabling integration");
            self.integrations
                .disable(integration.tenant_id(), integration.id(), reason, now)
                .await?;
        }
        self.log.record_attempt(delivery, attempt).await?;
        self.metrics.attempt(
            "failed",
            integration.format(),
            sent.error_kind,
            sent.duration,
        );
        if disable_reason.is_some() {
            // Every chat's head fails now, and what waits behind it after it.
            super::ordering::release_heads(
                &*self.sequences,
                &*self.delivery_queue,
                integration.tenant_id(),
                integration.id(),
            )
            .await;
            self.metrics.count_for(
                crate::metrics::INTEGRATIONS_DISABLED,
                integration.tenant_id().as_str(),
                integration.id().as_str(),
            );
        }
        Ok(Outcome::Failed {
            reason: delivery.last_error.clone().unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::*;
    use crate::app::integrations::tests::integration_for;
    use crate::domain::catalogue::EventType;
    use crate::domain::ids::TenantId;
    use crate::domain::integration::IntegrationPatch;
    use crate::domain::retry::RetryPolicy;
    use crate::domain::target_url::UrlPolicy;
    use serde_json::json;

    struct Fixture {
        d: Dispatcher,
        events: Arc<MemoryEventStore>,
        integrations: Arc<MemoryIntegrationStore>,
        log: Arc<MemoryDeliveryLog>,
        retry: Arc<MemoryQueue>,
        sender: Arc<ScriptedSender>,
        clock: Arc<ManualClock>,
        integration: Integration,
    }

    async fn fixture(script: Vec<SendOutcome>, policy: RetryPolicy) -> Fixture {
        let integrations = Arc::new(MemoryIntegrationStore::default());
        let log = Arc::new(MemoryDeliveryLog::default());
        let retry = Arc::new(MemoryQueue::default());
        let sender = Arc::new(ScriptedSender::new(script));
        let clock = Arc::new(ManualClock::at(Utc::now()));
        let integration = integration_for(&TenantId::generate(), &[EventType::ChatClosed])
            .apply(
                IntegrationPatch {
                    retry_policy: Some(policy),
                    ..IntegrationPatch::default()
                },
                UrlPolicy::STRICT,
                Utc::now(),
            )
            .unwrap();
        integrations.create(&integration).await.unwrap();
        let events = Arc::new(MemoryEventStore::default());
        let expires = Utc::now() + chrono::Duration::days(1);
        events
            .insert(integration.tenant_id(), &closed_chat(), "t1", expires)
            .await
            .unwrap();
        let tenants: Arc<dyn TenantStore> =
            Arc::new(crate::adapters::memory::MemoryTenantStore::default());
        let d = Dispatcher {
            integrations: integrations.clone(),
            events: events.clone(),
            log: log.clone(),
            retry_queue: retry.clone(),
            delivery_queue: Arc::new(MemoryQueue::default()),
            sequences: Arc::new(MemorySequenceStore::default()),
            sender: sender.clone(),
            clock: clock.clone(),
            read_ahead: Arc::new(crate::app::batch_reads::EachStoreReads {
                events: events.clone(),
                integrations: integrations.clone(),
                tenants: tenants.clone(),
            }),
            tenants,
            settings: DispatchSettings {
                disable_after: chrono::Duration::days(5),
                retry_after_cap: Duration::from_secs(3600),
                max_queue_delay: 900,
                max_receive_count: 5,
            },
            metrics: crate::metrics::Metrics::discard(crate::metrics::DISPATCHER),
        };
        Fixture {
            d,
            events,
            integrations,
            log,
            retry,
            sender,
            clock,
            integration,
        }
    }

    fn closed_chat() -> crate::domain::event::Event {
        crate::domain::event::Event::from_json(
            json!({"id": "e1", "type": "chat.closed", "chat": {"id": "c"}}),
        )
        .unwrap()
    }

    fn job(f: &Fixture, attempt: u32) -> DeliveryJob {
        let (event, i) = (closed_chat(), &f.integration);
        DeliveryJob {
            attempt,
            ..DeliveryJob::first(i.tenant_id(), &event.id, event.kind, i.id(), f.clock.now())
        }
    }

    #[tokio::test]
    async fn a_batch_reads_ahead_and_so_does_a_lone_job() {
        use std::sync::atomic::Ordering::SeqCst;
        let ok = ScriptedSender::status(200);
        let f = fixture(vec![ok.clone(), ok.clone(), ok], RetryPolicy::STANDARD).await;
        let (reads, integration_reads) = (&f.events.reads, &f.integrations.reads);
        // GIVEN two jobs of one batch THEN one event read and one integration read serve both
        let batch = [job(&f, 1), job(&f, 2)];
        let ahead = f.d.read_ahead(&batch).await;
        for j in &batch {
            assert_eq!(
                f.d.deliver_with(j, &ahead, ReceiveCount::FIRST)
                    .await
                    .unwrap(),
                Outcome::Succeeded
            );
        }
        assert_eq!((reads.load(SeqCst), integration_reads.load(SeqCst)), (1, 1));
        // GIVEN a lone job THEN it is read ahead as well, and its attempt reads nothing more
        let lone = [job(&f, 3)];
        let ahead = f.d.read_ahead(&lone).await;
        assert_eq!((reads.load(SeqCst), integration_reads.load(SeqCst)), (2, 2));
        assert_eq!(
            f.d.deliver_with(&lone[0], &ahead, ReceiveCount::FIRST)
                .await
                .unwrap(),
            Outcome::Succeeded
        );
        assert_eq!((reads.load(SeqCst), integration_reads.load(SeqCst)), (2, 2));
    }

    /// Requests sent so far, and the delivery's status, attempt count and
    /// logged attempts.
    fn sent_and_logged(
        f: &Fixture,
        id: &crate::domain::ids::DeliveryId,
    ) -> (usize, DeliveryStatus, u32, usize) {
        let (d, attempts) = f.log.snapshot(id).unwrap();
        let sent = f.sender.requests.lock().unwrap().len();
        (sent, d.status, d.attempts, attempts.len())
    }

    fn received(count: u32) -> ReceiveCount {
        ReceiveCount { count, max: 5 }
    }

    #[tokio::test]
    async fn a_message_received_again_after_its_attempt_was_logged_stands_down() {
        // GIVEN attempt 1 made and logged (its consumer's delete was then lost)
        let ok = ScriptedSender::status(200);
        let f = fixture(vec![ok.clone(), ok], RetryPolicy::STANDARD).await;
        let j = job(&f, 1);
        assert_eq!(f.d.deliver(&j).await.unwrap(), Outcome::Succeeded);
        // WHEN the queue hands the same message out again
        let none = BatchReads::none();
        let again = f.d.deliver_with(&j, &none, received(2)).await.unwrap();
        // THEN it is not sent a second time, and the log is unchanged
        assert!(
            matches!(
                &again,
                Outcome::StoodDown(StandDown::AttemptLogged {
                    attempt: 1,
                    receive: 2
                })
            ),
            "{again:?}"
        );
        assert_eq!(
            sent_and_logged(&f, &j.delivery_id),
            (1, DeliveryStatus::Succeeded, 1, 1)
        );
        // AND the next attempt's message, received again, is still made
        let next =
            f.d.deliver_with(&job(&f, 2), &none, received(3))
                .await
                .unwrap();
        assert_eq!(next, Outcome::Succeeded);
        assert_eq!(f.sender.requests.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn a_retry_released_twice_is_attempted_once() {
        let f = fixture(
            vec![ScriptedSender::status(500), ScriptedSender::status(200)],
            RetryPolicy::Custom(vec![60]),
        )
        .await;
        // GIVEN attempt 1 failed and its retry was queued
        let first = f.d.deliver(&job(&f, 1)).await.unwrap();
        assert!(matches!(first, Outcome::RetryScheduled { .. }), "{first:?}");
        let retry = match &f.retry.take()[0].body {
            QueueMessage::RetryV1(r) => r.job.clone(),
            other => panic!("{other:?}"),
        };
        // WHEN the retry reaches the dispatcher twice, each copy on its first receive
        assert_eq!(f.d.deliver(&retry).await.unwrap(), Outcome::Succeeded);
        let copy = f.d.deliver(&retry).await.unwrap();
        // THEN the copy stands down: two requests in all, and two attempts logged
        assert!(
            matches!(
                &copy,
                Outcome::StoodDown(StandDown::AttemptLogged { attempt: 2, .. })
            ),
            "{copy:?}"
        );
        assert_eq!(
            sent_and_logged(&f, &retry.delivery_id),
            (2, DeliveryStatus::Succeeded, 2, 2)
        );
    }

    #[tokio::test]
    async fn a_retry_that_cannot_be_queued_leaves_its_attempt_unlogged_for_the_next_receive() {
        use std::sync::atomic::Ordering::SeqCst;
        let f = fixture(
            vec![ScriptedSender::status(500), ScriptedSender::status(500)],
            RetryPolicy::Custom(vec![60, 60]),
        )
        .await;
        let j = job(&f, 1);
        // GIVEN the retry queue down: the attempt fails and its retry cannot be queued
        f.retry.fail.store(true, SeqCst);
        assert!(f.d.deliver(&j).await.is_err());
        // THEN the attempt is not logged as made (its message stays for another receive)
        assert!(f.log.snapshot(&j.delivery_id).is_none());
        // WHEN the queue is back and the message is received again
        f.retry.fail.store(false, SeqCst);
        let none = BatchReads::none();
        let again = f.d.deliver_with(&j, &none, received(2)).await.unwrap();
        // THEN the attempt is made, its retry queued, and both are logged
        assert!(matches!(again, Outcome::RetryScheduled { .. }), "{again:?}");
        assert_eq!(f.retry.take().len(), 1);
        let (d, attempts) = f.log.snapshot(&j.delivery_id).unwrap();
        assert_eq!((d.attempts, attempts.len()), (1, 1));
        assert!(d.next_attempt_at.is_some());
    }

    #[tokio::test]
    async fn a_2xx_succeeds_and_is_logged_with_the_link() {
        let mut ok = ScriptedSender::status(200);
        ok.response_excerpt = Some(r#"{"link":"https://crm.example/lead/1"}"#.into());
        let f = fixture(vec![ok], RetryPolicy::STANDARD).await;
        let j = job(&f, 1);
        assert_eq!(f.d.deliver(&j).await.unwrap(), Outcome::Succeeded);
        let (d, attempts) = f.log.snapshot(&j.delivery_id).unwrap();
        assert_eq!(d.status, DeliveryStatus::Succeeded);
        assert_eq!(d.link.as_deref(), Some("https://crm.example/lead/1"));
        assert_eq!(attempts.len(), 1);
        // the request was signed with the webhook headers
        let req = f.sender.requests.lock().unwrap()[0].clone();
        let names: Vec<_> = req.headers.iter().map(|(k, _)| k.as_str()).collect();
        assert!(names.contains(&"webhook-id") && names.contains(&"webhook-signature"));
    }

    #[tokio::test]
    async fn a_failure_schedules_the_next_attempt_through_the_retry_queue() {
        let f = fixture(
            vec![ScriptedSender::status(500)],
            RetryPolicy::Custom(vec![2000]),
        )
        .await;
        let j = job(&f, 1);
        let out = f.d.deliver(&j).await.unwrap();
        assert!(matches!(out, Outcome::RetryScheduled { .. }));
        let sent = f.retry.take();
        assert_eq!(sent.len(), 1);
        // a 2000 s wait hops: the message carries at most 900 s
        assert_eq!(sent[0].delay_seconds, 900);
        match &sent[0].body {
            QueueMessage::RetryV1(r) => {
                assert_eq!(r.job.attempt, 2);
                assert_eq!((r.due_at - f.clock.now()).num_seconds(), 2000);
            }
            other => panic!("{other:?}"),
        }
        let (d, _) = f.log.snapshot(&j.delivery_id).unwrap();
        assert_eq!(d.status, DeliveryStatus::Pending);
        assert!(f.integrations.all()[0].failing_since().is_some());
    }

    #[tokio::test]
    async fn the_last_attempt_failing_marks_the_delivery_failed_with_the_error() {
        let f = fixture(
            vec![ScriptedSender::status(503)],
            RetryPolicy::Custom(vec![1]),
        )
        .await;
        let out = f.d.deliver(&job(&f, 2)).await.unwrap();
        match out {
            Outcome::Failed { reason } => assert!(
                reason.contains("gave up after 2 attempts: HTTP 503"),
                "{reason}"
            ),
            other => panic!("{other:?}"),
        }
        assert!(f.retry.take().is_empty());
    }

    #[tokio::test]
    async fn retry_after_postpones_within_the_cap() {
        let mut busy = ScriptedSender::status(429);
        busy.retry_after = Some(Duration::from_secs(120));
        let f = fixture(vec![busy], RetryPolicy::Custom(vec![1])).await;
        f.d.deliver(&job(&f, 1)).await.unwrap();
        let sent = f.retry.take();
        assert_eq!(sent[0].delay_seconds, 120);
    }

    #[tokio::test]
    async fn gone_disables_the_integration_at_once() {
        let f = fixture(vec![ScriptedSender::status(410)], RetryPolicy::STANDARD).await;
        let out = f.d.deliver(&job(&f, 1)).await.unwrap();
        assert!(matches!(out, Outcome::Failed { .. }));
        let i = &f.integrations.all()[0];
        assert!(!i.enabled());
        assert!(i.disabled_reason().unwrap().contains("410"));
        assert!(f.retry.take().is_empty());
    }

    #[tokio::test]
    async fn failing_past_the_window_disables_and_later_jobs_are_not_sent() {
        let f = fixture(vec![ScriptedSender::status(500)], RetryPolicy::STANDARD).await;
        f.d.deliver(&job(&f, 1)).await.unwrap();
        f.clock.advance(chrono::Duration::days(6));
        let out = f.d.deliver(&job(&f, 2)).await.unwrap();
        assert!(matches!(out, Outcome::Failed { .. }));
        assert!(!f.integrations.all()[0].enabled());
        // a pending retry of a disabled integration is dropped without a request
        let before = f.sender.request_count();
        let out = f.d.deliver(&job(&f, 3)).await.unwrap();
        assert!(matches!(out, Outcome::Failed { reason } if reason.contains("disabled")));
        assert_eq!(f.sender.request_count(), before);
    }

    #[tokio::test]
    async fn a_success_clears_the_failure_run() {
        let f = fixture(
            vec![ScriptedSender::status(500), ScriptedSender::status(204)],
            RetryPolicy::STANDARD,
        )
        .await;
        f.d.deliver(&job(&f, 1)).await.unwrap();
        assert!(f.integrations.all()[0].failing_since().is_some());
        f.d.deliver(&job(&f, 2)).await.unwrap();
        assert!(f.integrations.all()[0].failing_since().is_none());
    }

    fn intake_job(f: &Fixture, token: &str, repeat: bool) -> DeliveryJob {
        DeliveryJob {
            acceptance_token: Some(token.into()),
            repeat,
            ..job(f, 1)
        }
    }

    #[tokio::test]
    async fn a_job_whose_token_was_superseded_stands_down_unlogged() {
        // GIVEN the event was stored by request t1, then re-posted by t2
        let f = fixture(vec![ScriptedSender::status(200)], RetryPolicy::STANDARD).await;
        let tenant = f.integration.tenant_id().clone();
        let id = closed_chat().id;
        assert!(f.events.retoken(&tenant, &id, "t1", "t2").await.unwrap());
        // WHEN t1's job arrives THEN it neither sends nor logs
        let old = intake_job(&f, "t1", false);
        assert!(matches!(
            f.d.deliver(&old).await.unwrap(),
            Outcome::StoodDown(StandDown::Superseded)
        ));
        assert_eq!(f.sender.request_count(), 0);
        assert!(f.log.snapshot(&old.delivery_id).is_none());
        // AND t2's job delivers
        let new = intake_job(&f, "t2", true);
        assert_eq!(f.d.deliver(&new).await.unwrap(), Outcome::Succeeded);
        assert_eq!(f.sender.request_count(), 1);
    }

    #[tokio::test]
    async fn a_repeats_job_stands_down_when_the_log_has_the_delivery() {
        // GIVEN t1's job delivered, then a repeat moved the event to t2
        let script = vec![ScriptedSender::status(200), ScriptedSender::status(200)];
        let f = fixture(script, RetryPolicy::STANDARD).await;
        let tenant = f.integration.tenant_id().clone();
        let first = intake_job(&f, "t1", false);
        assert_eq!(f.d.deliver(&first).await.unwrap(), Outcome::Succeeded);
        assert!(
            f.events
                .retoken(&tenant, &closed_chat().id, "t1", "t2")
                .await
                .unwrap()
        );
        // WHEN the repeat's job arrives THEN nothing is sent a second time
        let again = intake_job(&f, "t2", true);
        assert!(matches!(
            f.d.deliver(&again).await.unwrap(),
            Outcome::StoodDown(StandDown::AlreadyLogged)
        ));
        assert_eq!(f.sender.request_count(), 1);
        assert_eq!(f.log.snapshot(&first.delivery_id).unwrap().1.len(), 1);
    }

    #[tokio::test]
    async fn a_repeat_does_not_reach_integrations_created_after_the_event() {
        let f = fixture(vec![ScriptedSender::status(200)], RetryPolicy::STANDARD).await;
        // The same integration as stored, made after the event was accepted.
        let mut stored = serde_json::to_value(&f.integration).unwrap();
        stored["created_at"] = serde_json::json!(Utc::now() + chrono::Duration::seconds(5));
        let newer: Integration = serde_json::from_value(stored).unwrap();
        assert!(
            f.integrations
                .replace(&f.integration, &newer)
                .await
                .unwrap()
        );
        let tenant = f.integration.tenant_id().clone();
        assert!(
            f.events
                .retoken(&tenant, &closed_chat().id, "t1", "t2")
                .await
                .unwrap()
        );
        let again = intake_job(&f, "t2", true);
        assert!(matches!(
            f.d.deliver(&again).await.unwrap(),
            Outcome::StoodDown(StandDown::IntegrationNewerThanEvent)
        ));
        assert_eq!(f.sender.request_count(), 0);
    }

    #[tokio::test]
    async fn retries_carry_no_token_so_a_later_repeat_cannot_cancel_them() {
        let f = fixture(vec![ScriptedSender::status(503)], RetryPolicy::STANDARD).await;
        let first = intake_job(&f, "t1", false);
        assert!(matches!(
            f.d.deliver(&first).await.unwrap(),
            Outcome::RetryScheduled { .. }
        ));
        match &f.retry.take()[0].body {
            QueueMessage::RetryV1(r) => {
                assert_eq!(r.job.attempt, 2);
                assert_eq!(
                    (r.job.acceptance_token.as_deref(), r.job.repeat),
                    (None, false)
                );
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn queue_delays_round_up_and_cap() {
        assert_eq!(queue_delay(Duration::from_millis(1), 900), 1);
        assert_eq!(queue_delay(Duration::from_secs(0), 900), 0);
        assert_eq!(queue_delay(Duration::from_secs(5000), 900), 900);
        assert_eq!(queue_delay(Duration::from_secs(5000), 3), 3);
    }
}
