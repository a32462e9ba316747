//! Processing threads: each claims a job from the durable queue, runs it with a lease
//! kept alive by progress reports, and records the outcome. A job whose process died
//! is claimed again when its lease runs out; attempts are bounded.

use super::analysis;
use super::keeper::{Keeper, LeaseOf};
use super::process::{self, stopped, Failure, Outcome, Progress};
use super::recording;
use super::redact_audio::Cover;
use super::stages::Stages;
use crate::blob::BlobStore;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::domain::time::stamp;
use crate::engines::manifest;
use crate::keys::Keyring;
use crate::server::metrics::Metrics;
use crate::store::{analyses, conversations, jobs, Pool};
use chrono::Duration;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Stops the processing threads when dropped (they finish the step they are in).
pub struct RunnerHandle {
    stop: Arc<AtomicBool>,
}

impl Drop for RunnerHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

struct Runner {
    owner: String,
    pool: Pool,
    config: Arc<Config>,
    clock: SharedClock,
    blobs: BlobStore,
    keyring: Arc<Keyring>,
    metrics: Arc<Metrics>,
    stop: Arc<AtomicBool>,
    /// Each stage's admission and the Whisper workers, shared by all threads.
    stages: Arc<Stages>,
    /// Starts the process each recording is decoded in.
    decoder: super::decoder::Decoder,
    /// Set by the lease keeper when the job in hand is no longer ours.
    lease_lost: Arc<AtomicBool>,
}

/// Starts `pipeline.workers` processing threads.
pub fn start(
    pool: Pool,
    config: Arc<Config>,
    clock: SharedClock,
    metrics: Arc<Metrics>,
    keyring: Arc<Keyring>,
    gate: Arc<crate::integrations::egress::Gate>,
) -> RunnerHandle {
    let stop = Arc::new(AtomicBool::new(false));
    crate::pipeline::track::clear_stale(&scratch_dir(&config.data_dir));
    let stages = Arc::new(Stages::new(config.clone(), metrics.clone()));
    let threads = metrics.threads.clone();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    for n in 0..config.pipeline.effective_workers() {
        let mut runner = Runner {
            owner: format!(
                "{}:{}:{n}:{}",
                host.trim(),
                std::process::id(),
                crate::store::identity::new_id()
            ),
            pool: pool.clone(),
            blobs: BlobStore::new(&config.data_dir),
            keyring: keyring.clone(),
            config: config.clone(),
            clock: clock.clone(),
            metrics: metrics.clone(),
            stop: stop.clone(),
            stages: stages.clone(),
            decoder: super::decoder::Decoder::from_config(&config),
            lease_lost: Arc::new(AtomicBool::new(false)),
        };
        threads.spawn(&format!("pipeline-{n}"), stop.clone(), move || runner.run());
    }
    super::watch::start(
        pool.clone(),
        config.clone(),
        clock.clone(),
        keyring.clone(),
        (&threads, stop.clone()),
    );
    super::sweeper::start(
        pool.clone(),
        config.clone(),
        clock.clone(),
        keyring.clone(),
        (&threads, stop.clone()),
    );
    crate::integrations::sync::start(
        crate::integrations::sync::Syncer {
            blobs: BlobStore::new(&config.data_dir),
            pool,
            keyring,
            gate,
            clock,
            config,
            stop: stop.clone(),
        },
        &threads,
    );
    RunnerHandle { stop }
}

/// The participants in a conversation's (opened) metadata.
fn participants_of(metadata: &str) -> Vec<crate::pipeline::ingest::Participant> {
    serde_json::from_str::<serde_json::Value>(metadata)
        .ok()
        .and_then(|m| serde_json::from_value(m["participants"].clone()).ok())
        .unwrap_or_default()
}

/// Where jobs keep decoded audio (sealed, see `track`) while they run.
fn scratch_dir(data_dir: &std::path::Path) -> std::path::PathBuf {
    data_dir.join("scratch")
}

/// Reports progress to the job row, at most once a second or on a stage change.
struct Lease<'a> {
    runner: &'a Runner,
    job_id: String,
    last: Option<(String, i32, std::time::Instant)>,
    lost: bool,
    /// The stage in progress and since when (for stage durations in `/metrics`).
    stage: Option<(String, std::time::Instant)>,
}

impl Lease<'_> {
    fn new<'a>(runner: &'a Runner, job_id: &str) -> Lease<'a> {
        Lease {
            runner,
            job_id: job_id.to_string(),
            last: None,
            lost: false,
            stage: None,
        }
    }

    fn enter(&mut self, stage: &str) {
        if self.stage.as_ref().is_some_and(|(s, _)| s == stage) {
            return;
        }
        if let Some((s, since)) = self.stage.take() {
            self.runner
                .metrics
                .record_stage(&s, since.elapsed().as_secs_f64());
        }
        self.stage = Some((stage.to_string(), std::time::Instant::now()));
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some((s, since)) = self.stage.take() {
            self.runner
                .metrics
                .record_stage(&s, since.elapsed().as_secs_f64());
        }
    }
}

impl Progress for Lease<'_> {
    fn engine_seconds(&mut self, secs: f64) {
        self.runner.metrics.record_engine(secs);
    }

    fn report(&mut self, stage: &str, percent: i32) -> bool {
        if self.lost
            || self.runner.stop.load(Ordering::SeqCst)
            || self.runner.lease_lost.load(Ordering::SeqCst)
        {
            return false;
        }
        self.enter(stage);
        if let Some((s, p, at)) = &self.last {
            if s == stage && (*p == percent || at.elapsed().as_secs() < 1) {
                return true;
            }
        }
        let now = self.runner.clock.now();
        let until = stamp(now + Duration::seconds(self.runner.config.pipeline.lease_seconds));
        let kept = self
            .runner
            .pool
            .get()
            .map_err(|e| e.to_string())
            .and_then(|mut c| {
                jobs::heartbeat(
                    &mut c,
                    &self.job_id,
                    &self.runner.owner,
                    stage,
                    percent.clamp(0, 100),
                    &stamp(now),
                    &until,
                )
                .map_err(|e| e.to_string())
            });
        match kept {
            Ok(1) => {
                self.last = Some((stage.to_string(), percent, std::time::Instant::now()));
                true
            }
            Ok(_) => {
                tracing::warn!(job = %self.job_id, "job lease lost or job cancelled; stopping it");
                self.lost = true;
                false
            }
            // A database hiccup is not a reason to stop; the lease is long enough.
            Err(e) => {
                tracing::warn!(job = %self.job_id, error = %e, "could not record progress");
                true
            }
        }
    }
}

impl Runner {
    fn run(&mut self) {
        tracing::info!(owner = %self.owner, "processing thread started");
        while !self.stop.load(Ordering::SeqCst) {
            match self.claim() {
                Ok(Some(job)) => self.process(job),
                Ok(None) => std::thread::sleep(std::time::Duration::from_millis(250)),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot claim a job; retrying");
                    std::thread::sleep(std::time::Duration::from_secs(2));
                }
            }
        }
        tracing::info!(owner = %self.owner, "processing thread stopped");
    }

    fn claim(&self) -> Result<Option<jobs::Job>, String> {
        let mut conn = self.pool.get().map_err(|e| e.to_string())?;
        let now = self.clock.now();
        let until = stamp(now + Duration::seconds(self.config.pipeline.lease_seconds));
        jobs::claim(&mut conn, &self.owner, &stamp(now), &until).map_err(|e| e.to_string())
    }

    fn process(&mut self, job: jobs::Job) {
        let started = std::time::Instant::now();
        let max = self.config.pipeline.max_attempts;
        tracing::info!(job = %job.id, attempt = job.attempts, "job started");
        let result = if job.attempts > max {
            Err(Failure {
                code: "ATTEMPTS_EXHAUSTED",
                message: format!("the job was started {max} times without finishing (the process stopped during it each time)"),
                retry: false,
            })
        } else {
            self.lease_lost.store(false, Ordering::SeqCst);
            let lease = LeaseOf {
                pool: self.pool.clone(),
                clock: self.clock.clone(),
                job_id: job.id.clone(),
                owner: self.owner.clone(),
                lease_seconds: self.config.pipeline.lease_seconds,
            };
            let _keeper = Keeper::start(lease, self.lease_lost.clone());
            self.run_job(&job)
        };
        let kind = match &result {
            Ok(_) => "done",
            Err(f) if f.code == "STOPPED" => "stopped",
            Err(_) => "failed",
        };
        self.metrics
            .record_job(kind, started.elapsed().as_secs_f64());
        let now = stamp(self.clock.now());
        let recorded = self
            .pool
            .get()
            .map_err(|e| e.to_string())
            .and_then(|mut conn| {
                self.record(&mut conn, &job, &result, &now)
                    .map_err(|e| e.to_string())
            });
        match (&result, recorded) {
            (_, Err(e)) => {
                tracing::error!(job = %job.id, error = %e, "cannot record the job's outcome")
            }
            (Ok(()), _) => {
                tracing::info!(job = %job.id, seconds = started.elapsed().as_secs_f64(), "job done")
            }
            (Err(f), _) => {
                tracing::warn!(job = %job.id, code = f.code, message = %f.message, "job ended without result")
            }
        }
    }

    /// Writes a job's end: done, failed for good, or left for another attempt.
    fn record(
        &self,
        conn: &mut crate::store::DbConn,
        job: &jobs::Job,
        result: &Result<(), Failure>,
        now: &str,
    ) -> Result<usize, diesel::result::Error> {
        match result {
            Ok(()) => jobs::finish(conn, &job.id, &self.owner, None, now),
            Err(f) if f.code == "STOPPED" => Ok(0),
            Err(f) if f.retry && job.attempts < self.config.pipeline.max_attempts => {
                // The lease runs out and the job is claimed again.
                tracing::warn!(job = %job.id, code = f.code, message = %f.message, "job attempt failed; will retry");
                Ok(0)
            }
            Err(f) => {
                let n = jobs::finish(conn, &job.id, &self.owner, Some((f.code, &f.message)), now)?;
                if n == 1 {
                    conversations::set_state(conn, &job.org_id, &job.conversation_id, "failed")?;
                }
                Ok(n)
            }
        }
    }

    fn run_job(&mut self, job: &jobs::Job) -> Result<(), Failure> {
        let (conv, trackers, cover, cipher) = {
            let mut conn = self.pool.get().map_err(Failure::storage)?;
            let cipher = self
                .keyring
                .for_org(&mut conn, &job.org_id)
                .map_err(Failure::key)?;
            let conv = conversations::get(&mut conn, &cipher, &job.conversation_id)
                .map_err(Failure::key)?
                .ok_or_else(|| Failure {
                    code: "CONVERSATION_GONE",
                    message: "the conversation was deleted".into(),
                    retry: false,
                })?;
            let trackers =
                crate::store::trackers::list(&mut conn, &job.org_id).map_err(Failure::storage)?;
            let org = crate::store::identity::org_by_id(&mut conn, &job.org_id)
                .map_err(Failure::storage)?;
            let cover = org.and_then(|o| Cover::from_setting(&o.redact_audio));
            (conv, trackers, cover, cipher)
        };
        if job.kind == "analyze" {
            return self.analyze(job, conv, true);
        }
        let cfg = self.config.pipeline.clone();
        let blobs = self.blobs.clone();
        let scratch = scratch_dir(&self.config.data_dir);
        let stored = process::Stored {
            blobs: &blobs,
            cipher: &cipher,
            scratch: &scratch,
        };
        let outcome: Outcome = if conv.kind == "ticket" {
            let mut lease = Lease::new(self, &job.id);
            process::ticket(&conv, stored, &cfg, &trackers, &mut lease)?
        } else {
            let mut lease = Lease::new(self, &job.id);
            let recording = recording::Job {
                conv: &conv,
                cfg: &cfg,
                trackers: &trackers,
                cover,
                decoder: &self.decoder,
            };
            recording::process(recording, stored, &self.stages, &mut lease)?
        };
        let mut conn = self.pool.get().map_err(Failure::storage)?;
        // Keys fetched again: a key rotation may have begun while the job ran.
        let cipher = self
            .keyring
            .for_org(&mut conn, &job.org_id)
            .map_err(Failure::key)?;
        conversations::store_result(&mut conn, &cipher, &conv.id, &outcome)
            .map_err(Failure::key)?;
        let redacted: crate::pipeline::redact::Tally =
            serde_json::from_str(&outcome.redactions).unwrap_or_default();
        self.metrics.record_redactions(&redacted);
        // The people in it become data subjects (found again by e-mail, phone or
        // name), before the analysis asks whether any of them opted out.
        let participants = participants_of(&conv.metadata);
        crate::privacy::subjects::link_participants(
            &mut conn,
            &self.keyring,
            &cipher,
            &conv.id,
            &participants,
            self.clock.now(),
        )
        .map_err(Failure::key)?;
        // A redacted recording written under a key that was rotated meanwhile is
        // re-sealed under the new one (the rotation waits for running jobs).
        match blobs.reseal(&cipher, &conv.id) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Failure {
                code: "BLOB_WRITE",
                message: format!("cannot re-seal the recording: {e}"),
                retry: true,
            }),
            _ => Ok(()),
        }?;
        drop(conn);
        // The transcript is stored: an analysis that cannot run is recorded on the
        // conversation (and can be run again), never a reason to lose the transcript.
        let conv_id = conv.id.clone();
        self.analyze(job, conv, false)?;
        let mut conn = self.pool.get().map_err(Failure::storage)?;
        if let Err(e) = super::retention::after_processing(
            &mut conn,
            &blobs,
            &job.org_id,
            &conv_id,
            self.clock.now(),
        ) {
            tracing::warn!(job = %job.id, error = %e, "could not delete the recording after processing; the purge will");
        }
        Ok(())
    }

    /// The analysis stage; `own_job`: the job exists for it (its failures are the
    /// job's), otherwise a failure is recorded as the analysis's state.
    fn analyze(
        &self,
        job: &jobs::Job,
        conv: conversations::Conversation,
        own_job: bool,
    ) -> Result<(), Failure> {
        let mut conn = self.pool.get().map_err(Failure::storage)?;
        let cipher = self
            .keyring
            .for_org(&mut conn, &job.org_id)
            .map_err(Failure::key)?;
        let inputs = analysis::load(&mut conn, &cipher, conv, job.params.as_deref())?;
        drop(conn);
        let now = || stamp(self.clock.now());
        let outcome = match analysis::skip_reason(&inputs) {
            Some((code, reason)) => Ok(analysis::Produced {
                analysis: inputs
                    .only_template
                    .is_none()
                    .then(|| analysis::not_run(&inputs, "skipped", code, reason, &now())),
                results: Vec::new(),
            }),
            None => self.run_analysis(&inputs, &job.id),
        };
        let produced = match outcome {
            Ok(p) => p,
            Err(f) if f.code == "STOPPED" || own_job => return Err(f),
            Err(f) => {
                tracing::warn!(job = %job.id, code = f.code, message = %f.message, "analysis failed; the transcript is kept");
                analysis::Produced {
                    analysis: Some(analysis::not_run(
                        &inputs,
                        "failed",
                        f.code,
                        &f.message,
                        &now(),
                    )),
                    results: Vec::new(),
                }
            }
        };
        let mut conn = self.pool.get().map_err(Failure::storage)?;
        let cipher = self
            .keyring
            .for_org(&mut conn, &job.org_id)
            .map_err(Failure::key)?;
        if let Some(row) = &produced.analysis {
            analyses::save_analysis(&mut conn, &cipher, row).map_err(Failure::key)?;
        }
        for r in &produced.results {
            if !analyses::save_result(&mut conn, &cipher, r).map_err(Failure::key)? {
                tracing::info!(conversation = %r.conversation_id, template = %r.template_id, "a reviewed result is kept; the new one is not stored");
            }
        }
        // Alert rules see the new results (each rule fires once per conversation).
        if let Err(e) = crate::integrations::alerts::evaluate(
            &mut conn,
            &self.keyring,
            &job.org_id,
            &job.conversation_id,
            self.clock.now(),
        ) {
            tracing::warn!(job = %job.id, error = %e, "alert rules could not be checked");
        }
        Ok(())
    }

    fn run_analysis(
        &self,
        inputs: &analysis::Inputs,
        job_id: &str,
    ) -> Result<analysis::Produced, Failure> {
        let engines = &self.config.engines;
        let model = manifest::entry(&engines.llm_model).map_err(|e| Failure {
            code: "MODEL_REFUSED",
            message: e.to_string(),
            retry: false,
        })?;
        let context = engines.llm_context;
        let stages = self.stages.clone();
        let mut lease = Lease::new(self, job_id);
        let engine = stages.analyze.take(&mut lease, 0)?.ok_or_else(stopped)?;
        let now = stamp(self.clock.now());
        analysis::run(inputs, &engine, &model, context, &now, &mut lease)
    }
}
