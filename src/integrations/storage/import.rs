//! One sync of a recording store: every recording not yet taken is read, given its
//! metadata (sidecar first, then the file name) and queued once. A file is known by
//! an org-keyed tag of where it lives (`<kind>:<tag>`), so its name (which may hold a
//! customer's number) is not stored in the clear. A file taken is recorded
//! (`storage_objects`) and never read again: not when its bytes duplicated another
//! recording, not after its conversation was erased.

use super::mapping::{self, Pattern};
use super::settings::Import;
use super::{Object, Store};
use crate::domain::time::stamp;
use crate::integrations::open::Opened;
use crate::integrations::sync::{Syncer, STOPPED};
use crate::keys::OrgCipher;
use crate::pipeline::ingest::{self, CallMeta, IngestError};
use crate::store::integration_state as state;
use crate::store::{conversations, identity, storage_objects, DbConn};
use diesel::QueryResult;
use std::collections::HashSet;
use std::sync::atomic::Ordering;

/// A sidecar is small JSON; anything larger is refused.
const MAX_SIDECAR_BYTES: u64 = 64 * 1024;

/// The external id of a stored file: not its name, an org-keyed tag of it.
pub fn external_id(cipher: &OrgCipher, kind: &str, location: &str) -> String {
    format!("{kind}:{}", cipher.blind("storage-object", location))
}

/// Whether the file was taken before (recorded, or a conversation holds its id).
fn taken(conn: &mut DbConn, cipher: &OrgCipher, kind: &str, external: &str) -> QueryResult<bool> {
    Ok(storage_objects::taken(conn, &cipher.org_id, external)?
        || conversations::has_external(conn, cipher, kind, external)?)
}

/// `calls/a.wav` -> `calls/a.json`.
fn sidecar_key(key: &str) -> String {
    let name_at = key.rfind('/').map_or(0, |i| i + 1);
    match key[name_at..].rfind('.') {
        Some(dot) => format!("{}.json", &key[..name_at + dot]),
        None => format!("{key}.json"),
    }
}

/// The metadata of `object`, or why it cannot be used.
fn metadata(
    conn: &mut DbConn,
    store: &mut dyn Store,
    object: &Object,
    listed: &HashSet<String>,
    pattern: Option<&Pattern>,
    org_id: &str,
) -> Result<CallMeta, String> {
    let side = sidecar_key(&object.key);
    let mut meta = if listed.contains(&side) {
        CallMeta::from_sidecar(&store.read(&side, MAX_SIDECAR_BYTES)?)?
    } else {
        CallMeta::default()
    };
    if let Some(p) = pattern {
        mapping::apply(&mut meta, &p.fields(object.file_name()))?;
    }
    if meta.agent_user_id.is_none() {
        meta.agent_user_id = agent_of(conn, &meta, org_id)?;
    }
    Ok(meta)
}

/// The member whose e-mail is the agent participant's, if any.
fn agent_of(conn: &mut DbConn, meta: &CallMeta, org_id: &str) -> Result<Option<String>, String> {
    let email = meta
        .participants
        .iter()
        .find(|p| p.role.as_deref() == Some("agent"))
        .and_then(|p| p.email.as_deref());
    let Some(email) = email else {
        return Ok(None);
    };
    let Some(user) = identity::user_by_email(conn, email).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let member = identity::role_in(conn, org_id, &user.id).map_err(|e| e.to_string())?;
    Ok(member.map(|_| user.id))
}

/// Imports what `store` holds that this org has not imported yet.
pub fn run(
    syncer: &Syncer,
    conn: &mut DbConn,
    cipher: &OrgCipher,
    target: &Opened,
    store: &mut dyn Store,
) -> Result<(), String> {
    let import = Import::from(&target.settings)?;
    let kind = target.row.kind.as_str();
    let org_id = cipher.org_id.as_str();
    let max = syncer.config.pipeline.max_upload_bytes;
    let objects = store.list()?;
    // A long listing: the lease is renewed before the files are read.
    state::advance(conn, &target.row.id, None, 0, &syncer.lease()).map_err(|e| e.to_string())?;
    let listed: HashSet<String> = objects.iter().map(|o| o.key.clone()).collect();
    let settled_before = syncer.clock.now() - chrono::Duration::seconds(store.settle_seconds());
    let mut skipped = Vec::new();
    for object in objects.iter().filter(|o| import.wants(&o.key)) {
        if syncer.stop.load(Ordering::SeqCst) {
            return Err(STOPPED.into());
        }
        if object.modified.is_some_and(|m| m > settled_before) {
            continue; // still being written, perhaps: the next sync takes it
        }
        let location = store.locate(&object.key);
        let external = external_id(cipher, kind, &location);
        if taken(conn, cipher, kind, &external).map_err(|e| e.to_string())? {
            continue;
        }
        if object.size > max {
            skipped.push(format!(
                "{location}: {} bytes, over pipeline.max_upload_bytes ({max})",
                object.size
            ));
            continue;
        }
        let mut meta = match metadata(
            conn,
            store,
            object,
            &listed,
            import.pattern.as_ref(),
            org_id,
        ) {
            Ok(m) => m,
            Err(why) => {
                skipped.push(format!("{location}: {why}"));
                continue;
            }
        };
        meta.source = Some(kind.to_string());
        meta.external_id = Some(external.clone());
        let audio = store.read(&object.key, max)?;
        let stereo = &syncer.config.pipeline.stereo_speakers;
        let now = syncer.clock.now();
        let added = match ingest::accept_recording_bytes(
            conn,
            &syncer.blobs,
            cipher,
            meta,
            stereo,
            &audio,
            now,
        ) {
            Ok(a) => {
                storage_objects::record(conn, org_id, &target.row.id, &external, &stamp(now))
                    .map_err(|e| e.to_string())?;
                i64::from(!a.duplicate)
            }
            Err(IngestError::Invalid(why)) => {
                skipped.push(format!("{location}: {why}"));
                0
            }
            Err(e) => return Err(format!("{location}: {e}")),
        };
        state::advance(conn, &target.row.id, None, added, &syncer.lease())
            .map_err(|e| e.to_string())?;
    }
    match skipped.len() {
        0 => Ok(()),
        n => Err(format!("{n} recording(s) skipped, e.g. {}", skipped[0])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecars_sit_beside_their_recording() {
        assert_eq!(sidecar_key("calls/a.b/x.wav"), "calls/a.b/x.json");
        assert_eq!(sidecar_key("/exports/call.mp3"), "/exports/call.json");
        assert_eq!(sidecar_key("dir.d/noext"), "dir.d/noext.json");
    }
}
