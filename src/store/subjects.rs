//! Data subjects (the people in conversations), their blind-index tags, their links
//! to conversations, and their requests. Personal fields are stored sealed under the
//! subject's own key (`keys::SubjectCipher`); every query takes the org.

use super::schema::{subject_links, subject_requests, subject_tags, subjects};
use super::DbConn;
use diesel::prelude::*;

/// Sealed (name, e-mail, phone) of a subject.
pub type SealedFields = (Option<String>, Option<String>, Option<String>);

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = subjects)]
pub struct SubjectRow {
    pub id: String,
    pub org_id: String,
    /// `customer`, `prospect` or `agent`.
    pub kind: String,
    /// Sealed under the subject's key.
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub ai_opt_out: bool,
    pub restricted: bool,
    pub created_at: String,
    pub erased_at: Option<String>,
}

pub fn insert(conn: &mut DbConn, row: &SubjectRow) -> QueryResult<()> {
    diesel::insert_into(subjects::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

pub fn get(conn: &mut DbConn, org_id: &str, id: &str) -> QueryResult<Option<SubjectRow>> {
    subjects::table
        .filter(subjects::org_id.eq(org_id))
        .filter(subjects::id.eq(id))
        .select(SubjectRow::as_select())
        .first(conn)
        .optional()
}

/// Replaces the sealed personal fields.
pub fn set_fields(
    conn: &mut DbConn,
    org_id: &str,
    id: &str,
    fields: SealedFields,
) -> QueryResult<usize> {
    diesel::update(
        subjects::table
            .filter(subjects::org_id.eq(org_id))
            .filter(subjects::id.eq(id)),
    )
    .set((
        subjects::name.eq(fields.0),
        subjects::email.eq(fields.1),
        subjects::phone.eq(fields.2),
    ))
    .execute(conn)
}

pub fn set_flags(
    conn: &mut DbConn,
    org_id: &str,
    id: &str,
    ai_opt_out: bool,
    restricted: bool,
) -> QueryResult<usize> {
    diesel::update(
        subjects::table
            .filter(subjects::org_id.eq(org_id))
            .filter(subjects::id.eq(id)),
    )
    .set((
        subjects::ai_opt_out.eq(ai_opt_out),
        subjects::restricted.eq(restricted),
    ))
    .execute(conn)
}

/// Marks a subject erased: no personal field, no tag, no link is left.
pub fn mark_erased(conn: &mut DbConn, org_id: &str, id: &str, now: &str) -> QueryResult<usize> {
    set_fields(conn, org_id, id, (None, None, None))?;
    set_tags(conn, org_id, id, &[])?;
    diesel::delete(
        subject_links::table
            .filter(subject_links::org_id.eq(org_id))
            .filter(subject_links::subject_id.eq(id)),
    )
    .execute(conn)?;
    diesel::update(
        subjects::table
            .filter(subjects::org_id.eq(org_id))
            .filter(subjects::id.eq(id)),
    )
    .set(subjects::erased_at.eq(Some(now)))
    .execute(conn)
}

/// Replaces a subject's blind-index tags.
pub fn set_tags(conn: &mut DbConn, org_id: &str, id: &str, tags: &[String]) -> QueryResult<()> {
    diesel::delete(
        subject_tags::table
            .filter(subject_tags::org_id.eq(org_id))
            .filter(subject_tags::subject_id.eq(id)),
    )
    .execute(conn)?;
    let mut seen = std::collections::BTreeSet::new();
    for tag in tags.iter().filter(|t| seen.insert(t.as_str())) {
        diesel::insert_into(subject_tags::table)
            .values((
                subject_tags::org_id.eq(org_id),
                subject_tags::subject_id.eq(id),
                subject_tags::tag.eq(tag),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Subjects (not erased) carrying any of these tags, oldest first.
pub fn find_by_tags(
    conn: &mut DbConn,
    org_id: &str,
    tags: &[String],
) -> QueryResult<Vec<SubjectRow>> {
    let ids: Vec<String> = subject_tags::table
        .filter(subject_tags::org_id.eq(org_id))
        .filter(subject_tags::tag.eq_any(tags))
        .select(subject_tags::subject_id)
        .distinct()
        .load(conn)?;
    subjects::table
        .filter(subjects::org_id.eq(org_id))
        .filter(subjects::id.eq_any(ids))
        .filter(subjects::erased_at.is_null())
        .order((subjects::created_at.asc(), subjects::id.asc()))
        .select(SubjectRow::as_select())
        .load(conn)
}

/// Links a subject to a conversation in a role (`customer`, `agent`, `participant`).
pub fn link(
    conn: &mut DbConn,
    org_id: &str,
    subject_id: &str,
    conversation_id: &str,
    role: &str,
) -> QueryResult<()> {
    let exists = subject_links::table
        .filter(subject_links::subject_id.eq(subject_id))
        .filter(subject_links::conversation_id.eq(conversation_id))
        .count()
        .get_result::<i64>(conn)?;
    if exists == 0 {
        diesel::insert_into(subject_links::table)
            .values((
                subject_links::org_id.eq(org_id),
                subject_links::subject_id.eq(subject_id),
                subject_links::conversation_id.eq(conversation_id),
                subject_links::role.eq(role),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// (conversation id, role) of a subject's conversations.
pub fn links_of(
    conn: &mut DbConn,
    org_id: &str,
    subject_id: &str,
) -> QueryResult<Vec<(String, String)>> {
    subject_links::table
        .filter(subject_links::org_id.eq(org_id))
        .filter(subject_links::subject_id.eq(subject_id))
        .order(subject_links::conversation_id.asc())
        .select((subject_links::conversation_id, subject_links::role))
        .load(conn)
}

pub fn unlink(
    conn: &mut DbConn,
    org_id: &str,
    subject_id: &str,
    conversation_id: &str,
) -> QueryResult<usize> {
    diesel::delete(
        subject_links::table
            .filter(subject_links::org_id.eq(org_id))
            .filter(subject_links::subject_id.eq(subject_id))
            .filter(subject_links::conversation_id.eq(conversation_id)),
    )
    .execute(conn)
}

/// Whether anyone in a conversation opted out of AI processing or had processing
/// restricted.
pub fn any_opted_out(conn: &mut DbConn, org_id: &str, conversation_id: &str) -> QueryResult<bool> {
    let ids = subject_links::table
        .filter(subject_links::org_id.eq(org_id))
        .filter(subject_links::conversation_id.eq(conversation_id))
        .select(subject_links::subject_id);
    let n: i64 = subjects::table
        .filter(subjects::org_id.eq(org_id))
        .filter(subjects::id.eq_any(ids))
        .filter(
            subjects::ai_opt_out
                .eq(true)
                .or(subjects::restricted.eq(true)),
        )
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Subjects that no conversation mentions any more and nothing holds (the purge
/// removes them with the last transcript that named them).
pub fn orphans(
    conn: &mut DbConn,
    org_id: &str,
    keep: &[String],
    limit: i64,
) -> QueryResult<Vec<String>> {
    let linked = subject_links::table
        .filter(subject_links::org_id.eq(org_id))
        .select(subject_links::subject_id);
    let requested = subject_requests::table
        .filter(subject_requests::org_id.eq(org_id))
        .filter(subject_requests::completed_at.is_null())
        .select(subject_requests::subject_id);
    subjects::table
        .filter(subjects::org_id.eq(org_id))
        .filter(subjects::erased_at.is_null())
        .filter(subjects::id.ne_all(linked))
        .filter(subjects::id.ne_all(requested))
        .filter(subjects::id.ne_all(keep))
        .limit(limit)
        .select(subjects::id)
        .load(conn)
}

/// Deletes a subject row (its tags and links go by cascade).
pub fn delete(conn: &mut DbConn, org_id: &str, id: &str) -> QueryResult<usize> {
    diesel::delete(
        subjects::table
            .filter(subjects::org_id.eq(org_id))
            .filter(subjects::id.eq(id)),
    )
    .execute(conn)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = subject_requests)]
pub struct RequestRow {
    pub id: String,
    #[serde(skip)]
    pub org_id: String,
    pub subject_id: String,
    /// `access`, `export`, `rectification`, `erasure`, `restriction` or `ai_opt_out`.
    pub kind: String,
    /// `queued`, `running`, `done` or `failed`.
    pub state: String,
    /// Who asked (sealed under the org key).
    pub requester: String,
    pub received_at: String,
    pub due_at: String,
    /// JSON: the request's choices (erasure mode, corrections), sealed under the org key.
    #[serde(skip)]
    pub options: String,
    /// JSON: what was done, sealed under the org key.
    #[serde(skip)]
    pub result: Option<String>,
    pub progress: i32,
    #[serde(skip)]
    pub lease_until: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub completed_at: Option<String>,
}

pub fn insert_request(conn: &mut DbConn, row: &RequestRow) -> QueryResult<()> {
    diesel::insert_into(subject_requests::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

pub fn request(conn: &mut DbConn, org_id: &str, id: &str) -> QueryResult<Option<RequestRow>> {
    subject_requests::table
        .filter(subject_requests::org_id.eq(org_id))
        .filter(subject_requests::id.eq(id))
        .select(RequestRow::as_select())
        .first(conn)
        .optional()
}

/// The org's requests by deadline, open ones first;
/// only one subject's when given.
pub fn requests(
    conn: &mut DbConn,
    org_id: &str,
    subject: Option<&str>,
) -> QueryResult<Vec<RequestRow>> {
    let mut q = subject_requests::table
        .filter(subject_requests::org_id.eq(org_id))
        .into_boxed();
    if let Some(s) = subject {
        q = q.filter(subject_requests::subject_id.eq(s.to_string()));
    }
    let mut rows: Vec<RequestRow> = q
        .order(subject_requests::due_at.asc())
        .limit(1000)
        .select(RequestRow::as_select())
        .load(conn)?;
    rows.sort_by_key(|r| r.completed_at.is_some());
    Ok(rows)
}

/// Ends a request with its (sealed) result.
pub fn finish_request(
    conn: &mut DbConn,
    org_id: &str,
    id: &str,
    state: &str,
    result: &str,
    now: &str,
) -> QueryResult<usize> {
    diesel::update(
        subject_requests::table
            .filter(subject_requests::org_id.eq(org_id))
            .filter(subject_requests::id.eq(id)),
    )
    .set((
        subject_requests::state.eq(state),
        subject_requests::result.eq(Some(result)),
        subject_requests::progress.eq(100),
        subject_requests::lease_until.eq(None::<String>),
        subject_requests::completed_at.eq(Some(now)),
    ))
    .execute(conn)
}

/// Takes one queued export (or one whose worker's lease ran out) for this node.
pub fn claim_export(conn: &mut DbConn, now: &str, until: &str) -> QueryResult<Option<RequestRow>> {
    let candidates: Vec<RequestRow> = subject_requests::table
        .filter(subject_requests::kind.eq_any(["access", "export"]))
        .filter(
            subject_requests::state
                .eq("queued")
                .or(subject_requests::state
                    .eq("running")
                    .and(subject_requests::lease_until.lt(now))),
        )
        .order(subject_requests::created_at.asc())
        .limit(5)
        .select(RequestRow::as_select())
        .load(conn)?;
    for c in candidates {
        // The lease is taken only if nobody took it meanwhile.
        let taken = diesel::update(
            subject_requests::table
                .filter(subject_requests::id.eq(&c.id))
                .filter(
                    subject_requests::state
                        .eq("queued")
                        .or(subject_requests::state
                            .eq("running")
                            .and(subject_requests::lease_until.lt(now))),
                ),
        )
        .set((
            subject_requests::state.eq("running"),
            subject_requests::lease_until.eq(Some(until)),
        ))
        .execute(conn)?;
        if taken == 1 {
            return Ok(Some(c));
        }
    }
    Ok(None)
}

/// Records an export's progress and extends its lease.
pub fn progress(conn: &mut DbConn, id: &str, percent: i32, until: &str) -> QueryResult<usize> {
    diesel::update(subject_requests::table.filter(subject_requests::id.eq(id)))
        .set((
            subject_requests::progress.eq(percent.clamp(0, 99)),
            subject_requests::lease_until.eq(Some(until)),
        ))
        .execute(conn)
}

/// Ids of the org's finished access and export requests completed before `before`
/// (their archives expire).
pub fn archives_before(conn: &mut DbConn, org_id: &str, before: &str) -> QueryResult<Vec<String>> {
    subject_requests::table
        .filter(subject_requests::org_id.eq(org_id))
        .filter(subject_requests::kind.eq_any(["access", "export"]))
        .filter(subject_requests::completed_at.lt(before))
        .select(subject_requests::id)
        .load(conn)
}

/// Re-seals the org's requests (requester, options, result) under the active key
/// (key rotation); answers how many values changed.
pub fn reseal_requests(
    conn: &mut DbConn,
    cipher: &crate::keys::OrgCipher,
) -> Result<usize, crate::keys::KeyError> {
    let mut changed = 0;
    let all: Vec<RequestRow> = subject_requests::table
        .filter(subject_requests::org_id.eq(&cipher.org_id))
        .select(RequestRow::as_select())
        .load(conn)?;
    for r in all {
        let target = subject_requests::table.filter(subject_requests::id.eq(&r.id));
        if let Some(v) = cipher.reseal("subject_requests", "requester", &r.id, &r.requester)? {
            diesel::update(target)
                .set(subject_requests::requester.eq(v))
                .execute(conn)?;
            changed += 1;
        }
        if let Some(v) = cipher.reseal("subject_requests", "options", &r.id, &r.options)? {
            diesel::update(target)
                .set(subject_requests::options.eq(v))
                .execute(conn)?;
            changed += 1;
        }
        if let Some(res) = &r.result {
            if let Some(v) = cipher.reseal("subject_requests", "result", &r.id, res)? {
                diesel::update(target)
                    .set(subject_requests::result.eq(Some(v)))
                    .execute(conn)?;
                changed += 1;
            }
        }
    }
    Ok(changed)
}
