//! A small in-process sliding-window rate limiter keyed by string (client address,
//! contact). It uses the application clock, so tests move time instead of sleeping.
//! In-process is enough for one `anju serve`; several instances behind a balancer
//! would each allow the limit (a shared store would be the fix).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

pub struct RateLimiter {
    max: usize,
    window: Duration,
    hits: Mutex<HashMap<String, VecDeque<DateTime<Utc>>>>,
}

impl RateLimiter {
    pub fn new(max: usize, window: Duration) -> Self {
        RateLimiter {
            max,
            window,
            hits: Mutex::new(HashMap::new()),
        }
    }

    /// Records a hit for every key and returns true, unless any key is over its limit
    /// (then nothing is recorded).
    pub fn allow(&self, keys: &[&str], now: DateTime<Utc>) -> bool {
        let mut hits = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        let cutoff = now - self.window;
        for key in keys {
            let q = hits.entry((*key).to_string()).or_default();
            while q.front().is_some_and(|t| *t <= cutoff) {
                q.pop_front();
            }
            if q.len() >= self.max {
                return false;
            }
        }
        for key in keys {
            hits.entry((*key).to_string()).or_default().push_back(now);
        }
        if hits.len() > 10_000 {
            hits.retain(|_, q| q.back().is_some_and(|t| *t > cutoff));
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_window_slides() {
        let l = RateLimiter::new(2, Duration::minutes(60));
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        assert!(l.allow(&["a"], t0));
        assert!(l.allow(&["a"], t0 + Duration::minutes(1)));
        assert!(!l.allow(&["a"], t0 + Duration::minutes(2)));
        assert!(
            l.allow(&["b"], t0 + Duration::minutes(2)),
            "keys are separate"
        );
        assert!(
            !l.allow(&["b", "a"], t0 + Duration::minutes(3)),
            "any key over its limit refuses"
        );
        assert!(l.allow(&["a"], t0 + Duration::minutes(61)));
    }
}
