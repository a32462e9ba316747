//! The integrations threads: one syncs each due connector (every
//! `integrations.sync_interval_seconds`, or at once when asked), the other sends the
//! due alerts.
//! A sync holds a lease on its connector. Zendesk saves the cursor after every page and
//! resumes from it after a restart; a recording store (S3, SFTP) is listed and each
//! file not yet imported is taken. Nothing already imported is fetched again.

use super::alerts;
use super::egress::Gate;
use super::open::{open, Opened};
use super::storage;
use super::zendesk::Zendesk;
use crate::audit::{self, Event};
use crate::blob::BlobStore;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::domain::time::stamp;
use crate::keys::{Keyring, OrgCipher};
use crate::pipeline::ingest;
use crate::store::integration_state as state;
use crate::store::{conversations, DbConn, Pool};
use crate::supervision::Supervisor;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Kinds that are synced on a schedule.
pub const SYNCED: &[&str] = &["zendesk", "s3", "sftp"];

pub struct Syncer {
    pub pool: Pool,
    pub keyring: Arc<Keyring>,
    pub gate: Arc<Gate>,
    pub blobs: BlobStore,
    pub clock: SharedClock,
    pub config: Arc<Config>,
    pub stop: Arc<AtomicBool>,
}

/// Starts the integrations threads: one syncs connectors, one sends alerts (so a
/// long export never holds alerts back).
pub fn start(syncer: Syncer, threads: &Arc<Supervisor>) {
    let syncer = Arc::new(syncer);
    for (name, work) in [
        ("integrations", Syncer::sync_due as fn(&Syncer) -> bool),
        ("alerts", Syncer::send_due),
    ] {
        let syncer = syncer.clone();
        threads.spawn(name, syncer.stop.clone(), move || {
            while !syncer.stop.load(Ordering::SeqCst) {
                if !work(&syncer) {
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        });
    }
}

impl Syncer {
    pub(crate) fn lease(&self) -> String {
        stamp(self.clock.now() + chrono::Duration::minutes(2))
    }

    /// Sends the alerts that are due; true when any was tried.
    pub fn send_due(&self) -> bool {
        let Ok(mut conn) = self.pool.get() else {
            return false;
        };
        let base = self.config.public_base_url();
        alerts::deliver_due(
            &mut conn,
            &self.keyring,
            &self.gate,
            &base,
            self.clock.now(),
        ) > 0
    }

    /// Runs the syncs that are due; true when any ran.
    pub fn sync_due(&self) -> bool {
        let Ok(mut conn) = self.pool.get() else {
            return false;
        };
        let now = self.clock.now();
        let every =
            chrono::Duration::seconds(self.config.integrations.sync_interval_seconds as i64);
        let due =
            state::due(&mut conn, SYNCED, &stamp(now - every), &stamp(now)).unwrap_or_default();
        let mut worked = false;
        for (org, id) in due {
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            if state::claim(&mut conn, &id, &stamp(now), &self.lease()).unwrap_or(false) {
                self.sync(&mut conn, &org, &id);
                worked = true;
            }
        }
        worked
    }

    /// Runs one connector's sync (its lease held) and records the outcome.
    pub fn sync(&self, conn: &mut DbConn, org: &str, id: &str) {
        let outcome = self.run(conn, org, id);
        let now = self.clock.now();
        if matches!(&outcome, Err(e) if e == STOPPED) {
            // Stopping: the lease is freed; the next start resumes from the cursor.
            let _ = state::release(conn, id);
            return;
        }
        let error = outcome.as_ref().err().map(String::as_str);
        if let Some(e) = error {
            tracing::warn!(integration = %id, error = %e, "integration sync failed");
        }
        let _ = state::finish(conn, id, error, &stamp(now));
        let _ = audit::append(
            conn,
            &Event::by_system(
                org,
                "integrations",
                "integration.sync",
                ("integration", id),
                if error.is_none() {
                    "success"
                } else {
                    "failure"
                },
            ),
            now,
        );
    }

    fn run(&self, conn: &mut DbConn, org: &str, id: &str) -> Result<(), String> {
        let cipher = self.keyring.for_org(conn, org).map_err(|e| e.to_string())?;
        let opened = open(conn, &cipher, id)
            .map_err(|e| e.to_string())?
            .ok_or("the integration was removed")?;
        if opened.row.kind == "zendesk" {
            return self.zendesk(conn, &cipher, &opened);
        }
        let mut store = storage::open(&self.gate, &opened)?;
        storage::import::run(self, conn, &cipher, &opened, store.as_mut())
    }

    fn zendesk(
        &self,
        conn: &mut DbConn,
        cipher: &OrgCipher,
        opened: &Opened,
    ) -> Result<(), String> {
        let org = cipher.org_id.as_str();
        let id = opened.row.id.as_str();
        let z = Zendesk::new(&self.gate, opened)?;
        let mut cursor = state::get(conn, org, id)
            .map_err(|e| e.to_string())?
            .and_then(|s| s.cursor);
        let mut skipped = Vec::new();
        for _ in 0..10_000 {
            let page = z.page(cursor.as_deref())?;
            let mut added = 0;
            for t in &page.tickets {
                if self.stop.load(Ordering::SeqCst) {
                    return Err(STOPPED.into());
                }
                let external = z.external_id(t.id);
                if conversations::has_external(conn, cipher, "zendesk", &external)
                    .map_err(|e| e.to_string())?
                {
                    continue;
                }
                let fetched = z.fetch(t)?;
                for (meta, audio) in fetched.recordings {
                    let stereo = &self.config.pipeline.stereo_speakers;
                    let now = self.clock.now();
                    ingest::accept_recording_bytes(
                        conn,
                        &self.blobs,
                        cipher,
                        meta,
                        stereo,
                        &audio,
                        now,
                    )
                    .map_err(|e| format!("ticket {}: recording: {e}", t.id))?;
                }
                if fetched.ticket.messages.is_empty() {
                    skipped.push(format!("ticket {} has no text comments", t.id));
                    continue;
                }
                match ingest::accept_ticket(
                    conn,
                    &self.blobs,
                    cipher,
                    fetched.ticket,
                    self.clock.now(),
                ) {
                    Ok(_) => added += 1,
                    Err(ingest::IngestError::Invalid(why)) => {
                        skipped.push(format!("ticket {}: {why}", t.id))
                    }
                    Err(e) => return Err(format!("ticket {}: {e}", t.id)),
                }
            }
            let next = page.after_cursor.clone().or(cursor.clone());
            state::advance(conn, id, next.as_deref(), added, &self.lease())
                .map_err(|e| e.to_string())?;
            cursor = next;
            if page.end_of_stream || page.tickets.is_empty() {
                break;
            }
            if self.stop.load(Ordering::SeqCst) {
                return Err(STOPPED.into());
            }
        }
        match skipped.len() {
            0 => Ok(()),
            n => Err(format!("{n} ticket(s) skipped, e.g. {}", skipped[0])),
        }
    }
}

/// The outcome of a sync cut short by a shutdown.
pub(crate) const STOPPED: &str = "stopped";
