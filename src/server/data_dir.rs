//! The data directory must exist and be writable before anything else starts.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// Why the data directory is unusable.
#[derive(Debug, thiserror::Error)]
#[error("data_dir {path}: {message}")]
pub struct DataDirError {
    pub path: PathBuf,
    pub message: String,
}

/// From here on, every file and directory this process creates (the database, blobs,
/// scratch, keys, certificates, backups) is its user's alone, 0600 / 0700, whatever
/// umask it was started with. Called first by the binary and by `run`.
pub fn private_files() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// Creates the directory (mode 0700) if absent and proves it is writable.
pub fn prepare(dir: &Path) -> Result<(), DataDirError> {
    let fail = |message: String| DataDirError {
        path: dir.to_path_buf(),
        message,
    };
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| fail(format!("cannot create: {e}")))?;
    }
    if !dir.is_dir() {
        return Err(fail("exists but is not a directory".into()));
    }
    let probe = dir.join(format!(".write-probe-{}", std::process::id()));
    std::fs::write(&probe, b"probe").map_err(|e| fail(format!("not writable: {e}")))?;
    std::fs::remove_file(&probe).map_err(|e| fail(format!("not writable: {e}")))?;
    Ok(())
}
