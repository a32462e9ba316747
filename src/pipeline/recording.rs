//! One recording, stage by stage: decode (to sealed tracks on disk), transcribe each
//! speaker's track through a Whisper worker, redact text and audio, measure. Each
//! stage is entered through its admission (`stages`), so the processing threads
//! overlap light stages with transcription without running more engines than set.

use super::decoder::Decoder;
use super::process::{finish, stopped, Failure, Finish, Outcome, Progress, Stored};
use super::redact_audio::{write_wav, Cover};
use super::stages::Stages;
use super::track::{mix, Track};
use super::transcribe::{self, Turn};
use super::{decode, redact};
use crate::config::PipelineConfig;
use crate::engines::worker::{EngineWorker, WorkerError};
use crate::store::conversations::Conversation;
use crate::store::trackers::Tracker;

/// What the job knows of the recording's people and settings.
pub struct Job<'a> {
    pub conv: &'a Conversation,
    pub cfg: &'a PipelineConfig,
    pub trackers: &'a [Tracker],
    /// The org's choice for covering redacted stretches of the audio.
    pub cover: Option<Cover>,
    pub decoder: &'a Decoder,
}

/// The recording decoded: a track per channel, and the tracks to transcribe.
struct Decoded {
    channels: Vec<Track>,
    /// One track of all channels averaged, when the speakers are not a channel each.
    mixed: Option<Track>,
    speakers: Vec<String>,
    duration: f64,
}

fn scratch_failure(e: std::io::Error) -> Failure {
    Failure {
        code: "SCRATCH_IO",
        message: format!("decoded audio could not be kept on disk: {e}"),
        retry: true,
    }
}

fn decode_stage(
    conv: &Conversation,
    stored: Stored,
    max_seconds: u64,
    decoder: &Decoder,
) -> Result<Decoded, Failure> {
    let reader = stored
        .blobs
        .open(stored.cipher, &conv.id)
        .map_err(|e| Failure {
            code: "BLOB_MISSING",
            message: format!("the recording is unreadable: {e}"),
            retry: false,
        })?;
    let input =
        decode::Input::blob(reader, &format!("recording {}", conv.id)).max_seconds(max_seconds);
    let decoded = decoder
        .decode_to_tracks(input, stored.scratch)
        .map_err(|e| match e {
            decode::DecodeError::Io { .. } => Failure {
                code: "DECODE_IO",
                message: format!("the recording could not be decoded here: {}", e.reason()),
                retry: true,
            },
            decode::DecodeError::TooLong { .. } => Failure::input("TOO_LONG", e.reason()),
            // Poison: this recording kills its decoder, so no attempt is made again.
            decode::DecodeError::Crashed { .. } => Failure::input("DECODER_CRASHED", e.reason()),
            _ => Failure::input(
                "DECODE_FAILED",
                format!("the recording cannot be decoded: {}", e.reason()),
            ),
        })?;
    let duration = decoded.duration_secs();
    let mut channels = decoded.tracks;
    let wanted: Vec<String> = serde_json::from_str(&conv.channels).unwrap_or_default();
    // Stereo with two speakers named: a track each. Otherwise one mixed track, and
    // the result says so.
    if channels.len() >= 2 && wanted.len() == 2 {
        return Ok(Decoded {
            channels,
            mixed: None,
            speakers: wanted,
            duration,
        });
    }
    let mixed = if channels.len() > 1 {
        Some(mix(&mut channels, stored.scratch).map_err(scratch_failure)?)
    } else {
        None
    };
    Ok(Decoded {
        channels,
        mixed,
        speakers: vec!["mixed".to_string()],
        duration,
    })
}

fn worker_failure(e: WorkerError) -> Failure {
    match e {
        WorkerError::Poison(m) => Failure::input("WORKER_CRASHED", m),
        WorkerError::Engine(crate::engines::EngineError::Input(m)) => {
            Failure::input("TRANSCRIBE_INPUT", m)
        }
        other => Failure {
            code: "TRANSCRIBE_FAILED",
            message: other.to_string(),
            retry: true,
        },
    }
}

/// Transcribes each speaker's track; the turns and the language found.
fn transcribe_stage(
    audio: &mut Decoded,
    worker: &EngineWorker,
    hint: Option<String>,
    progress: &mut dyn Progress,
) -> Result<(Vec<Turn>, Option<String>), Failure> {
    let tracks: &mut [Track] = match audio.mixed.as_mut() {
        Some(m) => std::slice::from_mut(m),
        None => &mut audio.channels,
    };
    let mut turns = Vec::new();
    let mut language = None;
    let n = audio.speakers.len() as i32;
    for (i, (track, speaker)) in tracks.iter_mut().zip(&audio.speakers).enumerate() {
        let base = 10 + 80 * i as i32 / n;
        if !progress.report("transcribe", base) {
            return Err(stopped());
        }
        let mut cancelled = false;
        let mut on_progress = |p: i32| {
            if !progress.report("transcribe", base + p * 80 / n / 100) {
                cancelled = true;
            }
        };
        let (mut t, lang, engine_secs) =
            transcribe::channel(worker, track, speaker, hint.clone(), &mut on_progress)
                .map_err(worker_failure)?;
        progress.engine_seconds(engine_secs);
        if cancelled {
            return Err(stopped());
        }
        turns.append(&mut t);
        language = language.or(lang);
    }
    Ok((turns, language))
}

/// Processes a recording.
pub fn process(
    job: Job,
    stored: Stored,
    stages: &Stages,
    progress: &mut dyn Progress,
) -> Result<Outcome, Failure> {
    let conv = job.conv;
    let permit = stages.decode.enter(progress, 1).ok_or_else(stopped)?;
    if !progress.report("decode", 1) {
        return Err(stopped());
    }
    let mut audio = decode_stage(conv, stored, job.cfg.max_duration_seconds, job.decoder)?;
    drop(permit);

    let meta: serde_json::Value = serde_json::from_str(&conv.metadata).unwrap_or_default();
    let hint = meta["language"]
        .as_str()
        .filter(|l| *l != "auto")
        .map(str::to_string);
    let engine = stages.transcribe.take(progress, 10)?.ok_or_else(stopped)?;
    let (mut turns, language) = transcribe_stage(&mut audio, &engine, hint, progress)?;
    drop(engine);

    let _permit = stages.redact.enter(progress, 92).ok_or_else(stopped)?;
    if !progress.report("redact", 92) {
        return Err(stopped());
    }
    let mut redactions = redact::Tally::new();
    for t in &mut turns {
        t.text = redact::redact_into(&t.text, &mut redactions);
    }
    let Decoded {
        mut channels,
        mixed,
        speakers,
        duration,
    } = audio;
    drop(mixed);
    if let Some(with) = job.cover {
        let spans = hide_redacted(&turns, &speakers, &mut channels, with, stored, conv)?;
        if spans > 0 {
            redactions.insert("audio_spans".into(), spans);
        }
    }
    drop(channels);
    if !progress.report("measure", 97) {
        return Err(stopped());
    }
    let f = Finish {
        conv,
        duration,
        language,
        channels: speakers,
        cfg: job.cfg,
        trackers: job.trackers,
        redactions,
    };
    Ok(finish(f, turns))
}

/// Covers the turns whose text was redacted in the recording and stores the result in
/// place of the original; returns how many stretches were covered.
fn hide_redacted(
    turns: &[Turn],
    speakers: &[String],
    tracks: &mut [Track],
    with: Cover,
    stored: Stored,
    conv: &Conversation,
) -> Result<usize, Failure> {
    let mut covers = vec![Vec::new(); tracks.len()];
    let mut covered = 0;
    for t in turns.iter().filter(|t| redact::has_placeholder(&t.text)) {
        // A speaker's own channel, or every channel of a mixed recording.
        let own = speakers
            .iter()
            .position(|c| *c == t.speaker && speakers.len() > 1);
        for (i, stretches) in covers.iter_mut().enumerate() {
            if own.map_or(true, |o| o == i) {
                stretches.push((t.start, t.end));
            }
        }
        covered += 1;
    }
    if covered == 0 {
        return Ok(0);
    }
    let fail = |e: std::io::Error| Failure {
        code: "BLOB_WRITE",
        message: format!("cannot store the redacted recording: {e}"),
        retry: true,
    };
    let mut blob = stored
        .blobs
        .incoming(stored.cipher, &conv.id)
        .map_err(fail)?;
    write_wav(tracks, &covers, with, &mut blob).map_err(fail)?;
    let blob = blob.finish().map_err(fail)?;
    stored.blobs.keep(blob, &conv.org_id).map_err(fail)?;
    Ok(covered)
}
