//! The blind index: opaque HMAC tags (`keys::OrgCipher::blind`) per conversation, so
//! exact terms, e-mail addresses and phone numbers are found without plaintext.

use super::schema::blind_index;
use super::DbConn;
use diesel::prelude::*;
use std::collections::BTreeSet;

#[derive(Insertable)]
#[diesel(table_name = blind_index)]
struct Tag<'a> {
    org_id: &'a str,
    conversation_id: &'a str,
    tag: &'a str,
}

/// Adds tags to a conversation (existing ones are kept).
pub fn add(
    conn: &mut DbConn,
    org_id: &str,
    conversation_id: &str,
    tags: &BTreeSet<String>,
) -> QueryResult<()> {
    let have: BTreeSet<String> = blind_index::table
        .filter(blind_index::org_id.eq(org_id))
        .filter(blind_index::conversation_id.eq(conversation_id))
        .select(blind_index::tag)
        .load::<String>(conn)?
        .into_iter()
        .collect();
    // One row per statement: batch inserts are not portable across the backends.
    for tag in tags.difference(&have) {
        diesel::insert_into(blind_index::table)
            .values(&Tag {
                org_id,
                conversation_id,
                tag,
            })
            .execute(conn)?;
    }
    Ok(())
}

/// Removes tags from a conversation (a person's, on erasure or rectification).
pub fn remove(
    conn: &mut DbConn,
    org_id: &str,
    conversation_id: &str,
    tags: &BTreeSet<String>,
) -> QueryResult<usize> {
    diesel::delete(
        blind_index::table
            .filter(blind_index::org_id.eq(org_id))
            .filter(blind_index::conversation_id.eq(conversation_id))
            .filter(blind_index::tag.eq_any(tags.iter().cloned().collect::<Vec<_>>())),
    )
    .execute(conn)
}
