//! Inference in separate, sandboxed worker processes of the same binary.

pub mod child;
pub mod protocol;
pub(crate) mod sandbox;
pub mod supervisor;

pub use protocol::{Op, Output};
pub use supervisor::{EngineWorker, WorkerError, WorkerSpec};
