//! The one shared application state, built once at start-up.

use super::{metrics::Metrics, readiness::Readiness};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::store::Pool;
use std::sync::Arc;

/// Everything handlers share; cloned into each actix worker.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub pool: Pool,
    pub readiness: Readiness,
    pub metrics: Arc<Metrics>,
    pub clock: SharedClock,
    /// The served TLS certificate (its fingerprint; replaced on reload). None in
    /// tests that run without a listener.
    pub tls: Option<Arc<super::tls::LiveCert>>,
    /// Sign-in attempts per client IP.
    pub login_limiter: Arc<crate::identity::rate_limit::LoginLimiter>,
    /// Master key and org keys: every sealed value and blob goes through it.
    pub keyring: Arc<crate::keys::Keyring>,
    /// The egress gate: every outbound call (test connection, webhook fetches).
    pub gate: Arc<crate::integrations::egress::Gate>,
}
