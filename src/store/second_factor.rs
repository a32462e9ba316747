//! TOTP state and recovery codes of a user.

use super::schema::{recovery_codes, users};
use super::DbConn;
use crate::crypto::aead::IntegrityError;
use crate::keys::{KeyError, OrgCipher};
use diesel::prelude::*;

/// Stores a pending secret, sealed under the installation's system key.
pub fn set_pending(
    conn: &mut DbConn,
    system: &OrgCipher,
    user_id: &str,
    secret: &str,
) -> Result<usize, KeyError> {
    let sealed = system.seal("users", "totp_pending", user_id, secret)?;
    Ok(diesel::update(users::table.find(user_id))
        .set(users::totp_pending.eq(Some(sealed)))
        .execute(conn)?)
}

/// A user's sealed TOTP value (`totp_secret` or `totp_pending`), opened.
pub fn open(
    system: &OrgCipher,
    column: &str,
    user_id: &str,
    stored: Option<&str>,
) -> Result<Option<String>, IntegrityError> {
    system.open_opt("users", column, user_id, stored)
}

/// Turns the pending secret on, remembering the step of the code that confirmed it.
pub fn confirm(
    conn: &mut DbConn,
    system: &OrgCipher,
    user_id: &str,
    secret: &str,
    step: i64,
) -> Result<usize, KeyError> {
    let sealed = system.seal("users", "totp_secret", user_id, secret)?;
    Ok(diesel::update(users::table.find(user_id))
        .set((
            users::totp_secret.eq(Some(sealed)),
            users::totp_pending.eq(None::<String>),
            users::totp_last_step.eq(step),
        ))
        .execute(conn)?)
}

/// Records `step` as used; false if it (or a later one) was used already.
pub fn consume_step(conn: &mut DbConn, user_id: &str, step: i64) -> QueryResult<bool> {
    diesel::update(
        users::table
            .find(user_id)
            .filter(users::totp_last_step.lt(step)),
    )
    .set(users::totp_last_step.eq(step))
    .execute(conn)
    .map(|n| n == 1)
}

/// Switches the second factor off and drops recovery codes (account recovery).
pub fn clear(conn: &mut DbConn, user_id: &str) -> QueryResult<()> {
    diesel::update(users::table.find(user_id))
        .set((
            users::totp_secret.eq(None::<String>),
            users::totp_pending.eq(None::<String>),
        ))
        .execute(conn)?;
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
        .execute(conn)
        .map(drop)
}

/// Replaces the user's recovery codes with these digests.
pub fn replace_codes(conn: &mut DbConn, user_id: &str, digests: &[String]) -> QueryResult<()> {
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
        .execute(conn)?;
    for d in digests {
        diesel::insert_into(recovery_codes::table)
            .values((
                recovery_codes::id.eq(super::identity::new_id()),
                recovery_codes::user_id.eq(user_id),
                recovery_codes::code_hash.eq(d),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Uses an unused recovery code; false if none matches.
pub fn use_code(conn: &mut DbConn, user_id: &str, digest: &str, now: &str) -> QueryResult<bool> {
    diesel::update(
        recovery_codes::table
            .filter(recovery_codes::user_id.eq(user_id))
            .filter(recovery_codes::code_hash.eq(digest))
            .filter(recovery_codes::used_at.is_null()),
    )
    .set(recovery_codes::used_at.eq(Some(now)))
    .execute(conn)
    .map(|n| n == 1)
}
