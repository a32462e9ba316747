//! One job, stage by stage: decode, transcribe, redact, measure (calls), or measure
//! (tickets, redacted at ingest). Progress and the lease are kept up on the way.

use super::ingest::TicketMessage;
use super::redact_audio::{write_wav, Cover};
use super::track::{mix, Track};
use super::transcribe::{self, Turn};
use super::{decode, redact};
use crate::blob::BlobStore;
use crate::config::PipelineConfig;
use crate::domain::metrics;
use crate::domain::time::parse;
use crate::engines::worker::{EngineWorker, WorkerError};
use crate::keys::OrgCipher;
use crate::store::conversations::{Conversation, SegmentRow};
use crate::store::identity::new_id;
use crate::store::trackers::{Tracker, TrackerHit};

/// Why a job failed: a stable code and a message for the job's `error`.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub code: &'static str,
    pub message: String,
    /// Worth another attempt (a fault of the machine, not of the input).
    pub retry: bool,
}

impl Failure {
    fn input(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry: false,
        }
    }
}

/// Reports stage and percent; `false` means stop (lease lost or job cancelled).
pub trait Progress {
    fn report(&mut self, stage: &str, percent: i32) -> bool;
    /// Seconds just spent inside an inference engine (for the engine-time metric).
    fn engine_seconds(&mut self, _secs: f64) {}
}

/// What a finished job stores.
pub type Outcome = crate::store::conversations::Processed;

fn stopped() -> Failure {
    Failure {
        code: "STOPPED",
        message: "the job was cancelled or taken over".into(),
        retry: false,
    }
}

/// Where the organization's trackers are mentioned.
fn track(conv: &Conversation, trackers: &[Tracker], segments: &[SegmentRow]) -> Vec<TrackerHit> {
    let texts: Vec<&str> = segments.iter().map(|s| s.text.as_str()).collect();
    let mut hits = Vec::new();
    for t in trackers {
        let phrases = t.phrase_list();
        for hit in crate::domain::trackers::find(&phrases, &texts) {
            let seg = &segments[hit.turn];
            hits.push(TrackerHit {
                id: new_id(),
                org_id: conv.org_id.clone(),
                conversation_id: conv.id.clone(),
                tracker_id: t.id.clone(),
                phrase: hit.phrase.to_string(),
                speaker: seg.speaker.clone(),
                start_seconds: seg.start_seconds,
            });
        }
    }
    hits
}

/// Where a conversation's (already redacted) turns end up: stored, tracked, measured.
struct Finish<'a> {
    conv: &'a Conversation,
    duration: f64,
    language: Option<String>,
    channels: Vec<String>,
    cfg: &'a PipelineConfig,
    trackers: &'a [Tracker],
    /// What redaction replaced, by kind.
    redactions: redact::Tally,
}

fn finish(f: Finish, turns: Vec<Turn>) -> Outcome {
    let Finish {
        conv,
        duration,
        language,
        channels,
        cfg,
        trackers,
        redactions,
    } = f;
    let mut turns = turns;
    turns.sort_by(|a, b| a.start.total_cmp(&b.start));
    let segments: Vec<SegmentRow> = turns
        .into_iter()
        .enumerate()
        .map(|(i, t)| SegmentRow {
            id: new_id(),
            conversation_id: conv.id.clone(),
            org_id: conv.org_id.clone(),
            seq: i as i32,
            speaker: t.speaker,
            start_seconds: t.start,
            end_seconds: t.end,
            text: t.text,
            confidence: t.confidence,
        })
        .collect();
    let view: Vec<metrics::Turn> = segments
        .iter()
        .map(|s| metrics::Turn {
            speaker: &s.speaker,
            start: s.start_seconds,
            end: s.end_seconds,
            text: &s.text,
        })
        .collect();
    let m = metrics::compute(&view, duration, &cfg.agent_speaker);
    Outcome {
        tracker_hits: track(conv, trackers, &segments),
        metrics: serde_json::to_string(&m).unwrap_or_default(),
        redactions: serde_json::to_string(&redactions).unwrap_or_default(),
        segments,
        language,
        duration,
        channels,
    }
}

/// Where a job's content is kept: the blob store and the org's keys.
#[derive(Clone, Copy)]
pub struct Stored<'a> {
    pub blobs: &'a BlobStore,
    pub cipher: &'a OrgCipher,
    /// Where decoded audio is kept (sealed) while the job runs.
    pub scratch: &'a std::path::Path,
}

/// Processes a recording.
pub fn call(
    conv: &Conversation,
    stored: Stored,
    worker: &EngineWorker,
    cfg: &PipelineConfig,
    trackers: &[Tracker],
    cover: Option<Cover>,
    progress: &mut dyn Progress,
) -> Result<Outcome, Failure> {
    if !progress.report("decode", 1) {
        return Err(stopped());
    }
    let reader = stored
        .blobs
        .open(stored.cipher, &conv.id)
        .map_err(|e| Failure {
            code: "BLOB_MISSING",
            message: format!("the recording is unreadable: {e}"),
            retry: false,
        })?;
    let input = decode::Input::blob(reader, &format!("recording {}", conv.id));
    let decoded = decode::decode_to_tracks(input, stored.scratch).map_err(|e| match e {
        decode::DecodeError::Io { .. } => Failure {
            code: "DECODE_IO",
            message: format!("the recording could not be decoded here: {}", e.reason()),
            retry: true,
        },
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
    let mut mixed: Vec<Track> = Vec::new();
    let speakers: Vec<String> = if channels.len() >= 2 && wanted.len() == 2 {
        wanted
    } else {
        if channels.len() > 1 {
            mixed.push(mix(&mut channels, stored.scratch).map_err(scratch_failure)?);
        }
        vec!["mixed".to_string()]
    };
    let meta: serde_json::Value = serde_json::from_str(&conv.metadata).unwrap_or_default();
    let hint = meta["language"]
        .as_str()
        .filter(|l| *l != "auto")
        .map(str::to_string);
    let mut turns = Vec::new();
    let mut language = None;
    let tracks: &mut [Track] = if mixed.is_empty() {
        &mut channels
    } else {
        &mut mixed
    };
    let n = speakers.len() as i32;
    for (i, (track, speaker)) in tracks.iter_mut().zip(&speakers).enumerate() {
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
        let transcribed =
            transcribe::channel(worker, track, speaker, hint.clone(), &mut on_progress).map_err(
                |e| match e {
                    WorkerError::Poison(m) => Failure::input("WORKER_CRASHED", m),
                    WorkerError::Engine(crate::engines::EngineError::Input(m)) => {
                        Failure::input("TRANSCRIBE_INPUT", m)
                    }
                    other => Failure {
                        code: "TRANSCRIBE_FAILED",
                        message: other.to_string(),
                        retry: true,
                    },
                },
            )?;
        let (mut t, lang, engine_secs) = transcribed;
        progress.engine_seconds(engine_secs);
        if cancelled {
            return Err(stopped());
        }
        turns.append(&mut t);
        language = language.or(lang);
    }
    if !progress.report("redact", 92) {
        return Err(stopped());
    }
    let mut redactions = redact::Tally::new();
    for t in &mut turns {
        t.text = redact::redact_into(&t.text, &mut redactions);
    }
    if let Some(with) = cover {
        drop(mixed);
        let spans = hide_redacted(&turns, &speakers, &mut channels, with, stored, conv)?;
        if spans > 0 {
            redactions.insert("audio_spans".into(), spans);
        }
    }
    let f = Finish {
        conv,
        duration,
        language,
        channels: speakers,
        cfg,
        trackers,
        redactions,
    };
    let out = finish(f, turns);
    if !progress.report("measure", 97) {
        return Err(stopped());
    }
    Ok(out)
}

fn scratch_failure(e: std::io::Error) -> Failure {
    Failure {
        code: "SCRATCH_IO",
        message: format!("decoded audio could not be kept on disk: {e}"),
        retry: true,
    }
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

/// Processes a ticket (its messages were redacted when it was accepted).
pub fn ticket(
    conv: &Conversation,
    stored: Stored,
    cfg: &PipelineConfig,
    trackers: &[Tracker],
    progress: &mut dyn Progress,
) -> Result<Outcome, Failure> {
    if !progress.report("measure", 50) {
        return Err(stopped());
    }
    let raw = stored
        .blobs
        .read_all(stored.cipher, &conv.id)
        .map_err(|e| Failure {
            code: "BLOB_MISSING",
            message: format!("the ticket's content is unreadable: {e}"),
            retry: true,
        })?;
    let messages: Vec<TicketMessage> = serde_json::from_slice(&raw).map_err(|e| {
        Failure::input("TICKET_CORRUPT", format!("stored ticket is not valid: {e}"))
    })?;
    let times: Vec<f64> = messages
        .iter()
        .map(|m| {
            parse(&m.at)
                .map(|t| t.timestamp_millis() as f64 / 1000.0)
                .unwrap_or(0.0)
        })
        .collect();
    let first = times.iter().copied().fold(f64::INFINITY, f64::min);
    let turns: Vec<Turn> = messages
        .iter()
        .zip(&times)
        .map(|(m, t)| Turn {
            speaker: m.role.clone().unwrap_or_else(|| "customer".into()),
            start: t - first,
            end: t - first,
            text: m.text.clone(),
            confidence: 1.0,
        })
        .collect();
    let duration = turns.iter().map(|t| t.end).fold(0.0, f64::max);
    // The text was redacted at ingest; the counts were noted then.
    let meta: serde_json::Value = serde_json::from_str(&conv.metadata).unwrap_or_default();
    let f = Finish {
        conv,
        duration,
        language: None,
        channels: vec!["agent".into(), "customer".into()],
        cfg,
        trackers,
        redactions: serde_json::from_value(meta["redactions"].clone()).unwrap_or_default(),
    };
    Ok(finish(f, turns))
}
