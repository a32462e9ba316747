//! `insite worker`: the sandboxed inference process. Reads requests on stdin,
//! writes progress and results on stdout, logs on stderr.

use super::protocol::{samples_from_bytes, Op, Output, Reply, Request, SamplesKey};
use super::sandbox;
use crate::engines::llm::LlmEngine;
use crate::engines::manifest;
use crate::engines::whisper::WhisperEngine;
use crate::engines::EngineError;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

/// What the worker loads.
#[derive(Debug, Clone)]
pub struct WorkerArgs {
    pub whisper: Option<PathBuf>,
    pub llm: Option<PathBuf>,
    pub threads: usize,
    pub llm_context: u32,
    /// The process whose end ends this worker; `None`: the parent at start.
    pub parent: Option<u32>,
}

fn send(reply: &Reply) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(reply).map_err(std::io::Error::other)?;
    line.push(b'\n');
    let mut out = std::io::stdout().lock();
    out.write_all(&line)?;
    out.flush()
}

/// Ends this process when the one that started it is gone. A server killed outright
/// cannot stop its workers, and one busy in a long inference would not see its pipe
/// close until it answered; so a thread looks every 250 ms whether the worker has been
/// handed to another parent, and exits at once if so. The starter names itself
/// (`--parent`), so a worker whose server died before it even started ends too.
pub(crate) fn exit_with_parent(expected: Option<u32>) {
    let parent = expected.or_else(|| {
        rustix::process::getppid().and_then(|p| u32::try_from(p.as_raw_nonzero().get()).ok())
    });
    let current =
        || rustix::process::getppid().and_then(|p| u32::try_from(p.as_raw_nonzero().get()).ok());
    if current() != parent {
        std::process::exit(3);
    }
    let watch = std::thread::Builder::new()
        .name("parent-watch".into())
        .spawn(move || loop {
            std::thread::sleep(std::time::Duration::from_millis(250));
            if current() != parent {
                std::process::exit(3);
            }
        });
    if let Err(e) = watch {
        eprintln!("worker: cannot watch its parent: {e}");
    }
}

/// Runs the worker until stdin closes. Errors here end the process.
pub fn run(args: &WorkerArgs) -> Result<(), String> {
    exit_with_parent(args.parent);
    sandbox::install().map_err(|e| e.to_string())?;
    let load = |path: &Path| manifest::verify_path(path).map_err(|e| e.to_string());
    let whisper = match &args.whisper {
        Some(p) => {
            let v = load(p)?;
            Some((
                v.entry.name,
                WhisperEngine::load(p, args.threads).map_err(|e| e.to_string())?,
            ))
        }
        None => None,
    };
    let llm = match &args.llm {
        Some(p) => {
            let v = load(p)?;
            Some((
                v.entry.name,
                LlmEngine::load(p, args.threads, args.llm_context).map_err(|e| e.to_string())?,
            ))
        }
        None => None,
    };
    send(&Reply::Ready {
        whisper: whisper.as_ref().map(|(n, _)| n.clone()),
        llm: llm.as_ref().map(|(n, _)| n.clone()),
    })
    .map_err(|e| e.to_string())?;

    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| e.to_string())?;
        if line.trim().is_empty() {
            continue;
        }
        let request: Request =
            serde_json::from_str(&line).map_err(|e| format!("bad request: {e}"))?;
        let id = request.id;
        let result = match request.op {
            Op::Transcribe {
                samples_path,
                samples_key,
                options,
            } => match &whisper {
                Some((_, engine)) => {
                    read_samples(&samples_path, samples_key.as_ref()).and_then(|samples| {
                        let progress = Box::new(move |percent: i32| {
                            let _ = send(&Reply::Progress { id, percent });
                        });
                        engine
                            .transcribe(&samples, &options, progress)
                            .map(Output::Transcript)
                    })
                }
                None => Err(EngineError::Model(
                    "this worker has no Whisper model".into(),
                )),
            },
            Op::Chat { request } => match &llm {
                Some((_, engine)) => {
                    let mut progress = |percent: i32| {
                        let _ = send(&Reply::Progress { id, percent });
                    };
                    engine.chat(&request, &mut progress).map(Output::Generation)
                }
                None => Err(EngineError::Model("this worker has no LLM".into())),
            },
            Op::Ask { prompt } => match &llm {
                Some((_, engine)) => {
                    let mut progress = |percent: i32| {
                        let _ = send(&Reply::Progress { id, percent });
                    };
                    engine.ask(&prompt, &mut progress).map(Output::Answers)
                }
                None => Err(EngineError::Model("this worker has no LLM".into())),
            },
            Op::Embed { text } => match &llm {
                Some((_, engine)) => engine.embed(&text).map(Output::Embedding),
                None => Err(EngineError::Model("this worker has no LLM".into())),
            },
        };
        send(&Reply::Done { id, result }).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn read_samples(path: &Path, key: Option<&SamplesKey>) -> Result<Vec<f32>, EngineError> {
    let unreadable = |e: std::io::Error| EngineError::Input(format!("{}: {e}", path.display()));
    let bytes = match key {
        None => std::fs::read(path).map_err(unreadable)?,
        Some(key) => crate::crypto::stream::read_scratch(path, &key.0).map_err(unreadable)?,
    };
    if bytes.len() % 4 != 0 {
        return Err(EngineError::Input(format!(
            "{}: not raw f32 samples (length {} is not a multiple of 4)",
            path.display(),
            bytes.len()
        )));
    }
    Ok(samples_from_bytes(&bytes).collect())
}

/// `insite worker --sandbox-self-test ADDR`: installs the sandbox, tries to connect
/// to ADDR, and reports whether the attempt was blocked.
pub fn sandbox_self_test(addr: &str) -> Result<String, String> {
    sandbox::install().map_err(|e| e.to_string())?;
    match std::net::TcpStream::connect(addr) {
        Ok(_) => Err(format!("sandbox FAILED: connected to {addr}")),
        Err(e) => Ok(format!("blocked: connect to {addr} failed: {e}")),
    }
}
