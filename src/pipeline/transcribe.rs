//! Transcription stage: each channel's voiced audio through the engine worker, times
//! mapped back to the recording, and segments over silence or without speech dropped.

use super::vad;
use crate::engines::whisper::{Segment, TranscribeOptions};
use crate::engines::worker::{EngineWorker, Op, Output, WorkerError};
use std::io::Write;

/// One transcribed stretch of one speaker, in recording time.
#[derive(Debug, Clone)]
pub struct Turn {
    pub speaker: String,
    pub start: f64,
    pub end: f64,
    pub text: String,
    pub confidence: f64,
}

/// A segment Whisper is unsure holds speech, or lying over silence, is not kept.
fn keep(segment: &Segment, track: &[f32], start: f64, end: f64) -> bool {
    let unsure = segment.no_speech_prob > 0.6 && segment.confidence < 0.5;
    let silent = vad::energy(track, start, end) < 0.002;
    !segment.text.trim().is_empty() && !unsure && !silent
}

/// Transcribes one channel; `progress` gets 0..=100 for this channel. Returns the
/// turns, the language, and the seconds spent in the engine.
pub fn channel(
    worker: &EngineWorker,
    track: &[f32],
    speaker: &str,
    language: Option<String>,
    progress: &mut dyn FnMut(i32),
) -> Result<(Vec<Turn>, Option<String>, f64), WorkerError> {
    let voiced = vad::voiced(track);
    if voiced.samples.is_empty() {
        return Ok((Vec::new(), None, 0.0));
    }
    let mut file = tempfile::NamedTempFile::new()
        .map_err(|e| WorkerError::Start(format!("temporary samples file: {e}")))?;
    let bytes: Vec<u8> = voiced
        .samples
        .iter()
        .flat_map(|s| s.to_le_bytes())
        .collect();
    file.write_all(&bytes)
        .and_then(|()| file.flush())
        .map_err(|e| WorkerError::Start(format!("temporary samples file: {e}")))?;
    drop(bytes);
    let op = Op::Transcribe {
        samples_path: file.path().to_path_buf(),
        options: TranscribeOptions { language },
    };
    let started = std::time::Instant::now();
    let output = worker.call(&op, progress)?;
    let engine_secs = started.elapsed().as_secs_f64();
    let Output::Transcript(t) = output else {
        return Err(WorkerError::Start(
            "the worker answered without a transcript".into(),
        ));
    };
    let mut turns = Vec::new();
    for segment in &t.segments {
        let (start, end) = voiced.to_original(segment.start, segment.end);
        let turn = Turn {
            speaker: speaker.to_string(),
            start,
            end,
            text: segment.text.trim().to_string(),
            confidence: f64::from(segment.confidence),
        };
        if keep(segment, track, turn.start, turn.end) {
            turns.push(turn);
        }
    }
    Ok((turns, Some(t.language), engine_secs))
}
