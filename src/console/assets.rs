//! The console's script and style sheet, compiled into the binary and served by
//! insite itself (nothing is loaded from anywhere else).

use actix_web::{web, HttpResponse};

const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/assets/app.js", web::get().to(js))
        .route("/assets/app.css", web::get().to(css));
}

async fn js() -> HttpResponse {
    asset("text/javascript; charset=utf-8", APP_JS)
}

async fn css() -> HttpResponse {
    asset("text/css; charset=utf-8", APP_CSS)
}

fn asset(content_type: &str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("cache-control", "no-cache"))
        .body(body)
}
