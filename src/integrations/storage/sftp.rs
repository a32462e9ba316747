//! An SFTP folder (a call recorder's export share): listed, and its files read, over
//! one gate-owned SSH session per sync; the server's host key is pinned.

use super::settings::SftpSettings;
use super::{Object, Store};
use crate::integrations::egress::sftp::{Auth, Server, Session};
use crate::integrations::egress::Gate;
use crate::integrations::open::Opened;
use chrono::{DateTime, Utc};

/// Sub-folders deeper than this are not listed (with `settings.recursive`).
const MAX_DEPTH: usize = 8;
/// A listing stops at this many files.
const MAX_FILES: usize = 200_000;

pub struct Folder<'g> {
    gate: &'g Gate,
    target: &'g Opened,
    settings: SftpSettings,
    session: Option<Session<'g>>,
}

impl<'g> Folder<'g> {
    pub fn new(gate: &'g Gate, target: &'g Opened) -> Result<Self, String> {
        let settings = SftpSettings::from(&target.settings)?;
        Ok(Folder {
            gate,
            target,
            settings,
            session: None,
        })
    }

    fn server(&self) -> Result<Server, String> {
        let auth = match (
            self.target.secret("private_key"),
            self.target.secret("password"),
        ) {
            (Some(pem), _) => Auth::Key {
                pem: pem.to_string(),
                passphrase: self
                    .target
                    .secret("private_key_passphrase")
                    .map(str::to_string),
            },
            (None, Some(pw)) => Auth::Password(pw.to_string()),
            (None, None) => return Err("credentials private_key or password is not set".into()),
        };
        Ok(Server {
            host: self.settings.host.clone(),
            port: self.settings.port,
            username: self.settings.username.clone(),
            host_key_sha256: self.settings.host_key_sha256.clone(),
            auth,
        })
    }

    /// The session, signed in on first use.
    fn session(&mut self) -> Result<&Session<'g>, String> {
        if self.session.is_none() {
            let server = self.server()?;
            let session = self
                .gate
                .sftp(&self.target.caller, &server)
                .map_err(|e| e.to_string())?;
            self.session = Some(session);
        }
        self.session
            .as_ref()
            .ok_or_else(|| "no SFTP session".to_string())
    }

    pub fn test(mut self) -> Result<String, String> {
        let dir = self.settings.path.clone();
        let entries = self.session()?.list(&dir).map_err(|e| e.to_string())?;
        Ok(format!(
            "signed in to {}:{} as {} (host key {}); {dir} holds {} entr(ies)",
            self.settings.host,
            self.settings.port,
            self.settings.username,
            self.settings.host_key_sha256,
            entries.len()
        ))
    }
}

impl Store for Folder<'_> {
    fn locate(&self, key: &str) -> String {
        format!("sftp://{}:{}{key}", self.settings.host, self.settings.port)
    }

    fn list(&mut self) -> Result<Vec<Object>, String> {
        let root = self.settings.path.clone();
        let recursive = self.settings.recursive;
        let session = self.session()?;
        let mut out = Vec::new();
        let mut dirs = vec![(root, 0usize)];
        while let Some((dir, depth)) = dirs.pop() {
            for e in session.list(&dir).map_err(|e| e.to_string())? {
                if e.name.contains('/') {
                    continue; // not a name a directory can hold: never leave the folder
                }
                let path = format!("{}/{}", dir.trim_end_matches('/'), e.name);
                if e.is_dir && recursive && depth < MAX_DEPTH {
                    dirs.push((path, depth + 1));
                } else if e.is_file && out.len() < MAX_FILES {
                    out.push(Object {
                        key: path,
                        size: e.size,
                        modified: e.mtime.and_then(|t| DateTime::<Utc>::from_timestamp(t, 0)),
                    });
                }
            }
        }
        Ok(out)
    }

    fn read(&mut self, key: &str, max: u64) -> Result<Vec<u8>, String> {
        self.session()?.read(key, max).map_err(|e| e.to_string())
    }

    fn settle_seconds(&self) -> i64 {
        self.settings.settle_seconds
    }
}
