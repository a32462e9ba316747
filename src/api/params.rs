//! Checks of query parameters that several list routes share.

use super::error::{AppError, AppResult};

/// `from` and `to`, when given, must be RFC 3339 times (400 `VALIDATION` otherwise).
pub fn check_time_bounds(from: &Option<String>, to: &Option<String>) -> AppResult<()> {
    for bound in [from, to].into_iter().flatten() {
        crate::domain::time::parse(bound).map_err(|m| AppError::BadRequest {
            code: "VALIDATION",
            message: m,
        })?;
    }
    Ok(())
}

/// An optional RFC 3339 time parameter named `field` (422 `VALIDATION` otherwise).
pub fn time(field: &str, v: &Option<String>) -> AppResult<Option<chrono::DateTime<chrono::Utc>>> {
    v.as_deref()
        .map(|t| {
            crate::domain::time::parse(t).map_err(|_| AppError::Unprocessable {
                code: "VALIDATION",
                message: format!("{field} '{t}' is not an RFC 3339 time"),
            })
        })
        .transpose()
}

/// A page size of 1..=500 (default 50).
pub fn page_limit(requested: Option<i64>) -> AppResult<i64> {
    let limit = requested.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(AppError::BadRequest {
            code: "VALIDATION",
            message: "limit must be 1..=500".into(),
        });
    }
    Ok(limit)
}
