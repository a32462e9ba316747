//! `/invite?token=…`: the page an invitation or setup link opens. The person sees the
//! organization and role, chooses a password (or proves their existing account as at sign-in) and joins.
//! The page is the same whether or not the e-mail has an account.

use super::html::{escape, page};
use crate::api::auth::client_ip;
use crate::api::error::AppError;
use crate::api::invites::{accept_invitation, AcceptBody};
use crate::identity::{self, InvitePreview};
use crate::server::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use serde::Deserialize;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/invite", web::get().to(show))
        .route("/invite", web::post().to(submit));
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

fn form(token: &str, p: &InvitePreview, error: Option<&str>) -> String {
    let error = error.map_or(String::new(), |e| {
        format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e))
    });
    format!(
        "<p>You are invited to <strong>{org}</strong> as <strong>{role}</strong> ({email}).</p>\
         <p>New to insite: choose a password (at least 12 characters, not a common one, \
         not your e-mail). Already an insite user under this e-mail: enter your current \
         password, and your authenticator code if you use one.</p>{error}\
         <form method=\"post\" action=\"/invite\">\
         <input type=\"hidden\" name=\"token\" value=\"{token}\">\
         <label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <label for=\"confirm\">Repeat the password</label>\
         <input id=\"confirm\" name=\"confirm\" type=\"password\" autocomplete=\"off\" required>\
         <label for=\"totp\">Authenticator code (only if your account has one)</label>\
         <input id=\"totp\" name=\"totp\" inputmode=\"numeric\" autocomplete=\"one-time-code\" maxlength=\"8\">\
         <button type=\"submit\">Join {org}</button></form>\
         <p><small>This link works once and expires at {expires}.</small></p>",
        org = escape(&p.org_name),
        role = escape(&p.role),
        email = escape(&p.email),
        token = escape(token),
        expires = escape(&p.expires_at),
    )
}

fn failure(e: &AppError) -> HttpResponse {
    page(
        e.status_code(),
        "Invitation",
        &format!(
            "<p class=\"error\" role=\"alert\">{}</p><p><small>code: {}</small></p>",
            escape(&e.to_string()),
            e.code()
        ),
    )
}

async fn preview(state: &AppState, token: String) -> Result<InvitePreview, AppError> {
    let pool = state.pool.clone();
    let now = state.clock.now();
    web::block(move || -> Result<_, AppError> {
        let mut conn = pool.get()?;
        Ok(identity::preview_invite(&mut conn, &token, now)?)
    })
    .await?
}

async fn show(state: web::Data<AppState>, q: web::Query<TokenQuery>) -> HttpResponse {
    let Some(token) = q.into_inner().token.filter(|t| !t.is_empty()) else {
        return failure(&AppError::BadRequest {
            code: "INVITE_TOKEN_MISSING",
            message: "this page needs the whole link from the invitation".into(),
        });
    };
    match preview(&state, token.clone()).await {
        Ok(p) => page(StatusCode::OK, "Join insite", &form(&token, &p, None)),
        Err(e) => failure(&e),
    }
}

#[derive(Deserialize)]
struct JoinForm {
    token: String,
    password: String,
    confirm: Option<String>,
    totp: Option<String>,
}

async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Form<JoinForm>,
) -> HttpResponse {
    let f = body.into_inner();
    let p = match preview(&state, f.token.clone()).await {
        Ok(p) => p,
        Err(e) => return failure(&e),
    };
    if f.confirm.as_deref() != Some(f.password.as_str()) {
        let msg = "the two passwords differ";
        return page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Join insite",
            &form(&f.token, &p, Some(msg)),
        );
    }
    let body = AcceptBody {
        token: f.token.clone(),
        password: f.password,
        totp: f.totp.filter(|t| !t.trim().is_empty()),
        recovery_code: None,
    };
    match accept_invitation(&state, client_ip(&req), body).await {
        Ok(_) => page(
            StatusCode::OK,
            "Welcome",
            &format!(
                "<p>You are now a member of <strong>{}</strong> as <strong>{}</strong>. \
                 Sign in as {} (the link cannot be used again).</p>",
                escape(&p.org_name),
                escape(&p.role),
                escape(&p.email)
            ),
        ),
        Err(e) if e.status_code() == StatusCode::GONE => failure(&e),
        Err(e) => page(
            e.status_code(),
            "Join insite",
            &form(&f.token, &p, Some(&e.to_string())),
        ),
    }
}
