//! Which one-time data conversions (`keys::upgrade`) have run on this database.

use super::schema::data_upgrades;
use super::DbConn;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

pub fn done(conn: &mut DbConn, name: &str) -> QueryResult<bool> {
    let n: i64 = data_upgrades::table
        .filter(data_upgrades::name.eq(name))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

pub fn mark(conn: &mut DbConn, name: &str, at: &str) -> QueryResult<()> {
    diesel::insert_into(data_upgrades::table)
        .values((data_upgrades::name.eq(name), data_upgrades::done_at.eq(at)))
        .execute(conn)
        .map(drop)
}

/// Removes what SQLite may still hold of overwritten values outside the live pages:
/// old frames at the end of the write-ahead log (freed pages are zeroed already,
/// `secure_delete`). PostgreSQL keeps old row versions until its own vacuum; the
/// README says to run `VACUUM FULL` after an upgrade that seals values.
pub fn drop_stale_copies(conn: &mut DbConn) -> QueryResult<()> {
    match conn {
        DbConn::Sqlite(c) => c.batch_execute("PRAGMA wal_checkpoint(TRUNCATE)"),
        DbConn::Pg(_) => Ok(()),
    }
}
