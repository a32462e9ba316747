//! The numbers of one run over the set: per question and per scorecard accuracy beside
//! the constant "most common answer" baseline, Cohen's kappa, how often cited evidence
//! is a labelled proving turn, score separation of good and bad agents, sentiment per
//! side, flagged summary sentences, truncated fields and the cost per conversation.
//! An answer on a 1-5 scale counts as right within one point of the label.

use super::faithful::{self, Transcript};
use super::set::Item;
use super::Outcome;
use crate::domain::scorecard::{QuestionType, Template};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Agreement of answers with labels over one question or a pool of them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Agreement {
    pub n: usize,
    pub correct: usize,
    /// Right answers of the constant "most common label" baseline.
    pub baseline: usize,
    /// (label, given) pairs, exact, for kappa.
    #[serde(skip)]
    pairs: Vec<(String, String)>,
    /// Answers citing evidence, and those whose every cited turn is a proving turn.
    pub cited: usize,
    pub supported: usize,
}

impl Agreement {
    pub fn accuracy(&self) -> Option<f64> {
        ratio(self.correct, self.n)
    }
    pub fn baseline_accuracy(&self) -> Option<f64> {
        ratio(self.baseline, self.n)
    }
    pub fn support_rate(&self) -> Option<f64> {
        ratio(self.supported, self.cited)
    }
    /// Cohen's kappa; `None` when chance agreement is total (one label only).
    pub fn kappa(&self) -> Option<f64> {
        crate::domain::agreement::kappa(&self.pairs)
    }
    fn add(&mut self, other: &Agreement) {
        self.n += other.n;
        self.correct += other.correct;
        self.baseline += other.baseline;
        self.pairs.extend(other.pairs.iter().cloned());
        self.cited += other.cited;
        self.supported += other.supported;
    }
}

fn ratio(a: usize, b: usize) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

fn label_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

fn right(kind: QuestionType, label: &Value, given: &Value) -> bool {
    match (kind, label.as_u64(), given.as_u64()) {
        (QuestionType::Scale, Some(l), Some(g)) => l.abs_diff(g) <= 1,
        _ => label == given,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct QuestionLine {
    pub scorecard: String,
    pub id: String,
    pub most_common: String,
    #[serde(flatten)]
    pub agreement: Agreement,
    pub kappa: Option<f64>,
}

/// Model scores of the conversations graded on one scorecard, by grade.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Separation {
    /// Grade -> scores.
    pub scores: BTreeMap<String, Vec<f64>>,
}

impl Separation {
    pub fn mean(&self, grade: &str) -> Option<f64> {
        let s = self.scores.get(grade)?;
        (!s.is_empty()).then(|| s.iter().sum::<f64>() / s.len() as f64)
    }
    /// Good ones above 80 and bad ones below 60, of how many.
    pub fn on_target(&self) -> (usize, usize) {
        let good = self.scores.get("good").map_or(&[][..], |v| v);
        let bad = self.scores.get("bad").map_or(&[][..], |v| v);
        (
            good.iter().filter(|s| **s > 80.0).count() + bad.iter().filter(|s| **s < 60.0).count(),
            good.len() + bad.len(),
        )
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub items: usize,
    pub failed: Vec<String>,
    pub questions: Vec<QuestionLine>,
    /// Scorecard -> pooled agreement.
    pub scorecards: BTreeMap<String, Agreement>,
    pub overall: Agreement,
    pub separation: BTreeMap<String, Separation>,
    /// Side -> (right, n).
    pub sentiment: BTreeMap<String, (usize, usize)>,
    /// Overview sentences flagged as not backed by the transcript, with why.
    pub unfaithful: Vec<(String, String, String)>,
    pub sentences: usize,
    /// Fields cut off mid-sentence: (item, field).
    pub truncated: Vec<(String, String)>,
    pub fields: usize,
    pub cpu_seconds: f64,
    pub wall_seconds: f64,
}

/// The report of `outcomes` (one per item, same order) on `scorecards`.
pub fn build(items: &[Item], outcomes: &[Outcome], scorecards: &[(&str, Template)]) -> Report {
    let mut r = Report {
        items: items.len(),
        ..Report::default()
    };
    let ok: Vec<(&Item, &Outcome)> = items
        .iter()
        .zip(outcomes)
        .filter(|(_, o)| {
            if let Some(e) = &o.error {
                r.failed.push(format!("{}: {e}", o.id));
            }
            o.error.is_none()
        })
        .collect();
    for (key, template) in scorecards {
        let mut pooled = Agreement::default();
        for q in template.questions() {
            let labels: Vec<&Value> = ok
                .iter()
                .filter_map(|(i, _)| i.labels.get(*key)?.get(&q.id).map(|l| &l.answer))
                .collect();
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            for l in &labels {
                *counts.entry(label_of(l)).or_default() += 1;
            }
            let most_common = counts
                .iter()
                .max_by_key(|(_, n)| **n)
                .map(|(l, _)| l.clone())
                .unwrap_or_default();
            let mut a = Agreement::default();
            for (item, out) in &ok {
                let Some(label) = item.labels.get(*key).and_then(|l| l.get(&q.id)) else {
                    continue;
                };
                let given = out.answers.get(*key).and_then(|a| a.get(&q.id));
                let answer = given.map_or(Value::Null, |g| g.answer.clone());
                a.n += 1;
                a.correct += usize::from(right(q.kind, &label.answer, &answer));
                a.baseline += usize::from(label_of(&label.answer) == most_common);
                a.pairs.push((label_of(&label.answer), label_of(&answer)));
                if let Some(g) = given.filter(|g| !g.turns.is_empty()) {
                    a.cited += 1;
                    a.supported += usize::from(g.turns.iter().all(|t| label.turns.contains(t)));
                }
            }
            pooled.add(&a);
            r.questions.push(QuestionLine {
                scorecard: key.to_string(),
                id: q.id.clone(),
                most_common,
                kappa: a.kappa(),
                agreement: a,
            });
        }
        r.overall.add(&pooled);
        r.scorecards.insert(key.to_string(), pooled);
    }
    for (item, out) in &ok {
        if let Some(Some(score)) = out.scores.get(&item.grade.scorecard) {
            r.separation
                .entry(item.grade.scorecard.clone())
                .or_default()
                .scores
                .entry(item.grade.quality.clone())
                .or_default()
                .push(*score);
        }
        for (side, got) in &out.sentiment {
            let e = r.sentiment.entry(side.clone()).or_default();
            e.0 += usize::from(got == item.sentiment.get(side));
            e.1 += 1;
        }
        let turns: Vec<&str> = item.turns.iter().map(|t| t.text.as_str()).collect();
        let transcript = Transcript::new(&turns);
        for (field, text) in &out.texts {
            r.fields += 1;
            if faithful::truncated(text) {
                r.truncated.push((item.id.clone(), field.clone()));
            }
            for s in crate::domain::sentences::split(text) {
                r.sentences += 1;
                if let Some(why) = transcript.unsupported(s) {
                    r.unfaithful.push((item.id.clone(), s.to_string(), why));
                }
            }
        }
        r.cpu_seconds += out.cpu_seconds;
        r.wall_seconds += out.wall_seconds;
    }
    r
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{:.0}%", v * 100.0))
}

fn num(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.2}"))
}

impl Report {
    fn per_call(&self, total: f64) -> f64 {
        let n = self.items - self.failed.len();
        if n == 0 {
            0.0
        } else {
            total / n as f64
        }
    }

    /// Rows of (label, value) for the side-by-side table.
    fn rows(&self) -> Vec<(String, String)> {
        let mut rows = Vec::new();
        for q in &self.questions {
            rows.push((
                format!("  {}.{}", q.scorecard, q.id),
                format!(
                    "{:>4} vs {:>4} κ {:>5} ev {:>4}",
                    pct(q.agreement.accuracy()),
                    pct(q.agreement.baseline_accuracy()),
                    num(q.kappa),
                    pct(q.agreement.support_rate()),
                ),
            ));
        }
        for (k, a) in self
            .scorecards
            .iter()
            .chain([(&"overall".to_string(), &self.overall)])
        {
            rows.push((
                format!("{k} (n {})", a.n),
                format!(
                    "{:>4} vs {:>4} κ {:>5} ev {:>4}",
                    pct(a.accuracy()),
                    pct(a.baseline_accuracy()),
                    num(a.kappa()),
                    pct(a.support_rate()),
                ),
            ));
        }
        for (k, s) in &self.separation {
            let (hit, of) = s.on_target();
            rows.push((
                format!("score {k}: good/mediocre/bad"),
                format!(
                    "{} / {} / {} ({hit} of {of} on target)",
                    num(s.mean("good")),
                    num(s.mean("mediocre")),
                    num(s.mean("bad")),
                ),
            ));
        }
        for (side, (hit, n)) in &self.sentiment {
            rows.push((format!("sentiment {side}"), pct(ratio(*hit, *n))));
        }
        rows.push((
            "summary sentences flagged".into(),
            format!("{} of {}", self.unfaithful.len(), self.sentences),
        ));
        rows.push((
            "fields cut off".into(),
            format!("{} of {}", self.truncated.len(), self.fields),
        ));
        rows.push((
            "CPU s / conversation".into(),
            format!("{:.1}", self.per_call(self.cpu_seconds)),
        ));
        rows.push((
            "wall s / conversation".into(),
            format!("{:.1}", self.per_call(self.wall_seconds)),
        ));
        rows
    }

    /// The report as a table; `others` are shown beside it (`--compare`).
    pub fn render(&self, title: &str, others: &[(&str, &Report)]) -> String {
        let mut cols = vec![(title, self.rows())];
        cols.extend(others.iter().map(|(t, r)| (*t, r.rows())));
        let width = cols[0]
            .1
            .iter()
            .map(|(l, _)| l.chars().count())
            .max()
            .unwrap_or(0)
            + 2;
        let cell = cols
            .iter()
            .flat_map(|(t, rows)| {
                std::iter::once(t.chars().count())
                    .chain(rows.iter().map(|(_, v)| v.chars().count()))
            })
            .max()
            .unwrap_or(0)
            + 3;
        let mut out = format!(
            "{:width$}",
            "accuracy vs constant baseline, kappa, evidence support"
        );
        out.push('\n');
        out.push_str(&format!("{:width$}", ""));
        for (t, _) in &cols {
            out.push_str(&format!("{t:cell$}"));
        }
        out.push('\n');
        for (n, (label, _)) in cols[0].1.iter().enumerate() {
            out.push_str(&format!("{label:width$}"));
            for (_, rows) in &cols {
                let v = rows.get(n).map_or("", |(_, v)| v.as_str());
                out.push_str(&format!("{v:cell$}"));
            }
            out.push('\n');
        }
        for f in &self.failed {
            out.push_str(&format!("failed: {f}\n"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agreement(pairs: &[(&str, &str)]) -> Agreement {
        Agreement {
            n: pairs.len(),
            correct: pairs.iter().filter(|(l, g)| l == g).count(),
            pairs: pairs
                .iter()
                .map(|(l, g)| (l.to_string(), g.to_string()))
                .collect(),
            ..Agreement::default()
        }
    }

    #[test]
    fn kappa_is_zero_for_a_constant_and_one_for_perfect_answers() {
        let constant = agreement(&[("yes", "yes"), ("yes", "yes"), ("no", "yes"), ("no", "yes")]);
        assert_eq!(constant.kappa(), Some(0.0));
        assert_eq!(constant.accuracy(), Some(0.5));
        let perfect = agreement(&[("yes", "yes"), ("no", "no")]);
        assert_eq!(perfect.kappa(), Some(1.0));
        // One label throughout: chance agreement is total, kappa is undefined.
        assert_eq!(agreement(&[("na", "na")]).kappa(), None);
    }

    #[test]
    fn a_scale_answer_is_right_within_one_point() {
        let q = QuestionType::Scale;
        assert!(right(q, &Value::from(4), &Value::from(5)));
        assert!(!right(q, &Value::from(2), &Value::from(5)));
        assert!(!right(
            QuestionType::YesNo,
            &Value::from("yes"),
            &Value::from("no")
        ));
    }
}
