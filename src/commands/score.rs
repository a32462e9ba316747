//! `insite score FILE --scorecard KEY|TEMPLATE.json`: the full analysis of a text
//! conversation (summary, sentiment and one scorecard) for scripts and the benchmark,
//! through the same worker and prompts as the server. Each line of FILE is one turn,
//! `speaker: text`. `--no-reuse` asks every question as a prompt of its own (the
//! benchmark's baseline).

use super::inference::{resolve_model, worker};
use super::{load_config, CommandError};
use crate::domain::analysis::Settings;
use crate::domain::scorecard;
use crate::pipeline::analysis::{self, Inputs};
use crate::pipeline::process::Progress;
use crate::store::conversations::{Conversation, SegmentRow};
use crate::store::templates::TemplateRow;
use std::io::Write;
use std::path::Path;

struct Printer(i32);

impl Progress for Printer {
    fn report(&mut self, _stage: &str, percent: i32) -> bool {
        if percent >= self.0 + 10 || (percent == 100 && self.0 != 100) {
            self.0 = percent;
            let _ = writeln!(std::io::stderr(), "analyzing: {percent}%");
        }
        true
    }
}

/// Turns from `speaker: text` lines.
fn turns(text: &str) -> Vec<SegmentRow> {
    segments(
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| match line.split_once(':') {
                Some((s, t)) if !s.trim().is_empty() && s.len() <= 32 => {
                    (s.trim().to_lowercase(), t.trim().to_string())
                }
                _ => ("unknown".to_string(), line.trim().to_string()),
            }),
    )
}

/// Segments of (speaker, text) turns; times advance with the words (about 2.5 a
/// second).
pub(super) fn segments(turns: impl Iterator<Item = (String, String)>) -> Vec<SegmentRow> {
    let mut at = 0.0;
    let mut out = Vec::new();
    for (speaker, said) in turns {
        let secs = said.split_whitespace().count() as f64 / 2.5;
        out.push(SegmentRow {
            id: String::new(),
            conversation_id: "cli".into(),
            org_id: String::new(),
            seq: out.len() as i32,
            speaker,
            start_seconds: at,
            end_seconds: at + secs,
            text: said,
            confidence: 1.0,
        });
        at += secs;
    }
    out
}

/// A template as the analysis takes it (key, version 1, not stored).
pub(super) fn template_row(
    key: &str,
    def: &scorecard::Template,
) -> Result<TemplateRow, CommandError> {
    Ok(TemplateRow {
        id: String::new(),
        org_id: String::new(),
        template_id: key.to_string(),
        kind: "scorecard".into(),
        version: 1,
        name: def.name.clone(),
        definition: serde_json::to_string(def).map_err(CommandError::from_display)?,
        created_by: None,
        created_at: crate::domain::time::stamp(chrono::DateTime::UNIX_EPOCH),
        retired_at: None,
    })
}

/// The analysis inputs of a conversation that is not stored (`kind`: call or ticket).
pub(super) fn inputs(
    kind: &str,
    segments: Vec<SegmentRow>,
    scorecards: Vec<(TemplateRow, scorecard::Template)>,
) -> Inputs {
    let now = crate::domain::time::stamp(chrono::DateTime::UNIX_EPOCH);
    Inputs {
        conv: Conversation {
            id: "cli".into(),
            org_id: String::new(),
            kind: kind.into(),
            source: "cli".into(),
            external_id: None,
            content_sha256: String::new(),
            state: "ready".into(),
            agent_user_id: None,
            direction: None,
            started_at: None,
            language: None,
            duration_seconds: None,
            channels: "[]".into(),
            metadata: "{}".into(),
            metrics: None,
            redactions: None,
            created_at: now,
        },
        segments,
        settings: Settings::default(),
        opted_out: false,
        scorecards,
        insights: Vec::new(),
        only_template: None,
    }
}

fn template(arg: &str) -> Result<scorecard::Template, CommandError> {
    if let Some(t) = scorecard::builtin(arg) {
        return Ok(t);
    }
    let text = std::fs::read_to_string(arg).map_err(|e| {
        CommandError(format!(
            "{arg}: not a built-in scorecard (meddic, bant, spin, service_qa) and not readable: {e}"
        ))
    })?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| CommandError(format!("{arg}: not JSON: {e}")))?;
    scorecard::parse(&json).map_err(|e| CommandError(format!("{arg}: {e}")))
}

pub fn score(
    config_path: &Path,
    file: &Path,
    scorecard_arg: &str,
    reuse: bool,
) -> Result<String, CommandError> {
    let config = load_config(config_path)?;
    let engines = &config.engines;
    let verified = resolve_model(engines, &engines.llm_model)?;
    let text = std::fs::read_to_string(file)
        .map_err(|e| CommandError(format!("{}: {e}", file.display())))?;
    let segments = turns(&text);
    if segments.is_empty() {
        return Err(CommandError(format!("{}: no turns", file.display())));
    }
    let def = template(scorecard_arg)?;
    let now = crate::domain::time::stamp(chrono::DateTime::UNIX_EPOCH);
    let row = template_row(scorecard_arg, &def)?;
    let inputs = inputs("ticket", segments, vec![(row, def)]);
    let engine = worker(engines, None, Some(verified.path.clone()))?;
    let _ = writeln!(
        std::io::stderr(),
        "analyzing {} with {}{}",
        file.display(),
        verified.entry.name,
        if reuse { "" } else { " (no prefix reuse)" }
    );
    let produced = analysis::run_with(
        &inputs,
        &engine,
        &verified.entry,
        engines.llm_context,
        reuse,
        analysis::prompts::Version::LATEST,
        &now,
        &mut Printer(-10),
    )
    .map_err(|f| CommandError(format!("{}: {}", f.code, f.message)))?;
    let analysis = produced
        .analysis
        .unwrap_or_else(|| analysis::not_run(&inputs, "skipped", "NOTHING", "", &now));
    let parse = |s: Option<&str>| -> serde_json::Value {
        s.and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default()
    };
    let result = produced.results.first();
    serde_json::to_string_pretty(&serde_json::json!({
        "analysis": parse(analysis.result.as_deref()),
        "scorecard": {
            "name": inputs.scorecards[0].1.name,
            "score": result.and_then(|r| r.score),
            "answers": parse(result.map(|r| r.answers.as_str())),
        },
        "model": verified.entry.name,
        "model_sha256": verified.entry.sha256,
        "prompt_version": analysis::prompts::Version::LATEST.name(),
        "reuse": reuse,
        "timings": parse(analysis.timings.as_deref()),
    }))
    .map_err(CommandError::from_display)
}
