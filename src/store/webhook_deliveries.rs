//! Signatures of accepted webhook deliveries: a second delivery with the same
//! signature is a replay and is refused.

use super::schema::webhook_deliveries;
use super::DbConn;
use diesel::prelude::*;

/// Records a delivery; false when this signature was accepted before.
pub fn record(
    conn: &mut DbConn,
    org_id: &str,
    integration_id: &str,
    signature: &str,
    now: &str,
) -> QueryResult<bool> {
    let inserted = diesel::insert_into(webhook_deliveries::table)
        .values((
            webhook_deliveries::integration_id.eq(integration_id),
            webhook_deliveries::signature.eq(signature),
            webhook_deliveries::org_id.eq(org_id),
            webhook_deliveries::received_at.eq(now),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(true),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Forgets deliveries received before `cutoff` (older than any tolerated timestamp).
pub fn prune(conn: &mut DbConn, cutoff: &str) -> QueryResult<usize> {
    diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::received_at.lt(cutoff)))
        .execute(conn)
}
