//! One connection type over SQLite and PostgreSQL, and the r2d2 manager that opens it.

use crate::config::{DatabaseTarget, DatabaseUrl};
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::Connection;

/// A live database connection; backend-specific SQL matches on it, nowhere else.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

/// Opens connections for the backend the URL names (never by trial and error).
pub struct DbManager {
    url: DatabaseUrl,
    target: DatabaseTarget,
    busy_timeout_ms: u32,
}

impl DbManager {
    pub fn new(url: DatabaseUrl, busy_timeout_ms: u32) -> Result<Self, String> {
        let target = url.target()?;
        Ok(Self {
            url,
            target,
            busy_timeout_ms,
        })
    }
}

/// Why a connection could not be opened; never contains the password.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("{0}")]
    Connection(String),
    #[error("{0}")]
    Query(#[from] diesel::result::Error),
}

impl r2d2::ManageConnection for DbManager {
    type Connection = DbConn;
    type Error = ConnectError;

    fn connect(&self) -> Result<DbConn, ConnectError> {
        match &self.target {
            DatabaseTarget::Sqlite(path) => {
                let path = path.to_string_lossy();
                let mut conn = SqliteConnection::establish(&path)
                    .map_err(|e| ConnectError::Connection(format!("sqlite {path}: {e}")))?;
                // The busy timeout first: setting the journal mode takes a lock, and
                // while another connection writes it must wait, not fail. WAL lets
                // readers run beside the single writer; NORMAL sync is durable in WAL
                // mode except for the last commits on power loss.
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; \
                     PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; \
                     PRAGMA secure_delete = ON;",
                    self.busy_timeout_ms
                ))?;
                Ok(DbConn::Sqlite(conn))
            }
            DatabaseTarget::Postgres => PgConnection::establish(self.url.expose())
                .map(DbConn::Pg)
                .map_err(|e| {
                    ConnectError::Connection(format!(
                        "postgres {}: {}",
                        self.url.redacted(),
                        e.to_string().trim()
                    ))
                }),
        }
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), ConnectError> {
        ping(conn).map_err(ConnectError::from)
    }

    fn has_broken(&self, _conn: &mut DbConn) -> bool {
        false
    }
}

/// A round trip to the database.
pub fn ping(conn: &mut DbConn) -> Result<(), diesel::result::Error> {
    match conn {
        DbConn::Sqlite(c) => c.batch_execute("SELECT 1"),
        DbConn::Pg(c) => c.batch_execute("SELECT 1"),
    }
}
