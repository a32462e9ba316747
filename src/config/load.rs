//! Reading the config file, overlaying `INSITE_*` variables and validating the result.

use super::Config;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Where packages install the configuration file.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/insite/insite.toml";

const ENV_PREFIX: &str = "INSITE_";

/// Variables with the prefix that are not config keys.
const RESERVED_ENV: &[&str] = &["INSITE_CONFIG"];
const RESERVED_ENV_PREFIXES: &[&str] = &["INSITE_TEST_"];

/// A configuration problem, displayed as one line naming the file, key or variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}, line {line}, column {column}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("config key `{key}`: {message}")]
    Invalid { key: String, message: String },
}

/// Loads `path`, overlays the `INSITE_*` variables from `env`, and validates.
///
/// Nested keys use a double underscore: `INSITE_LOG__FORMAT=json` sets `log.format`.
pub fn load(
    path: &Path,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    // First pass on the file alone, so errors carry the key, line and column.
    let _: Config = serde_path_to_error::deserialize(toml::Deserializer::new(&text)).map_err(
        |e: serde_path_to_error::Error<toml::de::Error>| {
            let key = e.path().to_string();
            let mut err = parse_error(path, &text, e.inner());
            if let ConfigError::Parse { message, .. } = &mut err {
                if key != "." && !message.contains(&format!("`{key}`")) {
                    *message = format!("key `{key}`: {message}");
                }
            }
            err
        },
    )?;
    let mut table: toml::Table = toml::from_str(&text).map_err(|e| parse_error(path, &text, &e))?;
    let from_env = overlay_env(&mut table, env)?;
    let config: Config =
        serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
            let key = e.path().to_string();
            let message = one_line(&e.inner().to_string());
            match from_env.get(&key) {
                Some(var) => ConfigError::Env {
                    var: var.clone(),
                    message,
                },
                None => ConfigError::Invalid { key, message },
            }
        })?;
    validate(&config)?;
    Ok(config)
}

fn parse_error(path: &Path, text: &str, e: &toml::de::Error) -> ConfigError {
    let offset = e.span().map(|s| s.start).unwrap_or(0).min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    ConfigError::Parse {
        path: path.to_path_buf(),
        line,
        column,
        message: one_line(e.message()),
    }
}

/// Joins a multi-line message into one line.
pub fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Applies `INSITE_*` variables to the table; returns key path -> variable name.
fn overlay_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<HashMap<String, String>, ConfigError> {
    let mut applied = HashMap::new();
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with(ENV_PREFIX))
        .filter(|(k, _)| !RESERVED_ENV.contains(&k.as_str()))
        .filter(|(k, _)| !RESERVED_ENV_PREFIXES.iter().any(|p| k.starts_with(p)))
        .collect();
    vars.sort();
    for (var, raw) in vars {
        let path: Vec<String> = var[ENV_PREFIX.len()..]
            .split("__")
            .map(str::to_ascii_lowercase)
            .collect();
        if path.iter().any(String::is_empty) {
            return Err(ConfigError::Env {
                var,
                message: "malformed name (use INSITE_KEY or INSITE_SECTION__KEY)".into(),
            });
        }
        let mut node = &mut *table;
        for section in &path[..path.len() - 1] {
            let entry = node
                .entry(section.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            node = match entry {
                toml::Value::Table(t) => t,
                _ => {
                    return Err(ConfigError::Env {
                        var,
                        message: format!("`{section}` is not a section"),
                    })
                }
            };
        }
        let leaf = path[path.len() - 1].clone();
        node.insert(leaf, env_value(&raw));
        applied.insert(path.join("."), var);
    }
    Ok(applied)
}

/// Numbers and booleans are typed; everything else is a string.
fn env_value(raw: &str) -> toml::Value {
    #[derive(Deserialize)]
    struct Probe {
        v: toml::Value,
    }
    match toml::from_str::<Probe>(&format!("v = {raw}")) {
        Ok(Probe {
            v: v @ (toml::Value::Integer(_) | toml::Value::Boolean(_) | toml::Value::Float(_)),
        }) => v,
        _ => toml::Value::String(raw.to_string()),
    }
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        message: message.into(),
    }
}

/// Rules that the types alone do not express.
fn validate(config: &Config) -> Result<(), ConfigError> {
    if let Some(url) = &config.database_url {
        url.target().map_err(|m| invalid("database_url", m))?;
    }
    if !config.data_dir.is_absolute() && config.data_dir.as_os_str().is_empty() {
        return Err(invalid("data_dir", "must not be empty"));
    }
    if !(1..=256).contains(&config.database.pool_size) {
        return Err(invalid("database.pool_size", "must be between 1 and 256"));
    }
    if !(1..=300).contains(&config.database.connect_timeout_secs) {
        return Err(invalid(
            "database.connect_timeout_secs",
            "must be between 1 and 300",
        ));
    }
    match (&config.tls.cert, &config.tls.key) {
        (Some(_), None) => return Err(invalid("tls.key", "must be set when tls.cert is set")),
        (None, Some(_)) => return Err(invalid("tls.cert", "must be set when tls.key is set")),
        _ => {}
    }
    tracing_subscriber::EnvFilter::try_new(&config.log.level)
        .map_err(|e| invalid("log.level", format!("not a valid filter: {e}")))?;
    if config.server.shutdown_grace_secs > 3600 {
        return Err(invalid(
            "server.shutdown_grace_secs",
            "must be at most 3600",
        ));
    }
    if config.server.max_json_body_bytes < 1024 {
        return Err(invalid(
            "server.max_json_body_bytes",
            "must be at least 1024",
        ));
    }
    if !(1..=3600).contains(&config.server.body_idle_timeout_secs) {
        return Err(invalid("server.body_idle_timeout_secs", "must be 1..=3600"));
    }
    let m = &config.server.metrics_token_sha256;
    if !m.is_empty() && (m.len() != 64 || !m.bytes().all(|b| b.is_ascii_hexdigit())) {
        return Err(invalid(
            "server.metrics_token_sha256",
            "must be empty or 64 hex digits: the SHA-256 of the token (sha256sum)",
        ));
    }
    let url = config.server.public_url.trim_end_matches('/');
    if !url.is_empty() && (!url.starts_with("https://") || url.len() <= "https://".len()) {
        return Err(invalid(
            "server.public_url",
            "must be empty or an https:// address, e.g. https://insite.example.com",
        ));
    }
    // Each auth field is checked on its own, so the error names the right key.
    let a = &config.auth;
    let auth_rules: [(&str, bool, &str); 9] = [
        (
            "auth.argon2_memory_kib",
            a.argon2_memory_kib >= 8192,
            "must be at least 8192",
        ),
        (
            "auth.argon2_iterations",
            a.argon2_iterations >= 1,
            "must be at least 1",
        ),
        (
            "auth.argon2_parallelism",
            a.argon2_parallelism >= 1,
            "must be at least 1",
        ),
        (
            "auth.session_idle_minutes",
            a.session_idle_minutes >= 1,
            "must be positive",
        ),
        (
            "auth.session_absolute_hours",
            a.session_absolute_hours >= 1,
            "must be positive",
        ),
        (
            "auth.lockout_threshold",
            a.lockout_threshold >= 1,
            "must be positive",
        ),
        (
            "auth.lockout_minutes",
            a.lockout_minutes >= 1,
            "must be positive",
        ),
        (
            "auth.ip_attempts_per_5min",
            a.ip_attempts_per_5min >= 1,
            "must be positive",
        ),
        (
            "auth.invite_ttl_hours",
            (1..=720).contains(&a.invite_ttl_hours),
            "must be between 1 and 720 (30 days)",
        ),
    ];
    if let Some((key, _, message)) = auth_rules.iter().find(|(_, ok, _)| !ok) {
        return Err(invalid(key, *message));
    }
    let p = &config.pipeline;
    let limits = [
        p.workers,
        p.stages.decode,
        p.stages.transcribe,
        p.stages.redact,
        p.stages.analyze,
    ];
    let pipeline_rules: [(&str, bool, &str); 10] = [
        (
            "pipeline.workers",
            limits.iter().all(|n| *n <= 64),
            "pipeline.workers and pipeline.stages.* must be between 0 (sized for the machine) and 64",
        ),
        (
            "pipeline.watch_org",
            p.watch_dir
                .as_ref()
                .map_or(true, |d| d.as_os_str().is_empty())
                || !p.watch_org.trim().is_empty(),
            "must name the organization the watched folder's files belong to",
        ),
        (
            "pipeline.watch_poll_seconds",
            (1..=3600).contains(&p.watch_poll_seconds),
            "must be between 1 and 3600",
        ),
        (
            "pipeline.max_upload_bytes",
            p.max_upload_bytes >= 1024,
            "must be at least 1024",
        ),
        (
            "pipeline.max_duration_seconds",
            (1..=86_400).contains(&p.max_duration_seconds),
            "must be between 1 and 86400 (24 hours)",
        ),
        (
            "pipeline.decoder_memory_mb",
            crate::pipeline::decoder::parent::MEMORY_MB.contains(&p.decoder_memory_mb),
            "must be between 256 and 65536",
        ),
        (
            "pipeline.lease_seconds",
            (2..=3600).contains(&p.lease_seconds),
            "must be between 2 and 3600",
        ),
        (
            "pipeline.max_attempts",
            (1..=10).contains(&p.max_attempts),
            "must be between 1 and 10",
        ),
        (
            "pipeline.stereo_speakers",
            p.stereo_speakers.len() == 2
                && p.stereo_speakers
                    .iter()
                    .all(|s| (1..=32).contains(&s.len())),
            "must name two speakers of 1..=32 characters",
        ),
        (
            "pipeline.agent_speaker",
            (1..=32).contains(&p.agent_speaker.len()),
            "must be 1..=32 characters",
        ),
    ];
    if let Some((key, _, message)) = pipeline_rules.iter().find(|(_, ok, _)| !ok) {
        return Err(invalid(key, *message));
    }
    let r = &config.retention;
    let retention_rules: [(&str, bool, &str); 3] = [
        (
            "retention.purge_interval_minutes",
            (1..=10_080).contains(&r.purge_interval_minutes),
            "must be between 1 and 10080 (a week)",
        ),
        (
            "retention.purge_batch",
            (1..=100_000).contains(&r.purge_batch),
            "must be between 1 and 100000",
        ),
        (
            "retention.audit_floor_days",
            (1..=crate::domain::retention::MAX_DAYS).contains(&r.audit_floor_days),
            "must be between 1 and 36500",
        ),
    ];
    if let Some((key, _, message)) = retention_rules.iter().find(|(_, ok, _)| !ok) {
        return Err(invalid(key, *message));
    }
    check_integrations(&config.integrations)?;
    if !(256..=32768).contains(&config.engines.llm_context) {
        return Err(invalid(
            "engines.llm_context",
            "must be between 256 and 32768",
        ));
    }
    for (key, name) in [
        ("engines.whisper_model", &config.engines.whisper_model),
        ("engines.llm_model", &config.engines.llm_model),
    ] {
        if crate::engines::manifest::entry(name).is_err() {
            let known: Vec<String> = crate::engines::manifest::entries()
                .into_iter()
                .map(|e| e.name)
                .collect();
            return Err(invalid(
                key,
                format!(
                    "'{name}' is not an approved model (known: {})",
                    known.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

fn check_integrations(i: &super::IntegrationsConfig) -> Result<(), ConfigError> {
    let rules: [(&str, bool, &str); 6] = [
        (
            "integrations.sync_interval_seconds",
            (10..=86_400).contains(&i.sync_interval_seconds),
            "must be between 10 and 86400 (a day)",
        ),
        (
            "integrations.connect_timeout_seconds",
            (1..=300).contains(&i.connect_timeout_seconds),
            "must be between 1 and 300",
        ),
        (
            "integrations.timeout_seconds",
            (1..=3600).contains(&i.timeout_seconds),
            "must be between 1 and 3600",
        ),
        (
            "integrations.max_attempts",
            (1..=10).contains(&i.max_attempts),
            "must be between 1 and 10",
        ),
        (
            "integrations.max_retry_after_seconds",
            (1..=3600).contains(&i.max_retry_after_seconds),
            "must be between 1 and 3600",
        ),
        (
            "integrations.max_response_bytes",
            (1024..=(8u64 << 30)).contains(&i.max_response_bytes),
            "must be between 1024 and 8589934592 (8 GiB)",
        ),
    ];
    if let Some((key, _, message)) = rules.iter().find(|(_, ok, _)| !ok) {
        return Err(invalid(key, *message));
    }
    if let Some(path) = &i.ca_bundle {
        let pem = std::fs::read(path).map_err(|e| {
            invalid(
                "integrations.ca_bundle",
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        let certs = crate::integrations::egress::parse_ca_bundle(&pem)
            .map_err(|e| invalid("integrations.ca_bundle", e))?;
        if certs == 0 {
            return Err(invalid(
                "integrations.ca_bundle",
                "holds no PEM certificate",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn env_overrides_file_and_types_values() {
        let f = file("listen = \"127.0.0.1:1\"\n[log]\nlevel = \"warn\"\n");
        let c = load(
            f.path(),
            env(&[
                ("INSITE_LISTEN", "127.0.0.1:8443"),
                ("INSITE_DATABASE__POOL_SIZE", "3"),
                ("INSITE_LOG__FORMAT", "json"),
                ("INSITE_TEST_PG_URL", "ignored"),
                ("PATH", "/bin"),
            ]),
        )
        .unwrap();
        assert_eq!(c.listen.port(), 8443);
        assert_eq!(c.database.pool_size, 3);
        assert_eq!(c.log.format, super::super::LogFormat::Json);
        assert_eq!(c.log.level, "warn");
    }

    #[test]
    fn integrations_settings_and_the_ca_bundle_are_checked() {
        let e = load(file("[integrations]\nmax_attempts = 0\n").path(), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("integrations.max_attempts"), "{e}");
        let junk = file("not a certificate");
        let text = format!(
            "[integrations]\nca_bundle = \"{}\"\n",
            junk.path().display()
        );
        let e = load(file(&text).path(), env(&[])).unwrap_err().to_string();
        assert!(
            e.contains("integrations.ca_bundle") && e.contains("no PEM certificate"),
            "{e}"
        );
        let text = "[integrations]\nca_bundle = \"/nonexistent/ca.pem\"\n";
        let e = load(file(text).path(), env(&[])).unwrap_err().to_string();
        assert!(e.contains("cannot read /nonexistent/ca.pem"), "{e}");
    }

    #[test]
    fn unknown_file_key_names_key_and_line() {
        let f = file("listen = \"127.0.0.1:1\"\nlisen = 3\n");
        let e = load(f.path(), env(&[])).unwrap_err().to_string();
        assert!(e.contains("line 2"), "{e}");
        assert!(e.contains("lisen"), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }

    #[test]
    fn bad_env_value_names_the_variable() {
        let f = file("");
        let e = load(f.path(), env(&[("INSITE_DATABASE__POOL_SIZE", "many")]))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("environment variable INSITE_DATABASE__POOL_SIZE"),
            "{e}"
        );
        let e = load(f.path(), env(&[("INSITE_LISEN", "x")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("INSITE_LISEN"), "{e}");
    }

    #[test]
    fn semantic_rules_name_the_key() {
        let f = file("database_url = \"mysql://x@y/z\"\n");
        let e = load(f.path(), env(&[])).unwrap_err().to_string();
        assert!(e.contains("`database_url`") && e.contains("mysql"), "{e}");
        let f = file("[tls]\ncert = \"/x.pem\"\n");
        let e = load(f.path(), env(&[])).unwrap_err().to_string();
        assert!(e.contains("`tls.key`"), "{e}");
    }
}
