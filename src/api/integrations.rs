//! Integrations of the caller's organization: connector settings and their
//! credentials (API and OAuth tokens, passwords). Credentials are write-only: they are
//! sealed under the org's key at once and answers only ever name the fields set.

use super::audited::{audited, delete_one};
use super::auth::{Authed, ManageSettings};
use super::conversations::cipher_of;
use super::error::{AppError, AppResult};
use crate::domain::time::stamp;
use crate::server::AppState;
use crate::store::identity::new_id;
use crate::store::integrations::{self, Integration};
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/integrations", web::get().to(list))
        .route("/integrations", web::post().to(create))
        .route(
            "/integrations/{id}/credentials",
            web::put().to(replace_credentials),
        )
        .route("/integrations/{id}", web::delete().to(remove));
}

use crate::integrations::health;
use crate::integrations::kinds::{self, KINDS};
use crate::store::integration_state::{self, State};

fn invalid(message: impl Into<String>) -> AppError {
    AppError::Unprocessable {
        code: "VALIDATION",
        message: message.into(),
    }
}

/// An integration as people see it: settings, the credential fields set, health.
pub fn view(i: &Integration, state: Option<&State>, now: &str) -> Value {
    json!({
        "id": i.id,
        "kind": i.kind,
        "name": i.name,
        "settings": serde_json::from_str::<Value>(&i.settings).unwrap_or(Value::Null),
        "credentials_set": serde_json::from_str::<Value>(&i.credential_names).unwrap_or(Value::Null),
        "created_at": i.created_at,
        "updated_at": i.updated_at,
        "health": health::view(&i.kind, state, now),
    })
}

/// Checks a kind's settings and credentials (names and the values that are URLs).
fn check_kind(kind: &str, settings: &str, creds: &BTreeMap<String, String>) -> AppResult<()> {
    let settings: Map<String, Value> = serde_json::from_str(settings).unwrap_or_default();
    let names: Vec<&str> = creds.keys().map(String::as_str).collect();
    kinds::check(kind, &settings, &names).map_err(invalid)?;
    let values: Map<String, Value> = creds
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    kinds::check_credentials(kind, &values).map_err(invalid)
}

/// Checks credential fields: 1..=10 names of `[a-z0-9_]` (1..=40), values 1..=8192
/// characters. Returns (names JSON, values JSON).
fn check_credentials(creds: &BTreeMap<String, String>) -> AppResult<(String, String)> {
    if creds.is_empty() || creds.len() > 10 {
        return Err(invalid("credentials must hold 1..=10 fields"));
    }
    for (name, value) in creds {
        let ok_name = (1..=40).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !ok_name {
            return Err(invalid(format!(
                "credential field '{name}': names are 1..=40 characters of a-z, 0-9 and '_'"
            )));
        }
        if value.is_empty() || value.len() > 8192 {
            return Err(invalid(format!(
                "credential field '{name}' must be 1..=8192 characters"
            )));
        }
    }
    let names: Vec<&String> = creds.keys().collect();
    let json =
        |v: Result<String, serde_json::Error>| v.map_err(|e| AppError::Internal(e.to_string()));
    Ok((
        json(serde_json::to_string(&names))?,
        json(serde_json::to_string(creds))?,
    ))
}

pub(crate) async fn list(
    state: web::Data<AppState>,
    who: Authed<ManageSettings>,
) -> AppResult<HttpResponse> {
    let org = who.principal.org_id.clone();
    let rows = audited(
        &state,
        &who.principal,
        &who.ip,
        "integration.list",
        ("org", org.clone()),
        move |conn| {
            let rows = integrations::list(conn, &org)?;
            let mut out = Vec::new();
            for row in rows {
                let state = integration_state::get(conn, &org, &row.id)?;
                out.push((row, state));
            }
            Ok(out)
        },
    )
    .await?;
    let now = stamp(state.clock.now());
    let list: Vec<Value> = rows
        .iter()
        .map(|(i, s)| view(i, s.as_ref(), &now))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "integrations": list })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewIntegration {
    kind: String,
    name: String,
    #[serde(default)]
    settings: Map<String, Value>,
    credentials: BTreeMap<String, String>,
}

async fn create(
    state: web::Data<AppState>,
    who: Authed<ManageSettings>,
    body: web::Json<NewIntegration>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    if !KINDS.contains(&body.kind.as_str()) {
        return Err(invalid(format!(
            "kind '{}' is unknown (one of: {})",
            body.kind,
            KINDS.join(", ")
        )));
    }
    let name = body.name.trim().to_string();
    if name.is_empty() || name.len() > 100 {
        return Err(invalid("name must be 1..=100 characters"));
    }
    let settings = Value::Object(body.settings).to_string();
    if settings.len() > 8192 {
        return Err(invalid("settings must be at most 8192 bytes of JSON"));
    }
    let (names, plain) = check_credentials(&body.credentials)?;
    check_kind(&body.kind, &settings, &body.credentials)?;
    let cipher = cipher_of(&state, &who.principal.org_id).await?;
    let now = stamp(state.clock.now());
    let row = Integration {
        id: new_id(),
        org_id: who.principal.org_id.clone(),
        kind: body.kind,
        name,
        settings,
        credential_names: names,
        credentials: plain,
        created_at: now.clone(),
        updated_at: now,
    };
    let object = ("integration", row.id.clone());
    let created = audited(
        &state,
        &who.principal,
        &who.ip,
        "integration.create",
        object,
        move |conn| {
            if integrations::list(conn, &row.org_id)?
                .iter()
                .any(|i| i.name == row.name)
            {
                return Err(AppError::Conflict {
                    code: "CONFLICT",
                    message: format!("an integration named '{}' exists", row.name),
                });
            }
            integrations::insert(conn, &cipher, &row)?;
            integrations::get(conn, &row.org_id, &row.id)?.ok_or(AppError::NotFound)
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(view(&created, None, &stamp(state.clock.now()))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Credentials {
    credentials: BTreeMap<String, String>,
}

async fn replace_credentials(
    state: web::Data<AppState>,
    who: Authed<ManageSettings>,
    path: web::Path<String>,
    body: web::Json<Credentials>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let creds = body.into_inner().credentials;
    let (names, plain) = check_credentials(&creds)?;
    let cipher = cipher_of(&state, &who.principal.org_id).await?;
    let now = stamp(state.clock.now());
    let object = ("integration", id.clone());
    let row = audited(
        &state,
        &who.principal,
        &who.ip,
        "integration.credentials",
        object,
        move |conn| {
            let existing =
                integrations::get(conn, &cipher.org_id, &id)?.ok_or(AppError::NotFound)?;
            check_kind(&existing.kind, &existing.settings, &creds)?;
            if integrations::set_credentials(conn, &cipher, &id, &names, &plain, &now)? == 0 {
                return Err(AppError::NotFound);
            }
            let row = integrations::get(conn, &cipher.org_id, &id)?.ok_or(AppError::NotFound)?;
            let health = integration_state::get(conn, &cipher.org_id, &id)?;
            Ok((row, health))
        },
    )
    .await?;
    let (row, health) = row;
    Ok(HttpResponse::Ok().json(view(&row, health.as_ref(), &stamp(state.clock.now()))))
}

async fn remove(
    state: web::Data<AppState>,
    who: Authed<ManageSettings>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let object = ("integration", path.into_inner());
    delete_one(
        &state,
        &who.principal,
        &who.ip,
        "integration.delete",
        object,
        integrations::delete,
    )
    .await
}
