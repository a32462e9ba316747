//! What every job shares: failures, progress (the lease), and the end of processing
//! (turns stored, tracked, measured); and a ticket's processing (redacted at ingest,
//! measured here). Recordings: `recording`.

use super::ingest::TicketMessage;
use super::redact;
use super::transcribe::Turn;
use crate::blob::BlobStore;
use crate::config::PipelineConfig;
use crate::domain::metrics;
use crate::domain::time::parse;
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
    pub(crate) fn input(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry: false,
        }
    }

    /// A database or pool fault: worth another attempt.
    pub(crate) fn storage(e: impl ToString) -> Self {
        Self {
            code: "STORAGE",
            message: e.to_string(),
            retry: true,
        }
    }

    /// A key or stored value that cannot be used: retrying cannot mend a destroyed
    /// key or an altered value; a storage fault may pass.
    pub(crate) fn key(e: crate::keys::KeyError) -> Self {
        use crate::keys::KeyError;
        let retry = matches!(e, KeyError::Storage(_));
        let code = match e {
            KeyError::Storage(_) => "STORAGE",
            KeyError::Shredded(_) => "ORG_ERASED",
            _ => "DATA_INTEGRITY",
        };
        Self {
            code,
            message: e.to_string(),
            retry,
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

pub(crate) fn stopped() -> Failure {
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
pub(super) struct Finish<'a> {
    pub(super) conv: &'a Conversation,
    pub(super) duration: f64,
    pub(super) language: Option<String>,
    pub(super) channels: Vec<String>,
    pub(super) cfg: &'a PipelineConfig,
    pub(super) trackers: &'a [Tracker],
    /// What redaction replaced, by kind.
    pub(super) redactions: redact::Tally,
}

pub(super) fn finish(f: Finish, turns: Vec<Turn>) -> Outcome {
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
