//! The master key: 256 bits in a file only the service can read (or a systemd
//! credential). It wraps the org keys and never enters the database.
//!
//! A master rotation writes the new key beside the old one as `<file>.next`, re-wraps
//! every org key, then renames `.next` over the file: a crash at any point leaves both
//! files, and the next start or rotation finishes the job.

use crate::crypto::aead;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Name of the systemd credential that may carry the master key.
pub const CREDENTIAL: &str = "insite-master-key";

/// Why the master key cannot be used; each is one line for the operator.
#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    #[error("master key {path} is missing, but this installation already holds data encrypted under master key {expected}; restore the key file (mode 0600) from where you keep it; refusing to start (nothing was changed)")]
    Missing { path: String, expected: String },
    #[error("master key {path} has mode {mode:o}; it must be readable by the service only (chmod 600 {path}); refusing to start")]
    Permissions { path: String, mode: u32 },
    #[error("master key {path} is not usable: {reason}; refusing to start")]
    Invalid { path: String, reason: String },
    #[error("master key {path} (id {actual}) is not the key this installation's data is encrypted under (id {expected}); refusing to start (nothing was changed)")]
    Mismatch {
        path: String,
        actual: String,
        expected: String,
    },
    #[error("cannot create master key {path}: {reason}")]
    Create { path: String, reason: String },
}

/// One master key and its public id (a fingerprint; safe to print and store).
pub struct MasterKey {
    pub id: String,
    bytes: Zeroizing<[u8; 32]>,
}

impl MasterKey {
    fn from_bytes(bytes: Zeroizing<[u8; 32]>) -> Self {
        let mut input = b"insite-master-key-id:".to_vec();
        input.extend_from_slice(bytes.as_ref());
        let digest = ring::digest::digest(&ring::digest::SHA256, &input);
        Self {
            id: hex::encode(&digest.as_ref()[..8]),
            bytes,
        }
    }

    pub fn aead(&self) -> ring::aead::LessSafeKey {
        aead::key(&self.bytes)
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({})", self.id)
    }
}

/// Where the master key comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A file the service owns (rotatable).
    File(PathBuf),
    /// A systemd credential (read-only here; rotate by replacing the credential).
    Credential(PathBuf),
}

impl Source {
    /// The credential when systemd passed one, else the configured file.
    pub fn locate(file: &Path) -> Source {
        if let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY") {
            let path = Path::new(&dir).join(CREDENTIAL);
            if path.exists() {
                return Source::Credential(path);
            }
        }
        Source::File(file.to_path_buf())
    }

    pub fn path(&self) -> &Path {
        match self {
            Source::File(p) | Source::Credential(p) => p,
        }
    }

    /// The pending next key of an interrupted rotation.
    pub fn next_path(&self) -> PathBuf {
        let mut name = self.path().as_os_str().to_owned();
        name.push(".next");
        PathBuf::from(name)
    }
}

fn shown(path: &Path) -> String {
    path.display().to_string()
}

/// Reads a key file: 64 hex digits (surrounding white space allowed), mode 0600 or
/// stricter for files the service owns.
pub fn read(path: &Path, check_mode: bool) -> Result<MasterKey, MasterError> {
    let invalid = |reason: String| MasterError::Invalid {
        path: shown(path),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| invalid(e.to_string()))?;
    let mode = meta.permissions().mode() & 0o777;
    if check_mode && mode & 0o077 != 0 {
        return Err(MasterError::Permissions {
            path: shown(path),
            mode,
        });
    }
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| invalid(e.to_string()))?);
    let mut bytes = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text.trim(), bytes.as_mut())
        .map_err(|_| invalid("it must hold exactly 64 hex digits (256 bits)".into()))?;
    Ok(MasterKey::from_bytes(bytes))
}

/// Writes a new random key to `path` (mode 0600, never over an existing file).
pub fn create(path: &Path) -> Result<MasterKey, MasterError> {
    let fail = |reason: String| MasterError::Create {
        path: shown(path),
        reason,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    let bytes = aead::random_key_bytes().map_err(fail)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| fail(e.to_string()))?;
    let text = Zeroizing::new(format!("{}\n", hex::encode(bytes.as_ref())));
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| fail(e.to_string()))?;
    Ok(MasterKey::from_bytes(bytes))
}

/// The keys in force: the current one, and the next one while a rotation is pending.
#[derive(Debug)]
pub struct Masters {
    pub source: Source,
    pub current: MasterKey,
    pub next: Option<MasterKey>,
}

/// Loads the master key(s). `in_use` are the master ids the database's keys are
/// wrapped under: with none, a missing file is created; with some, a missing or
/// different key refuses (and nothing is written).
pub fn load(source: Source, in_use: &[String]) -> Result<Masters, MasterError> {
    let path = source.path().to_path_buf();
    let check_mode = matches!(source, Source::File(_));
    let next_path = source.next_path();
    let next = if check_mode && next_path.exists() {
        Some(read(&next_path, true)?)
    } else {
        None
    };
    let current = if path.exists() {
        read(&path, check_mode)?
    } else if in_use.is_empty() && next.is_none() && check_mode {
        create(&path)?
    } else {
        return Err(MasterError::Missing {
            path: shown(&path),
            expected: in_use.first().cloned().unwrap_or_default(),
        });
    };
    let known = |id: &String| current.id == *id || next.as_ref().is_some_and(|n| n.id == *id);
    if let Some(unknown) = in_use.iter().find(|id| !known(id)) {
        return Err(MasterError::Mismatch {
            path: shown(&path),
            actual: current.id.clone(),
            expected: unknown.clone(),
        });
    }
    Ok(Masters {
        source,
        current,
        next,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_with_mode_0600_and_refused_when_wider_or_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/master.key");
        let m = load(Source::File(path.clone()), &[]).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let again = load(
            Source::File(path.clone()),
            std::slice::from_ref(&m.current.id),
        )
        .unwrap();
        assert_eq!(again.current.id, m.current.id);

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load(Source::File(path.clone()), &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("mode 644") && err.contains("chmod 600"),
            "{err}"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();

        let err = load(Source::File(path.clone()), &["0011223344556677".into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("is not the key"), "{err}");

        let original = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let err = load(
            Source::File(path.clone()),
            std::slice::from_ref(&m.current.id),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("is missing") && err.contains(&m.current.id),
            "{err}"
        );
        assert!(
            !path.exists(),
            "a missing key is never replaced by a new one"
        );
        std::fs::write(&path, &original).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();

        std::fs::write(&path, "not hex").unwrap();
        let err = load(Source::File(path), &[]).unwrap_err().to_string();
        assert!(err.contains("64 hex digits"), "{err}");
    }
}
