//! The caller's own security settings: TOTP enrolment and password change.

use super::audited::audited;
use super::auth::{Authed, Member};
use super::error::{AppError, AppResult};
use crate::identity;
use crate::server::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/me/totp/setup", web::post().to(totp_setup))
        .route("/me/totp/enable", web::post().to(totp_enable))
        .route("/me/password", web::post().to(change_password));
}

/// Account settings belong to people; API tokens have none.
fn user_of(who: &Authed<Member>) -> AppResult<String> {
    who.principal.user_id.clone().ok_or(AppError::NotFound)
}

/// Re-authentication sent with a sensitive change: the current password and, when
/// the account has a second factor, its current code.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Reauth {
    pub password: String,
    #[serde(default)]
    pub code: Option<String>,
}

impl Reauth {
    pub(crate) fn credentials(&self) -> identity::proof::Credentials<'_> {
        identity::proof::Credentials {
            password: &self.password,
            totp: self.code.as_deref().filter(|c| !c.trim().is_empty()),
            recovery_code: None,
        }
    }
}

async fn totp_setup(
    state: web::Data<AppState>,
    who: Authed<Member>,
    body: web::Json<Reauth>,
) -> AppResult<HttpResponse> {
    let uid = user_of(&who)?;
    let keyring = state.keyring.clone();
    let cfg = state.config.auth.clone();
    let now = state.clock.now();
    let body = body.into_inner();
    let setup = audited(
        &state,
        &who.principal,
        &who.ip,
        "totp.setup",
        ("user", uid.clone()),
        move |conn| {
            let creds = body.credentials();
            Ok(identity::start_totp(
                conn, &cfg, &keyring, &uid, &creds, now,
            )?)
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(setup))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Code {
    code: String,
}

async fn totp_enable(
    state: web::Data<AppState>,
    who: Authed<Member>,
    body: web::Json<Code>,
) -> AppResult<HttpResponse> {
    let uid = user_of(&who)?;
    let now = state.clock.now();
    let code = body.into_inner().code;
    let keyring = state.keyring.clone();
    let codes = audited(
        &state,
        &who.principal,
        &who.ip,
        "totp.enable",
        ("user", uid.clone()),
        move |conn| Ok(identity::enable_totp(conn, &keyring, &uid, &code, now)?),
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({ "enabled": true, "recovery_codes": codes })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordChange {
    current_password: String,
    new_password: String,
}

async fn change_password(
    state: web::Data<AppState>,
    who: Authed<Member>,
    body: web::Json<PasswordChange>,
) -> AppResult<HttpResponse> {
    let uid = user_of(&who)?;
    let now = state.clock.now();
    let cfg = state.config.auth.clone();
    let body = body.into_inner();
    let ended = audited(
        &state,
        &who.principal,
        &who.ip,
        "user.password_change",
        ("user", uid.clone()),
        move |conn| {
            Ok(identity::change_password(
                conn,
                &cfg,
                &uid,
                &body.current_password,
                &body.new_password,
                now,
            )?)
        },
    )
    .await?;
    Ok(HttpResponse::Ok()
        .json(json!({ "sessions_ended": ended, "message": "password changed; sign in again" })))
}
