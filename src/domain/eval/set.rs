//! The labelled evaluation set (`bench/eval/*.json`, format in its README): one
//! conversation per file with the correct answer, and the turns that prove it, for
//! every question of every built-in scorecard, and the expected sentiment per side.
//! Loading checks every label against the scorecards, so a wrong label is an error
//! that names its file and question, never a silent miss.

use crate::domain::scorecard::{self, Template};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub id: String,
    /// `call` or `ticket`.
    pub kind: String,
    pub language: String,
    pub grade: Grade,
    #[serde(default)]
    pub about: String,
    pub turns: Vec<Turn>,
    pub sentiment: Sides,
    /// Scorecard key -> question id -> label.
    pub labels: BTreeMap<String, BTreeMap<String, Label>>,
}

/// How good the agent is on the scorecard that fits the conversation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grade {
    pub scorecard: String,
    /// `good`, `mediocre` or `bad`.
    pub quality: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Turn {
    /// `agent` or `customer`.
    pub speaker: String,
    pub text: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sides {
    pub customer: String,
    pub agent: String,
    pub overall: String,
}

impl Sides {
    pub fn get(&self, side: &str) -> &str {
        match side {
            "customer" => &self.customer,
            "agent" => &self.agent,
            _ => &self.overall,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Label {
    pub answer: Value,
    /// 0-based indexes of the turns that prove the answer.
    pub turns: Vec<usize>,
}

pub const QUALITIES: [&str; 3] = ["good", "mediocre", "bad"];
const SENTIMENTS: [&str; 3] = ["positive", "neutral", "negative"];

/// The built-in scorecards by key, in the order reports show them.
pub fn scorecards() -> Vec<(&'static str, Template)> {
    ["service_qa", "meddic", "bant", "spin"]
        .into_iter()
        .filter_map(|k| scorecard::builtin(k).map(|t| (k, t)))
        .collect()
}

/// Parses and checks one item; the error says what is wrong.
pub fn parse(text: &str, scorecards: &[(&str, Template)]) -> Result<Item, String> {
    let item: Item = serde_json::from_str(text).map_err(|e| format!("not a valid item: {e}"))?;
    check(&item, scorecards)?;
    Ok(item)
}

fn check(item: &Item, scorecards: &[(&str, Template)]) -> Result<(), String> {
    if item.id.trim().is_empty() {
        return Err("id is empty".into());
    }
    if !matches!(item.kind.as_str(), "call" | "ticket") {
        return Err(format!("kind {:?}: call or ticket", item.kind));
    }
    if item.turns.is_empty() {
        return Err("no turns".into());
    }
    if let Some((n, t)) = item.turns.iter().enumerate().find(|(_, t)| {
        !matches!(t.speaker.as_str(), "agent" | "customer") || t.text.trim().is_empty()
    }) {
        return Err(format!(
            "turn {n}: speaker must be agent or customer and the text not empty (speaker {:?})",
            t.speaker
        ));
    }
    for side in ["customer", "agent", "overall"] {
        if !SENTIMENTS.contains(&item.sentiment.get(side)) {
            return Err(format!("sentiment.{side}: positive, neutral or negative"));
        }
    }
    if !QUALITIES.contains(&item.grade.quality.as_str()) {
        return Err("grade.quality: good, mediocre or bad".into());
    }
    if !scorecards.iter().any(|(k, _)| *k == item.grade.scorecard) {
        return Err(format!(
            "grade.scorecard {:?}: not a built-in scorecard",
            item.grade.scorecard
        ));
    }
    for (key, template) in scorecards {
        let labels = item
            .labels
            .get(*key)
            .ok_or_else(|| format!("labels.{key}: missing"))?;
        for q in template.questions() {
            let label = labels
                .get(&q.id)
                .ok_or_else(|| format!("labels.{key}.{}: missing", q.id))?;
            if !q.accepts(&label.answer) {
                return Err(format!(
                    "labels.{key}.{}: {} is not an answer to this question",
                    q.id, label.answer
                ));
            }
            if let Some(t) = label.turns.iter().find(|t| **t >= item.turns.len()) {
                return Err(format!(
                    "labels.{key}.{}: turn {t} does not exist ({} turns)",
                    q.id,
                    item.turns.len()
                ));
            }
        }
        if let Some(extra) = labels.keys().find(|id| template.question(id).is_none()) {
            return Err(format!("labels.{key}.{extra}: no such question"));
        }
    }
    let (key, template) = scorecards
        .iter()
        .find(|(k, _)| *k == item.grade.scorecard)
        .ok_or("grade.scorecard")?;
    let score = reference_score(item, key, template);
    let agrees = match (item.grade.quality.as_str(), score) {
        ("good", Some(s)) => s > 80.0,
        ("bad", Some(s)) => s < 60.0,
        ("mediocre", Some(s)) => (60.0..=80.0).contains(&s),
        _ => false,
    };
    if !agrees {
        return Err(format!(
            "grade {} on {key} does not agree with the labels' score {score:?} (good > 80, bad < 60)",
            item.grade.quality
        ));
    }
    Ok(())
}

/// The score the labelled answers give on scorecard `key`.
pub fn reference_score(item: &Item, key: &str, template: &Template) -> Option<f64> {
    let labels = item.labels.get(key)?;
    scorecard::total(template, &|id| labels.get(id).map(|l| l.answer.clone()))
}
