//! The webhook receiver: a call-recording system POSTs a signed notification to
//! `/api/v1/hooks/{integration id}`; insite checks the HMAC signature and timestamp,
//! refuses replays, fetches the recording through the egress gate (the receiver's
//! allowlist) and queues it like an upload. No session: the signature is the proof.

use super::error::{current_request_id, AppError, AppResult};
use crate::audit::{self, Event};
use crate::blob::BlobStore;
use crate::domain::time::stamp;
use crate::integrations::egress::{EgressError, Request};
use crate::integrations::open::open;
use crate::integrations::webhook::{self, DEFAULT_TOLERANCE, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::pipeline::ingest::{self, CallMeta};
use crate::server::AppState;
use crate::store::{integrations, webhook_deliveries, DbConn};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/hooks/{id}", web::post().to(receive));
}

/// A notification: where the recording is, and what is known about the call.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Notification {
    recording_url: String,
    #[serde(default)]
    call: CallMeta,
}

fn header(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers().get(name)?.to_str().ok().map(str::to_string)
}

fn unauthorized(code: &'static str, message: String) -> AppError {
    AppError::Unauthorized { code, message }
}

async fn receive(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let ts = header(&req, TIMESTAMP_HEADER);
    let sig = header(&req, SIGNATURE_HEADER);
    let ip = req
        .connection_info()
        .realip_remote_addr()
        .unwrap_or_default()
        .to_string();
    let request_id = current_request_id().unwrap_or_default();
    let state = state.into_inner();
    let accepted = web::block(move || -> AppResult<ingest::Accepted> {
        let mut conn = state.pool.get()?;
        let row = integrations::receiver(&mut conn, &id)?.ok_or(AppError::NotFound)?;
        let result = accept(&state, &mut conn, &row.org_id, &id, ts, sig, &body);
        let event = Event {
            chain: row.org_id.clone(),
            actor: format!("webhook:{id}"),
            action: "webhook.receive".into(),
            object_type: "integration".into(),
            object_id: id.clone(),
            ip,
            request_id,
            outcome: match &result {
                Ok(_) => "success",
                Err(AppError::Unauthorized { .. } | AppError::Conflict { .. }) => "denied",
                Err(_) => "failure",
            }
            .into(),
        };
        audit::append(&mut conn, &event, state.clock.now())?;
        result
    })
    .await??;
    Ok(HttpResponse::Accepted().json(json!(accepted)))
}

fn accept(
    state: &AppState,
    conn: &mut DbConn,
    org_id: &str,
    id: &str,
    ts: Option<String>,
    sig: Option<String>,
    body: &[u8],
) -> AppResult<ingest::Accepted> {
    let cipher = state.keyring.for_org(conn, org_id)?;
    let receiver = open(conn, &cipher, id)?.ok_or(AppError::NotFound)?;
    let secret = receiver
        .secret("secret")
        .ok_or_else(|| AppError::Internal("the receiver has no secret".into()))?;
    let tolerance = receiver
        .settings
        .get("tolerance_seconds")
        .and_then(serde_json::Value::as_i64)
        .unwrap_or(DEFAULT_TOLERANCE);
    let now = state.clock.now();
    webhook::verify(
        secret,
        ts.as_deref(),
        sig.as_deref(),
        body,
        now.timestamp(),
        tolerance,
    )
    .map_err(|r| unauthorized(r.code(), r.message(tolerance)))?;
    let signature = sig.unwrap_or_default();
    if !webhook_deliveries::record(conn, org_id, id, signature.trim(), &stamp(now))? {
        return Err(AppError::Conflict {
            code: "REPLAYED",
            message: "this delivery (signature) was accepted before".into(),
        });
    }
    let note: Notification = serde_json::from_slice(body).map_err(|e| AppError::Unprocessable {
        code: "VALIDATION",
        message: format!("the notification is not valid JSON of {{recording_url, call}}: {e}"),
    })?;
    let url = crate::integrations::kinds::check_url("recording_url", &note.recording_url).map_err(
        |message| AppError::Unprocessable {
            code: "VALIDATION",
            message,
        },
    )?;
    let res = state
        .gate
        .send(&receiver.caller, Request::get(url))
        .map_err(|e| match e {
            EgressError::Refused(message) => AppError::Unprocessable {
                code: "EGRESS_REFUSED",
                message: format!("recording_url: {message} (settings.allowed_hosts)"),
            },
            EgressError::Failed(message) => {
                AppError::Unavailable(format!("the recording could not be fetched: {message}"))
            }
        })?;
    if !res.ok() {
        return Err(AppError::Unavailable(format!(
            "the recording could not be fetched: HTTP {}",
            res.status
        )));
    }
    let mut meta = note.call;
    meta.source = Some(meta.source.unwrap_or_else(|| "webhook".into()));
    let blobs = BlobStore::new(&state.config.data_dir);
    let stereo = &state.config.pipeline.stereo_speakers;
    Ok(ingest::accept_recording_bytes(
        conn, &blobs, &cipher, meta, stereo, &res.body, now,
    )?)
}
