//! The watched folder: recordings dropped into `pipeline.watch_dir` (with an optional
//! `NAME.json` metadata sidecar) are ingested once, then moved to `done/` or to
//! `failed/` with the reason in `NAME.reason.txt` beside them.

use super::decode;
use super::ingest::{self, CallMeta};
use crate::audit::{self, Event};
use crate::blob::BlobStore;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::keys::Keyring;
use crate::store::{identity, Pool};
use crate::supervision::Supervisor;
use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Starts the watcher thread when a folder is configured.
/// What ingesting from the folder needs.
struct Ctx {
    pool: Pool,
    config: Arc<Config>,
    clock: SharedClock,
    keyring: Arc<Keyring>,
}

pub fn start(
    pool: Pool,
    config: Arc<Config>,
    clock: SharedClock,
    keyring: Arc<Keyring>,
    (threads, stop): (&Arc<Supervisor>, Arc<AtomicBool>),
) {
    let Some(dir) = config
        .pipeline
        .watch_dir
        .clone()
        .filter(|d| !d.as_os_str().is_empty())
    else {
        return;
    };
    let ctx = Ctx {
        pool,
        config: config.clone(),
        clock,
        keyring,
    };
    let stopping = stop.clone();
    threads.spawn("watch-folder", stop, move || {
        let stop = &stopping;
        tracing::info!(dir = %dir.display(), org = %config.pipeline.watch_org, "watching a folder for recordings");
        // Sizes seen last time: a file is taken once its size stopped changing.
        let mut seen: HashMap<PathBuf, u64> = HashMap::new();
        while !stop.load(Ordering::SeqCst) {
            if let Err(e) = sweep(&dir, &ctx, &mut seen) {
                tracing::warn!(dir = %dir.display(), error = %e, "watched folder not readable");
            }
            for _ in 0..config.pipeline.watch_poll_seconds * 4 {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(250));
            }
        }
    });
}

/// Largest metadata sidecar read (a sidecar holds a few fields, not a file).
pub const MAX_SIDECAR_BYTES: u64 = 64 * 1024;

/// Opens a regular file for reading without following a symbolic link at its name (a
/// link dropped in the folder must not make the server read files it can reach).
fn open_no_follow(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
}

/// The sidecar's bytes, bounded; `None` when there is none.
fn read_sidecar(path: &Path) -> Result<Option<Vec<u8>>, String> {
    let file = match open_no_follow(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err("the metadata sidecar is a symbolic link; links are not followed".into())
        }
        Err(e) => return Err(format!("metadata sidecar unreadable: {e}")),
    };
    let mut bytes = Vec::new();
    file.take(MAX_SIDECAR_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("metadata sidecar unreadable: {e}"))?;
    if bytes.len() as u64 > MAX_SIDECAR_BYTES {
        return Err(format!(
            "the metadata sidecar is larger than {MAX_SIDECAR_BYTES} bytes"
        ));
    }
    Ok(Some(bytes))
}

fn is_sidecar_or_reason(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.ends_with(".json") || name.ends_with(".reason.txt") || name.starts_with('.')
}

fn sweep(dir: &Path, ctx: &Ctx, seen: &mut HashMap<PathBuf, u64>) -> std::io::Result<()> {
    let mut present = HashMap::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if is_sidecar_or_reason(&path) {
            continue;
        }
        // The entry itself, not what a link points to.
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            let reason = "a symbolic link; links are not followed (drop the file itself)";
            tracing::warn!(file = %path.display(), reason, "watched file refused");
            settle(dir, &path, "failed", Some(reason))?;
            continue;
        }
        if !kind.is_file() {
            continue;
        }
        let size = entry.metadata()?.len();
        present.insert(path.clone(), size);
        if seen.get(&path) != Some(&size) {
            continue; // new or still being written: look again next time
        }
        // Whatever a file does to the code that reads it, the thread goes on to the next.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| take(&path, ctx)))
            .unwrap_or_else(|_| Err("the file could not be read (internal error, logged)".into()));
        let (target, reason) = match outcome {
            Ok(id) => {
                tracing::info!(file = %path.display(), conversation = %id, "ingested from the watched folder");
                ("done", None)
            }
            Err(reason) => {
                tracing::warn!(file = %path.display(), %reason, "watched file refused");
                ("failed", Some(reason))
            }
        };
        settle(dir, &path, target, reason.as_deref())?;
        present.remove(&path);
    }
    *seen = present;
    Ok(())
}

/// Moves a file (and its sidecar) into `done/` or `failed/`, writing the reason.
fn settle(dir: &Path, path: &Path, target: &str, reason: Option<&str>) -> std::io::Result<()> {
    let to = dir.join(target);
    std::fs::create_dir_all(&to)?;
    let name = path.file_name().unwrap_or_default();
    std::fs::rename(path, to.join(name))?;
    let sidecar = sidecar_of(path);
    if std::fs::symlink_metadata(&sidecar).is_ok() {
        std::fs::rename(&sidecar, to.join(sidecar.file_name().unwrap_or_default()))?;
    }
    if let Some(reason) = reason {
        let mut file_name = name.to_os_string();
        file_name.push(".reason.txt");
        // A new file, never written through a link someone left at that name.
        let at = to.join(file_name);
        match std::fs::remove_file(&at) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&at)?;
        std::io::Write::write_all(&mut out, format!("{reason}\n").as_bytes())?;
    }
    Ok(())
}

/// `call.wav` -> `call.json` (beside it).
fn sidecar_of(path: &Path) -> PathBuf {
    path.with_extension("json")
}

/// Ingests one file; the conversation id, or the reason it was refused.
fn take(path: &Path, ctx: &Ctx) -> Result<String, String> {
    let config = &ctx.config;
    let meta: CallMeta = match read_sidecar(&sidecar_of(path))? {
        Some(bytes) => CallMeta::from_sidecar(&bytes)?,
        None => CallMeta {
            source: Some("folder".into()),
            ..Default::default()
        },
    };
    // Opened once, without following links: what is checked is what is read.
    let mut file = open_no_follow(path).map_err(|e| match e.raw_os_error() {
        Some(libc::ELOOP) => "a symbolic link; links are not followed".to_string(),
        _ => e.to_string(),
    })?;
    let size = file.metadata().map_err(|e| e.to_string())?.len();
    if size > config.pipeline.max_upload_bytes {
        return Err(format!(
            "the file is {size} bytes; the limit (pipeline.max_upload_bytes) is {}",
            config.pipeline.max_upload_bytes
        ));
    }
    let mut conn = ctx.pool.get().map_err(|e| format!("database: {e}"))?;
    let org = identity::org_by_name(&mut conn, &config.pipeline.watch_org)
        .map_err(|e| format!("database: {e}"))?
        .ok_or_else(|| {
            format!(
                "no organization named '{}' (pipeline.watch_org)",
                config.pipeline.watch_org
            )
        })?;
    let cipher = ctx
        .keyring
        .for_org(&mut conn, &org.id)
        .map_err(|e| e.to_string())?;
    let blobs = BlobStore::new(&config.data_dir);
    let id = identity::new_id();
    let mut blob = blobs
        .incoming(&cipher, &id)
        .map_err(|e| format!("blob store: {e}"))?;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        blob.write(&buf[..n])
            .map_err(|e| format!("blob store: {e}"))?;
    }
    let blob = blob.finish().map_err(|e| format!("blob store: {e}"))?;
    let reader = blob.open(&cipher).map_err(|e| format!("blob store: {e}"))?;
    let input =
        decode::Input::blob(reader, "file").max_seconds(config.pipeline.max_duration_seconds);
    super::decoder::Decoder::from_config(config)
        .probe(input)
        .map_err(|e| e.reason())?;
    let now = ctx.clock.now();
    let accepted = ingest::accept_recording(
        &mut conn,
        &blobs,
        &cipher,
        meta,
        &config.pipeline.stereo_speakers,
        blob,
        now,
    )
    .map_err(|e| e.to_string())?;
    let event = Event {
        chain: org.id.clone(),
        actor: "folder:watch_dir".into(),
        action: "conversation.create".into(),
        object_type: "conversation".into(),
        object_id: accepted.conversation_id.clone(),
        outcome: "success".into(),
        ..Default::default()
    };
    audit::append(&mut conn, &event, now).map_err(|e| format!("audit: {e}"))?;
    Ok(accepted.conversation_id)
}
