//! Data subjects and their requests (owners, admins and auditors): look a person up
//! by e-mail, phone or name; see what is held about them; file a request (access,
//! export, rectification, erasure, restriction, AI opt-out) with its legal deadline;
//! follow it; download an export. Every step is audited.

use super::audited::audited;
use super::auth::{Authed, HandleSubjectRequests};
use super::error::{AppError, AppResult};
use crate::blob::BlobStore;
use crate::domain::retention::{deadline_state, request_deadline};
use crate::domain::time::{parse, stamp};
use crate::keys::OrgCipher;
use crate::privacy::requests::{self, Ctx, EraseMode, RequestError};
use crate::privacy::subjects::{tags, view, Person};
use crate::server::AppState;
use crate::store::identity::new_id;
use crate::store::retention as holds;
use crate::store::subjects::{self, RequestRow};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use diesel::Connection;
use serde::Deserialize;
use serde_json::{json, Value};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/subjects", web::get().to(search))
        .route("/subjects/{id}", web::get().to(read))
        .route("/subjects/{id}/requests", web::post().to(file_request))
        .route("/subject-requests", web::get().to(list_requests))
        .route("/subject-requests/{id}", web::get().to(read_request))
        .route("/subject-requests/{id}/archive", web::get().to(archive));
}

impl From<RequestError> for AppError {
    fn from(e: RequestError) -> Self {
        match e {
            RequestError::Invalid(message) => AppError::Unprocessable {
                code: "VALIDATION",
                message,
            },
            RequestError::Held(message) => AppError::Conflict {
                code: "LEGAL_HOLD",
                message,
            },
            RequestError::NotFound => AppError::NotFound,
            RequestError::Storage(e) => e.into(),
            RequestError::Keys(e) => e.into(),
            RequestError::Blob(e) => AppError::Internal(format!("blob store: {e}")),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Lookup {
    pub email: Option<String>,
    pub phone: Option<String>,
    pub name: Option<String>,
}

pub(crate) async fn search(
    state: web::Data<AppState>,
    who: Authed<HandleSubjectRequests>,
    q: web::Query<Lookup>,
) -> AppResult<HttpResponse> {
    let q = q.into_inner();
    let person = Person {
        name: q.name,
        email: q.email,
        phone: q.phone,
    };
    let org = who.principal.org_id.clone();
    let keyring = state.keyring.clone();
    let found = audited(
        &state,
        &who.principal,
        &who.ip,
        "subject.search",
        ("org", org.clone()),
        move |conn| {
            let cipher = keyring.for_org(conn, &org)?;
            let tags = tags(&cipher, &person);
            if tags.is_empty() {
                return Err(AppError::BadRequest {
                    code: "VALIDATION",
                    message: "give an email, phone or name to look for".into(),
                });
            }
            let rows = subjects::find_by_tags(conn, &org, &tags)?;
            rows.into_iter()
                .map(|r| Ok(view(conn, &keyring, r)?))
                .collect::<AppResult<Vec<_>>>()
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({ "subjects": found })))
}

/// A request as shown at `now`, with its deadline state, requester and result opened
/// with the org's cipher (fetched once by the caller, however many requests it shows).
fn request_view(cipher: &OrgCipher, now: DateTime<Utc>, r: &RequestRow) -> AppResult<Value> {
    let due = parse(&r.due_at).map_err(AppError::Internal)?;
    let result = match &r.result {
        Some(s) => {
            serde_json::from_str::<Value>(&cipher.open("subject_requests", "result", &r.id, s)?)
                .ok()
        }
        None => None,
    };
    let mut v = serde_json::to_value(r).map_err(|e| AppError::Internal(e.to_string()))?;
    v["requester"] = json!(cipher.open("subject_requests", "requester", &r.id, &r.requester)?);
    v["deadline"] = json!(deadline_state(due, now, r.completed_at.is_some()));
    v["days_left"] = json!((due - now).num_days());
    v["result"] = result.unwrap_or(Value::Null);
    v["has_archive"] = json!(matches!(r.kind.as_str(), "access" | "export") && r.state == "done");
    Ok(v)
}

pub(crate) async fn read(
    state: web::Data<AppState>,
    who: Authed<HandleSubjectRequests>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let org = who.principal.org_id.clone();
    let st = state.clone();
    let body = audited(&state, &who.principal, &who.ip, "subject.read", ("subject", id.clone()), move |conn| {
        let row = subjects::get(conn, &org, &id)?.ok_or(AppError::NotFound)?;
        let subject = view(conn, &st.keyring, row)?;
        let links = subjects::links_of(conn, &org, &id)?;
        let held = holds::held(conn, &org)?;
        let cipher = st.keyring.for_org(conn, &org)?;
        let now = st.clock.now();
        let reqs = subjects::requests(conn, &org, Some(&id))?
            .iter()
            .map(|r| request_view(&cipher, now, r))
            .collect::<AppResult<Vec<_>>>()?;
        Ok(json!({
            "subject": subject,
            "legal_hold": held.org || held.subjects.contains(&id),
            "conversations": links.iter().map(|(c, r)| json!({"id": c, "role": r, "held": held.conversations.contains(c)})).collect::<Vec<_>>(),
            "requests": reqs,
        }))
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewRequest {
    /// `access`, `export`, `rectification`, `erasure`, `restriction` or `ai_opt_out`.
    pub kind: String,
    /// Who asked (the subject, or someone acting for them), as they identified.
    pub requester: String,
    /// When the request was received (RFC 3339); default now. The deadline is one
    /// month from it.
    pub received_at: Option<String>,
    /// Erasure: `delete` (default) or `redact`.
    pub erase_mode: Option<EraseMode>,
    /// Rectification: the corrected fields.
    pub corrections: Option<Person>,
    /// Restriction / AI opt-out: also remove the AI results about them.
    #[serde(default)]
    pub remove_ai_results: bool,
}

pub(crate) async fn file_request(
    state: web::Data<AppState>,
    who: Authed<HandleSubjectRequests>,
    path: web::Path<String>,
    body: web::Json<NewRequest>,
) -> AppResult<HttpResponse> {
    let subject_id = path.into_inner();
    let body = body.into_inner();
    let org = who.principal.org_id.clone();
    let by = who.principal.actor.clone();
    let st = state.clone();
    let action =
        match body.kind.as_str() {
            "access" => "subject_request.access",
            "export" => "subject_request.export",
            "rectification" => "subject_request.rectification",
            "erasure" => "subject_request.erasure",
            "restriction" => "subject_request.restriction",
            "ai_opt_out" => "subject_request.ai_opt_out",
            _ => return Err(AppError::Unprocessable {
                code: "VALIDATION",
                message:
                    "kind must be access, export, rectification, erasure, restriction or ai_opt_out"
                        .into(),
            }),
        };
    let requester = body.requester.trim().to_string();
    if requester.is_empty() || requester.len() > 200 {
        return Err(AppError::Unprocessable {
            code: "VALIDATION",
            message: "requester must be 1..=200 characters".into(),
        });
    }
    let now = state.clock.now();
    let received = match &body.received_at {
        Some(s) => parse(s).map_err(|message| AppError::Unprocessable {
            code: "VALIDATION",
            message,
        })?,
        None => now,
    };
    if received > now {
        return Err(AppError::Unprocessable {
            code: "VALIDATION",
            message: "received_at is in the future".into(),
        });
    }
    let view = audited(
        &state,
        &who.principal,
        &who.ip,
        action,
        ("subject", subject_id.clone()),
        move |conn| {
            let row = subjects::get(conn, &org, &subject_id)?.ok_or(AppError::NotFound)?;
            if row.erased_at.is_some() {
                return Err(AppError::Gone {
                    code: "SUBJECT_ERASED",
                    message: "the subject was erased".into(),
                });
            }
            let cipher = st.keyring.for_org(conn, &org)?;
            let id = new_id();
            let options = json!({
                "erase_mode": body.erase_mode,
                "corrections": body.corrections,
                "remove_ai_results": body.remove_ai_results,
            });
            let mut req = RequestRow {
                id: id.clone(),
                org_id: org.clone(),
                subject_id: subject_id.clone(),
                kind: body.kind.clone(),
                state: "queued".into(),
                requester: cipher.seal("subject_requests", "requester", &id, &requester)?,
                received_at: stamp(received),
                due_at: stamp(request_deadline(received)),
                options: cipher.seal("subject_requests", "options", &id, &options.to_string())?,
                result: None,
                progress: 0,
                lease_until: None,
                created_by: by,
                created_at: stamp(now),
                completed_at: None,
            };
            // Exports are built in the background; the others are carried out now.
            let blobs = BlobStore::new(&st.config.data_dir);
            let ctx = Ctx {
                keyring: &st.keyring,
                blobs: &blobs,
                cipher: &cipher,
                now,
            };
            let outcome = conn.transaction(|conn| -> AppResult<Option<Value>> {
                let done = match body.kind.as_str() {
                    "rectification" => {
                        let fix = body.corrections.clone().unwrap_or_default();
                        Some(requests::rectify(conn, &ctx, &subject_id, &fix)?)
                    }
                    "erasure" => {
                        let held = holds::held(conn, &org)?;
                        let mode = body.erase_mode.unwrap_or(EraseMode::Delete);
                        Some(requests::erase(conn, &ctx, &subject_id, mode, &held)?)
                    }
                    "restriction" | "ai_opt_out" => Some(requests::restrict(
                        conn,
                        &ctx,
                        &subject_id,
                        body.kind == "restriction",
                        body.remove_ai_results,
                    )?),
                    _ => None,
                };
                subjects::insert_request(conn, &req)?;
                if let Some(result) = &done {
                    let sealed =
                        cipher.seal("subject_requests", "result", &id, &result.to_string())?;
                    subjects::finish_request(conn, &org, &id, "done", &sealed, &stamp(now))?;
                }
                Ok(done)
            })?;
            if outcome.is_some() {
                req = subjects::request(conn, &org, &id)?.ok_or(AppError::NotFound)?;
            }
            request_view(&cipher, now, &req)
        },
    )
    .await?;
    let mut status = if view["state"] == "done" {
        HttpResponse::Created()
    } else {
        HttpResponse::Accepted()
    };
    Ok(status.json(view))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RequestFilter {
    /// `open` (default: all).
    pub state: Option<String>,
}

pub(crate) async fn list_requests(
    state: web::Data<AppState>,
    who: Authed<HandleSubjectRequests>,
    q: web::Query<RequestFilter>,
) -> AppResult<HttpResponse> {
    let org = who.principal.org_id.clone();
    let only_open = q.state.as_deref() == Some("open");
    let st = state.clone();
    let rows = audited(
        &state,
        &who.principal,
        &who.ip,
        "subject_request.list",
        ("org", org.clone()),
        move |conn| {
            let cipher = st.keyring.for_org(conn, &org)?;
            let now = st.clock.now();
            subjects::requests(conn, &org, None)?
                .iter()
                .filter(|r| !only_open || r.completed_at.is_none())
                .map(|r| request_view(&cipher, now, r))
                .collect::<AppResult<Vec<_>>>()
        },
    )
    .await?;
    let overdue = rows.iter().filter(|r| r["deadline"] == "overdue").count();
    let due_soon = rows.iter().filter(|r| r["deadline"] == "due_soon").count();
    Ok(HttpResponse::Ok()
        .json(json!({ "requests": rows, "overdue": overdue, "due_soon": due_soon })))
}

pub(crate) async fn read_request(
    state: web::Data<AppState>,
    who: Authed<HandleSubjectRequests>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let org = who.principal.org_id.clone();
    let st = state.clone();
    let body = audited(
        &state,
        &who.principal,
        &who.ip,
        "subject_request.read",
        ("subject_request", id.clone()),
        move |conn| {
            let r = subjects::request(conn, &org, &id)?.ok_or(AppError::NotFound)?;
            request_view(&st.keyring.for_org(conn, &org)?, st.clock.now(), &r)
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// Streams a finished export's archive (a tar), decrypting as it goes.
async fn archive(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Authed<HandleSubjectRequests>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let org = who.principal.org_id.clone();
    let st = state.clone();
    let reader = audited(
        &state,
        &who.principal,
        &who.ip,
        "subject_request.download",
        ("subject_request", id.clone()),
        move |conn| {
            let r = subjects::request(conn, &org, &id)?.ok_or(AppError::NotFound)?;
            if !matches!(r.kind.as_str(), "access" | "export") {
                return Err(AppError::NotFound);
            }
            if r.state != "done" {
                return Err(AppError::Conflict {
                    code: "NOT_READY",
                    message: format!("the export is {} ({}%)", r.state, r.progress),
                });
            }
            let cipher = st.keyring.for_org(conn, &org)?;
            BlobStore::new(&st.config.data_dir)
                .open(&cipher, &r.id)
                .map_err(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => AppError::Gone {
                        code: "ARCHIVE_REMOVED",
                        message: "the archive was removed (30 days after it was built, or the subject was erased)".into(),
                    },
                    _ => AppError::Integrity(e.to_string()),
                })
        },
    )
    .await?;
    let mut res = super::recording::respond(&req, reader).await?;
    res.headers_mut().insert(
        actix_web::http::header::CONTENT_DISPOSITION,
        actix_web::http::header::HeaderValue::from_static(
            "attachment; filename=\"subject-export.tar\"",
        ),
    );
    res.headers_mut().insert(
        actix_web::http::header::CONTENT_TYPE,
        actix_web::http::header::HeaderValue::from_static("application/x-tar"),
    );
    Ok(res)
}
