//! Sessions (browser sign-ins) and API tokens (machines), found by token digest.

use super::schema::{api_tokens, sessions};
use super::DbConn;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = sessions)]
pub struct Session {
    pub id: String,
    #[serde(skip)]
    pub token_hash: String,
    pub user_id: String,
    pub org_id: String,
    pub created_at: String,
    pub last_seen_at: String,
    pub expires_at: String,
    pub ip: String,
    pub revoked: bool,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = api_tokens)]
pub struct ApiToken {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub role: String,
    #[serde(skip)]
    pub token_hash: String,
    pub created_at: String,
    pub expires_at: String,
    pub revoked_at: Option<String>,
}

pub fn insert_session(conn: &mut DbConn, s: &Session) -> QueryResult<()> {
    diesel::insert_into(sessions::table)
        .values(s)
        .execute(conn)
        .map(drop)
}

pub fn session_by_digest(conn: &mut DbConn, digest: &str) -> QueryResult<Option<Session>> {
    sessions::table
        .filter(sessions::token_hash.eq(digest))
        .select(Session::as_select())
        .first(conn)
        .optional()
}

pub fn touch_session(conn: &mut DbConn, id: &str, now: &str) -> QueryResult<()> {
    diesel::update(sessions::table.find(id))
        .set(sessions::last_seen_at.eq(now))
        .execute(conn)
        .map(drop)
}

/// Revokes one of the user's own sessions; 0 rows means not theirs or not found.
pub fn revoke_session(conn: &mut DbConn, user_id: &str, id: &str) -> QueryResult<usize> {
    diesel::update(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::id.eq(id)),
    )
    .set(sessions::revoked.eq(true))
    .execute(conn)
}

/// Revokes every session of a user (password change, recovery).
pub fn revoke_all_sessions(conn: &mut DbConn, user_id: &str) -> QueryResult<usize> {
    diesel::update(sessions::table.filter(sessions::user_id.eq(user_id)))
        .set(sessions::revoked.eq(true))
        .execute(conn)
}

/// Ends a user's sessions in one org (removed from it).
pub fn revoke_org_sessions(conn: &mut DbConn, org_id: &str, user_id: &str) -> QueryResult<usize> {
    diesel::update(
        sessions::table
            .filter(sessions::org_id.eq(org_id))
            .filter(sessions::user_id.eq(user_id)),
    )
    .set(sessions::revoked.eq(true))
    .execute(conn)
}

pub fn sessions_of(conn: &mut DbConn, user_id: &str, now: &str) -> QueryResult<Vec<Session>> {
    sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::revoked.eq(false))
        .filter(sessions::expires_at.gt(now))
        .select(Session::as_select())
        .order(sessions::created_at.desc())
        .load(conn)
}

pub fn insert_token(conn: &mut DbConn, t: &ApiToken) -> QueryResult<()> {
    diesel::insert_into(api_tokens::table)
        .values(t)
        .execute(conn)
        .map(drop)
}

pub fn token_by_digest(conn: &mut DbConn, digest: &str) -> QueryResult<Option<ApiToken>> {
    api_tokens::table
        .filter(api_tokens::token_hash.eq(digest))
        .select(ApiToken::as_select())
        .first(conn)
        .optional()
}

pub fn tokens(conn: &mut DbConn, org_id: &str) -> QueryResult<Vec<ApiToken>> {
    api_tokens::table
        .filter(api_tokens::org_id.eq(org_id))
        .select(ApiToken::as_select())
        .order(api_tokens::created_at.desc())
        .load(conn)
}

/// Revokes a token of this org; 0 rows means another org's or unknown.
pub fn revoke_token(conn: &mut DbConn, org_id: &str, id: &str, now: &str) -> QueryResult<usize> {
    diesel::update(
        api_tokens::table
            .filter(api_tokens::org_id.eq(org_id))
            .filter(api_tokens::id.eq(id))
            .filter(api_tokens::revoked_at.is_null()),
    )
    .set(api_tokens::revoked_at.eq(now))
    .execute(conn)
}
