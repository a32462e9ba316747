//! The installation row: a stable id for this deployment, created by the first start.

use super::schema::installation;
use super::DbConn;
use chrono::{DateTime, Utc};
use diesel::prelude::*;

/// This deployment's identity.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = installation)]
pub struct Installation {
    #[serde(skip)]
    pub id: i32,
    pub installation_id: String,
    pub created_at: String,
}

/// Returns the installation row, creating it on first call (`now` is passed in).
pub fn ensure(conn: &mut DbConn, now: DateTime<Utc>) -> QueryResult<Installation> {
    conn.transaction(|conn| {
        if let Some(found) = installation::table
            .select(Installation::as_select())
            .first(conn)
            .optional()?
        {
            return Ok(found);
        }
        let row = Installation {
            id: 1,
            installation_id: uuid::Uuid::new_v4().to_string(),
            created_at: now.to_rfc3339(),
        };
        diesel::insert_into(installation::table)
            .values(&row)
            .execute(conn)?;
        Ok(row)
    })
}
