//! Proof that the person at the keyboard owns an account: the password with its
//! lockout, then the second factor. Sign-in, accepting an invitation with an existing
//! account, and re-authentication for sensitive changes all go through here, so none
//! of them is a password oracle the others are not.

use super::IdentityError;
use crate::config::AuthConfig;
use crate::crypto::{password, token, totp};
use crate::domain::time::{parse, stamp};
use crate::keys::Keyring;
use crate::store::identity::{self, User};
use crate::store::{second_factor as sf, DbConn};
use chrono::{DateTime, Duration, Utc};

/// What a person sends to prove themselves.
#[derive(Debug, Clone, Copy, Default)]
pub struct Credentials<'a> {
    pub password: &'a str,
    /// Current TOTP code, when the account has a second factor.
    pub totp: Option<&'a str>,
    /// A one-time recovery code instead of the TOTP code.
    pub recovery_code: Option<&'a str>,
}

/// The lock to report when an attempt is refused: the stored one, or (while the
/// attempts in flight have not set it yet) one lockout period from now.
fn locked(conn: &mut DbConn, cfg: &AuthConfig, user_id: &str, now: DateTime<Utc>) -> IdentityError {
    let stored = identity::user_by_id(conn, user_id)
        .ok()
        .flatten()
        .and_then(|u| u.locked_until)
        .filter(|until| parse(until).is_ok_and(|t| t > now));
    IdentityError::Locked {
        until: stored.unwrap_or_else(|| stamp(now + Duration::minutes(cfg.lockout_minutes))),
    }
}

/// A claimed attempt failed: locked at the threshold, otherwise wrong credentials.
fn failed(conn: &mut DbConn, cfg: &AuthConfig, user: &User, now: DateTime<Utc>) -> IdentityError {
    let until = stamp(now + Duration::minutes(cfg.lockout_minutes));
    match identity::lock_if_exhausted(conn, &user.id, cfg.lockout_threshold, &until) {
        Ok(true) => locked(conn, cfg, &user.id, now),
        Ok(false) => IdentityError::InvalidCredentials,
        Err(e) => e.into(),
    }
}

/// A refused first step: `checked` tells whether the password was compared at all
/// (false: refused by the lock before any check).
#[derive(Debug)]
pub struct Refused {
    pub checked: bool,
    pub error: IdentityError,
}

impl From<Refused> for IdentityError {
    fn from(r: Refused) -> Self {
        r.error
    }
}

/// First step: claims an attempt (refused while locked, counted before the check so
/// parallel guesses cannot outrun the lock) and checks the password. On success the
/// attempt stays counted until [`second_factor`] and [`succeed`] or [`release`].
pub fn check_password(
    conn: &mut DbConn,
    cfg: &AuthConfig,
    user: &User,
    pass: &str,
    now: DateTime<Utc>,
) -> Result<(), Refused> {
    let refused = |checked, error| Refused { checked, error };
    let claimed = identity::claim_attempt(conn, &user.id, cfg.lockout_threshold, &stamp(now))
        .map_err(|e| refused(false, e.into()))?;
    if !claimed {
        password::dummy_verify(pass, cfg);
        return Err(refused(false, locked(conn, cfg, &user.id, now)));
    }
    if user.disabled || !password::verify(pass, &user.password_hash) {
        return Err(refused(true, failed(conn, cfg, user, now)));
    }
    Ok(())
}

/// Second step, for accounts with a second factor: the TOTP code (once per time step)
/// or a recovery code (once ever). Sending neither, or a code already used, does not
/// count as a failure.
pub fn second_factor(
    conn: &mut DbConn,
    cfg: &AuthConfig,
    keyring: &Keyring,
    user: &User,
    creds: &Credentials,
    now: DateTime<Utc>,
) -> Result<(), IdentityError> {
    if user.totp_secret.is_none() {
        return Ok(());
    }
    if let Some(code) = creds.recovery_code {
        if sf::use_code(conn, &user.id, &token::digest(code.trim()), &stamp(now))? {
            return Ok(());
        }
        return Err(failed(conn, cfg, user, now));
    }
    let Some(code) = creds.totp else {
        release(conn, user)?;
        return Err(IdentityError::TotpRequired);
    };
    let system = keyring.system(conn)?;
    let secret = sf::open(
        &system,
        "totp_secret",
        &user.id,
        user.totp_secret.as_deref(),
    )?
    .unwrap_or_default();
    match totp::verify(&secret, code, now.timestamp()) {
        Some(step) if sf::consume_step(conn, &user.id, step)? => Ok(()),
        Some(_) => {
            release(conn, user)?;
            Err(IdentityError::TotpReused)
        }
        None => Err(failed(conn, cfg, user, now)),
    }
}

/// The attempt proved the account: its failure count starts again.
pub fn succeed(conn: &mut DbConn, user: &User) -> Result<(), IdentityError> {
    Ok(identity::clear_failures(conn, &user.id)?)
}

/// The attempt ended before it proved anything either way: it does not count.
pub fn release(conn: &mut DbConn, user: &User) -> Result<(), IdentityError> {
    Ok(identity::release_attempt(conn, &user.id)?)
}

/// All steps: password, second factor where the account has one, then success.
pub fn prove(
    conn: &mut DbConn,
    cfg: &AuthConfig,
    keyring: &Keyring,
    user: &User,
    creds: &Credentials,
    now: DateTime<Utc>,
) -> Result<(), IdentityError> {
    check_password(conn, cfg, user, creds.password, now)?;
    second_factor(conn, cfg, keyring, user, creds, now)?;
    succeed(conn, user)
}
