//! Appending to and verifying the per-organization hash chains.

use super::AuditEntry;
use crate::domain::time::stamp;
use crate::store::schema::{audit_anchors, audit_heads, audit_log};
use crate::store::DbConn;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// The `prev_hash` of each chain's first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened: who did what to which object, from where, with what outcome.
#[derive(Debug, Clone, Default)]
pub struct Event {
    /// The organization's id, or [`super::SYSTEM_CHAIN`].
    pub chain: String,
    /// `user:<id>`, `token:<id>`, `cli:<unix user>` or `anonymous:<email>`.
    pub actor: String,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub ip: String,
    pub request_id: String,
    /// `success`, `denied`, `failure`.
    pub outcome: String,
}

impl Event {
    /// A successful action by the operator at the server's shell (`cli:<unix user>`).
    pub fn by_operator(chain: &str, action: &str, object_type: &str, object_id: &str) -> Self {
        Event {
            chain: chain.to_string(),
            actor: format!(
                "cli:{}",
                std::env::var("USER").unwrap_or_else(|_| "root".into())
            ),
            action: action.to_string(),
            object_type: object_type.to_string(),
            object_id: object_id.to_string(),
            outcome: "success".into(),
            ..Default::default()
        }
    }

    /// An action insite took by itself (`system:<part>`, e.g. `system:alerts`) on an
    /// object of the org `chain`; `outcome` is `success`, `failure` or `denied`.
    pub fn by_system(
        chain: &str,
        part: &str,
        action: &str,
        object: (&str, &str),
        outcome: &str,
    ) -> Self {
        Event {
            chain: chain.to_string(),
            actor: format!("system:{part}"),
            action: action.to_string(),
            object_type: object.0.to_string(),
            object_id: object.1.to_string(),
            outcome: outcome.to_string(),
            ..Default::default()
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = audit_log)]
struct NewEntry<'a> {
    chain: &'a str,
    seq: i64,
    at: &'a str,
    actor: &'a str,
    action: &'a str,
    object_type: &'a str,
    object_id: &'a str,
    ip: &'a str,
    request_id: &'a str,
    outcome: &'a str,
    prev_hash: &'a str,
    hash: &'a str,
}

/// SHA-256 over the previous hash and every field, unit-separated.
fn entry_hash(prev: &str, seq: i64, at: &str, e: &Event) -> String {
    let fields = [
        e.chain.as_str(),
        &seq.to_string(),
        at,
        &e.actor,
        &e.action,
        &e.object_type,
        &e.object_id,
        &e.ip,
        &e.request_id,
        &e.outcome,
    ]
    .join("\u{1f}");
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(prev.as_bytes());
    ctx.update(b"\n");
    ctx.update(fields.as_bytes());
    hex::encode(ctx.finish().as_ref())
}

/// Appends `event` at the end of its chain. Concurrent appends race on the unique
/// (chain, seq) key; the loser retries on the new tail, so the chain never forks.
/// SQLite answers a read-then-write transaction whose snapshot went stale (another
/// writer committed in between) with "database is locked" at once, without waiting:
/// that is retried too.
pub fn append(conn: &mut DbConn, event: &Event, now: DateTime<Utc>) -> QueryResult<i64> {
    let at = stamp(now);
    for attempt in 0..20u64 {
        let result = conn.transaction(|conn| {
            // The chain continues from its recorded head, not from whatever rows are
            // left: after the newest rows were deleted, the gap stays visible.
            let head: Option<(i64, String)> = audit_heads::table
                .find(&event.chain)
                .select((audit_heads::seq, audit_heads::hash))
                .first(conn)
                .optional()?;
            let tail = match &head {
                Some(h) => Some(h.clone()),
                None => audit_log::table
                    .filter(audit_log::chain.eq(&event.chain))
                    .order(audit_log::seq.desc())
                    .select((audit_log::seq, audit_log::hash))
                    .first(conn)
                    .optional()?,
            };
            let (seq, prev) = tail.map_or((1, GENESIS.to_string()), |(s, h)| (s + 1, h));
            let hash = entry_hash(&prev, seq, &at, event);
            diesel::insert_into(audit_log::table)
                .values(NewEntry {
                    chain: &event.chain,
                    seq,
                    at: &at,
                    actor: &event.actor,
                    action: &event.action,
                    object_type: &event.object_type,
                    object_id: &event.object_id,
                    ip: &event.ip,
                    request_id: &event.request_id,
                    outcome: &event.outcome,
                    prev_hash: &prev,
                    hash: &hash,
                })
                .execute(conn)?;
            move_head(conn, &event.chain, head.map(|h| h.0), seq, &hash)?;
            Ok(seq)
        });
        match result {
            Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => continue,
            Err(DieselError::DatabaseError(_, info))
                if info.message().contains("database is locked") =>
            {
                std::thread::sleep(std::time::Duration::from_millis(5 + 10 * attempt));
            }
            other => return other,
        }
    }
    Err(DieselError::RollbackTransaction)
}

/// Moves `chain`'s head from `from` (none: the chain's first head) to `seq`/`hash`.
/// A head another writer moved first answers as a unique violation, so the append is
/// retried on the new tail.
fn move_head(
    conn: &mut DbConn,
    chain: &str,
    from: Option<i64>,
    seq: i64,
    hash: &str,
) -> QueryResult<()> {
    let Some(from) = from else {
        return diesel::insert_into(audit_heads::table)
            .values((
                audit_heads::chain.eq(chain),
                audit_heads::seq.eq(seq),
                audit_heads::hash.eq(hash),
            ))
            .execute(conn)
            .map(drop);
    };
    let moved = diesel::update(
        audit_heads::table
            .find(chain)
            .filter(audit_heads::seq.eq(from)),
    )
    .set((audit_heads::seq.eq(seq), audit_heads::hash.eq(hash)))
    .execute(conn)?;
    if moved == 1 {
        Ok(())
    } else {
        Err(DieselError::DatabaseError(
            DatabaseErrorKind::UniqueViolation,
            Box::new(format!("the head of audit chain {chain} moved")),
        ))
    }
}

/// The first entry that does not fit its chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit chain {chain} is broken at entry {seq} (row id {id}): {reason}")]
pub struct Broken {
    pub chain: String,
    pub seq: i64,
    pub id: i64,
    pub reason: String,
}

/// What a clean verification covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub chains: usize,
    pub entries: usize,
}

/// Recomputes every chain; names the first entry whose hash, link or order is wrong.
pub fn verify(conn: &mut DbConn) -> Result<Result<VerifyReport, Broken>, DieselError> {
    let mut chains: Vec<String> = audit_log::table
        .select(audit_log::chain)
        .distinct()
        .load(conn)?;
    chains.extend(
        audit_heads::table
            .select(audit_heads::chain)
            .load::<String>(conn)?,
    );
    // Every organization writes its chain from its creation on: one without a chain
    // had it removed.
    let orgs: Vec<String> = crate::store::schema::orgs::table
        .select(crate::store::schema::orgs::id)
        .load(conn)?;
    chains.extend(orgs);
    chains.sort();
    chains.dedup();
    let mut entries = 0;
    for chain in &chains {
        let rows: Vec<AuditEntry> = audit_log::table
            .filter(audit_log::chain.eq(chain))
            .order(audit_log::seq.asc())
            .select(AuditEntry::as_select())
            .load(conn)?;
        // A chain whose oldest entries were purged (retention) starts after its anchor.
        let anchor: Option<(i64, String)> = audit_anchors::table
            .find(chain)
            .select((audit_anchors::seq, audit_anchors::hash))
            .first(conn)
            .optional()?;
        let (first, mut prev) = anchor.unwrap_or((0, GENESIS.to_string()));
        for (i, row) in rows.iter().enumerate() {
            let broken = |reason: &str| Broken {
                chain: chain.clone(),
                seq: row.seq,
                id: row.id,
                reason: reason.to_string(),
            };
            if row.seq != first + i as i64 + 1 {
                return Ok(Err(broken("sequence gap: an entry was removed")));
            }
            if row.prev_hash != prev {
                return Ok(Err(broken("does not link to the previous entry")));
            }
            let event = Event {
                chain: row.chain.clone(),
                actor: row.actor.clone(),
                action: row.action.clone(),
                object_type: row.object_type.clone(),
                object_id: row.object_id.clone(),
                ip: row.ip.clone(),
                request_id: row.request_id.clone(),
                outcome: row.outcome.clone(),
            };
            if entry_hash(&prev, row.seq, &row.at, &event) != row.hash {
                return Ok(Err(broken("content was altered (hash mismatch)")));
            }
            prev = row.hash.clone();
            entries += 1;
        }
        let head: Option<(i64, String)> = audit_heads::table
            .find(chain)
            .select((audit_heads::seq, audit_heads::hash))
            .first(conn)
            .optional()?;
        let last = rows.last().map_or(first, |r| r.seq);
        let end = |seq: i64, reason: String| Broken {
            chain: chain.clone(),
            seq,
            id: 0,
            reason,
        };
        match head {
            None => {
                return Ok(Err(end(
                    last,
                    "the chain has no recorded head: it was removed".into(),
                )))
            }
            Some((seq, _)) if seq != last => {
                return Ok(Err(end(
                    seq,
                    format!("the newest entries were removed: the chain ends at {last}, its head is at {seq}"),
                )))
            }
            Some((seq, hash)) if hash != prev => {
                return Ok(Err(end(seq, "the newest entry does not match the recorded head".into())))
            }
            Some(_) => {}
        }
    }
    Ok(Ok(VerifyReport {
        chains: chains.len(),
        entries,
    }))
}

/// Deletes the entries of `chain` written before `before` (retention), never its
/// newest one, and records where the chain now begins so it still verifies: the
/// first kept entry links to the anchor's hash. Answers how many entries went.
pub fn prune(
    conn: &mut DbConn,
    chain: &str,
    before: &str,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    conn.transaction(|conn| {
        let tail: Option<i64> = audit_log::table
            .filter(audit_log::chain.eq(chain))
            .select(diesel::dsl::max(audit_log::seq))
            .first(conn)?;
        let last_old: Option<(i64, String)> = audit_log::table
            .filter(audit_log::chain.eq(chain))
            .filter(audit_log::at.lt(before))
            .filter(audit_log::seq.lt(tail.unwrap_or(0)))
            .order(audit_log::seq.desc())
            .select((audit_log::seq, audit_log::hash))
            .first(conn)
            .optional()?;
        let Some((seq, hash)) = last_old else {
            return Ok(0);
        };
        diesel::delete(audit_anchors::table.find(chain)).execute(conn)?;
        diesel::insert_into(audit_anchors::table)
            .values((
                audit_anchors::chain.eq(chain),
                audit_anchors::seq.eq(seq),
                audit_anchors::hash.eq(&hash),
                audit_anchors::purged_at.eq(stamp(now)),
            ))
            .execute(conn)?;
        diesel::delete(
            audit_log::table
                .filter(audit_log::chain.eq(chain))
                .filter(audit_log::seq.le(seq)),
        )
        .execute(conn)
    })
}
