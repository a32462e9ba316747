//! Prometheus counters and histograms, rendered in the text exposition format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// Request metrics; label values are route patterns, never raw paths,
/// so cardinality stays bounded and no ids leak into metrics.
#[derive(Default)]
pub struct Metrics {
    /// The background threads and their failures (`insite_thread_*`, `/readyz`).
    pub threads: std::sync::Arc<crate::supervision::Supervisor>,
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<(String, String), Histogram>>,
    /// Processing jobs by outcome: (count, total seconds).
    jobs: Mutex<BTreeMap<String, (u64, f64)>>,
    /// Seconds spent inside inference engines by processing jobs.
    engine_seconds: Mutex<f64>,
    /// Pipeline stages: (times entered, total seconds).
    stages: Mutex<BTreeMap<String, (u64, f64)>>,
    /// Pipeline stages: (jobs inside now, most admitted at once).
    slots: Mutex<BTreeMap<String, (usize, usize)>>,
    /// Inference workers started by the pipeline, by engine (each holds a model).
    engine_workers: Mutex<BTreeMap<String, u64>>,
    /// Spans redacted from stored conversations, by class (and covered audio stretches).
    redactions: Mutex<BTreeMap<String, u64>>,
}

impl Metrics {
    /// Records one finished request.
    pub fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((method.to_string(), route.to_string(), status))
                .or_default() += 1;
        }
        if let Ok(mut m) = self.latency.lock() {
            let h = m
                .entry((method.to_string(), route.to_string()))
                .or_default();
            let secs = elapsed.as_secs_f64();
            for (i, bound) in BUCKETS.iter().enumerate() {
                if secs <= *bound {
                    h.counts[i] += 1;
                }
            }
            h.sum += secs;
            h.count += 1;
        }
    }

    /// Records one processing attempt: `done`, `failed` or `stopped`, and its duration.
    pub fn record_job(&self, outcome: &str, secs: f64) {
        if let Ok(mut m) = self.jobs.lock() {
            let e = m.entry(outcome.to_string()).or_default();
            e.0 += 1;
            e.1 += secs;
        }
    }

    /// Records how long one job spent in one stage.
    pub fn record_stage(&self, stage: &str, secs: f64) {
        if let Ok(mut m) = self.stages.lock() {
            let e = m.entry(stage.to_string()).or_default();
            e.0 += 1;
            e.1 += secs;
        }
    }

    /// How many jobs a stage holds now, of how many it admits.
    pub fn set_stage_slots(&self, stage: &str, busy: usize, limit: usize) {
        if let Ok(mut m) = self.slots.lock() {
            m.insert(stage.to_string(), (busy, limit));
        }
    }

    /// Counts an inference worker (`whisper` or `llm`) started for the pipeline.
    pub fn add_engine_worker(&self, engine: &str) {
        if let Ok(mut m) = self.engine_workers.lock() {
            *m.entry(engine.to_string()).or_default() += 1;
        }
    }

    /// Adds what redaction replaced in one stored conversation, by class.
    pub fn record_redactions<'a>(&self, counts: impl IntoIterator<Item = (&'a String, &'a usize)>) {
        if let Ok(mut m) = self.redactions.lock() {
            for (class, n) in counts {
                *m.entry(class.clone()).or_default() += *n as u64;
            }
        }
    }

    /// Adds time spent inside an inference engine.
    pub fn record_engine(&self, secs: f64) {
        if let Ok(mut t) = self.engine_seconds.lock() {
            *t += secs;
        }
    }

    /// Queue depth by state (from the database) and job outcomes (this process).
    pub fn render_jobs(&self, depth: &[(String, i64)]) -> String {
        let mut out = String::new();
        family(
            &mut out,
            (
                "insite_jobs",
                "gauge",
                "Processing jobs in the queue by state.",
            ),
            "state",
            depth.iter().map(|(state, n)| (state, n)),
        );
        if let Ok(m) = self.stages.lock() {
            family(
                &mut out,
                (
                    "insite_stage_seconds_total",
                    "counter",
                    "Seconds jobs spent in each pipeline stage.",
                ),
                "stage",
                m.iter().map(|(stage, (_, secs))| (stage, secs)),
            );
            family(
                &mut out,
                (
                    "insite_stage_runs_total",
                    "counter",
                    "Times a job entered each pipeline stage.",
                ),
                "stage",
                m.iter().map(|(stage, (n, _))| (stage, n)),
            );
        }
        if let Ok(m) = self.redactions.lock() {
            family(
                &mut out,
                (
                    "insite_redactions_total",
                    "counter",
                    "Spans redacted from stored conversations by class (audio_spans: stretches covered in recordings).",
                ),
                "class",
                m.iter(),
            );
        }
        if let Ok(m) = self.slots.lock() {
            family(
                &mut out,
                (
                    "insite_stage_busy",
                    "gauge",
                    "Jobs inside each pipeline stage now.",
                ),
                "stage",
                m.iter().map(|(stage, (busy, _))| (stage, busy)),
            );
            family(
                &mut out,
                (
                    "insite_stage_limit",
                    "gauge",
                    "Jobs each pipeline stage admits at once.",
                ),
                "stage",
                m.iter().map(|(stage, (_, limit))| (stage, limit)),
            );
        }
        if let Ok(m) = self.engine_workers.lock() {
            family(
                &mut out,
                (
                    "insite_engine_workers_started_total",
                    "counter",
                    "Inference workers the pipeline has started, by engine.",
                ),
                "engine",
                m.iter(),
            );
        }
        if let Ok(t) = self.engine_seconds.lock() {
            single(
                &mut out,
                (
                    "insite_engine_seconds_total",
                    "counter",
                    "Seconds processing jobs spent inside inference engines.",
                ),
                *t,
            );
        }
        if let Ok(m) = self.jobs.lock() {
            family(
                &mut out,
                (
                    "insite_job_runs_total",
                    "counter",
                    "Processing attempts by outcome, and their seconds.",
                ),
                "outcome",
                m.iter().map(|(outcome, (n, _))| (outcome, n)),
            );
            family(
                &mut out,
                (
                    "insite_job_run_seconds_total",
                    "counter",
                    "Seconds of processing attempts by outcome.",
                ),
                "outcome",
                m.iter().map(|(outcome, (_, secs))| (outcome, secs)),
            );
        }
        out
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        describe(
            &mut out,
            ("insite_build_info", "gauge", "Build information."),
        );
        let _ = writeln!(
            out,
            "insite_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        describe(
            &mut out,
            (
                "insite_http_requests_total",
                "counter",
                "HTTP requests by route and status.",
            ),
        );
        if let Ok(m) = self.requests.lock() {
            for ((method, route, status), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "insite_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                    escape(route)
                );
            }
        }
        describe(
            &mut out,
            (
                "insite_http_request_duration_seconds",
                "histogram",
                "HTTP request latency.",
            ),
        );
        if let Ok(m) = self.latency.lock() {
            for ((method, route), h) in m.iter() {
                let labels = format!("method=\"{method}\",route=\"{}\"", escape(route));
                for (i, bound) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "insite_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {}",
                        h.counts[i]
                    );
                }
                let _ = writeln!(
                    out,
                    "insite_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(
                    out,
                    "insite_http_request_duration_seconds_sum{{{labels}}} {}",
                    h.sum
                );
                let _ = writeln!(
                    out,
                    "insite_http_request_duration_seconds_count{{{labels}}} {}",
                    h.count
                );
            }
        }
        out
    }
}

/// A metric's name, type and help text.
type Family<'a> = (&'a str, &'a str, &'a str);

fn describe(out: &mut String, (name, kind, help): Family) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A metric with one label: its HELP and TYPE lines, then one line per label value.
fn family<'v, V: std::fmt::Display + 'v>(
    out: &mut String,
    f: Family,
    label: &str,
    rows: impl Iterator<Item = (&'v String, V)>,
) {
    describe(out, f);
    for (value, v) in rows {
        let _ = writeln!(out, "{}{{{label}=\"{}\"}} {v}", f.0, escape(value));
    }
}

/// A metric without labels.
fn single(out: &mut String, f: Family, v: impl std::fmt::Display) {
    describe(out, f);
    let _ = writeln!(out, "{} {v}", f.0);
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.observe("GET", "/healthz", 200, Duration::from_millis(3));
        m.observe("GET", "/healthz", 200, Duration::from_millis(300));
        let text = m.render();
        assert!(text.contains(
            "insite_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 2"
        ));
        assert!(text.contains("route=\"/healthz\",le=\"0.005\"} 1"));
        assert!(text.contains("route=\"/healthz\",le=\"0.5\"} 2"));
        assert!(text.contains("route=\"/healthz\",le=\"+Inf\"} 2"));
    }
}
