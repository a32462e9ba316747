//! `insite check-config`: validate and print the effective configuration, secrets redacted.

use super::{load_config, CommandError};
use std::path::Path;

pub fn check_config(path: &Path) -> Result<String, CommandError> {
    let config = load_config(path)?;
    let shown = config
        .to_redacted_toml()
        .map_err(CommandError::from_display)?;
    Ok(format!(
        "# {}: valid\n# effective configuration (secrets redacted)\n{shown}",
        path.display()
    ))
}
