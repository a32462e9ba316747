//! Greedy choice under a grammar, fast: the most likely token is tried against the
//! grammar first, and only when the grammar refuses it is the grammar applied to the
//! whole vocabulary (about 150,000 tokens for Qwen). The token chosen is the same as
//! applying the grammar first; most steps skip the full pass.

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::data::LlamaTokenData;
use llama_cpp_2::token::data_array::LlamaTokenDataArray;
use llama_cpp_2::token::LlamaToken;

fn best(candidates: impl Iterator<Item = (LlamaToken, f32)>) -> Option<(LlamaToken, f32)> {
    candidates
        .filter(|(_, l)| l.is_finite())
        .fold(None, |acc, (t, l)| match acc {
            Some((_, bl)) if bl >= l => acc,
            _ => Some((t, l)),
        })
}

/// The grammar-allowed token with the highest logit at batch output `idx`, accepted
/// into `grammar`.
pub fn pick(ctx: &LlamaContext<'_>, idx: i32, grammar: &mut LlamaSampler) -> LlamaToken {
    let logits = ctx.get_logits_ith(idx);
    let top = best(
        logits
            .iter()
            .enumerate()
            .map(|(i, l)| (LlamaToken(i as i32), *l)),
    );
    if let Some((token, logit)) = top {
        let mut one = LlamaTokenDataArray::new(vec![LlamaTokenData::new(token, logit, 0.0)], false);
        one.apply_sampler(grammar);
        if one.data[0].logit().is_finite() {
            grammar.accept(token);
            return token;
        }
    }
    let mut all = ctx.token_data_array_ith(idx);
    all.apply_sampler(grammar);
    let token = best(all.data.iter().map(|d| (d.id(), d.logit())))
        .map(|(t, _)| t)
        .unwrap_or(LlamaToken(0));
    grammar.accept(token);
    token
}
