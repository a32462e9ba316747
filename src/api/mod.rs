//! The REST API: route table, thin handlers, and the one error mapping.

mod account;
mod analysis;
mod audit;
mod audited;
pub mod auth;
mod coaching;
mod conversations;
pub mod error;
mod health;
mod integrations;
pub(crate) mod invites;
mod jobs;
mod org;
mod params;
mod recording;
mod session;
mod system;
mod templates;
mod tokens;
mod trackers;
mod users;

use actix_web::web;

/// Probes at the root, the versioned API under `/api/v1`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    health::configure(cfg);
    cfg.service(
        web::scope("/api/v1")
            .configure(system::configure)
            .configure(session::configure)
            .configure(account::configure)
            .configure(org::configure)
            .configure(users::configure)
            .configure(tokens::configure)
            .configure(invites::configure)
            .configure(audit::configure)
            .configure(conversations::configure)
            .configure(jobs::configure)
            .configure(trackers::configure)
            .configure(integrations::configure)
            .configure(templates::configure)
            .configure(analysis::configure)
            .configure(coaching::configure),
    );
}
