//! Writing and reading the archive: a tar of regular files with their SHA-256.

use super::{io_err, BackupError, FileEntry};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

/// A reader that hashes what passes through it.
struct Hashing<R> {
    inner: R,
    digest: ring::digest::Context,
    size: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.digest.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}

/// Appends `file` as `name`, returning its manifest entry.
pub fn add_file<W: Write>(
    builder: &mut tar::Builder<W>,
    file: &Path,
    name: &str,
) -> Result<FileEntry, BackupError> {
    let f = File::open(file).map_err(io_err(name))?;
    let len = f.metadata().map_err(io_err(name))?.len();
    let mut header = tar::Header::new_gnu();
    header.set_size(len);
    header.set_mode(0o600);
    header.set_entry_type(tar::EntryType::Regular);
    let mut reader = Hashing {
        inner: f.take(len),
        digest: ring::digest::Context::new(&ring::digest::SHA256),
        size: 0,
    };
    builder
        .append_data(&mut header, name, &mut reader)
        .map_err(io_err(name))?;
    if reader.size != len {
        return Err(BackupError(format!(
            "{name} changed size while being copied"
        )));
    }
    Ok(FileEntry {
        path: name.to_string(),
        size: len,
        sha256: hex::encode(reader.digest.finish().as_ref()),
    })
}

/// Appends bytes as `name`.
pub fn add_bytes<W: Write>(
    builder: &mut tar::Builder<W>,
    name: &str,
    bytes: &[u8],
) -> Result<(), BackupError> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o600);
    header.set_entry_type(tar::EntryType::Regular);
    builder
        .append_data(&mut header, name, bytes)
        .map_err(io_err(name))
}

/// A path inside the archive that stays inside the staging directory.
fn safe_relative(name: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in name.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// Extracts every regular file into `staging`, hashing each; returns the entries.
pub fn extract(archive: &Path, staging: &Path) -> Result<Vec<FileEntry>, BackupError> {
    let file = File::open(archive).map_err(io_err("backup"))?;
    let mut tar = tar::Archive::new(file);
    let mut seen = Vec::new();
    for entry in tar.entries().map_err(io_err("backup"))? {
        let mut entry =
            entry.map_err(|e| BackupError(format!("backup is not a readable archive: {e}")))?;
        let raw = entry.path().map_err(io_err("backup entry"))?.into_owned();
        let shown = raw.display().to_string();
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(BackupError(format!(
                "backup holds an unexpected entry {shown}"
            )));
        }
        let rel = safe_relative(&raw)
            .ok_or_else(|| BackupError(format!("backup holds an unsafe path {shown}")))?;
        let target = staging.join(&rel);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir).map_err(io_err("staging"))?;
        }
        let mut out = File::create(&target).map_err(io_err("staging"))?;
        let mut reader = Hashing {
            inner: &mut entry,
            digest: ring::digest::Context::new(&ring::digest::SHA256),
            size: 0,
        };
        io::copy(&mut reader, &mut out)
            .map_err(|e| BackupError(format!("backup is damaged ({shown}): {e}")))?;
        out.sync_all().map_err(io_err("staging"))?;
        seen.push(FileEntry {
            path: rel.to_string_lossy().into_owned(),
            size: reader.size,
            sha256: hex::encode(reader.digest.finish().as_ref()),
        });
    }
    Ok(seen)
}
