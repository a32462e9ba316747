//! The caller's organization's audit trail: filtered reads and exports (audited too).

use super::audited::audited;
use super::auth::{Authed, ReadAudit};
use super::error::{AppError, AppResult};
use crate::audit::{self, AuditFilter};
use crate::server::AppState;
use actix_web::{web, HttpResponse};
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/audit", web::get().to(list))
        .route("/audit/export", web::get().to(export));
}

fn checked(filter: AuditFilter) -> AppResult<AuditFilter> {
    super::params::check_time_bounds(&filter.from, &filter.to)?;
    Ok(filter)
}

pub(crate) async fn list(
    state: web::Data<AppState>,
    who: Authed<ReadAudit>,
    q: web::Query<AuditFilter>,
) -> AppResult<HttpResponse> {
    let filter = checked(q.into_inner())?;
    let org = who.principal.org_id.clone();
    let entries = audited(
        &state,
        &who.principal,
        &who.ip,
        "audit.read",
        ("audit", org.clone()),
        move |conn| Ok(audit::list(conn, &org, &filter)?),
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({ "entries": entries })))
}

#[derive(serde::Deserialize)]
struct ExportQuery {
    format: Option<String>,
    #[serde(flatten)]
    filter: AuditFilter,
}

async fn export(
    state: web::Data<AppState>,
    who: Authed<ReadAudit>,
    q: web::Query<ExportQuery>,
) -> AppResult<HttpResponse> {
    let q = q.into_inner();
    let csv = match q.format.as_deref() {
        None | Some("jsonl") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(AppError::BadRequest {
                code: "VALIDATION",
                message: format!("format '{other}' is not jsonl or csv"),
            })
        }
    };
    let mut filter = checked(q.filter)?;
    filter.limit = Some(filter.limit.unwrap_or(1000));
    let org = who.principal.org_id.clone();
    let entries = audited(
        &state,
        &who.principal,
        &who.ip,
        "audit.export",
        ("audit", org.clone()),
        move |conn| Ok(audit::list(conn, &org, &filter)?),
    )
    .await?;
    if csv {
        return Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .body(audit::to_csv(&entries)));
    }
    let mut body = String::new();
    for e in &entries {
        body.push_str(&serde_json::to_string(e).map_err(|e| AppError::Internal(e.to_string()))?);
        body.push('\n');
    }
    Ok(HttpResponse::Ok()
        .content_type("application/x-ndjson")
        .body(body))
}
