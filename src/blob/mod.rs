//! The blob store: recordings and raw ingested content, one file per object under
//! `<data_dir>/blobs/<org>/<id>`, written through a temporary file and renamed, so a
//! crash never leaves half an object under its final name.
//!
//! Not yet encrypted at rest: the encryption issue wraps these files in AES-256-GCM.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

/// A blob being written: streamed to a temporary file with its SHA-256 and size.
pub struct Incoming {
    file: tempfile::NamedTempFile,
    digest: ring::digest::Context,
    size: u64,
}

impl Incoming {
    pub fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.digest.update(chunk);
        self.size += chunk.len() as u64;
        self.file.write_all(chunk)
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Where the bytes are while incoming (for decoding before they are kept).
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// The hex SHA-256 of everything written so far.
    pub fn sha256(&self) -> String {
        hex::encode(self.digest.clone().finish().as_ref())
    }
}

impl Write for Incoming {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Incoming::write(self, buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl BlobStore {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            root: data_dir.join("blobs"),
        }
    }

    fn dir(&self, org_id: &str) -> PathBuf {
        self.root.join(safe(org_id))
    }

    /// The file of a stored blob.
    pub fn path(&self, org_id: &str, id: &str) -> PathBuf {
        self.dir(org_id).join(safe(id))
    }

    /// Starts a new blob in the store's own directory (same file system as the target).
    pub fn incoming(&self) -> io::Result<Incoming> {
        let tmp = self.root.join("incoming");
        std::fs::create_dir_all(&tmp)?;
        Ok(Incoming {
            file: tempfile::NamedTempFile::new_in(tmp)?,
            digest: ring::digest::Context::new(&ring::digest::SHA256),
            size: 0,
        })
    }

    /// Keeps an incoming blob as `org_id/id` (flushed to disk first).
    pub fn keep(&self, incoming: Incoming, org_id: &str, id: &str) -> io::Result<PathBuf> {
        let dir = self.dir(org_id);
        std::fs::create_dir_all(&dir)?;
        let target = dir.join(safe(id));
        incoming.file.as_file().sync_all()?;
        incoming.file.persist(&target).map_err(|e| e.error)?;
        Ok(target)
    }

    pub fn remove(&self, org_id: &str, id: &str) -> io::Result<()> {
        match std::fs::remove_file(self.path(org_id, id)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// Ids are UUIDs; anything else is reduced to a harmless file name.
fn safe(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incoming_blobs_are_hashed_and_kept_under_their_id() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(dir.path());
        let mut blob = store.incoming().unwrap();
        blob.write(b"hello ").unwrap();
        blob.write(b"world").unwrap();
        assert_eq!(blob.size(), 11);
        assert_eq!(
            blob.sha256(),
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        let kept = store.keep(blob, "org-1", "../../etc/x").unwrap();
        assert!(kept.starts_with(dir.path().join("blobs/org-1")));
        assert_eq!(std::fs::read(kept).unwrap(), b"hello world");
    }
}
