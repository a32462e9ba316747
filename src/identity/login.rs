//! Bootstrap of the first owner, password sign-in with lockout, session checks.

use super::{proof, IdentityError, Principal};
use crate::audit::{self, Event, SYSTEM_CHAIN};
use crate::config::AuthConfig;
use crate::crypto::{password, token};
use crate::domain::email::parse_account_email;
use crate::domain::password_policy;
use crate::domain::roles::Role;
use crate::domain::time::{parse, stamp};
use crate::store::access::{self, Session};
use crate::store::identity::{self, new_id, normalize_email, Org, User};
use crate::store::DbConn;
use chrono::{DateTime, Duration, Utc};
use diesel::Connection;

/// The first owner: an account with the password given, or a one-time setup link.
#[derive(Debug)]
pub enum FirstOwner {
    Created(User),
    /// The secret of the setup invitation (owner role) and the invitation.
    Invited(String, crate::store::invites::Invite),
}

/// Creates the first organization and its owner (with `pass`) or an owner invitation
/// (without). Refused once any org exists.
pub fn bootstrap(
    conn: &mut DbConn,
    cfg: &AuthConfig,
    org_name: &str,
    email: &str,
    pass: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(Org, FirstOwner), IdentityError> {
    let email = parse_account_email(email).map_err(IdentityError::Invalid)?;
    let hash = match pass {
        Some(pass) => {
            password_policy::check(pass, &email).map_err(IdentityError::Policy)?;
            Some(password::hash(pass, cfg).map_err(IdentityError::Internal)?)
        }
        None => None,
    };
    let at = stamp(now);
    conn.transaction(|conn| {
        if identity::count_orgs(conn)? > 0 {
            return Err(IdentityError::Conflict(
                "already bootstrapped: an organization exists (use `insite admin recover` to regain access)".into(),
            ));
        }
        let org = super::orgs::new_org(org_name, &at)?;
        identity::insert_org(conn, &org)?;
        let operator = Event::by_operator(&org.id, "org.bootstrap", "user", "");
        let owner = match hash {
            Some(hash) => {
                let user = User::new(&email, hash, &at);
                identity::insert_user(conn, &user)?;
                identity::add_member(conn, &org.id, &user.id, Role::Owner.as_str(), &at)?;
                FirstOwner::Created(user)
            }
            None => {
                let (secret, invite) = super::create_invite(
                    conn,
                    cfg,
                    &org.id,
                    &email,
                    Role::Owner,
                    &operator.actor,
                    now,
                )?;
                FirstOwner::Invited(secret, invite)
            }
        };
        let (object_type, object_id) = match &owner {
            FirstOwner::Created(user) => ("user", user.id.clone()),
            FirstOwner::Invited(_, invite) => ("invite", invite.id.clone()),
        };
        let event = Event {
            object_type: object_type.into(),
            object_id,
            ..operator
        };
        audit::append(conn, &event, now)?;
        Ok((org, owner))
    })
}

/// A sign-in attempt.
#[derive(Debug, Clone)]
pub struct LoginInput {
    pub email: String,
    pub password: String,
    /// Organization name; may be omitted when the user belongs to exactly one.
    pub org: Option<String>,
    /// Current TOTP code, when the account has a second factor.
    pub totp: Option<String>,
    /// A one-time recovery code instead of the TOTP code.
    pub recovery_code: Option<String>,
    pub ip: String,
    pub request_id: String,
}

/// A successful sign-in: the cookie secret (shown once) and the session.
#[derive(Debug)]
pub struct LoginOutcome {
    pub token: String,
    pub session: Session,
    pub principal: Principal,
}

/// The CSRF token bound to a session secret (derivable only with the cookie).
pub fn csrf_for(session_token: &str) -> String {
    token::digest(&format!("csrf:{session_token}"))
}

fn audit_login(
    conn: &mut DbConn,
    chain: &str,
    actor: &str,
    input: &LoginInput,
    outcome: &str,
    now: DateTime<Utc>,
) -> Result<(), IdentityError> {
    audit::append(
        conn,
        &Event {
            chain: chain.to_string(),
            actor: actor.to_string(),
            action: "auth.login".into(),
            object_type: "session".into(),
            object_id: String::new(),
            ip: input.ip.clone(),
            request_id: input.request_id.clone(),
            outcome: outcome.to_string(),
        },
        now,
    )?;
    Ok(())
}

/// Checks the password (constant work for unknown users), applies the lockout,
/// and opens a session. Every attempt is audited.
pub fn login(
    conn: &mut DbConn,
    cfg: &AuthConfig,
    keyring: &crate::keys::Keyring,
    input: &LoginInput,
    now: DateTime<Utc>,
) -> Result<LoginOutcome, IdentityError> {
    let Some(user) = identity::user_by_email(conn, &input.email)? else {
        password::dummy_verify(&input.password, cfg);
        audit_login(
            conn,
            SYSTEM_CHAIN,
            &format!("anonymous:{}", normalize_email(&input.email)),
            input,
            "failure",
            now,
        )?;
        return Err(IdentityError::InvalidCredentials);
    };
    let memberships = identity::orgs_of(conn, &user.id)?;
    let chosen = match &input.org {
        Some(name) => memberships.iter().find(|(o, _)| &o.name == name),
        None if memberships.len() == 1 => memberships.first(),
        None => None,
    };
    let chain = chosen.map_or(SYSTEM_CHAIN.to_string(), |(o, _)| o.id.clone());
    let actor = format!("user:{}", user.id);
    if let Err(refused) = proof::check_password(conn, cfg, &user, &input.password, now) {
        let outcome = if refused.checked { "failure" } else { "denied" };
        audit_login(conn, &chain, &actor, input, outcome, now)?;
        return Err(refused.into());
    }
    let Some((org, role)) = chosen else {
        proof::release(conn, &user)?;
        audit_login(conn, &chain, &actor, input, "failure", now)?;
        return Err(IdentityError::OrgRequired(
            memberships.iter().map(|(o, _)| o.name.clone()).collect(),
        ));
    };
    let role: Role = role.parse().map_err(IdentityError::Internal)?;
    let creds = proof::Credentials {
        password: &input.password,
        totp: input.totp.as_deref(),
        recovery_code: input.recovery_code.as_deref(),
    };
    proof::second_factor(conn, cfg, keyring, &user, &creds, now).inspect_err(|_| {
        let _ = audit_login(conn, &chain, &actor, input, "failure", now);
    })?;
    proof::succeed(conn, &user)?;
    let secret = token::generate("").map_err(IdentityError::Internal)?;
    let at = stamp(now);
    let session = Session {
        id: new_id(),
        token_hash: token::digest(&secret),
        user_id: user.id.clone(),
        org_id: org.id.clone(),
        created_at: at.clone(),
        last_seen_at: at,
        expires_at: stamp(now + Duration::hours(cfg.session_absolute_hours)),
        ip: input.ip.clone(),
        revoked: false,
    };
    access::insert_session(conn, &session)?;
    audit_login(conn, &org.id, &actor, input, "success", now)?;
    let principal = Principal {
        org_id: org.id.clone(),
        role,
        actor,
        user_id: Some(user.id.clone()),
        session_id: Some(session.id.clone()),
        csrf: Some(csrf_for(&secret)),
        must_enroll_totp: org.require_totp && user.totp_secret.is_none(),
    };
    Ok(LoginOutcome {
        token: secret,
        session,
        principal,
    })
}

/// Resolves a session cookie: not revoked, within absolute and idle limits, user
/// still a member and enabled; refreshes the idle clock.
pub fn authenticate_session(
    conn: &mut DbConn,
    cfg: &AuthConfig,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<Principal, IdentityError> {
    let Some(session) = access::session_by_digest(conn, &token::digest(secret))? else {
        return Err(IdentityError::Unauthenticated);
    };
    if session.revoked {
        return Err(IdentityError::Unauthenticated);
    }
    let absolute = parse(&session.expires_at).map_err(IdentityError::Internal)?;
    let last = parse(&session.last_seen_at).map_err(IdentityError::Internal)?;
    if now >= absolute || now - last > Duration::minutes(cfg.session_idle_minutes) {
        return Err(IdentityError::SessionExpired);
    }
    let user =
        identity::user_by_id(conn, &session.user_id)?.ok_or(IdentityError::Unauthenticated)?;
    if user.disabled {
        return Err(IdentityError::Unauthenticated);
    }
    let role = identity::role_in(conn, &session.org_id, &user.id)?
        .ok_or(IdentityError::Unauthenticated)?;
    let require_totp = identity::org_by_id(conn, &session.org_id)?.is_some_and(|o| o.require_totp);
    access::touch_session(conn, &session.id, &stamp(now))?;
    Ok(Principal {
        org_id: session.org_id,
        role: role.parse().map_err(IdentityError::Internal)?,
        actor: format!("user:{}", user.id),
        must_enroll_totp: require_totp && user.totp_secret.is_none(),
        user_id: Some(user.id),
        session_id: Some(session.id),
        csrf: Some(csrf_for(secret)),
    })
}
