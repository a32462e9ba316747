//! The tamper-evident audit log: append-only entries, hash-chained per organization.

mod chain;
mod query;

pub use chain::{append, prune, verify, Broken, Event, VerifyReport, GENESIS};
pub use query::{list, to_csv, AuditFilter};

use crate::store::schema::audit_log;
use diesel::prelude::*;

/// Chain of events with no organization (e.g. a sign-in attempt for an unknown e-mail).
pub const SYSTEM_CHAIN: &str = "system";

/// One stored entry.
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    #[serde(skip)]
    pub id: i64,
    #[serde(rename = "org_id")]
    pub chain: String,
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub ip: String,
    pub request_id: String,
    pub outcome: String,
    pub prev_hash: String,
    pub hash: String,
}
