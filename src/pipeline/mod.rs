//! The conversation pipeline's stages (one file per stage).

pub mod analyze;
pub mod decode;
