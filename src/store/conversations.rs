//! Conversations and their segments. Every query is scoped by the org of the cipher
//! it takes; what people put in or said (metadata, the external id, speaker names in
//! channels, metrics and segments, segment text) is stored sealed under the org's
//! data key and opened here, so callers only see plaintext. The external id's column
//! holds its blind-index tag (for de-duplication); the id itself rides in the sealed
//! metadata.

use super::schema::{blind_index, conversations, segments};
use super::DbConn;
use crate::domain::search;
use crate::keys::{KeyError, OrgCipher};
use diesel::prelude::*;
use std::collections::BTreeSet;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = conversations)]
pub struct Conversation {
    pub id: String,
    pub org_id: String,
    /// `call` or `ticket`.
    pub kind: String,
    pub source: String,
    /// Stored as its blind-index tag; opened from the sealed metadata.
    pub external_id: Option<String>,
    /// Blind-index tag of the content's SHA-256 (for de-duplication), never the hash.
    pub content_sha256: String,
    /// `processing`, `ready` or `failed`.
    pub state: String,
    pub agent_user_id: Option<String>,
    pub direction: Option<String>,
    pub started_at: Option<String>,
    pub language: Option<String>,
    pub duration_seconds: Option<f64>,
    /// JSON: the speaker of each channel, e.g. `["agent","customer"]`. Sealed at rest.
    pub channels: String,
    /// JSON: validated ingest metadata (participants, subject, hints). Sealed at rest.
    pub metadata: String,
    /// JSON: `domain::metrics::Metrics` once measured (per speaker). Sealed at rest.
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
    /// Sealed at rest.
    pub speaker: String,
    #[serde(rename = "start")]
    pub start_seconds: f64,
    #[serde(rename = "end")]
    pub end_seconds: f64,
    /// Sealed at rest.
    pub text: String,
    pub confidence: f64,
}

/// Inserts a conversation (its metadata sealed) with the blind-index tags of its
/// participants' e-mail addresses and phone numbers and of its subject.
pub fn insert(conn: &mut DbConn, cipher: &OrgCipher, c: &Conversation) -> Result<(), KeyError> {
    let mut row = c.clone();
    row.org_id = cipher.org_id.clone();
    let metadata = with_external_id(&c.metadata, c.external_id.as_deref());
    row.metadata = cipher.seal("conversations", "metadata", &c.id, &metadata)?;
    row.external_id = c.external_id.as_deref().map(|e| external_tag(cipher, e));
    row.channels = cipher.seal("conversations", "channels", &c.id, &c.channels)?;
    row.metrics = None;
    diesel::insert_into(conversations::table)
        .values(&row)
        .execute(conn)?;
    super::blind_index::add(
        conn,
        &cipher.org_id,
        &c.id,
        &metadata_tags(cipher, &c.metadata),
    )?;
    Ok(())
}

/// Tags of what metadata holds that people look conversations up by.
fn metadata_tags(cipher: &OrgCipher, metadata: &str) -> BTreeSet<String> {
    let meta: serde_json::Value = serde_json::from_str(metadata).unwrap_or_default();
    let mut tags = BTreeSet::new();
    if let Some(people) = meta["participants"].as_array() {
        for p in people {
            if let Some(e) = p["email"].as_str().and_then(search::email) {
                tags.insert(cipher.blind("email", &e));
            }
            if let Some(n) = p["phone"].as_str().and_then(search::phone) {
                tags.insert(cipher.blind("phone", &n));
            }
        }
    }
    if let Some(subject) = meta["subject"].as_str() {
        tags.extend(
            search::terms(subject)
                .iter()
                .map(|t| cipher.blind("term", t)),
        );
    }
    tags
}

/// The blind-index tag an external id is stored and looked up as.
pub fn external_tag(cipher: &OrgCipher, external_id: &str) -> String {
    cipher.blind("external_id", external_id)
}

/// Metadata with the external id in it (where it is kept sealed).
fn with_external_id(metadata: &str, external_id: Option<&str>) -> String {
    let Some(external_id) = external_id else {
        return metadata.to_string();
    };
    let mut meta: serde_json::Value = serde_json::from_str(metadata).unwrap_or_default();
    if !meta.is_object() {
        meta = serde_json::json!({});
    }
    meta["external_id"] = serde_json::Value::from(external_id);
    meta.to_string()
}

/// A stored row with its sealed values opened.
fn opened(cipher: &OrgCipher, mut c: Conversation) -> Result<Conversation, KeyError> {
    open_in_place(cipher, &mut c)?;
    Ok(c)
}

/// Opens a stored row's sealed values where they are (on an error, some may be open).
fn open_in_place(cipher: &OrgCipher, c: &mut Conversation) -> Result<(), KeyError> {
    c.metadata = cipher.open("conversations", "metadata", &c.id, &c.metadata)?;
    c.channels = cipher.open("conversations", "channels", &c.id, &c.channels)?;
    if let Some(m) = &c.metrics {
        c.metrics = Some(cipher.open("conversations", "metrics", &c.id, m)?);
    }
    if c.external_id.is_some() {
        let meta: serde_json::Value = serde_json::from_str(&c.metadata).unwrap_or_default();
        c.external_id = meta["external_id"].as_str().map(str::to_string);
    }
    Ok(())
}

pub fn get(
    conn: &mut DbConn,
    cipher: &OrgCipher,
    id: &str,
) -> Result<Option<Conversation>, KeyError> {
    get_sealed(conn, &cipher.org_id, id)?
        .map(|c| opened(cipher, c))
        .transpose()
}

/// The conversation row as stored (metadata still sealed): for work that does not
/// read content, such as key rotation.
pub fn get_sealed(conn: &mut DbConn, org_id: &str, id: &str) -> QueryResult<Option<Conversation>> {
    conversations::table
        .filter(conversations::org_id.eq(org_id))
        .filter(conversations::id.eq(id))
        .select(Conversation::as_select())
        .first(conn)
        .optional()
}

/// Ids of all conversations of an org, oldest first.
pub fn ids_of_org(conn: &mut DbConn, org_id: &str) -> QueryResult<Vec<String>> {
    conversations::table
        .filter(conversations::org_id.eq(org_id))
        .order((conversations::created_at.asc(), conversations::id.asc()))
        .select(conversations::id)
        .load(conn)
}

/// The conversation already holding this content or this (source, external id).
pub fn find_duplicate(
    conn: &mut DbConn,
    cipher: &OrgCipher,
    sha256: &str,
    source: &str,
    external_id: Option<&str>,
) -> QueryResult<Option<Conversation>> {
    let org_id = cipher.org_id.as_str();
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
        .filter(conversations::external_id.eq(external_tag(cipher, external_id)))
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
    /// Paging: created strictly before this time.
    pub before: Option<String>,
    /// Only conversations with a hit of this tracker.
    pub tracker_id: Option<String>,
    /// Only conversations whose transcript (or subject) holds every term of this
    /// text, matched exactly through the blind index, case- and punctuation-blind.
    pub text: Option<String>,
    /// Only conversations with a participant of this e-mail address or phone number.
    pub participant: Option<String>,
    pub limit: i64,
}

pub fn list(
    conn: &mut DbConn,
    cipher: &OrgCipher,
    f: &ListFilter,
) -> Result<Vec<Conversation>, KeyError> {
    let org_id = cipher.org_id.as_str();
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
    if let Some(v) = &f.before {
        q = q.filter(conversations::created_at.lt(v.clone()));
    }
    if let Some(v) = &f.tracker_id {
        let hit = super::schema::tracker_hits::table
            .filter(super::schema::tracker_hits::org_id.eq(org_id.to_string()))
            .filter(super::schema::tracker_hits::tracker_id.eq(v.clone()))
            .select(super::schema::tracker_hits::conversation_id);
        q = q.filter(conversations::id.eq_any(hit));
    }
    let mut tags: Vec<String> = f
        .text
        .as_deref()
        .map(search::terms)
        .unwrap_or_default()
        .iter()
        .map(|t| cipher.blind("term", t))
        .collect();
    if let Some(p) = &f.participant {
        let tag = match (search::email(p), search::phone(p)) {
            (Some(e), _) => cipher.blind("email", &e),
            (None, Some(n)) => cipher.blind("phone", &n),
            // Neither an address nor a number: matches nothing.
            (None, None) => String::from("-"),
        };
        tags.push(tag);
    }
    for tag in tags {
        let tagged = blind_index::table
            .filter(blind_index::org_id.eq(org_id.to_string()))
            .filter(blind_index::tag.eq(tag))
            .select(blind_index::conversation_id);
        q = q.filter(conversations::id.eq_any(tagged));
    }
    Ok(q
        .order(conversations::created_at.desc())
        .limit(f.limit)
        .select(Conversation::as_select())
        .load(conn)?
        .into_iter()
        .map(|mut c| {
            // One altered value spoils its own item, not the whole list.
            if let Err(e) = open_in_place(cipher, &mut c) {
                tracing::error!(conversation = %c.id, error = %e, "conversation fails its integrity check");
                c.metadata = DAMAGED.to_string();
                c.channels = "[]".into();
                c.metrics = None;
                c.external_id = None;
            }
            c
        })
        .collect())
}

/// The metadata a listed conversation carries when its sealed values fail their
/// integrity check (opened metadata is always a JSON object, never empty).
pub const DAMAGED: &str = "";

impl Conversation {
    /// Listed with values that failed their integrity check (see [`DAMAGED`]).
    pub fn is_damaged(&self) -> bool {
        self.metadata == DAMAGED
    }
}

/// Segments as stored (text sealed).
pub fn segments_sealed(conn: &mut DbConn, org_id: &str, id: &str) -> QueryResult<Vec<SegmentRow>> {
    segments::table
        .filter(segments::org_id.eq(org_id))
        .filter(segments::conversation_id.eq(id))
        .order(segments::seq.asc())
        .select(SegmentRow::as_select())
        .load(conn)
}

pub fn segments_of(
    conn: &mut DbConn,
    cipher: &OrgCipher,
    id: &str,
) -> Result<Vec<SegmentRow>, KeyError> {
    segments_sealed(conn, &cipher.org_id, id)?
        .into_iter()
        .map(|mut s| {
            s.text = cipher.open("segments", "text", &s.id, &s.text)?;
            s.speaker = cipher.open("segments", "speaker", &s.id, &s.speaker)?;
            Ok(s)
        })
        .collect()
}

/// Re-seals a conversation's values under the org's active key (key rotation);
/// returns how many values changed.
pub fn reseal(conn: &mut DbConn, cipher: &OrgCipher, id: &str) -> Result<usize, KeyError> {
    let mut changed = 0;
    if let Some(c) = get_sealed(conn, &cipher.org_id, id)? {
        let one = conversations::table.filter(conversations::id.eq(id));
        if let Some(sealed) = cipher.reseal("conversations", "metadata", id, &c.metadata)? {
            diesel::update(one)
                .set(conversations::metadata.eq(sealed))
                .execute(conn)?;
            changed += 1;
        }
        if let Some(sealed) = cipher.reseal("conversations", "channels", id, &c.channels)? {
            diesel::update(one)
                .set(conversations::channels.eq(sealed))
                .execute(conn)?;
            changed += 1;
        }
        if let Some(m) = &c.metrics {
            if let Some(sealed) = cipher.reseal("conversations", "metrics", id, m)? {
                diesel::update(one)
                    .set(conversations::metrics.eq(sealed))
                    .execute(conn)?;
                changed += 1;
            }
        }
    }
    for s in segments_sealed(conn, &cipher.org_id, id)? {
        let one = segments::table.filter(segments::id.eq(&s.id));
        if let Some(sealed) = cipher.reseal("segments", "text", &s.id, &s.text)? {
            diesel::update(one)
                .set(segments::text.eq(sealed))
                .execute(conn)?;
            changed += 1;
        }
        if let Some(sealed) = cipher.reseal("segments", "speaker", &s.id, &s.speaker)? {
            diesel::update(one)
                .set(segments::speaker.eq(sealed))
                .execute(conn)?;
            changed += 1;
        }
    }
    changed += super::trackers::reseal_hits(conn, cipher, id)?;
    Ok(changed)
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

/// Stores the processed result at once: segments (sealed) replace any earlier
/// attempt's, and their terms join the blind index.
pub fn store_result(
    conn: &mut DbConn,
    cipher: &OrgCipher,
    id: &str,
    p: &Processed,
) -> Result<(), KeyError> {
    let org_id = cipher.org_id.as_str();
    let mut sealed = Vec::with_capacity(p.segments.len());
    let mut tags = BTreeSet::new();
    for row in &p.segments {
        let mut s = row.clone();
        s.org_id = org_id.to_string();
        s.text = cipher.seal("segments", "text", &s.id, &row.text)?;
        s.speaker = cipher.seal("segments", "speaker", &s.id, &row.speaker)?;
        tags.extend(
            search::terms(&row.text)
                .iter()
                .map(|t| cipher.blind("term", t)),
        );
        sealed.push(s);
    }
    let channels = serde_json::to_string(&p.channels).unwrap_or_default();
    let channels = cipher.seal("conversations", "channels", id, &channels)?;
    let metrics = cipher.seal("conversations", "metrics", id, &p.metrics)?;
    let hits = super::trackers::sealed(cipher, &p.tracker_hits)?;
    conn.transaction(|conn| {
        diesel::delete(
            segments::table
                .filter(segments::org_id.eq(org_id))
                .filter(segments::conversation_id.eq(id)),
        )
        .execute(conn)?;
        super::trackers::replace_hits(conn, org_id, id, &hits)?;
        // One row per statement: batch inserts are not portable across the backends.
        for row in &sealed {
            diesel::insert_into(segments::table)
                .values(row)
                .execute(conn)?;
        }
        super::blind_index::add(conn, org_id, id, &tags)?;
        diesel::update(
            conversations::table
                .filter(conversations::org_id.eq(org_id))
                .filter(conversations::id.eq(id)),
        )
        .set((
            conversations::state.eq("ready"),
            conversations::language.eq(&p.language),
            conversations::duration_seconds.eq(p.duration),
            conversations::channels.eq(&channels),
            conversations::metrics.eq(Some(&metrics)),
            conversations::redactions.eq(&p.redactions),
        ))
        .execute(conn)?;
        Ok(())
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

/// Ids of the org's processed conversations created in `[from, to)` (either open).
pub fn ready_ids(
    conn: &mut DbConn,
    org_id: &str,
    from: Option<&str>,
    to: Option<&str>,
) -> QueryResult<Vec<String>> {
    let mut q = conversations::table
        .filter(conversations::org_id.eq(org_id))
        .filter(conversations::state.eq("ready"))
        .into_boxed();
    if let Some(f) = from {
        q = q.filter(conversations::created_at.ge(f.to_string()));
    }
    if let Some(t) = to {
        q = q.filter(conversations::created_at.lt(t.to_string()));
    }
    q.order(conversations::created_at.asc())
        .select(conversations::id)
        .load(conn)
}

/// Replaces one segment's text (sealed here); for rectification and erasure.
pub fn set_segment_text(
    conn: &mut DbConn,
    cipher: &OrgCipher,
    segment_id: &str,
    text: &str,
) -> Result<usize, KeyError> {
    let sealed = cipher.seal("segments", "text", segment_id, text)?;
    Ok(diesel::update(
        segments::table
            .filter(segments::org_id.eq(&cipher.org_id))
            .filter(segments::id.eq(segment_id)),
    )
    .set(segments::text.eq(sealed))
    .execute(conn)?)
}

/// Replaces a conversation's metadata (sealed here) and adds the tags of what it
/// now holds.
pub fn set_metadata(
    conn: &mut DbConn,
    cipher: &OrgCipher,
    id: &str,
    metadata: &str,
) -> Result<usize, KeyError> {
    let sealed = cipher.seal("conversations", "metadata", id, metadata)?;
    let n = super::retention::set_metadata(conn, &cipher.org_id, id, &sealed)?;
    super::blind_index::add(conn, &cipher.org_id, id, &metadata_tags(cipher, metadata))?;
    Ok(n)
}

/// Whether a conversation of this source and external id exists (a connector's
/// "already imported").
pub fn has_external(
    conn: &mut DbConn,
    cipher: &OrgCipher,
    source: &str,
    external_id: &str,
) -> QueryResult<bool> {
    let n: i64 = conversations::table
        .filter(conversations::org_id.eq(&cipher.org_id))
        .filter(conversations::source.eq(source))
        .filter(conversations::external_id.eq(external_tag(cipher, external_id)))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}
