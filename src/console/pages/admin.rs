//! The administration pages: users and roles, settings, the audit log, the system,
//! and the caller's own account. Each shows what the matching API routes answer, read
//! through those handlers (same permission checks, same audit entries).

use crate::api::auth::{Ingest, ManageSettings, ManageUsers, Member, ReadAudit, ReadConversations};
use crate::api::error::{AppError, AppResult};
use crate::api::{audit, invites, jobs, org, session, system, tokens, trackers, users};
use crate::audit::AuditFilter;
use crate::console::guard::{query, show, Seen};
use crate::server::AppState;
use crate::server::ModelsState;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/users", web::get().to(users_page))
        .route("/settings", web::get().to(settings_page))
        .route("/audit", web::get().to(audit_page))
        .route("/system", web::get().to(system_page))
        .route("/account", web::get().to(account_page));
}

/// The JSON an API handler answered.
pub async fn json_of(res: AppResult<HttpResponse>) -> AppResult<Value> {
    let body = actix_web::body::to_bytes(res?.into_body())
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    if body.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&body).map_err(|e| AppError::Internal(e.to_string()))
}

async fn users_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Seen<ManageUsers>,
) -> HttpResponse {
    show(
        &req,
        who,
        "users.html",
        "/console/users",
        |who| async move {
            let members = json_of(users::list(state.clone(), who.clone()).await).await?;
            let pending = json_of(invites::list(state.clone(), who.clone()).await).await?;
            let org = json_of(org::get_org(state.clone(), who.allowed::<Member>()?).await).await?;
            Ok(
                json!({ "users": members["users"], "invites": pending["invites"], "org": org,
            "roles": ["admin", "manager", "reviewer", "agent", "auditor"] }),
            )
        },
    )
    .await
}

async fn settings_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Seen<ManageSettings>,
) -> HttpResponse {
    show(
        &req,
        who,
        "settings.html",
        "/console/settings",
        |who| async move {
            let org = json_of(org::get_org(state.clone(), who.allowed::<Member>()?).await).await?;
            let settings = crate::domain::analysis::Settings::from_stored(
                org["analysis"].as_str().unwrap_or("{}"),
            );
            let list =
                json_of(trackers::list(state.clone(), who.allowed::<ReadConversations>()?).await)
                    .await?;
            Ok(json!({ "org": org, "settings": settings, "trackers": list["trackers"] }))
        },
    )
    .await
}

async fn audit_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Seen<ReadAudit>,
) -> HttpResponse {
    let r = req.clone();
    show(
        &req,
        who,
        "audit.html",
        "/console/audit",
        |who| async move {
            let mut filter: AuditFilter = query(&r)?;
            for bound in [&mut filter.from, &mut filter.to] {
                // The form's datetime-local fields carry no zone: they are UTC.
                if let Some(b) = bound.as_mut() {
                    if b.len() == 16 {
                        b.push_str(":00Z");
                    }
                }
            }
            filter.limit = Some(filter.limit.unwrap_or(200));
            let shown = json!(filter);
            // Owners and admins see people's e-mail addresses beside their ids.
            let people: Vec<Value> = match who.allowed::<ManageUsers>() {
                Ok(admin) => json_of(users::list(state.clone(), admin).await).await?["users"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
                Err(_) => Vec::new(),
            };
            let mut entries =
                json_of(audit::list(state.clone(), who, web::Query(filter)).await).await?;
            for e in entries["entries"].as_array_mut().into_iter().flatten() {
                let actor = e["actor"].as_str().unwrap_or_default().to_string();
                let id = actor.strip_prefix("user:");
                if let Some(p) = people.iter().find(|p| id.is_some() && id == p["user_id"].as_str()) {
                    e["who"] = p["email"].clone();
                }
            }
            let export = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(
                    url::form_urlencoded::parse(r.query_string().as_bytes())
                        .filter(|(_, v)| !v.is_empty()),
                )
                .finish();
            Ok(json!({ "entries": entries["entries"], "filter": shown, "export_query": export, "people": people }))
        },
    )
    .await
}

/// Bytes in files under `dir` (the data directory: database, blobs, keys).
fn disk_use(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

fn human(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < units.len() {
        v /= 1024.0;
        i += 1;
    }
    format!("{v:.1} {}", units[i])
}

async fn system_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Seen<ManageSettings>,
) -> HttpResponse {
    show(
        &req,
        who,
        "system.html",
        "/console/system",
        |who| async move {
            let version = json_of(system::version(state.clone()).await).await?;
            let queue = json_of(
                jobs::list(
                    state.clone(),
                    who.allowed::<Ingest>()?,
                    web::Query(jobs::ListQuery {
                        state: None,
                        limit: Some(20),
                    }),
                )
                .await,
            )
            .await?;
            let verified = match state.readiness.models() {
                ModelsState::Verified(names) => Ok(names),
                ModelsState::Refused(why) => Err(why),
                ModelsState::Verifying => Err("verifying".to_string()),
            };
            let engines = &state.config.engines;
            let models: Vec<Value> = [
                ("speech to text", &engines.whisper_model),
                ("language model", &engines.llm_model),
            ]
            .into_iter()
            .map(|(role, name)| {
                let entry = crate::engines::manifest::entry(name).ok();
                json!({
                    "role": role, "name": name,
                    "sha256": entry.as_ref().map(|e| e.sha256.clone()),
                    "size": entry.as_ref().map(|e| human(e.size)),
                    "licence": entry.as_ref().map(|e| e.licence.clone()),
                    "verified": verified.as_ref().is_ok_and(|v| v.contains(name)),
                    "problem": verified.as_ref().err(),
                })
            })
            .collect();
            let data_dir = state.config.data_dir.clone();
            let used = web::block(move || disk_use(&data_dir))
                .await
                .map_err(AppError::from)?;
            Ok(json!({
                "version": version, "models": models, "jobs": queue["jobs"],
                "disk": {"data_dir": state.config.data_dir, "used": human(used)},
                "tls_fingerprint": state.tls.as_ref().map(|t| t.fingerprint()),
                "stages": state.config.pipeline,
            }))
        },
    )
    .await
}

async fn account_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Seen<Member>,
) -> HttpResponse {
    show(
        &req,
        who,
        "account.html",
        "/console/account",
        |who| async move {
            let me = json_of(session::me(state.clone(), who.clone()).await).await?;
            let sessions = json_of(session::sessions(state.clone(), who.clone()).await).await?;
            let tokens = match who.allowed::<ManageUsers>() {
                Ok(admin) => {
                    json_of(tokens::list(state.clone(), admin).await).await?["tokens"].take()
                }
                Err(_) => Value::Null,
            };
            Ok(
                json!({ "me": me, "sessions": sessions["sessions"], "tokens": tokens,
            "must_enroll": who.principal.must_enroll_totp }),
            )
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(super::human(512), "512.0 B");
        assert_eq!(super::human(3 * 1024 * 1024), "3.0 MiB");
    }
}
