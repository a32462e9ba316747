//! Legal holds, purge runs, and the queries the purge works through: the
//! conversations of an org whose data of a class expired, minus what a hold covers.
//! Every query is scoped by org.

use super::schema::{
    analyses, answer_reviews, blind_index, conversations, legal_holds, purge_runs,
    scorecard_results, segments, subject_links,
};
use super::DbConn;
use crate::keys::{KeyError, OrgCipher};
use diesel::prelude::*;
use std::collections::BTreeSet;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = legal_holds)]
pub struct Hold {
    pub id: String,
    #[serde(skip)]
    pub org_id: String,
    /// `org`, `conversation` or `subject`.
    pub scope: String,
    pub target_id: String,
    /// Why the data must be kept (it may name people or matters). Sealed at rest.
    pub reason: String,
    pub set_by: String,
    pub set_at: String,
    pub released_by: Option<String>,
    pub released_at: Option<String>,
}

/// Inserts a hold, its reason sealed, in the cipher's org.
pub fn insert_hold(conn: &mut DbConn, cipher: &OrgCipher, hold: &Hold) -> Result<(), KeyError> {
    let row = Hold {
        org_id: cipher.org_id.clone(),
        reason: cipher.seal("legal_holds", "reason", &hold.id, &hold.reason)?,
        ..hold.clone()
    };
    diesel::insert_into(legal_holds::table)
        .values(&row)
        .execute(conn)?;
    Ok(())
}

/// `holds` with their reasons opened.
pub fn holds_opened(
    conn: &mut DbConn,
    cipher: &OrgCipher,
    in_force_only: bool,
) -> Result<Vec<Hold>, KeyError> {
    holds(conn, &cipher.org_id, in_force_only)?
        .into_iter()
        .map(|mut h| {
            h.reason = cipher.open("legal_holds", "reason", &h.id, &h.reason)?;
            Ok(h)
        })
        .collect()
}

/// Re-seals the org's hold reasons under the active key (key rotation).
pub fn reseal_holds(conn: &mut DbConn, cipher: &OrgCipher) -> Result<usize, KeyError> {
    let mut changed = 0;
    for h in holds(conn, &cipher.org_id, false)? {
        if let Some(sealed) = cipher.reseal("legal_holds", "reason", &h.id, &h.reason)? {
            diesel::update(legal_holds::table.filter(legal_holds::id.eq(&h.id)))
                .set(legal_holds::reason.eq(sealed))
                .execute(conn)?;
            changed += 1;
        }
    }
    Ok(changed)
}

/// The org's holds as stored (reasons sealed), those in force first, newest first.
pub fn holds(conn: &mut DbConn, org_id: &str, in_force_only: bool) -> QueryResult<Vec<Hold>> {
    let mut q = legal_holds::table
        .filter(legal_holds::org_id.eq(org_id))
        .into_boxed();
    if in_force_only {
        q = q.filter(legal_holds::released_at.is_null());
    }
    let mut rows: Vec<Hold> = q
        .order(legal_holds::set_at.desc())
        .select(Hold::as_select())
        .load(conn)?;
    rows.sort_by_key(|h| h.released_at.is_some());
    Ok(rows)
}

/// Releases a hold in force; how many rows changed (0: none such in this org).
pub fn release_hold(
    conn: &mut DbConn,
    org_id: &str,
    id: &str,
    by: &str,
    now: &str,
) -> QueryResult<usize> {
    diesel::update(
        legal_holds::table
            .filter(legal_holds::org_id.eq(org_id))
            .filter(legal_holds::id.eq(id))
            .filter(legal_holds::released_at.is_null()),
    )
    .set((
        legal_holds::released_by.eq(Some(by)),
        legal_holds::released_at.eq(Some(now)),
    ))
    .execute(conn)
}

/// What the holds in force of an org cover.
#[derive(Debug, Default)]
pub struct Held {
    pub org: bool,
    pub subjects: BTreeSet<String>,
    /// Conversations held directly or through a held subject.
    pub conversations: BTreeSet<String>,
}

pub fn held(conn: &mut DbConn, org_id: &str) -> QueryResult<Held> {
    let mut out = Held::default();
    for h in holds(conn, org_id, true)? {
        match h.scope.as_str() {
            "org" => out.org = true,
            "subject" => {
                out.subjects.insert(h.target_id);
            }
            _ => {
                out.conversations.insert(h.target_id);
            }
        }
    }
    if !out.subjects.is_empty() {
        let linked: Vec<String> = subject_links::table
            .filter(subject_links::org_id.eq(org_id))
            .filter(subject_links::subject_id.eq_any(out.subjects.iter().collect::<Vec<_>>()))
            .select(subject_links::conversation_id)
            .load(conn)?;
        out.conversations.extend(linked);
    }
    Ok(out)
}

/// A purge run's record: when, what triggered it, counts per class (JSON).
#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = purge_runs)]
pub struct Run {
    pub id: String,
    #[serde(skip)]
    pub org_id: String,
    pub started_at: String,
    pub finished_at: String,
    #[serde(serialize_with = "as_json")]
    pub counts: String,
    /// `schedule` or `user:<id>`.
    pub trigger: String,
}

fn as_json<S: serde::Serializer>(s: &str, ser: S) -> Result<S::Ok, S::Error> {
    use serde::Serialize;
    serde_json::from_str::<serde_json::Value>(s)
        .unwrap_or_default()
        .serialize(ser)
}

pub fn insert_run(conn: &mut DbConn, run: &Run) -> QueryResult<()> {
    diesel::insert_into(purge_runs::table)
        .values(run)
        .execute(conn)
        .map(drop)
}

pub fn runs(conn: &mut DbConn, org_id: &str, limit: i64) -> QueryResult<Vec<Run>> {
    purge_runs::table
        .filter(purge_runs::org_id.eq(org_id))
        .order(purge_runs::started_at.desc())
        .limit(limit)
        .select(Run::as_select())
        .load(conn)
}

/// Which purge mark a class sets on a conversation.
#[derive(Debug, Clone, Copy)]
pub enum Mark {
    Raw,
    Content,
    Processed,
}

/// Up to `limit` (id, kind) of the org's conversations created before `cutoff`
/// whose `mark` is not set yet, finished processing, and not in `held`.
pub fn expired(
    conn: &mut DbConn,
    org_id: &str,
    mark: Mark,
    cutoff: &str,
    held: &BTreeSet<String>,
    limit: i64,
) -> QueryResult<Vec<(String, String)>> {
    let mut q = conversations::table
        .filter(conversations::org_id.eq(org_id))
        .filter(conversations::created_at.lt(cutoff))
        .filter(conversations::state.ne("processing"))
        .into_boxed();
    q = match mark {
        Mark::Raw => q.filter(conversations::raw_purged_at.is_null()),
        Mark::Content => q.filter(conversations::content_purged_at.is_null()),
        Mark::Processed => q.filter(conversations::processed_purged_at.is_null()),
    };
    if !held.is_empty() {
        q = q.filter(conversations::id.ne_all(held.iter().cloned().collect::<Vec<_>>()));
    }
    q.order(conversations::created_at.asc())
        .limit(limit)
        .select((conversations::id, conversations::kind))
        .load(conn)
}

/// Sets a purge mark on one conversation.
pub fn set_mark(
    conn: &mut DbConn,
    org_id: &str,
    id: &str,
    mark: Mark,
    now: &str,
) -> QueryResult<usize> {
    let target = conversations::table
        .filter(conversations::org_id.eq(org_id))
        .filter(conversations::id.eq(id));
    match mark {
        Mark::Raw => diesel::update(target)
            .set(conversations::raw_purged_at.eq(Some(now)))
            .execute(conn),
        Mark::Content => diesel::update(target)
            .set(conversations::content_purged_at.eq(Some(now)))
            .execute(conn),
        Mark::Processed => diesel::update(target)
            .set(conversations::processed_purged_at.eq(Some(now)))
            .execute(conn),
    }
}

/// When each class of a conversation was purged: (raw, content, processed).
pub type Marks = (Option<String>, Option<String>, Option<String>);

/// The purge marks of one conversation.
pub fn marks(conn: &mut DbConn, org_id: &str, id: &str) -> QueryResult<Option<Marks>> {
    conversations::table
        .filter(conversations::org_id.eq(org_id))
        .filter(conversations::id.eq(id))
        .select((
            conversations::raw_purged_at,
            conversations::content_purged_at,
            conversations::processed_purged_at,
        ))
        .first(conn)
        .optional()
}

/// Deletes a conversation's transcript and its blind-index tags and subject links;
/// answers how many segments went.
pub fn delete_content(conn: &mut DbConn, org_id: &str, id: &str) -> QueryResult<usize> {
    diesel::delete(
        blind_index::table
            .filter(blind_index::org_id.eq(org_id))
            .filter(blind_index::conversation_id.eq(id)),
    )
    .execute(conn)?;
    diesel::delete(
        subject_links::table
            .filter(subject_links::org_id.eq(org_id))
            .filter(subject_links::conversation_id.eq(id)),
    )
    .execute(conn)?;
    diesel::delete(
        segments::table
            .filter(segments::org_id.eq(org_id))
            .filter(segments::conversation_id.eq(id)),
    )
    .execute(conn)
}

/// Replaces a conversation's sealed metadata (already sealed by the caller).
pub fn set_metadata(conn: &mut DbConn, org_id: &str, id: &str, sealed: &str) -> QueryResult<usize> {
    diesel::update(
        conversations::table
            .filter(conversations::org_id.eq(org_id))
            .filter(conversations::id.eq(id)),
    )
    .set(conversations::metadata.eq(sealed))
    .execute(conn)
}

/// Deletes the reviews of a conversation's scorecard results and clears its metrics;
/// answers how many reviews went.
pub fn delete_reviews_and_metrics(conn: &mut DbConn, org_id: &str, id: &str) -> QueryResult<usize> {
    let results: Vec<String> = scorecard_results::table
        .filter(scorecard_results::org_id.eq(org_id))
        .filter(scorecard_results::conversation_id.eq(id))
        .select(scorecard_results::id)
        .load(conn)?;
    let reviews = diesel::delete(
        answer_reviews::table
            .filter(answer_reviews::org_id.eq(org_id))
            .filter(answer_reviews::result_id.eq_any(results)),
    )
    .execute(conn)?;
    diesel::update(
        conversations::table
            .filter(conversations::org_id.eq(org_id))
            .filter(conversations::id.eq(id)),
    )
    .set((
        conversations::metrics.eq(None::<String>),
        conversations::redactions.eq(None::<String>),
    ))
    .execute(conn)?;
    Ok(reviews)
}

/// The ids of a conversation's analyses and scorecard results (to scrub).
pub fn processed_ids(
    conn: &mut DbConn,
    org_id: &str,
    id: &str,
) -> QueryResult<(Vec<String>, Vec<String>)> {
    let a = analyses::table
        .filter(analyses::org_id.eq(org_id))
        .filter(analyses::conversation_id.eq(id))
        .select(analyses::id)
        .load(conn)?;
    let r = scorecard_results::table
        .filter(scorecard_results::org_id.eq(org_id))
        .filter(scorecard_results::conversation_id.eq(id))
        .select(scorecard_results::id)
        .load(conn)?;
    Ok((a, r))
}

/// Deletes a conversation and everything hanging off it (segments, jobs, analyses,
/// results, reviews, tracker hits, tags, subject links: by cascade).
pub fn delete_conversation(conn: &mut DbConn, org_id: &str, id: &str) -> QueryResult<usize> {
    diesel::delete(
        conversations::table
            .filter(conversations::org_id.eq(org_id))
            .filter(conversations::id.eq(id)),
    )
    .execute(conn)
}
