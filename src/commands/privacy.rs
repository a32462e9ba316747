//! `insite retention purge` and `insite org offboard`: retention and offboarding
//! from the server's shell, audited like the same work done by the service.

use super::admin::open;
use super::keys::{keyring, org_id, progress};
use super::CommandError;
use crate::blob::BlobStore;
use crate::clock::{self, Clock};
use crate::pipeline::retention::Purge;
use crate::privacy::offboard;
use std::path::Path;

/// Runs the purge of every org now (the service also runs it on its schedule).
pub fn purge(config_path: &Path) -> Result<String, CommandError> {
    let (config, mut conn) = open(config_path)?;
    let keyring = keyring(&config, &mut conn)?;
    let blobs = BlobStore::new(&config.data_dir);
    let purge = Purge {
        keyring: &keyring,
        blobs: &blobs,
        now: clock::SystemClock.now(),
        batch: config.retention.purge_batch,
        trigger: format!(
            "cli:{}",
            std::env::var("USER").unwrap_or_else(|_| "root".into())
        ),
    };
    let done = purge.all(&mut conn).map_err(CommandError::from_display)?;
    Ok(done
        .iter()
        .map(|(org, counts)| {
            let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("org {org}: {}", parts.join(" "))
        })
        .collect::<Vec<_>>()
        .join("\n"))
}

/// Exports an org to `export`, then destroys its keys (and rotates the master key,
/// as `insite keys shred-org`), then deletes its rows.
pub fn offboard(
    config_path: &Path,
    org: &str,
    export: &Path,
    confirm: &str,
) -> Result<String, CommandError> {
    let (config, mut conn) = open(config_path)?;
    let keyring = keyring(&config, &mut conn)?;
    let id = org_id(&mut conn, org)?;
    if confirm != org {
        return Err(CommandError(format!(
            "this exports, then deletes org '{org}' and destroys its keys for good; repeat its name with --confirm {org}"
        )));
    }
    let blobs = BlobStore::new(&config.data_dir);
    let exported = offboard::export_org(
        &mut conn,
        &keyring,
        &blobs,
        &id,
        export,
        progress("exporting conversations"),
    )
    .map_err(|e| {
        CommandError(format!(
            "export to {} failed, nothing was deleted: {e}",
            export.display()
        ))
    })?;
    drop(keyring);
    let shred = super::keys::shred_org(config_path, org, confirm)?;
    let deleted = offboard::delete_org(&mut conn, &id, clock::SystemClock.now())
        .map_err(CommandError::from_display)?;
    Ok(format!(
        "org {org}: exported to {} ({exported}); {shred}; rows deleted ({deleted})",
        export.display()
    ))
}
