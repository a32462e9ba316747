//! `sudo insite admin …` on an installed appliance: the data directory belongs to the
//! service user, and files root created there (a SQLite journal, a key) would lock
//! the service out. So a command started as root on a data directory owned by
//! another user runs again as that user (util-linux `setpriv`), before it opens
//! anything.

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;

/// Set on the re-run, so it never loops.
const AGAIN: &str = "_INSITE_AS_OWNER"; // not INSITE_*: those are config overrides

/// The effective user id, from /proc (no unsafe libc call).
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Re-runs this command as the owner of the configured data directory when started
/// as root; returns (to go on as is) when that is not needed or not possible. On
/// success it does not return.
pub fn become_data_owner(config_path: &Path) {
    if std::env::var_os(AGAIN).is_some() || effective_uid() != Some(0) {
        return;
    }
    let Ok(config) = crate::config::load(config_path, std::env::vars()) else {
        return; // the command itself reports the configuration error
    };
    let Ok(meta) = std::fs::metadata(&config.data_dir) else {
        return;
    };
    if meta.uid() == 0 {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let err = std::process::Command::new("setpriv")
        .arg(format!("--reuid={}", meta.uid()))
        .arg(format!("--regid={}", meta.gid()))
        .arg("--clear-groups")
        .arg("--")
        .arg(exe)
        .args(std::env::args_os().skip(1))
        .env(AGAIN, "1")
        .exec();
    eprintln!(
        "warning: cannot switch to the owner (uid {}) of {}: {err}; going on as root",
        meta.uid(),
        config.data_dir.display()
    );
}
