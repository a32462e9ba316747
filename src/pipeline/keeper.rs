//! Keeps a running job's lease alive on its own clock, so a stretch without progress
//! reports (a Whisper worker loading its model, a long window inside the engine) does
//! not let the lease run out and another thread or node take the job over.

use crate::clock::SharedClock;
use crate::domain::time::stamp;
use crate::store::{jobs, Pool};
use chrono::Duration;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Renews one job's lease until dropped; `lost` turns true when the job is no longer
/// this owner's (cancelled, or taken over).
pub struct Keeper {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// What the keeper needs to renew a lease.
pub struct LeaseOf {
    pub pool: Pool,
    pub clock: SharedClock,
    pub job_id: String,
    pub owner: String,
    pub lease_seconds: i64,
}

impl Keeper {
    pub fn start(lease: LeaseOf, lost: Arc<AtomicBool>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::Builder::new()
            .name("lease-keeper".into())
            .spawn(move || keep(lease, &stopping, &lost))
            .map_err(|e| tracing::warn!(error = %e, "cannot start the lease keeper"))
            .ok();
        Self { stop, thread }
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn keep(lease: LeaseOf, stop: &AtomicBool, lost: &AtomicBool) {
    // A third of the lease, so two renewals may fail before it runs out.
    let every = std::time::Duration::from_millis((lease.lease_seconds.max(1) as u64) * 1000 / 3);
    let mut last = std::time::Instant::now();
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(std::time::Duration::from_millis(100));
        if last.elapsed() < every {
            continue;
        }
        last = std::time::Instant::now();
        let until = stamp(lease.clock.now() + Duration::seconds(lease.lease_seconds));
        let renewed = lease
            .pool
            .get()
            .map_err(|e| e.to_string())
            .and_then(|mut c| {
                jobs::renew(&mut c, &lease.job_id, &lease.owner, &until).map_err(|e| e.to_string())
            });
        match renewed {
            Ok(0) => {
                tracing::warn!(job = %lease.job_id, "job lease lost or job cancelled");
                lost.store(true, Ordering::SeqCst);
                return;
            }
            Ok(_) => {}
            // A database hiccup: the next renewal may pass; the lease is long enough.
            Err(e) => {
                tracing::warn!(job = %lease.job_id, error = %e, "could not renew the job's lease")
            }
        }
    }
}
