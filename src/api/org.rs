//! The caller's organization: its settings (owners and admins change them).

use super::audited::audited;
use super::auth::{Authed, ManageSettings, Member};
use super::error::{AppError, AppResult};
use crate::domain::analysis::Settings;
use crate::server::AppState;
use crate::store::identity;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/org", web::get().to(get_org))
        .route("/org", web::patch().to(update_org));
}

pub(crate) async fn get_org(
    state: web::Data<AppState>,
    who: Authed<Member>,
) -> AppResult<HttpResponse> {
    let org = who.principal.org_id.clone();
    let row = audited(
        &state,
        &who.principal,
        &who.ip,
        "org.read",
        ("org", org.clone()),
        move |conn| identity::org_by_id(conn, &org)?.ok_or(AppError::NotFound),
    )
    .await?;
    Ok(HttpResponse::Ok().json(row))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrgUpdate {
    /// Every member must have a second factor.
    require_totp: Option<bool>,
    /// Overwrite redacted spans in stored recordings: `off`, `silence` or `tone`.
    redact_audio: Option<String>,
    /// Which analyses run and whether text goes to the LLM at all, e.g.
    /// `{"text": false}` or `{"sentiment": false}`; fields left out stay as they are.
    analysis: Option<serde_json::Value>,
}

async fn update_org(
    state: web::Data<AppState>,
    who: Authed<ManageSettings>,
    body: web::Json<OrgUpdate>,
) -> AppResult<HttpResponse> {
    let org = who.principal.org_id.clone();
    let body = body.into_inner();
    let caller = who.principal.user_id.clone();
    let object = ("org", org.clone());
    let row = audited(
        &state,
        &who.principal,
        &who.ip,
        "org.update",
        object,
        move |conn| {
            if let Some(mode) = &body.redact_audio {
                if !matches!(mode.as_str(), "off" | "silence" | "tone") {
                    return Err(AppError::Unprocessable {
                        code: "VALIDATION",
                        message: "redact_audio must be off, silence or tone".into(),
                    });
                }
            }
            // Requiring what you lack would lock you out of administration.
            if let (Some(true), Some(uid)) = (body.require_totp, caller) {
                let user = identity::user_by_id(conn, &uid)?;
                if !user.is_some_and(|u| u.totp_secret.is_some()) {
                    return Err(AppError::Conflict {
                        code: "TOTP_SELF_FIRST",
                        message: "enrol your own second factor before requiring one for everyone"
                            .into(),
                    });
                }
            }
            if let Some(on) = body.require_totp {
                identity::set_require_totp(conn, &org, on)?;
            }
            if let Some(mode) = &body.redact_audio {
                identity::set_redact_audio(conn, &org, mode)?;
            }
            if let Some(patch) = &body.analysis {
                let current = identity::org_by_id(conn, &org)?.ok_or(AppError::NotFound)?;
                let settings = Settings::from_stored(&current.analysis)
                    .patched(patch)
                    .map_err(|message| AppError::Unprocessable {
                        code: "VALIDATION",
                        message,
                    })?;
                let json = serde_json::to_string(&settings)
                    .map_err(|e| AppError::Internal(e.to_string()))?;
                identity::set_analysis(conn, &org, &json)?;
            }
            identity::org_by_id(conn, &org)?.ok_or(AppError::NotFound)
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(row))
}
