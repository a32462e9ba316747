//! The dashboard: the figures of `GET /api/v1/dashboard` as server-drawn charts.
//! Agents (who see only their own calls) go to their conversations instead, auditors
//! to the audit log.

use super::admin::json_of;
use crate::api::auth::{Member, ReadAll};
use crate::api::dashboard::{read, Period};
use crate::console::charts::{bars, line};
use crate::console::guard::{failure, query, show, Seen};
use crate::domain::roles::{allows, Permission};
use crate::server::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(dashboard));
}

async fn dashboard(
    state: web::Data<AppState>,
    req: HttpRequest,
    member: Seen<Member>,
) -> HttpResponse {
    let member = match member {
        Ok(m) => m,
        Err(e) => return failure(&req, &e),
    };
    if !allows(member.principal.role, Permission::ReadAllConversations) {
        let role = member.principal.role;
        let to = if member.principal.must_enroll_totp {
            "/console/account"
        } else if allows(role, Permission::ReadOwnConversations) {
            "/console/conversations"
        } else if allows(role, Permission::ReadAudit) {
            "/console/audit"
        } else {
            "/console/account"
        };
        return HttpResponse::SeeOther()
            .insert_header(("location", to))
            .finish();
    }
    let who = member.allowed::<ReadAll>();
    let r = req.clone();
    show(&req, who, "dashboard.html", "/console/", |who| async move {
        let period: Period = query(&r)?;
        let mut d = json_of(read(state, who, web::Query(period)).await).await?;
        let volume_max = d["volume"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["value"].as_f64())
            .fold(1.0, f64::max);
        d["charts"] = json!({
            "volume": line(&d["volume"], 0.0, volume_max.ceil()),
            "sentiment": line(&d["sentiment"], -1.0, 1.0),
            "agents": bars(&d["scores_by_agent"], 100.0),
            "teams": bars(&d["scores_by_team"], 100.0),
        });
        Ok(d)
    })
    .await
}
