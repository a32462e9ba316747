//! Sign-in, sign-out, the caller's own account and sessions.

use super::audited::audited;
use super::auth::{client_ip, limit_attempts, Authed, Member, SESSION_COOKIE};
use super::error::{current_request_id, AppError, AppResult};
use crate::domain::time::stamp;
use crate::identity::{self, LoginInput};
use crate::server::AppState;
use crate::store::{access, identity as ids};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/auth/login", web::post().to(login))
        .route("/auth/logout", web::post().to(logout))
        .route("/me", web::get().to(me))
        .route("/me/sessions", web::get().to(sessions))
        .route("/me/sessions/{id}", web::delete().to(revoke_session));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    email: String,
    password: String,
    org: Option<String>,
    totp: Option<String>,
    recovery_code: Option<String>,
}

async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<LoginBody>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let credentials = Credentials {
        email: body.email,
        password: body.password,
        org: body.org,
        totp: body.totp,
        recovery_code: body.recovery_code,
    };
    let outcome = sign_in(&state, client_ip(&req), credentials).await?;
    Ok(HttpResponse::Ok()
        .cookie(session_cookie(outcome.token.clone()))
        .json(json!({
            "user_id": outcome.principal.user_id,
            "org_id": outcome.principal.org_id,
            "role": outcome.principal.role,
            "session_id": outcome.session.id,
            "expires_at": outcome.session.expires_at,
            "csrf_token": outcome.principal.csrf,
            "totp_enrollment_required": outcome.principal.must_enroll_totp,
        })))
}

/// What a person signs in with (the API's JSON or the console's form).
pub(crate) struct Credentials {
    pub email: String,
    pub password: String,
    pub org: Option<String>,
    pub totp: Option<String>,
    pub recovery_code: Option<String>,
}

/// Sign-in for the API and the console alike: the per-address attempt limit, then the
/// password, lockout and second factor (every attempt audited).
pub(crate) async fn sign_in(
    state: &AppState,
    ip: String,
    c: Credentials,
) -> AppResult<identity::LoginOutcome> {
    let now = state.clock.now();
    limit_attempts(state, &ip, now)?;
    let input = LoginInput {
        email: c.email,
        password: c.password,
        org: c.org,
        totp: c.totp,
        recovery_code: c.recovery_code,
        ip,
        request_id: current_request_id().unwrap_or_default(),
    };
    let pool = state.pool.clone();
    let cfg = state.config.auth.clone();
    let keyring = state.keyring.clone();
    web::block(move || -> AppResult<_> {
        let mut conn = pool.get()?;
        Ok(identity::login(&mut conn, &cfg, &keyring, &input, now)?)
    })
    .await?
}

/// The session cookie: HttpOnly, Secure, SameSite=Strict, for the whole site.
pub(crate) fn session_cookie(token: String) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, token)
        .path("/")
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Strict)
        .finish()
}

/// Adds the removal of the session cookie to `res`.
pub(crate) fn end_session_cookie<B>(res: &mut HttpResponse<B>) {
    let gone = Cookie::build(SESSION_COOKIE, "")
        .path("/")
        .secure(true)
        .http_only(true)
        .finish();
    let _ = res.add_removal_cookie(&gone);
}

async fn logout(state: web::Data<AppState>, who: Authed<Member>) -> AppResult<HttpResponse> {
    let (user, session) = (
        who.principal.user_id.clone(),
        who.principal.session_id.clone(),
    );
    let object = session.clone().unwrap_or_default();
    audited(
        &state,
        &who.principal,
        &who.ip,
        "auth.logout",
        ("session", object),
        move |conn| {
            if let (Some(u), Some(s)) = (user, session) {
                access::revoke_session(conn, &u, &s)?;
            }
            Ok(())
        },
    )
    .await?;
    let mut res = HttpResponse::NoContent().finish();
    end_session_cookie(&mut res);
    Ok(res)
}

pub(crate) async fn me(state: web::Data<AppState>, who: Authed<Member>) -> AppResult<HttpResponse> {
    let p = who.principal.clone();
    let pool = state.pool.clone();
    let email = match p.user_id.clone() {
        Some(uid) => {
            web::block(move || -> AppResult<_> {
                let mut conn = pool.get()?;
                Ok(ids::user_by_id(&mut conn, &uid)?.map(|u| u.email))
            })
            .await??
        }
        None => None,
    };
    Ok(HttpResponse::Ok().json(json!({
        "actor": p.actor,
        "user_id": p.user_id,
        "email": email,
        "org_id": p.org_id,
        "role": p.role,
        "csrf_token": p.csrf,
    })))
}

pub(crate) async fn sessions(
    state: web::Data<AppState>,
    who: Authed<Member>,
) -> AppResult<HttpResponse> {
    let uid = who.principal.user_id.clone().ok_or(AppError::NotFound)?;
    let pool = state.pool.clone();
    let now = stamp(state.clock.now());
    let list = web::block(move || -> AppResult<_> {
        let mut conn = pool.get()?;
        Ok(access::sessions_of(&mut conn, &uid, &now)?)
    })
    .await??;
    Ok(HttpResponse::Ok().json(json!({ "sessions": list })))
}

async fn revoke_session(
    state: web::Data<AppState>,
    who: Authed<Member>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let uid = who.principal.user_id.clone().ok_or(AppError::NotFound)?;
    let id = path.into_inner();
    audited(
        &state,
        &who.principal,
        &who.ip,
        "session.revoke",
        ("session", id.clone()),
        move |conn| match access::revoke_session(conn, &uid, &id)? {
            0 => Err(AppError::NotFound),
            _ => Ok(()),
        },
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
