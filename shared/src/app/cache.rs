//! A small time-bounded cache for the warm Lambda (a tenant's integrations).
//! Time comes from the caller (the Clock port), so expiry is testable.
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A cached value and when it was stored.
type Entry<V> = (DateTime<Utc>, Arc<V>);

pub struct TtlCache<K, V> {
    ttl: Duration,
    entries: Mutex<HashMap<K, Entry<V>>>,
}

/// Whether an entry stored `at` is still fresh at `now`.
fn fresh(at: DateTime<Utc>, now: DateTime<Utc>, ttl: Duration) -> bool {
    (now - at).to_std().is_ok_and(|age| age < ttl) || now < at
}

impl<K: Eq + Hash + Clone, V> TtlCache<K, V> {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(&self, key: &K, now: DateTime<Utc>) -> Option<Arc<V>> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .filter(|(at, _)| fresh(*at, now, self.ttl))
            .map(|(_, v)| v.clone())
    }

    pub fn put(&self, key: K, value: V, now: DateTime<Utc>) -> Arc<V> {
        let value = Arc::new(value);
        if !self.ttl.is_zero() {
            let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            if entries.len() > 10_000 {
                entries.retain(|_, (at, _)| fresh(*at, now, self.ttl));
            }
            entries.insert(key, (now, value.clone()));
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_800_000_000_000 + ms).unwrap_or_default()
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let cache = TtlCache::new(Duration::from_secs(5));
        cache.put("a", 1, at(0));
        assert_eq!(cache.get(&"a", at(4_999)).as_deref(), Some(&1));
        assert_eq!(cache.get(&"a", at(5_000)), None);
    }

    #[test]
    fn a_zero_ttl_caches_nothing() {
        let cache = TtlCache::new(Duration::ZERO);
        cache.put("a", 1, at(0));
        assert_eq!(cache.get(&"a", at(0)), None);
    }
}
