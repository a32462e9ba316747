//! Writing a backup while the service runs.

use super::archive::{add_bytes, add_file};
use super::{
    io_err, pg_tool, schema_version, BackupError, Manifest, FORMAT, MANIFEST, PG_FILE, SQLITE_FILE,
};
use crate::blob::BlobStore;
use crate::config::{Config, DatabaseTarget};
use crate::store::{org_keys, DbConn};
use chrono::{DateTime, Utc};
use diesel::RunQueryDsl;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// What was written.
#[derive(Debug)]
pub struct Written {
    pub path: PathBuf,
    pub manifest: Manifest,
    pub bytes: u64,
}

/// Every blob file under the store, as (file, name in the archive), sorted.
fn blob_files(root: &Path) -> Result<Vec<(PathBuf, String)>, BackupError> {
    let mut out = Vec::new();
    let Ok(orgs) = std::fs::read_dir(root) else {
        return Ok(out);
    };
    for org in orgs.flatten() {
        let name = org.file_name().to_string_lossy().into_owned();
        if name == "incoming" || !org.path().is_dir() {
            continue; // uploads in progress are not kept yet
        }
        for blob in std::fs::read_dir(org.path())
            .map_err(io_err("blob store"))?
            .flatten()
        {
            let id = blob.file_name().to_string_lossy().into_owned();
            if blob.path().is_file() && !id.starts_with('.') {
                out.push((blob.path(), format!("blobs/{name}/{id}")));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Writes a backup of the running installation to `out` (never over an existing file).
pub fn create(
    config: &Config,
    conn: &mut DbConn,
    out: &Path,
    now: DateTime<Utc>,
) -> Result<Written, BackupError> {
    if out.exists() {
        return Err(BackupError(format!(
            "{} exists; choose a new file name",
            out.display()
        )));
    }
    let running = org_keys::any_running(conn).map_err(|e| BackupError(e.to_string()))?;
    if let Some(r) = running.first() {
        return Err(BackupError(format!(
            "a key rotation of org {} is running ({}/{}); finish it (insite keys rotate-org) before a backup",
            r.org_id, r.done, r.total
        )));
    }
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let staging = tempfile::tempdir_in(dir).map_err(io_err("staging directory"))?;
    let partial = staging.path().join("backup.tar");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial)
        .map_err(io_err("backup file"))?;
    let mut builder = tar::Builder::new(std::io::BufWriter::new(file));
    let url = config.effective_database_url();
    let target = url.target().map_err(BackupError)?;
    // The database first: every blob it names was written before its row, so the
    // blobs copied next include them all.
    let (backend, db_entry) = match target {
        DatabaseTarget::Sqlite(_) => {
            let copy = staging.path().join("insite.db");
            let sql = format!(
                "VACUUM INTO '{}'",
                copy.display().to_string().replace('\'', "''")
            );
            diesel::sql_query(sql)
                .execute(conn)
                .map_err(|e| BackupError(format!("cannot copy the database: {e}")))?;
            ("sqlite", add_file(&mut builder, &copy, SQLITE_FILE)?)
        }
        DatabaseTarget::Postgres => {
            let dump = staging.path().join("insite.sql");
            let dump_arg = dump.display().to_string();
            pg_tool(
                "pg_dump",
                url.expose(),
                &[
                    "--no-owner",
                    "--no-privileges",
                    "--format=plain",
                    "--file",
                    &dump_arg,
                ],
            )?;
            ("postgres", add_file(&mut builder, &dump, PG_FILE)?)
        }
    };
    let mut files = vec![db_entry];
    for (path, name) in blob_files(BlobStore::new(&config.data_dir).root())? {
        match add_file(&mut builder, &path, &name) {
            Ok(entry) => files.push(entry),
            // Deleted since the database copy (retention): not part of this backup.
            Err(_) if !path.exists() => {}
            Err(e) => return Err(e),
        }
    }
    let manifest = Manifest {
        format: FORMAT.into(),
        insite_version: env!("CARGO_PKG_VERSION").into(),
        schema_version: schema_version(conn)?,
        backend: backend.into(),
        created_at: crate::domain::time::stamp(now),
        master_key_ids: org_keys::master_ids(conn).map_err(|e| BackupError(e.to_string()))?,
        files,
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| BackupError(e.to_string()))?;
    add_bytes(&mut builder, MANIFEST, &json)?;
    let writer = builder.into_inner().map_err(io_err("backup file"))?;
    let file = writer
        .into_inner()
        .map_err(|e| BackupError(format!("backup file: {e}")))?;
    file.sync_all().map_err(io_err("backup file"))?;
    let bytes = file.metadata().map_err(io_err("backup file"))?.len();
    std::fs::hard_link(&partial, out).map_err(io_err("backup file"))?;
    Ok(Written {
        path: out.to_path_buf(),
        manifest,
        bytes,
    })
}
