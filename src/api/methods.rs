//! Which methods each API path takes, from the API description (`openapi.json`, which
//! a test keeps equal to the routes): a request for a known path with a method it does
//! not take answers 405 with `Allow`, not 404.

use super::error::error_json;
use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use std::sync::OnceLock;

/// A documented path (its segments; `{name}` matches any one) and its methods.
struct Documented {
    segments: Vec<String>,
    methods: Vec<String>,
}

fn documented() -> &'static [Documented] {
    static PATHS: OnceLock<Vec<Documented>> = OnceLock::new();
    PATHS.get_or_init(|| {
        let doc: serde_json::Value =
            serde_json::from_str(super::system::OPENAPI).unwrap_or_default();
        doc["paths"]
            .as_object()
            .map(|paths| {
                paths
                    .iter()
                    .map(|(path, ops)| Documented {
                        segments: path.split('/').map(str::to_string).collect(),
                        methods: ops
                            .as_object()
                            .map(|o| o.keys().map(|m| m.to_uppercase()).collect())
                            .unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    })
}

fn matches(pattern: &[String], path: &[&str]) -> bool {
    pattern.len() == path.len()
        && pattern
            .iter()
            .zip(path)
            .all(|(p, s)| (p.starts_with('{') && p.ends_with('}') && !s.is_empty()) || p == s)
}

/// The methods `path` takes (with `HEAD` wherever `GET` is), in a stable order; empty
/// when it is no API path.
pub fn allowed(path: &str) -> Vec<String> {
    let parts: Vec<&str> = path.split('/').collect();
    let mut methods: Vec<String> = documented()
        .iter()
        .filter(|d| matches(&d.segments, &parts))
        .flat_map(|d| d.methods.iter().cloned())
        .collect();
    if methods.iter().any(|m| m == "GET") {
        methods.push("HEAD".into());
    }
    methods.sort();
    methods.dedup();
    methods
}

/// What the server answers a request no route took: 405 with `Allow` for an API path
/// that takes other methods, else 404.
pub async fn unrouted(req: HttpRequest) -> HttpResponse {
    let methods = allowed(req.path());
    if methods.is_empty() {
        return error_json(StatusCode::NOT_FOUND, "NOT_FOUND", "not found");
    }
    let allow = methods.join(", ");
    let mut res = error_json(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        &format!("{} takes {allow}, not {}", req.path(), req.method()),
    );
    if let Ok(v) = header::HeaderValue::from_str(&allow) {
        res.headers_mut().insert(header::ALLOW, v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_paths_give_their_methods_and_others_none() {
        assert_eq!(allowed("/api/v1/auth/login"), ["POST"]);
        assert_eq!(allowed("/healthz"), ["GET", "HEAD"]);
        let holds = allowed("/api/v1/legal-holds");
        assert!(holds.contains(&"GET".to_string()) && holds.contains(&"POST".to_string()));
        assert!(!allowed("/api/v1/conversations/abc").is_empty());
        assert!(allowed("/api/v1/conversations//").is_empty());
        assert!(allowed("/api/v1/nothing-here").is_empty());
        assert!(allowed("/console/").is_empty());
    }
}
