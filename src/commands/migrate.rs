//! `insite migrate run|revert|status`: manage the schema by hand.

use super::{load_config, CommandError};
use crate::store::{self, migrate};
use std::path::Path;

/// What `insite migrate` should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrateAction {
    Run,
    Revert,
    Status,
}

pub fn migrate(path: &Path, action: MigrateAction) -> Result<String, CommandError> {
    let config = load_config(path)?;
    let pool = store::open(&config).map_err(CommandError::from_display)?;
    let mut conn = pool.get().map_err(CommandError::from_display)?;
    let out = match action {
        MigrateAction::Run => {
            let applied = migrate::run_pending(&mut conn).map_err(CommandError::from_display)?;
            if applied.is_empty() {
                "schema is up to date; nothing to apply".to_string()
            } else {
                format!("applied: {}", applied.join(", "))
            }
        }
        MigrateAction::Revert => {
            let version = migrate::revert_last(&mut conn).map_err(CommandError::from_display)?;
            format!("reverted: {version}")
        }
        MigrateAction::Status => migrate::status(&mut conn)
            .map_err(CommandError::from_display)?
            .iter()
            .map(|m| {
                let state = if m.applied { "applied" } else { "pending" };
                format!("{}  {state}", m.version)
            })
            .collect::<Vec<_>>()
            .join("\n"),
    };
    Ok(out)
}
