//! The blob store: recordings and raw ingested content, one file per object under
//! `<data_dir>/blobs/<org>/<id>`, encrypted in 64 KiB AES-256-GCM chunks under the
//! org's data key (`crypto::stream`), so nothing in the directory is readable without
//! the master key and large objects stream in and out without loading into memory.
//!
//! Objects are written through a temporary file (already encrypted) and renamed, so a
//! crash never leaves half an object under its final name, nor a plaintext copy.

use crate::crypto::stream::{OpenReader, SealWriter};
use crate::keys::OrgCipher;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

/// A blob being written: encrypted into a temporary file, with the SHA-256 and size
/// of its plaintext.
pub struct Incoming {
    writer: SealWriter<tempfile::NamedTempFile>,
    digest: ring::digest::Context,
    size: u64,
    blob_id: String,
}

impl Incoming {
    pub fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.digest.update(chunk);
        self.size += chunk.len() as u64;
        self.writer.write_all(chunk)
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The id the blob will be kept under (its chunks are bound to it).
    pub fn blob_id(&self) -> &str {
        &self.blob_id
    }

    /// Seals the last chunk; the result can be read back and kept.
    pub fn finish(self) -> io::Result<Staged> {
        let sha256 = hex::encode(self.digest.finish().as_ref());
        let file = self.writer.finish()?;
        file.as_file().sync_all()?;
        Ok(Staged {
            file,
            sha256,
            size: self.size,
            blob_id: self.blob_id,
        })
    }
}

impl Write for Incoming {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Incoming::write(self, buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

/// A whole blob, encrypted, not yet kept under its id.
pub struct Staged {
    file: tempfile::NamedTempFile,
    sha256: String,
    size: u64,
    blob_id: String,
}

impl Staged {
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Hex SHA-256 of the plaintext.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    pub fn blob_id(&self) -> &str {
        &self.blob_id
    }

    /// Reads the staged plaintext back (e.g. to probe an upload before accepting it).
    pub fn open(&self, cipher: &OrgCipher) -> io::Result<OpenReader<File>> {
        open_sealed(self.file.reopen()?, cipher, &self.blob_id)
    }
}

fn open_sealed(file: File, cipher: &OrgCipher, blob_id: &str) -> io::Result<OpenReader<File>> {
    OpenReader::new(file, |v| cipher.data_key(v), cipher.blob_context(blob_id))
}

impl BlobStore {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            root: data_dir.join("blobs"),
        }
    }

    /// The directory of all blobs (for backups).
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn dir(&self, org_id: &str) -> PathBuf {
        self.root.join(safe(org_id))
    }

    /// The file of a stored blob (ciphertext).
    pub fn path(&self, org_id: &str, id: &str) -> PathBuf {
        self.dir(org_id).join(safe(id))
    }

    /// Starts a new blob of `cipher`'s org, to be kept as `blob_id`, in the store's own
    /// directory (same file system as the target).
    pub fn incoming(&self, cipher: &OrgCipher, blob_id: &str) -> io::Result<Incoming> {
        let tmp = self.root.join("incoming");
        std::fs::create_dir_all(&tmp)?;
        let key = cipher
            .data_key(cipher.active_version())
            .ok_or_else(|| io::Error::other("the org has no active data key"))?;
        let writer = SealWriter::new(
            tempfile::NamedTempFile::new_in(tmp)?,
            key,
            cipher.active_version(),
            cipher.blob_context(blob_id),
        )?;
        Ok(Incoming {
            writer,
            digest: ring::digest::Context::new(&ring::digest::SHA256),
            size: 0,
            blob_id: blob_id.to_string(),
        })
    }

    /// Keeps a staged blob under its id in `org_id` (replacing any earlier version).
    pub fn keep(&self, staged: Staged, org_id: &str) -> io::Result<PathBuf> {
        let dir = self.dir(org_id);
        std::fs::create_dir_all(&dir)?;
        let target = dir.join(safe(&staged.blob_id));
        staged.file.persist(&target).map_err(|e| e.error)?;
        Ok(target)
    }

    /// Opens a stored blob for reading (plaintext, seekable).
    pub fn open(&self, cipher: &OrgCipher, id: &str) -> io::Result<OpenReader<File>> {
        open_sealed(File::open(self.path(&cipher.org_id, id))?, cipher, id)
    }

    /// A small stored blob, whole (tickets; never recordings).
    pub fn read_all(&self, cipher: &OrgCipher, id: &str) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.open(cipher, id)?.read_to_end(&mut out)?;
        Ok(out)
    }

    /// Re-encrypts a staged blob under `now`'s active key when `was` sealed it under
    /// another version (a key rotation began while it streamed in).
    pub fn restage(&self, staged: Staged, was: &OrgCipher, now: &OrgCipher) -> io::Result<Staged> {
        if was.active_version() == now.active_version() {
            return Ok(staged);
        }
        self.sealed_copy(staged.open(was)?, now, &staged.blob_id)
    }

    /// Writes a plaintext stream as a new staged blob of `cipher`'s org.
    fn sealed_copy(
        &self,
        mut from: impl io::Read,
        cipher: &OrgCipher,
        id: &str,
    ) -> io::Result<Staged> {
        let mut incoming = self.incoming(cipher, id)?;
        io::copy(&mut from, &mut incoming)?;
        incoming.finish()
    }

    /// Re-encrypts a stored blob under the org's active key (key rotation); returns
    /// false when it already was.
    pub fn reseal(&self, cipher: &OrgCipher, id: &str) -> io::Result<bool> {
        let reader = self.open(cipher, id)?;
        if reader.version() == cipher.active_version() {
            return Ok(false);
        }
        let staged = self.sealed_copy(reader, cipher, id)?;
        self.keep(staged, &cipher.org_id)?;
        Ok(true)
    }

    pub fn remove(&self, org_id: &str, id: &str) -> io::Result<()> {
        match std::fs::remove_file(self.path(org_id, id)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Ids of the blobs of one org.
    pub fn list(&self, org_id: &str) -> io::Result<Vec<String>> {
        match std::fs::read_dir(self.dir(org_id)) {
            Ok(entries) => Ok(entries
                .filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| !n.starts_with('.'))
                .collect()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }
}

/// Ids are UUIDs; anything else is reduced to a harmless file name.
fn safe(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect()
}
