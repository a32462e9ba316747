//! Speech-to-text with whisper.cpp (through whisper-rs) on 16 kHz mono f32 samples.

use super::EngineError;
use serde::{Deserialize, Serialize};
use std::path::Path;
use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters};

/// Input sample rate the model expects.
pub const SAMPLE_RATE: usize = 16_000;
/// Shortest input accepted (0.1 s); below it there is nothing to transcribe.
pub const MIN_SAMPLES: usize = SAMPLE_RATE / 10;

/// How to transcribe.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TranscribeOptions {
    /// ISO 639-1 code ("en", "de", …); `None` detects the language.
    pub language: Option<String>,
}

/// One recognised token with its probability.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Token {
    pub text: String,
    pub p: f32,
}

/// One stretch of speech.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Segment {
    /// Seconds from the start of the input.
    pub start: f64,
    pub end: f64,
    pub text: String,
    /// Mean token probability, 0..1.
    pub confidence: f32,
    /// The model's probability that this window holds no speech.
    pub no_speech_prob: f32,
    pub tokens: Vec<Token>,
}

/// A whole transcription.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Transcript {
    pub language: String,
    pub segments: Vec<Segment>,
}

impl Transcript {
    /// All segment texts joined by spaces.
    pub fn text(&self) -> String {
        self.segments
            .iter()
            .map(|s| s.text.trim())
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A loaded Whisper model.
pub struct WhisperEngine {
    ctx: WhisperContext,
    threads: i32,
    multilingual: bool,
}

impl WhisperEngine {
    /// Loads a verified ggml model file.
    pub fn load(path: &Path, threads: usize) -> Result<Self, EngineError> {
        let path_str = path
            .to_str()
            .ok_or_else(|| EngineError::Model(format!("{}: path is not UTF-8", path.display())))?;
        let ctx = WhisperContext::new_with_params(path_str, WhisperContextParameters::default())
            .map_err(|e| {
                EngineError::Model(format!(
                    "{}: whisper could not load it: {e}",
                    path.display()
                ))
            })?;
        let multilingual = ctx.is_multilingual();
        Ok(Self {
            ctx,
            threads: i32::try_from(threads.max(1)).unwrap_or(1),
            multilingual,
        })
    }

    /// Transcribes `samples` (16 kHz mono); `progress` gets 0..=100.
    pub fn transcribe(
        &self,
        samples: &[f32],
        options: &TranscribeOptions,
        progress: Box<dyn FnMut(i32)>,
    ) -> Result<Transcript, EngineError> {
        if samples.len() < MIN_SAMPLES {
            return Err(EngineError::Input(format!(
                "audio is empty or shorter than 0.1 s ({} samples at 16 kHz)",
                samples.len()
            )));
        }
        let language = match options.language.as_deref() {
            None | Some("auto") if self.multilingual => "auto",
            None | Some("auto") => "en",
            Some(code) => {
                if whisper_rs::get_lang_id(code).is_none() {
                    return Err(EngineError::Input(format!(
                        "unknown language code '{code}'"
                    )));
                }
                if !self.multilingual && code != "en" {
                    return Err(EngineError::Input(format!(
                        "this model is English-only; language '{code}' needs a multilingual model"
                    )));
                }
                code
            }
        };
        let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
        params.set_n_threads(self.threads);
        params.set_language(Some(language));
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_special(false);
        params.set_print_timestamps(false);
        params.set_suppress_blank(true);
        params.set_no_context(true);
        params.set_progress_callback_safe::<Option<Box<dyn FnMut(i32)>>, Box<dyn FnMut(i32)>>(
            Some(progress),
        );
        let mut state = self
            .ctx
            .create_state()
            .map_err(|e| EngineError::Inference(format!("whisper state: {e}")))?;
        state
            .full(params, samples)
            .map_err(|e| EngineError::Inference(format!("whisper: {e}")))?;
        let lang_id = state.full_lang_id_from_state();
        let language = whisper_rs::get_lang_str(lang_id)
            .unwrap_or(language)
            .to_string();
        let mut segments = Vec::new();
        for seg in state.as_iter() {
            let text = seg
                .to_str_lossy()
                .map(|t| t.into_owned())
                .unwrap_or_default();
            let mut tokens = Vec::new();
            for i in 0..seg.n_tokens() {
                if let Some(tok) = seg.get_token(i) {
                    let piece = tok
                        .to_str_lossy()
                        .map(|t| t.into_owned())
                        .unwrap_or_default();
                    // Special tokens ([_BEG_], <|en|>, timestamps) are not words.
                    if piece.starts_with("[_") || piece.starts_with("<|") {
                        continue;
                    }
                    tokens.push(Token {
                        text: piece,
                        p: tok.token_probability(),
                    });
                }
            }
            let confidence = if tokens.is_empty() {
                0.0
            } else {
                tokens.iter().map(|t| t.p).sum::<f32>() / tokens.len() as f32
            };
            segments.push(Segment {
                // whisper.cpp timestamps are in centiseconds.
                start: seg.start_timestamp() as f64 / 100.0,
                end: seg.end_timestamp() as f64 / 100.0,
                text: text.trim().to_string(),
                confidence,
                no_speech_prob: seg.no_speech_probability(),
                tokens,
            });
        }
        Ok(Transcript { language, segments })
    }
}
