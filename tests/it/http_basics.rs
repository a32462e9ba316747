//! Health, readiness, metrics, request ids and the JSON error shape, on both backends.

use crate::support::{backends, client, TestEnv, TestServer};
use serde_json::Value;

#[test]
fn probes_answer_and_requests_are_counted() {
    for backend in backends() {
        let env = TestEnv::new(backend);
        let server = TestServer::start(env.config.clone());
        let c = client();

        let health = c.get(server.url("/healthz")).send().unwrap();
        assert_eq!(health.status(), 200, "{backend:?}");
        assert!(health.headers().contains_key("x-request-id"));

        let ready: Value = c.get(server.url("/readyz")).send().unwrap().json().unwrap();
        assert_eq!(ready["status"], "ready", "{backend:?}");
        assert_eq!(ready["checks"]["database"], "ok");
        assert_eq!(ready["checks"]["threads"], "ok");
        let threads: Vec<(&str, &str)> = ready["threads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["name"].as_str().unwrap(), t["state"].as_str().unwrap()))
            .collect();
        for duty in ["schedules", "integrations", "alerts", "pipeline-0"] {
            assert!(
                threads.contains(&(duty, "running")),
                "{backend:?}: {threads:?}"
            );
        }

        let version: Value = c
            .get(server.url("/api/v1/version"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(version["installation_id"].as_str().unwrap().len(), 36);

        let metrics = c.get(server.url("/metrics")).send().unwrap();
        assert!(metrics.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"));
        let text = metrics.text().unwrap();
        assert!(
            text.contains(
                "insite_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains(
            "insite_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/version\""
        ));
        assert!(
            text.contains("insite_thread_up{thread=\"schedules\"} 1"),
            "{text}"
        );
        assert!(text.contains("insite_thread_restarts_total{thread=\"alerts\"} 0"));
    }
}

#[test]
fn errors_are_json_with_code_and_the_request_id() {
    let env = TestEnv::new(crate::support::Backend::Sqlite);
    let server = TestServer::start(env.config.clone());
    let c = client();

    let res = c.get(server.url("/api/v1/no-such-thing")).send().unwrap();
    assert_eq!(res.status(), 404);
    let header_id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    let body: Value = res.json().unwrap();
    assert_eq!(body["error"]["code"], "NOT_FOUND");
    assert_eq!(body["error"]["message"], "not found");
    assert_eq!(body["error"]["request_id"], header_id.as_str());

    // Unknown paths never reach metrics as raw labels.
    let text = c
        .get(server.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(!text.contains("no-such-thing"), "{text}");
    assert!(text.contains("route=\"unmatched\""));
}

#[test]
fn client_request_id_is_echoed_only_when_plain() {
    let env = TestEnv::new(crate::support::Backend::Sqlite);
    let server = TestServer::start(env.config.clone());
    let c = client();

    let res = c
        .get(server.url("/healthz"))
        .header("x-request-id", "lb-1234_abc")
        .send()
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "lb-1234_abc");

    let res = c
        .get(server.url("/healthz"))
        .header("x-request-id", "evil\" injected=1")
        .send()
        .unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap();
    assert_ne!(id, "evil\" injected=1");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
}

#[test]
fn actix_errors_use_the_json_shape_too() {
    let mut env = TestEnv::new(crate::support::Backend::Sqlite);
    env.config.server.max_json_body_bytes = 2048;
    let server = TestServer::start(env.config.clone());
    let c = client();

    let res = c
        .post(server.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .unwrap();
    assert_eq!(res.status(), 400);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    let body: Value = res.json().unwrap();
    assert_eq!(body["error"]["code"], "BAD_JSON", "{body}");
    assert_eq!(body["error"]["request_id"], id.as_str());

    let res = c
        .post(server.url("/api/v1/auth/login"))
        .json(&serde_json::json!({"email": "a@b.c", "password": "x".repeat(5000)}))
        .send()
        .unwrap();
    assert_eq!(res.status(), 413);
    let body: Value = res.json().unwrap();
    assert_eq!(body["error"]["code"], "PAYLOAD_TOO_LARGE");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("2048"),
        "{body}"
    );

    let res = c
        .post(server.url("/api/v1/auth/login"))
        .json(&serde_json::json!({"email": "a@b.c", "pass": "x"}))
        .send()
        .unwrap();
    assert_eq!(res.status(), 422);
    let body: Value = res.json().unwrap();
    assert_eq!(body["error"]["code"], "INVALID_JSON_FIELDS", "{body}");

    let res = c.put(server.url("/healthz")).send().unwrap();
    assert!(res.status().is_client_error());
    let body: Value = res.json().unwrap();
    assert!(body["error"]["code"].is_string(), "{body}");
}

#[test]
fn metrics_with_a_configured_token_need_it_even_from_this_machine() {
    let mut env = TestEnv::new(crate::support::Backend::Sqlite);
    env.config.server.metrics_token_sha256 = insite::crypto::token::digest("scrape-secret-1");
    let server = TestServer::start(env.config.clone());
    let c = client();
    let refused = c.get(server.url("/metrics")).send().unwrap();
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().unwrap();
    assert_eq!(body["error"]["code"], "METRICS_FORBIDDEN");
    let wrong = c
        .get(server.url("/metrics"))
        .bearer_auth("scrape-secret-2")
        .send()
        .unwrap();
    assert_eq!(wrong.status(), 403);
    let text = c
        .get(server.url("/metrics"))
        .bearer_auth("scrape-secret-1")
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(text.contains("insite_http_requests_total"), "{text}");
}
