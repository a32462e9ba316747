//! API tokens of the caller's organization: create (shown once), list, revoke.

use super::audited::audited;
use super::auth::{Authed, ManageUsers};
use super::error::{AppError, AppResult};
use crate::domain::time::stamp;
use crate::identity;
use crate::server::AppState;
use crate::store::access;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/tokens", web::get().to(list))
        .route("/tokens", web::post().to(create))
        .route("/tokens/{id}", web::delete().to(revoke));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    name: String,
    role: String,
    expires_in_days: Option<i64>,
    /// Re-authentication of the person creating it: current password …
    password: String,
    /// … and the current code when their account has a second factor.
    #[serde(default)]
    code: Option<String>,
}

async fn create(
    state: web::Data<AppState>,
    who: Authed<ManageUsers>,
    body: web::Json<NewToken>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let role = super::users::grantable_role(who.principal.role, &body.role)?;
    let org = who.principal.org_id.clone();
    let now = state.clock.now();
    let Some(uid) = who.principal.user_id.clone() else {
        return Err(AppError::Forbidden {
            code: "REAUTH_REQUIRED",
            message: "a token is created by a signed-in person who re-enters their password; \
                      API tokens cannot create tokens (on the server: insite admin token create)"
                .into(),
        });
    };
    let cfg = state.config.auth.clone();
    let keyring = state.keyring.clone();
    let (secret, row) = audited(
        &state,
        &who.principal,
        &who.ip,
        "token.create",
        ("token", body.name.clone()),
        move |conn| {
            let reauth = super::account::Reauth {
                password: body.password.clone(),
                code: body.code.clone(),
            };
            identity::reauthenticate(conn, &cfg, &keyring, &uid, &reauth.credentials(), now)?;
            Ok(identity::create_token(
                conn,
                &org,
                role,
                &body.name,
                body.expires_in_days.unwrap_or(90),
                now,
            )?)
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(
        json!({ "token": secret, "id": row.id, "role": row.role, "expires_at": row.expires_at }),
    ))
}

pub(crate) async fn list(
    state: web::Data<AppState>,
    who: Authed<ManageUsers>,
) -> AppResult<HttpResponse> {
    let org = who.principal.org_id.clone();
    let rows = audited(
        &state,
        &who.principal,
        &who.ip,
        "token.list",
        ("org", org.clone()),
        move |conn| Ok(access::tokens(conn, &org)?),
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({ "tokens": rows })))
}

async fn revoke(
    state: web::Data<AppState>,
    who: Authed<ManageUsers>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let org = who.principal.org_id.clone();
    let id = path.into_inner();
    let now = stamp(state.clock.now());
    audited(
        &state,
        &who.principal,
        &who.ip,
        "token.revoke",
        ("token", id.clone()),
        move |conn| match access::revoke_token(conn, &org, &id, &now)? {
            0 => Err(AppError::NotFound),
            _ => Ok(()),
        },
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
