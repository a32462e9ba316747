//! Exports as one tar archive: a subject's data (access and portability requests)
//! or a whole org's (offboarding). Each conversation is a JSON file (conversation,
//! transcript, analysis, scorecard results) beside its recording.

use crate::blob::BlobStore;
use crate::keys::{KeyError, OrgCipher};
use crate::store::{analyses, conversations, DbConn};
use serde_json::{json, Value};
use std::io::{Read, Seek, Write};

/// One conversation as exported, `None` when it no longer exists.
pub fn conversation_json(
    conn: &mut DbConn,
    cipher: &OrgCipher,
    id: &str,
) -> Result<Option<Value>, KeyError> {
    let Some(conv) = conversations::get(conn, cipher, id)? else {
        return Ok(None);
    };
    let segments = conversations::segments_of(conn, cipher, id)?;
    let analysis = analyses::analysis_of(conn, cipher, id)?.map(|a| {
        json!({
            "state": a.state,
            "reason": a.reason,
            "result": a.result.and_then(|r| serde_json::from_str::<Value>(&r).ok()),
            "model": a.model,
            "created_at": a.created_at,
        })
    });
    let results: Vec<Value> = analyses::results_of(conn, cipher, id)?
        .into_iter()
        .map(|r| {
            json!({
                "template_id": r.template_id,
                "template_version": r.template_version,
                "score": r.score,
                "answers": serde_json::from_str::<Value>(&r.answers).unwrap_or_default(),
                "created_at": r.created_at,
            })
        })
        .collect();
    Ok(Some(json!({
        "id": conv.id,
        "kind": conv.kind,
        "source": conv.source,
        "external_id": conv.external_id,
        "direction": conv.direction,
        "started_at": conv.started_at,
        "language": conv.language,
        "duration_seconds": conv.duration_seconds,
        "created_at": conv.created_at,
        "metadata": serde_json::from_str::<Value>(&conv.metadata).unwrap_or_default(),
        "transcript": segments,
        "analysis": analysis,
        "scorecard_results": results,
    })))
}

/// The file extension of a recording by its first bytes.
fn extension(head: &[u8]) -> &'static str {
    match head {
        [b'R', b'I', b'F', b'F', ..] => "wav",
        [b'O', b'g', b'g', b'S', ..] => "ogg",
        [b'f', b'L', b'a', b'C', ..] => "flac",
        [b'I', b'D', b'3', ..] | [0xFF, 0xFB | 0xF3 | 0xF2, ..] => "mp3",
        _ => "bin",
    }
}

/// Writes archive entries; the archive itself goes wherever `W` writes.
pub struct Archive<W: Write> {
    tar: tar::Builder<W>,
    pub files: usize,
}

impl<W: Write> Archive<W> {
    pub fn new(out: W) -> Self {
        let mut tar = tar::Builder::new(out);
        tar.mode(tar::HeaderMode::Deterministic);
        Self { tar, files: 0 }
    }

    pub fn json(&mut self, name: &str, value: &Value) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(value)?;
        self.bytes(name, &bytes)
    }

    pub fn bytes(&mut self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o600);
        header.set_entry_type(tar::EntryType::Regular);
        self.tar.append_data(&mut header, name, bytes)?;
        self.files += 1;
        Ok(())
    }

    /// Adds a conversation's stored recording (a call's) as `recordings/<id>.<ext>`,
    /// decrypted as it streams; false when there is none (purged or a ticket).
    pub fn recording(
        &mut self,
        blobs: &BlobStore,
        cipher: &OrgCipher,
        id: &str,
    ) -> std::io::Result<bool> {
        let mut reader = match blobs.open(cipher, id) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        // The plaintext length is known from the sealed file; the first bytes name
        // the format. One decrypting pass streams it into the archive.
        let size = reader.len();
        let mut head = [0u8; 4];
        let n = reader.read(&mut head)?;
        reader.seek(std::io::SeekFrom::Start(0))?;
        let mut header = tar::Header::new_gnu();
        header.set_size(size);
        header.set_mode(0o600);
        header.set_entry_type(tar::EntryType::Regular);
        let name = format!("recordings/{id}.{}", extension(&head[..n]));
        self.tar.append_data(&mut header, name, reader)?;
        self.files += 1;
        Ok(true)
    }

    pub fn finish(self) -> std::io::Result<W> {
        self.tar.into_inner()
    }
}

/// Builds the archive of an access or export request as a blob of the org (sealed,
/// named by the request's id); `progress` hears the percentage done. Answers a
/// summary of what it holds.
pub fn subject_archive(
    conn: &mut DbConn,
    keyring: &crate::keys::Keyring,
    blobs: &BlobStore,
    req: &crate::store::subjects::RequestRow,
    mut progress: impl FnMut(&mut DbConn, i32),
) -> Result<Value, super::requests::RequestError> {
    use super::requests::RequestError;
    let cipher = keyring.for_org(conn, &req.org_id)?;
    let row = crate::store::subjects::get(conn, &req.org_id, &req.subject_id)?
        .ok_or(RequestError::NotFound)?;
    let subject = super::subjects::view(conn, keyring, row)?;
    let links = crate::store::subjects::links_of(conn, &req.org_id, &req.subject_id)?;
    let mut archive = Archive::new(blobs.incoming(&cipher, &req.id)?);
    archive.json(
        "subject.json",
        &json!({"subject": subject, "conversations": links.iter().map(|(c, r)| json!({"id": c, "role": r})).collect::<Vec<_>>()}),
    )?;
    let (mut exported, mut recordings) = (0, 0);
    for (i, (conv, _)) in links.iter().enumerate() {
        if let Some(v) = conversation_json(conn, &cipher, conv)? {
            archive.json(&format!("conversations/{conv}.json"), &v)?;
            exported += 1;
            if v["kind"] == "call" && archive.recording(blobs, &cipher, conv)? {
                recordings += 1;
            }
        }
        progress(conn, ((i + 1) * 100 / (links.len() + 1)) as i32);
    }
    let requests: Vec<Value> = crate::store::subjects::requests(conn, &req.org_id, Some(&req.subject_id))?
        .iter()
        .map(|r| json!({"id": r.id, "kind": r.kind, "state": r.state, "received_at": r.received_at, "due_at": r.due_at, "completed_at": r.completed_at}))
        .collect();
    archive.json("requests.json", &json!(requests))?;
    archive.bytes(
        "README.txt",
        b"Personal data held about one data subject by insite.\n\
subject.json: the subject's record and the conversations they are in.\n\
conversations/<id>.json: each conversation with its transcript, analysis and scores.\n\
recordings/<id>.*: the stored recording of each call (when still kept).\n\
requests.json: the subject's requests.\n",
    )?;
    let files = archive.files;
    let staged = archive.finish()?.finish()?;
    let size = staged.size();
    blobs.keep(staged, &req.org_id)?;
    Ok(json!({"files": files, "conversations": exported, "recordings": recordings, "bytes": size}))
}
