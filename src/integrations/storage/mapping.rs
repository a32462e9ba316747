//! Metadata of a stored recording: a `NAME.json` sidecar beside it (the same fields as
//! an upload's metadata) and, for what the sidecar leaves unset, named groups of
//! `settings.filename_pattern` matched against the file name.

use crate::pipeline::ingest::{CallMeta, Participant};
use chrono::{NaiveDate, NaiveDateTime, TimeZone, Utc};
use regex::Regex;

/// The named groups a filename pattern may use.
pub const GROUPS: &[&str] = &[
    "agent_email",
    "agent_name",
    "customer_name",
    "customer_email",
    "customer_phone",
    "direction",
    "started_at",
    "language",
    "team",
    "tag",
];

/// A checked filename pattern.
#[derive(Debug)]
pub struct Pattern(Regex);

impl Pattern {
    /// Compiles `settings.filename_pattern`, refusing groups insite does not know.
    pub fn parse(text: &str) -> Result<Pattern, String> {
        if text.is_empty() || text.len() > 500 {
            return Err("settings.filename_pattern must be 1..=500 characters".into());
        }
        let re = Regex::new(text)
            .map_err(|e| format!("settings.filename_pattern is not a regular expression: {e}"))?;
        let names: Vec<&str> = re.capture_names().flatten().collect();
        if names.is_empty() {
            return Err(format!(
                "settings.filename_pattern names no group: use (?P<name>…) with name one of {}",
                GROUPS.join(", ")
            ));
        }
        if let Some(bad) = names.iter().find(|n| !GROUPS.contains(n)) {
            return Err(format!(
                "settings.filename_pattern: group '{bad}' is unknown (one of: {})",
                GROUPS.join(", ")
            ));
        }
        Ok(Pattern(re))
    }

    /// The fields the file name gives (empty when it does not match).
    pub fn fields(&self, file_name: &str) -> Vec<(&'static str, String)> {
        let Some(caps) = self.0.captures(file_name) else {
            return Vec::new();
        };
        GROUPS
            .iter()
            .filter_map(|g| {
                let v = caps.name(g)?.as_str().trim();
                (!v.is_empty()).then(|| (*g, v.to_string()))
            })
            .collect()
    }
}

/// A time in a file name: RFC 3339, or 14 digits (`20261130-141500`, any separators)
/// read as UTC, or 8 digits (a date).
pub fn parse_time(text: &str) -> Option<String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc).to_rfc3339());
    }
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let naive = match digits.len() {
        14 => NaiveDateTime::parse_from_str(&digits, "%Y%m%d%H%M%S").ok()?,
        8 => NaiveDate::parse_from_str(&digits, "%Y%m%d")
            .ok()?
            .and_hms_opt(0, 0, 0)?,
        _ => return None,
    };
    Some(Utc.from_utc_datetime(&naive).to_rfc3339())
}

fn person<'a>(meta: &'a mut CallMeta, role: &str) -> &'a mut Participant {
    let at = match meta
        .participants
        .iter()
        .position(|p| p.role.as_deref() == Some(role))
    {
        Some(i) => i,
        None => {
            meta.participants.push(Participant {
                role: Some(role.into()),
                ..Participant::default()
            });
            meta.participants.len() - 1
        }
    };
    &mut meta.participants[at]
}

/// Fills what the sidecar left unset from the file name's fields; the reason when a
/// field's value cannot be used.
pub fn apply(meta: &mut CallMeta, fields: &[(&str, String)]) -> Result<(), String> {
    fn fill(slot: &mut Option<String>, v: &str) {
        if slot.is_none() {
            *slot = Some(v.to_string());
        }
    }
    for (name, value) in fields {
        match *name {
            "agent_email" => fill(&mut person(meta, "agent").email, value),
            "agent_name" => fill(&mut person(meta, "agent").name, value),
            "customer_email" => fill(&mut person(meta, "customer").email, value),
            "customer_name" => fill(&mut person(meta, "customer").name, value),
            "customer_phone" => fill(&mut person(meta, "customer").phone, value),
            "direction" => {
                let d = value.to_ascii_lowercase();
                let d = match d.as_str() {
                    "in" | "inbound" => "inbound",
                    "out" | "outbound" => "outbound",
                    "internal" => "internal",
                    _ => {
                        return Err(format!(
                        "the file name's direction '{value}' is not in, out, inbound, outbound or internal"
                    ))
                    }
                };
                fill(&mut meta.direction, d);
            }
            "started_at" => {
                let t = parse_time(value).ok_or_else(|| {
                    format!("the file name's started_at '{value}' is not a time (RFC 3339 or YYYYMMDD-HHMMSS)")
                })?;
                fill(&mut meta.started_at, &t);
            }
            "language" => fill(&mut meta.language, &value.to_ascii_lowercase()),
            "team" => fill(&mut meta.team, value),
            "tag" if !meta.tags.contains(value) => meta.tags.push(value.clone()),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_maps_the_file_name_and_the_sidecar_wins() {
        let p = Pattern::parse(
            r"^(?P<started_at>\d{8}-\d{6})_(?P<direction>in|out)_(?P<agent_email>[^_]+)_(?P<customer_phone>\+?\d+)\.wav$",
        )
        .unwrap();
        let fields = p.fields("20261130-141500_in_sam@acme.test_+15551234567.wav");
        let mut meta = CallMeta {
            direction: Some("outbound".into()),
            ..CallMeta::default()
        };
        apply(&mut meta, &fields).unwrap();
        assert_eq!(meta.direction.as_deref(), Some("outbound"));
        assert_eq!(
            meta.started_at.as_deref(),
            Some("2026-11-30T14:15:00+00:00")
        );
        let agent = meta
            .participants
            .iter()
            .find(|p| p.role.as_deref() == Some("agent"));
        assert_eq!(agent.unwrap().email.as_deref(), Some("sam@acme.test"));
        let customer = meta
            .participants
            .iter()
            .find(|p| p.role.as_deref() == Some("customer"));
        assert_eq!(customer.unwrap().phone.as_deref(), Some("+15551234567"));
        assert!(p.fields("other.wav").is_empty());
    }

    #[test]
    fn bad_patterns_and_values_are_named() {
        assert!(Pattern::parse("(?P<colour>x)")
            .unwrap_err()
            .contains("colour"));
        assert!(Pattern::parse("(")
            .unwrap_err()
            .contains("not a regular expression"));
        assert!(Pattern::parse("x.wav")
            .unwrap_err()
            .contains("names no group"));
        let mut meta = CallMeta::default();
        let err = apply(&mut meta, &[("started_at", "yesterday".into())]).unwrap_err();
        assert!(err.contains("yesterday"), "{err}");
        assert!(CallMeta::from_sidecar(br#"{"colour": 1}"#)
            .unwrap_err()
            .contains("colour"));
    }
}
