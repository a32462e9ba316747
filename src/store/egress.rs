//! The outbound log: one row per call through the egress gate (no bodies, no secrets).

use super::schema::egress_log;
use super::DbConn;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = egress_log)]
pub struct EgressRow {
    pub id: String,
    pub org_id: String,
    pub integration_id: String,
    pub at: String,
    pub method: String,
    pub host: String,
    pub path: String,
    pub status: Option<i32>,
    pub bytes: i64,
    /// `success`, `failure` or `refused`.
    pub outcome: String,
    pub error: Option<String>,
}

pub fn insert(conn: &mut DbConn, row: &EgressRow) -> QueryResult<usize> {
    diesel::insert_into(egress_log::table)
        .values(row)
        .execute(conn)
}

/// The org's newest calls (of one integration when given), newest first.
pub fn recent(
    conn: &mut DbConn,
    org_id: &str,
    integration_id: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<EgressRow>> {
    let mut q = egress_log::table
        .filter(egress_log::org_id.eq(org_id))
        .into_boxed();
    if let Some(id) = integration_id {
        q = q.filter(egress_log::integration_id.eq(id.to_string()));
    }
    q.order((egress_log::at.desc(), egress_log::id.desc()))
        .limit(limit)
        .select(EgressRow::as_select())
        .load(conn)
}

/// Removes calls logged before `cutoff` (kept as long as the audit log).
pub fn prune(conn: &mut DbConn, org_id: &str, cutoff: &str) -> QueryResult<usize> {
    diesel::delete(
        egress_log::table
            .filter(egress_log::org_id.eq(org_id))
            .filter(egress_log::at.lt(cutoff)),
    )
    .execute(conn)
}
