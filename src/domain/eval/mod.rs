//! Measuring the analysis against labelled conversations (`insite eval`): the set and
//! its checks (`set`), what one run gave (`Outcome`), the numbers (`report`) and the
//! model-free check of summaries (`faithful`).

pub mod faithful;
pub mod report;
pub mod set;

use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// One answer the analysis gave, with the turns its evidence is in.
#[derive(Debug, Clone, Serialize)]
pub struct Given {
    pub answer: Value,
    pub turns: Vec<usize>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub rationale: String,
}

/// What the analysis gave for one item of the set.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    pub id: String,
    /// Scorecard key -> question id -> answer.
    pub answers: BTreeMap<String, BTreeMap<String, Given>>,
    /// Scorecard key -> score (0..=100).
    pub scores: BTreeMap<String, Option<f64>>,
    /// Side -> label.
    pub sentiment: BTreeMap<String, String>,
    /// Overview fields (summary, reason, outcome, action items) as written.
    pub texts: Vec<(String, String)>,
    pub cpu_seconds: f64,
    pub wall_seconds: f64,
    /// Why the analysis of this item failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
