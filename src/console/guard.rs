//! Who is looking at a page: the API's `Authed<N>` (so a page needs the same
//! permission as its data), with errors turned into pages: not signed in goes to the
//! sign-in form, anything else is an error page with its status and stable code.

use super::templates::render;
use crate::api::auth::{Authed, Need};
use crate::api::error::AppError;
use crate::domain::roles::{allows, Permission};
use crate::identity::Principal;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde_json::{json, Value};
use std::future::Future;

/// The extractor of a page: the caller, or why not.
pub type Seen<N> = Result<Authed<N>, AppError>;

/// The navigation, each entry only for roles that may use it.
const NAV: &[(&str, &str, Permission)] = &[
    ("/console/", "Dashboard", Permission::ReadAllConversations),
    (
        "/console/conversations",
        "Conversations",
        Permission::ReadOwnConversations,
    ),
    (
        "/console/scorecards",
        "Scorecards",
        Permission::ReviewScores,
    ),
    ("/console/users", "Users", Permission::ManageUsers),
    ("/console/settings", "Settings", Permission::ManageSettings),
    (
        "/console/integrations",
        "Integrations",
        Permission::ManageSettings,
    ),
    (
        "/console/retention",
        "Retention",
        Permission::ManageSettings,
    ),
    (
        "/console/subjects",
        "Data subjects",
        Permission::HandleSubjectRequests,
    ),
    (
        "/console/records",
        "Art. 30",
        Permission::HandleSubjectRequests,
    ),
    ("/console/audit", "Audit log", Permission::ReadAudit),
    ("/console/system", "System", Permission::ManageSettings),
    ("/console/account", "Account", Permission::UseOwnAccount),
];

/// What every page's frame needs: the caller, their CSRF token and the navigation.
pub fn frame(p: &Principal, current: &str) -> Value {
    let nav: Vec<Value> = NAV
        .iter()
        .filter(|(_, _, need)| allows(p.role, *need))
        .map(|(href, label, _)| json!({"href": href, "label": label, "current": *href == current}))
        .collect();
    json!({
        "me": {"actor": p.actor, "role": p.role, "user_id": p.user_id},
        "csrf": p.csrf.clone().unwrap_or_default(),
        "nav": nav,
        "can": {
            "ingest": allows(p.role, Permission::Ingest),
            "review": allows(p.role, Permission::ReviewScores),
            "all_conversations": allows(p.role, Permission::ReadAllConversations),
            "manage_users": allows(p.role, Permission::ManageUsers),
            "manage_settings": allows(p.role, Permission::ManageSettings),
            "audit": allows(p.role, Permission::ReadAudit),
        },
    })
}

/// A page for an error: 401 sends the browser to sign in (and back here after),
/// a pending second-factor enrolment to the account page.
pub fn failure(req: &HttpRequest, e: &AppError) -> HttpResponse {
    match e.status_code() {
        StatusCode::UNAUTHORIZED => {
            let back = req
                .uri()
                .path_and_query()
                .map_or("/console/", |p| p.as_str());
            let target = format!(
                "/console/login?next={}",
                url::form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>()
            );
            HttpResponse::SeeOther()
                .insert_header(("location", target))
                .finish()
        }
        _ if e.code() == "TOTP_ENROLLMENT_REQUIRED" => HttpResponse::SeeOther()
            .insert_header(("location", "/console/account"))
            .finish(),
        status => render(
            status,
            "error.html",
            &json!({
                "title": status.canonical_reason().unwrap_or("Error"),
                "status": status.as_u16(),
                "code": e.code(),
                "message": e.to_string(),
            }),
        ),
    }
}

/// Renders `template` with the page data `load` produces for the caller, inside the
/// frame; any error becomes its page.
pub async fn show<N, F, Fut>(
    req: &HttpRequest,
    who: Seen<N>,
    template: &str,
    nav: &str,
    load: F,
) -> HttpResponse
where
    N: Need,
    F: FnOnce(Authed<N>) -> Fut,
    Fut: Future<Output = Result<Value, AppError>>,
{
    let who = match who {
        Ok(w) => w,
        Err(e) => return failure(req, &e),
    };
    let mut ctx = frame(&who.principal, nav);
    match load(who).await {
        Ok(data) => {
            ctx["page"] = data;
            render(StatusCode::OK, template, &ctx)
        }
        Err(e) => failure(req, &e),
    }
}

/// The query string without empty fields (a filter form sends every field), parsed
/// into `T`; a malformed one is a 400 with the parser's words.
pub fn query<T: serde::de::DeserializeOwned>(req: &HttpRequest) -> Result<T, AppError> {
    let kept: Vec<(String, String)> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let text = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(kept)
        .finish();
    actix_web::web::Query::<T>::from_query(&text)
        .map(|q| q.into_inner())
        .map_err(|e| AppError::BadRequest {
            code: "VALIDATION",
            message: e.to_string(),
        })
}
