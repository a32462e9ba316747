//! Persistent state: diesel schema, connection pool, embedded migrations, queries.

pub mod access;
pub mod alerts;
pub mod analyses;
pub mod blind_index;
mod connection;
pub mod conversations;
pub mod data_upgrades;
pub mod egress;
pub mod identity;
pub mod installation;
pub mod integration_state;
pub mod integrations;
pub mod invites;
pub mod jobs;
pub mod migrate;
pub mod org_keys;
pub mod retention;
pub mod schema;
pub mod second_factor;
pub mod storage_objects;
pub mod subjects;
pub mod templates;
pub mod trackers;
pub mod webhook_deliveries;

pub use connection::{ping, ConnectError, DbConn, DbManager};

use crate::config::Config;
use std::time::Duration;

/// The shared connection pool.
pub type Pool = r2d2::Pool<DbManager>;
/// A connection checked out of the pool.
pub type PooledConn = r2d2::PooledConnection<DbManager>;

/// Why the database could not be opened; one line, no password.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("database_url: {0}")]
    Url(String),
    #[error("cannot create database directory {path}: {source}")]
    Dir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open database: {0}")]
    Connect(String),
}

/// Builds the pool and checks that one connection can be opened.
pub fn open(config: &Config) -> Result<Pool, OpenError> {
    let url = config.effective_database_url();
    if let Ok(crate::config::DatabaseTarget::Sqlite(path)) = url.target() {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| OpenError::Dir {
                path: parent.to_path_buf(),
                source,
            })?;
        }
    }
    let manager = DbManager::new(url, config.database.busy_timeout_ms).map_err(OpenError::Url)?;
    // Open the first connection by hand so its real error reaches the operator,
    // rather than r2d2's generic timeout.
    let first =
        r2d2::ManageConnection::connect(&manager).map_err(|e| OpenError::Connect(e.to_string()))?;
    drop(first);
    r2d2::Pool::builder()
        .max_size(config.database.pool_size)
        .connection_timeout(Duration::from_secs(config.database.connect_timeout_secs))
        .build(manager)
        .map_err(|e| OpenError::Connect(e.to_string()))
}
