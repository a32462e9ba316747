//! Retention per data class: how long each class of an org's data is kept, the
//! defaults, the validation, and when a piece of data expires. Time is passed in.
//!
//! Classes:
//! - `raw`: call recordings as received (and raw integration data);
//! - `transcripts`: transcripts, ticket bodies and the personal metadata of a
//!   conversation (participants, subject);
//! - `processed`: analyses, scorecard answers, reviews, tracker hits, metrics;
//! - `audit`: the audit log.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize, Serializer};

/// The longest period any class may be given (100 years): more is a typo.
pub const MAX_DAYS: u32 = 36_500;

/// Days an access or export archive stays downloadable after it was built.
pub const ARCHIVE_DAYS: i64 = 30;

/// An org's retention policy. `None` means "kept while the org is active".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Delete a call's recording as soon as it has been processed.
    pub delete_raw_after_processing: bool,
    /// Days a recording is kept when not deleted after processing.
    pub raw_days: Option<u32>,
    pub transcripts_days: Option<u32>,
    pub processed_days: Option<u32>,
    pub audit_days: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            delete_raw_after_processing: false,
            raw_days: Some(30),
            transcripts_days: Some(30),
            processed_days: None,
            audit_days: 90,
        }
    }
}

/// A data class, as named in the API, counts and audit entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    Raw,
    Transcripts,
    Processed,
    Audit,
}

impl Class {
    pub const ALL: [Class; 4] = [
        Class::Raw,
        Class::Transcripts,
        Class::Processed,
        Class::Audit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Class::Raw => "raw",
            Class::Transcripts => "transcripts",
            Class::Processed => "processed",
            Class::Audit => "audit",
        }
    }
}

impl Policy {
    /// The stored JSON; an empty object is the defaults.
    pub fn from_stored(json: &str) -> Self {
        serde_json::from_str(json).unwrap_or_default()
    }

    /// Applies the fields present in `patch`, then validates the result against the
    /// installation's audit floor.
    pub fn patched(&self, patch: &serde_json::Value, audit_floor: u32) -> Result<Self, String> {
        let mut v = serde_json::to_value(self).map_err(|e| e.to_string())?;
        let (Some(obj), Some(p)) = (v.as_object_mut(), patch.as_object()) else {
            return Err("retention must be a JSON object".into());
        };
        for (k, val) in p {
            if !obj.contains_key(k) {
                return Err(format!(
                    "{k} is not a retention setting; known: delete_raw_after_processing, raw_days, transcripts_days, processed_days, audit_days"
                ));
            }
            obj.insert(k.clone(), val.clone());
        }
        let policy: Policy = serde_json::from_value(v).map_err(|e| {
            format!("{e} (periods are whole days, or null for \"while the org is active\")")
        })?;
        policy.validate(audit_floor)?;
        Ok(policy)
    }

    /// No period below a day or above `MAX_DAYS`; the audit log at least `audit_floor`
    /// days (the installation's floor, e.g. for regulators).
    pub fn validate(&self, audit_floor: u32) -> Result<(), String> {
        for (name, days) in [
            ("raw_days", self.raw_days),
            ("transcripts_days", self.transcripts_days),
            ("processed_days", self.processed_days),
            ("audit_days", Some(self.audit_days)),
        ] {
            if let Some(d) = days {
                if !(1..=MAX_DAYS).contains(&d) {
                    return Err(format!(
                        "{name} must be 1..={MAX_DAYS} days (or null to keep)"
                    ));
                }
            }
        }
        if self.audit_days < audit_floor {
            return Err(format!(
                "audit_days must be at least {audit_floor} (the installation's floor, retention.audit_floor_days)"
            ));
        }
        Ok(())
    }

    /// The period of a class, `None` when kept while the org is active.
    pub fn days(&self, class: Class) -> Option<u32> {
        match class {
            Class::Raw => self.raw_days,
            Class::Transcripts => self.transcripts_days,
            Class::Processed => self.processed_days,
            Class::Audit => Some(self.audit_days),
        }
    }

    /// Data of `class` created before this instant has expired at `now`.
    pub fn cutoff(&self, class: Class, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.days(class).map(|d| now - Duration::days(i64::from(d)))
    }
}

/// Writes the stored policy string as the policy object.
pub fn serialize_stored<S: Serializer>(stored: &str, s: S) -> Result<S::Ok, S::Error> {
    Policy::from_stored(stored).serialize(s)
}

/// One month from receipt: the legal deadline of a data-subject request (GDPR Art.
/// 12(3)), the same day of the next month or its last day when shorter.
pub fn request_deadline(received: DateTime<Utc>) -> DateTime<Utc> {
    received
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(received + Duration::days(31))
}

/// How a request stands against its deadline: `overdue`, `due_soon` (within 7
/// days) or `on_time`; a finished request is `done`.
pub fn deadline_state(due: DateTime<Utc>, now: DateTime<Utc>, finished: bool) -> &'static str {
    if finished {
        "done"
    } else if now > due {
        "overdue"
    } else if due - now <= Duration::days(7) {
        "due_soon"
    } else {
        "on_time"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: &str) -> DateTime<Utc> {
        crate::domain::time::parse(s).unwrap()
    }

    #[test]
    fn defaults_are_the_promises() {
        let p = Policy::from_stored("{}");
        assert!(!p.delete_raw_after_processing);
        assert_eq!(p.transcripts_days, Some(30));
        assert_eq!(p.processed_days, None);
        assert_eq!(p.audit_days, 90);
        assert!(p.validate(90).is_ok());
    }

    #[test]
    fn bad_periods_are_refused_with_the_reason() {
        let p = Policy::default();
        let e = p.patched(&json!({"transcripts_days": -1}), 90).unwrap_err();
        assert!(e.contains("whole days"), "{e}");
        let e = p.patched(&json!({"raw_days": 0}), 90).unwrap_err();
        assert!(e.contains("raw_days must be 1..=36500"), "{e}");
        let e = p
            .patched(&json!({"processed_days": 100_000}), 90)
            .unwrap_err();
        assert!(e.contains("processed_days"), "{e}");
        let e = p.patched(&json!({"audit_days": 30}), 90).unwrap_err();
        assert!(e.contains("at least 90"), "{e}");
        let e = p.patched(&json!({"keep": 1}), 90).unwrap_err();
        assert!(e.contains("not a retention setting"), "{e}");
        let ok = p
            .patched(
                &json!({"audit_days": 3650, "processed_days": 365, "raw_days": null}),
                90,
            )
            .unwrap();
        assert_eq!(
            (ok.audit_days, ok.processed_days, ok.raw_days),
            (3650, Some(365), None)
        );
    }

    #[test]
    fn cutoffs_follow_the_clock() {
        let p = Policy::default();
        let now = at("2026-06-30T12:00:00Z");
        assert_eq!(
            p.cutoff(Class::Transcripts, now),
            Some(at("2026-05-31T12:00:00Z"))
        );
        assert_eq!(p.cutoff(Class::Processed, now), None);
        assert_eq!(
            p.cutoff(Class::Audit, now),
            Some(at("2026-04-01T12:00:00Z"))
        );
    }

    #[test]
    fn deadlines_are_one_month_and_warned_about() {
        assert_eq!(
            request_deadline(at("2026-01-31T10:00:00Z")),
            at("2026-02-28T10:00:00Z")
        );
        let due = at("2026-03-15T00:00:00Z");
        assert_eq!(
            deadline_state(due, at("2026-03-01T00:00:00Z"), false),
            "on_time"
        );
        assert_eq!(
            deadline_state(due, at("2026-03-10T00:00:00Z"), false),
            "due_soon"
        );
        assert_eq!(
            deadline_state(due, at("2026-03-16T00:00:00Z"), false),
            "overdue"
        );
        assert_eq!(
            deadline_state(due, at("2026-03-16T00:00:00Z"), true),
            "done"
        );
    }
}
