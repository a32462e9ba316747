//! The files a recording-storage connector has taken (see the migration
//! `storage_objects`): known by an org-keyed tag of their location.

use super::schema::storage_objects;
use super::DbConn;
use diesel::prelude::*;

/// Whether the org has taken the file with this tag.
pub fn taken(conn: &mut DbConn, org_id: &str, tag: &str) -> QueryResult<bool> {
    let n: i64 = storage_objects::table
        .filter(storage_objects::org_id.eq(org_id))
        .filter(storage_objects::object_tag.eq(tag))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Records that the file was taken (again is a no-op).
pub fn record(
    conn: &mut DbConn,
    org_id: &str,
    integration_id: &str,
    tag: &str,
    now: &str,
) -> QueryResult<()> {
    let inserted = diesel::insert_into(storage_objects::table)
        .values((
            storage_objects::org_id.eq(org_id),
            storage_objects::object_tag.eq(tag),
            storage_objects::integration_id.eq(integration_id),
            storage_objects::taken_at.eq(now),
        ))
        .execute(conn);
    match inserted {
        Ok(_)
        | Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(()),
        Err(e) => Err(e),
    }
}
