//! Conversations: upload a recording (multipart, streamed to disk), submit a ticket,
//! list and read them (agents only their own), stream the recording with ranges.

use super::audited::{audited, audited_new};
use super::auth::{Authed, Ingest, ReadConversations};
use super::error::{AppError, AppResult};
use crate::blob::{BlobStore, Incoming, Staged};
use crate::domain::roles::{allows, Permission};
use crate::identity::Principal;
use crate::keys::OrgCipher;
use crate::pipeline::decode;
use crate::pipeline::ingest::{self, CallMeta, IngestError, Ticket};
use crate::server::AppState;
use crate::store::conversations::{self, Conversation, ListFilter};
use crate::store::jobs;
use actix_multipart::Multipart;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/conversations", web::post().to(upload))
        .route("/conversations", web::get().to(list))
        .route("/conversations/{id}", web::get().to(get_one))
        .route("/conversations/{id}/audio", web::get().to(audio))
        .route("/tickets", web::post().to(submit_ticket));
}

impl From<IngestError> for AppError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Invalid(message) => AppError::Unprocessable {
                code: "VALIDATION",
                message,
            },
            IngestError::Storage(d) => AppError::from(d),
            IngestError::Blob(io) => blob_error(io),
            IngestError::Keys(k) => AppError::from(k),
        }
    }
}

/// A fault of the blob store: logged with its detail, answered as an internal error.
fn blob_error(e: std::io::Error) -> AppError {
    AppError::Internal(format!("blob store: {e}"))
}

/// Largest `metadata` part of an upload.
const METADATA_LIMIT: usize = 64 * 1024;

fn bad_upload(message: impl Into<String>) -> AppError {
    AppError::BadRequest {
        code: "BAD_UPLOAD",
        message: message.into(),
    }
}

/// A multipart error as the client's fault: a body that stopped arriving (408), or a
/// malformed one (400).
fn multipart_error(e: actix_multipart::MultipartError, what: &str) -> AppError {
    if let actix_multipart::MultipartError::Payload(p) = &e {
        if let Some(secs) = super::error::body_timed_out(p) {
            return AppError::BodyTimeout(secs);
        }
    }
    bad_upload(format!("{what}: {e}"))
}

/// Reads the multipart upload: `metadata` (JSON, optional) and `audio` (streamed to a
/// blob, bounded by `pipeline.max_upload_bytes`).
async fn read_upload(
    state: &AppState,
    cipher: &OrgCipher,
    mut payload: Multipart,
) -> AppResult<(CallMeta, Staged)> {
    let limit = state.config.pipeline.max_upload_bytes;
    let blobs = BlobStore::new(&state.config.data_dir);
    let mut meta = None;
    let mut audio: Option<Incoming> = None;
    while let Some(field) = payload.next().await {
        let mut field = field.map_err(|e| multipart_error(e, "malformed multipart body"))?;
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "metadata" => {
                let mut bytes = Vec::new();
                while let Some(chunk) = field.next().await {
                    let chunk = chunk.map_err(|e| multipart_error(e, "metadata"))?;
                    if bytes.len() + chunk.len() > METADATA_LIMIT {
                        return Err(AppError::PayloadTooLarge {
                            limit: METADATA_LIMIT,
                        });
                    }
                    bytes.extend_from_slice(&chunk);
                }
                let de = &mut serde_json::Deserializer::from_slice(&bytes);
                let parsed: CallMeta =
                    serde_path_to_error::deserialize(de).map_err(|e| AppError::Unprocessable {
                        code: "INVALID_METADATA",
                        message: format!("metadata: {} (at {})", e.inner(), e.path()),
                    })?;
                meta = Some(parsed);
            }
            "audio" => {
                if audio.is_some() {
                    return Err(bad_upload("send one \"audio\" part"));
                }
                let mut blob = blobs
                    .incoming(cipher, &crate::store::identity::new_id())
                    .map_err(blob_error)?;
                while let Some(chunk) = field.next().await {
                    let chunk = chunk.map_err(|e| multipart_error(e, "audio"))?;
                    if blob.size() + chunk.len() as u64 > limit {
                        return Err(AppError::PayloadTooLarge {
                            limit: usize::try_from(limit).unwrap_or(usize::MAX),
                        });
                    }
                    blob.write(&chunk).map_err(blob_error)?;
                }
                audio = Some(blob);
            }
            other => {
                return Err(bad_upload(format!(
                    "unknown part \"{other}\": send \"audio\" (the file) and \"metadata\" (JSON)"
                )))
            }
        }
    }
    let audio = audio.ok_or_else(|| {
        bad_upload("no \"audio\" part: send the recording as the multipart field \"audio\"")
    })?;
    let audio = web::block(move || audio.finish())
        .await?
        .map_err(blob_error)?;
    Ok((meta.unwrap_or_default(), audio))
}

/// The cipher of an org (its keys are created on first use).
pub(super) async fn cipher_of(state: &AppState, org_id: &str) -> AppResult<OrgCipher> {
    let pool = state.pool.clone();
    let keyring = state.keyring.clone();
    let org = org_id.to_string();
    web::block(move || -> AppResult<OrgCipher> {
        let mut conn = pool.get()?;
        Ok(keyring.for_org(&mut conn, &org)?)
    })
    .await?
}

async fn upload(
    state: web::Data<AppState>,
    who: Authed<Ingest>,
    payload: Multipart,
) -> AppResult<HttpResponse> {
    let cipher = cipher_of(&state, &who.principal.org_id).await?;
    let (meta, audio) = read_upload(&state, &cipher, payload).await?;
    // Keys read again: a key rotation may have begun while the upload streamed in.
    let fresh = cipher_of(&state, &who.principal.org_id).await?;
    let blobs = BlobStore::new(&state.config.data_dir);
    let store = blobs.clone();
    // The upload continues under the keys in force now.
    let (audio, cipher) =
        web::block(move || store.restage(audio, &cipher, &fresh).map(|a| (a, fresh)))
            .await?
            .map_err(blob_error)?;
    let speakers = state.config.pipeline.stereo_speakers.clone();
    let max_seconds = state.config.pipeline.max_duration_seconds;
    let decoder = crate::pipeline::decoder::Decoder::from_config(&state.config);
    let now = state.clock.now();
    // The audit entry names the new conversation, never the client's external id.
    let accepted = audited_new(
        &state,
        &who.principal,
        &who.ip,
        "conversation.create",
        ("conversation", String::new()),
        move |conn| {
            // Refuse what can never be processed now, with the reason, rather than later.
            let reader = audio.open(&cipher).map_err(blob_error)?;
            let input = decode::Input::blob(reader, "upload").max_seconds(max_seconds);
            // In a decoder process: a hostile header can crash only that.
            decoder.probe(input).map_err(|e| match e {
                decode::DecodeError::Io { .. } => AppError::Internal(e.to_string()),
                _ => AppError::Unprocessable {
                    code: match e {
                        decode::DecodeError::TooLong { .. } => "TOO_LONG",
                        decode::DecodeError::Crashed { .. } => "DECODER_CRASHED",
                        _ => "UNSUPPORTED_AUDIO",
                    },
                    message: e.reason(),
                },
            })?;
            let accepted =
                ingest::accept_recording(conn, &blobs, &cipher, meta, &speakers, audio, now)?;
            let id = accepted.conversation_id.clone();
            Ok((accepted, Some(id)))
        },
    )
    .await?;
    Ok(HttpResponse::Accepted().json(accepted))
}

async fn submit_ticket(
    state: web::Data<AppState>,
    who: Authed<Ingest>,
    body: web::Json<Ticket>,
) -> AppResult<HttpResponse> {
    let ticket = body.into_inner();
    let cipher = cipher_of(&state, &who.principal.org_id).await?;
    let blobs = BlobStore::new(&state.config.data_dir);
    let now = state.clock.now();
    let accepted = audited_new(
        &state,
        &who.principal,
        &who.ip,
        "conversation.create",
        ("conversation", String::new()),
        move |conn| {
            let accepted = ingest::accept_ticket(conn, &blobs, &cipher, ticket, now)?;
            let id = accepted.conversation_id.clone();
            Ok((accepted, Some(id)))
        },
    )
    .await?;
    Ok(HttpResponse::Accepted().json(accepted))
}

/// Agents (and anyone without the all-conversations permission) see only their own.
pub(super) fn visible(p: &Principal, c: &Conversation) -> bool {
    allows(p.role, Permission::ReadAllConversations)
        || (p.user_id.is_some() && c.agent_user_id == p.user_id)
}

fn parsed(text: &Option<String>) -> Value {
    text.as_deref()
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null)
}

fn summary(c: &Conversation) -> Value {
    json!({
        "id": c.id,
        "kind": c.kind,
        "source": c.source,
        "external_id": c.external_id,
        "state": c.state,
        "agent_user_id": c.agent_user_id,
        "direction": c.direction,
        "started_at": c.started_at,
        "language": c.language,
        "duration_seconds": c.duration_seconds,
        "channels": serde_json::from_str::<Value>(&c.channels).unwrap_or(Value::Null),
        "subject": serde_json::from_str::<Value>(&c.metadata).ok().and_then(|m| m["subject"].as_str().map(str::to_string)),
        "created_at": c.created_at,
        // Its sealed values were altered at rest: listed, but its content cannot be shown.
        "damaged": c.is_damaged(),
    })
}

async fn get_one(
    state: web::Data<AppState>,
    who: Authed<ReadConversations>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let body = conversation_view(&state, &who, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(body))
}

/// One conversation with its transcript, metrics, tracker hits and job (audited).
pub(crate) async fn conversation_view(
    state: &AppState,
    who: &Authed<ReadConversations>,
    id: String,
) -> AppResult<Value> {
    let org = who.principal.org_id.clone();
    let principal = who.principal.clone();
    let cipher = cipher_of(state, &org).await?;
    audited(state, &who.principal, &who.ip, "conversation.read", ("conversation", id.clone()), move |conn| {
        let c = conversations::get(conn, &cipher, &id)?
            .filter(|c| visible(&principal, c))
            .ok_or(AppError::NotFound)?;
        let segments = conversations::segments_of(conn, &cipher, &id)?;
        let job = jobs::of_conversation(conn, &org, &id)?;
        let hits = crate::store::trackers::hits_of(conn, &cipher, &id)?;
        let mut body = summary(&c);
        body["metadata"] = serde_json::from_str(&c.metadata).unwrap_or(Value::Null);
        body["metrics"] = parsed(&c.metrics);
        body["redactions"] = parsed(&c.redactions);
        body["segments"] = json!(segments);
        body["tracker_hits"] = json!(hits);
        // When retention purged each class of it (null: still kept).
        let marks = crate::store::retention::marks(conn, &org, &id)?.unwrap_or_default();
        body["purged"] = json!({"raw": marks.0, "transcripts": marks.1, "processed": marks.2});
        body["job"] = json!(job.map(|j| json!({"id": j.id, "state": j.state, "stage": j.stage, "progress": j.progress, "error": j.error_message})));
        Ok(body)
    })
    .await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    pub agent_user_id: Option<String>,
    pub source: Option<String>,
    pub state: Option<String>,
    pub language: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub tracker_id: Option<String>,
    /// Terms the transcript (or subject) contains, all of them, exactly.
    pub q: Option<String>,
    /// A participant's e-mail address or phone number.
    pub participant: Option<String>,
    pub limit: Option<i64>,
    /// Paging: conversations created before this time (the `next_before` of a page).
    pub before: Option<String>,
}

async fn list(
    state: web::Data<AppState>,
    who: Authed<ReadConversations>,
    q: web::Query<ListQuery>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(list_view(&state, &who, q.into_inner()).await?))
}

/// A page of the conversations the caller may see, newest first (audited).
pub(crate) async fn list_view(
    state: &AppState,
    who: &Authed<ReadConversations>,
    q: ListQuery,
) -> AppResult<Value> {
    super::params::check_time_bounds(&q.from, &q.to)?;
    super::params::check_time_bounds(&q.before, &None)?;
    let limit = super::params::page_limit(q.limit)?;
    let all = allows(who.principal.role, Permission::ReadAllConversations);
    let mut filter = ListFilter {
        agent_user_id: q.agent_user_id,
        source: q.source,
        state: q.state,
        language: q.language,
        from: q.from,
        to: q.to,
        before: q.before,
        tracker_id: q.tracker_id,
        text: q.q.filter(|t| !t.trim().is_empty()),
        participant: q.participant.filter(|t| !t.trim().is_empty()),
        limit,
    };
    if !all {
        // Agents: their own, whatever they ask for; a token without a user sees none.
        filter.agent_user_id = Some(who.principal.user_id.clone().unwrap_or_else(|| "-".into()));
    }
    let org = who.principal.org_id.clone();
    let cipher = cipher_of(state, &org).await?;
    let rows = audited(
        state,
        &who.principal,
        &who.ip,
        "conversation.list",
        ("org", org.clone()),
        move |conn| Ok(conversations::list(conn, &cipher, &filter)?),
    )
    .await?;
    let items: Vec<Value> = rows.iter().map(summary).collect();
    let next_before = match rows.last() {
        Some(last) if rows.len() as i64 == limit => Some(last.created_at.clone()),
        _ => None,
    };
    Ok(json!({ "conversations": items, "next_before": next_before }))
}

/// The stored recording, with HTTP range support for players.
async fn audio(
    state: web::Data<AppState>,
    who: Authed<ReadConversations>,
    path: web::Path<String>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let principal = who.principal.clone();
    let blobs = BlobStore::new(&state.config.data_dir);
    let cipher = cipher_of(&state, &who.principal.org_id).await?;
    let reader = audited(
        &state,
        &who.principal,
        &who.ip,
        "recording.read",
        ("conversation", id.clone()),
        move |conn| {
            let c = conversations::get(conn, &cipher, &id)?
                .filter(|c| visible(&principal, c) && c.kind == "call")
                .ok_or(AppError::NotFound)?;
            blobs.open(&cipher, &c.id).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => AppError::NotFound,
                _ => AppError::Integrity(e.to_string()),
            })
        },
    )
    .await?;
    super::recording::respond(&req, reader).await
}
