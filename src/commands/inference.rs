//! `insite transcribe FILE` and `insite analyze FILE`: one-shot inference for scripts,
//! through the same sandboxed worker the server uses, with progress on stderr.

use super::{load_config, CommandError};
use crate::config::EnginesConfig;
use crate::engines::manifest;
use crate::engines::whisper::{TranscribeOptions, Transcript};
use crate::engines::worker::protocol::samples_to_bytes;
use crate::engines::worker::{EngineWorker, Op, Output, WorkerSpec};
use crate::pipeline::{analyze, decode};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Output formats of `insite transcribe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TranscriptFormat {
    Text,
    Json,
    Srt,
    Vtt,
}

/// A model given as a manifest name or a file path, verified either way.
pub(super) fn resolve_model(
    engines: &EnginesConfig,
    model: &str,
) -> Result<manifest::VerifiedModel, CommandError> {
    let verified = if Path::new(model).is_file() {
        manifest::verify_path(Path::new(model))
    } else {
        manifest::verify_named(&engines.models_dir, model)
    };
    verified.map_err(CommandError::from_display)
}

/// A supervised worker with the configured threads, running the given models.
pub(super) fn worker(
    engines: &EnginesConfig,
    whisper: Option<PathBuf>,
    llm: Option<PathBuf>,
) -> Result<EngineWorker, CommandError> {
    WorkerSpec::from_config(engines, whisper, llm)
        .map(EngineWorker::new)
        .map_err(CommandError::from_display)
}

fn progress_printer(label: &'static str) -> impl FnMut(i32) {
    let mut last = -10;
    move |p: i32| {
        if p >= last + 10 || p == 100 {
            last = p;
            let _ = writeln!(std::io::stderr(), "{label}: {p}%");
        }
    }
}

pub fn transcribe(
    config_path: &Path,
    file: &Path,
    model: Option<&str>,
    language: Option<&str>,
    format: TranscriptFormat,
) -> Result<String, CommandError> {
    let config = load_config(config_path)?;
    let engines = &config.engines;
    let model_path = resolve_model(engines, model.unwrap_or(&engines.whisper_model))?.path;
    let _ = writeln!(std::io::stderr(), "decoding {}", file.display());
    let audio = decode::Input::file(file)
        .map(|input| input.max_seconds(config.pipeline.max_duration_seconds))
        .and_then(decode::decode_mono_input)
        .map_err(CommandError::from_display)?;
    let _ = writeln!(
        std::io::stderr(),
        "decoded {:.1} s of audio ({} Hz, {} channel(s))",
        audio.duration_secs(),
        audio.source_rate,
        audio.source_channels
    );
    let mut samples_file = tempfile::NamedTempFile::new().map_err(CommandError::from_display)?;
    let mut bytes = Vec::new();
    samples_to_bytes(&audio.samples, &mut bytes);
    samples_file
        .write_all(&bytes)
        .map_err(CommandError::from_display)?;
    let worker = worker(engines, Some(model_path), None)?;
    let op = Op::Transcribe {
        samples_path: samples_file.path().to_path_buf(),
        samples_key: None,
        options: TranscribeOptions {
            language: language.map(str::to_string),
        },
    };
    worker.start().map_err(CommandError::from_display)?;
    let started = std::time::Instant::now();
    let output = worker
        .call(&op, &mut progress_printer("transcribing"))
        .map_err(CommandError::from_display)?;
    let elapsed = started.elapsed().as_secs_f64();
    let Output::Transcript(transcript) = output else {
        return Err(CommandError("worker returned no transcript".into()));
    };
    let _ = writeln!(
        std::io::stderr(),
        "transcribed in {elapsed:.2} s (real-time factor {:.3}), language {}",
        elapsed / audio.duration_secs().max(0.001),
        transcript.language
    );
    render(&transcript, format)
}

fn render(t: &Transcript, format: TranscriptFormat) -> Result<String, CommandError> {
    Ok(match format {
        TranscriptFormat::Text => t.text(),
        TranscriptFormat::Json => {
            serde_json::to_string_pretty(t).map_err(CommandError::from_display)?
        }
        TranscriptFormat::Srt => t
            .segments
            .iter()
            .enumerate()
            .map(|(i, s)| {
                format!(
                    "{}\n{} --> {}\n{}\n",
                    i + 1,
                    stamp(s.start, ','),
                    stamp(s.end, ','),
                    s.text
                )
            })
            .collect::<Vec<_>>()
            .join("\n"),
        TranscriptFormat::Vtt => {
            let cues: Vec<String> = t
                .segments
                .iter()
                .map(|s| {
                    format!(
                        "{} --> {}\n{}\n",
                        stamp(s.start, '.'),
                        stamp(s.end, '.'),
                        s.text
                    )
                })
                .collect();
            format!("WEBVTT\n\n{}", cues.join("\n"))
        }
    })
}

/// hh:mm:ss,mmm (SRT) or hh:mm:ss.mmm (VTT).
fn stamp(secs: f64, sep: char) -> String {
    let ms = (secs.max(0.0) * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}{sep}{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

pub fn analyze(
    config_path: &Path,
    file: &Path,
    model: Option<&str>,
) -> Result<String, CommandError> {
    let config = load_config(config_path)?;
    let engines = &config.engines;
    let model_name = model.unwrap_or(&engines.llm_model);
    let verified = resolve_model(engines, model_name)?;
    let text = std::fs::read_to_string(file)
        .map_err(|e| CommandError(format!("{}: {e}", file.display())))?;
    let request =
        analyze::request(&text).map_err(|e| CommandError(format!("{}: {e}", file.display())))?;
    let worker = worker(engines, None, Some(verified.path.clone()))?;
    let _ = writeln!(
        std::io::stderr(),
        "analyzing {} with {}",
        file.display(),
        verified.entry.name
    );
    let output = worker
        .call(&Op::Chat { request }, &mut progress_printer("analyzing"))
        .map_err(CommandError::from_display)?;
    let Output::Generation(generation) = output else {
        return Err(CommandError("worker returned no generation".into()));
    };
    let answer = analyze::parse(&generation).map_err(CommandError::from_display)?;
    let _ = writeln!(
        std::io::stderr(),
        "done: {} prompt tokens in {:.0} ms, {} generated in {:.0} ms",
        generation.prompt_tokens,
        generation.prompt_ms,
        generation.generated_tokens,
        generation.generate_ms
    );
    serde_json::to_string_pretty(&serde_json::json!({
        "summary": answer.summary,
        "sentiment": answer.sentiment,
        "model": verified.entry.name,
        "model_sha256": verified.entry.sha256,
        "prompt_version": analyze::PROMPT_VERSION,
        "timings": {
            "prompt_tokens": generation.prompt_tokens,
            "generated_tokens": generation.generated_tokens,
            "prompt_ms": generation.prompt_ms,
            "generate_ms": generation.generate_ms,
        }
    }))
    .map_err(CommandError::from_display)
}
