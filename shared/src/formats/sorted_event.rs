//! The canonical event serialized straight from the borrowed domain types,
//! every object's keys in byte order: the bytes `serde_json::to_value` (whose
//! maps are `BTreeMap`s) then `to_vec` produced, without building the tree.
//! Each impl lists its type's fields sorted and skips what the domain's own
//! `Serialize` skips; the tests in `standard` pin this to the `Value` route.
//! Types whose derive already emits sorted keys (`Group`, `Person`,
//! `Requester`, `TicketAuthor`, `TicketGroup`, `TagsChange`) serialize as is;
//! times are written as chrono writes them, without `fmt`.
use chrono::{DateTime, Utc};
use serde::ser::{Serialize, SerializeMap, Serializer};

use super::common::serialize_time;
use crate::domain::event::{
    Agent, CannedResponse, Chat, ChatMessage, Event, Forward, Lead, OfflineMessage, SurveyAnswer,
    SurveyChoice, Ticket, TicketEvent, TicketSource, Visitor,
};

/// `T` with its keys sorted; `Sorted(&event)` is the event without `type`
/// and `occurred_at` (the envelope of `standard` carries them).
pub struct Sorted<'a, T>(pub &'a T);

impl<T> Serialize for Sorted<'_, Vec<T>>
where
    for<'b> Sorted<'b, T>: Serialize,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(Sorted))
    }
}

impl<T> Serialize for Sorted<'_, Option<T>>
where
    for<'b> Sorted<'b, T>: Serialize,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(value) => Sorted(value).serialize(serializer),
            None => serializer.serialize_none(),
        }
    }
}

/// A time, as chrono's `Serialize` writes it.
impl Serialize for Sorted<'_, DateTime<Utc>> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_time(self.0, serializer)
    }
}

/// `key: value` unless the domain skips it (`None`, empty, `false`).
trait Skipped {
    fn skipped(&self) -> bool;
}

impl<T> Skipped for Option<T> {
    fn skipped(&self) -> bool {
        self.is_none()
    }
}

impl<T> Skipped for Vec<T> {
    fn skipped(&self) -> bool {
        self.is_empty()
    }
}

impl<K, V> Skipped for std::collections::BTreeMap<K, V> {
    fn skipped(&self) -> bool {
        self.is_empty()
    }
}

/// Never skipped.
impl Skipped for DateTime<Utc> {
    fn skipped(&self) -> bool {
        false
    }
}

impl Skipped for bool {
    fn skipped(&self) -> bool {
        !self
    }
}

/// A `Serialize` for `Sorted<'_, $ty>`: a map of the entries in the order
/// listed. `put` always; `opt` unless skipped (see [`Skipped`]); `sub` the
/// same, the value itself `Sorted`.
macro_rules! sorted {
    ($ty:ty, |$v:ident| { $($how:ident $key:literal: $value:expr),* $(,)? }) => {
        impl Serialize for Sorted<'_, $ty> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let $v = self.0;
                let mut map = serializer.serialize_map(None)?;
                $(sorted!(@ $how map, $key, $value);)*
                map.end()
            }
        }
    };
    (@ put $map:ident, $key:literal, $value:expr) => {
        $map.serialize_entry($key, &$value)?
    };
    (@ opt $map:ident, $key:literal, $value:expr) => {
        if !Skipped::skipped(&$value) {
            $map.serialize_entry($key, &$value)?
        }
    };
    (@ sub $map:ident, $key:literal, $value:expr) => {
        if !Skipped::skipped(&$value) {
            $map.serialize_entry($key, &Sorted(&$value))?
        }
    };
}

sorted!(Event, |e| {
    sub "agent": e.agent,
    sub "canned_response": e.canned_response,
    sub "chat": e.chat,
    sub "forward": e.forward,
    put "id": e.id,
    sub "lead": e.lead,
    sub "message": e.message,
    sub "offline_message": e.offline_message,
    sub "pre_chat_survey": e.pre_chat_survey,
    opt "tags_change": e.tags_change,
    sub "ticket": e.ticket,
    sub "visitor": e.visitor,
});

sorted!(Chat, |c| {
    sub "agents": c.agents,
    opt "code": c.code,
    opt "custom_fields": c.custom_fields,
    opt "department": c.department,
    sub "ended_at": c.ended_at,
    opt "groups": c.groups,
    put "id": c.id,
    opt "label": c.label,
    sub "last_message_at": c.last_message_at,
    sub "messages": c.messages,
    sub "started_at": c.started_at,
    opt "tags": c.tags,
    opt "topic": c.topic,
});

sorted!(ChatMessage, |m| {
    opt "author_id": m.author_id,
    opt "author_name": m.author_name,
    put "author_type": m.author_type,
    opt "author_username": m.author_username,
    opt "id": m.id,
    sub "sent_at": m.sent_at,
    put "text": m.text,
    opt "whisper": m.whisper,
});

sorted!(Visitor, |v| {
    opt "browser": v.browser,
    opt "city": v.city,
    opt "country": v.country,
    opt "country_code": v.country_code,
    opt "custom_fields": v.custom_fields,
    opt "email": v.email,
    put "id": v.id,
    opt "ip": v.ip,
    opt "name": v.name,
    opt "os": v.os,
    opt "phone": v.phone,
    opt "region": v.region,
    opt "username": v.username,
});

sorted!(Agent, |a| {
    opt "email": a.email,
    put "id": a.id,
    opt "name": a.name,
    opt "username": a.username,
});

sorted!(SurveyAnswer, |s| {
    opt "answer": s.answer,
    sub "answers": s.answers,
    put "id": s.id,
    put "label": s.label,
    put "type": s.kind,
});

sorted!(SurveyChoice, |c| {
    put "chosen": c.chosen,
    put "label": c.label,
});

sorted!(OfflineMessage, |o| {
    opt "department": o.department,
    opt "email": o.email,
    put "message": o.message,
    opt "name": o.name,
    sub "sent_at": o.sent_at,
});

sorted!(Lead, |l| {
    opt "custom_fields": l.custom_fields,
    opt "email": l.email,
    opt "name": l.name,
    opt "phone": l.phone,
});

sorted!(Ticket, |t| {
    opt "assignee": t.assignee,
    sub "events": t.events,
    opt "groups": t.groups,
    put "id": t.id,
    opt "requester": t.requester,
    sub "source": t.source,
    opt "status": t.status,
    opt "subject": t.subject,
    opt "tags": t.tags,
});

sorted!(TicketEvent, |e| {
    opt "author": e.author,
    sub "date": e.date,
    put "is_private": e.is_private,
    opt "message": e.message,
    sub "source": e.source,
    put "type": e.kind,
});

sorted!(TicketSource, |s| {
    opt "id": s.id,
    put "type": s.kind,
    put "url": s.url,
});

sorted!(CannedResponse, |c| {
    put "group": c.group,
    put "id": c.id,
    sub "modified_at": c.modified_at,
    opt "tags": c.tags,
    put "text": c.text,
});

sorted!(Forward, |f| {
    opt "comment": f.comment,
    sub "from_agent": f.from_agent,
    opt "from_department": f.from_department,
    sub "to_agent": f.to_agent,
    opt "to_department": f.to_department,
});
