//! Messages between the server and an inference worker: one JSON object per line.

use crate::engines::llm::{Answers, ChatRequest, Generation, SharedPrompt};
use crate::engines::whisper::{TranscribeOptions, Transcript};
use crate::engines::EngineError;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Work for the worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Samples are raw little-endian f32, 16 kHz mono, in a file (never on the pipe);
    /// with `samples_key`, the file is sealed (crypto::stream) under that key.
    Transcribe {
        samples_path: PathBuf,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        samples_key: Option<SamplesKey>,
        options: TranscribeOptions,
    },
    Chat {
        request: ChatRequest,
    },
    /// Several questions over one context whose evaluation is shared.
    Ask {
        prompt: SharedPrompt,
    },
    Embed {
        text: String,
    },
}

/// Appends `samples` in the workers' sample format (raw little-endian f32).
pub fn samples_to_bytes(samples: &[f32], out: &mut Vec<u8>) {
    out.reserve(samples.len() * 4);
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
}

/// Reads samples in the workers' sample format (a trailing partial sample is ignored;
/// callers that must refuse one check the length).
pub fn samples_from_bytes(bytes: &[u8]) -> impl Iterator<Item = f32> + '_ {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// The key of a sealed samples file, hex; it travels only over the worker's private
/// pipe and is never shown in logs.
#[derive(Clone, Serialize, Deserialize)]
pub struct SamplesKey(pub String);

impl std::fmt::Debug for SamplesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SamplesKey(redacted)")
    }
}

/// A request line.
#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    pub id: u64,
    #[serde(flatten)]
    pub op: Op,
}

/// A successful result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Output {
    Transcript(Transcript),
    Generation(Generation),
    Answers(Answers),
    Embedding(Vec<f32>),
}

/// A line from the worker.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// Sent once after models are loaded.
    Ready {
        whisper: Option<String>,
        llm: Option<String>,
    },
    /// 0..=100 for request `id`.
    Progress { id: u64, percent: i32 },
    Done {
        id: u64,
        result: Result<Output, EngineError>,
    },
}
