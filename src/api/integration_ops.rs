//! An integration at work: "test connection", "sync now", and the outbound log of the
//! egress gate (every call, never bodies or secrets).

use super::audited::audited;
use super::auth::{Authed, ManageSettings};
use super::error::{AppError, AppResult};
use crate::domain::time::stamp;
use crate::integrations::{health, open::open, sync::SYNCED};
use crate::server::AppState;
use crate::store::{egress, integration_state, integrations};
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/integrations/{id}/test", web::post().to(test))
        .route("/integrations/{id}/sync", web::post().to(sync_now))
        .route("/egress-log", web::get().to(outbound_log));
}

/// Where senders POST to a webhook receiver.
pub fn receiver_url(state: &AppState, id: &str) -> String {
    format!("{}/api/v1/hooks/{id}", state.config.public_base_url())
}

async fn test(
    state: web::Data<AppState>,
    who: Authed<ManageSettings>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let org = who.principal.org_id.clone();
    let keyring = state.keyring.clone();
    let gate = state.gate.clone();
    let clock = state.clock.clone();
    let receiver = receiver_url(&state, &id);
    let object = ("integration", id.clone());
    let outcome = audited(
        &state,
        &who.principal,
        &who.ip,
        "integration.test",
        object,
        move |conn| {
            let cipher = keyring.for_org(conn, &org)?;
            let target = open(conn, &cipher, &id)?.ok_or(AppError::NotFound)?;
            let result = health::test_connection(&gate, &target, &receiver, clock.now());
            if let Err(e) = &result {
                integration_state::test_failed(conn, &org, &id, e, &stamp(clock.now()))?;
            }
            Ok(result)
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(match outcome {
        Ok(message) => json!({"ok": true, "message": message}),
        Err(message) => json!({"ok": false, "message": message}),
    }))
}

async fn sync_now(
    state: web::Data<AppState>,
    who: Authed<ManageSettings>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let org = who.principal.org_id.clone();
    let object = ("integration", id.clone());
    audited(
        &state,
        &who.principal,
        &who.ip,
        "integration.sync_request",
        object,
        move |conn| {
            let row = integrations::get(conn, &org, &id)?.ok_or(AppError::NotFound)?;
            if !SYNCED.contains(&row.kind.as_str()) {
                return Err(AppError::Conflict {
                    code: "NOT_SYNCED",
                    message: format!(
                        "a {} integration is not synced on a schedule (only: {})",
                        row.kind,
                        SYNCED.join(", ")
                    ),
                });
            }
            integration_state::request_now(conn, &org, &id)?;
            Ok(())
        },
    )
    .await?;
    Ok(HttpResponse::Accepted().json(json!({"queued": true})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogQuery {
    pub integration_id: Option<String>,
    pub limit: Option<i64>,
}

pub(crate) async fn outbound_log(
    state: web::Data<AppState>,
    who: Authed<ManageSettings>,
    q: web::Query<LogQuery>,
) -> AppResult<HttpResponse> {
    let q = q.into_inner();
    let limit = q.limit.unwrap_or(200);
    if !(1..=1000).contains(&limit) {
        return Err(AppError::Unprocessable {
            code: "VALIDATION",
            message: "limit must be between 1 and 1000".into(),
        });
    }
    let org = who.principal.org_id.clone();
    let rows = audited(
        &state,
        &who.principal,
        &who.ip,
        "egress.list",
        ("org", org.clone()),
        move |conn| {
            Ok(egress::recent(
                conn,
                &org,
                q.integration_id.as_deref(),
                limit,
            )?)
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({ "calls": rows })))
}
