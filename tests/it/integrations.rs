//! Integrations against real HTTPS servers on 127.0.0.1: a Zendesk export over cursor
//! pages with a 429, a 500 and malformed JSON, resumed after a restart; a webhook
//! receiver refusing forgeries, stale and replayed deliveries and hosts off its
//! allowlist; alerts to Slack and a signed webhook, once per conversation.

use crate::fake_saas::{FakeServer, Req, Resp, Tls};
use crate::identity::{bootstrap, code, get, login, post, Session, OWNER_PW};
use crate::support::{backends, client, fixture, Backend, TestEnv, TestServer};
use reqwest::blocking::Client;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// An env whose insite trusts the fake servers' CA; syncs only when asked (or new).
fn env_with_ca(backend: Backend, tls: &Tls) -> TestEnv {
    let mut env = TestEnv::new(backend);
    let ca = env.dir.path().join("saas-ca.pem");
    std::fs::write(&ca, &tls.ca_pem).unwrap();
    env.config.integrations.ca_bundle = Some(ca);
    env.config.integrations.sync_interval_seconds = 86_400;
    bootstrap(&env, "Acme", "owner@acme.test");
    env
}

/// Signs in and switches the LLM off (these tests are about what arrives, not analysis).
fn owner_of(c: &Client, s: &TestServer) -> Session {
    let owner = login(c, s, "owner@acme.test", OWNER_PW).unwrap();
    let res = c
        .patch(s.url("/api/v1/org"))
        .header("cookie", &owner.cookie)
        .header("x-csrf-token", &owner.csrf)
        .json(&json!({"analysis": {"text": false}}))
        .send()
        .unwrap();
    assert_eq!(res.status(), 200);
    owner
}

fn create(c: &Client, s: &TestServer, owner: &Session, body: Value) -> String {
    let res = post(c, s, owner, "/api/v1/integrations", body.clone());
    assert_eq!(res.status(), 201, "{body}");
    res.json::<Value>().unwrap()["id"].as_str().unwrap().to_string()
}

fn integration(c: &Client, s: &TestServer, owner: &Session, id: &str) -> Value {
    let list: Value = get(c, s, owner, "/api/v1/integrations").json().unwrap();
    list["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id)
        .cloned()
        .unwrap()
}

pub(crate) fn wait_until<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Waits until a sync is over (not syncing, and run since `after`).
fn settled(c: &Client, s: &TestServer, owner: &Session, id: &str, want: &str) -> Value {
    wait_until(&format!("integration health {want}"), || {
        let h = integration(c, s, owner, id)["health"].clone();
        (h["state"] == want).then_some(h)
    })
}

fn zendesk_conversations(c: &Client, s: &TestServer, owner: &Session) -> Vec<Value> {
    let list: Value = get(c, s, owner, "/api/v1/conversations?source=zendesk&limit=100")
        .json()
        .unwrap();
    list["conversations"].as_array().unwrap().clone()
}

const AUTH: &str = "Basic YWdlbnRAYWNtZS50ZXN0L3Rva2VuOnpkLXRva2VuLTEyMw=="; // agent@acme.test/token:zd-token-123

/// A Zendesk with tickets 101..=107 over three cursor pages. Page 2 first answers 429
/// (Retry-After: 1), ticket 102's comments first answer 500, and page 3 answers
/// malformed JSON while `broken` is set; page 3 repeats ticket 106.
fn fake_zendesk(tls: &Tls, broken: Arc<AtomicUsize>) -> FakeServer {
    let page2 = Arc::new(AtomicUsize::new(0));
    let comments102 = Arc::new(AtomicUsize::new(0));
    let ticket = |id: i64| json!({"id": id, "subject": format!("Parcel {id} missing"), "requester_id": 9, "tags": ["delivery"]});
    FakeServer::start(tls, move |r: &Req| {
        if r.header("authorization") != Some(AUTH) {
            return Resp::json(401, json!({"error": "Couldn't authenticate you"}));
        }
        match r.path() {
            "/api/v2/users/me.json" => Resp::json(200, json!({"user": {"id": 7, "email": "agent@acme.test"}})),
            "/api/v2/incremental/tickets/cursor.json" => match r.query("cursor").as_deref() {
                None => {
                    assert_eq!(r.query("start_time").as_deref(), Some("0"));
                    Resp::json(200, json!({"tickets": [ticket(101), ticket(102), ticket(103)],
                        "after_cursor": "c1", "end_of_stream": false}))
                }
                Some("c1") if page2.fetch_add(1, Ordering::SeqCst) == 0 => {
                    Resp::json(429, json!({"error": "APIRateLimitExceeded"})).with("retry-after", "1")
                }
                Some("c1") => Resp::json(200, json!({"tickets": [ticket(104), ticket(105), ticket(106)],
                    "after_cursor": "c2", "end_of_stream": false})),
                Some("c2") if broken.load(Ordering::SeqCst) > 0 => {
                    Resp::raw(200, "application/json", b"{\"tickets\": [{\"id\": 107,".to_vec())
                }
                Some("c2") => Resp::json(200, json!({"tickets": [ticket(106), ticket(107)],
                    "after_cursor": "c3", "end_of_stream": true})),
                Some(other) => panic!("unexpected cursor {other}"),
            },
            p if p.starts_with("/api/v2/tickets/") => {
                let id: i64 = p.trim_start_matches("/api/v2/tickets/").trim_end_matches("/comments.json").parse().unwrap();
                if id == 102 && comments102.fetch_add(1, Ordering::SeqCst) == 0 {
                    return Resp::json(500, json!({"error": "InternalError"}));
                }
                Resp::json(200, json!({"comments": [
                    {"id": id * 10, "author_id": 9, "plain_body": format!("My parcel {id} never arrived."),
                     "created_at": "2026-11-20T09:00:00Z", "type": "Comment"},
                    {"id": id * 10 + 1, "author_id": 7, "plain_body": format!("Sorry, parcel {id} is resent today."),
                     "created_at": "2026-11-20T10:00:00Z", "type": "Comment"}
                ], "next_page": null}))
            }
            "/api/v2/users/show_many.json" => Resp::json(200, json!({"users": [
                {"id": 9, "name": "Dana Customer", "email": "dana@example.com", "role": "end-user"},
                {"id": 7, "name": "Sam Agent", "email": "agent@acme.test", "role": "agent"}]})),
            other => Resp::json(404, json!({"error": format!("no route {other}")})),
        }
    })
}

#[test]
fn zendesk_export_resumes_from_its_cursor_and_imports_each_ticket_once() {
    for backend in backends() {
        let tls = Tls::new();
        let broken = Arc::new(AtomicUsize::new(1));
        let zd = fake_zendesk(&tls, broken.clone());
        let env = env_with_ca(backend, &tls);
        let c = client();
        let s = TestServer::start(env.config.clone());
        let owner = owner_of(&c, &s);

        // A wrong token: "test connection" says what to fix; nothing is imported.
        let wrong = create(&c, &s, &owner, json!({"kind": "zendesk", "name": "Wrong token",
            "settings": {"base_url": zd.url(""), "start_time": 0},
            "credentials": {"email": "agent@acme.test", "api_token": "nope"}}));
        let tested: Value = post(&c, &s, &owner, &format!("/api/v1/integrations/{wrong}/test"), json!({})).json().unwrap();
        assert_eq!(tested["ok"], false, "{tested}");
        assert!(tested["message"].as_str().unwrap().contains("refused the credentials"), "{tested}");
        let h = settled(&c, &s, &owner, &wrong, "error");
        assert!(h["last_error"].as_str().unwrap().contains("HTTP 401"), "{h}");
        let del = c.delete(s.url(&format!("/api/v1/integrations/{wrong}")))
            .header("cookie", &owner.cookie).header("x-csrf-token", &owner.csrf).send().unwrap();
        assert_eq!(del.status(), 204);

        // The real one: the first sync starts at once.
        let id = create(&c, &s, &owner, json!({"kind": "zendesk", "name": "Zendesk",
            "settings": {"base_url": zd.url(""), "start_time": 0},
            "credentials": {"email": "agent@acme.test", "api_token": "zd-token-123"}}));
        let tested: Value = post(&c, &s, &owner, &format!("/api/v1/integrations/{id}/test"), json!({})).json().unwrap();
        assert_eq!(tested["ok"], true, "{tested}");
        assert!(tested["message"].as_str().unwrap().contains("agent@acme.test"), "{tested}");
        // Page 3 is malformed: the sync stops with a message, keeping pages 1 and 2.
        let h = settled(&c, &s, &owner, &id, "error");
        assert!(h["last_error"].as_str().unwrap().contains("not the expected JSON"), "{h}");
        assert_eq!(h["items_fetched"], 6, "{h}");
        assert_eq!(zendesk_conversations(&c, &s, &owner).len(), 6, "{backend:?}");
        // The 429 and the 500 were retried (Retry-After honoured) and logged.
        let log: Value = get(&c, &s, &owner, &format!("/api/v1/egress-log?integration_id={id}")).json().unwrap();
        let calls = log["calls"].as_array().unwrap();
        let statuses: Vec<i64> = calls.iter().filter_map(|c| c["status"].as_i64()).collect();
        assert!(statuses.contains(&429) && statuses.contains(&500), "{log}");
        assert!(calls.iter().all(|c| c["host"] == "127.0.0.1" && c["bytes"].as_i64().unwrap() > 0), "{log}");
        assert!(!log.to_string().contains("zd-token-123") && !log.to_string().contains("cursor="), "{log}");
        let c1 = zd.requests().iter().filter(|r| r.query("cursor").as_deref() == Some("c1")).count();
        assert_eq!(c1, 2, "page 2 asked twice: the 429, then the page");

        // Restart mid-export: a new server on the same data resumes from cursor c2.
        drop(s);
        broken.store(0, Ordering::SeqCst);
        let s = TestServer::start(env.config.clone());
        let owner = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap();
        let res = post(&c, &s, &owner, &format!("/api/v1/integrations/{id}/sync"), json!({}));
        assert_eq!(res.status(), 202);
        let h = wait_until("the resumed sync", || {
            let h = integration(&c, &s, &owner, &id)["health"].clone();
            (h["state"] == "ok").then_some(h)
        });
        assert_eq!(h["items_fetched"], 7, "{h}");
        let convs = zendesk_conversations(&c, &s, &owner);
        let mut ids: Vec<String> = convs.iter().map(|v| v["external_id"].as_str().unwrap().to_string()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 7, "each ticket exactly once: {ids:?}");
        assert_eq!(convs.len(), 7);
        let firsts = zd.requests().iter().filter(|r| r.query("start_time").is_some()).count();
        assert_eq!(firsts, 1, "the export did not start over after the restart");
        // Ticket 106 came again on page 3: its comments were not fetched twice.
        let c106 = zd.requests().iter().filter(|r| r.path() == "/api/v2/tickets/106/comments.json").count();
        assert_eq!(c106, 1);
        // A sync of a kind that is not synced is refused.
        let hook = create(&c, &s, &owner, json!({"kind": "webhook", "name": "Recorder",
            "credentials": {"secret": "0123456789abcdef0123"}}));
        assert_eq!(
            code(post(&c, &s, &owner, &format!("/api/v1/integrations/{hook}/sync"), json!({}))),
            (409, "NOT_SYNCED".into())
        );
    }
}
