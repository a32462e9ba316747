//! `GET /dashboard`: the org's figures over the last days: conversations per day,
//! average scores by agent and team, the customers' sentiment per day, top tracker
//! hits and the job queue. Computed from the stored rows (audited as a read).

use super::audited::audited;
use super::auth::{Authed, ReadAll};
use super::conversations::cipher_of;
use super::error::{AppError, AppResult};
use crate::domain::dashboard::{averages, daily_mean, per_day, window};
use crate::domain::time::stamp;
use crate::server::AppState;
use crate::store::conversations::{self, ListFilter};
use crate::store::{analyses, identity, jobs, trackers};
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/dashboard", web::get().to(read));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Period {
    /// How many days back, 1..=366 (default 30).
    pub days: Option<i64>,
}

pub(crate) async fn read(
    state: web::Data<AppState>,
    who: Authed<ReadAll>,
    q: web::Query<Period>,
) -> AppResult<HttpResponse> {
    let days = q.days.unwrap_or(30);
    if !(1..=366).contains(&days) {
        return Err(AppError::BadRequest {
            code: "VALIDATION",
            message: "days must be 1..=366".into(),
        });
    }
    let now = state.clock.now();
    let days_list = window(now, days);
    let from = format!("{}T00:00:00Z", days_list[0]);
    let org = who.principal.org_id.clone();
    let cipher = cipher_of(&state, &org).await?;
    let body = audited(&state, &who.principal, &who.ip, "dashboard.read", ("org", org.clone()), move |conn| {
        let filter = ListFilter { from: Some(from.clone()), limit: 5000, ..ListFilter::default() };
        let calls = conversations::list(conn, &cipher, &filter)?;
        let team_of = |id: &str| -> Option<String> {
            calls.iter().find(|c| c.id == id).and_then(|c| {
                serde_json::from_str::<Value>(&c.metadata).ok()?["team"].as_str().map(str::to_string)
            })
        };
        let results = analyses::results_in(conn, &cipher, None, &from, &stamp(now + chrono::Duration::days(1)))?;
        let emails: std::collections::HashMap<String, String> = identity::members(conn, &org)?
            .into_iter()
            .map(|m| (m.user_id, m.email))
            .collect();
        let by_agent = averages(results.iter().filter_map(|r| {
            let agent = r.agent_user_id.as_ref()?;
            Some((emails.get(agent).cloned().unwrap_or_else(|| agent.clone()), r.score?))
        }));
        let by_team = averages(results.iter().filter_map(|r| Some((team_of(&r.conversation_id)?, r.score?))));
        let done = analyses::done_since(conn, &cipher, &from)?;
        let moods: Vec<(String, f64)> = done
            .iter()
            .filter_map(|a| {
                let v: Value = serde_json::from_str(a.result.as_deref()?).ok()?;
                Some((a.created_at.clone(), v["sentiment"]["customer"]["score"].as_f64()?))
            })
            .collect();
        let ids: Vec<String> = calls.iter().map(|c| c.id.clone()).collect();
        let names: std::collections::HashMap<String, String> = trackers::list(conn, &org)?
            .into_iter()
            .map(|t| (t.id, t.name))
            .collect();
        let mut hits = trackers::hit_counts(conn, &org, &ids)?;
        hits.sort_by_key(|h| std::cmp::Reverse(h.1));
        let queue: serde_json::Map<String, Value> = jobs::state_counts(conn, &org)?
            .into_iter()
            .map(|(s, n)| (s, json!(n)))
            .collect();
        let series = |v: Vec<(String, f64)>| -> Vec<Value> { v.into_iter().map(|(d, n)| json!({"day": d, "value": n})).collect() };
        let groups = |v: Vec<(String, f64, usize)>| -> Vec<Value> {
            v.into_iter().map(|(g, a, n)| json!({"name": g, "average": (a * 10.0).round() / 10.0, "count": n})).collect()
        };
        Ok(json!({
            "days": days,
            "from": from,
            "conversations": calls.len(),
            "volume": series(per_day(&days_list, calls.iter().map(|c| c.created_at.as_str()))),
            "sentiment": series(daily_mean(&days_list, moods.iter().map(|(d, v)| (d.as_str(), *v)))),
            "scores_by_agent": groups(by_agent),
            "scores_by_team": groups(by_team),
            "trackers": hits.into_iter().take(10).map(|(id, n)| json!({"tracker_id": id, "name": names.get(&id), "hits": n})).collect::<Vec<_>>(),
            "queue": queue,
        }))
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}
