//! Members of the caller's organization: list, add, change role. Owners and admins only.

use super::audited::audited;
use super::auth::{Authed, ManageUsers};
use super::error::{AppError, AppResult};
use crate::crypto::password;
use crate::domain::email::parse_account_email;
use crate::domain::password_policy;
use crate::domain::roles::{may_grant, Role};
use crate::domain::time::stamp;
use crate::server::AppState;
use crate::store::identity::{self, normalize_email, User};
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/users", web::get().to(list))
        .route("/users", web::post().to(add))
        .route("/users/{id}", web::get().to(get_one))
        .route("/users/{id}", web::patch().to(change_role))
        .route("/users/{id}", web::delete().to(remove));
}

/// The requested role, if `granter` may hand it out (only an owner makes owners).
pub(super) fn grantable_role(granter: Role, requested: &str) -> AppResult<Role> {
    let role: Role = requested.parse().map_err(|m| AppError::Unprocessable {
        code: "VALIDATION",
        message: m,
    })?;
    if !may_grant(granter, role) {
        return Err(AppError::Forbidden {
            code: "FORBIDDEN",
            message: "only an owner may grant the owner role".into(),
        });
    }
    Ok(role)
}

pub(crate) async fn list(
    state: web::Data<AppState>,
    who: Authed<ManageUsers>,
) -> AppResult<HttpResponse> {
    let org = who.principal.org_id.clone();
    let members = audited(
        &state,
        &who.principal,
        &who.ip,
        "user.list",
        ("org", org.clone()),
        move |conn| Ok(identity::members(conn, &org)?),
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({ "users": members })))
}

async fn get_one(
    state: web::Data<AppState>,
    who: Authed<ManageUsers>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let org = who.principal.org_id.clone();
    let id = path.into_inner();
    let member = audited(
        &state,
        &who.principal,
        &who.ip,
        "user.read",
        ("user", id.clone()),
        move |conn| identity::member(conn, &org, &id)?.ok_or(AppError::NotFound),
    )
    .await?;
    Ok(HttpResponse::Ok().json(member))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddUser {
    email: String,
    role: String,
    /// Initial password, passed to the person out of band; policy-checked.
    password: String,
}

/// Checks an add-member request; refusals are audited by the caller.
fn validate(body: &AddUser, granter: Role) -> AppResult<Role> {
    let role = grantable_role(granter, &body.role)?;
    let email = parse_account_email(&body.email).map_err(|m| AppError::Unprocessable {
        code: "VALIDATION",
        message: m,
    })?;
    password_policy::check(&body.password, &email).map_err(|m| AppError::Unprocessable {
        code: "PASSWORD_POLICY",
        message: m,
    })?;
    Ok(role)
}

async fn add(
    state: web::Data<AppState>,
    who: Authed<ManageUsers>,
    body: web::Json<AddUser>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let email = normalize_email(&body.email);
    let granter = who.principal.role;
    let cfg = state.config.auth.clone();
    let org = who.principal.org_id.clone();
    let now = stamp(state.clock.now());
    let object = ("user", email.clone());
    let auth = state.config.auth.clone();
    let actor = who.principal.actor.clone();
    let clock_now = state.clock.now();
    // Validation runs inside the audited call, so refused requests are audited too.
    let added = audited(
        &state,
        &who.principal,
        &who.ip,
        "user.add",
        object,
        move |conn| {
            let role = validate(&body, granter)?;
            if let Some(existing) = identity::user_by_email(conn, &email)? {
                if identity::role_in(conn, &org, &existing.id)?.is_some() {
                    return Err(AppError::Conflict {
                        code: "USER_EXISTS",
                        message: format!("{email} is already a member"),
                    });
                }
                // A person with an account joins only by accepting, with their own
                // sign-in; the password sent here is not theirs and is dropped.
                let (secret, invite) = crate::identity::create_invite(
                    conn, &auth, &org, &email, role, &actor, clock_now,
                )?;
                return Ok(Added::Invited(secret, Box::new(invite)));
            }
            let hash = password::hash(&body.password, &cfg).map_err(AppError::Internal)?;
            let user = User::new(&email, hash, &now);
            identity::insert_user(conn, &user)?;
            identity::add_member(conn, &org, &user.id, role.as_str(), &now)?;
            Ok(Added::Created(user.id, role))
        },
    )
    .await?;
    Ok(match added {
        Added::Created(user_id, role) => {
            HttpResponse::Created().json(json!({ "user_id": user_id, "role": role }))
        }
        Added::Invited(secret, invite) => HttpResponse::Accepted()
            .insert_header(("cache-control", "no-store"))
            .json(json!({
                "invited": true,
                "message": "this e-mail already has an insite account: the person joins by \
                            accepting the invitation with their own sign-in",
                "invite": invite,
                "link": state.config.invite_link(&secret),
                "token": secret,
            })),
    })
}

/// What adding a member did: a new account, or an invitation for an existing one.
enum Added {
    Created(String, Role),
    Invited(String, Box<crate::store::invites::Invite>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeRole {
    role: String,
}

async fn change_role(
    state: web::Data<AppState>,
    who: Authed<ManageUsers>,
    path: web::Path<String>,
    body: web::Json<ChangeRole>,
) -> AppResult<HttpResponse> {
    let granter = who.principal.role;
    let role = grantable_role(granter, &body.role)?;
    let org = who.principal.org_id.clone();
    let id = path.into_inner();
    let echo = id.clone();
    audited(
        &state,
        &who.principal,
        &who.ip,
        "user.role_change",
        ("user", id.clone()),
        move |conn| {
            let current = identity::role_in(conn, &org, &id)?.ok_or(AppError::NotFound)?;
            if current == Role::Owner.as_str() && granter != Role::Owner {
                return Err(AppError::Forbidden {
                    code: "FORBIDDEN",
                    message: "only an owner may change an owner".into(),
                });
            }
            identity::set_role(conn, &org, &id, role.as_str())?;
            Ok(())
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({ "user_id": echo, "role": role })))
}

/// Deactivates a member: removed from this organization, their sessions here ended.
async fn remove(
    state: web::Data<AppState>,
    who: Authed<ManageUsers>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let org = who.principal.org_id.clone();
    let granter = who.principal.role;
    let id = path.into_inner();
    audited(
        &state,
        &who.principal,
        &who.ip,
        "user.remove",
        ("user", id.clone()),
        move |conn| {
            let current = identity::role_in(conn, &org, &id)?.ok_or(AppError::NotFound)?;
            if current == Role::Owner.as_str() {
                if granter != Role::Owner {
                    return Err(AppError::Forbidden {
                        code: "FORBIDDEN",
                        message: "only an owner may remove an owner".into(),
                    });
                }
                if identity::count_owners(conn, &org)? <= 1 {
                    return Err(AppError::Conflict {
                        code: "LAST_OWNER",
                        message: "the last owner cannot be removed".into(),
                    });
                }
            }
            identity::remove_member(conn, &org, &id)?;
            crate::store::access::revoke_org_sessions(conn, &org, &id)?;
            Ok(())
        },
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
