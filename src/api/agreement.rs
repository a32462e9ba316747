//! How often the AI agrees with people on a scorecard, per version and question, over
//! a period: every applied override and every resolved dispute is a person's label
//! (see `domain::agreement`). Reviewers and admins read it; questions below the
//! threshold are flagged (the console's Scorecards pages show the flags).

use super::analysis::applied_to;
use super::audited::audited;
use super::auth::{Authed, ReviewScores};
use super::conversations::cipher_of;
use super::error::{AppError, AppResult};
use super::params::time;
use crate::domain::agreement::{self, human_label, label, Stats};
use crate::domain::scorecard;
use crate::domain::time::stamp;
use crate::server::AppState;
use crate::store::{analyses, templates};
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/scorecards/{id}/agreement", web::get().to(read));
}

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct Query {
    /// RFC 3339, by the conversation's time; default 90 days before `to`.
    pub from: Option<String>,
    /// RFC 3339; default now.
    pub to: Option<String>,
    /// 0..1; questions agreeing less often (with enough labels) are flagged.
    pub min_agreement: Option<f64>,
    /// Fewest decided answers a question needs to be flagged (1..=10000).
    pub min_n: Option<usize>,
}

async fn read(
    state: web::Data<AppState>,
    who: Authed<ReviewScores>,
    path: web::Path<String>,
    q: web::Query<Query>,
) -> AppResult<HttpResponse> {
    let body = view(&state, &who, path.into_inner(), q.into_inner()).await?;
    Ok(HttpResponse::Ok().json(body))
}

/// The agreement report of scorecard `id` (audited as `scorecard.agreement.read`).
pub(crate) async fn view(
    state: &web::Data<AppState>,
    who: &Authed<ReviewScores>,
    id: String,
    q: Query,
) -> AppResult<Value> {
    let to = time("to", &q.to)?.unwrap_or_else(|| state.clock.now());
    let from = time("from", &q.from)?.unwrap_or(to - chrono::Duration::days(90));
    if from >= to {
        return Err(AppError::Unprocessable {
            code: "VALIDATION",
            message: "from must be before to".into(),
        });
    }
    let min = q.min_agreement.unwrap_or(agreement::DEFAULT_MIN_AGREEMENT);
    if !(0.0..=1.0).contains(&min) {
        return Err(AppError::Unprocessable {
            code: "VALIDATION",
            message: format!("min_agreement {min} is not between 0 and 1"),
        });
    }
    let min_n = q.min_n.unwrap_or(agreement::MIN_N);
    if !(1..=10_000).contains(&min_n) {
        return Err(AppError::Unprocessable {
            code: "VALIDATION",
            message: format!("min_n {min_n} is not between 1 and 10000"),
        });
    }
    let org = who.principal.org_id.clone();
    let cipher = cipher_of(state, &org).await?;
    let (from, to) = (stamp(from), stamp(to));
    let object = ("scorecard", id.clone());
    let action = "scorecard.agreement.read";
    audited(
        state,
        &who.principal,
        &who.ip,
        action,
        object,
        move |conn| {
            let versions = templates::versions(conn, &org, "scorecard", &id)?;
            if versions.is_empty() {
                return Err(AppError::NotFound);
            }
            let results = analyses::reviewed_results(conn, &cipher, &id, &from, &to)?;
            let ids: Vec<String> = results.iter().map(|r| r.id.clone()).collect();
            let reviews = analyses::reviews_of(conn, &cipher, &ids)?;
            // version -> question -> (model, person) pairs
            let mut pairs: BTreeMap<i32, BTreeMap<String, Vec<(String, String)>>> = BTreeMap::new();
            for r in &results {
                let applied = applied_to(&reviews, &r.id);
                let model: Vec<Value> = serde_json::from_str(&r.answers).unwrap_or_default();
                for a in &model {
                    let qid = a["question_id"].as_str().unwrap_or_default();
                    if let Some(person) = human_label(qid, &a["answer"], &applied) {
                        pairs
                            .entry(r.template_version)
                            .or_default()
                            .entry(qid.to_string())
                            .or_default()
                            .push((label(&a["answer"]), label(&person)));
                    }
                }
            }
            let mut out = Vec::new();
            for row in &versions {
                let Some(found) = pairs.get(&row.version) else {
                    continue;
                };
                let def = serde_json::from_str(&row.definition)
                    .ok()
                    .and_then(|v: Value| scorecard::parse(&v).ok());
                let mut questions = Vec::new();
                let mut all = Vec::new();
                let known: Vec<(String, String)> = def
                    .iter()
                    .flat_map(|t| t.questions())
                    .map(|q| (q.id.clone(), q.text.clone()))
                    .collect();
                for (qid, text) in &known {
                    let Some(p) = found.get(qid) else { continue };
                    all.extend(p.iter().cloned());
                    questions.push(question(qid, text, agreement::stats(p, min, min_n)));
                }
                out.push(json!({
                    "version": row.version,
                    "overall": agreement::stats(&all, min, min_n),
                    "questions": questions,
                }));
            }
            let flagged = out
                .iter()
                .flat_map(|v| v["questions"].as_array().cloned().unwrap_or_default())
                .filter(|q| q["flagged"] == true)
                .count();
            Ok(json!({
                "template_id": id, "from": from, "to": to, "min_agreement": min,
                "min_n": min_n, "flagged": flagged, "versions": out,
            }))
        },
    )
    .await
}

fn question(id: &str, text: &str, s: Stats) -> Value {
    json!({
        "question_id": id, "question": text, "n": s.n, "agreed": s.agreed,
        "agreement": s.agreement, "kappa": s.kappa, "flagged": s.flagged,
    })
}
