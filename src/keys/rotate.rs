//! `rotate-master`, `rotate-org` and `shred-org`: the key operations, resumable after a
//! crash (each step leaves state the next run continues from) and audited.

use super::master::{self, MasterError, Source};
use super::{KeyError, Keyring};
use crate::audit::{self, Event};
use crate::blob::BlobStore;
use crate::domain::time::stamp;
use crate::store::org_keys::{self, Rotation};
use crate::store::{conversations, identity, DbConn};

fn audit_op(
    conn: &mut DbConn,
    keyring: &Keyring,
    chain: &str,
    action: &str,
    object: (&str, &str),
    outcome: &str,
) -> Result<(), KeyError> {
    let event = Event {
        chain: chain.to_string(),
        actor: "cli:insite keys".into(),
        action: action.into(),
        object_type: object.0.into(),
        object_id: object.1.into(),
        ip: String::new(),
        request_id: String::new(),
        outcome: outcome.into(),
    };
    audit::append(conn, &event, keyring.now())?;
    Ok(())
}

/// Re-wraps every org key under a new master key. The new key is written to
/// `<file>.next` first (or taken from there when a rotation was interrupted), then
/// renamed over the key file once nothing is wrapped under the old one.
pub fn rotate_master(
    conn: &mut DbConn,
    source: &Source,
    clock: crate::clock::SharedClock,
    report: &mut dyn FnMut(usize, usize),
) -> Result<String, KeyError> {
    let Source::File(path) = source else {
        return Err(KeyError::Crypto(format!(
            "the master key comes from the systemd credential {}; to rotate, generate a new key, \
             re-wrap with a key file (keys.master_key_file) and replace the credential",
            source.path().display()
        )));
    };
    let next_path = source.next_path();
    let keyring = &Keyring::open_checked(source.clone(), conn, clock)?;
    let next = match keyring.masters().next.as_ref() {
        Some(_) => master::read(&next_path, true)?,
        None => master::create(&next_path)?,
    };
    audit_op(
        conn,
        keyring,
        audit::SYSTEM_CHAIN,
        "keys.rotate_master",
        ("master_key", &next.id),
        "started",
    )?;
    // Keys created by a running server meanwhile may still use the old key: loop until
    // a pass finds none.
    loop {
        let stale: Vec<_> = org_keys::all_wrapped(conn)?
            .into_iter()
            .filter(|r| r.master_id != next.id)
            .collect();
        if stale.is_empty() {
            break;
        }
        let total = stale.len();
        for (i, row) in stale.iter().enumerate() {
            keyring.rewrap(conn, row, &next)?;
            report(i + 1, total);
        }
    }
    std::fs::rename(&next_path, path).map_err(|e| MasterError::Create {
        path: path.display().to_string(),
        reason: format!("cannot move the new key into place: {e}"),
    })?;
    audit_op(
        conn,
        keyring,
        audit::SYSTEM_CHAIN,
        "keys.rotate_master",
        ("master_key", &next.id),
        "success",
    )?;
    Ok(next.id)
}

/// Starts (or resumes) the rotation of one org's data key and re-encrypts all of its
/// values and blobs under the new version; `report(done, total)` shows progress.
pub fn rotate_org(
    conn: &mut DbConn,
    keyring: &Keyring,
    blobs: &BlobStore,
    org_id: &str,
    report: &mut dyn FnMut(usize, usize),
) -> Result<Rotation, KeyError> {
    let now = stamp(keyring.now());
    let rotation = match org_keys::running_rotation(conn, org_id)? {
        Some(r) => r,
        None => {
            // Make sure the org has keys, then add the next version as the active one.
            keyring.for_org(conn, org_id)?;
            let rows = org_keys::of_org(conn, org_id)?;
            let version = rows
                .iter()
                .filter(|r| r.purpose == "data")
                .map(|r| r.version)
                .max()
                .unwrap_or(0)
                + 1;
            let fresh = keyring.new_key_row(org_id, "data", version, &now)?;
            let rotation = Rotation {
                id: identity::new_id(),
                org_id: org_id.to_string(),
                to_version: version,
                state: "running".into(),
                done: 0,
                total: 0,
                started_at: now.clone(),
                finished_at: None,
            };
            diesel::Connection::transaction(conn, |conn| {
                for old in rows
                    .iter()
                    .filter(|r| r.purpose == "data" && r.state == "active")
                {
                    org_keys::set_state(conn, &old.id, "retired")?;
                }
                org_keys::insert(conn, &fresh)?;
                org_keys::insert_rotation(conn, &rotation)
            })?;
            audit_op(
                conn,
                keyring,
                org_id,
                "keys.rotate_org",
                ("org_key", &fresh.id),
                "started",
            )?;
            rotation
        }
    };
    let cipher = keyring.for_org(conn, org_id)?;
    let ids = conversations::ids_of_org(conn, org_id)?;
    let total = ids.len();
    for (i, id) in ids.iter().enumerate() {
        reseal_one(conn, &cipher, blobs, id)?;
        let done = i + 1;
        if done % 25 == 0 || done == total {
            org_keys::rotation_progress(conn, &rotation.id, done as i32, total as i32)?;
        }
        report(done, total);
    }
    // Jobs that started before the switch hold the old key and may still write with
    // it (a redacted recording, the transcript): wait for them to end.
    let mut announced = false;
    while crate::store::jobs::running_count(conn, org_id)? > 0 {
        if !announced {
            tracing::info!(org = %org_id, "waiting for the org's running jobs before the last pass");
            eprintln!("waiting for this org's running jobs to finish before the last pass…");
            announced = true;
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    // A last pass catches what a running server wrote under the old version while the
    // first one ran (it is cheap: values already re-sealed are only looked at), and
    // blobs without a conversation.
    for id in conversations::ids_of_org(conn, org_id)? {
        reseal_one(conn, &cipher, blobs, &id)?;
    }
    for id in blobs
        .list(org_id)
        .map_err(|e| KeyError::Crypto(e.to_string()))?
    {
        if let Err(e) = blobs.reseal(&cipher, &id) {
            tracing::warn!(blob = %id, error = %e, "blob not re-encrypted");
        }
    }
    crate::store::integrations::reseal_all(conn, &cipher)?;
    crate::store::subjects::reseal_requests(conn, &cipher)?;
    crate::store::retention::reseal_holds(conn, &cipher)?;
    // Everything is under the new version: the old data keys are destroyed.
    let finished = stamp(keyring.now());
    for old in org_keys::of_org(conn, org_id)?
        .iter()
        .filter(|r| r.purpose == "data" && r.state == "retired")
    {
        org_keys::destroy(conn, &old.id, &finished)?;
    }
    org_keys::finish_rotation(conn, &rotation.id, &finished)?;
    audit_op(
        conn,
        keyring,
        org_id,
        "keys.rotate_org",
        ("org", org_id),
        "success",
    )?;
    Ok(Rotation {
        state: "done".into(),
        done: total as i32,
        total: total as i32,
        finished_at: Some(finished),
        ..rotation
    })
}

fn reseal_one(
    conn: &mut DbConn,
    cipher: &super::OrgCipher,
    blobs: &BlobStore,
    id: &str,
) -> Result<(), KeyError> {
    conversations::reseal(conn, cipher, id)?;
    crate::store::analyses::reseal(conn, cipher, id)?;
    match blobs.reseal(cipher, id) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(KeyError::Crypto(format!("blob {id}: {e}")))
        }
        _ => Ok(()),
    }
}

/// Crypto-shredding: destroys every key of an org, so each of its ciphertexts (in the
/// database, the blob store and any backup) can no longer be read; its blobs are
/// removed too. Old backups still hold the org's keys wrapped under the current
/// master key, so the caller rotates the master key next.
pub fn shred_org(
    conn: &mut DbConn,
    keyring: &Keyring,
    blobs: &BlobStore,
    org_id: &str,
) -> Result<usize, KeyError> {
    let now = stamp(keyring.now());
    let rows = org_keys::of_org(conn, org_id)?;
    let mut destroyed = 0;
    for row in rows.iter().filter(|r| r.wrapped.is_some()) {
        destroyed += org_keys::destroy(conn, &row.id, &now)?;
    }
    // Its data subjects' keys go with it.
    for row in org_keys::subject_keys_of_org(conn, org_id)? {
        destroyed += org_keys::destroy(conn, &row.id, &now)?;
    }
    if rows.is_empty() {
        // An org that never had keys: record a destroyed one so none is made later.
        let row = org_keys::OrgKeyRow {
            id: identity::new_id(),
            org_id: org_id.to_string(),
            purpose: "index".into(),
            version: 1,
            master_id: String::new(),
            wrapped: None,
            state: "destroyed".into(),
            created_at: now.clone(),
            destroyed_at: Some(now.clone()),
        };
        org_keys::insert(conn, &row)?;
    }
    for id in blobs
        .list(org_id)
        .map_err(|e| KeyError::Crypto(e.to_string()))?
    {
        let _ = blobs.remove(org_id, &id);
    }
    audit_op(
        conn,
        keyring,
        org_id,
        "keys.shred_org",
        ("org", org_id),
        "success",
    )?;
    Ok(destroyed)
}
