//! The schedules: the retention purge every `retention.purge_interval_minutes`, and
//! the data-subject exports waiting in the queue (each a job with progress and a
//! lease, taken over by another node when this one dies).

use super::retention::Purge;
use crate::audit::{self, Event};
use crate::blob::BlobStore;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::domain::time::stamp;
use crate::keys::Keyring;
use crate::privacy::export::subject_archive;
use crate::store::{subjects, DbConn, Pool};
use crate::supervision::Supervisor;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Starts the schedule thread.
pub fn start(
    pool: Pool,
    config: Arc<Config>,
    clock: SharedClock,
    keyring: Arc<Keyring>,
    (threads, stop): (&Arc<Supervisor>, Arc<AtomicBool>),
) {
    let stopping = stop.clone();
    threads.spawn("schedules", stop, move || {
        let stop = &stopping;
        let blobs = BlobStore::new(&config.data_dir);
        let every = Duration::from_secs(config.retention.purge_interval_minutes * 60);
        let mut last_purge = Instant::now();
        while !stop.load(Ordering::SeqCst) {
            let Ok(mut conn) = pool.get() else {
                std::thread::sleep(Duration::from_secs(2));
                continue;
            };
            if last_purge.elapsed() >= every {
                last_purge = Instant::now();
                let purge = Purge {
                    keyring: &keyring,
                    blobs: &blobs,
                    now: clock.now(),
                    batch: config.retention.purge_batch,
                    trigger: "schedule".into(),
                };
                if let Err(e) = purge.all(&mut conn) {
                    tracing::error!(error = %e, "retention purge failed");
                }
            }
            if !run_one_export(&mut conn, &keyring, &blobs, &clock) {
                drop(conn);
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    });
}

/// Takes and runs one waiting export; false when none waited.
pub fn run_one_export(
    conn: &mut DbConn,
    keyring: &Keyring,
    blobs: &BlobStore,
    clock: &SharedClock,
) -> bool {
    let lease = |c: &SharedClock| stamp(c.now() + chrono::Duration::minutes(5));
    let req = match subjects::claim_export(conn, &stamp(clock.now()), &lease(clock)) {
        Ok(Some(r)) => r,
        Ok(None) => return false,
        Err(e) => {
            tracing::warn!(error = %e, "cannot look for exports");
            return false;
        }
    };
    tracing::info!(request = %req.id, "building a data-subject export");
    let built = subject_archive(conn, keyring, blobs, &req, |conn, pct| {
        let _ = subjects::progress(conn, &req.id, pct, &lease(clock));
    });
    let (state, result) = match built {
        Ok(summary) => ("done", summary),
        Err(e) => {
            tracing::error!(request = %req.id, error = %e, "export failed");
            ("failed", serde_json::json!({"error": e.to_string()}))
        }
    };
    let sealed = keyring
        .for_org(conn, &req.org_id)
        .and_then(|c| c.seal("subject_requests", "result", &req.id, &result.to_string()));
    let now = clock.now();
    match sealed {
        Ok(s) => {
            let _ = subjects::finish_request(conn, &req.org_id, &req.id, state, &s, &stamp(now));
        }
        Err(e) => tracing::error!(request = %req.id, error = %e, "cannot record the export"),
    }
    let _ = audit::append(
        conn,
        &Event::by_system(
            &req.org_id,
            "exports",
            &format!("subject_request.{}", req.kind),
            ("subject_request", &req.id),
            if state == "done" {
                "success"
            } else {
                "failure"
            },
        ),
        now,
    );
    true
}
