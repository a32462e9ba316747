//! Chat prompts as tokens, with content that cannot act as control tokens: the model's
//! chat template is rendered around markers, its own text is tokenized with special
//! tokens parsed, and every piece of content (system prompt, transcript, question) with
//! special tokens NOT parsed. A transcript or ticket that contains `<|im_end|>` or
//! `<|im_start|>system` therefore stays plain text: no prompt injection through markup.

use super::super::EngineError;
use llama_cpp_2::model::{LlamaChatMessage, LlamaModel};
use llama_cpp_2::token::LlamaToken;

/// Marks where content goes in the rendered template; control characters that no
/// chat template contains.
fn marker(n: usize) -> String {
    format!("\u{2}{n}\u{3}")
}

/// The tokens of a chat whose user message is `parts` joined by blank lines, split
/// where each part starts: `cuts[i]` is the index of the first token of part `i`, so a
/// caller can evaluate the tokens before the last part once and reuse them.
pub struct ChatTokens {
    pub tokens: Vec<LlamaToken>,
    pub cuts: Vec<usize>,
}

/// Renders `system` and the user `parts` with the model's template (ChatML for Qwen).
pub fn chat_tokens(
    model: &LlamaModel,
    system: &str,
    parts: &[&str],
) -> Result<ChatTokens, EngineError> {
    let template = model
        .chat_template(None)
        .map_err(|e| EngineError::Model(format!("model has no chat template: {e}")))?;
    let user: Vec<String> = (1..=parts.len()).map(marker).collect();
    let msg = |role: &str, content: String| {
        LlamaChatMessage::new(role.to_string(), content)
            .map_err(|e| EngineError::Input(format!("prompt contains a NUL byte: {e}")))
    };
    let rendered = model
        .apply_chat_template(
            &template,
            &[msg("system", marker(0))?, msg("user", user.join("\n\n"))?],
            true,
        )
        .map_err(|e| EngineError::Inference(format!("chat template: {e}")))?;
    let vocab = model.vocab();
    let contents: Vec<&str> = std::iter::once(system)
        .chain(parts.iter().copied())
        .collect();
    let mut tokens = Vec::new();
    let mut cuts = Vec::new();
    let mut rest = rendered.as_str();
    for (n, content) in contents.iter().enumerate() {
        let mark = marker(n);
        let Some(at) = rest.find(&mark) else {
            return Err(EngineError::Model(
                "the model's chat template drops part of the prompt".into(),
            ));
        };
        vocab.tokenize_into(&rest.as_bytes()[..at], &mut tokens, false, true);
        if n > 0 {
            cuts.push(tokens.len());
        }
        vocab.tokenize_into(content.as_bytes(), &mut tokens, false, false);
        rest = &rest[at + mark.len()..];
    }
    vocab.tokenize_into(rest.as_bytes(), &mut tokens, false, true);
    Ok(ChatTokens { tokens, cuts })
}
