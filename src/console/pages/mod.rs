//! The console's pages, one file per area.

pub mod admin;
mod conversations;
mod dashboard;
mod integrations;
mod privacy;
mod scorecards;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    dashboard::configure(cfg);
    conversations::configure(cfg);
    scorecards::configure(cfg);
    admin::configure(cfg);
    privacy::configure(cfg);
    integrations::configure(cfg);
}
