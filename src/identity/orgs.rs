//! Organizations beyond the first: an operator creates one from the server's shell and
//! its owner joins by invitation (a new account, or an existing one proven as at
//! sign-in), so tenants are made the way the product isolates them.

use super::IdentityError;
use crate::audit::{self, Event};
use crate::config::AuthConfig;
use crate::domain::roles::Role;
use crate::domain::time::stamp;
use crate::store::identity::{self, new_id, Org};
use crate::store::invites::Invite;
use crate::store::DbConn;
use chrono::{DateTime, Utc};
use diesel::Connection;

/// A new organization row with default settings, its name checked.
pub(super) fn new_org(name: &str, at: &str) -> Result<Org, IdentityError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(IdentityError::Invalid(
            "organization name must be 1..=100 characters, without control characters".into(),
        ));
    }
    Ok(Org {
        id: new_id(),
        name: name.to_string(),
        require_totp: false,
        redact_audio: "off".into(),
        analysis: "{}".into(),
        retention: "{}".into(),
        created_at: at.to_string(),
    })
}

/// Creates another organization and an owner invitation for `owner_email`; returns
/// the org, the invitation's secret (shown once, in the link) and the invitation.
/// Names are unique (sign-in chooses an org by name). Audited in the new org.
pub fn create_org(
    conn: &mut DbConn,
    cfg: &AuthConfig,
    name: &str,
    owner_email: &str,
    now: DateTime<Utc>,
) -> Result<(Org, String, Invite), IdentityError> {
    let org = new_org(name, &stamp(now))?;
    conn.transaction(|conn| {
        if identity::org_by_name(conn, &org.name)?.is_some() {
            return Err(IdentityError::Conflict(format!(
                "an organization named '{}' exists already",
                org.name
            )));
        }
        identity::insert_org(conn, &org)?;
        let operator = Event::by_operator(&org.id, "org.create", "org", &org.id);
        let (secret, invite) = super::create_invite(
            conn,
            cfg,
            &org.id,
            owner_email,
            Role::Owner,
            &operator.actor,
            now,
        )?;
        audit::append(conn, &operator, now)?;
        Ok((org, secret, invite))
    })
}
