//! The one error type of the HTTP API and its mapping to status, stable code and JSON.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::{header, StatusCode};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

tokio::task_local! {
    /// The id of the request being handled, set by the request-id middleware.
    pub static REQUEST_ID: String;
}

/// The current request's id, if called while handling a request.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Everything a handler can fail with. Clients get `code` and a message;
/// internal detail goes to the log only.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// Existed once, usable no more (a used or expired link).
    #[error("{message}")]
    Gone { code: &'static str, message: String },
    #[error("request body too large: the limit is {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// The client stopped sending the request body.
    #[error("no request body data arrived for {0} s; the request was ended")]
    BodyTimeout(u64),
    #[error("unsupported content type: {0}")]
    UnsupportedMediaType(String),
    #[error("{message}")]
    TooManyRequests { code: &'static str, message: String },
    #[error("server is starting: migrations are running")]
    Starting,
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("{0}")]
    ModelRefused(String),
    /// A stored value or object failed its integrity check (altered, moved or under a
    /// lost key): the message names the place, never the content.
    #[error("{0}")]
    Integrity(String),
    /// A database fault; the detail is logged, never sent.
    #[error("storage error")]
    Storage(String),
    /// Any other fault; the detail is logged, never sent.
    #[error("internal error")]
    Internal(String),
}

impl AppError {
    /// The stable, searchable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest { code, .. }
            | AppError::Unprocessable { code, .. }
            | AppError::Unauthorized { code, .. }
            | AppError::Forbidden { code, .. }
            | AppError::Conflict { code, .. }
            | AppError::Gone { code, .. }
            | AppError::TooManyRequests { code, .. } => code,
            AppError::NotFound => "NOT_FOUND",
            AppError::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            AppError::PayloadTooLarge { .. } => "PAYLOAD_TOO_LARGE",
            AppError::BodyTimeout(_) => "BODY_TIMEOUT",
            AppError::UnsupportedMediaType(_) => "UNSUPPORTED_MEDIA_TYPE",
            AppError::Starting => "STARTING",
            AppError::Unavailable(_) => "UNAVAILABLE",
            AppError::ModelRefused(_) => "MODEL_REFUSED",
            AppError::Integrity(_) => "DATA_INTEGRITY",
            AppError::Storage(_) => "STORAGE_ERROR",
            AppError::Internal(_) => "INTERNAL_ERROR",
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    message: &'a str,
    request_id: Option<String>,
}

/// The JSON error shape every failure takes.
pub fn error_json(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ErrorBody {
            error: ErrorDetail {
                code,
                message,
                request_id: current_request_id(),
            },
        })
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            AppError::Forbidden { .. } => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::Gone { .. } => StatusCode::GONE,
            AppError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Starting | AppError::Unavailable(_) | AppError::ModelRefused(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            AppError::Storage(_) | AppError::Internal(_) | AppError::Integrity(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            AppError::Storage(detail)
            | AppError::Internal(detail)
            | AppError::Integrity(detail) => {
                tracing::error!(code = self.code(), detail = %detail, "request failed");
            }
            _ => tracing::debug!(code = self.code(), "request refused: {self}"),
        }
        error_json(self.status_code(), self.code(), &self.to_string())
    }
}

/// Marks the body error raised by `server::middleware::body_deadline`, before the
/// idle seconds.
pub const BODY_IDLE: &str = "insite-body-idle:";

/// The idle limit, when `e` is the body deadline's timeout.
pub fn body_timed_out(e: &actix_web::error::PayloadError) -> Option<u64> {
    let actix_web::error::PayloadError::Io(io) = e else {
        return None;
    };
    io.to_string().strip_prefix(BODY_IDLE)?.parse().ok()
}

impl From<actix_web::error::JsonPayloadError> for AppError {
    fn from(e: actix_web::error::JsonPayloadError) -> Self {
        use actix_web::error::JsonPayloadError as J;
        match e {
            J::OverflowKnownLength { limit, .. } | J::Overflow { limit } => {
                AppError::PayloadTooLarge { limit }
            }
            J::ContentType => AppError::UnsupportedMediaType("expected application/json".into()),
            J::Payload(p) if body_timed_out(&p).is_some() => {
                AppError::BodyTimeout(body_timed_out(&p).unwrap_or(0))
            }
            J::Deserialize(inner) if inner.is_data() => AppError::Unprocessable {
                code: "INVALID_JSON_FIELDS",
                message: inner.to_string(),
            },
            J::Deserialize(inner) => AppError::BadRequest {
                code: "BAD_JSON",
                message: format!("request body is not valid JSON: {inner}"),
            },
            other => AppError::BadRequest {
                code: "BAD_REQUEST",
                message: other.to_string(),
            },
        }
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        AppError::Internal(format!("blocking task failed: {e}"))
    }
}

impl From<r2d2::Error> for AppError {
    fn from(e: r2d2::Error) -> Self {
        AppError::Unavailable(format!("database connection unavailable ({e})"))
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => AppError::NotFound,
            other => AppError::Storage(other.to_string()),
        }
    }
}

impl From<crate::crypto::aead::IntegrityError> for AppError {
    fn from(e: crate::crypto::aead::IntegrityError) -> Self {
        AppError::Integrity(e.to_string())
    }
}

impl From<crate::keys::KeyError> for AppError {
    fn from(e: crate::keys::KeyError) -> Self {
        use crate::keys::KeyError as K;
        match e {
            K::Storage(d) => AppError::from(d),
            K::Integrity(i) => AppError::from(i),
            K::Unwrap(_) => AppError::Integrity(e.to_string()),
            K::Shredded(_) => AppError::Gone {
                code: "ORG_ERASED",
                message: e.to_string(),
            },
            K::Master(_) | K::Crypto(_) => AppError::Internal(e.to_string()),
        }
    }
}

/// Rewrites any error response that is not already our JSON (actix's own plain
/// text 404/405/413, extractor failures) into the JSON error shape.
pub fn jsonify_plain_errors<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    // JSON errors are already in shape; console pages render their own errors.
    let shaped = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if shaped {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("NOT_FOUND", "not found".to_string()),
        StatusCode::METHOD_NOT_ALLOWED => ("METHOD_NOT_ALLOWED", "method not allowed".into()),
        StatusCode::PAYLOAD_TOO_LARGE => ("PAYLOAD_TOO_LARGE", "request body too large".into()),
        StatusCode::BAD_REQUEST => ("BAD_REQUEST", "malformed request".into()),
        s if s.is_server_error() => ("INTERNAL_ERROR", "internal error".into()),
        s => (
            "HTTP_ERROR",
            s.canonical_reason().unwrap_or("error").to_string(),
        ),
    };
    let (req, _) = res.into_parts();
    let body: HttpResponse<BoxBody> = error_json(status, code, &message);
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, body).map_into_right_body(),
    ))
}

/// Convenience for `Result<_, AppError>`.
pub type AppResult<T> = Result<T, AppError>;
