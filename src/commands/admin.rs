//! `insite admin bootstrap|org create|token create` and `insite audit verify`: operator tasks from
//! the server's shell, audited like everything else.

use super::{load_config, CommandError};
use crate::audit::{self, Event};
use crate::clock;
use crate::domain::roles::Role;
use crate::identity;
use crate::store::{self, identity as ids, migrate};
use std::io::BufRead;
use std::path::Path;

/// The config and a database connection with the schema up to date (operator commands).
pub(super) fn open(
    config_path: &Path,
) -> Result<(crate::config::Config, store::PooledConn), CommandError> {
    let config = load_config(config_path)?;
    let pool = store::open(&config).map_err(CommandError::from_display)?;
    let mut conn = pool.get().map_err(CommandError::from_display)?;
    migrate::run_pending(&mut conn).map_err(CommandError::from_display)?;
    Ok((config, conn))
}

fn read_password_stdin() -> Result<String, CommandError> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(CommandError::from_display)?;
    let pass = line.trim_end_matches(['\n', '\r']).to_string();
    if pass.is_empty() {
        return Err(CommandError("no password on standard input".into()));
    }
    Ok(pass)
}

/// Creates the first organization and its owner: with the password from stdin, or
/// (without `--password-stdin`) an owner invitation whose one-time setup link is printed.
pub fn bootstrap(
    config_path: &Path,
    org: &str,
    email: &str,
    password_stdin: bool,
) -> Result<String, CommandError> {
    let (config, mut conn) = open(config_path)?;
    let pass = if password_stdin {
        Some(read_password_stdin()?)
    } else {
        None
    };
    let (org, owner) = identity::bootstrap(
        &mut conn,
        &config.auth,
        org,
        email,
        pass.as_deref(),
        clock::system().now(),
    )
    .map_err(CommandError::from_display)?;
    Ok(match owner {
        identity::FirstOwner::Created(user) => format!(
            "created organization '{}' ({}) and its owner {} ({})\nsign in with a browser at {}/console/",
            org.name,
            org.id,
            user.email,
            user.id,
            config.public_base_url()
        ),
        identity::FirstOwner::Invited(secret, invite) => format!(
            "created organization '{}' ({}); its owner {} sets a password with this one-time link (valid until {}):\n{}\nthen signs in with a browser at {}/console/",
            org.name,
            org.id,
            invite.email,
            invite.expires_at,
            config.invite_link(&secret),
            config.public_base_url()
        ),
    })
}

/// Creates another organization and prints its owner's one-time invitation link.
pub fn org_create(
    config_path: &Path,
    org: &str,
    owner_email: &str,
) -> Result<String, CommandError> {
    let (config, mut conn) = open(config_path)?;
    let (org, secret, invite) = identity::create_org(
        &mut conn,
        &config.auth,
        org,
        owner_email,
        clock::system().now(),
    )
    .map_err(CommandError::from_display)?;
    Ok(format!(
        "created organization '{}' ({}); its owner {} joins with this one-time link (valid until {}):\n{}",
        org.name,
        org.id,
        invite.email,
        invite.expires_at,
        config.invite_link(&secret)
    ))
}

/// Shell-only recovery of a locked-out account (new password from stdin).
pub fn recover(config_path: &Path, email: &str) -> Result<String, CommandError> {
    let (config, mut conn) = open(config_path)?;
    let pass = read_password_stdin()?;
    let now = clock::system().now();
    let user_id = identity::recover(&mut conn, &config.auth, email, &pass, now)
        .map_err(CommandError::from_display)?;
    let orgs = ids::orgs_of(&mut conn, &user_id).map_err(CommandError::from_display)?;
    for (org, _) in &orgs {
        audit::append(
            &mut conn,
            &Event::by_operator(&org.id, "user.recover", "user", &user_id),
            now,
        )
        .map_err(CommandError::from_display)?;
    }
    Ok(format!(
        "{email}: new password set, account unlocked, second factor removed (enrol again after signing in), all sessions ended"
    ))
}

/// Prints a new API token for `org` with `role` (shown once).
pub fn token_create(
    config_path: &Path,
    org: &str,
    role: &str,
    name: &str,
    days: i64,
) -> Result<String, CommandError> {
    let (_, mut conn) = open(config_path)?;
    let role: Role = role.parse().map_err(CommandError)?;
    let org = ids::org_by_name(&mut conn, org)
        .map_err(CommandError::from_display)?
        .ok_or_else(|| CommandError(format!("no organization named '{org}'")))?;
    let now = clock::system().now();
    let (secret, row) = identity::create_token(&mut conn, &org.id, role, name, days, now)
        .map_err(CommandError::from_display)?;
    audit::append(
        &mut conn,
        &Event::by_operator(&org.id, "token.create", "token", &row.id),
        now,
    )
    .map_err(CommandError::from_display)?;
    Ok(secret)
}

/// Verifies every audit chain; fails naming the first broken entry.
pub fn audit_verify(config_path: &Path) -> Result<String, CommandError> {
    let (_, mut conn) = open(config_path)?;
    match audit::verify(&mut conn).map_err(CommandError::from_display)? {
        Ok(report) => Ok(format!(
            "audit log intact: {} entries in {} chains",
            report.entries, report.chains
        )),
        Err(broken) => Err(CommandError::from_display(broken)),
    }
}
