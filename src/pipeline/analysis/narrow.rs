//! Narrow questions (`analysis.v2`): a small model asked "did the agent ever do X" over
//! a whole conversation says yes to nearly everything. Asked about one agent reply at a
//! time, with the customer turn before it, it judges far better. Each agent turn is one
//! short shared prompt, and every yes/no question about the agent of every template
//! that applies is asked of it; a question is "yes" when some turn shows it, and those
//! turns are its evidence. A question looks only at the turns its `look_at` names
//! (the opening, the closing), and one with an exact `check` is not asked at all.
//!
//! A conversation with no turn known to be the agent's (a mono recording is one
//! speaker, `mixed`, until speakers are separated) has every turn asked, each shown as
//! "a reply" rather than the agent's, and exact checks fall back to the model: whose
//! name is whose cannot be told without speakers.

use super::inputs::Inputs;
use super::prompts_v2;
use crate::domain::names;
use crate::domain::scorecard::{Check, QuestionDef, QuestionType};
use crate::engines::llm::{Question, SharedPrompt};
use crate::engines::worker::protocol::{Op, Output};
use crate::engines::worker::{EngineWorker, WorkerError};
use std::collections::BTreeMap;

const SYSTEM: &str = "You check one reply of an agent in a customer conversation. \
Answer with JSON only. Answer \"yes\" only when the agent's reply itself clearly does \
what the question asks; otherwise \"no\".";

/// How much likelier (in logits) "yes" must be than "no" for a turn to count: a small
/// model leans to "yes", so an even call is a "no".
const YES_MARGIN: f32 = 0.0;

/// logit(yes) - logit(no), each the likelier of its two spellings.
fn margin(seen: &[f32]) -> f32 {
    match seen {
        [y, yc, n, nc] => y.max(*yc) - n.max(*nc),
        _ => 0.0,
    }
}

/// Most characters of the customer's turn shown before the reply.
const BEFORE: usize = 300;

/// Whether question `q` is asked turn by turn.
pub fn is_narrow(q: &QuestionDef) -> bool {
    q.kind == QuestionType::YesNo && prompts_v2::about_agent(q)
}

fn question(q: &QuestionDef) -> Question {
    let guidance = prompts_v2::guidance(q);
    Question {
        text: format!(
            "Question: In this reply, {}?{guidance} Reply with yes or no.",
            lower_first(q.text.trim().trim_end_matches('?'))
        ),
        grammar: r#"root ::= "yes" | "no""#.to_string(),
        max_tokens: 2,
        watch: ["yes", "Yes", "no", "No"].map(String::from).to_vec(),
    }
}

/// "Did the agent …" as it reads after "In this reply, ".
fn lower_first(text: &str) -> String {
    let mut c = text.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

fn context(before: Option<&str>, reply: &str, roles_known: bool) -> String {
    let (them, this) = if roles_known {
        ("Customer", "Agent's reply")
    } else {
        ("Before", "Reply (speaker unknown)")
    };
    let mut out = String::new();
    if let Some(b) = before {
        let cut: String = b.chars().take(BEFORE).collect();
        out.push_str(&format!("{them}: {}\n", cut.replace('\n', " ")));
    }
    out.push_str(&format!("{this}: {}\n", reply.replace('\n', " ")));
    out
}

/// The turns narrow questions are asked of: the agent's, or every turn when no turn
/// is known to be the agent's; and whether roles were known.
fn candidates(i: &Inputs) -> (Vec<usize>, bool) {
    let worded = |n: &usize| i.segments[*n].text.split_whitespace().count() >= 2;
    let agent: Vec<usize> = (0..i.segments.len())
        .filter(|n| prompts_v2::is_agent(&i.segments[*n].speaker))
        .filter(worded)
        .collect();
    if agent.is_empty() && !i.segments.iter().any(|s| prompts_v2::is_agent(&s.speaker)) {
        ((0..i.segments.len()).filter(worded).collect(), false)
    } else {
        (agent, true)
    }
}

/// (template, question) -> the agent turns that show it, for every narrow question of
/// the templates that apply; `progress` gets each turn done out of all.
pub fn ask(
    i: &Inputs,
    engine: &EngineWorker,
    applies: &[bool],
    progress: &mut dyn FnMut(usize, usize),
) -> Result<BTreeMap<(usize, usize), Vec<usize>>, WorkerError> {
    let (agent_turns, roles_known) = candidates(i);
    let mut found: BTreeMap<(usize, usize), Vec<usize>> = BTreeMap::new();
    // (key, question, the turns it looks at)
    let mut targets = Vec::new();
    for (t, (_, template)) in i.scorecards.iter().enumerate() {
        if !applies.get(t).copied().unwrap_or(false) {
            continue;
        }
        for (n, q) in template.questions().enumerate() {
            if !is_narrow(q) {
                continue;
            }
            let looked = q.look_at.pick(&agent_turns);
            match q.check.filter(|_| roles_known) {
                Some(Check::CustomerName) => {
                    found.insert((t, n), named(i, looked));
                }
                None => {
                    found.insert((t, n), Vec::new());
                    targets.push(((t, n), question(q), looked.to_vec()));
                }
            }
        }
    }
    for (done, &n) in agent_turns.iter().enumerate() {
        let asked: Vec<&((usize, usize), Question, Vec<usize>)> = targets
            .iter()
            .filter(|(_, _, at)| at.contains(&n))
            .collect();
        if asked.is_empty() {
            continue;
        }
        let before = i.segments[..n]
            .iter()
            .rev()
            .find(|s| !roles_known || !prompts_v2::is_agent(&s.speaker))
            .map(|s| s.text.as_str());
        let op = Op::Ask {
            prompt: SharedPrompt {
                system: SYSTEM.to_string(),
                context: context(before, &i.segments[n].text, roles_known),
                questions: asked.iter().map(|(_, q, _)| q.clone()).collect(),
                reuse: true,
            },
        };
        let Output::Answers(a) = engine.call(&op, &mut |_| {})? else {
            return Err(WorkerError::Start("unexpected reply".into()));
        };
        for ((key, _, _), seen) in asked.iter().zip(&a.watched) {
            if margin(seen) > YES_MARGIN {
                if let Some(turns) = found.get_mut(key) {
                    turns.push(n);
                }
            }
        }
        progress(done + 1, agent_turns.len());
    }
    Ok(found)
}

/// The looked-at agent turns that hold the customer's name.
fn named(i: &Inputs, looked: &[usize]) -> Vec<usize> {
    let turns: Vec<(bool, &str)> = i
        .segments
        .iter()
        .map(|s| (prompts_v2::is_agent(&s.speaker), s.text.as_str()))
        .collect();
    let names = names::customer_names(&turns);
    looked
        .iter()
        .copied()
        .filter(|n| names::mentions(&i.segments[*n].text, &names))
        .collect()
}
