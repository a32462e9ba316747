//! Each connector's progress and health: the cursor it resumes from, items fetched,
//! last success, last error, and the lease of the node syncing it.

use super::schema::{integration_state, integrations};
use super::DbConn;
use diesel::prelude::*;

#[derive(Debug, Clone, Default, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = integration_state)]
pub struct State {
    pub integration_id: String,
    pub org_id: String,
    #[serde(skip)]
    pub cursor: Option<String>,
    pub items_fetched: i64,
    pub last_run_at: Option<String>,
    pub last_success_at: Option<String>,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    pub lease_until: Option<String>,
}

/// Creates the row of an integration if it has none.
pub fn ensure(conn: &mut DbConn, org_id: &str, integration_id: &str) -> QueryResult<()> {
    if get(conn, org_id, integration_id)?.is_some() {
        return Ok(());
    }
    let inserted = diesel::insert_into(integration_state::table)
        .values(&State {
            integration_id: integration_id.into(),
            org_id: org_id.into(),
            ..State::default()
        })
        .execute(conn);
    match inserted {
        // Another node created it meanwhile.
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(()),
        other => other.map(|_| ()),
    }
}

pub fn get(conn: &mut DbConn, org_id: &str, integration_id: &str) -> QueryResult<Option<State>> {
    integration_state::table
        .filter(integration_state::org_id.eq(org_id))
        .filter(integration_state::integration_id.eq(integration_id))
        .select(State::as_select())
        .first(conn)
        .optional()
}

/// Integrations of `kinds` (any org) whose sync is due: never run, asked for now, or
/// last run before `due_before`, and not leased by a live node.
pub fn due(
    conn: &mut DbConn,
    kinds: &[&str],
    due_before: &str,
    now: &str,
) -> QueryResult<Vec<(String, String)>> {
    let ids: Vec<(String, String)> = integrations::table
        .filter(integrations::kind.eq_any(kinds))
        .select((integrations::org_id, integrations::id))
        .load(conn)?;
    for (org, id) in &ids {
        ensure(conn, org, id)?;
    }
    integration_state::table
        .inner_join(integrations::table.on(integrations::id.eq(integration_state::integration_id)))
        .filter(integrations::kind.eq_any(kinds))
        .filter(
            integration_state::last_run_at
                .is_null()
                .or(integration_state::last_run_at.lt(due_before)),
        )
        .filter(
            integration_state::lease_until
                .is_null()
                .or(integration_state::lease_until.lt(now)),
        )
        .select((integration_state::org_id, integration_state::integration_id))
        .load(conn)
}

/// Takes (or renews) the lease when free; true when this node holds it.
pub fn claim(conn: &mut DbConn, integration_id: &str, now: &str, until: &str) -> QueryResult<bool> {
    let n = diesel::update(
        integration_state::table
            .filter(integration_state::integration_id.eq(integration_id))
            .filter(
                integration_state::lease_until
                    .is_null()
                    .or(integration_state::lease_until.lt(now)),
            ),
    )
    .set((
        integration_state::lease_until.eq(until),
        integration_state::last_run_at.eq(now),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Saves progress after a page: the cursor and items added; renews the lease.
pub fn advance(
    conn: &mut DbConn,
    integration_id: &str,
    cursor: Option<&str>,
    items: i64,
    until: &str,
) -> QueryResult<usize> {
    diesel::update(
        integration_state::table.filter(integration_state::integration_id.eq(integration_id)),
    )
    .set((
        integration_state::cursor.eq(cursor),
        integration_state::items_fetched.eq(integration_state::items_fetched + items),
        integration_state::lease_until.eq(until),
    ))
    .execute(conn)
}

/// Ends a run: records its success or its error and frees the lease.
pub fn finish(
    conn: &mut DbConn,
    integration_id: &str,
    error: Option<&str>,
    now: &str,
) -> QueryResult<usize> {
    let target =
        integration_state::table.filter(integration_state::integration_id.eq(integration_id));
    match error {
        None => diesel::update(target)
            .set((
                integration_state::last_success_at.eq(now),
                integration_state::last_error.eq(None::<String>),
                integration_state::lease_until.eq(None::<String>),
            ))
            .execute(conn),
        Some(e) => diesel::update(target)
            .set((
                integration_state::last_error.eq(e),
                integration_state::last_error_at.eq(now),
                integration_state::lease_until.eq(None::<String>),
            ))
            .execute(conn),
    }
}

/// Records a failed "test connection" as the last error (a success changes nothing:
/// the last success is the last good sync).
pub fn test_failed(
    conn: &mut DbConn,
    org_id: &str,
    integration_id: &str,
    error: &str,
    now: &str,
) -> QueryResult<usize> {
    ensure(conn, org_id, integration_id)?;
    diesel::update(
        integration_state::table
            .filter(integration_state::org_id.eq(org_id))
            .filter(integration_state::integration_id.eq(integration_id)),
    )
    .set((
        integration_state::last_error.eq(error),
        integration_state::last_error_at.eq(now),
    ))
    .execute(conn)
}

/// Asks for a sync at the next look ("sync now").
pub fn request_now(conn: &mut DbConn, org_id: &str, integration_id: &str) -> QueryResult<usize> {
    ensure(conn, org_id, integration_id)?;
    diesel::update(
        integration_state::table
            .filter(integration_state::org_id.eq(org_id))
            .filter(integration_state::integration_id.eq(integration_id)),
    )
    .set(integration_state::last_run_at.eq(None::<String>))
    .execute(conn)
}

/// Frees the lease of a sync cut short, due again at once (the next start resumes).
pub fn release(conn: &mut DbConn, integration_id: &str) -> QueryResult<usize> {
    diesel::update(
        integration_state::table.filter(integration_state::integration_id.eq(integration_id)),
    )
    .set((
        integration_state::lease_until.eq(None::<String>),
        integration_state::last_run_at.eq(None::<String>),
    ))
    .execute(conn)
}
