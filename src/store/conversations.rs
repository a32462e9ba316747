//! Conversations and their segments. Every query takes the org id.

use super::schema::{conversations, segments};
use super::DbConn;
use diesel::prelude::*;

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = conversations)]
pub struct Conversation {
    pub id: String,
    pub org_id: String,
    /// `call` or `ticket`.
    pub kind: String,
    pub source: String,
    pub external_id: Option<String>,
    pub content_sha256: String,
    /// `processing`, `ready` or `failed`.
    pub state: String,
    pub agent_user_id: Option<String>,
    pub direction: Option<String>,
    pub started_at: Option<String>,
    pub language: Option<String>,
    pub duration_seconds: Option<f64>,
    /// JSON: the speaker of each channel, e.g. `["agent","customer"]`.
    pub channels: String,
    /// JSON: validated ingest metadata (participants, subject, hints).
    pub metadata: String,
    /// JSON: `domain::metrics::Metrics` once measured.
    pub metrics: Option<String>,
    /// JSON: counts of redacted spans by kind.
    pub redactions: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = segments)]
pub struct SegmentRow {
    #[serde(skip)]
    pub id: String,
    #[serde(skip)]
    pub conversation_id: String,
    #[serde(skip)]
    pub org_id: String,
    #[serde(skip)]
    pub seq: i32,
    pub speaker: String,
    #[serde(rename = "start")]
    pub start_seconds: f64,
    #[serde(rename = "end")]
    pub end_seconds: f64,
    pub text: String,
    pub confidence: f64,
}

pub fn insert(conn: &mut DbConn, c: &Conversation) -> QueryResult<()> {
    diesel::insert_into(conversations::table)
        .values(c)
        .execute(conn)
        .map(drop)
}

pub fn get(conn: &mut DbConn, org_id: &str, id: &str) -> QueryResult<Option<Conversation>> {
    conversations::table
        .filter(conversations::org_id.eq(org_id))
        .filter(conversations::id.eq(id))
        .select(Conversation::as_select())
        .first(conn)
        .optional()
}

/// The conversation already holding this content or this (source, external id).
pub fn find_duplicate(
    conn: &mut DbConn,
    org_id: &str,
    sha256: &str,
    source: &str,
    external_id: Option<&str>,
) -> QueryResult<Option<Conversation>> {
    let by_hash = conversations::table
        .filter(conversations::org_id.eq(org_id))
        .filter(conversations::content_sha256.eq(sha256))
        .select(Conversation::as_select())
        .first(conn)
        .optional()?;
    if by_hash.is_some() {
        return Ok(by_hash);
    }
    let Some(external_id) = external_id else {
        return Ok(None);
    };
    conversations::table
        .filter(conversations::org_id.eq(org_id))
        .filter(conversations::source.eq(source))
        .filter(conversations::external_id.eq(external_id))
        .select(Conversation::as_select())
        .first(conn)
        .optional()
}

/// Filters of the conversation list.
#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    /// Only this agent's conversations (agents see only their own).
    pub agent_user_id: Option<String>,
    pub source: Option<String>,
    pub state: Option<String>,
    pub language: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// Only conversations with a hit of this tracker.
    pub tracker_id: Option<String>,
    /// Only conversations whose transcript contains this text (case-insensitive).
    pub text: Option<String>,
    pub limit: i64,
}

pub fn list(conn: &mut DbConn, org_id: &str, f: &ListFilter) -> QueryResult<Vec<Conversation>> {
    let mut q = conversations::table
        .filter(conversations::org_id.eq(org_id))
        .into_boxed();
    if let Some(v) = &f.agent_user_id {
        q = q.filter(conversations::agent_user_id.eq(v.clone()));
    }
    if let Some(v) = &f.source {
        q = q.filter(conversations::source.eq(v.clone()));
    }
    if let Some(v) = &f.state {
        q = q.filter(conversations::state.eq(v.clone()));
    }
    if let Some(v) = &f.language {
        q = q.filter(conversations::language.eq(v.clone()));
    }
    if let Some(v) = &f.from {
        q = q.filter(conversations::created_at.ge(v.clone()));
    }
    if let Some(v) = &f.to {
        q = q.filter(conversations::created_at.lt(v.clone()));
    }
    if let Some(v) = &f.tracker_id {
        let hit = super::schema::tracker_hits::table
            .filter(super::schema::tracker_hits::org_id.eq(org_id.to_string()))
            .filter(super::schema::tracker_hits::tracker_id.eq(v.clone()))
            .select(super::schema::tracker_hits::conversation_id);
        q = q.filter(conversations::id.eq_any(hit));
    }
    if let Some(v) = &f.text {
        // Until the blind index of the encryption issue: a scan of the redacted text.
        let pattern = format!("%{}%", v.to_lowercase().replace(['%', '_', '\\'], ""));
        let matching = segments::table
            .filter(segments::org_id.eq(org_id.to_string()))
            .filter(lower(segments::text).like(pattern))
            .select(segments::conversation_id);
        q = q.filter(conversations::id.eq_any(matching));
    }
    q.order(conversations::created_at.desc())
        .limit(f.limit)
        .select(Conversation::as_select())
        .load(conn)
}

pub fn segments_of(conn: &mut DbConn, org_id: &str, id: &str) -> QueryResult<Vec<SegmentRow>> {
    segments::table
        .filter(segments::org_id.eq(org_id))
        .filter(segments::conversation_id.eq(id))
        .order(segments::seq.asc())
        .select(SegmentRow::as_select())
        .load(conn)
}

/// What processing produced for one conversation.
#[derive(Debug, Clone)]
pub struct Processed {
    pub segments: Vec<SegmentRow>,
    pub language: Option<String>,
    pub duration: f64,
    /// The speakers the recording was split into (`["mixed"]` for mono).
    pub channels: Vec<String>,
    pub metrics: String,
    pub redactions: String,
    pub tracker_hits: Vec<super::trackers::TrackerHit>,
}

/// Stores the processed result at once: segments replace any earlier attempt's.
pub fn store_result(conn: &mut DbConn, org_id: &str, id: &str, p: &Processed) -> QueryResult<()> {
    conn.transaction(|conn| {
        diesel::delete(
            segments::table
                .filter(segments::org_id.eq(org_id))
                .filter(segments::conversation_id.eq(id)),
        )
        .execute(conn)?;
        super::trackers::replace_hits(conn, org_id, id, &p.tracker_hits)?;
        // One row per statement: batch inserts are not portable across the backends.
        for row in &p.segments {
            diesel::insert_into(segments::table)
                .values(row)
                .execute(conn)?;
        }
        diesel::update(
            conversations::table
                .filter(conversations::org_id.eq(org_id))
                .filter(conversations::id.eq(id)),
        )
        .set((
            conversations::state.eq("ready"),
            conversations::language.eq(&p.language),
            conversations::duration_seconds.eq(p.duration),
            conversations::channels.eq(serde_json::to_string(&p.channels).unwrap_or_default()),
            conversations::metrics.eq(&p.metrics),
            conversations::redactions.eq(&p.redactions),
        ))
        .execute(conn)
        .map(drop)
    })
}

pub fn set_state(conn: &mut DbConn, org_id: &str, id: &str, state: &str) -> QueryResult<usize> {
    diesel::update(
        conversations::table
            .filter(conversations::org_id.eq(org_id))
            .filter(conversations::id.eq(id)),
    )
    .set(conversations::state.eq(state))
    .execute(conn)
}
