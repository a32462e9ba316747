//! Integrations of an org. Credentials are sealed under the org's data key and are
//! only opened for the connector that uses them; reads for people show their names.

use super::schema::integrations;
use super::DbConn;
use crate::keys::{KeyError, OrgCipher};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = integrations)]
pub struct Integration {
    pub id: String,
    pub org_id: String,
    /// e.g. `zendesk`, `s3`, `slack`.
    pub kind: String,
    pub name: String,
    /// JSON object, not secret (host, subdomain, bucket…).
    pub settings: String,
    /// JSON array of the credential fields set (never their values).
    pub credential_names: String,
    /// Sealed JSON object of the credential values.
    pub credentials: String,
    pub created_at: String,
    pub updated_at: String,
}

/// Inserts `row` whose `credentials` hold the plaintext JSON; it is sealed here.
pub fn insert(conn: &mut DbConn, cipher: &OrgCipher, row: &Integration) -> Result<(), KeyError> {
    let mut sealed = row.clone();
    sealed.org_id = cipher.org_id.clone();
    sealed.credentials = cipher.seal("integrations", "credentials", &row.id, &row.credentials)?;
    diesel::insert_into(integrations::table)
        .values(&sealed)
        .execute(conn)?;
    Ok(())
}

/// The org's integrations, credentials still sealed.
pub fn list(conn: &mut DbConn, org_id: &str) -> QueryResult<Vec<Integration>> {
    integrations::table
        .filter(integrations::org_id.eq(org_id))
        .order(integrations::name.asc())
        .select(Integration::as_select())
        .load(conn)
}

pub fn get(conn: &mut DbConn, org_id: &str, id: &str) -> QueryResult<Option<Integration>> {
    integrations::table
        .filter(integrations::org_id.eq(org_id))
        .filter(integrations::id.eq(id))
        .select(Integration::as_select())
        .first(conn)
        .optional()
}

/// The opened credentials of one integration (for its connector).
pub fn credentials(
    conn: &mut DbConn,
    cipher: &OrgCipher,
    id: &str,
) -> Result<Option<String>, KeyError> {
    let Some(row) = get(conn, &cipher.org_id, id)? else {
        return Ok(None);
    };
    Ok(Some(cipher.open(
        "integrations",
        "credentials",
        id,
        &row.credentials,
    )?))
}

/// Replaces the credentials (plaintext JSON, sealed here) and their names.
pub fn set_credentials(
    conn: &mut DbConn,
    cipher: &OrgCipher,
    id: &str,
    names: &str,
    plain: &str,
    now: &str,
) -> Result<usize, KeyError> {
    let sealed = cipher.seal("integrations", "credentials", id, plain)?;
    Ok(diesel::update(
        integrations::table
            .filter(integrations::org_id.eq(&cipher.org_id))
            .filter(integrations::id.eq(id)),
    )
    .set((
        integrations::credentials.eq(sealed),
        integrations::credential_names.eq(names),
        integrations::updated_at.eq(now),
    ))
    .execute(conn)?)
}

pub fn delete(conn: &mut DbConn, org_id: &str, id: &str) -> QueryResult<usize> {
    diesel::delete(
        integrations::table
            .filter(integrations::org_id.eq(org_id))
            .filter(integrations::id.eq(id)),
    )
    .execute(conn)
}

/// Re-seals every integration's credentials under the org's active key (rotation).
pub fn reseal_all(conn: &mut DbConn, cipher: &OrgCipher) -> Result<usize, KeyError> {
    let mut changed = 0;
    for row in list(conn, &cipher.org_id)? {
        if let Some(sealed) =
            cipher.reseal("integrations", "credentials", &row.id, &row.credentials)?
        {
            diesel::update(integrations::table.filter(integrations::id.eq(&row.id)))
                .set(integrations::credentials.eq(sealed))
                .execute(conn)?;
            changed += 1;
        }
    }
    Ok(changed)
}

/// The webhook receiver of this id, in whichever org (a sender names only the id).
pub fn receiver(conn: &mut DbConn, id: &str) -> QueryResult<Option<Integration>> {
    integrations::table
        .filter(integrations::id.eq(id))
        .filter(integrations::kind.eq("webhook"))
        .select(Integration::as_select())
        .first(conn)
        .optional()
}
