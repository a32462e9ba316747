//! Recording storage: S3-compatible object storage and SFTP folders, read through the
//! egress gate. Each sync lists the store, takes every recording not yet imported
//! (with its `NAME.json` sidecar and the file name's metadata), and queues it once.
//! The stores are only read: nothing is written, moved or deleted there.

pub mod import;
pub mod mapping;
pub mod s3;
pub mod settings;
pub mod sftp;
pub mod sigv4;

use super::egress::Gate;
use super::open::Opened;
use chrono::{DateTime, Utc};

/// One object or file of a store.
#[derive(Debug, Clone)]
pub struct Object {
    /// The S3 key, or the SFTP path.
    pub key: String,
    pub size: u64,
    pub modified: Option<DateTime<Utc>>,
}

impl Object {
    /// The last part of the key (what a filename pattern is matched against).
    pub fn file_name(&self) -> &str {
        self.key.rsplit('/').next().unwrap_or(&self.key)
    }
}

/// A store a connector reads.
pub trait Store {
    /// Where a key lives, as people read it: `s3://bucket/key`, `sftp://host/path`.
    fn locate(&self, key: &str) -> String;
    /// Every object under the configured prefix or folder.
    fn list(&mut self) -> Result<Vec<Object>, String>;
    /// An object's bytes, refused past `max`.
    fn read(&mut self, key: &str, max: u64) -> Result<Vec<u8>, String>;
    /// Files still being written are left for a later sync (SFTP: not changed for
    /// `settings.settle_seconds`).
    fn settle_seconds(&self) -> i64 {
        0
    }
}

/// Opens the store of an `s3` or `sftp` integration.
pub fn open<'g>(gate: &'g Gate, target: &'g Opened) -> Result<Box<dyn Store + 'g>, String> {
    match target.row.kind.as_str() {
        "s3" => Ok(Box::new(s3::Bucket::new(gate, target)?)),
        "sftp" => Ok(Box::new(sftp::Folder::new(gate, target)?)),
        other => Err(format!("{other} is not a recording store")),
    }
}

/// "Test connection": the store is listed for real.
pub fn test(gate: &Gate, target: &Opened) -> Result<String, String> {
    match target.row.kind.as_str() {
        "s3" => s3::Bucket::new(gate, target)?.test(),
        _ => sftp::Folder::new(gate, target)?.test(),
    }
}
