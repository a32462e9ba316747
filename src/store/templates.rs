//! Scorecard templates and custom insights, versioned: each change is a new row with
//! the next version of the same `template_id`; results name the version they used.
//! Definitions are the org's configuration, not customer data, and stored in clear.

use super::schema::templates;
use super::DbConn;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = templates)]
pub struct TemplateRow {
    #[serde(skip)]
    pub id: String,
    #[serde(skip)]
    pub org_id: String,
    #[serde(rename = "id")]
    pub template_id: String,
    /// `scorecard` or `insight`.
    pub kind: String,
    pub version: i32,
    pub name: String,
    /// JSON: `domain::scorecard::Template` or `domain::insight::Insight`.
    #[serde(serialize_with = "as_json")]
    pub definition: String,
    pub created_by: Option<String>,
    pub created_at: String,
    pub retired_at: Option<String>,
}

fn as_json<S: serde::Serializer>(v: &str, s: S) -> Result<S::Ok, S::Error> {
    use serde::Serialize;
    serde_json::from_str::<serde_json::Value>(v)
        .unwrap_or_default()
        .serialize(s)
}

pub fn insert(conn: &mut DbConn, row: &TemplateRow) -> QueryResult<()> {
    diesel::insert_into(templates::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// Every version of one template, newest first.
pub fn versions(
    conn: &mut DbConn,
    org_id: &str,
    kind: &str,
    template_id: &str,
) -> QueryResult<Vec<TemplateRow>> {
    templates::table
        .filter(templates::org_id.eq(org_id))
        .filter(templates::kind.eq(kind))
        .filter(templates::template_id.eq(template_id))
        .order(templates::version.desc())
        .select(TemplateRow::as_select())
        .load(conn)
}

/// One version (`None`: the newest).
pub fn get(
    conn: &mut DbConn,
    org_id: &str,
    kind: &str,
    template_id: &str,
    version: Option<i32>,
) -> QueryResult<Option<TemplateRow>> {
    Ok(versions(conn, org_id, kind, template_id)?
        .into_iter()
        .find(|r| version.map_or(true, |v| r.version == v)))
}

/// The newest version of each of the org's templates of `kind` that is not retired.
pub fn current(conn: &mut DbConn, org_id: &str, kind: &str) -> QueryResult<Vec<TemplateRow>> {
    let rows: Vec<TemplateRow> = templates::table
        .filter(templates::org_id.eq(org_id))
        .filter(templates::kind.eq(kind))
        .order((templates::template_id.asc(), templates::version.desc()))
        .select(TemplateRow::as_select())
        .load(conn)?;
    let mut out: Vec<TemplateRow> = Vec::new();
    for r in rows {
        if out.last().is_some_and(|l| l.template_id == r.template_id) {
            continue;
        }
        out.push(r);
    }
    out.retain(|r| r.retired_at.is_none());
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Retires every version of a template (results keep naming them); 0: not found.
pub fn retire(
    conn: &mut DbConn,
    org_id: &str,
    kind: &str,
    template_id: &str,
    now: &str,
) -> QueryResult<usize> {
    diesel::update(
        templates::table
            .filter(templates::org_id.eq(org_id))
            .filter(templates::kind.eq(kind))
            .filter(templates::template_id.eq(template_id))
            .filter(templates::retired_at.is_null()),
    )
    .set(templates::retired_at.eq(now))
    .execute(conn)
}
