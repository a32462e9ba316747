//! The analysis stage: what the local LLM finds in a conversation: summary, reason,
//! outcome, action items, topics, sentiment, every applicable scorecard and the org's
//! custom insights. The transcript is read once per part (see `engines::llm::ask`) and
//! every question shares it. Long conversations are read in parts whose answers merge
//! (`answers`). Nothing is sent to the LLM when the org switched the text modality or
//! every analysis off, or when a participant opted out of AI processing: the stored
//! analysis then says why.

pub mod answers;
pub mod inputs;
pub mod narrow;
pub mod prompts;
pub mod prompts_v2;

use super::process::{stopped, Failure, Progress};
use crate::domain::evidence::Line;
use crate::engines::llm::{Answers, Question, SharedPrompt};
use crate::engines::manifest::ModelEntry;
use crate::engines::worker::protocol::{Op, Output};
use crate::engines::worker::{EngineWorker, WorkerError};
use crate::engines::EngineError;
use crate::store::analyses::{AnalysisRow, ResultRow};
use crate::store::identity::new_id;
use answers::Answer;
pub use inputs::{load, Inputs};
use prompts::Version;
use serde_json::json;

/// What one run produced, ready to store.
pub struct Produced {
    pub analysis: Option<AnalysisRow>,
    pub results: Vec<ResultRow>,
}

/// What a question is for.
#[derive(Clone, Copy)]
enum Target {
    Overview,
    /// Index into `prompts::SIDES`.
    Sentiment(usize),
    Score(usize, usize),
    Insight(usize),
    /// Whether template n applies (its `applies_when`; `analysis.v2`).
    Gate(usize),
}

/// Why nothing is sent to the LLM, when that is so: (code, reason).
pub fn skip_reason(i: &Inputs) -> Option<(&'static str, &'static str)> {
    if !i.settings.text {
        return Some((
            "TEXT_MODALITY_OFF",
            "the organization switched the text modality off: no conversation text is sent to the LLM",
        ));
    }
    if i.opted_out {
        return Some((
            "PARTICIPANT_OPTED_OUT",
            "a participant opted out of AI processing",
        ));
    }
    if !i.settings.any() && i.only_template.is_none() {
        return Some((
            "ANALYSIS_OFF",
            "the organization switched every analysis off",
        ));
    }
    if i.segments.iter().all(|s| s.text.trim().is_empty()) {
        return Some(("NO_TEXT", "the conversation has no words to analyse"));
    }
    None
}

fn row(i: &Inputs, now: &str) -> AnalysisRow {
    AnalysisRow {
        id: new_id(),
        org_id: i.conv.org_id.clone(),
        conversation_id: i.conv.id.clone(),
        state: "done".into(),
        reason_code: None,
        reason: None,
        result: None,
        model: None,
        model_sha256: None,
        prompt_version: None,
        timings: None,
        created_at: now.to_string(),
    }
}

/// The record of an analysis that did not run (skipped or failed).
pub fn not_run(i: &Inputs, state: &str, code: &str, reason: &str, now: &str) -> AnalysisRow {
    AnalysisRow {
        state: state.into(),
        reason_code: Some(code.into()),
        reason: Some(reason.into()),
        ..row(i, now)
    }
}

/// The questions to ask about the turns `range`, whose quotable sentences are the
/// `quote` rule.
fn questions(
    i: &Inputs,
    version: Version,
    range: std::ops::Range<usize>,
    quote: &str,
) -> Vec<(Target, Question)> {
    let v2 = version == Version::V2;
    let mut out = Vec::new();
    if i.only_template.is_none() {
        if i.settings.summary {
            let q = if v2 {
                prompts_v2::overview()
            } else {
                prompts::overview(quote)
            };
            out.push((Target::Overview, q));
        }
        if i.settings.sentiment {
            // v2 derives the whole conversation's sentiment from the two sides.
            let sides = if v2 {
                &prompts::SIDES[..2]
            } else {
                &prompts::SIDES[..]
            };
            for (n, side) in sides.iter().enumerate() {
                out.push((Target::Sentiment(n), prompts::sentiment(side, quote)));
            }
        }
        if i.settings.insights {
            for (n, (_, insight)) in i.insights.iter().enumerate() {
                out.push((Target::Insight(n), prompts::insight(insight, quote)));
            }
        }
    }
    if i.settings.scorecards || i.only_template.is_some() {
        let all: Vec<usize> = range.clone().collect();
        let agents: Vec<usize> = range
            .filter(|n| prompts_v2::is_agent(&i.segments[*n].speaker))
            .collect();
        let any_turn = prompts_v2::turn_rule(&all);
        let agent_turn = prompts_v2::turn_rule(if agents.is_empty() { &all } else { &agents });
        for (t, (_, template)) in i.scorecards.iter().enumerate() {
            if v2 && !template.applies_when.is_empty() {
                out.push((Target::Gate(t), prompts_v2::gate(template)));
            }
            for (q, question) in template.questions().enumerate() {
                if v2 && narrow::is_narrow(question) {
                    continue;
                }
                let asked = if !v2 {
                    prompts::scorecard(question, quote)
                } else if prompts_v2::about_agent(question) {
                    prompts_v2::scorecard(question, &agent_turn)
                } else {
                    prompts_v2::scorecard(question, &any_turn)
                };
                out.push((Target::Score(t, q), asked));
            }
        }
    }
    out
}

/// Splits the turns into parts of at most `budget` characters of layout.
fn parts(i: &Inputs, budget: usize) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut size) = (0, 0);
    for (n, s) in i.segments.iter().enumerate() {
        let len = s.text.len() + s.speaker.len() + 12;
        if size + len > budget && n > start {
            out.push(start..n);
            start = n;
            size = 0;
        }
        size += len;
    }
    out.push(start..i.segments.len());
    out
}

fn failure(e: WorkerError) -> Failure {
    match e {
        WorkerError::Poison(_) => Failure::input("ANALYSIS_POISON", e.to_string()),
        WorkerError::Engine(EngineError::Input(m)) => Failure::input("ANALYSIS_INPUT", m),
        e => Failure {
            code: "ANALYSIS_ENGINE",
            message: e.to_string(),
            retry: true,
        },
    }
}

/// Runs the analysis with `engine` (an LLM worker) and `model` (its manifest entry);
/// `context_tokens` is the model context in force.
pub fn run(
    i: &Inputs,
    engine: &EngineWorker,
    model: &ModelEntry,
    context_tokens: u32,
    now: &str,
    progress: &mut dyn Progress,
) -> Result<Produced, Failure> {
    let version = prompts::Version::LATEST;
    run_with(
        i,
        engine,
        model,
        context_tokens,
        true,
        version,
        now,
        progress,
    )
}

/// `run`, choosing whether the questions share the evaluated transcript (`reuse`) or
/// each is a prompt of its own (the benchmark's baseline), and the prompt version
/// (`insite eval` compares them).
#[allow(clippy::too_many_arguments)]
pub fn run_with(
    i: &Inputs,
    engine: &EngineWorker,
    model: &ModelEntry,
    context_tokens: u32,
    reuse: bool,
    version: prompts::Version,
    now: &str,
    progress: &mut dyn Progress,
) -> Result<Produced, Failure> {
    if version == Version::Blind {
        let mut masked = i.clone();
        for s in &mut masked.segments {
            s.text = "(withheld)".into();
        }
        let v2 = Version::V2;
        let mut p = run_with(
            &masked,
            engine,
            model,
            context_tokens,
            reuse,
            v2,
            now,
            progress,
        )?;
        for r in &mut p.results {
            r.prompt_version = version.name().into();
        }
        if let Some(a) = &mut p.analysis {
            a.prompt_version = Some(version.name().into());
        }
        return Ok(p);
    }
    let asked = questions(i, version, 0..i.segments.len(), "");
    // v2 asks an agent's yes/no questions turn by turn, outside the shared prompt.
    let narrow_only = version == Version::V2
        && (i.settings.scorecards || i.only_template.is_some())
        && i.scorecards
            .iter()
            .any(|(_, t)| t.questions().any(narrow::is_narrow));
    if asked.is_empty() && !narrow_only {
        return Ok(Produced {
            analysis: None,
            results: Vec::new(),
        });
    }
    // About 3 characters a token, with room for the longest question and its answer.
    let budget = (context_tokens as usize).saturating_sub(1200).max(1000) * 3;
    let mut todo: std::collections::VecDeque<_> = if asked.is_empty() {
        Default::default()
    } else {
        parts(i, budget).into()
    };
    let total = i.segments.len().max(1);
    let mut done_turns = 0;
    let mut got: Vec<(std::ops::Range<usize>, Answers)> = Vec::new();
    while let Some(range) = todo.pop_front() {
        let turns: Vec<prompts::Turn> = i.segments[range.clone()]
            .iter()
            .map(|s| prompts::Turn {
                speaker: &s.speaker,
                start: s.start_seconds,
                text: &s.text,
            })
            .collect();
        let quote = prompts::quote_rule(&turns);
        let (system, context) = match version {
            Version::V1 => (prompts::SYSTEM, prompts::layout(&turns)),
            _ => (prompts_v2::SYSTEM, prompts_v2::layout(&turns, range.start)),
        };
        let op = Op::Ask {
            prompt: SharedPrompt {
                system: system.to_string(),
                context,
                questions: questions(i, version, range.clone(), &quote)
                    .into_iter()
                    .map(|(_, q)| q)
                    .collect(),
                reuse,
            },
        };
        if !progress.report("analyze", (done_turns * 100 / total) as i32) {
            return Err(stopped());
        }
        let base = done_turns * 100 / total;
        let share = range.len() * 100 / total;
        let started = std::time::Instant::now();
        let mut report = |p: i32| {
            let _ = progress.report("analyze", (base + share * p as usize / 100) as i32);
        };
        let result = engine.call(&op, &mut report);
        progress.engine_seconds(started.elapsed().as_secs_f64());
        match result {
            Ok(Output::Answers(a)) => {
                done_turns += range.len();
                got.push((range, a));
            }
            Ok(_) => return Err(failure(WorkerError::Start("unexpected reply".into()))),
            // Too long for the context after all: read it in two halves.
            Err(WorkerError::Engine(EngineError::Input(m)))
                if m.contains("exceeds the model context") && range.len() > 1 =>
            {
                let mid = range.start + range.len() / 2;
                todo.push_front(mid..range.end);
                todo.push_front(range.start..mid);
            }
            Err(e) => return Err(failure(e)),
        }
    }
    let applies = applicable(i, version, &asked, &got)
        .map_err(|e| Failure::input("ANSWER_INVALID", e.to_string()))?;
    let narrowed = if version == Version::V2 {
        let started = std::time::Instant::now();
        let r = narrow::ask(i, engine, &applies, &mut |done, of| {
            let _ = progress.report("analyze", (90 + done * 10 / of.max(1)) as i32);
        })
        .map_err(failure)?;
        progress.engine_seconds(started.elapsed().as_secs_f64());
        r
    } else {
        Default::default()
    };
    assemble(i, &asked, &got, &applies, &narrowed, model, version, now)
        .map_err(|e| Failure::input("ANSWER_INVALID", e.to_string()))
}

/// Which templates apply: all in v1; in v2 those without `applies_when` and those
/// some part found it true of.
fn applicable(
    i: &Inputs,
    version: Version,
    asked: &[(Target, Question)],
    got: &[(std::ops::Range<usize>, Answers)],
) -> Result<Vec<bool>, answers::Invalid> {
    let mut applies: Vec<bool> = i
        .scorecards
        .iter()
        .map(|(_, t)| version == Version::V1 || t.applies_when.is_empty())
        .collect();
    for (_, a) in got {
        for ((target, _), text) in asked.iter().zip(&a.texts) {
            if let Target::Gate(t) = *target {
                applies[t] |= answers::applies(text)?;
            }
        }
    }
    Ok(applies)
}

#[allow(clippy::too_many_arguments)]
fn assemble(
    i: &Inputs,
    asked: &[(Target, Question)],
    got: &[(std::ops::Range<usize>, Answers)],
    applies: &[bool],
    narrowed: &std::collections::BTreeMap<(usize, usize), Vec<usize>>,
    model: &ModelEntry,
    version: prompts::Version,
    now: &str,
) -> Result<Produced, answers::Invalid> {
    let lines: Vec<Line> = i
        .segments
        .iter()
        .map(|s| Line {
            speaker: &s.speaker,
            start: s.start_seconds,
            end: s.end_seconds,
            text: &s.text,
        })
        .collect();
    let mut overviews = Vec::new();
    let mut sentiments = Vec::new();
    let mut scores: Vec<Vec<Vec<Answer>>> = i
        .scorecards
        .iter()
        .map(|(_, t)| vec![Vec::new(); t.questions().count()])
        .collect();
    let mut insights: Vec<Vec<Answer>> = vec![Vec::new(); i.insights.len()];
    for (&(t, q), turns) in narrowed {
        if let Some(question) = i.scorecards[t].1.questions().nth(q) {
            scores[t][q].push(answers::from_turns(question, turns, &lines));
        }
    }
    for (range, a) in got {
        let mut sides: [Option<answers::Side>; 3] = Default::default();
        for ((target, _), text) in asked.iter().zip(&a.texts) {
            match *target {
                Target::Overview => overviews.push(answers::overview(text)?),
                Target::Sentiment(n) => sides[n] = Some(answers::sentiment(text)?),
                Target::Score(t, q) => {
                    let question = i.scorecards[t].1.questions().nth(q);
                    if let Some(question) = question {
                        scores[t][q].push(match version {
                            Version::V1 => answers::scorecard(question, text, &lines)?,
                            _ => answers::scorecard_by_turns(question, text, &lines)?,
                        });
                    }
                }
                Target::Gate(_) => {}
                Target::Insight(n) => {
                    insights[n].push(answers::insight(&i.insights[n].1, text, &lines)?)
                }
            }
        }
        match sides {
            [Some(customer), Some(agent), Some(overall)] => {
                let s = answers::Sentiment {
                    customer: customer.scored(),
                    agent: agent.scored(),
                    overall: overall.scored(),
                    course: customer.course,
                };
                sentiments.push((s, range.len()));
            }
            [Some(customer), Some(agent), None] => {
                let (c, a, o) = answers::overall(&customer, &agent);
                let s = answers::Sentiment {
                    customer: c,
                    agent: a,
                    overall: o,
                    course: customer.course,
                };
                sentiments.push((s, range.len()));
            }
            _ => {}
        }
    }
    let timings = json!({
        "parts": got.len(),
        "prefix_tokens": got.iter().map(|(_, a)| a.prefix_tokens).sum::<usize>(),
        "evaluated_tokens": got.iter().map(|(_, a)| a.evaluated_tokens).sum::<usize>(),
        "generated_tokens": got.iter().map(|(_, a)| a.generated_tokens).sum::<usize>(),
        "prompt_ms": got.iter().map(|(_, a)| a.prompt_ms).sum::<f64>().round(),
        "total_ms": got.iter().map(|(_, a)| a.total_ms).sum::<f64>().round(),
    })
    .to_string();
    let mut results = Vec::new();
    for (t, (row, template)) in i.scorecards.iter().enumerate() {
        let merged: Vec<Answer> = template
            .questions()
            .zip(&scores[t])
            .filter_map(|(q, parts)| {
                if applies[t] {
                    answers::merge_scorecard(q, parts)
                } else {
                    Some(answers::not_applicable(q, &template.applies_when))
                }
            })
            .collect();
        let by_id = |id: &str| {
            merged
                .iter()
                .find(|a| a.question_id == id)
                .map(|a| a.answer.clone())
        };
        results.push(ResultRow {
            id: new_id(),
            org_id: i.conv.org_id.clone(),
            conversation_id: i.conv.id.clone(),
            template_id: row.template_id.clone(),
            template_version: row.version,
            agent_user_id: i.conv.agent_user_id.clone(),
            conversation_at: i
                .conv
                .started_at
                .clone()
                .unwrap_or_else(|| i.conv.created_at.clone()),
            score: crate::domain::scorecard::total(template, &by_id),
            answers: serde_json::to_string(&merged).unwrap_or_default(),
            model: model.name.clone(),
            prompt_version: version.name().into(),
            created_at: now.to_string(),
        });
    }
    let analysis = i.only_template.is_none().then(|| {
        let insight_answers: Vec<serde_json::Value> = i
            .insights
            .iter()
            .zip(&insights)
            .filter_map(|((row, def), parts)| {
                answers::merge_insight(def, parts).map(|a| {
                    json!({
                        "insight_id": row.template_id,
                        "version": row.version,
                        "key": def.key,
                        "question": def.question,
                        "answer": a.answer,
                        "evidence": a.evidence,
                        "rejected_quotes": a.rejected_quotes,
                    })
                })
            })
            .collect();
        let content = json!({
            "overview": answers::merge_overview(overviews),
            "sentiment": answers::merge_sentiment(sentiments),
            "insights": insight_answers,
        });
        AnalysisRow {
            result: Some(content.to_string()),
            model: Some(model.name.clone()),
            model_sha256: Some(model.sha256.clone()),
            prompt_version: Some(version.name().into()),
            timings: Some(timings),
            ..row(i, now)
        }
    });
    Ok(Produced { analysis, results })
}
