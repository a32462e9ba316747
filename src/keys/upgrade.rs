//! One-time sealing of values that versions before 2026-12-07 stored in clear: speaker
//! names (a conversation's channels and metrics, segments, tracker hits), external
//! ids (now a blind tag in their column, the id itself in the sealed metadata) and
//! legal-hold reasons. It runs at start, after the migrations, once per database
//! (recorded in `data_upgrades`). An org whose keys were destroyed has its values
//! blanked instead: they can no longer be sealed, and nobody may read them.

use super::{KeyError, Keyring, OrgCipher};
use crate::crypto::aead::version_of;
use crate::store::schema::{conversations, legal_holds, segments, tracker_hits};
use crate::store::{conversations as convs, data_upgrades, identity, DbConn};
use diesel::prelude::*;

const SEALED: &str = "e1:%";

/// This conversion's name in `data_upgrades`.
pub const SEAL_LEGACY: &str = "sealed-speakers-external-ids-hold-reasons";

/// Seals every value stored in clear, unless done before; how many were changed.
pub fn seal_legacy(conn: &mut DbConn, keyring: &Keyring, now: &str) -> Result<usize, KeyError> {
    if data_upgrades::done(conn, SEAL_LEGACY)? {
        return Ok(0);
    }
    let mut changed = 0;
    for org in identity::list_orgs(conn)? {
        if !has_clear_values(conn, &org.id)? {
            continue;
        }
        changed += match keyring.for_org(conn, &org.id) {
            Ok(cipher) => conn.transaction(|conn| seal_org(conn, &cipher))?,
            Err(KeyError::Shredded(_)) => conn.transaction(|conn| blank_org(conn, &org.id))?,
            Err(e) => return Err(e),
        };
    }
    data_upgrades::mark(conn, SEAL_LEGACY, now)?;
    if changed > 0 {
        data_upgrades::drop_stale_copies(conn)?;
        tracing::info!(
            values = changed,
            "values stored in clear by an earlier version are sealed"
        );
    }
    Ok(changed)
}

fn has_clear_values(conn: &mut DbConn, org_id: &str) -> QueryResult<bool> {
    let c: i64 = conversations::table
        .filter(conversations::org_id.eq(org_id))
        .filter(conversations::channels.not_like(SEALED))
        .count()
        .get_result(conn)?;
    let s: i64 = segments::table
        .filter(segments::org_id.eq(org_id))
        .filter(segments::speaker.not_like(SEALED))
        .count()
        .get_result(conn)?;
    let t: i64 = tracker_hits::table
        .filter(tracker_hits::org_id.eq(org_id))
        .filter(tracker_hits::speaker.not_like(SEALED))
        .count()
        .get_result(conn)?;
    let h: i64 = legal_holds::table
        .filter(legal_holds::org_id.eq(org_id))
        .filter(legal_holds::reason.not_like(SEALED))
        .count()
        .get_result(conn)?;
    Ok(c + s + t + h > 0)
}

fn seal_org(conn: &mut DbConn, cipher: &OrgCipher) -> Result<usize, KeyError> {
    let org_id = cipher.org_id.as_str();
    let mut changed = 0;
    // A conversation of an earlier version has its channels in clear.
    let rows: Vec<convs::Conversation> = conversations::table
        .filter(conversations::org_id.eq(org_id))
        .filter(conversations::channels.not_like(SEALED))
        .select(convs::Conversation::as_select())
        .load(conn)?;
    for c in rows {
        let id = c.id.as_str();
        let mut meta: serde_json::Value =
            serde_json::from_str(&cipher.open("conversations", "metadata", id, &c.metadata)?)
                .unwrap_or_default();
        if let (Some(external), true) = (&c.external_id, meta.is_object()) {
            meta["external_id"] = serde_json::Value::from(external.as_str());
        }
        let metrics = c
            .metrics
            .as_deref()
            .filter(|m| version_of(m).is_none())
            .map(|m| cipher.seal("conversations", "metrics", id, m))
            .transpose()?
            .or(c.metrics.clone());
        diesel::update(conversations::table.filter(conversations::id.eq(id)))
            .set((
                conversations::channels.eq(cipher.seal(
                    "conversations",
                    "channels",
                    id,
                    &c.channels,
                )?),
                conversations::metrics.eq(metrics),
                conversations::metadata.eq(cipher.seal(
                    "conversations",
                    "metadata",
                    id,
                    &meta.to_string(),
                )?),
                conversations::external_id.eq(c
                    .external_id
                    .as_deref()
                    .map(|e| convs::external_tag(cipher, e))),
            ))
            .execute(conn)?;
        changed += 1;
    }
    let speakers: Vec<(String, String)> = segments::table
        .filter(segments::org_id.eq(org_id))
        .filter(segments::speaker.not_like(SEALED))
        .select((segments::id, segments::speaker))
        .load(conn)?;
    for (id, speaker) in speakers {
        diesel::update(segments::table.filter(segments::id.eq(&id)))
            .set(segments::speaker.eq(cipher.seal("segments", "speaker", &id, &speaker)?))
            .execute(conn)?;
        changed += 1;
    }
    let hits: Vec<(String, String)> = tracker_hits::table
        .filter(tracker_hits::org_id.eq(org_id))
        .filter(tracker_hits::speaker.not_like(SEALED))
        .select((tracker_hits::id, tracker_hits::speaker))
        .load(conn)?;
    for (id, speaker) in hits {
        diesel::update(tracker_hits::table.filter(tracker_hits::id.eq(&id)))
            .set(tracker_hits::speaker.eq(cipher.seal("tracker_hits", "speaker", &id, &speaker)?))
            .execute(conn)?;
        changed += 1;
    }
    let reasons: Vec<(String, String)> = legal_holds::table
        .filter(legal_holds::org_id.eq(org_id))
        .filter(legal_holds::reason.not_like(SEALED))
        .select((legal_holds::id, legal_holds::reason))
        .load(conn)?;
    for (id, reason) in reasons {
        diesel::update(legal_holds::table.filter(legal_holds::id.eq(&id)))
            .set(legal_holds::reason.eq(cipher.seal("legal_holds", "reason", &id, &reason)?))
            .execute(conn)?;
        changed += 1;
    }
    Ok(changed)
}

/// An org without keys: what was in clear is removed.
fn blank_org(conn: &mut DbConn, org_id: &str) -> Result<usize, KeyError> {
    let mut changed = diesel::update(
        conversations::table
            .filter(conversations::org_id.eq(org_id))
            .filter(conversations::channels.not_like(SEALED)),
    )
    .set((
        conversations::channels.eq("[]"),
        conversations::metrics.eq(None::<String>),
        conversations::external_id.eq(None::<String>),
    ))
    .execute(conn)?;
    changed += diesel::update(
        segments::table
            .filter(segments::org_id.eq(org_id))
            .filter(segments::speaker.not_like(SEALED)),
    )
    .set(segments::speaker.eq(""))
    .execute(conn)?;
    changed += diesel::update(
        tracker_hits::table
            .filter(tracker_hits::org_id.eq(org_id))
            .filter(tracker_hits::speaker.not_like(SEALED)),
    )
    .set(tracker_hits::speaker.eq(""))
    .execute(conn)?;
    changed += diesel::update(
        legal_holds::table
            .filter(legal_holds::org_id.eq(org_id))
            .filter(legal_holds::reason.not_like(SEALED)),
    )
    .set(legal_holds::reason.eq(""))
    .execute(conn)?;
    Ok(changed)
}
