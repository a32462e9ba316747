//! The HTTP client under the gate: the only use of an HTTP client library in insite.

use super::{Request, Response};
use crate::config::IntegrationsConfig;
use std::io::Read;
use std::time::Duration;

pub struct Client(reqwest::blocking::Client);

/// Number of certificates in a PEM bundle, or why it cannot be read.
pub fn parse_ca_bundle(pem: &[u8]) -> Result<usize, String> {
    reqwest::Certificate::from_pem_bundle(pem)
        .map(|c| c.len())
        .map_err(|e| format!("not a PEM certificate bundle: {e}"))
}

impl Client {
    pub fn new(config: &IntegrationsConfig) -> Result<Self, String> {
        let mut builder = reqwest::blocking::Client::builder()
            .use_rustls_tls()
            .https_only(!config.allow_plain_http)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(Duration::from_secs(config.connect_timeout_seconds))
            .timeout(Duration::from_secs(config.timeout_seconds))
            .user_agent(concat!("insite/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &config.ca_bundle {
            let pem = std::fs::read(path)
                .map_err(|e| format!("integrations.ca_bundle {}: {e}", path.display()))?;
            for cert in reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("integrations.ca_bundle: {e}"))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        builder
            .build()
            .map(Client)
            .map_err(|e| format!("cannot build the outbound HTTP client: {e}"))
    }

    /// One attempt; the answer's body is read up to `max` bytes.
    pub fn execute(&self, req: &Request, max: u64) -> Result<Response, String> {
        let method =
            reqwest::Method::from_bytes(req.method.as_bytes()).map_err(|e| e.to_string())?;
        let mut builder = self.0.request(method, req.url.clone());
        for (name, value) in &req.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = &req.body {
            builder = builder.body(body.clone());
        }
        let res = builder.send().map_err(describe)?;
        let status = res.status().as_u16();
        let headers = res
            .headers()
            .iter()
            .filter_map(|(n, v)| Some((n.to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let mut body = Vec::new();
        res.take(max + 1)
            .read_to_end(&mut body)
            .map_err(|e| format!("reading the answer: {e}"))?;
        if body.len() as u64 > max {
            return Err(format!(
                "the answer is larger than integrations.max_response_bytes ({max})"
            ));
        }
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

/// A transport error in words a person can act on (with its causes).
fn describe(e: reqwest::Error) -> String {
    let mut text = if e.is_connect() {
        "cannot connect".to_string()
    } else if e.is_timeout() {
        "timed out".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
