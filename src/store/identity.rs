//! Organizations, users and memberships. Member queries are scoped by org.

use super::schema::{memberships, orgs, users};
use super::DbConn;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = orgs)]
pub struct Org {
    pub id: String,
    pub name: String,
    pub require_totp: bool,
    pub created_at: String,
    /// Overwrite redacted spans in stored recordings: `off`, `silence` or `tone`.
    pub redact_audio: String,
    /// JSON: `domain::analysis::Settings` (which analyses run, the text modality).
    #[serde(serialize_with = "crate::domain::analysis::serialize_stored")]
    pub analysis: String,
    /// JSON: `domain::retention::Policy` (how long each data class is kept).
    #[serde(serialize_with = "crate::domain::retention::serialize_stored")]
    pub retention: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub failed_logins: i32,
    pub locked_until: Option<String>,
    pub disabled: bool,
    pub password_changed_at: String,
    pub created_at: String,
    /// Confirmed TOTP secret (base32); `None` when the second factor is off.
    pub totp_secret: Option<String>,
    /// Secret handed out by setup, waiting for a first valid code.
    pub totp_pending: Option<String>,
    /// Last accepted TOTP time step: a code is accepted once.
    pub totp_last_step: i64,
}

impl User {
    /// A new enabled account with a fresh id.
    pub fn new(email: &str, password_hash: String, now: &str) -> Self {
        Self {
            id: new_id(),
            email: normalize_email(email),
            password_hash,
            failed_logins: 0,
            locked_until: None,
            disabled: false,
            password_changed_at: now.to_string(),
            created_at: now.to_string(),
            totp_secret: None,
            totp_pending: None,
            totp_last_step: 0,
        }
    }
}

/// A user as seen inside one organization.
#[derive(Debug, Clone, Queryable, serde::Serialize, PartialEq)]
pub struct MemberView {
    pub user_id: String,
    pub email: String,
    pub role: String,
    pub disabled: bool,
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// E-mail addresses are compared case-insensitively.
pub fn normalize_email(email: &str) -> String {
    crate::domain::email::normalize(email)
}

pub fn insert_org(conn: &mut DbConn, org: &Org) -> QueryResult<()> {
    diesel::insert_into(orgs::table)
        .values(org)
        .execute(conn)
        .map(drop)
}

pub fn org_by_name(conn: &mut DbConn, name: &str) -> QueryResult<Option<Org>> {
    orgs::table
        .filter(orgs::name.eq(name))
        .select(Org::as_select())
        .first(conn)
        .optional()
}

/// Every organization (operator commands only: the API is always scoped to one).
pub fn list_orgs(conn: &mut DbConn) -> QueryResult<Vec<Org>> {
    orgs::table
        .order(orgs::name.asc())
        .select(Org::as_select())
        .load(conn)
}

pub fn org_by_id(conn: &mut DbConn, id: &str) -> QueryResult<Option<Org>> {
    orgs::table
        .find(id)
        .select(Org::as_select())
        .first(conn)
        .optional()
}

pub fn set_redact_audio(conn: &mut DbConn, org_id: &str, mode: &str) -> QueryResult<usize> {
    diesel::update(orgs::table.find(org_id))
        .set(orgs::redact_audio.eq(mode))
        .execute(conn)
}

pub fn set_analysis(conn: &mut DbConn, org_id: &str, settings: &str) -> QueryResult<usize> {
    diesel::update(orgs::table.find(org_id))
        .set(orgs::analysis.eq(settings))
        .execute(conn)
}

pub fn set_retention(conn: &mut DbConn, org_id: &str, policy: &str) -> QueryResult<usize> {
    diesel::update(orgs::table.find(org_id))
        .set(orgs::retention.eq(policy))
        .execute(conn)
}

pub fn set_require_totp(conn: &mut DbConn, org_id: &str, on: bool) -> QueryResult<usize> {
    diesel::update(orgs::table.find(org_id))
        .set(orgs::require_totp.eq(on))
        .execute(conn)
}

/// Removes a member from one org; 0 rows means not a member of this org.
pub fn remove_member(conn: &mut DbConn, org_id: &str, user_id: &str) -> QueryResult<usize> {
    diesel::delete(
        memberships::table
            .filter(memberships::org_id.eq(org_id))
            .filter(memberships::user_id.eq(user_id)),
    )
    .execute(conn)
}

pub fn count_owners(conn: &mut DbConn, org_id: &str) -> QueryResult<i64> {
    memberships::table
        .filter(memberships::org_id.eq(org_id))
        .filter(memberships::role.eq("owner"))
        .count()
        .get_result(conn)
}

pub fn count_orgs(conn: &mut DbConn) -> QueryResult<i64> {
    orgs::table.count().get_result(conn)
}

pub fn insert_user(conn: &mut DbConn, user: &User) -> QueryResult<()> {
    diesel::insert_into(users::table)
        .values(user)
        .execute(conn)
        .map(drop)
}

pub fn user_by_email(conn: &mut DbConn, email: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::email.eq(normalize_email(email)))
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn user_by_id(conn: &mut DbConn, id: &str) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn add_member(
    conn: &mut DbConn,
    org_id: &str,
    user_id: &str,
    role: &str,
    now: &str,
) -> QueryResult<()> {
    diesel::insert_into(memberships::table)
        .values((
            memberships::org_id.eq(org_id),
            memberships::user_id.eq(user_id),
            memberships::role.eq(role),
            memberships::created_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

/// The user's role in `org_id`, if a member.
pub fn role_in(conn: &mut DbConn, org_id: &str, user_id: &str) -> QueryResult<Option<String>> {
    memberships::table
        .filter(memberships::org_id.eq(org_id))
        .filter(memberships::user_id.eq(user_id))
        .select(memberships::role)
        .first(conn)
        .optional()
}

/// Organizations the user belongs to, by name.
pub fn orgs_of(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<(Org, String)>> {
    memberships::table
        .inner_join(orgs::table)
        .filter(memberships::user_id.eq(user_id))
        .select((Org::as_select(), memberships::role))
        .order(orgs::name)
        .load(conn)
}

pub fn members(conn: &mut DbConn, org_id: &str) -> QueryResult<Vec<MemberView>> {
    memberships::table
        .inner_join(users::table)
        .filter(memberships::org_id.eq(org_id))
        .select((users::id, users::email, memberships::role, users::disabled))
        .order(users::email)
        .load(conn)
}

pub fn member(conn: &mut DbConn, org_id: &str, user_id: &str) -> QueryResult<Option<MemberView>> {
    memberships::table
        .inner_join(users::table)
        .filter(memberships::org_id.eq(org_id))
        .filter(memberships::user_id.eq(user_id))
        .select((users::id, users::email, memberships::role, users::disabled))
        .first(conn)
        .optional()
}

pub fn set_role(conn: &mut DbConn, org_id: &str, user_id: &str, role: &str) -> QueryResult<usize> {
    diesel::update(
        memberships::table
            .filter(memberships::org_id.eq(org_id))
            .filter(memberships::user_id.eq(user_id)),
    )
    .set(memberships::role.eq(role))
    .execute(conn)
}

/// Claims one credential attempt before the password is checked, in one statement, so
/// parallel attempts cannot all pass a check made before any of them failed: a lock
/// that has run out is lifted first; then `failed_logins` grows by one unless the
/// account is locked or `threshold` attempts are already counted. `false`: refused.
pub fn claim_attempt(
    conn: &mut DbConn,
    user_id: &str,
    threshold: i32,
    now: &str,
) -> QueryResult<bool> {
    diesel::update(
        users::table
            .find(user_id)
            .filter(users::locked_until.le(now)),
    )
    .set((
        users::failed_logins.eq(0),
        users::locked_until.eq(None::<String>),
    ))
    .execute(conn)?;
    let claimed = diesel::update(
        users::table
            .find(user_id)
            .filter(users::locked_until.is_null())
            .filter(users::failed_logins.lt(threshold)),
    )
    .set(users::failed_logins.eq(users::failed_logins + 1))
    .execute(conn)?;
    Ok(claimed == 1)
}

/// A claimed attempt failed: locks the account until `lock_until` once `threshold`
/// attempts are counted. Returns whether the account is locked now.
pub fn lock_if_exhausted(
    conn: &mut DbConn,
    user_id: &str,
    threshold: i32,
    lock_until: &str,
) -> QueryResult<bool> {
    diesel::update(
        users::table
            .find(user_id)
            .filter(users::locked_until.is_null())
            .filter(users::failed_logins.ge(threshold)),
    )
    .set(users::locked_until.eq(Some(lock_until)))
    .execute(conn)?;
    let locked: Option<String> = users::table
        .find(user_id)
        .select(users::locked_until)
        .first(conn)?;
    Ok(locked.is_some())
}

/// A claimed attempt that proved nothing either way (a second factor not sent yet):
/// it no longer counts.
pub fn release_attempt(conn: &mut DbConn, user_id: &str) -> QueryResult<()> {
    diesel::update(
        users::table
            .find(user_id)
            .filter(users::failed_logins.gt(0)),
    )
    .set(users::failed_logins.eq(users::failed_logins - 1))
    .execute(conn)
    .map(drop)
}

pub fn clear_failures(conn: &mut DbConn, user_id: &str) -> QueryResult<()> {
    diesel::update(users::table.find(user_id))
        .set((
            users::failed_logins.eq(0),
            users::locked_until.eq(None::<String>),
        ))
        .execute(conn)
        .map(drop)
}

/// Sets a new password hash and unlocks the account.
pub fn set_password(conn: &mut DbConn, user_id: &str, hash: &str, now: &str) -> QueryResult<usize> {
    diesel::update(users::table.find(user_id))
        .set((
            users::password_hash.eq(hash),
            users::password_changed_at.eq(now),
            users::failed_logins.eq(0),
            users::locked_until.eq(None::<String>),
        ))
        .execute(conn)
}
