//! Use: `if let Some(repeated) = limit.hit() { tracing::warn!(repeated, "...") }`.
//!
//! Log discipline: a warning that repeats (a bad frame per frame, a write error per frame, a
//! broker that keeps refusing) is logged the first time (or the first few: a burst), then at
//! most once per interval with the number of occurrences it stands for, so a fault can never
//! flood the log or the disk.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Default interval between two lines of the same repeated warning.
pub const WARN_INTERVAL: Duration = Duration::from_secs(10);

/// Decides when a repeated event is logged. Owned by the code that raises the event; wrap it
/// in [`SharedRateLimit`] when several threads raise it.
#[derive(Debug, Clone)]
pub struct RateLimit {
    interval: Duration,
    /// Occurrences logged at the start of each interval.
    burst: u32,
    /// Start of the current interval and how many were logged in it.
    last: Option<Instant>,
    logged: u32,
    /// Occurrences since the last logged one (not logged themselves).
    suppressed: u64,
    total: u64,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit::new(WARN_INTERVAL)
    }
}

impl RateLimit {
    pub const fn new(interval: Duration) -> Self {
        Self::with_burst(interval, 1)
    }

    /// Logs up to `burst` occurrences per interval (distinct bad files deserve their names).
    pub const fn with_burst(interval: Duration, burst: u32) -> Self {
        RateLimit {
            interval,
            burst: if burst == 0 { 1 } else { burst },
            last: None,
            logged: 0,
            suppressed: 0,
            total: 0,
        }
    }

    /// Records one occurrence at `now`. `Some(n)` means: log it now, mentioning the `n` earlier
    /// occurrences that were not logged (0 the first time); `None`: stay quiet.
    pub fn hit_at(&mut self, now: Instant) -> Option<u64> {
        self.total += 1;
        match self.last {
            Some(last) if now.saturating_duration_since(last) < self.interval => {
                if self.logged < self.burst {
                    self.logged += 1;
                    return Some(0);
                }
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                self.logged = 1;
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }

    /// [`Self::hit_at`] now.
    pub fn hit(&mut self) -> Option<u64> {
        self.hit_at(Instant::now())
    }

    /// Occurrences not logged yet (for a closing summary); resets the count.
    pub fn take_suppressed(&mut self) -> u64 {
        std::mem::take(&mut self.suppressed)
    }

    /// Every occurrence so far, logged or not.
    pub fn total(&self) -> u64 {
        self.total
    }
}

/// A [`RateLimit`] several threads share.
#[derive(Debug, Default)]
pub struct SharedRateLimit(Mutex<RateLimit>);

impl SharedRateLimit {
    pub const fn new(interval: Duration) -> Self {
        SharedRateLimit(Mutex::new(RateLimit::new(interval)))
    }

    /// See [`RateLimit::hit`].
    pub fn hit(&self) -> Option<u64> {
        // A poisoned lock only means a panic elsewhere; the counters stay meaningful.
        self.0.lock().unwrap_or_else(|p| p.into_inner()).hit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_then_one_per_interval_with_the_count() {
        let mut r = RateLimit::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(r.hit_at(t0), Some(0));
        for i in 1..=99 {
            assert_eq!(r.hit_at(t0 + Duration::from_millis(i * 50)), None);
        }
        // 99 quiet ones, then the interval is over: one line standing for them.
        assert_eq!(r.hit_at(t0 + Duration::from_secs(10)), Some(99));
        assert_eq!(r.hit_at(t0 + Duration::from_secs(11)), None);
        assert_eq!(r.take_suppressed(), 1);
        assert_eq!(r.total(), 102);
    }

    #[test]
    fn a_burst_logs_the_first_few() {
        let mut r = RateLimit::with_burst(Duration::from_secs(10), 3);
        let t0 = Instant::now();
        let logged: Vec<Option<u64>> = (0..5).map(|_| r.hit_at(t0)).collect();
        assert_eq!(logged, vec![Some(0), Some(0), Some(0), None, None]);
        assert_eq!(r.hit_at(t0 + Duration::from_secs(10)), Some(2));
    }

    #[test]
    fn shared_limit_counts_across_threads() {
        let r = std::sync::Arc::new(SharedRateLimit::new(Duration::from_secs(3600)));
        let logged: u64 = (0..4)
            .map(|_| {
                let r = std::sync::Arc::clone(&r);
                std::thread::spawn(move || (0..250).filter(|_| r.hit().is_some()).count() as u64)
            })
            .map(|t| t.join().unwrap_or(0))
            .sum();
        assert_eq!(logged, 1, "1000 hits within the interval log once");
    }
}
