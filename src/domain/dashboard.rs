//! The dashboard's figures from plain facts: conversations per day, average scores
//! per group, a daily mean (sentiment). Days are `YYYY-MM-DD` in UTC; time passed in.

use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;

/// The last `days` days up to and including today, oldest first.
pub fn window(now: DateTime<Utc>, days: i64) -> Vec<String> {
    (0..days)
        .rev()
        .map(|back| (now - Duration::days(back)).format("%Y-%m-%d").to_string())
        .collect()
}

/// The day of a stored timestamp.
pub fn day_of(stamp: &str) -> &str {
    stamp.get(..10).unwrap_or(stamp)
}

/// How many stamps fall on each day of the window (days without any count 0).
pub fn per_day<'a>(
    window: &[String],
    stamps: impl IntoIterator<Item = &'a str>,
) -> Vec<(String, f64)> {
    let mut counts: BTreeMap<&str, f64> = window.iter().map(|d| (d.as_str(), 0.0)).collect();
    for s in stamps {
        if let Some(n) = counts.get_mut(day_of(s)) {
            *n += 1.0;
        }
    }
    counts
        .into_iter()
        .map(|(d, n)| (d.to_string(), n))
        .collect()
}

/// The mean of the values on each day of the window that has any, in day order.
pub fn daily_mean<'a>(
    window: &[String],
    values: impl IntoIterator<Item = (&'a str, f64)>,
) -> Vec<(String, f64)> {
    let mut sums: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for (stamp, v) in values {
        let d = day_of(stamp);
        if window.iter().any(|w| w == d) {
            let e = sums.entry(d.to_string()).or_default();
            e.0 += v;
            e.1 += 1.0;
        }
    }
    sums.into_iter().map(|(d, (s, n))| (d, s / n)).collect()
}

/// The average per group and how many values it has, best first.
pub fn averages(values: impl IntoIterator<Item = (String, f64)>) -> Vec<(String, f64, usize)> {
    let mut groups: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    for (g, v) in values {
        let e = groups.entry(g).or_default();
        e.0 += v;
        e.1 += 1;
    }
    let mut out: Vec<(String, f64, usize)> = groups
        .into_iter()
        .map(|(g, (s, n))| (g, s / n as f64, n))
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn days_count_and_means() {
        let w = window(at("2026-11-23T10:00:00Z"), 3);
        assert_eq!(w, ["2026-11-21", "2026-11-22", "2026-11-23"]);
        let v = per_day(
            &w,
            [
                "2026-11-23T01:00:00Z",
                "2026-11-23T09:00:00Z",
                "2026-11-21T00:00:00Z",
                "2026-10-01T00:00:00Z",
            ],
        );
        assert_eq!(
            v,
            vec![
                ("2026-11-21".into(), 1.0),
                ("2026-11-22".into(), 0.0),
                ("2026-11-23".into(), 2.0)
            ]
        );
        let m = daily_mean(
            &w,
            [
                ("2026-11-22T01:00:00Z", 1.0),
                ("2026-11-22T02:00:00Z", -0.5),
                ("2026-01-01T00:00:00Z", 9.0),
            ],
        );
        assert_eq!(m, vec![("2026-11-22".into(), 0.25)]);
    }

    #[test]
    fn averages_rank_groups() {
        let a = averages([
            ("ann".into(), 80.0),
            ("bob".into(), 50.0),
            ("ann".into(), 100.0),
        ]);
        assert_eq!(a, vec![("ann".into(), 90.0, 2), ("bob".into(), 50.0, 1)]);
    }
}
