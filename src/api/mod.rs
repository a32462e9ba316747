//! The REST API: route table, thin handlers, and the one error mapping.

pub(crate) mod account;
pub(crate) mod agreement;
pub(crate) mod alerts;
pub(crate) mod analysis;
pub(crate) mod audit;
mod audited;
pub mod auth;
pub(crate) mod coaching;
pub(crate) mod conversations;
pub(crate) mod dashboard;
pub mod error;
mod health;
pub(crate) mod integration_ops;
pub(crate) mod integrations;
pub(crate) mod invites;
pub(crate) mod jobs;
pub(crate) mod methods;
pub(crate) mod org;
mod params;
mod recording;
pub(crate) mod records;
pub(crate) mod retention;
pub(crate) mod session;
pub(crate) mod subjects;
pub(crate) mod system;
pub(crate) mod templates;
pub(crate) mod tokens;
pub(crate) mod trackers;
pub(crate) mod users;
pub(crate) mod webhooks;

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
            .configure(integration_ops::configure)
            .configure(alerts::configure)
            .configure(webhooks::configure)
            .configure(templates::configure)
            .configure(analysis::configure)
            .configure(coaching::configure)
            .configure(agreement::configure)
            .configure(dashboard::configure)
            .configure(retention::configure)
            .configure(subjects::configure)
            .configure(records::configure),
    );
}
