//! The local inference engines (Whisper, LLM), model verification, and the CT2 importer.

pub mod ct2;
pub mod llm;
pub mod manifest;
pub mod whisper;
pub mod worker;

/// Why an engine call failed. `Input` is the caller's fault; the rest are not.
#[derive(Debug, Clone, thiserror::Error, serde::Serialize, serde::Deserialize, PartialEq)]
pub enum EngineError {
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Model(String),
    #[error("{0}")]
    Inference(String),
}
