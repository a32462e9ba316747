//! Sign-in attempts per client IP in a fixed 5-minute window (per node, in memory).

use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use std::sync::Mutex;

/// Counts attempts per IP; `now` is passed in.
#[derive(Default)]
pub struct LoginLimiter {
    windows: Mutex<HashMap<String, (DateTime<Utc>, u32)>>,
}

impl LoginLimiter {
    /// Records an attempt; `Err(retry_at)` when the IP is over `limit`.
    pub fn check(&self, ip: &str, limit: u32, now: DateTime<Utc>) -> Result<(), DateTime<Utc>> {
        let window = Duration::minutes(5);
        let Ok(mut map) = self.windows.lock() else {
            return Ok(());
        };
        if map.len() > 100_000 {
            map.retain(|_, (start, _)| now - *start < window);
        }
        let entry = map.entry(ip.to_string()).or_insert((now, 0));
        if now - entry.0 >= window {
            *entry = (now, 0);
        }
        entry.1 += 1;
        if entry.1 > limit {
            Err(entry.0 + window)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_ip_and_window() {
        let l = LoginLimiter::default();
        let t0 = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert!(l.check("1.1.1.1", 2, t0).is_ok());
        assert!(l.check("1.1.1.1", 2, t0).is_ok());
        assert!(l.check("1.1.1.1", 2, t0).is_err());
        assert!(l.check("2.2.2.2", 2, t0).is_ok());
        assert!(l.check("1.1.1.1", 2, t0 + Duration::minutes(5)).is_ok());
    }
}
