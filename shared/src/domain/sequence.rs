//! Ordered delivery per conversation: an integration with `ordering: chat`
//! gets the deliveries of one chat one at a time, in the order the intake
//! accepted their events, while every other chat, every other integration
//! and every event without a chat flows as usual.
//!
//! The rules, in one place:
//! - the intake puts each ordered delivery in its chat's sequence (one per
//!   integration and chat) before it answers, at its [`Position`]: the
//!   acceptance time, then its place in the post;
//! - a job whose delivery is the sequence's head is attempted; any other
//!   waits behind the head (it is *parked*, and the log shows `waiting_for`);
//! - the head leaves the sequence only once it succeeded or finally failed,
//!   and then the next one, if parked, is released: retries keep the place;
//! - a delivery that left its sequence is not attempted again by a copy of
//!   its job; a manual retry puts it back at the end.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::DeliveryId;
use super::message::DeliveryJob;

/// An integration's delivery order.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Ordering {
    /// Deliveries are attempted as they come, in parallel (the default).
    #[default]
    None,
    /// The deliveries of one chat (`chat.id`) are attempted one at a time,
    /// in the order they were accepted; other chats are not held back.
    Chat,
}

impl Ordering {
    pub fn is_none(&self) -> bool {
        *self == Ordering::None
    }
}

/// Where a delivery stands in its chat's sequence: when the intake accepted
/// its event (microseconds since the epoch), then the event's place in its
/// post; equal positions (two posts in the same microsecond) fall back to
/// the delivery id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Position {
    #[serde(rename = "at")]
    pub accepted_micros: i64,
    #[serde(rename = "n")]
    pub index: u32,
}

impl Position {
    pub fn at(accepted: DateTime<Utc>, index: usize) -> Self {
        Self {
            accepted_micros: accepted.timestamp_micros(),
            index: u32::try_from(index).unwrap_or(u32::MAX),
        }
    }

    /// Fixed width, so the text order is the sequence order (for sort keys).
    pub fn key(&self) -> String {
        format!("{:017}.{:06}", self.accepted_micros.max(0), self.index)
    }
}

/// The sequence an ordered delivery belongs to, carried by its jobs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct InOrder {
    /// The event's `chat.id`.
    pub chat: String,
    #[serde(flatten)]
    pub position: Position,
}

/// One delivery in its chat's sequence, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct SequenceEntry {
    /// The job that attempts it (its `ordered` is set); a released job is
    /// this one, without the intake's acceptance token.
    pub job: DeliveryJob,
    /// Its job came while another delivery was the head, and went: whoever
    /// moves the head on must send it again.
    pub parked: bool,
}

impl SequenceEntry {
    pub fn new(job: DeliveryJob) -> Option<Self> {
        job.ordered.as_ref()?;
        Some(Self { job, parked: false })
    }

    pub fn in_order(&self) -> &InOrder {
        // `new` refuses jobs without it; stored entries are read back only
        // from jobs that had it.
        self.job
            .ordered
            .as_ref()
            .unwrap_or_else(|| unreachable!("a sequence entry's job is ordered"))
    }

    pub fn delivery_id(&self) -> &DeliveryId {
        &self.job.delivery_id
    }

    fn rank(&self) -> (Position, &DeliveryId) {
        (self.in_order().position, &self.job.delivery_id)
    }

    /// The job a release sends: it belongs to the sequence, not to the
    /// intake request that queued the first one.
    pub fn released_job(&self) -> DeliveryJob {
        DeliveryJob {
            acceptance_token: None,
            repeat: false,
            ..self.job.clone()
        }
    }
}

/// What an ordered job may do, given its sequence's head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Turn {
    /// It is the head: attempt it.
    Go,
    /// Another delivery is ahead of it: wait until that one is done.
    WaitFor(DeliveryId),
    /// Its delivery is no longer in the sequence (done, or removed).
    Left,
}

/// The job's turn: `head` is the first entry of its sequence, if any.
pub fn turn(job: &DeliveryJob, order: &InOrder, head: Option<&SequenceEntry>) -> Turn {
    match head {
        Some(h) if h.job.delivery_id == job.delivery_id => Turn::Go,
        Some(h) if h.rank() < (order.position, &job.delivery_id) => {
            Turn::WaitFor(h.job.delivery_id.clone())
        }
        // Nothing ahead of its place: its own entry is gone.
        _ => Turn::Left,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalogue::EventType;
    use crate::domain::ids::{EventId, IntegrationId, TenantId};

    fn job(id: &str, micros: i64, index: u32) -> DeliveryJob {
        let tenant = TenantId::parse("ten_1").unwrap();
        let mut j = DeliveryJob::first(
            &tenant,
            &EventId::parse(id).unwrap(),
            EventType::ChatClosed,
            &IntegrationId::parse("int_1").unwrap(),
            Utc::now(),
        );
        j.ordered = Some(InOrder {
            chat: "c1".into(),
            position: Position {
                accepted_micros: micros,
                index,
            },
        });
        j
    }

    fn entry(j: &DeliveryJob) -> SequenceEntry {
        SequenceEntry::new(j.clone()).unwrap()
    }

    fn turn_of(j: &DeliveryJob, head: Option<&SequenceEntry>) -> Turn {
        turn(j, j.ordered.as_ref().unwrap(), head)
    }

    #[test]
    fn the_head_goes_and_a_later_one_waits_for_it() {
        let first = job("e1", 100, 0);
        let second = job("e2", 100, 1);
        assert_eq!(turn_of(&first, Some(&entry(&first))), Turn::Go);
        assert_eq!(
            turn_of(&second, Some(&entry(&first))),
            Turn::WaitFor(first.delivery_id.clone())
        );
    }

    #[test]
    fn a_job_whose_entry_is_gone_has_left_the_sequence() {
        let first = job("e1", 100, 0);
        let second = job("e2", 200, 0);
        // the sequence is empty, or already at a later delivery
        assert_eq!(turn_of(&first, None), Turn::Left);
        assert_eq!(turn_of(&first, Some(&entry(&second))), Turn::Left);
    }

    #[test]
    fn positions_order_by_time_then_place_in_the_post() {
        let a = Position::at(DateTime::from_timestamp(10, 0).unwrap(), 9);
        let b = Position::at(DateTime::from_timestamp(10, 1_000).unwrap(), 0);
        assert!(a < b);
        assert!(a.key() < b.key());
        let c = Position {
            index: 10,
            ..Position::at(DateTime::from_timestamp(10, 0).unwrap(), 0)
        };
        assert!(a < c && a.key() < c.key());
    }

    #[test]
    fn a_released_job_carries_no_acceptance_token() {
        let mut j = job("e1", 1, 0);
        j.acceptance_token = Some("t".into());
        j.repeat = true;
        let released = entry(&j).released_job();
        assert_eq!((released.acceptance_token, released.repeat), (None, false));
        assert_eq!(released.ordered, j.ordered);
    }

    #[test]
    fn ordering_is_lowercase_on_the_wire_and_none_by_default() {
        assert_eq!(serde_json::to_string(&Ordering::Chat).unwrap(), r#""chat""#);
        assert_eq!(Ordering::default(), Ordering::None);
        assert!(serde_json::from_str::<Ordering>(r#""conversation""#).is_err());
    }
}
