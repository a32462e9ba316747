//! Timestamps as stored: fixed-width RFC 3339 in UTC, so text order is time order
//! on every backend.

use chrono::{DateTime, SecondsFormat, Utc};

/// `2026-11-22T10:56:00.000000Z`.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parses a stored or client-supplied RFC 3339 time.
pub fn parse(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("'{s}' is not an RFC 3339 time: {e}"))
}
