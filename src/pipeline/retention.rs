//! The purge: each org's data of every class past its retention period is deleted in
//! batches, except what a legal hold covers; each run is recorded with its counts
//! and audited. What dashboards average (scores, sentiment) and count (conversations,
//! tracker hits) outlives the content it was computed from.

use crate::audit::{self, Event};
use crate::blob::BlobStore;
use crate::domain::retention::{Class, Policy, ARCHIVE_DAYS};
use crate::domain::time::stamp;
use crate::keys::{KeyError, Keyring, OrgCipher};
use crate::store::identity::{self, new_id, Org};
use crate::store::retention::{self as store, Held, Mark};
use crate::store::{analyses, conversations, subjects, DbConn};
use chrono::{DateTime, Utc};
use diesel::Connection;
use std::collections::BTreeMap;

/// Why a purge stopped.
#[derive(Debug, thiserror::Error)]
pub enum PurgeError {
    #[error("storage: {0}")]
    Storage(#[from] diesel::result::Error),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error("blob store: {0}")]
    Blob(#[from] std::io::Error),
}

/// What one run deleted, by name (`recordings`, `segments`, …).
pub type Counts = BTreeMap<&'static str, u64>;

/// Everything a purge needs; `now` is injected (tests move it).
pub struct Purge<'a> {
    pub keyring: &'a Keyring,
    pub blobs: &'a BlobStore,
    pub now: DateTime<Utc>,
    pub batch: i64,
    /// `schedule` or the user who asked.
    pub trigger: String,
}

impl Purge<'_> {
    /// Purges every org; an org that fails is logged and the others go on.
    pub fn all(&self, conn: &mut DbConn) -> Result<Vec<(String, Counts)>, PurgeError> {
        let mut out = Vec::new();
        // Webhook signatures only matter within the timestamp tolerance (at most an hour).
        let day_ago = stamp(self.now - chrono::Duration::days(1));
        crate::store::webhook_deliveries::prune(conn, &day_ago)?;
        for org in identity::list_orgs(conn)? {
            match self.org(conn, &org) {
                Ok(c) => out.push((org.id.clone(), c)),
                Err(PurgeError::Keys(KeyError::Shredded(_))) => {}
                Err(e) => tracing::error!(org = %org.id, error = %e, "purge of an org failed"),
            }
        }
        Ok(out)
    }

    /// Purges one org, records the run and audits it.
    pub fn org(&self, conn: &mut DbConn, org: &Org) -> Result<Counts, PurgeError> {
        let started = stamp(self.now);
        let policy = Policy::from_stored(&org.retention);
        let held = store::held(conn, &org.id)?;
        let mut counts = Counts::new();
        if held.org {
            counts.insert("held_org", 1);
        } else {
            let cipher = self.keyring.for_org(conn, &org.id)?;
            self.raw(conn, &cipher, &policy, &held, &mut counts)?;
            self.transcripts(conn, &cipher, &policy, &held, &mut counts)?;
            self.processed(conn, &cipher, &policy, &held, &mut counts)?;
            if let Some(cutoff) = policy.cutoff(Class::Audit, self.now) {
                let n = audit::prune(conn, &org.id, &stamp(cutoff), self.now)?;
                counts.insert("audit_entries", n as u64);
                // The outbound log is an access log: it is kept as long as the audit log.
                let n = crate::store::egress::prune(conn, &org.id, &stamp(cutoff))?;
                counts.insert("outbound_calls", n as u64);
            }
            counts.insert("held_conversations", held.conversations.len() as u64);
            let before = stamp(self.now - chrono::Duration::days(ARCHIVE_DAYS));
            let mut archives = 0;
            for id in subjects::archives_before(conn, &org.id, &before)? {
                if self.blobs.path(&org.id, &id).exists() {
                    self.blobs.remove(&org.id, &id)?;
                    archives += 1;
                }
            }
            counts.insert("export_archives", archives);
        }
        let run = store::Run {
            id: new_id(),
            org_id: org.id.clone(),
            started_at: started,
            finished_at: stamp(self.now),
            counts: serde_json::to_string(&counts).unwrap_or_else(|_| "{}".into()),
            trigger: self.trigger.clone(),
        };
        store::insert_run(conn, &run)?;
        let actor = if self.trigger == "schedule" {
            "system:retention".to_string()
        } else {
            self.trigger.clone()
        };
        audit::append(
            conn,
            &Event {
                chain: org.id.clone(),
                actor,
                action: "retention.purge".into(),
                object_type: "purge_run".into(),
                object_id: run.id.clone(),
                outcome: "success".into(),
                ..Event::default()
            },
            self.now,
        )?;
        tracing::info!(org = %org.id, counts = %run.counts, "purge run done");
        Ok(counts)
    }

    /// Works through expired conversations of one mark, a batch per transaction.
    fn each_expired(
        &self,
        conn: &mut DbConn,
        org_id: &str,
        mark: Mark,
        cutoff: DateTime<Utc>,
        held: &Held,
        mut one: impl FnMut(&mut DbConn, &str, &str) -> Result<(), PurgeError>,
    ) -> Result<u64, PurgeError> {
        let mut done = 0;
        loop {
            let batch = store::expired(
                conn,
                org_id,
                mark,
                &stamp(cutoff),
                &held.conversations,
                self.batch,
            )?;
            if batch.is_empty() {
                return Ok(done);
            }
            let now = stamp(self.now);
            conn.transaction(|conn| {
                for (id, kind) in &batch {
                    one(conn, id, kind)?;
                    store::set_mark(conn, org_id, id, mark, &now)?;
                }
                Ok::<_, PurgeError>(())
            })?;
            done += batch.len() as u64;
        }
    }

    /// Recordings: after processing when the org chose so, else after `raw_days`.
    fn raw(
        &self,
        conn: &mut DbConn,
        cipher: &OrgCipher,
        policy: &Policy,
        held: &Held,
        counts: &mut Counts,
    ) -> Result<(), PurgeError> {
        let cutoff = if policy.delete_raw_after_processing {
            Some(self.now + chrono::Duration::seconds(1))
        } else {
            policy.cutoff(Class::Raw, self.now)
        };
        let Some(cutoff) = cutoff else {
            return Ok(());
        };
        let mut removed = 0;
        self.each_expired(
            conn,
            &cipher.org_id,
            Mark::Raw,
            cutoff,
            held,
            |_, id, kind| {
                if kind == "call" {
                    self.blobs.remove(&cipher.org_id, id)?;
                    removed += 1;
                }
                Ok(())
            },
        )?;
        counts.insert("recordings", removed);
        Ok(())
    }

    /// Transcripts, ticket bodies, the personal metadata, and the subjects no
    /// remaining conversation names.
    fn transcripts(
        &self,
        conn: &mut DbConn,
        cipher: &OrgCipher,
        policy: &Policy,
        held: &Held,
        counts: &mut Counts,
    ) -> Result<(), PurgeError> {
        let Some(cutoff) = policy.cutoff(Class::Transcripts, self.now) else {
            return Ok(());
        };
        let org = cipher.org_id.clone();
        let (mut segs, mut tickets) = (0, 0);
        let n = self.each_expired(conn, &org, Mark::Content, cutoff, held, |conn, id, kind| {
            segs += store::delete_content(conn, &org, id)? as u64;
            if kind == "ticket" {
                self.blobs.remove(&org, id)?;
                tickets += 1;
            }
            let conv = conversations::get_sealed(conn, &org, id)?;
            let meta = match conv {
                Some(c) => cipher
                    .open("conversations", "metadata", id, &c.metadata)
                    .map_err(KeyError::from)?,
                None => "{}".into(),
            };
            let sealed = cipher.seal("conversations", "metadata", id, &impersonal(&meta))?;
            store::set_metadata(conn, &org, id, &sealed)?;
            Ok(())
        })?;
        counts.insert("transcripts", n);
        counts.insert("segments", segs);
        counts.insert("ticket_bodies", tickets);
        let keep: Vec<String> = held.subjects.iter().cloned().collect();
        let mut gone = 0;
        loop {
            let orphans = subjects::orphans(conn, &org, &keep, self.batch)?;
            if orphans.is_empty() {
                break;
            }
            for s in &orphans {
                self.keyring
                    .destroy_subject_key(conn, &org, s, &stamp(self.now))?;
                subjects::delete(conn, &org, s)?;
                gone += 1;
            }
        }
        counts.insert("subjects", gone);
        Ok(())
    }

    /// Analyses, scorecard answers, reviews and metrics; scores and sentiment
    /// figures stay for the dashboards.
    fn processed(
        &self,
        conn: &mut DbConn,
        cipher: &OrgCipher,
        policy: &Policy,
        held: &Held,
        counts: &mut Counts,
    ) -> Result<(), PurgeError> {
        let Some(cutoff) = policy.cutoff(Class::Processed, self.now) else {
            return Ok(());
        };
        let org = cipher.org_id.clone();
        let (mut runs, mut results, mut reviews) = (0, 0, 0);
        self.each_expired(conn, &org, Mark::Processed, cutoff, held, |conn, id, _| {
            reviews += store::delete_reviews_and_metrics(conn, &org, id)? as u64;
            let (a, r) = analyses::scrub(conn, cipher, id)?;
            runs += a as u64;
            results += r as u64;
            Ok(())
        })?;
        counts.insert("analyses", runs);
        counts.insert("scorecard_results", results);
        counts.insert("reviews", reviews);
        Ok(())
    }
}

/// What of a conversation's metadata is not about a person: team, tags, language.
pub fn impersonal(metadata: &str) -> String {
    let meta: serde_json::Value = serde_json::from_str(metadata).unwrap_or_default();
    serde_json::json!({
        "team": meta["team"],
        "tags": meta["tags"],
        "language": meta["language"],
        "purged": true,
    })
    .to_string()
}

/// When the org chose to delete recordings as soon as processed: deletes this call's
/// recording (unless held) and audits it. Answers whether it went.
pub fn after_processing(
    conn: &mut DbConn,
    blobs: &BlobStore,
    org_id: &str,
    conversation_id: &str,
    now: DateTime<Utc>,
) -> Result<bool, PurgeError> {
    let Some(org) = identity::org_by_id(conn, org_id)? else {
        return Ok(false);
    };
    if !Policy::from_stored(&org.retention).delete_raw_after_processing {
        return Ok(false);
    }
    let held = store::held(conn, org_id)?;
    if held.org || held.conversations.contains(conversation_id) {
        return Ok(false);
    }
    match conversations::get_sealed(conn, org_id, conversation_id)? {
        Some(c) if c.kind == "call" => {}
        _ => return Ok(false),
    }
    blobs.remove(org_id, conversation_id)?;
    store::set_mark(conn, org_id, conversation_id, Mark::Raw, &stamp(now))?;
    audit::append(
        conn,
        &Event::by_system(
            org_id,
            "retention",
            "retention.raw_deleted_after_processing",
            ("conversation", conversation_id),
            "success",
        ),
        now,
    )?;
    Ok(true)
}
