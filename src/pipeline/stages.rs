//! Concurrency per stage. The processing threads (`pipeline.workers`) run jobs side by
//! side, and each stage admits at most its configured number of jobs at once
//! (`pipeline.stages.*`): decoding and redaction are light, while transcription holds a
//! Whisper worker with its model in memory, taken from a pool no larger than the
//! stage's limit. A job waiting for room keeps its lease and can be cancelled.

use super::process::{Failure, Progress};
use crate::config::Config;
use crate::engines::manifest;
use crate::engines::worker::{EngineWorker, WorkerSpec};
use crate::server::metrics::Metrics;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// How often a waiting job reports that it is still there (its lease heartbeat).
const WAIT_STEP: Duration = Duration::from_secs(2);

/// A stage's admission: at most `limit` jobs inside at once.
pub struct Gate {
    name: &'static str,
    limit: usize,
    busy: Mutex<usize>,
    freed: Condvar,
    metrics: Arc<Metrics>,
}

/// A job's place in a stage; leaving the stage gives it to the next job.
pub struct Permit<'a> {
    gate: &'a Gate,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut busy = self.gate.busy.lock().unwrap_or_else(|p| p.into_inner());
        *busy = busy.saturating_sub(1);
        self.gate.show(*busy);
        drop(busy);
        self.gate.freed.notify_one();
    }
}

impl Gate {
    pub fn new(name: &'static str, limit: usize, metrics: Arc<Metrics>) -> Self {
        let gate = Self {
            name,
            limit: limit.max(1),
            busy: Mutex::new(0),
            freed: Condvar::new(),
            metrics,
        };
        gate.show(0);
        gate
    }

    fn show(&self, busy: usize) {
        self.metrics.set_stage_slots(self.name, busy, self.limit);
    }

    /// Enters the stage, waiting for room while reporting stage `waiting` at
    /// `percent`; `None` when the job is to stop (cancelled, lease lost, shutdown).
    pub fn enter(&self, progress: &mut dyn Progress, percent: i32) -> Option<Permit<'_>> {
        let mut busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if *busy < self.limit {
                *busy += 1;
                self.show(*busy);
                return Some(Permit { gate: self });
            }
            drop(busy);
            if !progress.report("waiting", percent) {
                return None;
            }
            busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
            if *busy >= self.limit {
                busy = self
                    .freed
                    .wait_timeout(busy, WAIT_STEP)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
        }
    }
}

/// Which engine a pool's workers run.
#[derive(Clone, Copy, PartialEq)]
pub enum EngineKind {
    Whisper,
    Llm,
}

/// Inference workers for a stage (Whisper for transcription, the LLM for analysis):
/// started on first need, kept warm, at most one per job the stage admits.
pub struct Engines {
    kind: EngineKind,
    gate: Gate,
    idle: Mutex<Vec<EngineWorker>>,
    config: Arc<Config>,
    metrics: Arc<Metrics>,
}

/// A worker lent to one job for its stage.
pub struct Engine<'a> {
    worker: Option<EngineWorker>,
    pool: &'a Engines,
    _permit: Permit<'a>,
}

impl std::ops::Deref for Engine<'_> {
    type Target = EngineWorker;
    fn deref(&self) -> &EngineWorker {
        match &self.worker {
            Some(w) => w,
            None => unreachable!("a lent engine holds its worker until dropped"),
        }
    }
}

impl Drop for Engine<'_> {
    fn drop(&mut self) {
        // Back to the pool before the permit goes, so the next job finds it warm.
        if let Some(w) = self.worker.take() {
            self.pool
                .idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(w);
        }
    }
}

impl Engines {
    /// Waits for a worker (see `Gate::enter`); starts one if none is idle.
    pub fn take(
        &self,
        progress: &mut dyn Progress,
        percent: i32,
    ) -> Result<Option<Engine<'_>>, Failure> {
        let Some(permit) = self.gate.enter(progress, percent) else {
            return Ok(None);
        };
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let worker = match idle {
            Some(w) => w,
            None => {
                let w = self.start()?;
                self.metrics.add_engine_worker(match self.kind {
                    EngineKind::Whisper => "whisper",
                    EngineKind::Llm => "llm",
                });
                w
            }
        };
        Ok(Some(Engine {
            worker: Some(worker),
            pool: self,
            _permit: permit,
        }))
    }

    fn start(&self) -> Result<EngineWorker, Failure> {
        let engines = &self.config.engines;
        let name = match self.kind {
            EngineKind::Whisper => &engines.whisper_model,
            EngineKind::Llm => &engines.llm_model,
        };
        let model = manifest::verify_named(&engines.models_dir, name).map_err(|e| Failure {
            code: "MODEL_REFUSED",
            message: format!("model {name}: {e}"),
            retry: true,
        })?;
        let (whisper, llm) = match self.kind {
            EngineKind::Whisper => (Some(model.path), None),
            EngineKind::Llm => (None, Some(model.path)),
        };
        let spec = WorkerSpec::from_config(engines, whisper, llm).map_err(|e| Failure {
            code: "WORKER_START",
            message: e.to_string(),
            retry: true,
        })?;
        Ok(EngineWorker::new(spec))
    }
}

/// The stages' admissions, shared by all processing threads.
pub struct Stages {
    pub decode: Gate,
    pub transcribe: Engines,
    pub redact: Gate,
    pub analyze: Engines,
}

impl Stages {
    pub fn new(config: Arc<Config>, metrics: Arc<Metrics>) -> Self {
        let limits = &config.pipeline.stages;
        Self {
            decode: Gate::new("decode", limits.decode(), metrics.clone()),
            redact: Gate::new("redact", limits.redact(), metrics.clone()),
            transcribe: Engines {
                kind: EngineKind::Whisper,
                gate: Gate::new("transcribe", limits.transcribe(), metrics.clone()),
                idle: Mutex::new(Vec::new()),
                config: config.clone(),
                metrics: metrics.clone(),
            },
            analyze: Engines {
                kind: EngineKind::Llm,
                gate: Gate::new("analyze", limits.analyze(), metrics.clone()),
                idle: Mutex::new(Vec::new()),
                config: config.clone(),
                metrics,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    /// Counts reports; says stop once `stop` is set.
    struct Probe<'a> {
        reports: &'a AtomicUsize,
        stop: &'a AtomicBool,
    }

    impl Progress for Probe<'_> {
        fn report(&mut self, stage: &str, _percent: i32) -> bool {
            assert_eq!(stage, "waiting");
            self.reports.fetch_add(1, Ordering::SeqCst);
            !self.stop.load(Ordering::SeqCst)
        }
    }

    #[test]
    fn a_full_stage_holds_jobs_back_keeps_their_leases_and_lets_them_go() {
        let metrics = Arc::new(Metrics::default());
        let gate = Gate::new("decode", 1, metrics.clone());
        let (reports, stop) = (AtomicUsize::new(0), AtomicBool::new(false));
        let inside = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    let mut probe = Probe {
                        reports: &reports,
                        stop: &stop,
                    };
                    let permit = gate.enter(&mut probe, 10).expect("admitted");
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(300));
                    inside.fetch_sub(1, Ordering::SeqCst);
                    drop(permit);
                });
            }
        });
        assert_eq!(most.load(Ordering::SeqCst), 1, "one job at a time");
        // The two that waited said so (that report is their heartbeat).
        assert!(reports.load(Ordering::SeqCst) >= 2);
        assert!(metrics
            .render_jobs(&[])
            .contains("insite_stage_busy{stage=\"decode\"} 0"));

        // A waiting job that is cancelled stops waiting.
        let held = gate.enter(
            &mut Probe {
                reports: &reports,
                stop: &stop,
            },
            0,
        );
        assert!(held.is_some());
        stop.store(true, Ordering::SeqCst);
        let refused = gate.enter(
            &mut Probe {
                reports: &reports,
                stop: &stop,
            },
            0,
        );
        assert!(refused.is_none());
        assert!(metrics
            .render_jobs(&[])
            .contains("insite_stage_busy{stage=\"decode\"} 1"));
    }
}
