//! Facts about this node for API clients: version, installation id, the API description.

use super::error::AppResult;
use crate::server::AppState;
use crate::store::installation;
use actix_web::{web, HttpResponse};
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/version", web::get().to(version))
        .route("/openapi.json", web::get().to(openapi));
}

/// The API description (OpenAPI 3.1), compiled into the binary.
pub(crate) const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(OPENAPI)
}

pub(crate) async fn version(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let pool = state.pool.clone();
    let now = state.clock.now();
    let install = web::block(move || {
        let mut conn = pool.get()?;
        Ok::<_, crate::api::error::AppError>(installation::ensure(&mut conn, now)?)
    })
    .await??;
    Ok(HttpResponse::Ok().json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "installation_id": install.installation_id,
    })))
}
