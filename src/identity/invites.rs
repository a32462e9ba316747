//! Invitations by one-time link: an admin (or the bootstrap) names an e-mail and a
//! role; the person opens the link and chooses their own password.

use super::proof::{self, Credentials};
use super::IdentityError;
use crate::audit::{self, Event};
use crate::config::AuthConfig;
use crate::crypto::{password, token};
use crate::domain::email::parse_account_email;
use crate::domain::password_policy;
use crate::domain::roles::Role;
use crate::domain::time::{parse, stamp};
use crate::keys::Keyring;
use crate::store::identity::{self, new_id, User};
use crate::store::invites::{self, Invite};
use crate::store::DbConn;
use chrono::{DateTime, Duration, Utc};
use diesel::Connection;

/// Prefix of invitation secrets, recognisable by secret scanners.
const PREFIX: &str = "inv_";

/// Creates an invitation; returns the secret (shown once, inside the link) and the row.
pub fn create_invite(
    conn: &mut DbConn,
    cfg: &AuthConfig,
    org_id: &str,
    email: &str,
    role: Role,
    created_by: &str,
    now: DateTime<Utc>,
) -> Result<(String, Invite), IdentityError> {
    let email = parse_account_email(email).map_err(IdentityError::Invalid)?;
    if let Some(user) = identity::user_by_email(conn, &email)? {
        if identity::role_in(conn, org_id, &user.id)?.is_some() {
            return Err(IdentityError::Conflict(format!(
                "{email} is already a member"
            )));
        }
    }
    let secret = token::generate(PREFIX).map_err(IdentityError::Internal)?;
    let row = Invite {
        id: new_id(),
        org_id: org_id.to_string(),
        email,
        role: role.as_str().to_string(),
        token_hash: token::digest(&secret),
        created_by: created_by.to_string(),
        created_at: stamp(now),
        expires_at: stamp(now + Duration::hours(cfg.invite_ttl_hours)),
        accepted_at: None,
        revoked_at: None,
    };
    invites::insert(conn, &row)?;
    Ok((secret, row))
}

/// An invitation as its holder sees it before accepting.
#[derive(Debug, serde::Serialize)]
pub struct InvitePreview {
    pub org_name: String,
    pub email: String,
    pub role: String,
    pub expires_at: String,
}

/// The open invitation behind `secret`, or why it cannot be used.
fn usable(conn: &mut DbConn, secret: &str, now: DateTime<Utc>) -> Result<Invite, IdentityError> {
    let unusable = |why: &str| IdentityError::InviteUnusable(why.to_string());
    if !secret.starts_with(PREFIX) {
        return Err(unusable("this invitation link is not valid"));
    }
    let invite = invites::by_digest(conn, &token::digest(secret))?
        .ok_or_else(|| unusable("this invitation link is not valid"))?;
    if invite.accepted_at.is_some() {
        return Err(unusable(
            "this invitation was already used; sign in instead",
        ));
    }
    if invite.revoked_at.is_some() {
        return Err(unusable(
            "this invitation was withdrawn; ask an administrator for a new one",
        ));
    }
    if parse(&invite.expires_at).map_err(IdentityError::Internal)? <= now {
        return Err(unusable(&format!(
            "this invitation expired at {}; ask an administrator for a new one",
            invite.expires_at
        )));
    }
    Ok(invite)
}

/// What the link shows before the person sets a password.
pub fn preview_invite(
    conn: &mut DbConn,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<InvitePreview, IdentityError> {
    let invite = usable(conn, secret, now)?;
    let org = identity::org_by_id(conn, &invite.org_id)?
        .ok_or_else(|| IdentityError::InviteUnusable("this invitation link is not valid".into()))?;
    Ok(InvitePreview {
        org_name: org.name,
        email: invite.email,
        role: invite.role,
        expires_at: invite.expires_at,
    })
}

/// A failed attempt to accept with an existing account's password: in the system
/// chain under the account (its owner's operators see it) and, without naming the
/// account, in the inviting org (whose admin holds the link).
fn audit_refusal(
    conn: &mut DbConn,
    invite: &Invite,
    user_id: &str,
    ip: &str,
    request_id: &str,
    now: DateTime<Utc>,
) -> Result<(), IdentityError> {
    for (chain, actor) in [
        (audit::SYSTEM_CHAIN.to_string(), format!("user:{user_id}")),
        (invite.org_id.clone(), "anonymous".to_string()),
    ] {
        let event = Event {
            chain,
            actor,
            action: "invite.accept".into(),
            object_type: "invite".into(),
            object_id: invite.id.clone(),
            ip: ip.to_string(),
            request_id: request_id.to_string(),
            outcome: "failure".into(),
        };
        audit::append(conn, &event, now)?;
    }
    Ok(())
}

/// Uses an invitation once: a new account gets the password sent (policy-checked);
/// an existing account must prove itself exactly as at sign-in (lockout, second
/// factor, audit). Audited in the org.
#[allow(clippy::too_many_arguments)]
pub fn accept_invite(
    conn: &mut DbConn,
    cfg: &AuthConfig,
    keyring: &Keyring,
    secret: &str,
    creds: &Credentials,
    ip: &str,
    request_id: &str,
    now: DateTime<Utc>,
) -> Result<(Invite, String), IdentityError> {
    let invite = usable(conn, secret, now)?;
    // Who joins: an existing account (proven as at sign-in) or a new one.
    let joiner = match identity::user_by_email(conn, &invite.email)? {
        Some(user) => {
            if let Err(e) = proof::prove(conn, cfg, keyring, &user, creds, now) {
                audit_refusal(conn, &invite, &user.id, ip, request_id, now)?;
                return Err(e);
            }
            Ok(user.id)
        }
        None => {
            let pass = creds.password;
            password_policy::check(pass, &invite.email).map_err(IdentityError::Policy)?;
            Err(password::hash(pass, cfg).map_err(IdentityError::Internal)?)
        }
    };
    let at = stamp(now);
    conn.transaction(|conn| {
        if invites::mark_accepted(conn, &invite.id, &at)? != 1 {
            return Err(IdentityError::InviteUnusable(
                "this invitation was already used; sign in instead".into(),
            ));
        }
        let user_id = match joiner {
            Ok(id) => id,
            Err(hash) => {
                let user = User::new(&invite.email, hash, &at);
                identity::insert_user(conn, &user)?;
                user.id
            }
        };
        if identity::role_in(conn, &invite.org_id, &user_id)?.is_none() {
            identity::add_member(conn, &invite.org_id, &user_id, &invite.role, &at)?;
        }
        audit::append(
            conn,
            &Event {
                chain: invite.org_id.clone(),
                actor: format!("user:{user_id}"),
                action: "invite.accept".into(),
                object_type: "invite".into(),
                object_id: invite.id.clone(),
                ip: ip.to_string(),
                request_id: request_id.to_string(),
                outcome: "success".into(),
            },
            now,
        )?;
        Ok((invite.clone(), user_id))
    })
}
