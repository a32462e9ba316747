//! The server-rendered web console under `/console/`: templates compiled into the
//! binary (`templates/`), one small script and style sheet served by insite itself
//! (`assets/`), strict security headers on every response (`headers.rs`), sign-in and
//! sign-out as plain forms (`signin.rs`), pages that show the API's data with the
//! API's permission checks and audit (`guard.rs`, `pages/`), charts drawn on the
//! server (`charts.rs`). Also the page behind invitation links (`invite.rs`).

mod assets;
mod charts;
mod guard;
mod headers;
mod html;
mod invite;
mod pages;
mod signin;
mod templates;

use actix_web::middleware::from_fn;
use actix_web::{web, HttpResponse};

pub fn configure(cfg: &mut web::ServiceConfig) {
    invite::configure(cfg);
    cfg.route("/console", web::get().to(to_console))
        .route("/", web::get().to(to_console))
        .service(
            web::scope("/console")
                .wrap(from_fn(headers::secure))
                .configure(signin::configure)
                .configure(assets::configure)
                .configure(pages::configure),
        );
}

async fn to_console() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("location", "/console/"))
        .finish()
}
