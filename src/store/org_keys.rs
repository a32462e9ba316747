//! Wrapped org keys and key rotations. Values here are ciphertext under the master key.

use super::schema::{key_rotations, org_keys};
use super::DbConn;
use diesel::prelude::*;

/// One wrapped key: `purpose` is `data` (values and blobs) or `index` (blind index).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = org_keys)]
pub struct OrgKeyRow {
    pub id: String,
    pub org_id: String,
    pub purpose: String,
    pub version: i32,
    pub master_id: String,
    /// Hex of nonce ‖ ciphertext ‖ tag; `None` once destroyed.
    pub wrapped: Option<String>,
    /// `active`, `retired` (kept to read data not yet re-encrypted) or `destroyed`.
    pub state: String,
    pub created_at: String,
    pub destroyed_at: Option<String>,
}

/// The org's own keys (data and index), not its data subjects' keys.
pub fn of_org(conn: &mut DbConn, org_id: &str) -> QueryResult<Vec<OrgKeyRow>> {
    org_keys::table
        .filter(org_keys::org_id.eq(org_id))
        .filter(org_keys::purpose.not_like(format!("{SUBJECT_PREFIX}%")))
        .order((org_keys::purpose.asc(), org_keys::version.asc()))
        .select(OrgKeyRow::as_select())
        .load(conn)
}

/// The purpose of a data subject's own key is this prefix and the subject's id.
pub const SUBJECT_PREFIX: &str = "subject:";

/// The key row of one data subject (destroyed ones included).
pub fn of_subject(
    conn: &mut DbConn,
    org_id: &str,
    subject_id: &str,
) -> QueryResult<Option<OrgKeyRow>> {
    org_keys::table
        .filter(org_keys::org_id.eq(org_id))
        .filter(org_keys::purpose.eq(format!("{SUBJECT_PREFIX}{subject_id}")))
        .select(OrgKeyRow::as_select())
        .first(conn)
        .optional()
}

/// The keys of an org's data subjects still wrapped (to destroy with the org).
pub fn subject_keys_of_org(conn: &mut DbConn, org_id: &str) -> QueryResult<Vec<OrgKeyRow>> {
    org_keys::table
        .filter(org_keys::org_id.eq(org_id))
        .filter(org_keys::purpose.like(format!("{SUBJECT_PREFIX}%")))
        .filter(org_keys::wrapped.is_not_null())
        .select(OrgKeyRow::as_select())
        .load(conn)
}

pub fn insert(conn: &mut DbConn, row: &OrgKeyRow) -> QueryResult<()> {
    diesel::insert_into(org_keys::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// Every key still wrapped (for re-wrapping under a new master key).
pub fn all_wrapped(conn: &mut DbConn) -> QueryResult<Vec<OrgKeyRow>> {
    org_keys::table
        .filter(org_keys::wrapped.is_not_null())
        .order(org_keys::id.asc())
        .select(OrgKeyRow::as_select())
        .load(conn)
}

/// The master key ids the database's keys are wrapped under.
pub fn master_ids(conn: &mut DbConn) -> QueryResult<Vec<String>> {
    org_keys::table
        .filter(org_keys::wrapped.is_not_null())
        .select(org_keys::master_id)
        .distinct()
        .load(conn)
}

pub fn rewrap(conn: &mut DbConn, id: &str, master_id: &str, wrapped: &str) -> QueryResult<usize> {
    diesel::update(org_keys::table.filter(org_keys::id.eq(id)))
        .set((
            org_keys::master_id.eq(master_id),
            org_keys::wrapped.eq(Some(wrapped)),
        ))
        .execute(conn)
}

pub fn set_state(conn: &mut DbConn, id: &str, state: &str) -> QueryResult<usize> {
    diesel::update(org_keys::table.filter(org_keys::id.eq(id)))
        .set(org_keys::state.eq(state))
        .execute(conn)
}

/// Forgets a key for good: the wrapped bytes are overwritten with NULL.
pub fn destroy(conn: &mut DbConn, id: &str, now: &str) -> QueryResult<usize> {
    diesel::update(org_keys::table.filter(org_keys::id.eq(id)))
        .set((
            org_keys::wrapped.eq(None::<String>),
            org_keys::state.eq("destroyed"),
            org_keys::destroyed_at.eq(Some(now)),
        ))
        .execute(conn)
}

/// A re-encryption of one org's data under `to_version`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = key_rotations)]
pub struct Rotation {
    pub id: String,
    pub org_id: String,
    pub to_version: i32,
    /// `running` or `done`.
    pub state: String,
    pub done: i32,
    pub total: i32,
    pub started_at: String,
    pub finished_at: Option<String>,
}

pub fn running_rotation(conn: &mut DbConn, org_id: &str) -> QueryResult<Option<Rotation>> {
    key_rotations::table
        .filter(key_rotations::org_id.eq(org_id))
        .filter(key_rotations::state.eq("running"))
        .select(Rotation::as_select())
        .first(conn)
        .optional()
}

pub fn any_running(conn: &mut DbConn) -> QueryResult<Vec<Rotation>> {
    key_rotations::table
        .filter(key_rotations::state.eq("running"))
        .select(Rotation::as_select())
        .load(conn)
}

pub fn rotations(conn: &mut DbConn) -> QueryResult<Vec<Rotation>> {
    key_rotations::table
        .order(key_rotations::started_at.desc())
        .limit(50)
        .select(Rotation::as_select())
        .load(conn)
}

pub fn insert_rotation(conn: &mut DbConn, r: &Rotation) -> QueryResult<()> {
    diesel::insert_into(key_rotations::table)
        .values(r)
        .execute(conn)
        .map(drop)
}

pub fn rotation_progress(conn: &mut DbConn, id: &str, done: i32, total: i32) -> QueryResult<usize> {
    diesel::update(key_rotations::table.filter(key_rotations::id.eq(id)))
        .set((key_rotations::done.eq(done), key_rotations::total.eq(total)))
        .execute(conn)
}

pub fn finish_rotation(conn: &mut DbConn, id: &str, now: &str) -> QueryResult<usize> {
    diesel::update(key_rotations::table.filter(key_rotations::id.eq(id)))
        .set((
            key_rotations::state.eq("done"),
            key_rotations::finished_at.eq(Some(now)),
        ))
        .execute(conn)
}
