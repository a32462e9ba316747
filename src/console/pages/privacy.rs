//! The privacy pages: retention and legal holds, data subjects and their requests
//! (with deadlines and export progress), and the Article 30 report. Each reads
//! through the API's own handlers (same permission checks, same audit entries).

use super::admin::json_of;
use crate::api::auth::{HandleSubjectRequests, ManageSettings};
use crate::api::subjects::{Lookup, RequestFilter};
use crate::api::{records, retention, subjects};
use crate::console::guard::{query, show, Seen};
use crate::server::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/retention", web::get().to(retention_page))
        .route("/subjects", web::get().to(subjects_page))
        .route("/subjects/{id}", web::get().to(subject_page))
        .route("/records", web::get().to(records_page));
}

async fn retention_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Seen<ManageSettings>,
) -> HttpResponse {
    show(
        &req,
        who,
        "retention.html",
        "/console/retention",
        |who| async move {
            let policy = json_of(retention::read(state.clone(), who.clone()).await).await?;
            let holds = json_of(
                retention::list_holds(state.clone(), who.allowed::<HandleSubjectRequests>()?).await,
            )
            .await?;
            Ok(json!({ "retention": policy, "holds": holds["holds"] }))
        },
    )
    .await
}

async fn subjects_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Seen<HandleSubjectRequests>,
) -> HttpResponse {
    let lookup = query::<Lookup>(&req);
    show(&req, who, "subjects.html", "/console/subjects", |who| async move {
        let lookup = lookup?;
        let asked = json!({"email": lookup.email, "phone": lookup.phone, "name": lookup.name});
        let searched = lookup.email.is_some() || lookup.phone.is_some() || lookup.name.is_some();
        let found = if searched {
            json_of(subjects::search(state.clone(), who.clone(), web::Query(lookup)).await)
                .await?["subjects"]
                .clone()
        } else {
            json!([])
        };
        let requests = json_of(
            subjects::list_requests(state.clone(), who.clone(), web::Query(RequestFilter { state: None }))
                .await,
        )
        .await?;
        Ok(json!({ "asked": asked, "searched": searched, "found": found, "requests": requests }))
    })
    .await
}

async fn subject_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Seen<HandleSubjectRequests>,
    path: web::Path<String>,
) -> HttpResponse {
    let id = path.into_inner();
    show(
        &req,
        who,
        "subject.html",
        "/console/subjects",
        |who| async move {
            json_of(subjects::read(state.clone(), who, web::Path::from(id)).await).await
        },
    )
    .await
}

async fn records_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Seen<HandleSubjectRequests>,
) -> HttpResponse {
    show(
        &req,
        who,
        "records.html",
        "/console/records",
        |who| async move { json_of(records::read(state.clone(), who).await).await },
    )
    .await
}
