//! The LLM stage's first analysis: summary and sentiment, grammar-constrained and validated.

use crate::engines::llm::{ChatRequest, Generation};
use serde::{Deserialize, Serialize};

/// Identifies the prompt and grammar files a result was produced with.
pub const PROMPT_VERSION: &str = "summary_sentiment.v1";
const SYSTEM: &str = include_str!("../engines/prompts/summary_sentiment.v1.txt");
const GRAMMAR: &str = include_str!("../engines/prompts/summary_sentiment.v1.gbnf");

/// Largest input accepted, in bytes (longer texts are split by the analysis stage).
pub const MAX_INPUT_BYTES: usize = 24_000;

/// Sentiment on -1..1 with a label.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Sentiment {
    pub label: String,
    pub score: f64,
}

/// What the model must return.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SummarySentiment {
    pub summary: String,
    pub sentiment: Sentiment,
}

/// Why an input or an answer was refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum AnalyzeError {
    #[error("input is empty")]
    Empty,
    #[error("input is {0} bytes; the limit is {MAX_INPUT_BYTES}")]
    TooLong(usize),
    #[error("model answer is not valid: {0}")]
    InvalidAnswer(String),
}

/// The chat request for `text`.
pub fn request(text: &str) -> Result<ChatRequest, AnalyzeError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(AnalyzeError::Empty);
    }
    if text.len() > MAX_INPUT_BYTES {
        return Err(AnalyzeError::TooLong(text.len()));
    }
    Ok(ChatRequest {
        system: SYSTEM.to_string(),
        user: format!("Conversation:\n\n{text}"),
        grammar: GRAMMAR.to_string(),
        max_tokens: 400,
    })
}

/// Parses and checks the model's answer; the grammar makes this pass in practice,
/// but nothing unvalidated is ever stored or shown.
pub fn parse(generation: &Generation) -> Result<SummarySentiment, AnalyzeError> {
    let answer: SummarySentiment = serde_json::from_str(&generation.text)
        .map_err(|e| AnalyzeError::InvalidAnswer(format!("{e} in {:?}", generation.text)))?;
    if answer.summary.trim().is_empty() {
        return Err(AnalyzeError::InvalidAnswer("empty summary".into()));
    }
    if !["positive", "neutral", "negative"].contains(&answer.sentiment.label.as_str()) {
        return Err(AnalyzeError::InvalidAnswer(format!(
            "unknown sentiment label {}",
            answer.sentiment.label
        )));
    }
    if !(-1.0..=1.0).contains(&answer.sentiment.score) {
        return Err(AnalyzeError::InvalidAnswer(format!(
            "sentiment score {} outside -1..1",
            answer.sentiment.score
        )));
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gen(text: &str) -> Generation {
        Generation {
            text: text.into(),
            prompt_tokens: 1,
            generated_tokens: 1,
            prompt_ms: 0.0,
            generate_ms: 0.0,
        }
    }

    #[test]
    fn validates_answers() {
        let ok = parse(&gen(
            r#"{"summary":"x","sentiment":{"label":"negative","score":-0.8}}"#,
        ));
        assert_eq!(ok.unwrap().sentiment.score, -0.8);
        assert!(parse(&gen(
            r#"{"summary":"x","sentiment":{"label":"angry","score":0}}"#
        ))
        .is_err());
        assert!(parse(&gen(
            r#"{"summary":"x","sentiment":{"label":"neutral","score":1.5}}"#
        ))
        .is_err());
        assert!(parse(&gen("not json")).is_err());
        assert_eq!(request("  ").unwrap_err(), AnalyzeError::Empty);
    }
}
