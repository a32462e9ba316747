//! Alert rules of the caller's org and the alert history.

use super::audited::{audited, delete_one};
use super::auth::{Authed, ManageSettings};
use super::error::{AppError, AppResult};
use crate::domain::time::stamp;
use crate::integrations::alerts::Condition;
use crate::integrations::kinds::ALERT_TARGETS;
use crate::server::AppState;
use crate::store::alerts::{self, Rule};
use crate::store::identity::new_id;
use crate::store::{integrations, trackers};
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/alert-rules", web::get().to(list_rules))
        .route("/alert-rules", web::post().to(create_rule))
        .route("/alert-rules/{id}", web::delete().to(remove_rule))
        .route("/alerts", web::get().to(history));
}

fn invalid(message: impl Into<String>) -> AppError {
    AppError::Unprocessable {
        code: "VALIDATION",
        message: message.into(),
    }
}

fn rule_view(r: &Rule) -> Value {
    let mut v = json!(r);
    v["condition"] = serde_json::from_str(&r.condition).unwrap_or(Value::Null);
    v
}

pub(crate) async fn list_rules(
    state: web::Data<AppState>,
    who: Authed<ManageSettings>,
) -> AppResult<HttpResponse> {
    let org = who.principal.org_id.clone();
    let rules = audited(
        &state,
        &who.principal,
        &who.ip,
        "alert_rule.list",
        ("org", org.clone()),
        move |conn| Ok(alerts::rules_of(conn, &org)?),
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({"rules": rules.iter().map(rule_view).collect::<Vec<_>>()})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRule {
    name: String,
    condition: Value,
    integration_id: String,
}

async fn create_rule(
    state: web::Data<AppState>,
    who: Authed<ManageSettings>,
    body: web::Json<NewRule>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let name = body.name.trim().to_string();
    if name.is_empty() || name.len() > 100 {
        return Err(invalid("name must be 1..=100 characters"));
    }
    let condition = Condition::parse(&body.condition).map_err(invalid)?;
    let rule = Rule {
        id: new_id(),
        org_id: who.principal.org_id.clone(),
        name,
        condition: serde_json::to_string(&condition)
            .map_err(|e| AppError::Internal(e.to_string()))?,
        integration_id: body.integration_id,
        created_by: who.principal.actor.clone(),
        created_at: stamp(state.clock.now()),
    };
    let object = ("alert_rule", rule.id.clone());
    let saved = audited(
        &state,
        &who.principal,
        &who.ip,
        "alert_rule.create",
        object,
        move |conn| {
            let target =
                integrations::get(conn, &rule.org_id, &rule.integration_id)?.ok_or_else(|| {
                    invalid("integration_id: no such integration in this organization")
                })?;
            if !ALERT_TARGETS.contains(&target.kind.as_str()) {
                return Err(invalid(format!(
                    "integration_id: a {} integration cannot receive alerts (use one of: {})",
                    target.kind,
                    ALERT_TARGETS.join(", ")
                )));
            }
            if let Condition::TrackerHit { tracker_id } = &condition {
                if !trackers::list(conn, &rule.org_id)?
                    .iter()
                    .any(|t| &t.id == tracker_id)
                {
                    return Err(invalid(
                        "condition.tracker_id: no such tracker in this organization",
                    ));
                }
            }
            if alerts::rules_of(conn, &rule.org_id)?
                .iter()
                .any(|r| r.name == rule.name)
            {
                return Err(AppError::Conflict {
                    code: "CONFLICT",
                    message: format!("an alert rule named '{}' exists", rule.name),
                });
            }
            alerts::insert_rule(conn, &rule)?;
            Ok(rule)
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(rule_view(&saved)))
}

async fn remove_rule(
    state: web::Data<AppState>,
    who: Authed<ManageSettings>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let object = ("alert_rule", path.into_inner());
    delete_one(
        &state,
        &who.principal,
        &who.ip,
        "alert_rule.delete",
        object,
        alerts::delete_rule,
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HistoryQuery {
    pub limit: Option<i64>,
}

pub(crate) async fn history(
    state: web::Data<AppState>,
    who: Authed<ManageSettings>,
    q: web::Query<HistoryQuery>,
) -> AppResult<HttpResponse> {
    let limit = q.limit.unwrap_or(200);
    if !(1..=1000).contains(&limit) {
        return Err(invalid("limit must be between 1 and 1000"));
    }
    let org = who.principal.org_id.clone();
    let (list, rules) = audited(
        &state,
        &who.principal,
        &who.ip,
        "alert.list",
        ("org", org.clone()),
        move |conn| {
            Ok((
                alerts::history(conn, &org, limit)?,
                alerts::rules_of(conn, &org)?,
            ))
        },
    )
    .await?;
    let named: Vec<Value> = list
        .iter()
        .map(|a| {
            let mut v = json!(a);
            v["rule"] = rules
                .iter()
                .find(|r| r.id == a.rule_id)
                .map_or(Value::Null, |r| json!(r.name));
            v
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({"alerts": named})))
}
