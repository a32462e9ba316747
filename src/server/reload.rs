//! `systemctl reload insite` (SIGHUP): the configuration file is read again and what
//! can change while running is applied: the TLS certificate and key (new connections
//! get the new one) and the log level. Other changed settings are named in the log as
//! needing a restart, never silently ignored; a file that does not load or a
//! certificate that does not fit leaves everything as it was.

use super::systemd;
use super::tls::LiveCert;
use crate::config::Config;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Settings a reload applies.
const LIVE: [&str; 3] = ["tls.cert", "tls.key", "log.level"];

/// What a reload did.
#[derive(Debug, PartialEq)]
pub struct Reloaded {
    pub fingerprint: String,
    /// Changed settings that take effect only after a restart.
    pub need_restart: Vec<String>,
}

/// Reads `path` again and applies what can change while running; `running` is
/// updated to the configuration now in force.
pub fn apply(path: &Path, running: &mut Config, tls: &LiveCert) -> Result<Reloaded, String> {
    let fresh = crate::config::load(path, std::env::vars()).map_err(|e| e.to_string())?;
    // The certificate first: it is what may be refused, and a refused reload must
    // leave everything as it was (the level was validated when the file loaded).
    let fingerprint = tls.reload(&fresh).map_err(|e| e.to_string())?;
    crate::logging::set_level(&fresh.log.level)?;
    let need_restart: Vec<String> = changed(running, &fresh)
        .into_iter()
        .filter(|k| !LIVE.contains(&k.as_str()))
        .collect();
    running.tls = fresh.tls;
    running.log.level = fresh.log.level;
    Ok(Reloaded {
        fingerprint,
        need_restart,
    })
}

/// The dotted names of the settings that differ (names only: values may be secret).
fn changed(a: &Config, b: &Config) -> Vec<String> {
    let (Ok(a), Ok(b)) = (serde_json::to_value(a), serde_json::to_value(b)) else {
        return vec!["(configuration)".into()];
    };
    let mut out = Vec::new();
    diff("", &a, &b, &mut out);
    out
}

fn diff(prefix: &str, a: &serde_json::Value, b: &serde_json::Value, out: &mut Vec<String>) {
    match (a, b) {
        (serde_json::Value::Object(x), serde_json::Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                let null = serde_json::Value::Null;
                diff(
                    &name,
                    x.get(k).unwrap_or(&null),
                    y.get(k).unwrap_or(&null),
                    out,
                );
            }
        }
        _ if a != b => out.push(prefix.to_string()),
        _ => {}
    }
}

/// Reloads on every SIGHUP until the server stops (call inside the actix system).
pub fn on_sighup(path: PathBuf, mut running: Config, tls: Arc<LiveCert>) {
    actix_web::rt::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hup = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP; reload is unavailable");
                return;
            }
        };
        while hup.recv().await.is_some() {
            systemd::notify("RELOADING=1");
            match apply(&path, &mut running, &tls) {
                Ok(r) => {
                    tracing::info!(sha256 = %r.fingerprint, level = %running.log.level, "configuration reloaded");
                    if !r.need_restart.is_empty() {
                        tracing::warn!(settings = ?r.need_restart, "changed settings take effect after a restart (systemctl restart insite)");
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "reload refused; the running configuration stays")
                }
            }
            systemd::notify("READY=1");
        }
    });
}
