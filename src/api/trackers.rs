//! Keyword and phrase trackers of the caller's organization: members read them,
//! owners and admins define them. New conversations are matched against them.

use super::audited::{audited, delete_one};
use super::auth::{Authed, ManageSettings, ReadConversations};
use super::error::{AppError, AppResult};
use crate::domain::time::stamp;
use crate::domain::trackers::validate;
use crate::server::AppState;
use crate::store::identity::new_id;
use crate::store::trackers::{self, Tracker};
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/trackers", web::get().to(list))
        .route("/trackers", web::post().to(create))
        .route("/trackers/{id}", web::delete().to(remove));
}

fn view(t: &Tracker) -> Value {
    json!({"id": t.id, "name": t.name, "phrases": t.phrase_list(), "created_at": t.created_at})
}

pub(crate) async fn list(
    state: web::Data<AppState>,
    who: Authed<ReadConversations>,
) -> AppResult<HttpResponse> {
    let org = who.principal.org_id.clone();
    let rows = audited(
        &state,
        &who.principal,
        &who.ip,
        "tracker.list",
        ("org", org.clone()),
        move |conn| Ok(trackers::list(conn, &org)?),
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({ "trackers": rows.iter().map(view).collect::<Vec<_>>() })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTracker {
    name: String,
    phrases: Vec<String>,
}

async fn create(
    state: web::Data<AppState>,
    who: Authed<ManageSettings>,
    body: web::Json<NewTracker>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let org = who.principal.org_id.clone();
    let now = stamp(state.clock.now());
    let object = ("tracker", body.name.clone());
    let row = audited(
        &state,
        &who.principal,
        &who.ip,
        "tracker.create",
        object,
        move |conn| {
            let name = body.name.trim().to_string();
            if name.is_empty() || name.len() > 100 {
                return Err(AppError::Unprocessable {
                    code: "VALIDATION",
                    message: "name must be 1..=100 characters".into(),
                });
            }
            validate(&body.phrases).map_err(|m| AppError::Unprocessable {
                code: "VALIDATION",
                message: m,
            })?;
            if trackers::list(conn, &org)?.iter().any(|t| t.name == name) {
                return Err(AppError::Conflict {
                    code: "CONFLICT",
                    message: format!("a tracker named '{name}' exists"),
                });
            }
            let row = Tracker {
                id: new_id(),
                org_id: org.clone(),
                name,
                phrases: serde_json::to_string(&body.phrases)
                    .map_err(|e| AppError::Internal(e.to_string()))?,
                created_at: now,
            };
            trackers::insert(conn, &row)?;
            Ok(row)
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(view(&row)))
}

async fn remove(
    state: web::Data<AppState>,
    who: Authed<ManageSettings>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let object = ("tracker", path.into_inner());
    delete_one(
        &state,
        &who.principal,
        &who.ip,
        "tracker.delete",
        object,
        trackers::delete,
    )
    .await
}
