//! One-time invitation links, found by the digest of their secret. Scoped by org.

use super::schema::invites;
use super::DbConn;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = invites)]
pub struct Invite {
    pub id: String,
    pub org_id: String,
    pub email: String,
    pub role: String,
    #[serde(skip)]
    pub token_hash: String,
    /// `user:<id>`, `token:<id>` or `operator` (bootstrap from the shell).
    pub created_by: String,
    pub created_at: String,
    pub expires_at: String,
    pub accepted_at: Option<String>,
    pub revoked_at: Option<String>,
}

pub fn insert(conn: &mut DbConn, invite: &Invite) -> QueryResult<()> {
    diesel::insert_into(invites::table)
        .values(invite)
        .execute(conn)
        .map(drop)
}

/// Any org's invite by secret digest: the secret itself is the credential.
pub fn by_digest(conn: &mut DbConn, digest: &str) -> QueryResult<Option<Invite>> {
    invites::table
        .filter(invites::token_hash.eq(digest))
        .select(Invite::as_select())
        .first(conn)
        .optional()
}

/// Invites of this org that are neither used nor revoked nor expired.
pub fn pending(conn: &mut DbConn, org_id: &str, now: &str) -> QueryResult<Vec<Invite>> {
    invites::table
        .filter(invites::org_id.eq(org_id))
        .filter(invites::accepted_at.is_null())
        .filter(invites::revoked_at.is_null())
        .filter(invites::expires_at.gt(now))
        .select(Invite::as_select())
        .order(invites::created_at.desc())
        .load(conn)
}

/// Withdraws an open invite of this org; 0 rows means another org's, used or unknown.
pub fn revoke(conn: &mut DbConn, org_id: &str, id: &str, now: &str) -> QueryResult<usize> {
    diesel::update(
        invites::table
            .filter(invites::org_id.eq(org_id))
            .filter(invites::id.eq(id))
            .filter(invites::accepted_at.is_null())
            .filter(invites::revoked_at.is_null()),
    )
    .set(invites::revoked_at.eq(now))
    .execute(conn)
}

/// Marks an invite used, once: 0 rows means someone else used it first.
pub fn mark_accepted(conn: &mut DbConn, id: &str, now: &str) -> QueryResult<usize> {
    diesel::update(
        invites::table
            .filter(invites::id.eq(id))
            .filter(invites::accepted_at.is_null())
            .filter(invites::revoked_at.is_null()),
    )
    .set(invites::accepted_at.eq(now))
    .execute(conn)
}
