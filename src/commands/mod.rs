//! The subcommands behind the CLI; each returns a one-line error for the operator.

pub mod admin;
pub mod as_owner;
pub mod backup;
mod check_config;
pub mod eval;
pub mod inference;
pub mod keys;
mod migrate;
pub mod models;
pub mod privacy;
pub mod score;
mod serve;

pub use check_config::check_config;
pub use migrate::{migrate, MigrateAction};
pub use serve::serve;

use crate::config::{self, Config};
use std::path::Path;

/// A failed command: printed as `error: <message>` and exit status 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CommandError(pub String);

impl CommandError {
    /// Any error as one line: operators read it in a terminal or journald.
    pub fn from_display(e: impl std::fmt::Display) -> Self {
        Self(config::one_line(&e.to_string()))
    }
}

/// Loads the config file with the process environment overlaid.
pub fn load_config(path: &Path) -> Result<Config, CommandError> {
    config::load(path, std::env::vars()).map_err(CommandError::from_display)
}
