//! The TOML configuration file with its `INSITE_` environment overlay, validated at load.

mod load;
mod secret;

pub use load::{load, one_line, ConfigError, DEFAULT_CONFIG_PATH};
pub use secret::{DatabaseTarget, DatabaseUrl};

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;

/// The whole configuration of one `insite` node.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address and port of the HTTPS listener, e.g. "127.0.0.1:8443" or "0.0.0.0:443".
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Directory for local state: the SQLite database, the TLS certificate, blobs.
    /// Must be writable by the service user.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Database URL: "sqlite:///var/lib/insite/insite.db" (embedded default) or
    /// "postgres://user:password@host:5432/insite" (scale-out). When unset,
    /// SQLite at `<data_dir>/insite.db`. The password is never logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_url: Option<DatabaseUrl>,
    /// Connection pool and SQLite settings.
    #[serde(default)]
    pub database: DatabaseConfig,
    /// TLS certificate; a self-signed one is generated in `<data_dir>/tls/` when unset.
    #[serde(default)]
    pub tls: TlsConfig,
    /// Logging to stderr (journald under systemd).
    #[serde(default)]
    pub log: LogConfig,
    /// HTTP server behaviour.
    #[serde(default)]
    pub server: ServerConfig,
    /// Local inference engines and their models.
    #[serde(default)]
    pub engines: EnginesConfig,
    /// Sign-in, sessions and password hashing.
    #[serde(default)]
    pub auth: AuthConfig,
    /// Ingest and processing of conversations.
    #[serde(default)]
    pub pipeline: PipelineConfig,
    /// Encryption at rest: where the master key lives.
    #[serde(default)]
    pub keys: KeysConfig,
    /// Retention: the purge schedule and the floor of audit retention.
    #[serde(default)]
    pub retention: RetentionConfig,
    /// Integrations and alerts, and the egress gate all their outbound calls pass.
    #[serde(default)]
    pub integrations: IntegrationsConfig,
}

/// Outbound traffic (connectors and alerts) and the connectors' schedule.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntegrationsConfig {
    /// Seconds between two syncs of a connector (a "sync now" runs at once).
    pub sync_interval_seconds: u64,
    /// PEM file of extra CA certificates trusted for outbound TLS (e.g. an internal
    /// CA), besides the system's trust store. TLS is always verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<PathBuf>,
    /// Seconds to open a connection, and for a whole call.
    pub connect_timeout_seconds: u64,
    pub timeout_seconds: u64,
    /// Tries per call: failures to connect, 429 and 5xx are retried with backoff
    /// (429/503 wait the `Retry-After` the server asks, up to `max_retry_after_seconds`).
    pub max_attempts: u32,
    pub max_retry_after_seconds: u64,
    /// The largest answer read (a recording fetched by a webhook), in bytes.
    pub max_response_bytes: u64,
    /// Allow `http://` targets (never for production: credentials would travel in clear).
    pub allow_plain_http: bool,
}

impl Default for IntegrationsConfig {
    fn default() -> Self {
        Self {
            sync_interval_seconds: 300,
            ca_bundle: None,
            connect_timeout_seconds: 10,
            timeout_seconds: 60,
            max_attempts: 4,
            max_retry_after_seconds: 300,
            max_response_bytes: 512 * 1024 * 1024,
            allow_plain_http: false,
        }
    }
}

/// The purge of expired data, and what no org may go below.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Minutes between purge runs (each org's expired data of every class).
    pub purge_interval_minutes: u64,
    /// Rows and blobs deleted per batch (each batch is its own transaction).
    pub purge_batch: i64,
    /// No org may keep its audit log for fewer days than this.
    pub audit_floor_days: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            purge_interval_minutes: 60,
            purge_batch: 500,
            audit_floor_days: 90,
        }
    }
}

/// The master key that wraps every org's data keys.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysConfig {
    /// File holding the 256-bit master key (64 hex digits), mode 0600, created on first
    /// start when absent. Default `<data_dir>/keys/master.key`. A systemd credential
    /// named `insite-master-key` (`$CREDENTIALS_DIRECTORY`) takes precedence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master_key_file: Option<PathBuf>,
}

impl Config {
    /// The master key file in force.
    pub fn master_key_file(&self) -> PathBuf {
        self.keys
            .master_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("keys").join("master.key"))
    }
}

/// Ingest limits and the job queue.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// Largest accepted recording upload in bytes (413 above).
    pub max_upload_bytes: u64,
    /// Longest recording accepted, in seconds, declared or decoded (422 `TOO_LONG`
    /// at upload, a `TOO_LONG` failure when decoding finds it).
    pub max_duration_seconds: u64,
    /// Address space, in MiB, of the process that decodes one recording (a recording
    /// that needs more crashes only its decoder and fails `DECODER_CRASHED`).
    pub decoder_memory_mb: u64,
    /// Jobs processed at once; 0: one more than `stages.transcribe`, so a job decodes
    /// or redacts while others transcribe.
    pub workers: usize,
    /// Seconds a job's lease lasts without a heartbeat before another process takes it.
    pub lease_seconds: i64,
    /// Attempts before a job fails for good.
    pub max_attempts: i32,
    /// Speakers of the channels of a stereo recording, unless the upload says otherwise.
    pub stereo_speakers: Vec<String>,
    /// The speaker whose turns count as the agent's (patience, talk ratio).
    pub agent_speaker: String,
    /// A directory watched for recordings (with an optional `NAME.json` metadata
    /// sidecar); each is ingested once, then moved to `done/` or `failed/`. Empty: off.
    pub watch_dir: Option<PathBuf>,
    /// The organization (by name) that files in `watch_dir` belong to.
    pub watch_org: String,
    /// Seconds between looks at `watch_dir`.
    pub watch_poll_seconds: u64,
    /// How many jobs each stage admits at once.
    pub stages: StageLimits,
}

/// Jobs admitted to each pipeline stage at once; 0 sizes a stage for the machine.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StageLimits {
    /// Decoding and resampling (0: one per 2 cores, at least 1).
    pub decode: usize,
    /// Transcription; each admitted job uses a Whisper worker holding the model in
    /// memory (0: one per 4 cores, at least 1).
    pub transcribe: usize,
    /// Redaction (text and audio), metrics and trackers (0: one per 2 cores, at least 1).
    pub redact: usize,
    /// AI analysis; each admitted job uses an LLM worker holding the model in memory
    /// (0: one per 4 cores, at least 1).
    pub analyze: usize,
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn or_sized(n: usize, per_cores: usize) -> usize {
    if n > 0 {
        n
    } else {
        (cores() / per_cores).max(1)
    }
}

impl StageLimits {
    pub fn decode(&self) -> usize {
        or_sized(self.decode, 2)
    }
    pub fn transcribe(&self) -> usize {
        or_sized(self.transcribe, 4)
    }
    pub fn redact(&self) -> usize {
        or_sized(self.redact, 2)
    }
    pub fn analyze(&self) -> usize {
        or_sized(self.analyze, 4)
    }
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            max_upload_bytes: 2 * 1024 * 1024 * 1024,
            max_duration_seconds: crate::pipeline::decode::DEFAULT_MAX_SECONDS,
            decoder_memory_mb: 1024,
            workers: 0,
            lease_seconds: 60,
            max_attempts: 3,
            stereo_speakers: vec!["agent".into(), "customer".into()],
            agent_speaker: "agent".into(),
            watch_dir: None,
            watch_org: String::new(),
            watch_poll_seconds: 5,
            stages: StageLimits::default(),
        }
    }
}

impl PipelineConfig {
    /// Processing threads in force.
    pub fn effective_workers(&self) -> usize {
        if self.workers > 0 {
            self.workers
        } else {
            self.stages.transcribe() + 1
        }
    }
}

/// Sign-in security settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// argon2id memory cost in KiB (OWASP minimum: 19456).
    pub argon2_memory_kib: u32,
    /// argon2id iterations.
    pub argon2_iterations: u32,
    /// argon2id lanes.
    pub argon2_parallelism: u32,
    /// A session ends after this many minutes without requests.
    pub session_idle_minutes: i64,
    /// A session ends this many hours after sign-in, active or not.
    pub session_absolute_hours: i64,
    /// Failed sign-ins in a row that lock an account.
    pub lockout_threshold: i32,
    /// How long a locked account stays locked.
    pub lockout_minutes: i64,
    /// Sign-in attempts allowed per client IP per 5 minutes.
    pub ip_attempts_per_5min: u32,
    /// Hours an invitation (or setup) link stays valid.
    pub invite_ttl_hours: i64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            argon2_memory_kib: 19456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            session_idle_minutes: 30,
            session_absolute_hours: 12,
            lockout_threshold: 5,
            lockout_minutes: 15,
            ip_attempts_per_5min: 30,
            invite_ttl_hours: 72,
        }
    }
}

/// Inference settings. Models must be listed in the approved manifest (`insite models list`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnginesConfig {
    /// Directory holding the model files (`make models` fills `./models` in development).
    pub models_dir: PathBuf,
    /// Whisper model, by manifest name, e.g. "whisper-base" or "whisper-tiny.en".
    pub whisper_model: String,
    /// LLM, by manifest name, e.g. "qwen2.5-coder-1.5b-instruct".
    pub llm_model: String,
    /// CPU threads per inference worker; 0 means all cores.
    pub threads: usize,
    /// LLM context window in tokens (256..=32768).
    pub llm_context: u32,
    /// The insite executable that runs sandboxed inference workers; unset means this
    /// executable (set only when running insite as a library, e.g. in tests).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_exe: Option<PathBuf>,
}

impl Default for EnginesConfig {
    fn default() -> Self {
        Self {
            models_dir: PathBuf::from("/usr/share/insite/models"),
            whisper_model: "whisper-base".to_string(),
            llm_model: "qwen2.5-coder-1.5b-instruct".to_string(),
            threads: 0,
            llm_context: 8192,
            worker_exe: None,
        }
    }
}

impl EnginesConfig {
    /// Worker threads in force (all cores when unset).
    pub fn effective_threads(&self) -> usize {
        if self.threads > 0 {
            self.threads
        } else {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        }
    }
}

/// Database connection settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// Maximum number of pooled connections (1..=256).
    pub pool_size: u32,
    /// Seconds to wait for a connection before failing a request (1..=300).
    pub connect_timeout_secs: u64,
    /// SQLite only: milliseconds a writer waits on a locked database.
    pub busy_timeout_ms: u32,
}

/// TLS certificate files (PEM). Set both or neither.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// Path of the PEM certificate chain, leaf first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert: Option<PathBuf>,
    /// Path of the PEM private key (PKCS#8, PKCS#1 or SEC1); readable by the service only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
}

/// Log output settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// Filter in tracing's syntax, e.g. "info" or "info,insite=debug".
    pub level: String,
    /// "text" for humans, "json" for log shippers.
    pub format: LogFormat,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// HTTP server settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Seconds in-flight requests get to finish after SIGTERM (0..=3600).
    pub shutdown_grace_secs: u64,
    /// HTTP worker threads; 0 means one per CPU core.
    pub workers: usize,
    /// Largest accepted JSON request body in bytes.
    pub max_json_body_bytes: usize,
    /// The address people use to reach this server, for links (invitations, setup).
    /// Empty: `https://` + `listen`.
    pub public_url: String,
    /// `/metrics` readers: empty (default) serves loopback callers only; set to the
    /// SHA-256 (hex) of a bearer token to serve callers sending that token instead.
    pub metrics_token_sha256: String,
    /// Seconds a request body may send nothing before the request is ended (1..=3600).
    pub body_idle_timeout_secs: u64,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8443))
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("/var/lib/insite")
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            pool_size: 8,
            connect_timeout_secs: 10,
            busy_timeout_ms: 5000,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".to_string(),
            format: LogFormat::Text,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            shutdown_grace_secs: 30,
            workers: 0,
            max_json_body_bytes: 1024 * 1024,
            public_url: String::new(),
            metrics_token_sha256: String::new(),
            body_idle_timeout_secs: 30,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            data_dir: default_data_dir(),
            database_url: None,
            database: DatabaseConfig::default(),
            tls: TlsConfig::default(),
            log: LogConfig::default(),
            server: ServerConfig::default(),
            engines: EnginesConfig::default(),
            auth: AuthConfig::default(),
            pipeline: PipelineConfig::default(),
            keys: KeysConfig::default(),
            retention: RetentionConfig::default(),
            integrations: IntegrationsConfig::default(),
        }
    }
}

impl Config {
    /// Where people reach this server: `server.public_url`, else `https://` + `listen`.
    pub fn public_base_url(&self) -> String {
        let url = self.server.public_url.trim_end_matches('/');
        if url.is_empty() {
            format!("https://{}", self.listen)
        } else {
            url.to_string()
        }
    }

    /// The one-time link that opens an invitation in the browser.
    pub fn invite_link(&self, secret: &str) -> String {
        format!("{}/invite?token={secret}", self.public_base_url())
    }

    /// The database URL in force: the configured one, or SQLite inside `data_dir`.
    pub fn effective_database_url(&self) -> DatabaseUrl {
        match &self.database_url {
            Some(url) => url.clone(),
            None => DatabaseUrl::new(format!(
                "sqlite://{}",
                self.data_dir.join("insite.db").display()
            )),
        }
    }

    /// The effective configuration as TOML, secrets redacted, for `check-config`.
    pub fn to_redacted_toml(&self) -> Result<String, toml::ser::Error> {
        let mut shown = self.clone();
        shown.database_url = Some(self.effective_database_url());
        toml::to_string_pretty(&shown)
    }
}
