//! Background threads that cannot die silently: each runs its loop under a
//! supervisor that catches a panic, records it, and starts the loop again after a
//! growing pause. `/readyz` and `/metrics` show every thread's state, so an operator
//! sees a thread that keeps failing instead of a server that quietly stopped a duty.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Failures within [`FLAPPING_WINDOW`] from which a thread counts as failing.
pub const FLAPPING_FAILURES: usize = 3;
/// The window in which failures are counted.
pub const FLAPPING_WINDOW: Duration = Duration::from_secs(300);

/// What is known of one supervised thread.
#[derive(Debug, Clone, Default)]
struct Record {
    running: bool,
    /// The loop returned: it saw the stop flag.
    stopped: bool,
    restarts: u64,
    last_failure: Option<String>,
    recent: Vec<Instant>,
}

/// One thread as `/readyz` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ThreadState {
    pub name: String,
    /// `running`, `restarting`, `failing` (restarted too often lately) or `stopped`.
    pub state: &'static str,
    pub restarts: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<String>,
}

/// The registry of supervised threads; shared by the threads and the probes.
#[derive(Debug, Default)]
pub struct Supervisor {
    threads: Mutex<BTreeMap<String, Record>>,
}

impl Supervisor {
    fn update(&self, name: &str, f: impl FnOnce(&mut Record)) {
        if let Ok(mut map) = self.threads.lock() {
            f(map.entry(name.to_string()).or_default());
        }
    }

    /// Every thread's state, by name.
    pub fn states(&self) -> Vec<ThreadState> {
        let Ok(map) = self.threads.lock() else {
            return Vec::new();
        };
        map.iter()
            .map(|(name, r)| {
                let recent = r
                    .recent
                    .iter()
                    .filter(|t| t.elapsed() < FLAPPING_WINDOW)
                    .count();
                let state = if r.stopped {
                    "stopped"
                } else if recent >= FLAPPING_FAILURES {
                    "failing"
                } else if r.running {
                    "running"
                } else {
                    "restarting"
                };
                ThreadState {
                    name: name.clone(),
                    state,
                    restarts: r.restarts,
                    last_failure: r.last_failure.clone(),
                }
            })
            .collect()
    }

    /// Prometheus lines: `insite_thread_up` and `insite_thread_restarts_total`.
    pub fn render(&self) -> String {
        let states = self.states();
        let mut out = String::from(
            "# HELP insite_thread_up 1 while a background thread runs its loop normally.\n\
             # TYPE insite_thread_up gauge\n",
        );
        for s in &states {
            let up = u8::from(s.state == "running");
            out.push_str(&format!("insite_thread_up{{thread=\"{}\"}} {up}\n", s.name));
        }
        out.push_str(
            "# HELP insite_thread_restarts_total Times a background thread failed and was started again.\n\
             # TYPE insite_thread_restarts_total counter\n",
        );
        for s in &states {
            out.push_str(&format!(
                "insite_thread_restarts_total{{thread=\"{}\"}} {}\n",
                s.name, s.restarts
            ));
        }
        out
    }

    /// Starts `body` on a named thread and keeps it running until `stop`: a panic is
    /// logged and recorded, and the body starts again after 1 s, doubling to 60 s.
    /// `body` returning normally means it saw `stop`.
    pub fn spawn(
        self: &Arc<Self>,
        name: &str,
        stop: Arc<AtomicBool>,
        mut body: impl FnMut() + Send + 'static,
    ) {
        let sup = self.clone();
        let label = name.to_string();
        sup.update(&label, |r| r.running = true);
        let spawned = std::thread::Builder::new()
            .name(label.clone())
            .spawn(move || {
                let mut pause = Duration::from_secs(1);
                loop {
                    sup.update(&label, |r| r.running = true);
                    let outcome = catch_unwind(AssertUnwindSafe(&mut body));
                    sup.update(&label, |r| r.running = false);
                    let Err(panic) = outcome else {
                        sup.update(&label, |r| r.stopped = true);
                        return;
                    };
                    let why = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "panic".into());
                    tracing::error!(thread = %label, error = %why, "background thread failed; starting it again");
                    sup.update(&label, |r| {
                        r.restarts += 1;
                        r.last_failure = Some(why);
                        r.recent.retain(|t| t.elapsed() < FLAPPING_WINDOW);
                        r.recent.push(Instant::now());
                    });
                    let until = Instant::now() + pause;
                    while Instant::now() < until {
                        if stop.load(Ordering::SeqCst) {
                            sup.update(&label, |r| r.stopped = true);
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    pause = (pause * 2).min(Duration::from_secs(60));
                }
            });
        if let Err(e) = spawned {
            tracing::error!(thread = %name, error = %e, "cannot start a background thread");
            self.update(name, |r| {
                r.running = false;
                r.last_failure = Some(format!("cannot start: {e}"));
            });
        }
    }

    /// Names of threads failing now (restarted too often lately), for `/readyz`.
    pub fn failing(&self) -> Vec<String> {
        self.states()
            .into_iter()
            .filter(|s| s.state == "failing")
            .map(|s| s.name)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn wait_for(what: impl Fn() -> bool) {
        let until = Instant::now() + Duration::from_secs(20);
        while !what() {
            assert!(Instant::now() < until, "timed out");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn a_panicking_thread_is_started_again_and_its_failure_is_visible() {
        let sup = Arc::new(Supervisor::default());
        let stop = Arc::new(AtomicBool::new(false));
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let stopping = stop.clone();
        sup.spawn("flaky", stop.clone(), move || {
            if counted.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("first run fails");
            }
            while !stopping.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        wait_for(|| runs.load(Ordering::SeqCst) >= 2);
        wait_for(|| sup.states()[0].state == "running");
        let s = &sup.states()[0];
        assert_eq!((s.name.as_str(), s.restarts), ("flaky", 1));
        assert_eq!(s.last_failure.as_deref(), Some("first run fails"));
        let metrics = sup.render();
        assert!(
            metrics.contains("insite_thread_up{thread=\"flaky\"} 1"),
            "{metrics}"
        );
        assert!(metrics.contains("insite_thread_restarts_total{thread=\"flaky\"} 1"));
        stop.store(true, Ordering::SeqCst);
        wait_for(|| sup.states()[0].state == "stopped");
    }

    #[test]
    fn a_thread_that_keeps_failing_is_reported_failing() {
        let sup = Arc::new(Supervisor::default());
        let stop = Arc::new(AtomicBool::new(false));
        sup.spawn("broken", stop.clone(), || panic!("always"));
        // Pauses of 1 s and 2 s between the three failures.
        wait_for(|| sup.failing() == vec!["broken".to_string()]);
        assert!(sup
            .render()
            .contains("insite_thread_up{thread=\"broken\"} 0"));
        stop.store(true, Ordering::SeqCst);
    }
}
