//! A real SMTP submission server on 127.0.0.1 with STARTTLS (certificate from the test
//! CA) and AUTH PLAIN, standing in for the customer's mail relay. It records each
//! sign-in and each message. With `starttls: false` it offers no TLS at all.

use crate::fake_saas::Tls;
use base64::Engine;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

pub struct FakeSmtp {
    pub port: u16,
    pub received: Arc<Mutex<Vec<Received>>>,
    /// The user names that signed in, with whether the password was right.
    pub logins: Arc<Mutex<Vec<(String, bool)>>>,
}

pub const USER: &str = "alerts@acme.test";
pub const PASSWORD: &str = "relay-password-1";

fn line(s: &mut impl Read) -> Option<String> {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    while !out.ends_with(b"\r\n") {
        if s.read(&mut b).ok()? == 0 {
            return None;
        }
        out.push(b[0]);
    }
    Some(String::from_utf8_lossy(&out).trim_end().to_string())
}

impl FakeSmtp {
    pub fn start(tls: &Tls, starttls: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let logins = Arc::new(Mutex::new(Vec::new()));
        let (r, l, config) = (received.clone(), logins.clone(), tls.config.clone());
        std::thread::spawn(move || {
            for tcp in listener.incoming().flatten() {
                let (r, l, config) = (r.clone(), l.clone(), config.clone());
                std::thread::spawn(move || session(tcp, config, starttls, &r, &l));
            }
        });
        FakeSmtp {
            port,
            received,
            logins,
        }
    }
}

fn session(
    mut tcp: TcpStream,
    config: Arc<rustls::ServerConfig>,
    starttls: bool,
    received: &Mutex<Vec<Received>>,
    logins: &Mutex<Vec<(String, bool)>>,
) {
    let _ = tcp.write_all(b"220 fake ESMTP\r\n");
    loop {
        let Some(cmd) = line(&mut tcp) else { return };
        let upper = cmd.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            let caps = if starttls {
                "250-fake\r\n250-STARTTLS\r\n250 8BITMIME\r\n"
            } else {
                "250-fake\r\n250 AUTH PLAIN\r\n"
            };
            let _ = tcp.write_all(caps.as_bytes());
        } else if upper == "STARTTLS" && starttls {
            let _ = tcp.write_all(b"220 go ahead\r\n");
            break;
        } else if upper == "QUIT" {
            let _ = tcp.write_all(b"221 bye\r\n");
            return;
        } else {
            let _ = tcp.write_all(b"530 must issue STARTTLS first\r\n");
        }
    }
    let Ok(conn) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut s = rustls::StreamOwned::new(conn, tcp);
    let (mut from, mut to) = (String::new(), Vec::new());
    loop {
        let Some(cmd) = line(&mut s) else { return };
        let upper = cmd.to_ascii_uppercase();
        let answer: &[u8] = if upper.starts_with("EHLO") {
            b"250-fake\r\n250 AUTH PLAIN\r\n"
        } else if let Some(b64) = cmd.strip_prefix("AUTH PLAIN ") {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap_or_default();
            let parts: Vec<String> = String::from_utf8_lossy(&raw)
                .split('\0')
                .map(str::to_string)
                .collect();
            let ok = parts.len() == 3 && parts[1] == USER && parts[2] == PASSWORD;
            logins
                .lock()
                .unwrap()
                .push((parts.get(1).cloned().unwrap_or_default(), ok));
            if ok {
                b"235 accepted\r\n"
            } else {
                b"535 5.7.8 authentication failed\r\n"
            }
        } else if let Some(a) = upper.strip_prefix("MAIL FROM:") {
            from = a.trim_matches(['<', '>']).to_ascii_lowercase();
            b"250 ok\r\n"
        } else if let Some(a) = upper.strip_prefix("RCPT TO:") {
            to.push(a.trim_matches(['<', '>']).to_ascii_lowercase());
            b"250 ok\r\n"
        } else if upper == "DATA" {
            let _ = s.write_all(b"354 go\r\n");
            let mut data = String::new();
            loop {
                let Some(l) = line(&mut s) else { return };
                if l == "." {
                    break;
                }
                data.push_str(&l);
                data.push('\n');
            }
            received.lock().unwrap().push(Received {
                from: from.clone(),
                to: to.clone(),
                data,
            });
            b"250 queued\r\n"
        } else if upper == "QUIT" {
            let _ = s.write_all(b"221 bye\r\n");
            let _ = s.flush();
            return;
        } else {
            b"500 unknown\r\n"
        };
        let _ = s.write_all(answer);
        let _ = s.flush();
    }
}
