//! What `stats()` reports: outcomes by status and error code, cache hits and misses per
//! tier, and latency percentiles from an HDR histogram.

use crate::error::ErrorCode;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// Hit and miss counters of the user-mapping cache tiers.
#[derive(Debug, Default)]
pub struct CacheCounters {
    memory_hits: AtomicU64,
    memory_misses: AtomicU64,
    redis_hits: AtomicU64,
    redis_misses: AtomicU64,
}

impl CacheCounters {
    pub fn memory_hit(&self) {
        self.memory_hits.fetch_add(1, Relaxed);
    }
    pub fn memory_miss(&self) {
        self.memory_misses.fetch_add(1, Relaxed);
    }
    pub fn redis_hit(&self) {
        self.redis_hits.fetch_add(1, Relaxed);
    }
    pub fn redis_miss(&self) {
        self.redis_misses.fetch_add(1, Relaxed);
    }
}

/// How one call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Processed,
    Duplicate,
    Ignored,
    Failed(ErrorCode),
}

/// Live counters of one processor.
pub struct Stats {
    processed: AtomicU64,
    duplicate: AtomicU64,
    ignored: AtomicU64,
    failed: [AtomicU64; ErrorCode::ALL.len()],
    latency_micros: Mutex<hdrhistogram::Histogram<u64>>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            processed: AtomicU64::new(0),
            duplicate: AtomicU64::new(0),
            ignored: AtomicU64::new(0),
            failed: std::array::from_fn(|_| AtomicU64::new(0)),
            // 1 µs to 10 min at 3 significant digits: a fixed ~100 KB, whatever the volume.
            latency_micros: Mutex::new(
                hdrhistogram::Histogram::new_with_bounds(1, 600_000_000, 3)
                    .expect("valid histogram bounds"),
            ),
        }
    }
}

/// A cache tier's counters as reported.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TierSnapshot {
    pub hits: u64,
    pub misses: u64,
    /// hits / (hits + misses), 0 when there were no lookups.
    pub hit_rate: f64,
}

impl TierSnapshot {
    fn new(hits: u64, misses: u64) -> Self {
        let total = hits + misses;
        TierSnapshot {
            hits,
            misses,
            hit_rate: if total == 0 {
                0.0
            } else {
                hits as f64 / total as f64
            },
        }
    }
}

/// Latency percentiles of completed calls, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LatencySnapshot {
    pub count: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
}

/// A point-in-time copy of the counters.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsSnapshot {
    pub processed: u64,
    pub duplicate: u64,
    pub ignored: u64,
    pub failed: u64,
    /// Failures by error code, only codes that occurred.
    pub errors: Vec<(ErrorCode, u64)>,
    pub memory_cache: TierSnapshot,
    pub redis_cache: TierSnapshot,
    pub latency: LatencySnapshot,
}

impl Stats {
    pub fn record(&self, outcome: Outcome, micros: u64) {
        match outcome {
            Outcome::Processed => &self.processed,
            Outcome::Duplicate => &self.duplicate,
            Outcome::Ignored => &self.ignored,
            Outcome::Failed(code) => &self.failed[code as usize],
        }
        .fetch_add(1, Relaxed);
        if let Ok(mut h) = self.latency_micros.lock() {
            h.saturating_record(micros.max(1));
        }
    }

    pub fn snapshot(&self, cache: &CacheCounters) -> StatsSnapshot {
        let errors: Vec<_> = ErrorCode::ALL
            .iter()
            .map(|&c| (c, self.failed[c as usize].load(Relaxed)))
            .filter(|&(_, n)| n > 0)
            .collect();
        let latency = self
            .latency_micros
            .lock()
            .map(|h| LatencySnapshot {
                count: h.len(),
                p50: h.value_at_quantile(0.50),
                p90: h.value_at_quantile(0.90),
                p99: h.value_at_quantile(0.99),
                max: h.max(),
            })
            .unwrap_or_default();
        StatsSnapshot {
            processed: self.processed.load(Relaxed),
            duplicate: self.duplicate.load(Relaxed),
            ignored: self.ignored.load(Relaxed),
            failed: errors.iter().map(|(_, n)| n).sum(),
            errors,
            memory_cache: TierSnapshot::new(
                cache.memory_hits.load(Relaxed),
                cache.memory_misses.load(Relaxed),
            ),
            redis_cache: TierSnapshot::new(
                cache.redis_hits.load(Relaxed),
                cache.redis_misses.load(Relaxed),
            ),
            latency,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_outcomes_and_latency() {
        let stats = Stats::default();
        let cache = CacheCounters::default();
        stats.record(Outcome::Processed, 100);
        stats.record(Outcome::Processed, 300);
        stats.record(Outcome::Failed(ErrorCode::InvalidPayload), 5);
        cache.memory_hit();
        cache.memory_hit();
        cache.memory_hit();
        cache.memory_miss();
        let s = stats.snapshot(&cache);
        assert_eq!(
            (s.processed, s.duplicate, s.ignored, s.failed),
            (2, 0, 0, 1)
        );
        assert_eq!(s.errors, vec![(ErrorCode::InvalidPayload, 1)]);
        assert_eq!(s.memory_cache.hit_rate, 0.75);
        assert_eq!(s.latency.count, 3);
        assert_eq!(s.latency.max, 300);
    }
}
