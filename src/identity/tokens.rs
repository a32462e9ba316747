//! API tokens for machines: scoped to one org and role, shown once, stored hashed.

use super::{IdentityError, Principal};
use crate::crypto::token;
use crate::domain::roles::Role;
use crate::domain::time::{parse, stamp};
use crate::store::access::{self, ApiToken};
use crate::store::identity::new_id;
use crate::store::DbConn;
use chrono::{DateTime, Duration, Utc};

/// Prefix that makes leaked tokens recognisable by secret scanners.
const PREFIX: &str = "ins_";

/// Creates a token; returns the secret (shown once) and the stored row.
pub fn create_token(
    conn: &mut DbConn,
    org_id: &str,
    role: Role,
    name: &str,
    valid_days: i64,
    now: DateTime<Utc>,
) -> Result<(String, ApiToken), IdentityError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(IdentityError::Invalid(
            "token name must be 1..=100 characters".into(),
        ));
    }
    if !(1..=3650).contains(&valid_days) {
        return Err(IdentityError::Invalid(
            "expires_in_days must be between 1 and 3650".into(),
        ));
    }
    let secret = token::generate(PREFIX).map_err(IdentityError::Internal)?;
    let row = ApiToken {
        id: new_id(),
        org_id: org_id.to_string(),
        name: name.to_string(),
        role: role.as_str().to_string(),
        token_hash: token::digest(&secret),
        created_at: stamp(now),
        expires_at: stamp(now + Duration::days(valid_days)),
        revoked_at: None,
    };
    access::insert_token(conn, &row)?;
    Ok((secret, row))
}

/// Resolves `Authorization: Bearer ins_…`: known, not revoked, not expired.
pub fn authenticate_token(
    conn: &mut DbConn,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<Principal, IdentityError> {
    if !secret.starts_with(PREFIX) {
        return Err(IdentityError::Unauthenticated);
    }
    let Some(row) = access::token_by_digest(conn, &token::digest(secret))? else {
        return Err(IdentityError::Unauthenticated);
    };
    if row.revoked_at.is_some() {
        return Err(IdentityError::Unauthenticated);
    }
    if parse(&row.expires_at).map_err(IdentityError::Internal)? <= now {
        return Err(IdentityError::SessionExpired);
    }
    Ok(Principal {
        org_id: row.org_id,
        role: row.role.parse().map_err(IdentityError::Internal)?,
        actor: format!("token:{}", row.id),
        user_id: None,
        session_id: None,
        csrf: None,
        must_enroll_totp: false,
    })
}
