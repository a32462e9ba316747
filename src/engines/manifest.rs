//! The approved-model manifest (compiled into the binary) and verification of model
//! files against it: listed, complete, unaltered, right format.

use serde::Deserialize;
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// `models/manifest`, as approved at build time; editing the file on a server changes nothing.
const MANIFEST: &str = include_str!("../../models/manifest");

/// What a model is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    Whisper,
    Llm,
}

/// One approved model.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct ModelEntry {
    pub name: String,
    pub kind: ModelKind,
    pub file: String,
    pub size: u64,
    pub sha256: String,
    pub licence: String,
    pub sets: Vec<String>,
}

#[derive(Deserialize)]
struct ManifestFile {
    model: Vec<ModelEntry>,
}

/// Why a model file is refused; always names the file.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum ModelError {
    #[error("model '{0}' is not listed in the approved models manifest")]
    UnknownName(String),
    #[error("{path}: not an approved model (no manifest entry has this file name)")]
    Unlisted { path: PathBuf },
    #[error("{path}: missing (run `make models` or `insite models verify`)")]
    Missing { path: PathBuf },
    #[error("{path}: truncated or padded: {actual} bytes, the manifest says {expected}")]
    WrongSize {
        path: PathBuf,
        expected: u64,
        actual: u64,
    },
    #[error("{path}: altered: sha256 {actual} does not match the manifest's {expected}")]
    Altered {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("{path}: wrong format: expected a {expected} file")]
    WrongFormat {
        path: PathBuf,
        expected: &'static str,
    },
    #[error("{path}: cannot read: {message}")]
    Io { path: PathBuf, message: String },
}

/// A model file that passed verification.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VerifiedModel {
    pub entry: ModelEntry,
    pub path: PathBuf,
}

/// All approved models.
pub fn entries() -> Vec<ModelEntry> {
    toml::from_str::<ManifestFile>(MANIFEST)
        .map(|m| m.model)
        .unwrap_or_default()
}

/// The entry named `name`.
pub fn entry(name: &str) -> Result<ModelEntry, ModelError> {
    entries()
        .into_iter()
        .find(|e| e.name == name)
        .ok_or_else(|| ModelError::UnknownName(name.to_string()))
}

/// Verifies the model called `name` inside `dir`.
pub fn verify_named(dir: &Path, name: &str) -> Result<VerifiedModel, ModelError> {
    let entry = entry(name)?;
    let path = dir.join(&entry.file);
    verify_entry(entry, &path)
}

/// Verifies an arbitrary file path: it must be a listed model's file.
pub fn verify_path(path: &Path) -> Result<VerifiedModel, ModelError> {
    let file_name = path
        .file_name()
        .and_then(|f| f.to_str())
        .unwrap_or_default();
    let entry = entries()
        .into_iter()
        .find(|e| e.file == file_name)
        .ok_or_else(|| ModelError::Unlisted {
            path: path.to_path_buf(),
        })?;
    verify_entry(entry, path)
}

/// Hashing a 1 GB model takes seconds; results are cached per (path, size, mtime).
static VERIFIED: Mutex<Option<DigestCache>> = Mutex::new(None);

/// (path, size, mtime in ns) -> verified sha256.
type DigestCache = HashMap<(PathBuf, u64, i128), String>;

fn verify_entry(entry: ModelEntry, path: &Path) -> Result<VerifiedModel, ModelError> {
    let io = |e: std::io::Error| ModelError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ModelError::Missing {
                path: path.to_path_buf(),
            })
        }
        Err(e) => return Err(io(e)),
    };
    if meta.len() != entry.size {
        return Err(ModelError::WrongSize {
            path: path.to_path_buf(),
            expected: entry.size,
            actual: meta.len(),
        });
    }
    check_magic(path, entry.kind)?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i128);
    let key = (path.to_path_buf(), meta.len(), mtime);
    let cached = VERIFIED
        .lock()
        .ok()
        .and_then(|c| c.as_ref().and_then(|m| m.get(&key).cloned()));
    let actual = match cached {
        Some(digest) => digest,
        None => sha256_file(path).map_err(io)?,
    };
    if actual != entry.sha256 {
        return Err(ModelError::Altered {
            path: path.to_path_buf(),
            expected: entry.sha256.clone(),
            actual,
        });
    }
    if let Ok(mut cache) = VERIFIED.lock() {
        cache.get_or_insert_with(HashMap::new).insert(key, actual);
    }
    Ok(VerifiedModel {
        entry,
        path: path.to_path_buf(),
    })
}

fn check_magic(path: &Path, kind: ModelKind) -> Result<(), ModelError> {
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .map_err(|e| ModelError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    let (ok, expected) = match kind {
        ModelKind::Whisper => (u32::from_le_bytes(magic) == 0x6767_6d6c, "whisper.cpp ggml"),
        ModelKind::Llm => (&magic == b"GGUF", "GGUF"),
    };
    if ok {
        Ok(())
    } else {
        Err(ModelError::WrongFormat {
            path: path.to_path_buf(),
            expected,
        })
    }
}

/// Streaming SHA-256 of a file, lowercase hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
    }
    Ok(hex::encode(ctx.finish().as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_manifest_parses_and_names_are_unique() {
        let all = entries();
        assert!(all.len() >= 4);
        let mut names: Vec<_> = all.iter().map(|e| e.name.clone()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all.len());
        assert!(
            all.iter().all(|e| e.sha256.len() == 64),
            "every model has a sha256"
        );
    }
}
