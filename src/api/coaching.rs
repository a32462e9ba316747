//! Coaching insights per agent over a period: how each scorecard question went (its
//! average and its course day by day), the strongest and weakest areas with an example
//! moment, and a short coaching note. Agents see only their own.

use super::analysis::result_view;
use super::audited::audited;
use super::auth::{Authed, ReadConversations};
use super::conversations::cipher_of;
use super::error::{AppError, AppResult};
use super::params::time;
use crate::domain::coaching::{self, Moment};
use crate::domain::roles::{allows, Permission};
use crate::domain::time::stamp;
use crate::server::AppState;
use crate::store::analyses;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/coaching", web::get().to(coaching));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Query {
    agent_user_id: Option<String>,
    /// RFC 3339; default 30 days before `to`.
    from: Option<String>,
    /// RFC 3339; default now.
    to: Option<String>,
}

async fn coaching(
    state: web::Data<AppState>,
    who: Authed<ReadConversations>,
    q: web::Query<Query>,
) -> AppResult<HttpResponse> {
    let q = q.into_inner();
    let to = time("to", &q.to)?.unwrap_or_else(|| state.clock.now());
    let from = time("from", &q.from)?.unwrap_or(to - chrono::Duration::days(30));
    let p = who.principal.clone();
    // Agents (without the all-conversations permission) are coached on their own only.
    let agent = if allows(p.role, Permission::ReadAllConversations) {
        q.agent_user_id
    } else {
        Some(p.user_id.clone().unwrap_or_else(|| "-".into()))
    };
    let Some(agent) = agent else {
        return Err(AppError::Unprocessable {
            code: "VALIDATION",
            message: "agent_user_id is required".into(),
        });
    };
    let cipher = cipher_of(&state, &p.org_id).await?;
    let (from, to) = (stamp(from), stamp(to));
    let object = ("agent", agent.clone());
    let body = audited(&state, &who.principal, &who.ip, "coaching.read", object, move |conn| {
        let results = analyses::results_in(conn, &cipher, Some(&agent), &from, &to)?;
        let ids: Vec<String> = results.iter().map(|r| r.id.clone()).collect();
        let reviews = analyses::reviews_of(conn, &cipher, &ids)?;
        let mut moments = Vec::new();
        for r in &results {
            let view = result_view(conn, &cipher, r, &reviews)?;
            for a in view["answers"].as_array().into_iter().flatten() {
                let Some(score) = a["score"].as_f64() else { continue };
                let evidence = &a["evidence"][0];
                moments.push(Moment {
                    template: view["name"].as_str().unwrap_or_default().to_string(),
                    question_id: a["question_id"].as_str().unwrap_or_default().to_string(),
                    question: a["question"].as_str().unwrap_or_default().to_string(),
                    day: r.conversation_at.chars().take(10).collect(),
                    score,
                    conversation_id: r.conversation_id.clone(),
                    quote: evidence["quote"].as_str().map(str::to_string),
                    start: evidence["start"].as_f64(),
                });
            }
        }
        let report = coaching::report(&moments);
        Ok(json!({
            "agent_user_id": agent, "from": from, "to": to,
            "conversations": results.iter().map(|r| &r.conversation_id).collect::<std::collections::BTreeSet<_>>().len(),
            "questions": report.questions, "strongest": report.strongest,
            "weakest": report.weakest, "note": report.note,
        }))
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}
