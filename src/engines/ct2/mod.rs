//! `insite models import-ct2`: CTranslate2 (faster-whisper) Whisper models to
//! whisper.cpp's ggml format.

mod convert;
mod mel;
mod reader;
mod vocab;

pub use convert::{import, ImportError, ImportReport};
