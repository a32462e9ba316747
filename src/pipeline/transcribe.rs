//! Transcription stage: each channel's voiced audio through the engine worker, times
//! mapped back to the recording, and segments over silence or without speech dropped.

use super::track::{Sealed, Track, TrackWriter};
use super::vad;
use crate::engines::whisper::{Segment, TranscribeOptions};
use crate::engines::worker::protocol::SamplesKey;
use crate::engines::worker::{EngineWorker, Op, Output, WorkerError};

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
fn keep(segment: &Segment, track: &mut Track, start: f64, end: f64) -> std::io::Result<bool> {
    let unsure = segment.no_speech_prob > 0.6 && segment.confidence < 0.5;
    if segment.text.trim().is_empty() || unsure {
        return Ok(false);
    }
    Ok(track.energy(start, end)? >= 0.002)
}

fn scratch(e: std::io::Error) -> WorkerError {
    WorkerError::Start(format!("decoded audio on disk: {e}"))
}

/// Where the voiced regions of a track are, read block by block.
fn spans(track: &mut Track) -> Result<Vec<vad::Span>, WorkerError> {
    let mut detector = vad::Detector::default();
    track
        .walk(0, track.len(), |_, block| detector.push(block))
        .map_err(scratch)?;
    Ok(detector.finish())
}

/// Voiced audio sent to the engine per call: 5 minutes (19 MB of samples, 10 MB of
/// spectrogram in the worker), so an hours-long recording is never held whole.
const WINDOW: usize = 16_000 * 300;

/// Writes one window's samples (its spans, joined by silence) for the worker, streamed
/// from the track into a scratch file sealed under a key of its own (handed to the
/// worker over its pipe), so no plaintext audio touches the disk.
fn write_window(track: &mut Track, window: &[vad::Span]) -> Result<Sealed, WorkerError> {
    let fail = |e: std::io::Error| WorkerError::Start(format!("engine window file: {e}"));
    let dir = track.dir().to_path_buf();
    let mut out = TrackWriter::create(&dir).map_err(fail)?;
    let silence = vec![0f32; 16_000];
    let mut at = 0;
    for span in window {
        let mut gap = span.compact_start.saturating_sub(at);
        while gap > 0 {
            let n = gap.min(silence.len());
            out.push(&silence[..n]).map_err(fail)?;
            gap -= n;
        }
        let mut written = Ok(());
        track
            .walk(
                span.original_start,
                span.original_start + span.len,
                |_, block| {
                    if written.is_ok() {
                        written = out.push(block);
                    }
                },
            )
            .map_err(scratch)?;
        written.map_err(fail)?;
        at = span.compact_start + span.len;
    }
    out.seal().map_err(fail)
}

/// Transcribes one channel in windows of voiced audio; `progress` gets 0..=100 for
/// this channel. Returns the turns, the language, and the seconds spent in the engine.
pub fn channel(
    worker: &EngineWorker,
    track: &mut Track,
    speaker: &str,
    language: Option<String>,
    progress: &mut dyn FnMut(i32),
) -> Result<(Vec<Turn>, Option<String>, f64), WorkerError> {
    let windows = vad::windows(&spans(track)?, WINDOW);
    let n = windows.len() as i32;
    let mut turns = Vec::new();
    let mut detected: Option<String> = None;
    let mut engine_secs = 0.0;
    for (i, spans) in windows.into_iter().enumerate() {
        let file = write_window(track, &spans)?;
        // The language found in the first window holds for the rest of the call.
        let op = Op::Transcribe {
            samples_path: file.file.path().to_path_buf(),
            samples_key: Some(SamplesKey(file.key_hex.to_string())),
            options: TranscribeOptions {
                language: language.clone().or_else(|| detected.clone()),
            },
        };
        let base = i as i32 * 100 / n;
        let mut scaled = |p: i32| progress(base + p / n);
        let started = std::time::Instant::now();
        let output = worker.call(&op, &mut scaled)?;
        engine_secs += started.elapsed().as_secs_f64();
        drop(file);
        let Output::Transcript(t) = output else {
            return Err(WorkerError::Start(
                "the worker answered without a transcript".into(),
            ));
        };
        let window = vad::Voiced { spans };
        for segment in &t.segments {
            let (start, end) = window.to_original(segment.start, segment.end);
            let turn = Turn {
                speaker: speaker.to_string(),
                start,
                end,
                text: segment.text.trim().to_string(),
                confidence: f64::from(segment.confidence),
            };
            if keep(segment, track, turn.start, turn.end).map_err(scratch)? {
                turns.push(turn);
            }
        }
        detected = detected.or(Some(t.language));
    }
    Ok((turns, detected, engine_secs))
}
