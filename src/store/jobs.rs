//! The durable job queue: one row per processing job, claimed with an expiring lease
//! so a crashed process's jobs are taken up again. Reads by API take the org id.

use super::schema::jobs;
use super::DbConn;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = jobs)]
pub struct Job {
    pub id: String,
    pub org_id: String,
    pub conversation_id: String,
    /// `queued`, `running`, `done`, `failed`, `cancelled`.
    pub state: String,
    /// `queued`, `decode`, `transcribe`, `redact`, `measure`, `done`.
    pub stage: String,
    pub progress: i32,
    pub attempts: i32,
    #[serde(skip)]
    pub lease_owner: Option<String>,
    #[serde(skip)]
    pub lease_expires_at: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub finished_at: Option<String>,
    /// `process` (a conversation through every stage) or `analyze` (its analysis
    /// again, e.g. re-scoring with one template version named in `params`).
    pub kind: String,
    /// JSON: what an `analyze` job does (`{"template_id":…,"version":…}`).
    #[serde(skip)]
    pub params: Option<String>,
    /// Jobs queued together (a re-score over past conversations) share this id.
    pub batch_id: Option<String>,
}

pub fn insert(conn: &mut DbConn, job: &Job) -> QueryResult<()> {
    diesel::insert_into(jobs::table)
        .values(job)
        .execute(conn)
        .map(drop)
}

pub fn get(conn: &mut DbConn, org_id: &str, id: &str) -> QueryResult<Option<Job>> {
    jobs::table
        .filter(jobs::org_id.eq(org_id))
        .filter(jobs::id.eq(id))
        .select(Job::as_select())
        .first(conn)
        .optional()
}

/// The newest job of a conversation (a retry adds none: it re-queues the same row).
pub fn of_conversation(
    conn: &mut DbConn,
    org_id: &str,
    conversation_id: &str,
) -> QueryResult<Option<Job>> {
    jobs::table
        .filter(jobs::org_id.eq(org_id))
        .filter(jobs::conversation_id.eq(conversation_id))
        .order(jobs::created_at.desc())
        .select(Job::as_select())
        .first(conn)
        .optional()
}

pub fn list(
    conn: &mut DbConn,
    org_id: &str,
    state: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<Job>> {
    let mut q = jobs::table.filter(jobs::org_id.eq(org_id)).into_boxed();
    if let Some(s) = state {
        q = q.filter(jobs::state.eq(s.to_string()));
    }
    q.order(jobs::created_at.desc())
        .limit(limit)
        .select(Job::as_select())
        .load(conn)
}

/// Jobs of a batch per state.
pub fn batch_counts(
    conn: &mut DbConn,
    org_id: &str,
    batch: &str,
) -> QueryResult<Vec<(String, i64)>> {
    jobs::table
        .filter(jobs::org_id.eq(org_id))
        .filter(jobs::batch_id.eq(batch))
        .group_by(jobs::state)
        .select((jobs::state, diesel::dsl::count_star()))
        .load(conn)
}

/// An org's jobs per state (the dashboard's queue).
pub fn state_counts(conn: &mut DbConn, org_id: &str) -> QueryResult<Vec<(String, i64)>> {
    jobs::table
        .filter(jobs::org_id.eq(org_id))
        .group_by(jobs::state)
        .select((jobs::state, diesel::dsl::count_star()))
        .load(conn)
}

/// Jobs per state, across all orgs (for `/metrics`).
/// How many of an org's jobs are running now.
pub fn running_count(conn: &mut DbConn, org_id: &str) -> QueryResult<i64> {
    jobs::table
        .filter(jobs::org_id.eq(org_id))
        .filter(jobs::state.eq("running"))
        .count()
        .get_result(conn)
}

pub fn depth(conn: &mut DbConn) -> QueryResult<Vec<(String, i64)>> {
    jobs::table
        .group_by(jobs::state)
        .select((jobs::state, diesel::dsl::count_star()))
        .load(conn)
}

/// Takes the oldest job that is queued or whose lease ran out, for `owner` until
/// `lease_until`; counts the attempt. `None` when there is nothing to do. Safe between
/// processes: the update only wins if the row is still claimable.
pub fn claim(
    conn: &mut DbConn,
    owner: &str,
    now: &str,
    lease_until: &str,
) -> QueryResult<Option<Job>> {
    let claimable = jobs::state.eq("queued").or(jobs::state
        .eq("running")
        .and(jobs::lease_expires_at.lt(now)));
    loop {
        let Some(candidate) = jobs::table
            .filter(claimable)
            .order(jobs::created_at.asc())
            .select(Job::as_select())
            .first(conn)
            .optional()?
        else {
            return Ok(None);
        };
        let won = diesel::update(
            jobs::table
                .filter(jobs::id.eq(&candidate.id))
                .filter(jobs::attempts.eq(candidate.attempts))
                .filter(claimable),
        )
        .set((
            jobs::state.eq("running"),
            jobs::lease_owner.eq(owner),
            jobs::lease_expires_at.eq(lease_until),
            jobs::attempts.eq(candidate.attempts + 1),
            jobs::updated_at.eq(now),
        ))
        .execute(conn)?;
        if won == 1 {
            return jobs::table
                .find(&candidate.id)
                .select(Job::as_select())
                .first(conn)
                .optional();
        }
    }
}

/// Progress of a job this owner holds; extends the lease. 0 rows: the lease was lost
/// (or the job cancelled) and the holder must stop.
pub fn heartbeat(
    conn: &mut DbConn,
    id: &str,
    owner: &str,
    stage: &str,
    progress: i32,
    now: &str,
    lease_until: &str,
) -> QueryResult<usize> {
    diesel::update(
        jobs::table
            .filter(jobs::id.eq(id))
            .filter(jobs::lease_owner.eq(owner))
            .filter(jobs::state.eq("running")),
    )
    .set((
        jobs::stage.eq(stage),
        jobs::progress.eq(progress),
        jobs::updated_at.eq(now),
        jobs::lease_expires_at.eq(lease_until),
    ))
    .execute(conn)
}

/// Extends the lease of a job this owner still holds; 0 rows: it is no longer ours
/// (cancelled, or taken over after the lease ran out).
pub fn renew(conn: &mut DbConn, id: &str, owner: &str, lease_until: &str) -> QueryResult<usize> {
    diesel::update(
        jobs::table
            .filter(jobs::id.eq(id))
            .filter(jobs::lease_owner.eq(owner))
            .filter(jobs::state.eq("running")),
    )
    .set(jobs::lease_expires_at.eq(lease_until))
    .execute(conn)
}

/// Ends a job this owner holds: `done`, or `failed` with a code and message.
pub fn finish(
    conn: &mut DbConn,
    id: &str,
    owner: &str,
    error: Option<(&str, &str)>,
    now: &str,
) -> QueryResult<usize> {
    let (state, stage, progress) = match error {
        None => ("done", "done", 100),
        Some(_) => ("failed", "failed", 0),
    };
    let q = jobs::table
        .filter(jobs::id.eq(id))
        .filter(jobs::lease_owner.eq(owner))
        .filter(jobs::state.eq("running"));
    let common = (
        jobs::state.eq(state),
        jobs::updated_at.eq(now),
        jobs::finished_at.eq(now),
        jobs::lease_expires_at.eq(None::<String>),
        jobs::error_code.eq(error.map(|e| e.0)),
        jobs::error_message.eq(error.map(|e| e.1)),
    );
    if error.is_none() {
        diesel::update(q)
            .set((common, jobs::stage.eq(stage), jobs::progress.eq(progress)))
            .execute(conn)
    } else {
        diesel::update(q).set(common).execute(conn)
    }
}

/// Cancels a queued or running job of this org; 0 rows: unknown or already ended.
pub fn cancel(conn: &mut DbConn, org_id: &str, id: &str, now: &str) -> QueryResult<usize> {
    diesel::update(
        jobs::table
            .filter(jobs::org_id.eq(org_id))
            .filter(jobs::id.eq(id))
            .filter(jobs::state.eq_any(["queued", "running"])),
    )
    .set((
        jobs::state.eq("cancelled"),
        jobs::updated_at.eq(now),
        jobs::finished_at.eq(now),
        jobs::lease_expires_at.eq(None::<String>),
    ))
    .execute(conn)
}

/// Queues a failed or cancelled job of this org again, with fresh attempts.
pub fn retry(conn: &mut DbConn, org_id: &str, id: &str, now: &str) -> QueryResult<usize> {
    diesel::update(
        jobs::table
            .filter(jobs::org_id.eq(org_id))
            .filter(jobs::id.eq(id))
            .filter(jobs::state.eq_any(["failed", "cancelled"])),
    )
    .set((
        jobs::state.eq("queued"),
        jobs::stage.eq("queued"),
        jobs::progress.eq(0),
        jobs::attempts.eq(0),
        jobs::lease_owner.eq(None::<String>),
        jobs::error_code.eq(None::<String>),
        jobs::error_message.eq(None::<String>),
        jobs::updated_at.eq(now),
        jobs::finished_at.eq(None::<String>),
    ))
    .execute(conn)
}
