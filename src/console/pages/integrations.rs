//! The Integrations page: connectors with their health, "test connection" and "sync
//! now", alert rules and the alert history, and the outbound log of the egress gate.
//! It reads through the API's own handlers (same permission checks, same audit).

use super::admin::json_of;
use crate::api::alerts::{self, HistoryQuery};
use crate::api::auth::ManageSettings;
use crate::api::integration_ops::{self, receiver_url, LogQuery};
use crate::api::integrations;
use crate::console::guard::{show, Seen};
use crate::integrations::kinds::{ALERT_TARGETS, KINDS, NOT_YET};
use crate::integrations::sync::SYNCED;
use crate::server::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/integrations", web::get().to(integrations_page));
}

async fn integrations_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Seen<ManageSettings>,
) -> HttpResponse {
    show(
        &req,
        who,
        "integrations.html",
        "/console/integrations",
        |who| async move {
            let mut list = json_of(integrations::list(state.clone(), who.clone()).await).await?;
            if let Some(items) = list["integrations"].as_array_mut() {
                for i in items.iter_mut() {
                    if i["kind"] == "webhook" {
                        i["receiver_url"] =
                            json!(receiver_url(&state, i["id"].as_str().unwrap_or_default()));
                    }
                }
            }
            let rules = json_of(alerts::list_rules(state.clone(), who.clone()).await).await?;
            let history = json_of(
                alerts::history(
                    state.clone(),
                    who.clone(),
                    web::Query(HistoryQuery { limit: Some(50) }),
                )
                .await,
            )
            .await?;
            let log = json_of(
                integration_ops::outbound_log(
                    state.clone(),
                    who.clone(),
                    web::Query(LogQuery {
                        integration_id: None,
                        limit: Some(50),
                    }),
                )
                .await,
            )
            .await?;
            let targets: Vec<Value> = list["integrations"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|i| ALERT_TARGETS.contains(&i["kind"].as_str().unwrap_or_default()))
                .cloned()
                .collect();
            Ok(json!({
                "integrations": list["integrations"],
                "targets": targets,
                "kinds": KINDS,
                "not_yet": NOT_YET,
                "synced": SYNCED,
                "rules": rules["rules"],
                "alerts": history["alerts"],
                "calls": log["calls"],
            }))
        },
    )
    .await
}
