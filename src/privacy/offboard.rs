//! Offboarding an org: everything it holds exported to one archive, then (by the
//! command) its keys crypto-shredded and its rows deleted. The offboarding itself is
//! recorded in the installation's audit chain, which outlives the org.

use super::export::{conversation_json, Archive};
use super::requests::RequestError;
use crate::audit::{self, AuditEntry, Event, SYSTEM_CHAIN};
use crate::blob::BlobStore;
use crate::keys::Keyring;
use crate::store::schema::{
    audit_anchors, audit_heads, audit_log, memberships, orgs, subjects, users,
};
use crate::store::{conversations, identity, DbConn};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::{json, Value};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Writes the org's data to `out` (a new file, mode 0600): org and members,
/// data subjects, every conversation with its recording, and its audit log.
pub fn export_org(
    conn: &mut DbConn,
    keyring: &Keyring,
    blobs: &BlobStore,
    org_id: &str,
    out: &Path,
    mut progress: impl FnMut(usize, usize),
) -> Result<Value, RequestError> {
    let cipher = keyring.for_org(conn, org_id)?;
    let org = identity::org_by_id(conn, org_id)?.ok_or(RequestError::NotFound)?;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)?;
    let mut archive = Archive::new(std::io::BufWriter::new(file));
    archive.json(
        "org.json",
        &json!({"org": org, "members": identity::members(conn, org_id)?}),
    )?;
    let subject_rows: Vec<crate::store::subjects::SubjectRow> = subjects::table
        .filter(subjects::org_id.eq(org_id))
        .select(crate::store::subjects::SubjectRow::as_select())
        .load(conn)?;
    let mut people = Vec::new();
    for row in subject_rows {
        let id = row.id.clone();
        let links = crate::store::subjects::links_of(conn, org_id, &id)?;
        match super::subjects::view(conn, keyring, row) {
            Ok(v) => people.push(json!({"subject": v, "conversations": links})),
            Err(e) => people.push(json!({"id": id, "unreadable": e.to_string()})),
        }
    }
    archive.json("subjects.json", &json!(people))?;
    let ids = conversations::ids_of_org(conn, org_id)?;
    let (mut convs, mut recordings) = (0, 0);
    for (i, id) in ids.iter().enumerate() {
        if let Some(v) = conversation_json(conn, &cipher, id)? {
            if v["kind"] == "call" && archive.recording(blobs, &cipher, id)? {
                recordings += 1;
            }
            archive.json(&format!("conversations/{id}.json"), &v)?;
            convs += 1;
        }
        progress(i + 1, ids.len());
    }
    let entries: Vec<AuditEntry> = audit_log::table
        .filter(audit_log::chain.eq(org_id))
        .order(audit_log::seq.asc())
        .select(AuditEntry::as_select())
        .load(conn)?;
    let mut jsonl = String::new();
    for e in &entries {
        jsonl.push_str(&serde_json::to_string(e).unwrap_or_default());
        jsonl.push('\n');
    }
    archive.bytes("audit.jsonl", jsonl.as_bytes())?;
    let files = archive.files;
    let mut w = archive.finish()?;
    std::io::Write::flush(&mut w)?;
    w.into_inner()
        .map_err(|e| RequestError::Blob(e.into_error()))?
        .sync_all()?;
    Ok(
        json!({"files": files, "conversations": convs, "recordings": recordings, "audit_entries": entries.len()}),
    )
}

/// Deletes an org's rows (everything org-scoped goes by cascade), its audit chain,
/// and the accounts that belonged to no other org; audited in the system chain.
pub fn delete_org(
    conn: &mut DbConn,
    org_id: &str,
    now: DateTime<Utc>,
) -> Result<Value, RequestError> {
    let (entries, accounts) = conn.transaction(|conn| {
        let entries =
            diesel::delete(audit_log::table.filter(audit_log::chain.eq(org_id))).execute(conn)?;
        diesel::delete(audit_anchors::table.filter(audit_anchors::chain.eq(org_id)))
            .execute(conn)?;
        diesel::delete(audit_heads::table.filter(audit_heads::chain.eq(org_id))).execute(conn)?;
        diesel::delete(orgs::table.filter(orgs::id.eq(org_id))).execute(conn)?;
        let members = memberships::table.select(memberships::user_id);
        let accounts =
            diesel::delete(users::table.filter(users::id.ne_all(members))).execute(conn)?;
        Ok::<_, diesel::result::Error>((entries, accounts))
    })?;
    audit::append(
        conn,
        &Event::by_operator(SYSTEM_CHAIN, "org.offboard", "org", org_id),
        now,
    )?;
    Ok(json!({"audit_entries_deleted": entries, "accounts_deleted": accounts}))
}
