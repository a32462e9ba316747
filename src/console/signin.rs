//! Sign-in (password, then the second factor) and sign-out as plain HTML forms, so
//! they work without script. The sign-in form carries a token matched against a
//! cookie (login CSRF); sign-out checks the session's CSRF token.

use super::templates::render;
use crate::api::auth::{client_ip, SESSION_COOKIE};
use crate::api::error::{current_request_id, AppError};
use crate::api::session::{end_session_cookie, session_cookie, sign_in, Credentials};
use crate::identity;
use crate::server::AppState;
use crate::store::access;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use serde::Deserialize;
use serde_json::json;

const LOGIN_CSRF_COOKIE: &str = "insite_login_csrf";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/login", web::get().to(show))
        .route("/login", web::post().to(submit))
        .route("/logout", web::post().to(logout));
}

/// Only a path inside the console: never another site (`//host`) or a scheme.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/console/") && !n.starts_with("//") && !n.contains('\\') => {
            n.to_string()
        }
        _ => "/console/".to_string(),
    }
}

#[derive(Deserialize, Default)]
struct Shown {
    next: Option<String>,
}

fn form(
    status: StatusCode,
    csrf: &str,
    next: &str,
    email: &str,
    ask_totp: bool,
    error: Option<(&str, String)>,
) -> HttpResponse {
    let mut res = render(
        status,
        "login.html",
        &json!({
            "csrf": csrf, "next": next, "email": email, "ask_totp": ask_totp,
            "error": error.map(|(code, message)| json!({"code": code, "message": message})),
        }),
    );
    let cookie = Cookie::build(LOGIN_CSRF_COOKIE, csrf.to_string())
        .path("/console/login")
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Strict)
        .finish();
    let _ = res.add_cookie(&cookie);
    res
}

async fn show(req: HttpRequest) -> HttpResponse {
    let shown: Shown = web::Query::<Shown>::from_query(req.query_string())
        .map(|q| q.into_inner())
        .unwrap_or_default();
    match crate::crypto::token::generate("lc_") {
        Ok(csrf) => form(
            StatusCode::OK,
            &csrf,
            &safe_next(shown.next.as_deref()),
            "",
            false,
            None,
        ),
        Err(e) => HttpResponse::InternalServerError().body(e),
    }
}

#[derive(Deserialize)]
struct LoginForm {
    csrf: String,
    email: String,
    password: String,
    org: Option<String>,
    totp: Option<String>,
    next: Option<String>,
}

async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Form<LoginForm>,
) -> HttpResponse {
    let f = body.into_inner();
    let next = safe_next(f.next.as_deref());
    let expected = req.cookie(LOGIN_CSRF_COOKIE).map(|c| c.value().to_string());
    if expected.as_deref() != Some(f.csrf.as_str()) || f.csrf.is_empty() {
        let fresh = crate::crypto::token::generate("lc_").unwrap_or_default();
        let msg = "the sign-in form expired or came from another site; please sign in again";
        return form(
            StatusCode::FORBIDDEN,
            &fresh,
            &next,
            &f.email,
            false,
            Some(("CSRF_MISSING", msg.into())),
        );
    }
    let totp = f.totp.clone().filter(|t| !t.trim().is_empty());
    let credentials = Credentials {
        email: f.email.clone(),
        password: f.password,
        org: f.org.filter(|o| !o.trim().is_empty()),
        totp: totp.clone(),
        recovery_code: None,
    };
    let outcome = sign_in(&state, client_ip(&req), credentials).await;
    match outcome {
        Ok(o) => {
            let cookie = session_cookie(o.token);
            let target = if o.principal.must_enroll_totp {
                "/console/account".to_string()
            } else {
                next
            };
            HttpResponse::SeeOther()
                .cookie(cookie)
                .insert_header(("location", target))
                .finish()
        }
        Err(e) => {
            // The password was right and a code is needed (or the code was wrong).
            let ask = matches!(e.code(), "TOTP_REQUIRED" | "TOTP_REUSED") || totp.is_some();
            form(
                e.status_code(),
                &f.csrf,
                &next,
                &f.email,
                ask,
                Some((e.code(), e.to_string())),
            )
        }
    }
}

#[derive(Deserialize)]
struct LogoutForm {
    csrf: String,
}

async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Form<LogoutForm>,
) -> HttpResponse {
    let cookie = req.cookie(SESSION_COOKIE).map(|c| c.value().to_string());
    let pool = state.pool.clone();
    let cfg = state.config.auth.clone();
    let now = state.clock.now();
    let sent = body.into_inner().csrf;
    let ip = client_ip(&req);
    let done = web::block(move || -> Result<(), AppError> {
        let Some(token) = cookie else { return Ok(()) };
        let mut conn = pool.get()?;
        let Ok(p) = identity::authenticate_session(&mut conn, &cfg, &token, now) else {
            return Ok(());
        };
        if p.csrf.as_deref() != Some(sent.as_str()) {
            return Err(AppError::Forbidden {
                code: "CSRF_MISSING",
                message: "sign-out must come from the console's own form".into(),
            });
        }
        if let (Some(u), Some(s)) = (&p.user_id, &p.session_id) {
            access::revoke_session(&mut conn, u, s)?;
        }
        let event = crate::audit::Event {
            chain: p.org_id.clone(),
            actor: p.actor.clone(),
            action: "auth.logout".into(),
            object_type: "session".into(),
            object_id: p.session_id.clone().unwrap_or_default(),
            ip,
            request_id: current_request_id().unwrap_or_default(),
            outcome: "success".into(),
        };
        crate::audit::append(&mut conn, &event, now)?;
        Ok(())
    })
    .await
    .map_err(AppError::from)
    .and_then(|r| r);
    if let Err(e) = done {
        return super::guard::failure(&req, &e);
    }
    let mut res = HttpResponse::SeeOther()
        .insert_header(("location", "/console/login"))
        .finish();
    end_session_cookie(&mut res);
    res
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_in_the_console() {
        assert_eq!(safe_next(Some("/console/audit?x=1")), "/console/audit?x=1");
        assert_eq!(safe_next(Some("//evil.test/console/")), "/console/");
        assert_eq!(safe_next(Some("https://evil.test/")), "/console/");
        assert_eq!(safe_next(Some("/console/\\evil")), "/console/");
        assert_eq!(safe_next(None), "/console/");
    }
}
