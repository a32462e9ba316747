//! Processing jobs of the caller's organization: list, progress, cancel, retry.

use super::audited::audited;
use super::auth::{Authed, Ingest};
use super::error::{AppError, AppResult};
use crate::domain::time::stamp;
use crate::server::AppState;
use crate::store::jobs::{self, Job};
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/jobs", web::get().to(list))
        .route("/jobs/{id}", web::get().to(get_one))
        .route("/jobs/{id}/cancel", web::post().to(cancel))
        .route("/jobs/{id}/retry", web::post().to(retry));
}

/// The public view: `{"state", "stage", "progress", "error"}` and context.
fn view(j: &Job) -> Value {
    json!({
        "id": j.id,
        "kind": j.kind,
        "conversation_id": j.conversation_id,
        "state": j.state,
        "stage": j.stage,
        "progress": j.progress,
        "attempts": j.attempts,
        "error": j.error_code.as_ref().map(|code| json!({"code": code, "message": j.error_message})),
        "created_at": j.created_at,
        "updated_at": j.updated_at,
        "finished_at": j.finished_at,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    pub state: Option<String>,
    pub limit: Option<i64>,
}

pub(crate) async fn list(
    state: web::Data<AppState>,
    who: Authed<Ingest>,
    q: web::Query<ListQuery>,
) -> AppResult<HttpResponse> {
    let q = q.into_inner();
    if let Some(s) = &q.state {
        if !matches!(
            s.as_str(),
            "queued" | "running" | "done" | "failed" | "cancelled"
        ) {
            return Err(AppError::BadRequest {
                code: "VALIDATION",
                message: "state must be queued, running, done, failed or cancelled".into(),
            });
        }
    }
    let limit = super::params::page_limit(q.limit)?;
    let org = who.principal.org_id.clone();
    let rows = audited(
        &state,
        &who.principal,
        &who.ip,
        "job.list",
        ("org", org.clone()),
        move |conn| Ok(jobs::list(conn, &org, q.state.as_deref(), limit)?),
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({ "jobs": rows.iter().map(view).collect::<Vec<_>>() })))
}

async fn get_one(
    state: web::Data<AppState>,
    who: Authed<Ingest>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let org = who.principal.org_id.clone();
    let id = path.into_inner();
    let job = audited(
        &state,
        &who.principal,
        &who.ip,
        "job.read",
        ("job", id.clone()),
        move |conn| jobs::get(conn, &org, &id)?.ok_or(AppError::NotFound),
    )
    .await?;
    Ok(HttpResponse::Ok().json(view(&job)))
}

/// Cancel or retry: changes the job only in the states that allow it.
async fn transition(
    state: web::Data<AppState>,
    who: Authed<Ingest>,
    id: String,
    action: &'static str,
) -> AppResult<HttpResponse> {
    let org = who.principal.org_id.clone();
    let now = stamp(state.clock.now());
    let job = audited(
        &state,
        &who.principal,
        &who.ip,
        action,
        ("job", id.clone()),
        move |conn| {
            let current = jobs::get(conn, &org, &id)?.ok_or(AppError::NotFound)?;
            let changed = if action == "job.cancel" {
                jobs::cancel(conn, &org, &id, &now)?
            } else {
                jobs::retry(conn, &org, &id, &now)?
            };
            if changed == 0 {
                let allowed = if action == "job.cancel" {
                    "queued or running"
                } else {
                    "failed or cancelled"
                };
                return Err(AppError::Conflict {
                    code: "JOB_STATE",
                    message: format!(
                        "the job is {}; only {allowed} jobs can be changed this way",
                        current.state
                    ),
                });
            }
            if action == "job.retry" {
                crate::store::conversations::set_state(
                    conn,
                    &org,
                    &current.conversation_id,
                    "processing",
                )?;
            }
            jobs::get(conn, &org, &id)?.ok_or(AppError::NotFound)
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(view(&job)))
}

async fn cancel(
    state: web::Data<AppState>,
    who: Authed<Ingest>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    transition(state, who, path.into_inner(), "job.cancel").await
}

async fn retry(
    state: web::Data<AppState>,
    who: Authed<Ingest>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    transition(state, who, path.into_inner(), "job.retry").await
}
