//! What an analysis reads: the conversation and its (redacted) transcript, the org's
//! settings, the scorecard templates that apply to it and the custom insights.

use super::super::process::Failure;
use crate::domain::analysis::Settings;
use crate::domain::insight::{self, Insight};
use crate::domain::scorecard::{self, Facts, Template};
use crate::keys::OrgCipher;
use crate::store::conversations::{self, Conversation, SegmentRow};
use crate::store::templates::{self, TemplateRow};
use crate::store::{analyses, identity, DbConn};

#[derive(Clone)]
pub struct Inputs {
    pub conv: Conversation,
    pub segments: Vec<SegmentRow>,
    pub settings: Settings,
    /// A participant opted out of AI processing.
    pub opted_out: bool,
    pub scorecards: Vec<(TemplateRow, Template)>,
    pub insights: Vec<(TemplateRow, Insight)>,
    /// A re-score: only this template version, nothing else.
    pub only_template: Option<(String, i32)>,
}

/// What an `analyze` job was asked for (`jobs.params`).
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Rescore {
    pub template_id: String,
    pub version: i32,
}

/// The facts template conditions are checked against.
pub fn facts(conv: &Conversation) -> Facts {
    let meta: serde_json::Value = serde_json::from_str(&conv.metadata).unwrap_or_default();
    Facts {
        kind: conv.kind.clone(),
        direction: conv.direction.clone(),
        source: conv.source.clone(),
        team: meta["team"].as_str().map(str::to_string),
        tags: meta["tags"]
            .as_array()
            .map(|t| {
                t.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Whether any participant opted out of AI processing.
pub fn opted_out(conv: &Conversation) -> bool {
    let meta: serde_json::Value = serde_json::from_str(&conv.metadata).unwrap_or_default();
    meta["participants"]
        .as_array()
        .is_some_and(|ps| ps.iter().any(|p| p["ai_opt_out"] == true))
}

/// Loads the inputs for `conv` (opened); `params` are an `analyze` job's.
pub fn load(
    conn: &mut DbConn,
    cipher: &OrgCipher,
    conv: Conversation,
    params: Option<&str>,
) -> Result<Inputs, Failure> {
    let org = &cipher.org_id;
    let only: Option<Rescore> = params.and_then(|p| serde_json::from_str(p).ok());
    let segments = conversations::segments_of(conn, cipher, &conv.id).map_err(Failure::key)?;
    let settings = identity::org_by_id(conn, org)
        .map_err(Failure::storage)?
        .map(|o| Settings::from_stored(&o.analysis))
        .unwrap_or_default();
    let facts = facts(&conv);
    let mut scorecards = Vec::new();
    let rows = match &only {
        Some(r) => templates::get(conn, org, "scorecard", &r.template_id, Some(r.version))
            .map_err(Failure::storage)?
            .into_iter()
            .collect(),
        None => templates::current(conn, org, "scorecard").map_err(Failure::storage)?,
    };
    for row in rows {
        let Ok(def) = serde_json::from_str(&row.definition)
            .map_err(|e| e.to_string())
            .and_then(|v| scorecard::parse(&v).map_err(|e| e.to_string()))
        else {
            tracing::warn!(template = %row.template_id, "stored template does not parse; skipped");
            continue;
        };
        let done = only.is_some()
            && analyses::has_result(conn, org, &conv.id, &row.template_id, row.version)
                .map_err(Failure::storage)?;
        if def.applies_to.matches(&facts) && !done {
            scorecards.push((row, def));
        }
    }
    let mut insights = Vec::new();
    if only.is_none() {
        for row in templates::current(conn, org, "insight").map_err(Failure::storage)? {
            if let Some(def) = serde_json::from_str(&row.definition)
                .ok()
                .and_then(|v| insight::parse(&v).ok())
            {
                insights.push((row, def));
            }
        }
    }
    // A participant's flag on this conversation, or a data subject in it who opted
    // out or had processing restricted since.
    let opted_out = opted_out(&conv)
        || crate::store::subjects::any_opted_out(conn, org, &conv.id).map_err(Failure::storage)?;
    Ok(Inputs {
        opted_out,
        conv,
        segments,
        settings,
        scorecards,
        insights,
        only_template: only.map(|r| (r.template_id, r.version)),
    })
}
