//! Scorecard templates and custom insights of the caller's organization, versioned:
//! members read them (agents see what they are scored by); owners and admins create,
//! change (a new version) and retire them, and re-score past conversations.

use super::audited::audited;
use super::auth::{Authed, ManageSettings, ReadConversations};
use super::error::{AppError, AppResult};
use crate::domain::time::{parse, stamp};
use crate::domain::{insight, scorecard};
use crate::server::AppState;
use crate::store::identity::new_id;
use crate::store::templates::{self, TemplateRow};
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/scorecards", web::get().to(list_scorecards))
        .route("/scorecards", web::post().to(create_scorecard))
        .route("/scorecard-builtins", web::get().to(builtins))
        .route("/scorecards/{id}", web::get().to(versions_scorecard))
        .route("/scorecards/{id}", web::put().to(change_scorecard))
        .route("/scorecards/{id}", web::delete().to(retire_scorecard))
        .route("/scorecards/{id}/rescore", web::post().to(rescore))
        .route("/insights", web::get().to(list_insights))
        .route("/insights", web::post().to(create_insight))
        .route("/insights/{id}", web::put().to(change_insight))
        .route("/insights/{id}", web::delete().to(retire_insight));
}

const SCORECARD: &str = "scorecard";
const INSIGHT: &str = "insight";

/// Checks a definition of `kind`; returns its name and canonical JSON. A malformed
/// one is a 422 naming the field.
fn checked(kind: &str, definition: &Value) -> AppResult<(String, String)> {
    let refused = |e: scorecard::Invalid| AppError::Unprocessable {
        code: "TEMPLATE_INVALID",
        message: format!("definition.{}: {}", e.field, e.message),
    };
    let (name, json) = if kind == SCORECARD {
        let t = scorecard::parse(definition).map_err(refused)?;
        (t.name.clone(), serde_json::to_string(&t))
    } else {
        let i = insight::parse(definition).map_err(refused)?;
        (i.key.clone(), serde_json::to_string(&i))
    };
    Ok((name, json.map_err(|e| AppError::Internal(e.to_string()))?))
}

async fn list(
    state: web::Data<AppState>,
    who: Authed<ReadConversations>,
    kind: &'static str,
) -> AppResult<HttpResponse> {
    let org = who.principal.org_id.clone();
    let rows = audited(
        &state,
        &who.principal,
        &who.ip,
        if kind == SCORECARD {
            "scorecard.list"
        } else {
            "insight.list"
        },
        ("org", org.clone()),
        move |conn| Ok(templates::current(conn, &org, kind)?),
    )
    .await?;
    let key = if kind == SCORECARD {
        "scorecards"
    } else {
        "insights"
    };
    Ok(HttpResponse::Ok().json(json!({ key: rows })))
}

pub(crate) async fn list_scorecards(
    s: web::Data<AppState>,
    w: Authed<ReadConversations>,
) -> AppResult<HttpResponse> {
    list(s, w, SCORECARD).await
}

pub(crate) async fn list_insights(
    s: web::Data<AppState>,
    w: Authed<ReadConversations>,
) -> AppResult<HttpResponse> {
    list(s, w, INSIGHT).await
}

pub(crate) async fn builtins(_who: Authed<ReadConversations>) -> AppResult<HttpResponse> {
    let all: Vec<Value> = scorecard::BUILTINS
        .iter()
        .map(|b| json!({"key": b.key, "definition": serde_json::from_str::<Value>(b.json).unwrap_or_default()}))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "builtins": all })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTemplate {
    /// The template (or insight) itself.
    definition: Option<Value>,
    /// Start from a built-in scorecard: meddic, bant, spin, service_qa.
    builtin: Option<String>,
}

/// Stores version `version` of `template_id`.
async fn store_version(
    state: web::Data<AppState>,
    who: Authed<ManageSettings>,
    kind: &'static str,
    template_id: String,
    definition: Value,
    first: bool,
) -> AppResult<HttpResponse> {
    let (name, json) = checked(kind, &definition)?;
    let org = who.principal.org_id.clone();
    let by = who.principal.user_id.clone();
    let now = stamp(state.clock.now());
    let action = match (kind, first) {
        (SCORECARD, true) => "scorecard.create",
        (SCORECARD, false) => "scorecard.version",
        (_, true) => "insight.create",
        _ => "insight.version",
    };
    let id = template_id.clone();
    let row = audited(
        &state,
        &who.principal,
        &who.ip,
        action,
        (kind, template_id),
        move |conn| {
            let existing = templates::versions(conn, &org, kind, &id)?;
            if !first && existing.first().map_or(true, |r| r.retired_at.is_some()) {
                return Err(AppError::NotFound);
            }
            let same_name = templates::current(conn, &org, kind)?
                .into_iter()
                .any(|t| t.name == name && t.template_id != id);
            if same_name {
                return Err(AppError::Conflict {
                    code: "CONFLICT",
                    message: format!("another {kind} is named '{name}'"),
                });
            }
            let row = TemplateRow {
                id: new_id(),
                org_id: org.clone(),
                template_id: id.clone(),
                kind: kind.into(),
                version: existing.first().map_or(1, |r| r.version + 1),
                name,
                definition: json,
                created_by: by,
                created_at: now,
                retired_at: None,
            };
            templates::insert(conn, &row)?;
            Ok(row)
        },
    )
    .await?;
    let status = if first {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok({ status }.json(row))
}

async fn create(
    state: web::Data<AppState>,
    who: Authed<ManageSettings>,
    body: NewTemplate,
    kind: &'static str,
) -> AppResult<HttpResponse> {
    let definition = match (body.definition, body.builtin, kind) {
        (Some(d), None, _) => d,
        (None, Some(key), SCORECARD) => {
            let b = scorecard::BUILTINS
                .iter()
                .find(|b| b.key == key)
                .ok_or_else(|| AppError::Unprocessable {
                    code: "VALIDATION",
                    message: format!(
                        "builtin '{key}' is not one of meddic, bant, spin, service_qa"
                    ),
                })?;
            serde_json::from_str(b.json).map_err(|e| AppError::Internal(e.to_string()))?
        }
        _ => {
            return Err(AppError::Unprocessable {
                code: "VALIDATION",
                message: if kind == SCORECARD {
                    "give either definition or builtin".into()
                } else {
                    "give definition".into()
                },
            })
        }
    };
    store_version(state, who, kind, new_id(), definition, true).await
}

async fn create_scorecard(
    s: web::Data<AppState>,
    w: Authed<ManageSettings>,
    b: web::Json<NewTemplate>,
) -> AppResult<HttpResponse> {
    create(s, w, b.into_inner(), SCORECARD).await
}

async fn create_insight(
    s: web::Data<AppState>,
    w: Authed<ManageSettings>,
    b: web::Json<NewTemplate>,
) -> AppResult<HttpResponse> {
    create(s, w, b.into_inner(), INSIGHT).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Change {
    definition: Value,
}

async fn change_scorecard(
    s: web::Data<AppState>,
    w: Authed<ManageSettings>,
    p: web::Path<String>,
    b: web::Json<Change>,
) -> AppResult<HttpResponse> {
    store_version(
        s,
        w,
        SCORECARD,
        p.into_inner(),
        b.into_inner().definition,
        false,
    )
    .await
}

async fn change_insight(
    s: web::Data<AppState>,
    w: Authed<ManageSettings>,
    p: web::Path<String>,
    b: web::Json<Change>,
) -> AppResult<HttpResponse> {
    store_version(
        s,
        w,
        INSIGHT,
        p.into_inner(),
        b.into_inner().definition,
        false,
    )
    .await
}

pub(crate) async fn versions_scorecard(
    state: web::Data<AppState>,
    who: Authed<ReadConversations>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let org = who.principal.org_id.clone();
    let id = path.into_inner();
    let rows = audited(
        &state,
        &who.principal,
        &who.ip,
        "scorecard.read",
        (SCORECARD, id.clone()),
        move |conn| {
            let rows = templates::versions(conn, &org, SCORECARD, &id)?;
            if rows.is_empty() {
                return Err(AppError::NotFound);
            }
            Ok(rows)
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({ "id": rows[0].template_id, "versions": rows })))
}

async fn retire(
    state: web::Data<AppState>,
    who: Authed<ManageSettings>,
    id: String,
    kind: &'static str,
) -> AppResult<HttpResponse> {
    let org = who.principal.org_id.clone();
    let now = stamp(state.clock.now());
    let action = if kind == SCORECARD {
        "scorecard.retire"
    } else {
        "insight.retire"
    };
    audited(
        &state,
        &who.principal,
        &who.ip,
        action,
        (kind, id.clone()),
        move |conn| match templates::retire(conn, &org, kind, &id, &now)? {
            0 => Err(AppError::NotFound),
            _ => Ok(()),
        },
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn retire_scorecard(
    s: web::Data<AppState>,
    w: Authed<ManageSettings>,
    p: web::Path<String>,
) -> AppResult<HttpResponse> {
    retire(s, w, p.into_inner(), SCORECARD).await
}

async fn retire_insight(
    s: web::Data<AppState>,
    w: Authed<ManageSettings>,
    p: web::Path<String>,
) -> AppResult<HttpResponse> {
    retire(s, w, p.into_inner(), INSIGHT).await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RescoreBody {
    /// Conversations created at or after (RFC 3339).
    from: Option<String>,
    /// Conversations created before (RFC 3339).
    to: Option<String>,
}

/// Queues an analysis job per ready conversation for the template's newest version;
/// conversations already scored with it are left alone. Progress: GET /batches/{id}.
async fn rescore(
    state: web::Data<AppState>,
    who: Authed<ManageSettings>,
    path: web::Path<String>,
    body: Option<web::Json<RescoreBody>>,
) -> AppResult<HttpResponse> {
    let body = body.map(|b| b.into_inner()).unwrap_or_default();
    for (field, v) in [("from", &body.from), ("to", &body.to)] {
        if let Some(t) = v {
            parse(t).map_err(|_| AppError::Unprocessable {
                code: "VALIDATION",
                message: format!("{field} '{t}' is not an RFC 3339 time"),
            })?;
        }
    }
    let org = who.principal.org_id.clone();
    let id = path.into_inner();
    let now = stamp(state.clock.now());
    let batch = audited(&state, &who.principal, &who.ip, "scorecard.rescore", (SCORECARD, id.clone()), move |conn| {
        let t = templates::get(conn, &org, SCORECARD, &id, None)?
            .filter(|t| t.retired_at.is_none())
            .ok_or(AppError::NotFound)?;
        let params = json!({"template_id": t.template_id, "version": t.version}).to_string();
        let batch = new_id();
        let ids = crate::store::conversations::ready_ids(conn, &org, body.from.as_deref(), body.to.as_deref())?;
        let mut queued = 0;
        for conv in ids {
            if crate::store::analyses::has_result(conn, &org, &conv, &t.template_id, t.version)? {
                continue;
            }
            let mut job = crate::pipeline::ingest::new_job(&org, &conv, &now);
            job.kind = "analyze".into();
            job.params = Some(params.clone());
            job.batch_id = Some(batch.clone());
            crate::store::jobs::insert(conn, &job)?;
            queued += 1;
        }
        Ok(json!({"batch_id": batch, "template_id": t.template_id, "version": t.version, "jobs": queued}))
    })
    .await?;
    Ok(HttpResponse::Accepted().json(batch))
}
