//! `insite backup` and `insite restore`: one tar archive holding a consistent copy of
//! the database (SQLite `VACUUM INTO`, or `pg_dump` for PostgreSQL), the blob store,
//! and a manifest with the SHA-256 of every file. Everything customer-related in it is
//! already ciphertext; the master key is never included.

mod archive;
pub mod create;
pub mod restore;

use serde::{Deserialize, Serialize};

/// Format tag of the manifest.
pub const FORMAT: &str = "insite-backup/1";
/// Where the manifest sits in the archive (last entry).
pub const MANIFEST: &str = "manifest.json";
/// The database copy in a SQLite backup.
pub const SQLITE_FILE: &str = "database/insite.db";
/// The database dump in a PostgreSQL backup.
pub const PG_FILE: &str = "database/insite.sql";

/// What a backup holds and how to check it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub insite_version: String,
    /// The newest migration applied in the backed-up database.
    pub schema_version: String,
    /// `sqlite` or `postgres`.
    pub backend: String,
    pub created_at: String,
    /// Ids (fingerprints) of the master keys the backup's org keys are wrapped under:
    /// the key needed to read it.
    pub master_key_ids: Vec<String>,
    pub files: Vec<FileEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// Why a backup or restore stopped; one line for the operator.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BackupError(pub String);

impl BackupError {
    pub fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

fn io_err(what: &str) -> impl Fn(std::io::Error) -> BackupError + '_ {
    move |e| BackupError(format!("{what}: {e}"))
}

/// The newest migration applied to a database.
fn schema_version(conn: &mut crate::store::DbConn) -> Result<String, BackupError> {
    let status = crate::store::migrate::status(conn).map_err(|e| BackupError(e.to_string()))?;
    Ok(status
        .iter()
        .filter(|m| m.applied)
        .map(|m| m.version.clone())
        .max()
        .unwrap_or_default())
}

/// The newest migration this binary knows.
fn newest_known(conn: &mut crate::store::DbConn) -> Result<String, BackupError> {
    let status = crate::store::migrate::status(conn).map_err(|e| BackupError(e.to_string()))?;
    Ok(status
        .iter()
        .map(|m| m.version.clone())
        .max()
        .unwrap_or_default())
}

/// A PostgreSQL URL split for the client tools: the URL without its password, and
/// the password (passed as PGPASSWORD, never on the command line).
fn pg_target(url: &str) -> Result<(String, Option<String>), BackupError> {
    let mut parsed =
        url::Url::parse(url).map_err(|_| BackupError::new("database_url is not a valid URL"))?;
    let password = parsed.password().map(|p| {
        url::form_urlencoded::parse(format!("p={p}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    });
    let _ = parsed.set_password(None);
    Ok((parsed.to_string(), password))
}

/// Runs a PostgreSQL client tool against the configured database.
fn pg_tool(tool: &str, url: &str, args: &[&str]) -> Result<(), BackupError> {
    let (target, password) = pg_target(url)?;
    let mut cmd = std::process::Command::new(tool);
    cmd.arg("--dbname").arg(&target).args(args);
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    let out = cmd.output().map_err(|e| {
        BackupError(format!(
            "cannot run {tool} ({e}); install the PostgreSQL client tools (apt install postgresql-client)"
        ))
    })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(BackupError(format!(
            "{tool} failed: {}",
            crate::config::one_line(err.trim())
        )));
    }
    Ok(())
}
