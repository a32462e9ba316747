//! The gate's SFTP client: SSH to an allowlisted host whose host key must match the
//! pinned SHA-256 fingerprint, signed in by key or password, then directory listings
//! and file reads. The TCP connection is opened here, and each step (sign-in, listing,
//! read) is written to the outbound log and the audit log like an HTTP call.

use super::{Caller, EgressError, Gate, Request};
use russh::client::{self, Handle};
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh_sftp::client::SftpSession;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use url::Url;

/// How the connector signs in.
pub enum Auth {
    Password(String),
    /// An OpenSSH private key, with its passphrase if it has one.
    Key {
        pem: String,
        passphrase: Option<String>,
    },
}

/// An SFTP server and the account to use.
pub struct Server {
    pub host: String,
    pub port: u16,
    pub username: String,
    /// `SHA256:…` as `ssh-keygen -lf` prints it.
    pub host_key_sha256: String,
    pub auth: Auth,
}

/// One entry of a directory listing.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub is_dir: bool,
    pub is_file: bool,
    pub size: u64,
    /// Unix seconds of the last change, when the server says.
    pub mtime: Option<i64>,
}

/// Checks the server's host key against the pinned fingerprint.
struct Pinned {
    want: String,
    seen: Arc<Mutex<Option<String>>>,
}

impl client::Handler for Pinned {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let fingerprint = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.fingerprint(HashAlg::Sha256),
            PublicKeyOrCertificate::Certificate(c) => c.public_key().fingerprint(HashAlg::Sha256),
        }
        .to_string();
        let ok = fingerprint == self.want;
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(fingerprint);
        }
        Ok(ok)
    }
}

/// A signed-in SFTP session; each call is logged.
pub struct Session<'g> {
    gate: &'g Gate,
    caller: Caller,
    base: Url,
    sftp: SftpSession,
    ssh: Handle<Pinned>,
    /// Last: dropped after the session's tasks.
    rt: tokio::runtime::Runtime,
}

/// Why a step failed, and whether another attempt may pass.
struct Failure {
    message: String,
    transient: bool,
}

fn failure(message: impl Into<String>, transient: bool) -> Failure {
    Failure {
        message: message.into(),
        transient,
    }
}

impl Gate {
    /// Connects and signs in to `server` for `caller` (allowlist, retries, log).
    pub fn sftp(&self, caller: &Caller, server: &Server) -> Result<Session<'_>, EgressError> {
        let base = Url::parse(&format!("sftp://{}:{}/", server.host, server.port))
            .map_err(|e| EgressError::Refused(format!("bad SFTP server {}: {e}", server.host)))?;
        let req = Request::new("SSH", base.clone());
        self.check_allowed(caller, &req)?;
        let mut attempt = 1;
        loop {
            match self.sign_in(server) {
                Ok((rt, ssh, sftp)) => {
                    self.record(caller, &req, None, 0, "success", None);
                    return Ok(Session {
                        gate: self,
                        caller: caller.clone(),
                        base,
                        sftp,
                        ssh,
                        rt,
                    });
                }
                Err(f) => {
                    self.record(caller, &req, None, 0, "failure", Some(&f.message));
                    if !f.transient || attempt >= self.config.max_attempts.max(1) {
                        return Err(EgressError::Failed(f.message));
                    }
                    std::thread::sleep(self.wait(attempt, None));
                }
            }
            attempt += 1;
        }
    }

    fn sign_in(
        &self,
        server: &Server,
    ) -> Result<(tokio::runtime::Runtime, Handle<Pinned>, SftpSession), Failure> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| failure(format!("cannot start the SSH client: {e}"), false))?;
        let connect = Duration::from_secs(self.config.connect_timeout_seconds);
        let step = Duration::from_secs(self.config.timeout_seconds);
        let seen = Arc::new(Mutex::new(None));
        let (ssh, sftp) = rt.block_on(async {
            let tcp = within(
                connect,
                tokio::net::TcpStream::connect((server.host.as_str(), server.port)),
            )
            .await
            .map_err(|e| failure(format!("cannot connect: {e}"), true))?;
            let config = Arc::new(client::Config {
                inactivity_timeout: Some(step),
                ..client::Config::default()
            });
            let pinned = Pinned {
                want: server.host_key_sha256.clone(),
                seen: seen.clone(),
            };
            let handshake = within(step, client::connect_stream(config, tcp, pinned)).await;
            let mut ssh = match handshake {
                Ok(h) => h,
                Err(e) => {
                    let presented = seen.lock().ok().and_then(|s| s.clone());
                    return Err(match presented {
                        Some(fp) if fp != server.host_key_sha256 => failure(
                            format!(
                                "the server's host key is {fp}, not the pinned settings.host_key_sha256 ({}); if the server's key was replaced on purpose, check it with its administrator and update the setting",
                                server.host_key_sha256
                            ),
                            false,
                        ),
                        _ => failure(format!("SSH handshake failed: {e}"), true),
                    });
                }
            };
            authenticate(&mut ssh, server, step).await?;
            let channel = within(step, ssh.channel_open_session())
                .await
                .map_err(|e| failure(format!("cannot open an SSH session: {e}"), true))?;
            within(step, channel.request_subsystem(true, "sftp"))
                .await
                .map_err(|e| failure(format!("the server offers no SFTP subsystem: {e}"), false))?;
            let sftp = within(step, SftpSession::new(channel.into_stream()))
                .await
                .map_err(|e| failure(format!("SFTP start failed: {e}"), true))?;
            sftp.set_timeout(self.config.timeout_seconds);
            Ok::<_, Failure>((ssh, sftp))
        })?;
        Ok((rt, ssh, sftp))
    }
}

async fn authenticate(
    ssh: &mut Handle<Pinned>,
    server: &Server,
    step: Duration,
) -> Result<(), Failure> {
    let user = server.username.clone();
    let result = match &server.auth {
        Auth::Password(password) => {
            within(step, ssh.authenticate_password(user, password.clone())).await
        }
        Auth::Key { pem, passphrase } => {
            let key = russh::keys::decode_secret_key(pem, passphrase.as_deref()).map_err(|e| {
                failure(
                    format!("credentials.private_key cannot be read (OpenSSH format; is private_key_passphrase right?): {e}"),
                    false,
                )
            })?;
            let hash = within(step, ssh.best_supported_rsa_hash())
                .await
                .ok()
                .flatten()
                .flatten();
            let key = PrivateKeyWithHashAlg::new(Arc::new(key), hash);
            within(step, ssh.authenticate_publickey(user, key)).await
        }
    }
    .map_err(|e| failure(format!("signing in failed: {e}"), true))?;
    if result.success() {
        Ok(())
    } else {
        Err(failure(
            format!(
                "the server refused user '{}' with these credentials",
                server.username
            ),
            false,
        ))
    }
}

/// Runs `fut` for at most `limit`, its error as text.
async fn within<T, E: std::fmt::Display>(
    limit: Duration,
    fut: impl Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err(format!("timed out after {} s", limit.as_secs())),
    }
}

impl Session<'_> {
    fn log(&self, path: &str, bytes: usize, error: Option<&str>) {
        let mut url = self.base.clone();
        url.set_path(path);
        let outcome = if error.is_none() {
            "success"
        } else {
            "failure"
        };
        let req = Request::new("SFTP", url);
        self.gate
            .record(&self.caller, &req, None, bytes as i64, outcome, error);
    }

    /// The entries of directory `dir` (without `.` and `..`).
    pub fn list(&self, dir: &str) -> Result<Vec<Entry>, EgressError> {
        let listed = self.rt.block_on(self.sftp.read_dir(dir));
        match listed {
            Ok(entries) => {
                let out: Vec<Entry> = entries
                    .filter(|e| e.file_name() != "." && e.file_name() != "..")
                    .map(|e| {
                        let meta = e.metadata();
                        Entry {
                            name: e.file_name(),
                            is_dir: e.file_type().is_dir(),
                            is_file: e.file_type().is_file(),
                            size: meta.size.unwrap_or(0),
                            mtime: meta.mtime.map(i64::from),
                        }
                    })
                    .collect();
                self.log(dir, 0, None);
                Ok(out)
            }
            Err(e) => {
                let why = format!("cannot list {dir}: {e}");
                self.log(dir, 0, Some(&why));
                Err(EgressError::Failed(why))
            }
        }
    }

    /// The bytes of file `path`, refused past `max` bytes.
    pub fn read(&self, path: &str, max: u64) -> Result<Vec<u8>, EgressError> {
        let read = self.rt.block_on(async {
            let file = self.sftp.open(path).await.map_err(|e| e.to_string())?;
            let mut body = Vec::new();
            file.take(max + 1)
                .read_to_end(&mut body)
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(body)
        });
        let checked = read.and_then(|body| {
            if body.len() as u64 > max {
                Err(format!("the file is larger than {max} bytes"))
            } else {
                Ok(body)
            }
        });
        match checked {
            Ok(body) => {
                self.log(path, body.len(), None);
                Ok(body)
            }
            Err(e) => {
                let why = format!("cannot read {path}: {e}");
                self.log(path, 0, Some(&why));
                Err(EgressError::Failed(why))
            }
        }
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        let _ = self.rt.block_on(async {
            let _ = self.sftp.close().await;
            self.ssh
                .disconnect(russh::Disconnect::ByApplication, "", "en")
                .await
        });
    }
}
