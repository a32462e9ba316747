//! The egress gate. Each call names its integration; its host must be on that
//! integration's allowlist, TLS is verified (system trust store plus
//! `integrations.ca_bundle`), redirects are never followed, failures to connect, 429
//! and 5xx are retried with backoff (honouring `Retry-After`), and each attempt is
//! written to the outbound log and the audit log: integration, host, method, path,
//! status and bytes, never bodies, queries or secrets. A refused host is logged too.

mod client;
pub mod sftp;
pub mod smtp;

pub use client::parse_ca_bundle;

use crate::audit::{self, Event};
use crate::clock::SharedClock;
use crate::config::IntegrationsConfig;
use crate::domain::time::stamp;
use crate::store::egress::{self, EgressRow};
use crate::store::identity::new_id;
use crate::store::Pool;
use std::time::Duration;
use url::Url;

/// Why a call did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum EgressError {
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Failed(String),
}

/// Who calls: the integration whose allowlist applies and whose log gets the entry.
#[derive(Debug, Clone)]
pub struct Caller {
    pub org_id: String,
    pub integration_id: String,
    /// `host` (any port) or `host:port` entries.
    pub allowed: Vec<String>,
    /// The URL's path is itself a secret (a Slack webhook): it is not logged.
    pub secret_path: bool,
}

/// One outbound request.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: &'static str,
    pub url: Url,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

impl Request {
    /// A request without headers or body (also what SMTP and SFTP sessions log).
    pub fn new(method: &'static str, url: Url) -> Self {
        Request {
            method,
            url,
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn get(url: Url) -> Self {
        Request::new("GET", url)
    }

    pub fn post(url: Url, content_type: &str, body: Vec<u8>) -> Self {
        Request {
            method: "POST",
            url,
            headers: vec![("content-type".into(), content_type.into())],
            body: Some(body),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// The answer of the last attempt (any status; the caller judges it).
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The gate: one per process, shared by connectors, the webhook receiver and alerts.
pub struct Gate {
    client: client::Client,
    smtp_tls: std::sync::Arc<rustls::ClientConfig>,
    pool: Pool,
    clock: SharedClock,
    config: IntegrationsConfig,
}

/// `host` or `host:port` of a URL as the allowlist names it.
pub fn authority(url: &Url) -> Option<(String, u16)> {
    let host = url
        .host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']');
    Some((host.to_ascii_lowercase(), url.port_or_known_default()?))
}

/// Whether the allowlist lets `url` through.
pub fn allowed(allowed: &[String], url: &Url) -> bool {
    let Some((host, port)) = authority(url) else {
        return false;
    };
    allowed.iter().any(|entry| {
        let entry = entry.trim().to_ascii_lowercase();
        entry == host || entry == format!("{host}:{port}") || entry == format!("[{host}]:{port}")
    })
}

impl Gate {
    pub fn new(
        pool: Pool,
        clock: SharedClock,
        config: &IntegrationsConfig,
    ) -> Result<Self, String> {
        Ok(Gate {
            client: client::Client::new(config)?,
            smtp_tls: smtp::tls_config(config)?,
            pool,
            clock,
            config: config.clone(),
        })
    }

    /// The time requests are signed with (S3's SigV4).
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// Sends `req` for `caller`, retrying what may pass on a second try.
    pub fn send(&self, caller: &Caller, req: Request) -> Result<Response, EgressError> {
        let scheme_ok = req.url.scheme() == "https"
            || (req.url.scheme() == "http" && self.config.allow_plain_http);
        if !scheme_ok {
            let why = format!(
                "{}://: only https is allowed (integrations.allow_plain_http is off)",
                req.url.scheme()
            );
            self.record(caller, &req, None, 0, "refused", Some(&why));
            return Err(EgressError::Refused(why));
        }
        self.check_allowed(caller, &req)?;
        let sent = req.body.as_ref().map_or(0, |b| b.len() as i64);
        let attempts = self.config.max_attempts.max(1);
        let mut attempt = 1;
        loop {
            match self.client.execute(&req, self.config.max_response_bytes) {
                Ok(res) => {
                    let bytes = sent + res.body.len() as i64;
                    let retry = matches!(res.status, 429 | 500 | 502 | 503 | 504);
                    let outcome = if res.ok() { "success" } else { "failure" };
                    self.record(caller, &req, Some(res.status), bytes, outcome, None);
                    if !retry || attempt >= attempts {
                        return Ok(res);
                    }
                    std::thread::sleep(self.wait(attempt, res.header("retry-after")));
                }
                Err(e) => {
                    self.record(caller, &req, None, sent, "failure", Some(&e));
                    if attempt >= attempts {
                        return Err(EgressError::Failed(e));
                    }
                    std::thread::sleep(self.wait(attempt, None));
                }
            }
            attempt += 1;
        }
    }

    /// Sends `mail` through an SMTP server (STARTTLS, AUTH); with None, only signs in
    /// (the "test connection"). Allowlist, retries and the log as for HTTP calls.
    pub fn send_mail(
        &self,
        caller: &Caller,
        server: &smtp::Server,
        mail: Option<&smtp::Mail>,
    ) -> Result<(), EgressError> {
        let url = Url::parse(&format!("smtp://{}:{}/", server.host, server.port))
            .map_err(|e| EgressError::Refused(format!("bad SMTP server {}: {e}", server.host)))?;
        let req = Request::new("SMTP", url);
        self.check_allowed(caller, &req)?;
        let mut attempt = 1;
        loop {
            let now = self.clock.now();
            match smtp::session(server, self.smtp_tls.clone(), &self.config, mail, now) {
                Ok(bytes) => {
                    self.record(caller, &req, Some(250), bytes as i64, "success", None);
                    return Ok(());
                }
                Err(e) => {
                    self.record(caller, &req, e.code, 0, "failure", Some(&e.message));
                    if !e.transient || attempt >= self.config.max_attempts.max(1) {
                        return Err(EgressError::Failed(e.message));
                    }
                    std::thread::sleep(self.wait(attempt, None));
                }
            }
            attempt += 1;
        }
    }

    /// Refuses (and logs) a request whose host is not on the caller's allowlist.
    fn check_allowed(&self, caller: &Caller, req: &Request) -> Result<(), EgressError> {
        if allowed(&caller.allowed, &req.url) {
            return Ok(());
        }
        let why = format!(
            "host {} is not on this integration's allowlist",
            req.url.host_str().unwrap_or("?")
        );
        self.record(caller, req, None, 0, "refused", Some(&why));
        Err(EgressError::Refused(why))
    }

    /// Backoff before the next attempt: the server's `Retry-After` (seconds, capped),
    /// else 0.5 s doubled per attempt up to 30 s.
    fn wait(&self, attempt: u32, retry_after: Option<&str>) -> Duration {
        if let Some(secs) = retry_after.and_then(|v| v.trim().parse::<u64>().ok()) {
            return Duration::from_secs(secs.min(self.config.max_retry_after_seconds));
        }
        let ms = 500u64.saturating_mul(1 << (attempt - 1).min(6));
        Duration::from_millis(ms.min(30_000))
    }

    fn record(
        &self,
        caller: &Caller,
        req: &Request,
        status: Option<u16>,
        bytes: i64,
        outcome: &str,
        error: Option<&str>,
    ) {
        let now = self.clock.now();
        let row = EgressRow {
            id: new_id(),
            org_id: caller.org_id.clone(),
            integration_id: caller.integration_id.clone(),
            at: stamp(now),
            method: req.method.to_string(),
            host: req.url.host_str().unwrap_or("").to_string(),
            path: if caller.secret_path {
                "/(secret path not logged)".into()
            } else {
                req.url.path().chars().take(500).collect()
            },
            status: status.map(i32::from),
            bytes,
            outcome: outcome.to_string(),
            error: error.map(|e| e.chars().take(500).collect()),
        };
        let event = Event::by_system(
            &caller.org_id,
            "egress",
            "egress.call",
            ("integration", &caller.integration_id),
            if outcome == "refused" {
                "denied"
            } else {
                outcome
            },
        );
        let written = self
            .pool
            .get()
            .map_err(|e| e.to_string())
            .and_then(|mut conn| {
                egress::insert(&mut conn, &row).map_err(|e| e.to_string())?;
                audit::append(&mut conn, &event, now).map_err(|e| e.to_string())
            });
        if let Err(e) = written {
            tracing::error!(error = %e, integration = %caller.integration_id, "cannot log an outbound call");
        }
        tracing::info!(
            integration = %caller.integration_id, method = req.method, host = %row.host,
            path = %row.path, status = ?status, bytes, outcome, "outbound call"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn allowlist_matches_host_or_host_and_port() {
        let list = vec!["acme.zendesk.com".to_string(), "127.0.0.1:8443".to_string()];
        assert!(allowed(&list, &url("https://acme.zendesk.com/api/v2")));
        assert!(allowed(&list, &url("https://ACME.zendesk.com:444/x")));
        assert!(allowed(&list, &url("https://127.0.0.1:8443/x")));
        assert!(!allowed(&list, &url("https://127.0.0.1:8444/x")));
        assert!(!allowed(&list, &url("https://evil.zendesk.com/x")));
        assert!(!allowed(&list, &url("https://acme.zendesk.com.evil.net/x")));
        assert!(!allowed(&[], &url("https://acme.zendesk.com/")));
    }
}
