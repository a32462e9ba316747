//! Runs inference in a child `insite worker` process: starts it, restarts it when it
//! dies, and fails a job that kills its worker twice as a poison job.

use super::protocol::{Op, Output, Reply, Request};
use crate::engines::EngineError;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// How to start a worker.
#[derive(Debug, Clone)]
pub struct WorkerSpec {
    /// The insite executable (the server's own binary).
    pub exe: PathBuf,
    pub whisper: Option<PathBuf>,
    pub llm: Option<PathBuf>,
    pub threads: usize,
    pub llm_context: u32,
}

impl WorkerSpec {
    /// A worker for the configured engines running the given model files.
    pub fn from_config(
        engines: &crate::config::EnginesConfig,
        whisper: Option<PathBuf>,
        llm: Option<PathBuf>,
    ) -> std::io::Result<Self> {
        let exe = match &engines.worker_exe {
            Some(p) => p.clone(),
            None => std::env::current_exe()?,
        };
        Ok(WorkerSpec {
            exe,
            whisper,
            llm,
            threads: engines.effective_threads(),
            llm_context: engines.llm_context,
        })
    }
}

/// Why a call failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum WorkerError {
    #[error("inference worker could not start: {0}")]
    Start(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("poison job: it crashed the inference worker twice ({0}); not retried")]
    Poison(String),
}

struct Running {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

/// One supervised worker; calls are serialised (one job at a time per worker).
pub struct EngineWorker {
    spec: WorkerSpec,
    running: Mutex<Option<Running>>,
    pid: AtomicU32,
    next_id: AtomicU64,
    restarts: AtomicU64,
    last_stderr: Arc<Mutex<String>>,
}

impl EngineWorker {
    pub fn new(spec: WorkerSpec) -> Self {
        Self {
            spec,
            running: Mutex::new(None),
            pid: AtomicU32::new(0),
            next_id: AtomicU64::new(1),
            restarts: AtomicU64::new(0),
            last_stderr: Arc::new(Mutex::new(String::new())),
        }
    }

    /// The current worker's process id (0 when none runs).
    pub fn pid(&self) -> u32 {
        self.pid.load(Ordering::SeqCst)
    }

    /// How many times a worker died and was replaced.
    pub fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::SeqCst)
    }

    /// Starts the worker now (otherwise the first call does).
    pub fn start(&self) -> Result<(), WorkerError> {
        let mut guard = self
            .running
            .lock()
            .map_err(|_| WorkerError::Start("lock poisoned".into()))?;
        if guard.is_none() {
            *guard = Some(self.spawn()?);
        }
        Ok(())
    }

    fn spawn(&self) -> Result<Running, WorkerError> {
        let mut cmd = Command::new(&self.spec.exe);
        cmd.arg("worker")
            .arg("--threads")
            .arg(self.spec.threads.to_string())
            .arg("--llm-context")
            .arg(self.spec.llm_context.to_string())
            .arg("--parent")
            .arg(std::process::id().to_string());
        if let Some(p) = &self.spec.whisper {
            cmd.arg("--whisper").arg(p);
        }
        if let Some(p) = &self.spec.llm {
            cmd.arg("--llm").arg(p);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| WorkerError::Start(format!("{}: {e}", self.spec.exe.display())))?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(WorkerError::Start("worker pipes missing".into()));
        };
        // Forward the worker's stderr to our log; keep its last line for error messages.
        let last = Arc::clone(&self.last_stderr);
        let pid = child.id();
        let forwarder = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                tracing::warn!(worker_pid = pid, "{line}");
                if let Ok(mut l) = last.lock() {
                    *l = line;
                }
            }
        });
        let mut running = Running {
            child,
            stdin,
            stdout: BufReader::new(stdout),
        };
        match read_reply(&mut running.stdout) {
            Some(Reply::Ready { .. }) => {
                self.pid.store(pid, Ordering::SeqCst);
                tracing::info!(worker_pid = pid, "inference worker ready");
                Ok(running)
            }
            _ => {
                let status = describe_exit(&mut running.child);
                // The worker has exited, so its stderr reaches EOF: joining the forwarder
                // guarantees its last words are recorded (no timing guess).
                let _ = forwarder.join();
                let last = self
                    .last_stderr
                    .lock()
                    .map(|l| l.clone())
                    .unwrap_or_default();
                Err(WorkerError::Start(if last.is_empty() {
                    status
                } else {
                    format!("{last} ({status})")
                }))
            }
        }
    }

    /// Runs `op`; `progress` receives 0..=100. A worker crash restarts the worker and
    /// retries once; a second crash fails the job as poison.
    pub fn call(&self, op: &Op, progress: &mut dyn FnMut(i32)) -> Result<Output, WorkerError> {
        let mut guard = self
            .running
            .lock()
            .map_err(|_| WorkerError::Start("lock poisoned".into()))?;
        let mut crashes = Vec::new();
        while crashes.len() < 2 {
            if guard.is_none() {
                *guard = Some(self.spawn()?);
            }
            let Some(running) = guard.as_mut() else {
                continue;
            };
            let id = self.next_id.fetch_add(1, Ordering::SeqCst);
            match exchange(running, id, op, progress) {
                Some(result) => return result.map_err(WorkerError::Engine),
                None => {
                    let reason = guard
                        .take()
                        .map(|mut r| describe_exit(&mut r.child))
                        .unwrap_or_default();
                    self.pid.store(0, Ordering::SeqCst);
                    self.restarts.fetch_add(1, Ordering::SeqCst);
                    tracing::error!(%reason, attempt = crashes.len() + 1, "inference worker died during a job");
                    crashes.push(reason);
                }
            }
        }
        Err(WorkerError::Poison(crashes.join("; then ")))
    }
}

impl Drop for EngineWorker {
    fn drop(&mut self) {
        if let Ok(mut guard) = self.running.lock() {
            if let Some(mut r) = guard.take() {
                drop(r.stdin); // EOF: the worker exits on its own
                let _ = r.child.kill();
                let _ = r.child.wait();
            }
        }
    }
}

/// Sends one request and reads until its result; `None` means the worker died.
fn exchange(
    running: &mut Running,
    id: u64,
    op: &Op,
    progress: &mut dyn FnMut(i32),
) -> Option<Result<Output, EngineError>> {
    let mut line = serde_json::to_vec(&Request { id, op: op.clone() }).ok()?;
    line.push(b'\n');
    running.stdin.write_all(&line).ok()?;
    running.stdin.flush().ok()?;
    loop {
        match read_reply(&mut running.stdout)? {
            Reply::Progress { id: pid, percent } if pid == id => progress(percent),
            Reply::Done { id: did, result } if did == id => return Some(result),
            _ => {}
        }
    }
}

fn read_reply(stdout: &mut BufReader<ChildStdout>) -> Option<Reply> {
    let mut line = String::new();
    loop {
        line.clear();
        if stdout.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if let Ok(reply) = serde_json::from_str(&line) {
            return Some(reply);
        }
    }
}

fn describe_exit(child: &mut Child) -> String {
    let status = child.wait();
    match status {
        Ok(s) => match (s.code(), s.signal()) {
            (_, Some(sig)) => format!("worker killed by signal {sig}{}", signal_name(sig)),
            (Some(code), _) => format!("worker exited with status {code}"),
            _ => "worker ended".to_string(),
        },
        Err(e) => format!("worker status unknown: {e}"),
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        6 => " (SIGABRT: the inference library aborted)",
        9 => " (SIGKILL)",
        11 => " (SIGSEGV)",
        15 => " (SIGTERM)",
        _ => "",
    }
}
