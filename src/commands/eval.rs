//! `insite eval SET`: the real analysis over a labelled set (`bench/eval`), scored
//! against its labels (`domain::eval`), printed as a table; `--compare` runs a second
//! model or prompt version on the same set and shows both side by side. Progress goes
//! to stderr, one line per conversation.

use super::inference::{resolve_model, worker};
use super::score::{inputs, segments, template_row};
use super::{load_config, CommandError};
use crate::domain::eval::set::{self, Item};
use crate::domain::eval::{report, Given, Outcome};
use crate::domain::scorecard::Template;
use crate::pipeline::analysis::answers::Answer;
use crate::pipeline::analysis::prompts::Version;
use crate::pipeline::analysis::{self};
use crate::pipeline::process::Progress;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What `insite eval` was asked to do.
pub struct EvalArgs {
    pub set: PathBuf,
    pub model: Option<String>,
    pub prompt_version: Option<String>,
    pub compare: Option<String>,
    /// Only these scorecards (all built-in ones when empty).
    pub scorecards: Vec<String>,
    /// Only the items with these ids (all when empty).
    pub only: Vec<String>,
    /// Where to write every answer and the numbers as JSON.
    pub json: Option<PathBuf>,
}

struct Quiet;

impl Progress for Quiet {
    fn report(&mut self, _stage: &str, _percent: i32) -> bool {
        true
    }
}

/// Loads every `*.json` of `dir` (or the one file) as items, checked; all problems at
/// once.
pub fn load_set(path: &Path, scorecards: &[(&str, Template)]) -> Result<Vec<Item>, CommandError> {
    let files: Vec<PathBuf> = if path.is_dir() {
        let mut f: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| CommandError(format!("{}: {e}", path.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        f.sort();
        f
    } else {
        vec![path.to_path_buf()]
    };
    let mut items: Vec<Item> = Vec::new();
    let mut problems = Vec::new();
    for f in &files {
        let parsed = std::fs::read_to_string(f)
            .map_err(|e| e.to_string())
            .and_then(|t| set::parse(&t, scorecards));
        match parsed {
            Ok(item) if items.iter().any(|i| i.id == item.id) => {
                problems.push(format!("{}: id {} is used twice", f.display(), item.id))
            }
            Ok(item) => items.push(item),
            Err(e) => problems.push(format!("{}: {e}", f.display())),
        }
    }
    if !problems.is_empty() {
        return Err(CommandError(format!(
            "the evaluation set has {} problem(s):\n  {}",
            problems.len(),
            problems.join("\n  ")
        )));
    }
    if items.is_empty() {
        return Err(CommandError(format!(
            "{}: no items (*.json)",
            path.display()
        )));
    }
    Ok(items)
}

/// CPU seconds a process has used so far (user and system), from /proc.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / rustix::param::clock_ticks_per_second() as f64)
}

struct Run {
    title: String,
    model: String,
    version: Version,
    outcomes: Vec<Outcome>,
    report: report::Report,
}

fn outcome(item: &Item, produced: &analysis::Produced) -> Outcome {
    let mut o = Outcome {
        id: item.id.clone(),
        ..Outcome::default()
    };
    for r in &produced.results {
        let answers: Vec<Answer> = serde_json::from_str(&r.answers).unwrap_or_default();
        o.answers.insert(
            r.template_id.clone(),
            answers
                .into_iter()
                .map(|a| {
                    let mut turns: Vec<usize> = a.evidence.iter().map(|e| e.segment).collect();
                    turns.dedup();
                    let given = Given {
                        answer: a.answer,
                        turns,
                        rationale: a.rationale,
                    };
                    (a.question_id, given)
                })
                .collect(),
        );
        o.scores.insert(r.template_id.clone(), r.score);
    }
    let result: serde_json::Value = produced
        .analysis
        .as_ref()
        .and_then(|a| a.result.as_deref())
        .and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or_default();
    for side in ["customer", "agent", "overall"] {
        if let Some(l) = result["sentiment"][side]["label"].as_str() {
            o.sentiment.insert(side.into(), l.into());
        }
    }
    let ov = &result["overview"];
    for field in ["summary", "reason", "outcome"] {
        if let Some(t) = ov[field].as_str() {
            o.texts.push((field.into(), t.into()));
        }
    }
    for t in ov["action_items"].as_array().into_iter().flatten() {
        if let Some(t) = t.as_str() {
            o.texts.push(("action_items".into(), t.into()));
        }
    }
    o
}

fn run(
    config: &crate::config::Config,
    items: &[Item],
    scorecards: &[(&str, Template)],
    model: &str,
    version: Version,
) -> Result<Run, CommandError> {
    let engines = &config.engines;
    let verified = resolve_model(engines, model)?;
    let engine = worker(engines, None, Some(verified.path.clone()))?;
    let now = crate::domain::time::stamp(chrono::DateTime::UNIX_EPOCH);
    let rows = scorecards
        .iter()
        .map(|(k, t)| template_row(k, t).map(|r| (r, t.clone())))
        .collect::<Result<Vec<_>, _>>()?;
    let mut outcomes = Vec::new();
    for (n, item) in items.iter().enumerate() {
        let turns = item
            .turns
            .iter()
            .map(|t| (t.speaker.clone(), t.text.clone()));
        let i = inputs(&item.kind, segments(turns), rows.clone());
        let pid = engine.pid();
        let before = cpu_seconds(pid);
        let started = Instant::now();
        let produced = analysis::run_with(
            &i,
            &engine,
            &verified.entry,
            engines.llm_context,
            true,
            version,
            &now,
            &mut Quiet,
        );
        let wall = started.elapsed().as_secs_f64();
        // A worker started (or restarted) by this call counts from zero.
        let after_pid = engine.pid();
        let cpu = cpu_seconds(after_pid).unwrap_or(0.0)
            - if after_pid == pid {
                before.unwrap_or(0.0)
            } else {
                0.0
            };
        let mut o = match &produced {
            Ok(p) => outcome(item, p),
            Err(f) => Outcome {
                id: item.id.clone(),
                error: Some(format!("{}: {}", f.code, f.message)),
                ..Outcome::default()
            },
        };
        o.cpu_seconds = cpu;
        o.wall_seconds = wall;
        let _ = writeln!(
            std::io::stderr(),
            "[{}/{}] {} {}: {:.0} s{}",
            n + 1,
            items.len(),
            verified.entry.name,
            item.id,
            wall,
            o.error
                .as_deref()
                .map(|e| format!(" FAILED {e}"))
                .unwrap_or_default()
        );
        outcomes.push(o);
    }
    let report = report::build(items, &outcomes, scorecards);
    Ok(Run {
        title: format!("{} {}", verified.entry.name, version.name()),
        model: verified.entry.name.clone(),
        version,
        outcomes,
        report,
    })
}

fn version(name: &str) -> Result<Version, CommandError> {
    Version::parse(name).ok_or_else(|| {
        let known: Vec<&str> = Version::ALL.iter().map(|v| v.name()).collect();
        CommandError(format!(
            "unknown prompt version {name:?}; known: {}",
            known.join(", ")
        ))
    })
}

pub fn eval(config_path: &Path, args: &EvalArgs) -> Result<String, CommandError> {
    let config = load_config(config_path)?;
    let all = set::scorecards();
    if let Some(unknown) = args
        .scorecards
        .iter()
        .find(|k| !all.iter().any(|(key, _)| key == k))
    {
        return Err(CommandError(format!(
            "--scorecard {unknown}: not a built-in scorecard (service_qa, meddic, bant, spin)"
        )));
    }
    let mut items = load_set(&args.set, &all)?;
    if !args.only.is_empty() {
        if let Some(missing) = args
            .only
            .iter()
            .find(|id| !items.iter().any(|i| &i.id == *id))
        {
            return Err(CommandError(format!(
                "--only {missing}: no such item in the set"
            )));
        }
        items.retain(|i| args.only.contains(&i.id));
    }
    let scorecards: Vec<(&str, Template)> = all
        .into_iter()
        .filter(|(k, _)| args.scorecards.is_empty() || args.scorecards.iter().any(|s| s == k))
        .collect();
    let model = args
        .model
        .clone()
        .unwrap_or_else(|| config.engines.llm_model.clone());
    let v = match &args.prompt_version {
        Some(name) => version(name)?,
        None => Version::LATEST,
    };
    let mut runs = vec![run(&config, &items, &scorecards, &model, v)?];
    if let Some(other) = &args.compare {
        let (m, v2) = match Version::parse(other) {
            Some(v2) => (model.clone(), v2),
            None => (other.clone(), v),
        };
        runs.push(run(&config, &items, &scorecards, &m, v2)?);
    }
    if let Some(path) = &args.json {
        let json = serde_json::json!({
            "set": args.set.display().to_string(),
            "runs": runs.iter().map(|r| serde_json::json!({
                "model": r.model,
                "prompt_version": r.version.name(),
                "report": r.report,
                "outcomes": r.outcomes,
            })).collect::<Vec<_>>(),
        });
        std::fs::write(
            path,
            serde_json::to_vec_pretty(&json).map_err(CommandError::from_display)?,
        )
        .map_err(|e| CommandError(format!("{}: {e}", path.display())))?;
    }
    let others: Vec<(&str, &report::Report)> = runs[1..]
        .iter()
        .map(|r| (r.title.as_str(), &r.report))
        .collect();
    Ok(format!(
        "{} conversations of {}\n{}",
        items.len(),
        args.set.display(),
        runs[0].report.render(&runs[0].title, &others)
    ))
}
