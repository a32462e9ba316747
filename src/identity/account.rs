//! The account owner's own security: TOTP enrolment, password change, and
//! recovery from the server's shell.

use super::proof::{self, Credentials};
use super::IdentityError;
use crate::config::AuthConfig;
use crate::crypto::{password, token, totp};
use crate::domain::password_policy;
use crate::domain::time::stamp;
use crate::keys::{KeyError, Keyring};
use crate::store::{access, identity, second_factor as sf, DbConn};
use chrono::{DateTime, Utc};
use diesel::Connection;

/// What setup shows once: the secret and the URI for an authenticator app.
#[derive(Debug, serde::Serialize)]
pub struct TotpSetup {
    pub secret: String,
    pub otpauth_uri: String,
}

fn user(conn: &mut DbConn, user_id: &str) -> Result<identity::User, IdentityError> {
    identity::user_by_id(conn, user_id)?.ok_or(IdentityError::Unauthenticated)
}

/// Re-authentication of a signed-in person before a sensitive change (second factor,
/// API tokens): the password and, where the account has one, the current code, with
/// the lockout of sign-in. A stolen session alone cannot make these changes.
pub fn reauthenticate(
    conn: &mut DbConn,
    cfg: &AuthConfig,
    keyring: &Keyring,
    user_id: &str,
    creds: &Credentials,
    now: DateTime<Utc>,
) -> Result<(), IdentityError> {
    let u = user(conn, user_id)?;
    proof::prove(conn, cfg, keyring, &u, creds, now)
}

/// Starts enrolment after re-authentication: a new pending secret (the active one, if
/// any, stays until confirmed).
pub fn start_totp(
    conn: &mut DbConn,
    cfg: &AuthConfig,
    keyring: &Keyring,
    user_id: &str,
    creds: &Credentials,
    now: DateTime<Utc>,
) -> Result<TotpSetup, IdentityError> {
    reauthenticate(conn, cfg, keyring, user_id, creds, now)?;
    let u = user(conn, user_id)?;
    let secret = totp::new_secret().map_err(IdentityError::Internal)?;
    let system = keyring.system(conn)?;
    sf::set_pending(conn, &system, user_id, &secret)?;
    Ok(TotpSetup {
        otpauth_uri: totp::uri(&secret, &u.email),
        secret,
    })
}

/// Confirms enrolment with a valid code; returns 10 recovery codes (shown once).
pub fn enable_totp(
    conn: &mut DbConn,
    keyring: &Keyring,
    user_id: &str,
    code: &str,
    now: DateTime<Utc>,
) -> Result<Vec<String>, IdentityError> {
    let u = user(conn, user_id)?;
    let system = keyring.system(conn)?;
    let pending = sf::open(&system, "totp_pending", user_id, u.totp_pending.as_deref())?
        .ok_or_else(|| IdentityError::Invalid("start with POST /api/v1/me/totp/setup".into()))?;
    let step = totp::verify(&pending, code, now.timestamp()).ok_or_else(|| {
        IdentityError::Invalid("the code does not match; check the device clock".into())
    })?;
    let codes: Vec<String> = (0..10)
        .map(|_| token::generate("").map(|t| format!("{}-{}-{}", &t[..4], &t[4..8], &t[8..12])))
        .collect::<Result<_, _>>()
        .map_err(IdentityError::Internal)?;
    let digests: Vec<String> = codes.iter().map(|c| token::digest(c)).collect();
    conn.transaction(|conn| {
        sf::confirm(conn, &system, user_id, &pending, step)?;
        sf::replace_codes(conn, user_id, &digests).map_err(KeyError::from)
    })?;
    Ok(codes)
}

/// Changes the password after checking the current one (counted against the lockout
/// like a sign-in); ends every session.
pub fn change_password(
    conn: &mut DbConn,
    cfg: &AuthConfig,
    user_id: &str,
    current: &str,
    new: &str,
    now: DateTime<Utc>,
) -> Result<usize, IdentityError> {
    let u = user(conn, user_id)?;
    password_policy::check(new, &u.email).map_err(IdentityError::Policy)?;
    proof::check_password(conn, cfg, &u, current, now)?;
    proof::succeed(conn, &u)?;
    let hash = password::hash(new, cfg).map_err(IdentityError::Internal)?;
    conn.transaction(|conn| {
        identity::set_password(conn, user_id, &hash, &stamp(now))?;
        Ok(access::revoke_all_sessions(conn, user_id)?)
    })
}

/// Shell-only recovery: new password, unlocked, second factor off (to re-enrol),
/// every session ended. Returns the user's id.
pub fn recover(
    conn: &mut DbConn,
    cfg: &AuthConfig,
    email: &str,
    new: &str,
    now: DateTime<Utc>,
) -> Result<String, IdentityError> {
    let u = identity::user_by_email(conn, email)?
        .ok_or_else(|| IdentityError::Invalid(format!("no user with e-mail {email}")))?;
    password_policy::check(new, &u.email).map_err(IdentityError::Policy)?;
    let hash = password::hash(new, cfg).map_err(IdentityError::Internal)?;
    conn.transaction(|conn| {
        identity::set_password(conn, &u.id, &hash, &stamp(now))?;
        sf::clear(conn, &u.id)?;
        access::revoke_all_sessions(conn, &u.id)?;
        Ok::<_, IdentityError>(())
    })?;
    Ok(u.id)
}
