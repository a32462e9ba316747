//! Restoring a backup into an empty installation: everything is checked first (the
//! archive's checksums, its schema, its backend, the master key, an empty target);
//! only then is anything written.

use super::archive::extract;
use super::{
    io_err, newest_known, pg_tool, BackupError, Manifest, FORMAT, MANIFEST, PG_FILE, SQLITE_FILE,
};
use crate::blob::BlobStore;
use crate::config::{Config, DatabaseTarget};
use crate::keys::master::{self, Source};
use crate::store::{self, identity, migrate};
use std::path::Path;

/// What was restored.
#[derive(Debug)]
pub struct Restored {
    pub manifest: Manifest,
    pub blobs: usize,
    pub migrated: Vec<String>,
}

fn read_manifest(staging: &Path) -> Result<Manifest, BackupError> {
    let raw = std::fs::read(staging.join(MANIFEST)).map_err(|_| {
        BackupError::new("backup has no manifest.json: not an insite backup, or cut short")
    })?;
    let manifest: Manifest = serde_json::from_slice(&raw)
        .map_err(|e| BackupError(format!("backup manifest is not valid: {e}")))?;
    if manifest.format != FORMAT {
        return Err(BackupError(format!(
            "backup format {} is not supported (this insite reads {FORMAT})",
            manifest.format
        )));
    }
    Ok(manifest)
}

/// Every file the manifest names is present with its size and SHA-256, and nothing else.
fn verify(manifest: &Manifest, found: &[super::FileEntry]) -> Result<(), BackupError> {
    for want in &manifest.files {
        match found.iter().find(|f| f.path == want.path) {
            None => {
                return Err(BackupError(format!(
                    "backup is damaged: {} is missing; nothing was changed",
                    want.path
                )))
            }
            Some(got) if got != want => {
                return Err(BackupError(format!(
                    "backup is damaged: {} fails its checksum; nothing was changed",
                    want.path
                )))
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = found
        .iter()
        .find(|f| f.path != MANIFEST && !manifest.files.iter().any(|w| w.path == f.path))
    {
        return Err(BackupError(format!(
            "backup holds {} which its manifest does not list; nothing was changed",
            extra.path
        )));
    }
    Ok(())
}

/// Whether the target database holds any organization (missing tables: empty).
fn holds_data(conn: &mut store::DbConn) -> bool {
    identity::count_orgs(conn).map(|n| n > 0).unwrap_or(false)
}

/// Restores `archive` into the configured (empty) installation.
pub fn restore(config: &Config, archive: &Path) -> Result<Restored, BackupError> {
    std::fs::create_dir_all(&config.data_dir).map_err(io_err("data_dir"))?;
    let staging = tempfile::tempdir_in(&config.data_dir).map_err(io_err("staging directory"))?;
    let found = extract(archive, staging.path())?;
    let manifest = read_manifest(staging.path())?;
    verify(&manifest, &found)?;

    let url = config.effective_database_url();
    let target = url.target().map_err(BackupError)?;
    let backend = match target {
        DatabaseTarget::Sqlite(_) => "sqlite",
        DatabaseTarget::Postgres => "postgres",
    };
    if manifest.backend != backend {
        return Err(BackupError(format!(
            "this is a {} backup; the configured database is {backend}: restore into the same kind of database",
            manifest.backend
        )));
    }
    let pool = store::open(config).map_err(|e| BackupError(e.to_string()))?;
    let mut conn = pool.get().map_err(|e| BackupError(e.to_string()))?;
    let newest = newest_known(&mut conn)?;
    if manifest.schema_version > newest {
        return Err(BackupError(format!(
            "backup schema {} is newer than this insite knows ({newest}, insite {}); upgrade insite first; nothing was changed",
            manifest.schema_version,
            env!("CARGO_PKG_VERSION")
        )));
    }
    // The master key that reads the backup must be the one configured.
    let source = Source::locate(&config.master_key_file());
    let key = master::load(source.clone(), &manifest.master_key_ids).map_err(|e| {
        BackupError(format!(
            "{e} (the backup needs master key {:?})",
            manifest.master_key_ids
        ))
    })?;
    drop(key);
    if holds_data(&mut conn) {
        return Err(BackupError::new(
            "the configured database already holds organizations; restore into an empty installation (new data_dir / empty database); nothing was changed",
        ));
    }
    let blobs = BlobStore::new(&config.data_dir);
    let occupied = std::fs::read_dir(blobs.root())
        .map(|d| d.flatten().any(|e| e.file_name() != "incoming"))
        .unwrap_or(false);
    if occupied {
        return Err(BackupError(format!(
            "{} already holds blobs; restore into an empty installation; nothing was changed",
            blobs.root().display()
        )));
    }

    // Checked: now write.
    match target {
        DatabaseTarget::Sqlite(path) => {
            drop(conn);
            drop(pool);
            for suffix in ["", "-wal", "-shm"] {
                let mut p = path.as_os_str().to_owned();
                p.push(suffix);
                let _ = std::fs::remove_file(p);
            }
            std::fs::copy(staging.path().join(SQLITE_FILE), &path).map_err(io_err("database"))?;
        }
        DatabaseTarget::Postgres => {
            // An installation that started once has empty tables: drop them first.
            diesel::connection::SimpleConnection::batch_execute(
                &mut *conn,
                "DROP SCHEMA public CASCADE; CREATE SCHEMA public;",
            )
            .map_err(|e| BackupError(format!("cannot empty the target database: {e}")))?;
            drop(conn);
            let dump = staging.path().join(PG_FILE).display().to_string();
            pg_tool(
                "psql",
                url.expose(),
                &["--quiet", "-v", "ON_ERROR_STOP=1", "--file", &dump],
            )?;
        }
    }
    let mut count = 0;
    let from = staging.path().join("blobs");
    if from.exists() {
        std::fs::create_dir_all(blobs.root()).map_err(io_err("blob store"))?;
        for org in std::fs::read_dir(&from)
            .map_err(io_err("staging"))?
            .flatten()
        {
            let dest = blobs.root().join(org.file_name());
            std::fs::rename(org.path(), &dest).map_err(io_err("blob store"))?;
            count += std::fs::read_dir(&dest).map(|d| d.count()).unwrap_or(0);
        }
    }
    let pool = store::open(config).map_err(|e| BackupError(e.to_string()))?;
    let mut conn = pool.get().map_err(|e| BackupError(e.to_string()))?;
    let migrated = migrate::run_pending(&mut conn).map_err(|e| BackupError(e.to_string()))?;
    Ok(Restored {
        manifest,
        blobs: count,
        migrated,
    })
}
