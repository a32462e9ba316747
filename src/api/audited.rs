//! The one way API handlers touch customer data: run the store call off the async
//! workers and append an audit entry with its outcome.

use super::error::{current_request_id, AppError, AppResult};
use crate::audit::{self, Event};
use crate::identity::Principal;
use crate::server::AppState;
use actix_web::web;

/// Like [`audited`] for a call that makes its object: `f` may answer the new object's
/// id with its result, and the entry names that opaque id instead of `object.1`
/// (nothing the client sent, such as an external id that may carry personal data: the
/// audit log outlives erasure).
pub fn audited_new<T: Send + 'static>(
    state: &AppState,
    principal: &Principal,
    ip: &str,
    action: &'static str,
    object: (&'static str, String),
    f: impl FnOnce(&mut crate::store::DbConn) -> AppResult<(T, Option<String>)> + Send + 'static,
) -> impl std::future::Future<Output = AppResult<T>> {
    let pool = state.pool.clone();
    let now = state.clock.now();
    let event = Event {
        chain: principal.org_id.clone(),
        actor: principal.actor.clone(),
        action: action.to_string(),
        object_type: object.0.to_string(),
        object_id: String::new(),
        ip: ip.to_string(),
        request_id: current_request_id().unwrap_or_default(),
        outcome: String::new(),
    };
    async move {
        web::block(move || {
            let mut conn = pool.get()?;
            let (result, object_id) = match f(&mut conn) {
                Ok((value, made)) => (Ok(value), made.unwrap_or(object.1)),
                Err(e) => (Err(e), object.1),
            };
            let outcome = match &result {
                Ok(_) => "success",
                Err(AppError::NotFound) => "not_found",
                Err(_) => "failure",
            };
            audit::append(
                &mut conn,
                &Event {
                    outcome: outcome.into(),
                    object_id,
                    ..event
                },
                now,
            )?;
            result
        })
        .await?
    }
}

/// Runs `f` on a pooled connection and appends an audit entry for the caller.
pub fn audited<T: Send + 'static>(
    state: &AppState,
    principal: &Principal,
    ip: &str,
    action: &'static str,
    object: (&'static str, String),
    f: impl FnOnce(&mut crate::store::DbConn) -> AppResult<T> + Send + 'static,
) -> impl std::future::Future<Output = AppResult<T>> {
    audited_new(state, principal, ip, action, object, move |conn| {
        f(conn).map(|value| (value, None))
    })
}

/// Deletes one object of the caller's org by id through `delete(conn, org, id)`
/// (which answers how many rows went): 204, or 404 when the org has no such object.
pub async fn delete_one(
    state: &AppState,
    principal: &Principal,
    ip: &str,
    action: &'static str,
    object: (&'static str, String),
    delete: fn(&mut crate::store::DbConn, &str, &str) -> diesel::QueryResult<usize>,
) -> AppResult<actix_web::HttpResponse> {
    let org = principal.org_id.clone();
    let id = object.1.clone();
    audited(
        state,
        principal,
        ip,
        action,
        object,
        move |conn| match delete(conn, &org, &id)? {
            0 => Err(AppError::NotFound),
            _ => Ok(()),
        },
    )
    .await?;
    Ok(actix_web::HttpResponse::NoContent().finish())
}
