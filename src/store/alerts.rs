//! Alert rules of an org and the alerts they fired (one per rule and conversation).

use super::schema::{alert_rules, alerts};
use super::DbConn;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = alert_rules)]
pub struct Rule {
    pub id: String,
    #[serde(skip)]
    pub org_id: String,
    pub name: String,
    /// JSON condition (see `integrations::alerts::Condition`).
    #[serde(skip)]
    pub condition: String,
    pub integration_id: String,
    pub created_by: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = alerts)]
pub struct Alert {
    pub id: String,
    #[serde(skip)]
    pub org_id: String,
    pub rule_id: String,
    pub conversation_id: String,
    pub detail: String,
    /// `pending`, `sent` or `failed`.
    pub state: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: String,
    pub next_attempt_at: String,
    pub sent_at: Option<String>,
}

pub fn insert_rule(conn: &mut DbConn, rule: &Rule) -> QueryResult<usize> {
    diesel::insert_into(alert_rules::table)
        .values(rule)
        .execute(conn)
}

pub fn rules_of(conn: &mut DbConn, org_id: &str) -> QueryResult<Vec<Rule>> {
    alert_rules::table
        .filter(alert_rules::org_id.eq(org_id))
        .order(alert_rules::name.asc())
        .select(Rule::as_select())
        .load(conn)
}

pub fn rule(conn: &mut DbConn, org_id: &str, id: &str) -> QueryResult<Option<Rule>> {
    alert_rules::table
        .filter(alert_rules::org_id.eq(org_id))
        .filter(alert_rules::id.eq(id))
        .select(Rule::as_select())
        .first(conn)
        .optional()
}

pub fn delete_rule(conn: &mut DbConn, org_id: &str, id: &str) -> QueryResult<usize> {
    diesel::delete(
        alert_rules::table
            .filter(alert_rules::org_id.eq(org_id))
            .filter(alert_rules::id.eq(id)),
    )
    .execute(conn)
}

/// Records an alert unless this rule already fired for this conversation; true when new.
pub fn fire(conn: &mut DbConn, alert: &Alert) -> QueryResult<bool> {
    match diesel::insert_into(alerts::table)
        .values(alert)
        .execute(conn)
    {
        Ok(n) => Ok(n == 1),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Alerts waiting to be sent whose time has come (any org), oldest first.
pub fn due(conn: &mut DbConn, now: &str, limit: i64) -> QueryResult<Vec<Alert>> {
    alerts::table
        .filter(alerts::state.eq("pending"))
        .filter(alerts::next_attempt_at.le(now))
        .order(alerts::created_at.asc())
        .limit(limit)
        .select(Alert::as_select())
        .load(conn)
}

/// Takes a due alert for this node: its next try moves to `until`, so another node
/// does not send it too. True when this node got it.
pub fn claim(conn: &mut DbConn, id: &str, now: &str, until: &str) -> QueryResult<bool> {
    let n = diesel::update(
        alerts::table
            .filter(alerts::id.eq(id))
            .filter(alerts::state.eq("pending"))
            .filter(alerts::next_attempt_at.le(now)),
    )
    .set(alerts::next_attempt_at.eq(until))
    .execute(conn)?;
    Ok(n == 1)
}

/// Records a send: `sent`, or another try at `next` (None: given up, `failed`).
pub fn attempted(
    conn: &mut DbConn,
    id: &str,
    error: Option<&str>,
    next: Option<&str>,
    now: &str,
) -> QueryResult<usize> {
    let target = alerts::table.filter(alerts::id.eq(id));
    match (error, next) {
        (None, _) => diesel::update(target)
            .set((
                alerts::state.eq("sent"),
                alerts::attempts.eq(alerts::attempts + 1),
                alerts::sent_at.eq(now),
                alerts::last_error.eq(None::<String>),
            ))
            .execute(conn),
        (Some(e), Some(next)) => diesel::update(target)
            .set((
                alerts::attempts.eq(alerts::attempts + 1),
                alerts::last_error.eq(e),
                alerts::next_attempt_at.eq(next),
            ))
            .execute(conn),
        (Some(e), None) => diesel::update(target)
            .set((
                alerts::state.eq("failed"),
                alerts::attempts.eq(alerts::attempts + 1),
                alerts::last_error.eq(e),
            ))
            .execute(conn),
    }
}

/// The org's alerts, newest first.
pub fn history(conn: &mut DbConn, org_id: &str, limit: i64) -> QueryResult<Vec<Alert>> {
    alerts::table
        .filter(alerts::org_id.eq(org_id))
        .order((alerts::created_at.desc(), alerts::id.desc()))
        .limit(limit)
        .select(Alert::as_select())
        .load(conn)
}
