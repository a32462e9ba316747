//! Liveness, readiness and Prometheus metrics for operators.

use super::error::{AppError, AppResult};
use crate::server::{AppState, ModelsState};
use crate::store::{self, migrate};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;
use std::net::IpAddr;

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

/// The node can serve: database reachable, migrations applied, models verified, no
/// background thread failing.
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
    let failing = state.metrics.threads.failing();
    if !failing.is_empty() {
        return Err(AppError::Unavailable(format!(
            "background threads keep failing: {} (see the log and insite_thread_restarts_total)",
            failing.join(", ")
        )));
    }
    Ok(HttpResponse::Ok().json(json!({
        "status": "ready",
        "checks": { "database": "ok", "migrations": "ok", "models": "ok", "threads": "ok" },
        "models": models,
        "threads": state.metrics.threads.states(),
    })))
}

/// Who may read `/metrics`: with a token configured, callers sending it (compared as
/// SHA-256 digests); otherwise callers on this machine only.
fn metrics_allowed(peer: Option<IpAddr>, bearer: Option<&str>, token_sha256: &str) -> bool {
    if !token_sha256.is_empty() {
        // Comparing digests: timing can tell at most how much of the configured hash
        // a chosen token's hash matches, which does not help find the token.
        return bearer
            .is_some_and(|t| crate::crypto::token::digest(t).eq_ignore_ascii_case(token_sha256));
    }
    peer.is_some_and(|ip| match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    })
}

/// Prometheus text exposition: requests, and the job queue when the database answers.
async fn metrics(state: web::Data<AppState>, req: HttpRequest) -> AppResult<HttpResponse> {
    let bearer = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let peer = req.peer_addr().map(|a| a.ip());
    if !metrics_allowed(peer, bearer, &state.config.server.metrics_token_sha256) {
        return Err(AppError::Forbidden {
            code: "METRICS_FORBIDDEN",
            message: "metrics are served to this machine only, or with the bearer token \
                      configured in server.metrics_token_sha256"
                .into(),
        });
    }
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
    body.push_str(&state.metrics.threads.render());
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body))
}

#[cfg(test)]
mod tests {
    use super::metrics_allowed;
    use std::net::IpAddr;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn metrics_are_for_this_machine_unless_a_token_is_configured() {
        assert!(metrics_allowed(ip("127.0.0.1"), None, ""));
        assert!(metrics_allowed(ip("::1"), None, ""));
        assert!(metrics_allowed(ip("::ffff:127.0.0.1"), None, ""));
        assert!(!metrics_allowed(ip("10.1.2.3"), None, ""));
        assert!(!metrics_allowed(ip("10.1.2.3"), Some("anything"), ""));
        assert!(!metrics_allowed(None, None, ""));
        let digest = crate::crypto::token::digest("scrape-me");
        assert!(metrics_allowed(ip("10.1.2.3"), Some("scrape-me"), &digest));
        assert!(metrics_allowed(
            ip("10.1.2.3"),
            Some("scrape-me"),
            &digest.to_uppercase()
        ));
        assert!(!metrics_allowed(ip("127.0.0.1"), None, &digest));
        assert!(!metrics_allowed(
            ip("10.1.2.3"),
            Some("scrape-you"),
            &digest
        ));
    }
}
