//! An SDK interceptor that counts every AWS request the functions make, by
//! service and operation, with the SQS billing chunks (64 KB) and the
//! DynamoDB capacity units each request consumes, computed from the item
//! sizes in the request and response bodies (DynamoDB's own size rules:
//! attribute names plus values, writes in 1 KB units, reads in 4 KB units,
//! eventually consistent reads at half a unit, transactions at twice).
//!
//! Updates carry no item in their bodies: they are recorded by key and sized
//! afterwards from the stored item (`resolve_updates`), an upper bound since
//! items only grow.
//!
//! A write to an item that carries a global secondary index's partition key
//! also writes the index's copy of it: both of the table's indexes project
//! every attribute, so each costs the item's own write units again (counted
//! under `<operation> (indexes)` in `wru_by_op`).
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// What was counted so far.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// (service, operation) → requests (every attempt is a billed request).
    pub requests: BTreeMap<(String, String), u64>,
    /// SQS billed requests: each 64 KB chunk of a request's payload is one.
    pub sqs_billed: u64,
    /// DynamoDB write request units from puts, deletes and batch writes.
    pub wru: f64,
    /// DynamoDB read request units.
    pub rru: f64,
    /// Of `wru`, the writes of the indexes' copies.
    pub index_wru: f64,
    /// Write request units by operation.
    pub wru_by_op: BTreeMap<String, f64>,
    /// Updates still to size: (table, key JSON) → count, and whether transactional.
    pub updates: BTreeMap<(String, String), (u64, bool)>,
    pub request_bytes: u64,
    pub response_bytes: u64,
}

impl Tally {
    pub fn total_requests(&self) -> u64 {
        self.requests.values().sum()
    }

    pub fn service_requests(&self, service: &str) -> u64 {
        self.requests
            .iter()
            .filter(|((s, _), _)| s.eq_ignore_ascii_case(service))
            .map(|(_, n)| n)
            .sum()
    }

    /// Add the WRU of the recorded updates, given each updated item's size
    /// in bytes and the number of indexes it is in (`size_of(table, key
    /// JSON)`; unknown items count 1 KB in no index).
    pub fn resolve_updates(
        &mut self,
        size_of: impl Fn(&str, &str) -> Option<(usize, usize)>,
    ) -> f64 {
        let (mut table_wru, mut index_wru) = (0.0, 0.0);
        for ((table, key), (count, transactional)) in &self.updates {
            let (size, indexes) = size_of(table, key).unwrap_or((1024, 0));
            let units = write_units(size);
            let factor = if *transactional { 2.0 } else { 1.0 };
            table_wru += units * factor * *count as f64;
            index_wru += units * indexes as f64 * *count as f64;
        }
        self.wru += table_wru + index_wru;
        self.index_wru += index_wru;
        *self.wru_by_op.entry("UpdateItem".into()).or_default() += table_wru;
        if index_wru > 0.0 {
            *self
                .wru_by_op
                .entry("UpdateItem (indexes)".into())
                .or_default() += index_wru;
        }
        self.updates.clear();
        table_wru + index_wru
    }
}

/// Counts the AWS requests of every client it is attached to.
#[derive(Debug, Default, Clone)]
pub struct AwsCounter {
    tally: Arc<Mutex<Tally>>,
}

impl AwsCounter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn snapshot(&self) -> Tally {
        self.tally.lock().map(|t| t.clone()).unwrap_or_default()
    }

    pub fn reset(&self) {
        if let Ok(mut t) = self.tally.lock() {
            *t = Tally::default();
        }
    }

    pub fn shared(&self) -> aws_smithy_runtime_api::client::interceptors::SharedInterceptor {
        aws_smithy_runtime_api::client::interceptors::SharedInterceptor::new(self.clone())
    }
}

/// What the request side learned, for the response side.
#[derive(Debug, Clone)]
struct Pending {
    service: String,
    operation: String,
    consistent: bool,
}

impl Storable for Pending {
    type Storer = StoreReplace<Self>;
}

fn names(cfg: &ConfigBag) -> (String, String) {
    cfg.load::<Metadata>()
        .map(|m| (m.service().to_string(), m.name().to_string()))
        .unwrap_or_else(|| ("unknown".into(), "unknown".into()))
}

impl Intercept for AwsCounter {
    fn name(&self) -> &'static str {
        "AwsCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) = names(cfg);
        let body = context.request().body().bytes().unwrap_or_default();
        let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let consistent = consistent_read(&json);
        if let Ok(mut t) = self.tally.lock() {
            *t.requests
                .entry((service.clone(), operation.clone()))
                .or_default() += 1;
            t.request_bytes += body.len() as u64;
            if service.eq_ignore_ascii_case("sqs") {
                t.sqs_billed += (body.len() as u64).div_ceil(64 * 1024).max(1);
            } else if service.eq_ignore_ascii_case("dynamodb") {
                let (before, index_before) = (t.wru, t.index_wru);
                count_writes(&mut t, &operation, &json);
                let index_added = t.index_wru - index_before;
                let added = t.wru - before - index_added;
                if added > 0.0 {
                    *t.wru_by_op.entry(operation.clone()).or_default() += added;
                }
                if index_added > 0.0 {
                    *t.wru_by_op
                        .entry(format!("{operation} (indexes)"))
                        .or_default() += index_added;
                }
            }
        }
        cfg.interceptor_state().store_put(Pending {
            service,
            operation,
            consistent,
        });
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(pending) = cfg.load::<Pending>().cloned() else {
            return Ok(());
        };
        let body = context.response().body().bytes().unwrap_or_default();
        let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        if let Ok(mut t) = self.tally.lock() {
            t.response_bytes += body.len() as u64;
            if pending.service.eq_ignore_ascii_case("dynamodb") {
                t.rru += read_units_of(&pending.operation, &json, pending.consistent);
            }
        }
        Ok(())
    }
}

fn write_units(size: usize) -> f64 {
    size.div_ceil(1024).max(1) as f64
}

fn read_units(size: usize, consistent: bool) -> f64 {
    let units = size.div_ceil(4096).max(1) as f64;
    if consistent { units } else { units / 2.0 }
}

fn key_string(key: &Value) -> String {
    // Keys as canonical JSON (serde_json maps are sorted).
    serde_json::to_string(key).unwrap_or_default()
}

/// The global secondary indexes' partition keys: an item holding one is in
/// that index.
const INDEX_KEYS: [&str; 2] = [
    chathooks::adapters::dynamodb::keys::GSI1PK,
    chathooks::adapters::dynamodb::chats::GSI2PK,
];

/// How many indexes hold a copy of `item` (JSON wire form).
fn indexes_of(item: &Value) -> usize {
    INDEX_KEYS.iter().filter(|k| item[**k].is_object()).count()
}

/// How many indexes hold a copy of an item read through the SDK.
pub fn sdk_indexes_of(
    item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
) -> usize {
    INDEX_KEYS.iter().filter(|k| item.contains_key(**k)).count()
}

/// A put's write units: the table's (`factor` 2 in a transaction), then
/// one write of the same size per index that holds the item.
fn count_put(t: &mut Tally, item: &Value, factor: f64) {
    let units = write_units(item_size(item));
    t.wru += units * factor;
    let copies = indexes_of(item) as f64 * units;
    t.wru += copies;
    t.index_wru += copies;
}

fn count_writes(t: &mut Tally, operation: &str, json: &Value) {
    let table = json["TableName"].as_str().unwrap_or_default().to_string();
    match operation {
        "PutItem" => count_put(t, &json["Item"], 1.0),
        "DeleteItem" => t.wru += 1.0,
        "UpdateItem" => {
            let e = t
                .updates
                .entry((table, key_string(&json["Key"])))
                .or_insert((0, false));
            e.0 += 1;
        }
        "BatchWriteItem" => {
            if let Some(tables) = json["RequestItems"].as_object() {
                for requests in tables.values() {
                    for r in requests.as_array().into_iter().flatten() {
                        if r["PutRequest"].is_object() {
                            count_put(t, &r["PutRequest"]["Item"], 1.0);
                        } else {
                            t.wru += 1.0;
                        }
                    }
                }
            }
        }
        "TransactWriteItems" => {
            for item in json["TransactItems"].as_array().into_iter().flatten() {
                if item["Put"].is_object() {
                    count_put(t, &item["Put"]["Item"], 2.0);
                } else if item["Update"].is_object() {
                    let u = &item["Update"];
                    let e = t
                        .updates
                        .entry((
                            u["TableName"].as_str().unwrap_or_default().to_string(),
                            key_string(&u["Key"]),
                        ))
                        .or_insert((0, true));
                    e.0 += 1;
                    e.1 = true;
                } else {
                    // Delete or ConditionCheck: one transactional unit.
                    t.wru += 2.0;
                }
            }
        }
        _ => {}
    }
}

/// Whether a read request asks for strongly consistent reads (BatchGetItem
/// asks per table).
fn consistent_read(request: &Value) -> bool {
    request["ConsistentRead"].as_bool().unwrap_or(false)
        || request["RequestItems"]
            .as_object()
            .is_some_and(|tables| tables.values().any(|t| t["ConsistentRead"] == true))
}

fn read_units_of(operation: &str, json: &Value, consistent: bool) -> f64 {
    match operation {
        "GetItem" => read_units(item_size(&json["Item"]), consistent),
        "Query" | "Scan" => {
            let total: usize = json["Items"]
                .as_array()
                .into_iter()
                .flatten()
                .map(item_size)
                .sum();
            read_units(total, consistent)
        }
        "BatchGetItem" => json["Responses"]
            .as_object()
            .into_iter()
            .flat_map(|m| m.values())
            .flat_map(|items| items.as_array().into_iter().flatten())
            .map(|i| read_units(item_size(i), consistent))
            .sum(),
        "TransactGetItems" => json["Responses"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| 2.0 * read_units(item_size(&r["Item"]), true))
            .sum(),
        _ => 0.0,
    }
}

/// A DynamoDB item's size (JSON wire form: `{"name": {"S": "..."}}`).
pub fn item_size(item: &Value) -> usize {
    item.as_object()
        .map(|m| m.iter().map(|(k, v)| k.len() + value_size(v)).sum())
        .unwrap_or(0)
}

fn number_size(n: &str) -> usize {
    let digits = n.chars().filter(char::is_ascii_digit).count();
    digits.div_ceil(2) + 1
}

fn value_size(v: &Value) -> usize {
    let Some((kind, inner)) = v.as_object().and_then(|m| m.iter().next()) else {
        return 0;
    };
    match kind.as_str() {
        "S" => inner.as_str().map(str::len).unwrap_or(0),
        "N" => inner.as_str().map(number_size).unwrap_or(0),
        "B" => inner.as_str().map(|b| b.len() * 3 / 4).unwrap_or(0),
        "BOOL" | "NULL" => 1,
        "SS" => inner
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::len)
            .sum(),
        "NS" => inner
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(number_size)
            .sum(),
        "BS" => inner
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|b| b.len() * 3 / 4)
            .sum(),
        "M" => {
            3 + inner
                .as_object()
                .map(|m| m.iter().map(|(k, v)| k.len() + value_size(v) + 1).sum())
                .unwrap_or(0)
        }
        "L" => {
            3 + inner
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| value_size(v) + 1)
                .sum::<usize>()
        }
        _ => 0,
    }
}

/// The size of an item read through the SDK (same rules as `item_size`).
pub fn sdk_item_size(
    item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
) -> usize {
    item.iter().map(|(k, v)| k.len() + sdk_value_size(v)).sum()
}

fn sdk_value_size(v: &aws_sdk_dynamodb::types::AttributeValue) -> usize {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    match v {
        A::S(s) => s.len(),
        A::N(n) => number_size(n),
        A::B(b) => b.as_ref().len(),
        A::Bool(_) | A::Null(_) => 1,
        A::Ss(s) => s.iter().map(String::len).sum(),
        A::Ns(s) => s.iter().map(|n| number_size(n)).sum(),
        A::Bs(s) => s.iter().map(|b| b.as_ref().len()).sum(),
        A::M(m) => {
            3 + m
                .iter()
                .map(|(k, v)| k.len() + sdk_value_size(v) + 1)
                .sum::<usize>()
        }
        A::L(l) => 3 + l.iter().map(|v| sdk_value_size(v) + 1).sum::<usize>(),
        _ => 0,
    }
}

/// The key JSON `count_writes` records for an item read through the SDK,
/// given the table's key attribute names.
pub fn sdk_key_string(
    item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
    key_names: &[&str],
) -> String {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    let mut key = serde_json::Map::new();
    for name in key_names {
        let v = match item.get(*name) {
            Some(A::S(s)) => serde_json::json!({"S": s}),
            Some(A::N(n)) => serde_json::json!({"N": n}),
            _ => continue,
        };
        key.insert((*name).to_string(), v);
    }
    key_string(&Value::Object(key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn item_sizes_follow_dynamodb_rules() {
        // "pk" (2) + "abc" (3) + "n" (1) + 12345 (3 digits pairs + 1 = 4)
        let item = json!({"pk": {"S": "abc"}, "n": {"N": "12345"}});
        assert_eq!(item_size(&item), 2 + 3 + 1 + 4);
        assert_eq!(write_units(1024), 1.0);
        assert_eq!(write_units(1025), 2.0);
        assert_eq!(read_units(4097, false), 1.0);
        assert_eq!(read_units(10, true), 1.0);
    }

    #[test]
    fn consistency_is_read_from_the_request_or_its_tables() {
        assert!(consistent_read(&json!({"ConsistentRead": true})));
        assert!(!consistent_read(&json!({"TableName": "t"})));
        let batch = |c: bool| json!({"RequestItems": {"t": {"Keys": [], "ConsistentRead": c}}});
        assert!(consistent_read(&batch(true)));
        assert!(!consistent_read(&batch(false)));
    }

    #[test]
    fn a_write_to_an_indexed_item_also_writes_each_index_copy() {
        let mut t = Tally::default();
        // A delivery in both indexes: its put costs three times its units.
        let delivery = json!({"pk": {"S": "D#1"}, "gsi1pk": {"S": "I#1"}, "gsi2pk": {"S": "C#1"}});
        count_writes(
            &mut t,
            "PutItem",
            &json!({"TableName": "t", "Item": delivery}),
        );
        assert_eq!((t.wru, t.index_wru), (3.0, 2.0));
        // An event in no index: its own units only.
        let event = json!({"pk": {"S": "E#1"}, "body": {"S": "x".repeat(1500)}});
        count_writes(&mut t, "PutItem", &json!({"TableName": "t", "Item": event}));
        assert_eq!((t.wru, t.index_wru), (5.0, 2.0));
        // An update of an item in one index: its units, then the copy's.
        count_writes(
            &mut t,
            "UpdateItem",
            &json!({"TableName": "t", "Key": {"pk": {"S": "D#1"}}}),
        );
        assert_eq!(t.resolve_updates(|_, _| Some((1500, 1))), 4.0);
        assert_eq!((t.wru, t.index_wru), (9.0, 4.0));
    }
}
