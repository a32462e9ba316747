//! `GET /compliance/records-of-processing`: the org's GDPR Article 30 records,
//! generated from its live configuration (owners, admins and auditors).

use super::audited::audited;
use super::auth::{Authed, HandleSubjectRequests};
use super::error::{AppError, AppResult};
use crate::domain::time::stamp;
use crate::privacy::records::report;
use crate::server::AppState;
use crate::store::{identity, integrations};
use actix_web::{web, HttpResponse};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/compliance/records-of-processing", web::get().to(read));
}

pub(crate) async fn read(
    state: web::Data<AppState>,
    who: Authed<HandleSubjectRequests>,
) -> AppResult<HttpResponse> {
    let org = who.principal.org_id.clone();
    let config = state.config.clone();
    let now = stamp(state.clock.now());
    let body = audited(
        &state,
        &who.principal,
        &who.ip,
        "compliance.records_read",
        ("org", org.clone()),
        move |conn| {
            let row = identity::org_by_id(conn, &org)?.ok_or(AppError::NotFound)?;
            let links: Vec<(String, String)> = integrations::list(conn, &org)?
                .into_iter()
                .map(|i| (i.kind, i.name))
                .collect();
            Ok(report(&row, &links, &config, &now))
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(body))
}
