//! Retention: the org's policy per data class (owners and admins), a purge run on
//! demand with its counts, the history of runs, and legal holds (owners, admins and
//! auditors) on a conversation, a data subject or the whole org.

use super::audited::audited;
use super::auth::{Authed, HandleSubjectRequests, ManageSettings};
use super::error::{AppError, AppResult};
use crate::blob::BlobStore;
use crate::domain::retention::Policy;
use crate::domain::time::stamp;
use crate::pipeline::retention::{Purge, PurgeError};
use crate::server::AppState;
use crate::store::identity::{self, new_id};
use crate::store::retention::{self as store, Hold};
use crate::store::{conversations, subjects};
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/retention", web::get().to(read))
        .route("/retention", web::put().to(update))
        .route("/retention/purge", web::post().to(purge_now))
        .route("/legal-holds", web::get().to(list_holds))
        .route("/legal-holds", web::post().to(set_hold))
        .route("/legal-holds/{id}/release", web::post().to(release_hold));
}

impl From<PurgeError> for AppError {
    fn from(e: PurgeError) -> Self {
        match e {
            PurgeError::Storage(e) => e.into(),
            PurgeError::Keys(e) => e.into(),
            PurgeError::Blob(e) => AppError::Internal(format!("blob store: {e}")),
        }
    }
}

/// The policy in force with the installation's floor, and the last runs.
pub(crate) async fn read(
    state: web::Data<AppState>,
    who: Authed<ManageSettings>,
) -> AppResult<HttpResponse> {
    let org = who.principal.org_id.clone();
    let floor = state.config.retention.audit_floor_days;
    let body = audited(
        &state,
        &who.principal,
        &who.ip,
        "retention.read",
        ("org", org.clone()),
        move |conn| {
            let row = identity::org_by_id(conn, &org)?.ok_or(AppError::NotFound)?;
            Ok(json!({
                "policy": Policy::from_stored(&row.retention),
                "audit_floor_days": floor,
                "runs": store::runs(conn, &org, 20)?,
            }))
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// Changes the periods named in the body (a JSON object; null keeps a class while
/// the org is active).
async fn update(
    state: web::Data<AppState>,
    who: Authed<ManageSettings>,
    body: web::Json<Value>,
) -> AppResult<HttpResponse> {
    let org = who.principal.org_id.clone();
    let floor = state.config.retention.audit_floor_days;
    let patch = body.into_inner();
    let policy = audited(
        &state,
        &who.principal,
        &who.ip,
        "retention.update",
        ("org", org.clone()),
        move |conn| {
            let row = identity::org_by_id(conn, &org)?.ok_or(AppError::NotFound)?;
            let policy = Policy::from_stored(&row.retention)
                .patched(&patch, floor)
                .map_err(|message| AppError::Unprocessable {
                    code: "VALIDATION",
                    message,
                })?;
            let json =
                serde_json::to_string(&policy).map_err(|e| AppError::Internal(e.to_string()))?;
            identity::set_retention(conn, &org, &json)?;
            Ok(policy)
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({ "policy": policy, "audit_floor_days": floor })))
}

/// Runs the org's purge now; answers the counts per class.
pub(crate) async fn purge_now(
    state: web::Data<AppState>,
    who: Authed<ManageSettings>,
) -> AppResult<HttpResponse> {
    let org = who.principal.org_id.clone();
    let keyring = state.keyring.clone();
    let blobs = BlobStore::new(&state.config.data_dir);
    let batch = state.config.retention.purge_batch;
    let now = state.clock.now();
    let trigger = who.principal.actor.clone();
    let counts = audited(
        &state,
        &who.principal,
        &who.ip,
        "retention.purge_requested",
        ("org", org.clone()),
        move |conn| {
            let row = identity::org_by_id(conn, &org)?.ok_or(AppError::NotFound)?;
            let purge = Purge {
                keyring: &keyring,
                blobs: &blobs,
                now,
                batch,
                trigger,
            };
            Ok(purge.org(conn, &row)?)
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({ "counts": counts })))
}

pub(crate) async fn list_holds(
    state: web::Data<AppState>,
    who: Authed<HandleSubjectRequests>,
) -> AppResult<HttpResponse> {
    let org = who.principal.org_id.clone();
    let keyring = state.keyring.clone();
    let rows = audited(
        &state,
        &who.principal,
        &who.ip,
        "legal_hold.list",
        ("org", org.clone()),
        move |conn| {
            let cipher = keyring.for_org(conn, &org)?;
            Ok(store::holds_opened(conn, &cipher, false)?)
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({ "holds": rows })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewHold {
    /// `org`, `conversation` or `subject`.
    scope: String,
    /// The conversation's or subject's id (ignored for `org`).
    target_id: Option<String>,
    reason: String,
}

async fn set_hold(
    state: web::Data<AppState>,
    who: Authed<HandleSubjectRequests>,
    body: web::Json<NewHold>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let org = who.principal.org_id.clone();
    let by = who.principal.actor.clone();
    let now = stamp(state.clock.now());
    let keyring = state.keyring.clone();
    let hold = audited(
        &state,
        &who.principal,
        &who.ip,
        "legal_hold.set",
        ("org", org.clone()),
        move |conn| {
            let invalid = |m: &str| AppError::Unprocessable {
                code: "VALIDATION",
                message: m.into(),
            };
            let reason = body.reason.trim().to_string();
            if reason.is_empty() || reason.len() > 500 {
                return Err(invalid(
                    "reason must be 1..=500 characters (say why the data must be kept)",
                ));
            }
            let target = match body.scope.as_str() {
                "org" => org.clone(),
                "conversation" | "subject" => body
                    .target_id
                    .clone()
                    .ok_or_else(|| invalid("target_id is required for this scope"))?,
                _ => return Err(invalid("scope must be org, conversation or subject")),
            };
            let cipher = keyring.for_org(conn, &org)?;
            let exists = match body.scope.as_str() {
                "conversation" => {
                    conversations::get_sealed(conn, &cipher.org_id, &target)?.is_some()
                }
                "subject" => subjects::get(conn, &org, &target)?.is_some(),
                _ => true,
            };
            if !exists {
                return Err(AppError::NotFound);
            }
            let hold = Hold {
                id: new_id(),
                org_id: org.clone(),
                scope: body.scope.clone(),
                target_id: target,
                reason,
                set_by: by,
                set_at: now,
                released_by: None,
                released_at: None,
            };
            store::insert_hold(conn, &cipher, &hold)?;
            Ok(hold)
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(hold))
}

async fn release_hold(
    state: web::Data<AppState>,
    who: Authed<HandleSubjectRequests>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let org = who.principal.org_id.clone();
    let by = who.principal.actor.clone();
    let now = stamp(state.clock.now());
    audited(
        &state,
        &who.principal,
        &who.ip,
        "legal_hold.release",
        ("legal_hold", id.clone()),
        move |conn| match store::release_hold(conn, &org, &id, &by, &now)? {
            0 => Err(AppError::NotFound),
            _ => Ok(()),
        },
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
