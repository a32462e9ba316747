//! Invitations by one-time link: owners and admins invite; the invited person accepts
//! with the secret from the link and their password (no session needed).

use super::audited::audited;
use super::auth::{client_ip, Authed, ManageUsers};
use super::error::{current_request_id, AppError, AppResult};
use crate::domain::time::stamp;
use crate::identity;
use crate::server::AppState;
use crate::store::invites;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/invites", web::get().to(list))
        .route("/invites", web::post().to(create))
        .route("/invites/accept", web::post().to(accept))
        .route("/invites/{id}", web::delete().to(revoke));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewInvite {
    email: String,
    role: String,
}

async fn create(
    state: web::Data<AppState>,
    who: Authed<ManageUsers>,
    body: web::Json<NewInvite>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let granter = who.principal.role;
    let org = who.principal.org_id.clone();
    let actor = who.principal.actor.clone();
    let cfg = state.config.auth.clone();
    let now = state.clock.now();
    let object = ("invite", crate::domain::email::normalize(&body.email));
    let (secret, row) = audited(
        &state,
        &who.principal,
        &who.ip,
        "invite.create",
        object,
        move |conn| {
            let role = super::users::grantable_role(granter, &body.role)?;
            Ok(identity::create_invite(
                conn,
                &cfg,
                &org,
                &body.email,
                role,
                &actor,
                now,
            )?)
        },
    )
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("cache-control", "no-store"))
        .json(json!({
            "invite": row,
            "link": state.config.invite_link(&secret),
            "token": secret,
        })))
}

pub(crate) async fn list(
    state: web::Data<AppState>,
    who: Authed<ManageUsers>,
) -> AppResult<HttpResponse> {
    let org = who.principal.org_id.clone();
    let now = stamp(state.clock.now());
    let rows = audited(
        &state,
        &who.principal,
        &who.ip,
        "invite.list",
        ("org", org.clone()),
        move |conn| Ok(invites::pending(conn, &org, &now)?),
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({ "invites": rows })))
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
        "invite.revoke",
        ("invite", id.clone()),
        move |conn| match invites::revoke(conn, &org, &id, &now)? {
            0 => Err(AppError::NotFound),
            _ => Ok(()),
        },
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AcceptBody {
    /// The secret from the link (`inv_…`).
    pub token: String,
    /// The new account's password, or the existing account's current one.
    pub password: String,
    /// An existing account with a second factor: its current code.
    #[serde(default)]
    pub totp: Option<String>,
    /// ... or one of its recovery codes.
    #[serde(default)]
    pub recovery_code: Option<String>,
}

/// Accepts an invitation; rate-limited per client address like sign-in.
pub(crate) async fn accept_invitation(
    state: &AppState,
    ip: String,
    body: AcceptBody,
) -> AppResult<serde_json::Value> {
    let now = state.clock.now();
    super::auth::limit_attempts(state, &ip, now)?;
    let pool = state.pool.clone();
    let cfg = state.config.auth.clone();
    let keyring = state.keyring.clone();
    let request_id = current_request_id().unwrap_or_default();
    let (invite, user_id) = web::block(move || -> AppResult<_> {
        let mut conn = pool.get()?;
        let creds = identity::proof::Credentials {
            password: &body.password,
            totp: body.totp.as_deref(),
            recovery_code: body.recovery_code.as_deref(),
        };
        Ok(identity::accept_invite(
            &mut conn,
            &cfg,
            &keyring,
            &body.token,
            &creds,
            &ip,
            &request_id,
            now,
        )?)
    })
    .await??;
    Ok(json!({
        "user_id": user_id,
        "org_id": invite.org_id,
        "email": invite.email,
        "role": invite.role,
    }))
}

async fn accept(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<AcceptBody>,
) -> AppResult<HttpResponse> {
    let joined = accept_invitation(&state, client_ip(&req), body.into_inner()).await?;
    Ok(HttpResponse::Created().json(joined))
}
