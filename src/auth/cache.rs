//! A small time-bounded cache for what the gateway reads from KV on every request (credential
//! records, projects). Workers keep an isolate alive across many requests, so a hit saves a KV
//! round trip. Entries live at most `ttl_secs`: a revoked credential keeps working in an isolate
//! that cached it for at most that long, on top of KV's own propagation delay.

use std::collections::HashMap;

/// Entries expire `ttl_secs` after they were stored; the cache holds at most `capacity` entries
/// and drops the oldest when full. Time is a parameter.
pub struct TtlCache<V> {
    entries: HashMap<String, (i64, V)>,
    ttl_secs: i64,
    capacity: usize,
}

impl<V: Clone> TtlCache<V> {
    pub fn new(ttl_secs: i64, capacity: usize) -> Self {
        TtlCache { entries: HashMap::new(), ttl_secs, capacity }
    }

    /// The cached value, if stored less than `ttl_secs` before `now`.
    pub fn get(&mut self, key: &str, now: i64) -> Option<V> {
        match self.entries.get(key) {
            Some((stored_at, value)) if now - stored_at < self.ttl_secs && now >= *stored_at => Some(value.clone()),
            Some(_) => {
                self.entries.remove(key);
                None
            }
            None => None,
        }
    }

    pub fn insert(&mut self, key: String, value: V, now: i64) {
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&key) {
            self.entries.retain(|_, (stored_at, _)| now - *stored_at < self.ttl_secs);
            if self.entries.len() >= self.capacity {
                if let Some(oldest) = self.entries.iter().min_by_key(|(_, (at, _))| *at).map(|(k, _)| k.clone()) {
                    self.entries.remove(&oldest);
                }
            }
        }
        self.entries.insert(key, (now, value));
    }

    pub fn remove(&mut self, key: &str) {
        self.entries.remove(key);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_after_the_ttl() {
        let mut cache = TtlCache::new(30, 10);
        cache.insert("a".into(), 1, 100);
        assert_eq!(cache.get("a", 100), Some(1));
        assert_eq!(cache.get("a", 129), Some(1));
        assert_eq!(cache.get("a", 130), None);
        assert!(cache.is_empty());
    }

    #[test]
    fn a_clock_that_goes_backwards_does_not_extend_entries() {
        let mut cache = TtlCache::new(30, 10);
        cache.insert("a".into(), 1, 100);
        assert_eq!(cache.get("a", 99), None);
    }

    #[test]
    fn capacity_is_bounded_by_dropping_the_oldest() {
        let mut cache = TtlCache::new(1000, 3);
        for (i, key) in ["a", "b", "c", "d"].iter().enumerate() {
            cache.insert(key.to_string(), i, i as i64);
        }
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get("a", 10), None);
        assert_eq!(cache.get("d", 10), Some(3));
        cache.remove("d");
        assert_eq!(cache.get("d", 10), None);
    }
}
