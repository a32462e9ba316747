//! The REST API: route table, thin handlers, and the one error mapping.

pub mod error;
mod health;
mod system;

use actix_web::web;

/// Probes at the root, the versioned API under `/api/v1`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    health::configure(cfg);
    cfg.service(web::scope("/api/v1").configure(system::configure));
}
