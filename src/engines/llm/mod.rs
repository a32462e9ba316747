//! Local LLM with llama.cpp (through llama-cpp-2): chat-template prompts
//! (`prompt`), grammar-constrained greedy (deterministic) generation (`greedy`), many
//! questions over one shared context (`ask`), and embeddings.

mod ask;
mod greedy;
mod prompt;

pub use ask::{Answers, Question, SharedPrompt, MAX_PARALLEL};

use super::EngineError;
use llama_cpp_2::context::params::{LlamaContextParams, LlamaPoolingType};
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use serde::{Deserialize, Serialize};
use std::num::NonZeroU32;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Instant;

/// llama.cpp's backend may be initialised once per process.
static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();

fn backend() -> Result<&'static LlamaBackend, EngineError> {
    BACKEND
        .get_or_init(|| {
            let mut b = LlamaBackend::init().map_err(|e| e.to_string())?;
            b.void_logs();
            Ok(b)
        })
        .as_ref()
        .map_err(|e| EngineError::Model(format!("llama.cpp backend: {e}")))
}

/// A chat request whose answer must match `grammar` (GBNF, root rule `root`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatRequest {
    pub system: String,
    pub user: String,
    pub grammar: String,
    pub max_tokens: usize,
}

/// The answer with token counts and timings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Generation {
    pub text: String,
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    pub prompt_ms: f64,
    pub generate_ms: f64,
}

/// A loaded GGUF model.
pub struct LlmEngine {
    model: LlamaModel,
    threads: i32,
    n_ctx: u32,
}

impl LlmEngine {
    /// Loads a verified GGUF file; `n_ctx` is the context window in tokens.
    pub fn load(path: &Path, threads: usize, n_ctx: u32) -> Result<Self, EngineError> {
        let model = LlamaModel::load_from_file(backend()?, path, &LlamaModelParams::default())
            .map_err(|e| {
                EngineError::Model(format!(
                    "{}: llama.cpp could not load it: {e}",
                    path.display()
                ))
            })?;
        let n_ctx = n_ctx.min(model_ctx_limit(&model));
        Ok(Self {
            model,
            threads: i32::try_from(threads.max(1)).unwrap_or(1),
            n_ctx,
        })
    }

    fn context(
        &self,
        embeddings: bool,
    ) -> Result<llama_cpp_2::context::LlamaContext<'_>, EngineError> {
        self.make_context(embeddings, 1)
    }

    /// A context whose KV cache holds `sequences` sequences sharing its cells.
    fn context_for(
        &self,
        sequences: usize,
    ) -> Result<llama_cpp_2::context::LlamaContext<'_>, EngineError> {
        self.make_context(false, sequences)
    }

    fn make_context(
        &self,
        embeddings: bool,
        sequences: usize,
    ) -> Result<llama_cpp_2::context::LlamaContext<'_>, EngineError> {
        let mut params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(self.n_ctx))
            .with_n_batch(512)
            .with_n_seq_max(sequences.max(1) as u32)
            .with_kv_unified(true)
            .with_n_threads(self.threads)
            .with_n_threads_batch(self.threads)
            .with_embeddings(embeddings);
        if embeddings {
            // Chat models ship without a pooling type; mean pooling gives one vector per text.
            params = params.with_pooling_type(LlamaPoolingType::Mean);
        }
        self.model
            .new_context(backend()?, params)
            .map_err(|e| EngineError::Inference(format!("llama context: {e}")))
    }

    /// Greedy, grammar-constrained generation: the same input gives the same output.
    /// `progress` gets 0..=50 while the prompt is read and 50..=100 while generating.
    pub fn chat(
        &self,
        req: &ChatRequest,
        progress: &mut dyn FnMut(i32),
    ) -> Result<Generation, EngineError> {
        let tokens = prompt::chat_tokens(&self.model, &req.system, &[&req.user])?.tokens;
        let vocab = self.model.vocab();
        let budget = tokens.len() + req.max_tokens;
        if budget > self.n_ctx as usize {
            return Err(EngineError::Input(format!(
                "prompt of {} tokens plus {} to generate exceeds the context of {} tokens",
                tokens.len(),
                req.max_tokens,
                self.n_ctx
            )));
        }
        let mut ctx = self.context(false)?;
        let started = Instant::now();
        let mut batch = LlamaBatch::new(512, 1);
        let last = tokens.len().saturating_sub(1);
        for (chunk_no, chunk) in tokens.chunks(512).enumerate() {
            batch.clear();
            for (j, tok) in chunk.iter().enumerate() {
                let pos = chunk_no * 512 + j;
                batch
                    .add(*tok, pos as i32, &[0], pos == last)
                    .map_err(|e| EngineError::Inference(format!("batch: {e}")))?;
            }
            ctx.decode(&mut batch)
                .map_err(|e| EngineError::Inference(format!("prompt decode: {e}")))?;
            let read = ((chunk_no + 1) * 512).min(tokens.len());
            progress((read * 50 / tokens.len().max(1)) as i32);
        }
        let prompt_ms = started.elapsed().as_secs_f64() * 1000.0;
        let mut grammar = LlamaSampler::grammar(&self.model, &req.grammar, "root")
            .map_err(|e| EngineError::Input(format!("grammar rejected: {e}")))?;
        let started = Instant::now();
        let mut out = Vec::new();
        let mut pos = tokens.len();
        let mut generated = 0;
        while generated < req.max_tokens {
            let token = greedy::pick(&ctx, batch.n_tokens() - 1, &mut grammar);
            if vocab.is_eog(token) {
                break;
            }
            out.extend(vocab.token_to_piece(token, false, None));
            generated += 1;
            batch.clear();
            batch
                .add(token, pos as i32, &[0], true)
                .map_err(|e| EngineError::Inference(format!("batch: {e}")))?;
            pos += 1;
            ctx.decode(&mut batch)
                .map_err(|e| EngineError::Inference(format!("decode: {e}")))?;
            progress(50 + (generated * 50 / req.max_tokens.max(1)) as i32);
        }
        progress(100);
        Ok(Generation {
            text: String::from_utf8_lossy(&out).into_owned(),
            prompt_tokens: tokens.len(),
            generated_tokens: generated,
            prompt_ms,
            generate_ms: started.elapsed().as_secs_f64() * 1000.0,
        })
    }

    /// A mean-pooled, L2-normalised embedding of `text`.
    pub fn embed(&self, text: &str) -> Result<Vec<f32>, EngineError> {
        let vocab = self.model.vocab();
        let tokens = vocab.tokenize(text.as_bytes(), true, false);
        if tokens.is_empty() || tokens.len() > self.n_ctx.min(512) as usize {
            return Err(EngineError::Input(format!(
                "text for embedding must be 1..={} tokens, got {}",
                self.n_ctx.min(512),
                tokens.len()
            )));
        }
        let mut ctx = self.context(true)?;
        let mut batch = LlamaBatch::new(tokens.len(), 1);
        batch
            .add_sequence(&tokens, 0, false)
            .map_err(|e| EngineError::Inference(format!("batch: {e}")))?;
        ctx.decode(&mut batch)
            .map_err(|e| EngineError::Inference(format!("embedding decode: {e}")))?;
        let raw = ctx
            .embeddings_seq_ith(0)
            .map_err(|e| EngineError::Inference(format!("embeddings: {e}")))?;
        let norm = raw
            .iter()
            .map(|v| v * v)
            .sum::<f32>()
            .sqrt()
            .max(f32::EPSILON);
        Ok(raw.iter().map(|v| v / norm).collect())
    }
}

fn model_ctx_limit(model: &LlamaModel) -> u32 {
    model.n_ctx_train().max(512)
}
