//! `insite serve`: bind, start, run until SIGTERM/SIGINT, drain in-flight requests;
//! SIGHUP reloads (see `server::reload`).

use super::{load_config, CommandError};
use crate::clock;
use crate::logging;
use crate::server::{self, ReadyState};
use std::net::TcpListener;
use std::path::Path;

pub async fn serve(path: &Path) -> Result<(), CommandError> {
    let config = load_config(path)?;
    logging::init(&config.log);
    let listener = TcpListener::bind(config.listen).map_err(|e| {
        CommandError::from_display(format!("cannot listen on {}: {e}", config.listen))
    })?;
    let listen = config.listen;
    let database = config.effective_database_url().redacted();
    let running = config.clone();
    let started =
        server::run(config, listener, clock::system()).map_err(CommandError::from_display)?;
    server::reload::on_sighup(path.to_path_buf(), running, started.tls.clone());
    tracing::info!(
        url = %format!("https://{listen}"),
        database = %database,
        version = env!("CARGO_PKG_VERSION"),
        "insite listening"
    );
    started
        .server
        .await
        .map_err(|e| CommandError::from_display(format!("server error: {e}")))?;
    server::systemd::notify("STOPPING=1");
    match started.readiness.get() {
        ReadyState::Failed(reason) => Err(CommandError::from_display(format!(
            "start-up failed: {reason}"
        ))),
        _ => {
            tracing::info!("insite stopped");
            Ok(())
        }
    }
}
