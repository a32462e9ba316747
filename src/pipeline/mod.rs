//! The conversation pipeline: ingest, then one job per conversation through its stages
//! (decode, transcribe, redact, measure), each in its own file.

pub mod analysis;
pub mod analyze;
pub mod decode;
pub mod decoder;
pub mod ingest;
pub mod keeper;
pub mod process;
pub mod recording;
pub mod redact;
pub mod redact_audio;
mod resample;
pub mod retention;
pub mod runner;
pub mod stages;
pub mod sweeper;
pub mod track;
pub mod transcribe;
pub mod vad;
pub mod watch;
