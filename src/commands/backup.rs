//! `insite backup OUT` and `insite restore IN`.

use super::{load_config, CommandError};
use crate::backup::{create, restore};
use crate::clock;
use crate::store;
use std::path::Path;

pub fn backup(config_path: &Path, out: &Path) -> Result<String, CommandError> {
    let config = load_config(config_path)?;
    let pool = store::open(&config).map_err(CommandError::from_display)?;
    let mut conn = pool.get().map_err(CommandError::from_display)?;
    let written = create::create(&config, &mut conn, out, clock::system().now())
        .map_err(CommandError::from_display)?;
    let keys = if written.manifest.master_key_ids.is_empty() {
        "none yet".to_string()
    } else {
        written.manifest.master_key_ids.join(", ")
    };
    Ok(format!(
        "backup written to {} ({} files, {} bytes, schema {}, {}).\n\
         The master key is NOT in the backup. Restoring needs master key {keys} (the file {}): \
         keep a copy apart from the backups (a password vault, escrow or HSM), never beside them.",
        written.path.display(),
        written.manifest.files.len(),
        written.bytes,
        written.manifest.schema_version,
        written.manifest.backend,
        config.master_key_file().display()
    ))
}

pub fn restore(config_path: &Path, archive: &Path) -> Result<String, CommandError> {
    let config = load_config(config_path)?;
    let restored = restore::restore(&config, archive).map_err(CommandError::from_display)?;
    Ok(format!(
        "restored the backup of {} (schema {}, {} blobs){}; start the service",
        restored.manifest.created_at,
        restored.manifest.schema_version,
        restored.blobs,
        if restored.migrated.is_empty() {
            String::new()
        } else {
            format!("; then applied {}", restored.migrated.join(", "))
        }
    ))
}
