//! Assembling and starting the HTTPS server: state, middleware, TLS, start-up tasks.

mod data_dir;
pub use data_dir::private_files;
pub mod metrics;
pub mod middleware;
mod readiness;
pub mod reload;
mod state;
pub mod systemd;
pub mod tls;

pub use metrics::Metrics;
pub use readiness::{ModelsState, Readiness, ReadyState};
pub use state::AppState;

use crate::api::error::{jsonify_plain_errors, AppError};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::store::{self, installation, migrate};
use crate::{api, console};
use actix_web::middleware::{from_fn, ErrorHandlers};
use actix_web::{web, App, HttpServer};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

/// A start-up failure, displayed as one line.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    DataDir(#[from] data_dir::DataDirError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error(transparent)]
    Database(#[from] store::OpenError),
    #[error("cannot serve on the listener: {0}")]
    Listen(std::io::Error),
    #[error(transparent)]
    Keys(#[from] crate::keys::master::MasterError),
    #[error("outbound client: {0}")]
    Egress(String),
}

/// A started server: await `server`; `readiness` tells how start-up went.
pub struct Started {
    pub server: actix_web::dev::Server,
    pub readiness: Readiness,
    pub tls_fingerprint: String,
    /// The served certificate, for reloads.
    pub tls: Arc<tls::LiveCert>,
    /// The processing threads, started once migrations are applied; dropping this
    /// stops them.
    pub pipeline: Arc<std::sync::Mutex<Option<crate::pipeline::runner::RunnerHandle>>>,
}

/// Boots the server on `listener` (call inside an actix system). Migrations run in
/// the background; until they finish the API answers 503 `STARTING`. If they fail
/// the server stops and `readiness` holds the reason.
pub fn run(
    config: Config,
    listener: TcpListener,
    clock: SharedClock,
) -> Result<Started, ServeError> {
    private_files();
    data_dir::prepare(&config.data_dir)?;
    let tls = tls::load_or_generate(&config)?;
    if tls.generated {
        tracing::info!(path = %tls.cert_path.display(), "generated a self-signed TLS certificate");
    }
    tracing::info!(sha256 = %tls.live.fingerprint(), "TLS certificate fingerprint");
    let pool = store::open(&config)?;
    let keyring = Arc::new(open_keyring(&config, &pool, clock.clone())?);
    let gate = Arc::new(
        crate::integrations::egress::Gate::new(pool.clone(), clock.clone(), &config.integrations)
            .map_err(ServeError::Egress)?,
    );
    let readiness = Readiness::default();
    let metrics = Arc::new(Metrics::default());
    let state = AppState {
        config: Arc::new(config.clone()),
        pool: pool.clone(),
        readiness: readiness.clone(),
        metrics: metrics.clone(),
        clock: clock.clone(),
        tls: Some(tls.live.clone()),
        login_limiter: Arc::default(),
        keyring: keyring.clone(),
        gate: gate.clone(),
    };
    let json_limit = config.server.max_json_body_bytes;
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(state.clone()))
            .app_data(
                web::JsonConfig::default()
                    .limit(json_limit)
                    .error_handler(|e, _| AppError::from(e).into()),
            )
            .configure(api::configure)
            .configure(console::configure)
            .default_service(web::to(crate::api::methods::unrouted))
            .wrap(ErrorHandlers::new().default_handler(jsonify_plain_errors))
            .wrap(from_fn(middleware::head_as_get))
            .wrap(from_fn(middleware::readiness_gate))
            .wrap(from_fn(middleware::body_deadline))
            .wrap(from_fn(middleware::request_context))
    })
    .shutdown_timeout(config.server.shutdown_grace_secs);
    if config.server.workers > 0 {
        server = server.workers(config.server.workers);
    }
    let server = server
        .listen_rustls_0_23(listener, tls.server_config)
        .map_err(ServeError::Listen)?
        .run();
    let pipeline = Arc::new(std::sync::Mutex::new(None));
    spawn_startup(Startup {
        pool,
        readiness: readiness.clone(),
        clock,
        handle: server.handle(),
        config: Arc::new(config),
        metrics,
        pipeline: pipeline.clone(),
        keyring,
        gate,
    });
    Ok(Started {
        server,
        readiness,
        tls_fingerprint: tls.live.fingerprint(),
        tls: tls.live,
        pipeline,
    })
}

/// Checks the configured models against the manifest (size, format, sha256).
fn verify_models(engines: &crate::config::EnginesConfig) -> Result<Vec<String>, String> {
    [&engines.whisper_model, &engines.llm_model]
        .iter()
        .map(|name| {
            crate::engines::manifest::verify_named(&engines.models_dir, name)
                .map(|v| v.entry.name)
                .map_err(|e| format!("model {name}: {e}"))
        })
        .collect()
}

/// What the start-up task needs.
struct Startup {
    pool: store::Pool,
    readiness: Readiness,
    clock: SharedClock,
    handle: actix_web::dev::ServerHandle,
    config: Arc<Config>,
    metrics: Arc<Metrics>,
    pipeline: Arc<std::sync::Mutex<Option<crate::pipeline::runner::RunnerHandle>>>,
    keyring: Arc<crate::keys::Keyring>,
    gate: Arc<crate::integrations::egress::Gate>,
}

/// Loads the master key before anything listens: a missing, wrong or too-readable key
/// refuses the start with one line, and nothing is created over existing data.
pub fn open_keyring(
    config: &Config,
    pool: &store::Pool,
    clock: SharedClock,
) -> Result<crate::keys::Keyring, crate::keys::master::MasterError> {
    // Before the first migration the table does not exist: no keys are in use yet.
    let in_use = pool
        .get()
        .ok()
        .and_then(|mut conn| store::org_keys::master_ids(&mut conn).ok())
        .unwrap_or_default();
    let source = crate::keys::master::Source::locate(&config.master_key_file());
    crate::keys::Keyring::open(source, &in_use, clock)
}

/// Runs migrations off the async workers, then flips readiness and starts processing
/// (or stops the server).
fn spawn_startup(s: Startup) {
    let Startup {
        pool,
        readiness,
        clock,
        handle,
        config,
        metrics,
        pipeline,
        keyring,
        gate,
    } = s;
    let engines = config.engines.clone();
    let runner_pool = pool.clone();
    let runner_clock = clock.clone();
    let upgrade_keys = keyring.clone();
    actix_web::rt::spawn(async move {
        let outcome = web::block(move || -> Result<Vec<String>, String> {
            let mut conn = pool
                .get_timeout(Duration::from_secs(60))
                .map_err(|e| format!("database unreachable: {e}"))?;
            let applied = migrate::run_pending(&mut conn).map_err(|e| e.to_string())?;
            installation::ensure(&mut conn, clock.now())
                .map_err(|e| format!("cannot record installation: {e}"))?;
            let now = crate::domain::time::stamp(clock.now());
            crate::keys::upgrade::seal_legacy(&mut conn, &upgrade_keys, &now).map_err(|e| {
                format!("cannot seal the values an earlier version stored in clear: {e}")
            })?;
            Ok(applied)
        })
        .await
        .map_err(|e| format!("start-up task failed: {e}"))
        .and_then(|r| r);
        match outcome {
            Ok(applied) => {
                tracing::info!(applied = ?applied, "database migrations complete; ready");
                readiness.set(ReadyState::Ready);
                let runner = crate::pipeline::runner::start(
                    runner_pool,
                    config,
                    runner_clock,
                    metrics,
                    keyring,
                    gate,
                );
                if let Ok(mut slot) = pipeline.lock() {
                    *slot = Some(runner);
                }
                let models = web::block(move || verify_models(&engines)).await;
                let state = match models {
                    Ok(Ok(names)) => {
                        tracing::info!(models = ?names, "models verified");
                        ModelsState::Verified(names)
                    }
                    Ok(Err(reason)) => {
                        tracing::error!(%reason, "model refused; inference is unavailable");
                        ModelsState::Refused(reason)
                    }
                    Err(e) => ModelsState::Refused(format!("model check failed: {e}")),
                };
                // Ready for the service manager when /readyz would say so (or why not).
                let status = match &state {
                    ModelsState::Refused(reason) => {
                        format!("serving; inference unavailable: {reason}")
                    }
                    _ => "serving".to_string(),
                };
                readiness.set_models(state);
                systemd::notify(&format!("READY=1\nSTATUS={status}"));
            }
            Err(reason) => {
                tracing::error!(%reason, "start-up failed; stopping");
                systemd::notify(&format!("STATUS=start-up failed: {reason}"));
                readiness.set(ReadyState::Failed(reason));
                handle.stop(false).await;
            }
        }
    });
}
