//! Accepting work: a recording or a ticket becomes a conversation and a queued job,
//! once per content (same bytes, or same source and external id, give the same ids).

use crate::blob::{BlobStore, Staged};
use crate::domain::time::{parse, stamp};
use crate::keys::{KeyError, OrgCipher};
use crate::pipeline::redact;
use crate::store::conversations::{self, Conversation};
use crate::store::identity::new_id;
use crate::store::jobs::{self, Job};
use crate::store::{identity, DbConn};
use chrono::{DateTime, Utc};
use diesel::Connection;
use serde::{Deserialize, Serialize};

/// Why an item was refused; each names the field.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{0}")]
    Invalid(String),
    #[error("storage: {0}")]
    Storage(#[from] diesel::result::Error),
    #[error("blob store: {0}")]
    Blob(#[from] std::io::Error),
    #[error(transparent)]
    Keys(#[from] KeyError),
}

/// A person on the call or ticket.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Participant {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// e.g. `agent`, `customer`.
    pub role: Option<String>,
    /// The person opted out of AI processing: the conversation is not sent to the LLM.
    #[serde(default)]
    pub ai_opt_out: bool,
}

/// Team and tags choose which scorecards apply (`applies_to.team` and `.tag`).
fn check_labels(team: &Option<String>, tags: &[String]) -> Result<(), IngestError> {
    check_len("team", team, 64)?;
    if tags.len() > 20 || tags.iter().any(|t| t.trim().is_empty() || t.len() > 64) {
        return Err(invalid("tags: at most 20, each 1..=64 characters"));
    }
    Ok(())
}

/// Metadata sent with a recording (the `metadata` part of the upload).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallMeta {
    pub external_id: Option<String>,
    /// Where it came from, e.g. `upload`, `pbx`, `folder`. Default `api`.
    pub source: Option<String>,
    /// The agent (a member's user id): agents see their own conversations.
    pub agent_user_id: Option<String>,
    #[serde(default)]
    pub participants: Vec<Participant>,
    /// `inbound`, `outbound` or `internal`.
    pub direction: Option<String>,
    pub started_at: Option<String>,
    /// Speaker of each channel of a stereo recording, e.g. `["agent","customer"]`.
    pub channels: Option<Vec<String>>,
    /// ISO 639-1 language hint, or `auto`.
    pub language: Option<String>,
    /// The agent's team (scorecards may apply to some teams only).
    pub team: Option<String>,
    /// Labels such as `sales` (scorecards may apply to some tags only).
    #[serde(default)]
    pub tags: Vec<String>,
}

impl CallMeta {
    /// Parses a `NAME.json` metadata sidecar (watched folder, recording stores),
    /// naming the field at fault.
    pub fn from_sidecar(bytes: &[u8]) -> Result<CallMeta, String> {
        let de = &mut serde_json::Deserializer::from_slice(bytes);
        serde_path_to_error::deserialize(de)
            .map_err(|e| format!("metadata sidecar: {} (at {})", e.inner(), e.path()))
    }
}

/// One message of a ticket.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketMessage {
    pub author: String,
    /// `agent` or `customer` (the speaker in metrics). Default `customer`.
    pub role: Option<String>,
    pub at: String,
    pub text: String,
}

/// A text conversation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ticket {
    pub external_id: Option<String>,
    pub source: Option<String>,
    pub agent_user_id: Option<String>,
    pub subject: String,
    pub messages: Vec<TicketMessage>,
    #[serde(default)]
    pub participants: Vec<Participant>,
    /// The agent's team (scorecards may apply to some teams only).
    pub team: Option<String>,
    /// Labels such as `sales` (scorecards may apply to some tags only).
    #[serde(default)]
    pub tags: Vec<String>,
}

/// What the caller gets back at once.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Accepted {
    pub conversation_id: String,
    pub job_id: String,
    /// The same content was accepted before: these are its ids.
    pub duplicate: bool,
}

fn invalid(msg: impl Into<String>) -> IngestError {
    IngestError::Invalid(msg.into())
}

fn check_len(field: &str, v: &Option<String>, max: usize) -> Result<(), IngestError> {
    match v {
        Some(s) if s.trim().is_empty() || s.len() > max => {
            Err(invalid(format!("{field} must be 1..={max} characters")))
        }
        _ => Ok(()),
    }
}

fn source_of(source: &Option<String>) -> Result<String, IngestError> {
    let s = source.clone().unwrap_or_else(|| "api".into());
    let ok = (1..=64).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok {
        return Err(invalid(
            "source must be 1..=64 characters of a-z, 0-9, '-', '_' or '.'",
        ));
    }
    Ok(s)
}

fn check_agent(conn: &mut DbConn, org_id: &str, agent: &Option<String>) -> Result<(), IngestError> {
    if let Some(id) = agent {
        if identity::role_in(conn, org_id, id)?.is_none() {
            return Err(invalid(format!(
                "agent_user_id '{id}' is not a member of this organization"
            )));
        }
    }
    Ok(())
}

/// Checks call metadata; returns the source and the speakers of the channels in force.
pub fn validate_call(
    meta: &CallMeta,
    stereo_default: &[String],
) -> Result<(String, Vec<String>), IngestError> {
    check_len("external_id", &meta.external_id, 200)?;
    let source = source_of(&meta.source)?;
    if let Some(d) = &meta.direction {
        if !matches!(d.as_str(), "inbound" | "outbound" | "internal") {
            return Err(invalid("direction must be inbound, outbound or internal"));
        }
    }
    if let Some(t) = &meta.started_at {
        parse(t).map_err(|_| invalid(format!("started_at '{t}' is not an RFC 3339 time")))?;
    }
    if let Some(l) = &meta.language {
        let ok = l == "auto" || (l.len() == 2 && l.chars().all(|c| c.is_ascii_lowercase()));
        if !ok {
            return Err(invalid(
                "language must be a two-letter ISO 639-1 code or \"auto\"",
            ));
        }
    }
    if meta.participants.len() > 50 {
        return Err(invalid("at most 50 participants"));
    }
    check_labels(&meta.team, &meta.tags)?;
    let speakers = meta
        .channels
        .clone()
        .unwrap_or_else(|| stereo_default.to_vec());
    if speakers.is_empty()
        || speakers.len() > 2
        || speakers.iter().any(|s| !(1..=32).contains(&s.trim().len()))
    {
        return Err(invalid(
            "channels must name one or two speakers of 1..=32 characters",
        ));
    }
    Ok((source, speakers))
}

pub fn new_job(org_id: &str, conversation_id: &str, now: &str) -> Job {
    Job {
        id: new_id(),
        org_id: org_id.to_string(),
        conversation_id: conversation_id.to_string(),
        state: "queued".into(),
        stage: "queued".into(),
        progress: 0,
        attempts: 0,
        lease_owner: None,
        lease_expires_at: None,
        error_code: None,
        error_message: None,
        created_at: now.to_string(),
        updated_at: now.to_string(),
        finished_at: None,
        kind: "process".into(),
        params: None,
        batch_id: None,
    }
}

/// The earlier conversation holding this content, with its job. Content is
/// compared by the blind-index tag of its SHA-256 (`sha_tag`).
fn duplicate_of(
    conn: &mut DbConn,
    cipher: &OrgCipher,
    sha_tag: &str,
    source: &str,
    external_id: Option<&str>,
) -> Result<Option<Accepted>, IngestError> {
    let org_id = cipher.org_id.as_str();
    let Some(existing) = conversations::find_duplicate(conn, cipher, sha_tag, source, external_id)?
    else {
        return Ok(None);
    };
    let job = jobs::of_conversation(conn, org_id, &existing.id)?;
    Ok(Some(Accepted {
        conversation_id: existing.id,
        job_id: job.map(|j| j.id).unwrap_or_default(),
        duplicate: true,
    }))
}

/// A unique constraint refused the insert (whichever layer reports it).
fn is_unique_violation(e: &IngestError) -> bool {
    use diesel::result::{DatabaseErrorKind::UniqueViolation, Error::DatabaseError};
    matches!(
        e,
        IngestError::Storage(DatabaseError(UniqueViolation, _))
            | IngestError::Keys(KeyError::Storage(DatabaseError(UniqueViolation, _)))
    )
}

/// Parameters shared by both kinds of conversation.
struct NewConversation<'a> {
    cipher: &'a OrgCipher,
    kind: &'a str,
    source: String,
    external_id: Option<String>,
    sha_tag: String,
    agent_user_id: Option<String>,
    direction: Option<String>,
    started_at: Option<String>,
    channels: Vec<String>,
    metadata: serde_json::Value,
}

/// Inserts the conversation and its job, and keeps the blob, in one step. The
/// conversation takes the blob's id.
fn create(
    conn: &mut DbConn,
    blobs: &BlobStore,
    item: NewConversation,
    blob: Staged,
    now: DateTime<Utc>,
) -> Result<Accepted, IngestError> {
    let at = stamp(now);
    let org_id = item.cipher.org_id.as_str();
    let conversation = Conversation {
        id: blob.blob_id().to_string(),
        org_id: org_id.to_string(),
        kind: item.kind.to_string(),
        source: item.source,
        external_id: item.external_id,
        content_sha256: item.sha_tag,
        state: "processing".into(),
        agent_user_id: item.agent_user_id,
        direction: item.direction,
        started_at: item.started_at,
        language: None,
        duration_seconds: None,
        channels: serde_json::to_string(&item.channels).unwrap_or_else(|_| "[]".into()),
        metadata: item.metadata.to_string(),
        metrics: None,
        redactions: None,
        created_at: at.clone(),
    };
    let job = new_job(org_id, &conversation.id, &at);
    // The blob is kept first: a crash after it leaves an orphan file, never a job
    // without its input.
    blobs.keep(blob, org_id)?;
    let inserted = conn.transaction(|conn| {
        conversations::insert(conn, item.cipher, &conversation)?;
        jobs::insert(conn, &job).map_err(IngestError::from)
    });
    if let Err(e) = inserted {
        let _ = blobs.remove(org_id, &conversation.id);
        // The same content sent twice at the same moment: the other request won the
        // insert (content is unique per org), so this one is its duplicate.
        if is_unique_violation(&e) {
            let (sha, source) = (&conversation.content_sha256, &conversation.source);
            let external = conversation.external_id.as_deref();
            if let Some(dup) = duplicate_of(conn, item.cipher, sha, source, external)? {
                return Ok(dup);
            }
        }
        return Err(e);
    }
    Ok(Accepted {
        conversation_id: conversation.id,
        job_id: job.id,
        duplicate: false,
    })
}

/// Accepts an uploaded recording (already streamed, encrypted, into `blob`).
pub fn accept_recording(
    conn: &mut DbConn,
    blobs: &BlobStore,
    cipher: &OrgCipher,
    meta: CallMeta,
    stereo_default: &[String],
    blob: Staged,
    now: DateTime<Utc>,
) -> Result<Accepted, IngestError> {
    let org_id = cipher.org_id.as_str();
    let (source, speakers) = validate_call(&meta, stereo_default)?;
    check_agent(conn, org_id, &meta.agent_user_id)?;
    let sha_tag = cipher.blind("sha256", blob.sha256());
    let external = meta.external_id.as_deref();
    if let Some(dup) = duplicate_of(conn, cipher, &sha_tag, &source, external)? {
        return Ok(dup);
    }
    let metadata = serde_json::json!({
        "participants": meta.participants,
        "language": meta.language,
        "team": meta.team,
        "tags": meta.tags,
        "size_bytes": blob.size(),
    });
    let item = NewConversation {
        cipher,
        kind: "call",
        source,
        external_id: meta.external_id,
        sha_tag,
        agent_user_id: meta.agent_user_id,
        direction: meta.direction,
        started_at: meta.started_at,
        channels: speakers,
        metadata,
    };
    create(conn, blobs, item, blob, now)
}

/// Accepts a ticket: its text is redacted before anything is written.
pub fn accept_ticket(
    conn: &mut DbConn,
    blobs: &BlobStore,
    cipher: &OrgCipher,
    ticket: Ticket,
    now: DateTime<Utc>,
) -> Result<Accepted, IngestError> {
    let org_id = cipher.org_id.as_str();
    check_len("external_id", &ticket.external_id, 200)?;
    let source = source_of(&ticket.source)?;
    if ticket.subject.trim().is_empty() || ticket.subject.len() > 500 {
        return Err(invalid("subject must be 1..=500 characters"));
    }
    check_labels(&ticket.team, &ticket.tags)?;
    if ticket.messages.is_empty() || ticket.messages.len() > 10_000 {
        return Err(invalid("messages must hold 1..=10000 messages"));
    }
    for (i, m) in ticket.messages.iter().enumerate() {
        parse(&m.at).map_err(|_| {
            invalid(format!(
                "messages[{i}].at '{}' is not an RFC 3339 time",
                m.at
            ))
        })?;
        if m.text.trim().is_empty() {
            return Err(invalid(format!("messages[{i}].text is empty")));
        }
        if let Some(r) = &m.role {
            if !matches!(r.as_str(), "agent" | "customer") {
                return Err(invalid(format!(
                    "messages[{i}].role must be agent or customer"
                )));
            }
        }
    }
    check_agent(conn, org_id, &ticket.agent_user_id)?;
    let raw = serde_json::to_vec(&ticket.messages).map_err(|e| invalid(e.to_string()))?;
    let sha = hex::encode(ring::digest::digest(&ring::digest::SHA256, &raw).as_ref());
    let sha_tag = cipher.blind("sha256", &sha);
    let external = ticket.external_id.as_deref();
    if let Some(dup) = duplicate_of(conn, cipher, &sha_tag, &source, external)? {
        return Ok(dup);
    }
    let mut counts = redact::Tally::new();
    let mut clean = |text: &str| redact::redact_into(text, &mut counts);
    let redacted: Vec<TicketMessage> = ticket
        .messages
        .iter()
        .map(|m| TicketMessage {
            text: clean(&m.text),
            author: clean(&m.author),
            ..m.clone()
        })
        .collect();
    let subject = clean(&ticket.subject);
    let mut blob = blobs.incoming(cipher, &new_id())?;
    blob.write(&serde_json::to_vec(&redacted).map_err(|e| invalid(e.to_string()))?)?;
    let blob = blob.finish()?;
    let started_at = ticket.messages.iter().map(|m| m.at.clone()).min();
    let item = NewConversation {
        cipher,
        kind: "ticket",
        source,
        external_id: ticket.external_id,
        sha_tag,
        agent_user_id: ticket.agent_user_id,
        direction: None,
        started_at,
        channels: vec!["agent".into(), "customer".into()],
        metadata: serde_json::json!({
            "subject": subject,
            "participants": ticket.participants,
            "team": ticket.team,
            "tags": ticket.tags,
            "redactions": counts,
        }),
    };
    create(conn, blobs, item, blob, now)
}

/// Accepts a recording held in memory (fetched by a connector or a webhook).
pub fn accept_recording_bytes(
    conn: &mut DbConn,
    blobs: &BlobStore,
    cipher: &OrgCipher,
    meta: CallMeta,
    stereo_default: &[String],
    audio: &[u8],
    now: DateTime<Utc>,
) -> Result<Accepted, IngestError> {
    if audio.is_empty() {
        return Err(invalid("the recording is empty"));
    }
    let mut blob = blobs.incoming(cipher, &new_id())?;
    blob.write(audio)?;
    accept_recording(
        conn,
        blobs,
        cipher,
        meta,
        stereo_default,
        blob.finish()?,
        now,
    )
}
