//! Trackers of an organization and their hits in conversations. Scoped by org.

use super::schema::{tracker_hits, trackers};
use super::DbConn;
use crate::keys::{KeyError, OrgCipher};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = trackers)]
pub struct Tracker {
    pub id: String,
    #[serde(skip)]
    pub org_id: String,
    pub name: String,
    /// JSON array of phrases.
    #[serde(skip)]
    pub phrases: String,
    pub created_at: String,
}

impl Tracker {
    pub fn phrase_list(&self) -> Vec<String> {
        serde_json::from_str(&self.phrases).unwrap_or_default()
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = tracker_hits)]
pub struct TrackerHit {
    #[serde(skip)]
    pub id: String,
    #[serde(skip)]
    pub org_id: String,
    #[serde(skip)]
    pub conversation_id: String,
    pub tracker_id: String,
    pub phrase: String,
    /// Sealed at rest.
    pub speaker: String,
    #[serde(rename = "start")]
    pub start_seconds: f64,
}

pub fn insert(conn: &mut DbConn, t: &Tracker) -> QueryResult<()> {
    diesel::insert_into(trackers::table)
        .values(t)
        .execute(conn)
        .map(drop)
}

pub fn list(conn: &mut DbConn, org_id: &str) -> QueryResult<Vec<Tracker>> {
    trackers::table
        .filter(trackers::org_id.eq(org_id))
        .order(trackers::name.asc())
        .select(Tracker::as_select())
        .load(conn)
}

/// Deletes a tracker of this org (its hits go with it); 0 rows: not this org's.
pub fn delete(conn: &mut DbConn, org_id: &str, id: &str) -> QueryResult<usize> {
    diesel::delete(
        trackers::table
            .filter(trackers::org_id.eq(org_id))
            .filter(trackers::id.eq(id)),
    )
    .execute(conn)
}

fn hits_sealed(
    conn: &mut DbConn,
    org_id: &str,
    conversation_id: &str,
) -> QueryResult<Vec<TrackerHit>> {
    tracker_hits::table
        .filter(tracker_hits::org_id.eq(org_id))
        .filter(tracker_hits::conversation_id.eq(conversation_id))
        .order(tracker_hits::start_seconds.asc())
        .select(TrackerHit::as_select())
        .load(conn)
}

/// A conversation's hits, their speakers opened.
pub fn hits_of(
    conn: &mut DbConn,
    cipher: &OrgCipher,
    conversation_id: &str,
) -> Result<Vec<TrackerHit>, KeyError> {
    hits_sealed(conn, &cipher.org_id, conversation_id)?
        .into_iter()
        .map(|mut h| {
            h.speaker = cipher.open("tracker_hits", "speaker", &h.id, &h.speaker)?;
            Ok(h)
        })
        .collect()
}

/// Hits as they are stored: their speakers sealed, in the cipher's org.
pub fn sealed(cipher: &OrgCipher, hits: &[TrackerHit]) -> Result<Vec<TrackerHit>, KeyError> {
    hits.iter()
        .map(|h| {
            Ok(TrackerHit {
                org_id: cipher.org_id.clone(),
                speaker: cipher.seal("tracker_hits", "speaker", &h.id, &h.speaker)?,
                ..h.clone()
            })
        })
        .collect()
}

/// Re-seals a conversation's hits under the active key; how many changed.
pub fn reseal_hits(
    conn: &mut DbConn,
    cipher: &OrgCipher,
    conversation_id: &str,
) -> Result<usize, KeyError> {
    let mut changed = 0;
    for h in hits_sealed(conn, &cipher.org_id, conversation_id)? {
        if let Some(sealed) = cipher.reseal("tracker_hits", "speaker", &h.id, &h.speaker)? {
            diesel::update(tracker_hits::table.filter(tracker_hits::id.eq(&h.id)))
                .set(tracker_hits::speaker.eq(sealed))
                .execute(conn)?;
            changed += 1;
        }
    }
    Ok(changed)
}

/// Replaces a conversation's hits, already `sealed` (inside the caller's transaction).
pub fn replace_hits(
    conn: &mut DbConn,
    org_id: &str,
    conversation_id: &str,
    hits: &[TrackerHit],
) -> QueryResult<()> {
    diesel::delete(
        tracker_hits::table
            .filter(tracker_hits::org_id.eq(org_id))
            .filter(tracker_hits::conversation_id.eq(conversation_id)),
    )
    .execute(conn)?;
    for hit in hits {
        diesel::insert_into(tracker_hits::table)
            .values(hit)
            .execute(conn)?;
    }
    Ok(())
}

/// Hits per tracker id in the given conversations of the org.
pub fn hit_counts(
    conn: &mut DbConn,
    org_id: &str,
    conversation_ids: &[String],
) -> QueryResult<Vec<(String, i64)>> {
    let mut counts: Vec<(String, i64)> = Vec::new();
    for chunk in conversation_ids.chunks(500) {
        let part: Vec<(String, i64)> = tracker_hits::table
            .filter(tracker_hits::org_id.eq(org_id))
            .filter(tracker_hits::conversation_id.eq_any(chunk))
            .group_by(tracker_hits::tracker_id)
            .select((tracker_hits::tracker_id, diesel::dsl::count_star()))
            .load(conn)?;
        for (id, n) in part {
            match counts.iter_mut().find(|(k, _)| *k == id) {
                Some(c) => c.1 += n,
                None => counts.push((id, n)),
            }
        }
    }
    Ok(counts)
}
