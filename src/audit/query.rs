//! Reading one organization's audit trail with filters, and exporting it.

use super::AuditEntry;
use crate::store::schema::audit_log;
use crate::store::DbConn;
use diesel::prelude::*;

/// Filters of `GET /api/v1/audit`; all optional, combined with AND.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuditFilter {
    /// Exact actor, e.g. `user:<id>`.
    pub actor: Option<String>,
    pub action: Option<String>,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    /// RFC 3339 bounds, inclusive.
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: Option<i64>,
}

/// The org's entries, newest first, filtered (at most 1000 per call).
pub fn list(conn: &mut DbConn, org_id: &str, f: &AuditFilter) -> QueryResult<Vec<AuditEntry>> {
    let mut q = audit_log::table
        .filter(audit_log::chain.eq(org_id))
        .select(AuditEntry::as_select())
        .into_boxed();
    if let Some(v) = &f.actor {
        q = q.filter(audit_log::actor.eq(v.clone()));
    }
    if let Some(v) = &f.action {
        q = q.filter(audit_log::action.eq(v.clone()));
    }
    if let Some(v) = &f.object_type {
        q = q.filter(audit_log::object_type.eq(v.clone()));
    }
    if let Some(v) = &f.object_id {
        q = q.filter(audit_log::object_id.eq(v.clone()));
    }
    if let Some(v) = &f.from {
        q = q.filter(audit_log::at.ge(v.clone()));
    }
    if let Some(v) = &f.to {
        q = q.filter(audit_log::at.le(v.clone()));
    }
    q.order(audit_log::seq.desc())
        .limit(f.limit.unwrap_or(200).clamp(1, 1000))
        .load(conn)
}

/// CSV with a header row; fields quoted where needed.
pub fn to_csv(entries: &[AuditEntry]) -> String {
    let quote = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let mut out = String::from(
        "org_id,seq,at,actor,action,object_type,object_id,ip,request_id,outcome,prev_hash,hash\n",
    );
    for e in entries {
        let row = [
            &e.chain,
            &e.seq.to_string(),
            &e.at,
            &e.actor,
            &e.action,
            &e.object_type,
            &e.object_id,
            &e.ip,
            &e.request_id,
            &e.outcome,
            &e.prev_hash,
            &e.hash,
        ]
        .map(|f| quote(f))
        .join(",");
        out.push_str(&row);
        out.push('\n');
    }
    out
}
