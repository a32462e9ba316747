//! Embedded migrations for each backend: run, revert, status.

use super::DbConn;
use diesel::connection::SimpleConnection;
use diesel::migration::{Migration, MigrationSource};
use diesel::pg::Pg;
use diesel::sqlite::Sqlite;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// PostgreSQL advisory lock key held while migrating ("insite" in ASCII).
const MIGRATION_LOCK: i64 = 0x696e_7369_7465;

/// A migration failure with the migration's name when known.
#[derive(Debug, thiserror::Error)]
#[error("migration failed: {0}")]
pub struct MigrationError(String);

fn err(e: impl std::fmt::Display) -> MigrationError {
    MigrationError(e.to_string())
}

/// One migration and whether it has been applied.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MigrationStatus {
    pub version: String,
    pub applied: bool,
}

/// Applies every pending migration; returns the versions applied. A database that
/// holds migrations this build does not know (written by a newer insite) is refused
/// untouched: running an older schema's code on it could corrupt data.
pub fn run_pending(conn: &mut DbConn) -> Result<Vec<String>, MigrationError> {
    refuse_newer(conn)?;
    let applied: Vec<String> = match conn {
        DbConn::Sqlite(c) => versions(c.run_pending_migrations(SQLITE).map_err(err)?),
        DbConn::Pg(c) => {
            // Several nodes may start at once; one migrates, the others wait.
            c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
                .map_err(err)?;
            let result = c
                .run_pending_migrations(POSTGRES)
                .map(versions)
                .map_err(err);
            if let Err(e) = c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
            {
                tracing::warn!(error = %e, "could not release the migration lock; it ends with the session");
            }
            result?
        }
    };
    Ok(applied)
}

fn versions(list: Vec<diesel::migration::MigrationVersion<'_>>) -> Vec<String> {
    list.iter().map(ToString::to_string).collect()
}

/// Migrations applied to the database that this build does not have.
pub fn unknown_applied(conn: &mut DbConn) -> Result<Vec<String>, MigrationError> {
    let (applied, known) = applied_and_known(conn)?;
    Ok(applied.into_iter().filter(|v| !known.contains(v)).collect())
}

fn refuse_newer(conn: &mut DbConn) -> Result<(), MigrationError> {
    let unknown = unknown_applied(conn)?;
    if unknown.is_empty() {
        return Ok(());
    }
    Err(MigrationError(format!(
        "the database schema is newer than this insite {} knows (migrations {} come from a \
         newer version); downgrading is not supported: install that version again, or \
         restore a backup taken before the upgrade. Nothing was changed",
        env!("CARGO_PKG_VERSION"),
        unknown.join(", ")
    )))
}

/// Reverts the most recent migration; returns its version.
pub fn revert_last(conn: &mut DbConn) -> Result<String, MigrationError> {
    let version = match conn {
        DbConn::Sqlite(c) => c.revert_last_migration(SQLITE).map_err(err)?,
        DbConn::Pg(c) => c.revert_last_migration(POSTGRES).map_err(err)?,
    };
    Ok(version.to_string())
}

/// Reverts every applied migration, newest first.
pub fn revert_all(conn: &mut DbConn) -> Result<Vec<String>, MigrationError> {
    let reverted = match conn {
        DbConn::Sqlite(c) => c.revert_all_migrations(SQLITE).map_err(err)?,
        DbConn::Pg(c) => c.revert_all_migrations(POSTGRES).map_err(err)?,
    };
    Ok(reverted.iter().map(ToString::to_string).collect())
}

/// Every known migration, oldest first, with its applied state.
pub fn status(conn: &mut DbConn) -> Result<Vec<MigrationStatus>, MigrationError> {
    let (applied, known) = applied_and_known(conn)?;
    Ok(known
        .into_iter()
        .map(|version| MigrationStatus {
            applied: applied.contains(&version),
            version,
        })
        .collect())
}

/// The versions applied to the database, and the versions this build knows (oldest
/// first).
fn applied_and_known(conn: &mut DbConn) -> Result<(Vec<String>, Vec<String>), MigrationError> {
    match conn {
        DbConn::Sqlite(c) => versions_of::<Sqlite, _>(c, SQLITE),
        DbConn::Pg(c) => versions_of::<Pg, _>(c, POSTGRES),
    }
}

fn versions_of<DB, C>(
    conn: &mut C,
    source: EmbeddedMigrations,
) -> Result<(Vec<String>, Vec<String>), MigrationError>
where
    DB: diesel::backend::Backend,
    C: MigrationHarness<DB>,
    EmbeddedMigrations: MigrationSource<DB>,
{
    let applied = conn
        .applied_migrations()
        .map_err(err)?
        .iter()
        .map(ToString::to_string)
        .collect();
    let known = MigrationSource::<DB>::migrations(&source)
        .map_err(err)?
        .iter()
        .map(|m| m.name().version().to_string())
        .collect();
    Ok((applied, known))
}

/// True when nothing is pending.
pub fn is_current(conn: &mut DbConn) -> Result<bool, MigrationError> {
    Ok(status(conn)?.iter().all(|m| m.applied))
}
