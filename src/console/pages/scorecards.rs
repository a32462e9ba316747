//! Scorecards and custom insights: the list (create from a built-in or from JSON),
//! one scorecard (edit as a new version, preview on a conversation, re-score past
//! conversations with progress, and how often people agreed with the AI's answers).
//! The list flags scorecards with questions people often overrule.

use super::admin::json_of;
use crate::api::agreement;
use crate::api::auth::{Ingest, ReviewScores};
use crate::api::conversations::{list_view, ListQuery};
use crate::api::templates;
use crate::console::guard::{query, show, Seen};
use crate::server::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/scorecards", web::get().to(list))
        .route("/scorecards/{id}", web::get().to(one));
}

async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Seen<ReviewScores>,
) -> HttpResponse {
    show(
        &req,
        who,
        "scorecards.html",
        "/console/scorecards",
        |who| async move {
            let reader = who.allowed()?;
            let mut cards =
                json_of(templates::list_scorecards(state.clone(), reader.clone()).await).await?;
            // Questions below the agreement threshold over the last 90 days.
            for c in cards["scorecards"].as_array_mut().into_iter().flatten() {
                let id = c["id"].as_str().unwrap_or_default().to_string();
                let report = agreement::view(&state, &who, id, Default::default()).await?;
                c["flagged"] = report["flagged"].clone();
            }
            let mut insights =
                json_of(templates::list_insights(state.clone(), reader.clone()).await).await?;
            // Each insight's definition as editable JSON text.
            for i in insights["insights"].as_array_mut().into_iter().flatten() {
                i["json"] =
                    json!(serde_json::to_string_pretty(&i["definition"]).unwrap_or_default());
            }
            let builtins = json_of(templates::builtins(reader).await).await?;
            let builtins: Vec<_> = builtins["builtins"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|b| {
                    json!({"key": b["key"], "name": b["definition"]["name"],
                "json": serde_json::to_string_pretty(&b["definition"]).unwrap_or_default()})
                })
                .collect();
            Ok(json!({ "scorecards": cards, "insights": insights, "builtins": builtins }))
        },
    )
    .await
}

async fn one(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Seen<ReviewScores>,
    path: web::Path<String>,
) -> HttpResponse {
    let id = path.into_inner();
    let asked = query::<agreement::Query>(&req);
    show(&req, who, "scorecard.html", "/console/scorecards", |who| async move {
        let asked = asked?;
        let agreed = agreement::view(&state, &who, id.clone(), asked.clone()).await?;
        let reader = who.allowed()?;
        let versions = json_of(templates::versions_scorecard(state.clone(), reader, web::Path::from(id.clone())).await).await?;
        let latest = versions["versions"].as_array().and_then(|v| v.last()).cloned().unwrap_or_default();
        let definition = serde_json::to_string_pretty(&latest["definition"]).unwrap_or_default();
        // Conversations to try the scorecard on (for those who may queue analyses).
        let recent = match who.allowed::<Ingest>() {
            Ok(_) => {
                let q = ListQuery { state: Some("ready".into()), limit: Some(20), ..ListQuery::default() };
                list_view(&state, &who.allowed()?, q).await?["conversations"].take()
            }
            Err(_) => serde_json::Value::Null,
        };
        let period = json!({"from": asked.from, "to": asked.to, "min_agreement": asked.min_agreement, "min_n": asked.min_n});
        Ok(json!({ "id": id, "versions": versions, "latest": latest, "definition": definition, "recent": recent, "agreement": agreed, "period": period }))
    })
    .await
}
