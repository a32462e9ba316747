//! Per-request context: request id (header, span, error bodies), metrics, readiness gate.

use super::readiness::ReadyState;
use super::state::AppState;
use crate::api::error::{AppError, BODY_IDLE, REQUEST_ID};
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::error::PayloadError;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage, ResponseError};
use std::time::Instant;
use tracing::Instrument;

/// The response header carrying the request id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Paths served even while the node is starting.
const ALWAYS_OPEN: &[&str] = &["/healthz", "/readyz", "/metrics"];

/// A client-supplied id is kept only if it is short and plain, so it cannot
/// forge log lines; otherwise a fresh UUID is used.
fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Outermost middleware: everything inside sees the request id.
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = request_id(&req);
    let method = req.method().to_string();
    let path = req.path().to_string();
    let span = tracing::info_span!("request", request_id = %id, method = %method, path = %path);
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let started = Instant::now();
    let header_id = id.clone();
    let inner = async move {
        next.call(req).await.map_err(|e| {
            // Render here, inside the scope, so the body carries the request id.
            let mut response = e.error_response();
            if let Ok(value) = HeaderValue::from_str(&header_id) {
                response
                    .headers_mut()
                    .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
            }
            Error::from(InternalError::from_response(e, response))
        })
    };
    let mut res = REQUEST_ID
        .scope(id.clone(), inner.instrument(span.clone()))
        .await?;
    let elapsed = started.elapsed();
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_string());
    let status = res.status().as_u16();
    if let Some(state) = state {
        state.metrics.observe(&method, &route, status, elapsed);
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    let ms = elapsed.as_secs_f64() * 1000.0;
    if ALWAYS_OPEN.contains(&path.as_str()) {
        tracing::debug!(parent: &span, status, ms, "request done");
    } else {
        tracing::info!(parent: &span, status, ms, route = %route, "request done");
    }
    Ok(res)
}

/// Request bodies must keep arriving: a client that sends no body data for
/// `server.body_idle_timeout_secs` has its request ended (408 `BODY_TIMEOUT`), so
/// slow-sending clients cannot hold workers; uploads that keep moving are unaffected.
/// `HEAD` is answered wherever `GET` is: it is routed as `GET`, and the HTTP layer,
/// which remembers the request was `HEAD`, sends the answer's head without its body.
pub async fn head_as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    if req.method() == actix_web::http::Method::HEAD {
        req.head_mut().method = actix_web::http::Method::GET;
    }
    next.call(req).await
}

pub async fn body_deadline(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let secs = req
        .app_data::<web::Data<AppState>>()
        .map_or(30, |s| s.config.server.body_idle_timeout_secs);
    let idle = std::time::Duration::from_secs(secs);
    let payload = req.take_payload();
    let guarded = futures_util::stream::unfold(Some(payload), move |state| async move {
        let mut payload = state?;
        match actix_web::rt::time::timeout(idle, futures_util::StreamExt::next(&mut payload)).await
        {
            Ok(Some(item)) => Some((item, Some(payload))),
            Ok(None) => None,
            Err(_) => {
                let e =
                    std::io::Error::new(std::io::ErrorKind::TimedOut, format!("{BODY_IDLE}{secs}"));
                Some((Err(PayloadError::Io(e)), None))
            }
        }
    });
    // Fused: readers may poll again after the end (an unfold would panic).
    req.set_payload(Payload::Stream {
        payload: Box::pin(futures_util::StreamExt::fuse(guarded)),
    });
    next.call(req).await
}

/// The error to answer with while start-up is not done (`None` once ready).
pub fn not_ready(state: ReadyState) -> Option<AppError> {
    match state {
        ReadyState::Ready => None,
        ReadyState::Starting => Some(AppError::Starting),
        ReadyState::Failed(reason) => Some(AppError::Unavailable(reason)),
    }
}

/// Answers 503 for everything but health and metrics until start-up is done.
pub async fn readiness_gate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.readiness.get());
    let refusal = match state {
        _ if ALWAYS_OPEN.contains(&req.path()) => None,
        Some(state) => not_ready(state),
        None => Some(AppError::Starting),
    };
    match refusal {
        Some(e) => Ok(req.into_response(e.error_response()).map_into_right_body()),
        None => next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::{Metrics, Readiness};
    use actix_web::{test, App, HttpResponse};
    use std::sync::Arc;

    fn state(readiness: Readiness) -> (AppState, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::config::Config {
            data_dir: dir.path().to_path_buf(),
            ..Default::default()
        };
        let pool = crate::store::open(&config).unwrap();
        let keyring = crate::server::open_keyring(&config, &pool, crate::clock::system()).unwrap();
        let pool_for_gate = pool.clone();
        let state = AppState {
            config: Arc::new(config),
            pool,
            readiness,
            metrics: Arc::new(Metrics::default()),
            clock: crate::clock::system(),
            tls: None,
            login_limiter: Arc::default(),
            keyring: Arc::new(keyring),
            gate: Arc::new(
                crate::integrations::egress::Gate::new(
                    pool_for_gate,
                    crate::clock::system(),
                    &Default::default(),
                )
                .unwrap(),
            ),
        };
        (state, dir)
    }

    #[actix_web::test]
    async fn api_answers_503_starting_until_ready_but_probes_answer() {
        let readiness = Readiness::default();
        let (state, _dir) = state(readiness.clone());
        let app = test::init_service(
            App::new()
                .app_data(web::Data::new(state))
                .route(
                    "/api/v1/x",
                    web::get().to(|| async { HttpResponse::Ok().finish() }),
                )
                .route(
                    "/healthz",
                    web::get().to(|| async { HttpResponse::Ok().finish() }),
                )
                .wrap(actix_web::middleware::from_fn(readiness_gate))
                .wrap(actix_web::middleware::from_fn(request_context)),
        )
        .await;
        let res =
            test::call_service(&app, test::TestRequest::get().uri("/api/v1/x").to_request()).await;
        assert_eq!(res.status(), 503);
        let body: serde_json::Value = test::read_body_json(res).await;
        assert_eq!(body["error"]["code"], "STARTING");
        assert!(body["error"]["request_id"].is_string());
        let res =
            test::call_service(&app, test::TestRequest::get().uri("/healthz").to_request()).await;
        assert_eq!(res.status(), 200);

        readiness.set(ReadyState::Ready);
        let res =
            test::call_service(&app, test::TestRequest::get().uri("/api/v1/x").to_request()).await;
        assert_eq!(res.status(), 200);

        readiness.set(ReadyState::Failed("migration 2 failed".into()));
        let res =
            test::call_service(&app, test::TestRequest::get().uri("/api/v1/x").to_request()).await;
        let body: serde_json::Value = test::read_body_json(res).await;
        assert_eq!(body["error"]["code"], "UNAVAILABLE");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("migration 2 failed"));
    }
}
