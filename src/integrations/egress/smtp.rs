//! The gate's SMTP client: submission with STARTTLS required (never mail in clear),
//! certificate verified like every outbound call, AUTH PLAIN inside TLS. Refuses
//! headers that carry line breaks.

use crate::config::IntegrationsConfig;
use base64::Engine;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// One message to send.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
}

/// Where and as whom.
#[derive(Debug, Clone)]
pub struct Server {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: String,
}

/// Why a session failed, and whether another try may pass (4xx, connection).
#[derive(Debug)]
pub struct SmtpError {
    pub message: String,
    pub transient: bool,
    pub code: Option<u16>,
}

fn fail(message: impl Into<String>, transient: bool, code: Option<u16>) -> SmtpError {
    SmtpError {
        message: message.into(),
        transient,
        code,
    }
}

/// The TLS settings of SMTP sessions: the system store plus the CA bundle.
pub fn tls_config(config: &IntegrationsConfig) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = &config.ca_bundle {
        let pem = std::fs::read(path).map_err(|e| format!("integrations.ca_bundle: {e}"))?;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| format!("integrations.ca_bundle: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("integrations.ca_bundle: {e}"))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(tls))
}

/// A reply: its code and text (all lines).
fn reply(s: &mut impl Read) -> Result<(u16, String), SmtpError> {
    let mut text = String::new();
    loop {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while !line.ends_with(b"\r\n") {
            match s.read(&mut byte) {
                Ok(0) => return Err(fail("the server closed the connection", true, None)),
                Ok(_) => line.push(byte[0]),
                Err(e) => return Err(fail(format!("reading the reply: {e}"), true, None)),
            }
            if line.len() > 4096 {
                return Err(fail("a reply line is too long", false, None));
            }
        }
        let l = String::from_utf8_lossy(&line).trim_end().to_string();
        let code: u16 = l
            .get(..3)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| fail(format!("not an SMTP reply: {l}"), false, None))?;
        text.push_str(l.get(4..).unwrap_or_default());
        text.push('\n');
        if l.as_bytes().get(3) != Some(&b'-') {
            return Ok((code, text));
        }
    }
}

/// Sends `line` and expects a reply in `want` (e.g. 2xx).
fn command(
    s: &mut (impl Read + Write),
    line: &str,
    want: &[u16],
    what: &str,
) -> Result<String, SmtpError> {
    s.write_all(format!("{line}\r\n").as_bytes())
        .map_err(|e| fail(format!("sending {what}: {e}"), true, None))?;
    let (code, text) = reply(s)?;
    if want.contains(&code) {
        return Ok(text);
    }
    let text = text.trim().replace('\n', " ");
    Err(fail(
        format!("the server answered {code} to {what}: {text}"),
        (400..500).contains(&code),
        Some(code),
    ))
}

fn clean(field: &str, v: &str) -> Result<(), SmtpError> {
    if v.contains(['\r', '\n']) {
        return Err(fail(format!("{field} holds a line break"), false, None));
    }
    Ok(())
}

/// The message as sent in DATA (headers, dot-stuffed body, the final dot).
fn message(mail: &Mail, now: chrono::DateTime<chrono::Utc>) -> Result<String, SmtpError> {
    clean("from", &mail.from)?;
    clean("subject", &mail.subject)?;
    for to in &mail.to {
        clean("to", to)?;
    }
    let mut body = String::new();
    for line in mail.text.replace("\r\n", "\n").split('\n') {
        if line.starts_with('.') {
            body.push('.');
        }
        body.push_str(line);
        body.push_str("\r\n");
    }
    Ok(format!(
        "From: {}\r\nTo: {}\r\nSubject: {}\r\nDate: {}\r\nMessage-ID: <{}@insite>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}.",
        mail.from,
        mail.to.join(", "),
        mail.subject,
        now.to_rfc2822(),
        crate::store::identity::new_id(),
    ))
}

/// One session: STARTTLS, AUTH, and the message when given (None: sign in only).
/// Returns the size of what was sent.
pub fn session(
    server: &Server,
    tls: Arc<rustls::ClientConfig>,
    config: &IntegrationsConfig,
    mail: Option<&Mail>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<u64, SmtpError> {
    let addr = (server.host.as_str(), server.port)
        .to_socket_addrs()
        .map_err(|e| fail(format!("cannot resolve {}: {e}", server.host), true, None))?
        .next()
        .ok_or_else(|| fail(format!("{} has no address", server.host), true, None))?;
    let timeout = Duration::from_secs(config.connect_timeout_seconds);
    let mut tcp = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| fail(format!("cannot connect: {e}"), true, None))?;
    let io = Some(Duration::from_secs(config.timeout_seconds));
    let _ = tcp.set_read_timeout(io);
    let _ = tcp.set_write_timeout(io);
    let (code, _) = reply(&mut tcp)?;
    if code != 220 {
        return Err(fail(
            format!("the server greeted with {code}"),
            (400..500).contains(&code),
            Some(code),
        ));
    }
    let caps = command(&mut tcp, "EHLO insite", &[250], "EHLO")?;
    if !caps
        .lines()
        .any(|l| l.trim().eq_ignore_ascii_case("STARTTLS"))
    {
        return Err(fail(
            "the server does not offer STARTTLS; insite never sends mail in clear",
            false,
            None,
        ));
    }
    command(&mut tcp, "STARTTLS", &[220], "STARTTLS")?;
    let name = ServerName::try_from(server.host.clone())
        .map_err(|e| fail(format!("{}: {e}", server.host), false, None))?;
    let conn =
        rustls::ClientConnection::new(tls, name).map_err(|e| fail(e.to_string(), false, None))?;
    let mut s = rustls::StreamOwned::new(conn, tcp);
    command(&mut s, "EHLO insite", &[250], "EHLO after STARTTLS")?;
    let plain = base64::engine::general_purpose::STANDARD
        .encode(format!("\0{}\0{}", server.username, server.password));
    command(
        &mut s,
        &format!("AUTH PLAIN {plain}"),
        &[235],
        "AUTH (check the user name and password)",
    )?;
    let mut sent = 0;
    if let Some(mail) = mail {
        let data = message(mail, now)?;
        command(
            &mut s,
            &format!("MAIL FROM:<{}>", mail.from),
            &[250],
            "MAIL FROM",
        )?;
        for to in &mail.to {
            command(&mut s, &format!("RCPT TO:<{to}>"), &[250, 251], "RCPT TO")?;
        }
        command(&mut s, "DATA", &[354], "DATA")?;
        command(&mut s, &data, &[250], "the message")?;
        sent = data.len() as u64;
    }
    let _ = command(&mut s, "QUIT", &[221], "QUIT");
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_dot_stuffed_and_refuse_header_injection() {
        let now = crate::clock::system().now();
        let mail = Mail {
            from: "insite@acme.test".into(),
            to: vec!["qa@acme.test".into()],
            subject: "insite alert".into(),
            text: "line one\n.starts with a dot\nend".into(),
        };
        let m = message(&mail, now).unwrap();
        assert!(m.contains("\r\n..starts with a dot\r\n"), "{m}");
        assert!(m.ends_with("end\r\n."));
        let evil = Mail {
            subject: "hi\r\nBcc: all@evil.test".into(),
            ..mail
        };
        assert!(message(&evil, now).is_err());
    }
}
