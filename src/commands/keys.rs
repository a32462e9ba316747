//! `insite keys status|rotate-master|rotate-org|shred-org`: key management from the
//! server's shell. Each operation is resumable (run it again after a crash) and audited.

use super::admin::open;
use super::CommandError;
use crate::blob::BlobStore;
use crate::clock;
use crate::config::Config;
use crate::keys::master::Source;
use crate::keys::{rotate, Keyring};
use crate::store::{self, identity, org_keys};
use std::io::Write;
use std::path::Path;

pub(super) fn keyring(config: &Config, conn: &mut store::DbConn) -> Result<Keyring, CommandError> {
    let source = Source::locate(&config.master_key_file());
    Keyring::open_checked(source, conn, clock::system()).map_err(CommandError::from_display)
}

/// An org by name or id.
pub(super) fn org_id(conn: &mut store::DbConn, org: &str) -> Result<String, CommandError> {
    if let Some(o) = identity::org_by_name(conn, org).map_err(CommandError::from_display)? {
        return Ok(o.id);
    }
    identity::org_by_id(conn, org)
        .map_err(CommandError::from_display)?
        .map(|o| o.id)
        .ok_or_else(|| CommandError(format!("no organization named or with id '{org}'")))
}

/// Progress on standard error, one line rewritten in place.
pub(super) fn progress(label: &'static str) -> impl FnMut(usize, usize) {
    move |done, total| {
        let pct = (done * 100).checked_div(total).unwrap_or(100);
        eprint!("\r{label}: {done}/{total} ({pct}%)");
        if done == total {
            eprintln!();
        }
        let _ = std::io::stderr().flush();
    }
}

pub fn status(config_path: &Path) -> Result<String, CommandError> {
    let (config, mut conn) = open(config_path)?;
    let keyring = keyring(&config, &mut conn)?;
    let masters = keyring.masters();
    let mut out = vec![format!(
        "master key {} from {}{}",
        masters.current.id,
        masters.source.path().display(),
        if masters.next.is_some() {
            " (a master rotation is unfinished: run insite keys rotate-master)"
        } else {
            ""
        }
    )];
    for o in identity::list_orgs(&mut conn).map_err(CommandError::from_display)? {
        let rows = org_keys::of_org(&mut conn, &o.id).map_err(CommandError::from_display)?;
        let versions: Vec<String> = rows
            .iter()
            .filter(|r| r.purpose == "data")
            .map(|r| format!("v{} {}", r.version, r.state))
            .collect();
        out.push(format!(
            "org {} ({}): data keys [{}]",
            o.name,
            o.id,
            versions.join(", ")
        ));
    }
    for r in org_keys::rotations(&mut conn).map_err(CommandError::from_display)? {
        out.push(format!(
            "rotation of org {} to v{}: {} {}/{} (started {})",
            r.org_id, r.to_version, r.state, r.done, r.total, r.started_at
        ));
    }
    Ok(out.join("\n"))
}

pub fn rotate_master(config_path: &Path) -> Result<String, CommandError> {
    let (config, mut conn) = open(config_path)?;
    let source = Source::locate(&config.master_key_file());
    let id = rotate::rotate_master(
        &mut conn,
        &source,
        clock::system(),
        &mut progress("re-wrapping org keys"),
    )
    .map_err(CommandError::from_display)?;
    Ok(format!(
        "master key rotated: now {id} in {}. Copy the new key to where you keep it (off this machine) \
         and take a new backup: older backups need the previous key.",
        source.path().display()
    ))
}

pub fn rotate_org(config_path: &Path, org: &str) -> Result<String, CommandError> {
    let (config, mut conn) = open(config_path)?;
    let keyring = keyring(&config, &mut conn)?;
    let org_id = org_id(&mut conn, org)?;
    let blobs = BlobStore::new(&config.data_dir);
    let done = rotate::rotate_org(
        &mut conn,
        &keyring,
        &blobs,
        &org_id,
        &mut progress("re-encrypting conversations"),
    )
    .map_err(CommandError::from_display)?;
    Ok(format!(
        "org {org}: data key v{} in force; {} conversation(s) re-encrypted; older data keys destroyed",
        done.to_version, done.total
    ))
}

pub fn shred_org(config_path: &Path, org: &str, confirm: &str) -> Result<String, CommandError> {
    let (config, mut conn) = open(config_path)?;
    let keyring = keyring(&config, &mut conn)?;
    let org_id = org_id(&mut conn, org)?;
    if confirm != org {
        return Err(CommandError(format!(
            "this destroys every key of org '{org}' for good; repeat its name with --confirm {org}"
        )));
    }
    let blobs = BlobStore::new(&config.data_dir);
    let destroyed = rotate::shred_org(&mut conn, &keyring, &blobs, &org_id)
        .map_err(CommandError::from_display)?;
    let source = keyring.masters().source.clone();
    drop(keyring);
    let tail = match source {
        Source::File(_) => {
            let id = rotate::rotate_master(&mut conn, &source, clock::system(), &mut progress("re-wrapping org keys"))
                .map_err(CommandError::from_display)?;
            format!(
                "the master key was rotated (now {id}) so backups taken before now can no longer be read, \
                 for any org: destroy every copy of the previous master key, copy the new one where you keep it, \
                 and take a new backup now"
            )
        }
        Source::Credential(_) => "the master key is a systemd credential and was not rotated: backups taken \
            before now still hold this org's keys wrapped under it; replace the credential (insite keys \
            rotate-master with a key file) to make them unreadable"
            .to_string(),
    };
    Ok(format!(
        "org {org}: {destroyed} key(s) destroyed; its data can no longer be decrypted; {tail}"
    ))
}
