//! Many questions about one context (a transcript). The chat prefix (system prompt and
//! context) is evaluated once into the KV cache under every llama.cpp sequence id in
//! use; each question then runs in its own sequence, all of them generated together
//! one token per sequence per step, each under its own grammar. Between waves the
//! sequences are cut back to the prefix, which is never evaluated again. With
//! `reuse = false` every question is a full prompt of its own (the benchmark's baseline).

use super::greedy::pick;
use super::prompt::chat_tokens;
use super::{EngineError, LlmEngine};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Questions answered side by side at most (sequences sharing the prefix).
pub const MAX_PARALLEL: usize = 8;
const BATCH: usize = 512;

/// One question with the grammar (GBNF, rule `root`) its answer must match.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Question {
    pub text: String,
    pub grammar: String,
    pub max_tokens: usize,
    /// Strings whose first token's logit at the first answer step is reported
    /// (`Answers::watched`): a caller decides on the margin between alternatives
    /// instead of taking the greedy choice.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub watch: Vec<String>,
}

/// A context and the questions asked about it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SharedPrompt {
    pub system: String,
    pub context: String,
    pub questions: Vec<Question>,
    /// Evaluate the prefix once for all questions (false: once per question).
    pub reuse: bool,
}

/// The answers in question order, with what it cost.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Answers {
    pub texts: Vec<String>,
    /// Per question, the logits of its `watch` strings at the first answer step.
    #[serde(default)]
    pub watched: Vec<Vec<f32>>,
    pub prefix_tokens: usize,
    /// Tokens evaluated in all (prefix, questions and answers).
    pub evaluated_tokens: usize,
    pub generated_tokens: usize,
    pub prompt_ms: f64,
    pub total_ms: f64,
}

struct Slot {
    question: usize,
    seq: i32,
    grammar: LlamaSampler,
    out: Vec<u8>,
    generated: usize,
    max: usize,
    /// Index in the last batch of this sequence's logits.
    logits_at: i32,
    pos: i32,
    /// First tokens of the question's `watch` strings, and their logits once seen.
    watch: Vec<LlamaToken>,
    seen: Vec<f32>,
}

fn err(what: &str) -> impl Fn(String) -> EngineError + '_ {
    move |e| EngineError::Inference(format!("{what}: {e}"))
}

impl LlmEngine {
    /// Answers every question of `p`; `progress` gets 0..=100.
    pub fn ask(
        &self,
        p: &SharedPrompt,
        progress: &mut dyn FnMut(i32),
    ) -> Result<Answers, EngineError> {
        if p.questions.is_empty() {
            return Err(EngineError::Input("no questions".into()));
        }
        let started = Instant::now();
        let mut questions = Vec::with_capacity(p.questions.len());
        let mut prefix = Vec::new();
        for q in &p.questions {
            let t = chat_tokens(&self.model, &p.system, &[&p.context, &q.text])?;
            let cut = t.cuts[1];
            prefix = t.tokens[..cut].to_vec();
            questions.push(t.tokens[cut..].to_vec());
        }
        let longest = p
            .questions
            .iter()
            .zip(&questions)
            .map(|(q, t)| t.len() + q.max_tokens)
            .max()
            .unwrap_or(0);
        if prefix.len() + longest > self.n_ctx as usize {
            return Err(EngineError::Input(format!(
                "context of {} tokens plus a question and its answer ({longest}) exceeds the \
                 model context of {} tokens",
                prefix.len(),
                self.n_ctx
            )));
        }
        let parallel = if p.reuse { MAX_PARALLEL } else { 1 };
        let mut ctx = self.context_for(parallel)?;
        let mut texts = vec![String::new(); questions.len()];
        let mut watched = vec![Vec::new(); questions.len()];
        let mut evaluated = 0;
        let mut generated = 0;
        let mut prompt_ms = 0.0;
        let mut next = 0;
        let mut prefix_ready = false;
        while next < questions.len() {
            if !prefix_ready {
                let t = Instant::now();
                ctx.clear_kv_cache();
                let seqs: Vec<i32> = (0..parallel as i32).collect();
                decode_shared(&mut ctx, &prefix, &seqs)?;
                evaluated += prefix.len();
                prompt_ms += t.elapsed().as_secs_f64() * 1000.0;
                prefix_ready = p.reuse;
            }
            // As many questions as the free context holds, at most `parallel`.
            let mut room = self.n_ctx as usize - prefix.len();
            let mut wave = Vec::new();
            while next < questions.len() && wave.len() < parallel {
                let need = questions[next].len() + p.questions[next].max_tokens;
                if need > room && !wave.is_empty() {
                    break;
                }
                room = room.saturating_sub(need);
                wave.push(next);
                next += 1;
            }
            let mut slots = Vec::with_capacity(wave.len());
            for (seq, &qi) in wave.iter().enumerate() {
                let grammar = LlamaSampler::grammar(&self.model, &p.questions[qi].grammar, "root")
                    .map_err(|e| EngineError::Input(format!("grammar rejected: {e}")))?;
                slots.push(Slot {
                    question: qi,
                    seq: seq as i32,
                    grammar,
                    out: Vec::new(),
                    generated: 0,
                    max: p.questions[qi].max_tokens,
                    logits_at: 0,
                    pos: prefix.len() as i32,
                    watch: self.first_tokens(&p.questions[qi].watch),
                    seen: Vec::new(),
                });
            }
            evaluated += self.run_wave(&mut ctx, &mut slots, &questions)?;
            for s in slots {
                generated += s.generated;
                texts[s.question] = String::from_utf8_lossy(&s.out).into_owned();
                watched[s.question] = s.seen;
                let seq = u32::try_from(s.seq).unwrap_or(0);
                ctx.clear_kv_cache_seq(Some(seq), Some(prefix.len() as u32), None)
                    .map_err(|e| err("kv cache")(e.to_string()))?;
            }
            progress((next * 100 / questions.len()) as i32);
        }
        Ok(Answers {
            texts,
            watched,
            prefix_tokens: prefix.len(),
            evaluated_tokens: evaluated + generated,
            generated_tokens: generated,
            prompt_ms,
            total_ms: started.elapsed().as_secs_f64() * 1000.0,
        })
    }

    /// The first token of each string (an unknown one for an empty string).
    fn first_tokens(&self, strings: &[String]) -> Vec<LlamaToken> {
        let vocab = self.model.vocab();
        strings
            .iter()
            .map(|s| {
                let mut t = Vec::new();
                vocab.tokenize_into(s.as_bytes(), &mut t, false, false);
                t.first().copied().unwrap_or(LlamaToken(-1))
            })
            .collect()
    }

    /// Reads each slot's question into its sequence, then generates all answers
    /// together; returns the question tokens evaluated.
    fn run_wave(
        &self,
        ctx: &mut LlamaContext<'_>,
        slots: &mut [Slot],
        questions: &[Vec<LlamaToken>],
    ) -> Result<usize, EngineError> {
        let mut batch = LlamaBatch::new(BATCH.max(slots.len()), slots.len() as i32);
        let mut evaluated = 0;
        // Question tokens, in batches of at most BATCH. Logits are kept for the last
        // batch only, so every sequence's last token (which asks for them) goes into
        // one final batch.
        let mut body: Vec<(usize, LlamaToken, bool)> = Vec::new();
        let mut last: Vec<(usize, LlamaToken, bool)> = Vec::new();
        for (si, s) in slots.iter().enumerate() {
            let q = &questions[s.question];
            if let Some((end, rest)) = q.split_last() {
                body.extend(rest.iter().map(|t| (si, *t, false)));
                last.push((si, *end, true));
            }
            evaluated += q.len();
        }
        for chunk in body.chunks(BATCH).chain(std::iter::once(last.as_slice())) {
            batch.clear();
            for &(si, tok, last) in chunk {
                let s = &mut slots[si];
                if last {
                    s.logits_at = batch.n_tokens();
                }
                batch
                    .add(tok, s.pos, &[s.seq], last)
                    .map_err(|e| err("batch")(e.to_string()))?;
                s.pos += 1;
            }
            ctx.decode(&mut batch)
                .map_err(|e| err("question decode")(e.to_string()))?;
        }
        let vocab = self.model.vocab();
        let mut active: Vec<usize> = (0..slots.len()).collect();
        while !active.is_empty() {
            let mut still = Vec::with_capacity(active.len());
            let mut chosen = Vec::with_capacity(active.len());
            for &si in &active {
                let s = &mut slots[si];
                if s.generated >= s.max {
                    continue;
                }
                if s.generated == 0 && !s.watch.is_empty() {
                    let logits = ctx.get_logits_ith(s.logits_at);
                    s.seen = s
                        .watch
                        .iter()
                        .map(|t| {
                            logits
                                .get(t.0 as usize)
                                .copied()
                                .unwrap_or(f32::NEG_INFINITY)
                        })
                        .collect();
                }
                let token = pick(ctx, s.logits_at, &mut s.grammar);
                if vocab.is_eog(token) {
                    continue;
                }
                s.out.extend(vocab.token_to_piece(token, false, None));
                s.generated += 1;
                chosen.push((si, token));
            }
            if chosen.is_empty() {
                break;
            }
            batch.clear();
            for (si, token) in chosen {
                let s = &mut slots[si];
                s.logits_at = batch.n_tokens();
                batch
                    .add(token, s.pos, &[s.seq], true)
                    .map_err(|e| err("batch")(e.to_string()))?;
                s.pos += 1;
                still.push(si);
            }
            ctx.decode(&mut batch)
                .map_err(|e| err("decode")(e.to_string()))?;
            active = still;
        }
        Ok(evaluated)
    }
}

/// Evaluates `tokens` once at positions 0.. for every sequence in `seqs` (the KV cells
/// are shared, not copied).
fn decode_shared(
    ctx: &mut LlamaContext<'_>,
    tokens: &[LlamaToken],
    seqs: &[i32],
) -> Result<(), EngineError> {
    let mut batch = LlamaBatch::new(BATCH, seqs.len() as i32);
    for (n, chunk) in tokens.chunks(BATCH).enumerate() {
        batch.clear();
        for (j, tok) in chunk.iter().enumerate() {
            batch
                .add(*tok, (n * BATCH + j) as i32, seqs, false)
                .map_err(|e| err("batch")(e.to_string()))?;
        }
        ctx.decode(&mut batch)
            .map_err(|e| err("prefix decode")(e.to_string()))?;
    }
    Ok(())
}
