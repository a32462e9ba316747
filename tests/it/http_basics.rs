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

    // A known path with a method it does not take: 405 naming the ones it does.
    for (method, path, allow) in [
        (reqwest::Method::PUT, "/healthz", "GET, HEAD"),
        (reqwest::Method::GET, "/api/v1/auth/login", "POST"),
        (reqwest::Method::DELETE, "/api/v1/openapi.json", "GET, HEAD"),
    ] {
        let res = c.request(method.clone(), server.url(path)).send().unwrap();
        assert_eq!(res.status(), 405, "{method} {path}");
        assert_eq!(res.headers()["allow"], allow, "{method} {path}");
        let body: Value = res.json().unwrap();
        assert_eq!(body["error"]["code"], "METHOD_NOT_ALLOWED", "{body}");
    }
    let res = c.get(server.url("/api/v1/no-such-thing")).send().unwrap();
    assert_eq!(res.status(), 404);

    // HEAD works wherever GET does: the same status and headers, no body.
    for path in ["/", "/healthz", "/api/v1/openapi.json", "/console/"] {
        let got = c.get(server.url(path)).send().unwrap();
        let head = c.head(server.url(path)).send().unwrap();
        assert_eq!(head.status(), got.status(), "HEAD {path}");
        assert_eq!(
            head.headers().get("content-type"),
            got.headers().get("content-type"),
            "HEAD {path}"
        );
        assert!(head.bytes().unwrap().is_empty(), "HEAD {path}");
    }
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

#[test]
fn a_request_body_that_stops_arriving_is_ended_with_a_clear_error() {
    use std::io::{BufRead, Write};
    let mut env = TestEnv::new(crate::support::Backend::Sqlite);
    env.config.server.body_idle_timeout_secs = 1;
    let server = TestServer::start(env.config.clone());
    let port = port_of(&server);
    // A client that sends the head and the first bytes of a 1000-byte body, then stops.
    let mut slow = tls_client(&port);
    let mut stdin = slow.stdin.take().unwrap();
    stdin
        .write_all(
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n\
              Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"email\": ",
        )
        .unwrap();
    stdin.flush().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = slow.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    // The answer comes while the client still holds the connection open (bounded
    // wait: a server that never answers fails here instead of hanging the suite).
    let mut answer = Vec::new();
    while let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(20)) {
        answer.push(line);
        if answer.iter().any(|l| l.contains("BODY_TIMEOUT")) {
            break;
        }
    }
    drop(stdin);
    let _ = slow.kill();
    let _ = slow.wait();
    assert!(
        answer
            .first()
            .is_some_and(|l| l.starts_with("HTTP/1.1 408")),
        "{answer:?}"
    );
    assert!(
        answer.iter().any(|l| l.contains("BODY_TIMEOUT")),
        "{answer:?}"
    );
    // The server goes on serving.
    assert_eq!(
        client()
            .get(server.url("/healthz"))
            .send()
            .unwrap()
            .status(),
        200
    );
}

/// The server's TCP port.
fn port_of(server: &TestServer) -> String {
    server
        .base
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_string()
}

/// A TLS client on the server's port whose stdin and stdout are the raw HTTP stream.
fn tls_client(port: &str) -> std::process::Child {
    std::process::Command::new("openssl")
        .args([
            "s_client",
            "-quiet",
            "-connect",
            &format!("127.0.0.1:{port}"),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// Sends `request` as raw bytes over TLS and returns everything the server answers
/// until it closes the connection (at most 20 s).
fn raw_exchange(port: &str, request: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut client = tls_client(port);
    let mut stdout = client.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        let _ = tx.send(out);
    });
    // The server may answer and close before it has read all of an oversized request.
    let mut stdin = client.stdin.take().unwrap();
    let _ = stdin.write_all(request);
    let _ = stdin.flush();
    let out = rx
        .recv_timeout(std::time::Duration::from_secs(20))
        .unwrap_or_default();
    drop(stdin);
    let _ = client.kill();
    let _ = client.wait();
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn requests_the_http_layer_refuses_get_json_errors_too() {
    let env = TestEnv::new(crate::support::Backend::Sqlite);
    let server = TestServer::start(env.config.clone());
    let port = port_of(&server);
    // A head of exactly the 128 KiB the server buffers, still unfinished: refused once
    // all of it is read, so nothing is left unread to reset the connection.
    let mut huge = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: ".to_vec();
    huge.resize(128 * 1024, b'a');
    for (request, status, code) in [
        (
            b"THIS IS NOT HTTP\r\n\r\n".to_vec(),
            "HTTP/1.1 400",
            "BAD_REQUEST",
        ),
        (
            b"POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\
              Content-Length: 6\r\n\r\nabcdef"
                .to_vec(),
            "HTTP/1.1 400",
            "BAD_REQUEST",
        ),
        (huge, "HTTP/1.1 431", "HEADERS_TOO_LARGE"),
    ] {
        let answer = raw_exchange(&port, &request);
        let sent = String::from_utf8_lossy(&request[..request.len().min(80)]).into_owned();
        assert!(answer.starts_with(status), "{sent:?} -> {answer}");
        assert!(
            answer
                .to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{answer}"
        );
        let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
        let body: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}"));
        assert_eq!(body["error"]["code"], code, "{answer}");
        assert!(body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    // The server goes on serving.
    let health = client().get(server.url("/healthz")).send().unwrap();
    assert_eq!(health.status(), 200);
}
