//! Liveness, readiness and Prometheus metrics for operators.

use super::error::{AppError, AppResult};
use crate::server::{AppState, ModelsState};
use crate::store::{self, migrate};
use actix_web::{web, HttpResponse};
use serde_json::json;

/// Routes for operators' probes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics));
}

/// The process is alive and answering.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// The node can serve: database reachable, migrations applied, models verified.
async fn readyz(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    if let Some(refusal) = crate::server::middleware::not_ready(state.readiness.get()) {
        return Err(refusal);
    }
    let pool = state.pool.clone();
    let current = web::block(move || -> Result<bool, String> {
        let mut conn = pool
            .get()
            .map_err(|e| format!("database unreachable: {e}"))?;
        store::ping(&mut conn).map_err(|e| format!("database unreachable: {e}"))?;
        migrate::is_current(&mut conn).map_err(|e| e.to_string())
    })
    .await?
    .map_err(AppError::Unavailable)?;
    if !current {
        return Err(AppError::Unavailable(
            "database schema has pending migrations".into(),
        ));
    }
    let models = match state.readiness.models() {
        ModelsState::Verifying => return Err(AppError::Starting),
        ModelsState::Refused(reason) => return Err(AppError::ModelRefused(reason)),
        ModelsState::Verified(names) => names,
    };
    Ok(HttpResponse::Ok().json(json!({
        "status": "ready",
        "checks": { "database": "ok", "migrations": "ok", "models": "ok" },
        "models": models,
    })))
}

/// Prometheus text exposition: requests, and the job queue when the database answers.
async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let pool = state.pool.clone();
    let depth = web::block(move || {
        pool.get()
            .ok()
            .and_then(|mut c| crate::store::jobs::depth(&mut c).ok())
    })
    .await
    .ok()
    .flatten()
    .unwrap_or_default();
    let mut body = state.metrics.render();
    body.push_str(&state.metrics.render_jobs(&depth));
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body)
}
