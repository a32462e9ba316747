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
use std::collections::HashMap;
use std::io::Read;
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
    stop: Arc<AtomicBool>,
) {
    let Some(dir) = config
        .pipeline
        .watch_dir
        .clone()
        .filter(|d| !d.as_os_str().is_empty())
    else {
        return;
    };
    let spawned = std::thread::Builder::new()
        .name("watch-folder".into())
        .spawn(move || {
            let ctx = Ctx {
                pool,
                config: config.clone(),
                clock,
                keyring,
            };
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
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the folder watcher");
    }
}

fn is_sidecar_or_reason(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.ends_with(".json") || name.ends_with(".reason.txt") || name.starts_with('.')
}

fn sweep(dir: &Path, ctx: &Ctx, seen: &mut HashMap<PathBuf, u64>) -> std::io::Result<()> {
    let mut present = HashMap::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if !path.is_file() || is_sidecar_or_reason(&path) {
            continue;
        }
        let size = std::fs::metadata(&path)?.len();
        present.insert(path.clone(), size);
        if seen.get(&path) != Some(&size) {
            continue; // new or still being written: look again next time
        }
        let outcome = take(&path, ctx);
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
    if sidecar.exists() {
        std::fs::rename(&sidecar, to.join(sidecar.file_name().unwrap_or_default()))?;
    }
    if let Some(reason) = reason {
        let mut file_name = name.to_os_string();
        file_name.push(".reason.txt");
        std::fs::write(to.join(file_name), format!("{reason}\n"))?;
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
    let meta: CallMeta = match std::fs::read(sidecar_of(path)) {
        Ok(bytes) => CallMeta::from_sidecar(&bytes)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => CallMeta {
            source: Some("folder".into()),
            ..Default::default()
        },
        Err(e) => return Err(format!("metadata sidecar unreadable: {e}")),
    };
    let size = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
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
    let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
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
    decode::probe_input(input).map_err(|e| e.reason())?;
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
