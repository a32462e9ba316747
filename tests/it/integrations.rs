//! Integrations against real HTTPS servers on 127.0.0.1: a Zendesk export over cursor
//! pages with a 429, a 500 and malformed JSON, resumed after a restart; a webhook
//! receiver refusing forgeries, stale and replayed deliveries and hosts off its
//! allowlist; alerts to Slack and a signed webhook, once per conversation.

use crate::fake_saas::{FakeServer, Req, Resp, Tls};
use crate::identity::{bootstrap, code, get, login, post, text_analysis_off, Session, OWNER_PW};
use crate::support::{backends, client, fixture, Backend, TestEnv, TestServer};
use diesel::RunQueryDsl;
use reqwest::blocking::Client;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// An env whose insite trusts the fake servers' CA; syncs only when asked (or new).
pub(crate) fn env_with_ca(backend: Backend, tls: &Tls) -> TestEnv {
    let mut env = TestEnv::new(backend);
    let ca = env.dir.path().join("saas-ca.pem");
    std::fs::write(&ca, &tls.ca_pem).unwrap();
    env.config.integrations.ca_bundle = Some(ca);
    env.config.integrations.sync_interval_seconds = 86_400;
    bootstrap(&env, "Acme", "owner@acme.test");
    env
}

/// Signs in and switches the LLM off (these tests are about what arrives, not analysis).
pub(crate) fn owner_of(c: &Client, s: &TestServer) -> Session {
    let owner = login(c, s, "owner@acme.test", OWNER_PW).unwrap();
    text_analysis_off(c, &s.base, &owner);
    owner
}

pub(crate) fn create(c: &Client, s: &TestServer, owner: &Session, body: Value) -> String {
    let res = post(c, s, owner, "/api/v1/integrations", body.clone());
    assert_eq!(res.status(), 201, "{body}");
    res.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// "Test connection": its answer, {ok, message}.
pub(crate) fn test_connection(c: &Client, s: &TestServer, owner: &Session, id: &str) -> Value {
    let res = post(
        c,
        s,
        owner,
        &format!("/api/v1/integrations/{id}/test"),
        json!({}),
    );
    assert_eq!(res.status(), 200);
    res.json().unwrap()
}

pub(crate) fn integration(c: &Client, s: &TestServer, owner: &Session, id: &str) -> Value {
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
pub(crate) fn settled(c: &Client, s: &TestServer, owner: &Session, id: &str, want: &str) -> Value {
    wait_until(&format!("integration health {want}"), || {
        let h = integration(c, s, owner, id)["health"].clone();
        (h["state"] == want).then_some(h)
    })
}

fn zendesk_conversations(c: &Client, s: &TestServer, owner: &Session) -> Vec<Value> {
    let list: Value = get(
        c,
        s,
        owner,
        "/api/v1/conversations?source=zendesk&limit=100",
    )
    .json()
    .unwrap();
    list["conversations"].as_array().unwrap().clone()
}

const AUTH: &str = "Basic YWdlbnRAYWNtZS50ZXN0L3Rva2VuOnpkLXRva2VuLTEyMw=="; // agent@acme.test/token:zd-token-123

/// A Zendesk with tickets 101..=107 over three cursor pages. Page 2 first answers 429
/// (Retry-After: 1), ticket 102's comments first answer 500, and page 3 answers
/// malformed JSON while `broken` is set; page 3 repeats ticket 106.
fn fake_zendesk(tls: &Tls, broken: Arc<AtomicUsize>, recording_url: String) -> FakeServer {
    let page2 = Arc::new(AtomicUsize::new(0));
    let comments102 = Arc::new(AtomicUsize::new(0));
    let ticket = |id: i64| json!({"id": id, "subject": format!("Parcel {id} missing"), "requester_id": 9, "tags": ["delivery"]});
    FakeServer::start(tls, move |r: &Req| {
        if r.header("authorization") != Some(AUTH) {
            return Resp::json(401, json!({"error": "Couldn't authenticate you"}));
        }
        match r.path() {
            "/api/v2/users/me.json" => {
                Resp::json(200, json!({"user": {"id": 7, "email": "agent@acme.test"}}))
            }
            "/api/v2/incremental/tickets/cursor.json" => match r.query("cursor").as_deref() {
                None => {
                    assert_eq!(r.query("start_time").as_deref(), Some("0"));
                    Resp::json(
                        200,
                        json!({"tickets": [ticket(101), ticket(102), ticket(103)],
                        "after_cursor": "c1", "end_of_stream": false}),
                    )
                }
                Some("c1") if page2.fetch_add(1, Ordering::SeqCst) == 0 => {
                    Resp::json(429, json!({"error": "APIRateLimitExceeded"}))
                        .with("retry-after", "1")
                }
                Some("c1") => Resp::json(
                    200,
                    json!({"tickets": [ticket(104), ticket(105), ticket(106)],
                    "after_cursor": "c2", "end_of_stream": false}),
                ),
                Some("c2") if broken.load(Ordering::SeqCst) > 0 => Resp::raw(
                    200,
                    "application/json",
                    b"{\"tickets\": [{\"id\": 107,".to_vec(),
                ),
                Some("c2") => Resp::json(
                    200,
                    json!({"tickets": [ticket(106), ticket(107)],
                    "after_cursor": "c3", "end_of_stream": true}),
                ),
                Some(other) => panic!("unexpected cursor {other}"),
            },
            p if p.starts_with("/api/v2/tickets/") => {
                let id: i64 = p
                    .trim_start_matches("/api/v2/tickets/")
                    .trim_end_matches("/comments.json")
                    .parse()
                    .unwrap();
                if id == 102 && comments102.fetch_add(1, Ordering::SeqCst) == 0 {
                    return Resp::json(500, json!({"error": "InternalError"}));
                }
                let mut comments = vec![
                    json!({"id": id * 10, "author_id": 9, "plain_body": format!("My parcel {id} never arrived."),
                     "created_at": "2026-11-20T09:00:00Z", "type": "Comment"}),
                    json!({"id": id * 10 + 1, "author_id": 7, "plain_body": format!("Sorry, parcel {id} is resent today."),
                     "created_at": "2026-11-20T10:00:00Z", "type": "Comment"}),
                ];
                // Ticket 103 was a phone call: Zendesk Talk's voice comment.
                if id == 103 {
                    comments.push(
                        json!({"id": 1032, "author_id": 7, "created_at": "2026-11-20T11:00:00Z",
                        "type": "VoiceComment", "data": {"recording_url": recording_url}}),
                    );
                }
                Resp::json(200, json!({"comments": comments, "next_page": null}))
            }
            "/api/v2/users/show_many.json" => Resp::json(
                200,
                json!({"users": [
                {"id": 9, "name": "Dana Customer", "email": "dana@example.com", "role": "end-user"},
                {"id": 7, "name": "Sam Agent", "email": "agent@acme.test", "role": "agent"}]}),
            ),
            other => Resp::json(404, json!({"error": format!("no route {other}")})),
        }
    })
}

#[test]
fn zendesk_export_resumes_from_its_cursor_and_imports_each_ticket_once() {
    for backend in backends() {
        let tls = Tls::new();
        let broken = Arc::new(AtomicUsize::new(1));
        let audio = std::fs::read(fixture("speech.wav")).unwrap();
        let recordings = FakeServer::start(&tls, move |_: &Req| {
            Resp::raw(200, "audio/wav", audio.clone())
        });
        let zd = fake_zendesk(&tls, broken.clone(), recordings.url("/talk/1032.wav"));
        let env = env_with_ca(backend, &tls);
        let c = client();
        let s = TestServer::start(env.config.clone());
        let owner = owner_of(&c, &s);

        // A wrong token: "test connection" says what to fix; nothing is imported.
        let wrong = create(
            &c,
            &s,
            &owner,
            json!({"kind": "zendesk", "name": "Wrong token",
            "settings": {"base_url": zd.url(""), "start_time": 0},
            "credentials": {"email": "agent@acme.test", "api_token": "nope"}}),
        );
        let tested = test_connection(&c, &s, &owner, &wrong);
        assert_eq!(tested["ok"], false, "{tested}");
        assert!(
            tested["message"]
                .as_str()
                .unwrap()
                .contains("refused the credentials"),
            "{tested}"
        );
        let h = settled(&c, &s, &owner, &wrong, "error");
        assert!(
            h["last_error"].as_str().unwrap().contains("HTTP 401"),
            "{h}"
        );
        let del = c
            .delete(s.url(&format!("/api/v1/integrations/{wrong}")))
            .header("cookie", &owner.cookie)
            .header("x-csrf-token", &owner.csrf)
            .send()
            .unwrap();
        assert_eq!(del.status(), 204);

        // The real one: the first sync starts at once.
        let id = create(
            &c,
            &s,
            &owner,
            json!({"kind": "zendesk", "name": "Zendesk",
            "settings": {"base_url": zd.url(""), "start_time": 0, "allowed_hosts": [recordings.host()]},
            "credentials": {"email": "agent@acme.test", "api_token": "zd-token-123"}}),
        );
        let tested = test_connection(&c, &s, &owner, &id);
        assert_eq!(tested["ok"], true, "{tested}");
        assert!(
            tested["message"]
                .as_str()
                .unwrap()
                .contains("agent@acme.test"),
            "{tested}"
        );
        // Page 3 is malformed: the sync stops with a message, keeping pages 1 and 2.
        let h = settled(&c, &s, &owner, &id, "error");
        assert!(
            h["last_error"]
                .as_str()
                .unwrap()
                .contains("not the expected JSON"),
            "{h}"
        );
        assert_eq!(h["items_fetched"], 6, "{h}");
        // Six tickets and the recording of ticket 103's call.
        let convs = zendesk_conversations(&c, &s, &owner);
        assert_eq!(convs.len(), 7, "{backend:?}");
        let call = convs
            .iter()
            .find(|v| v["kind"] == "call")
            .expect("the voice ticket's call");
        assert!(
            call["external_id"]
                .as_str()
                .unwrap()
                .ends_with("/tickets/103/calls/1032"),
            "{call}"
        );
        let fetched = recordings.requests();
        assert_eq!(fetched.len(), 1);
        assert!(
            fetched[0].header("authorization").is_none(),
            "the Zendesk token went to another host"
        );
        // The 429 and the 500 were retried (Retry-After honoured) and logged.
        let log: Value = get(
            &c,
            &s,
            &owner,
            &format!("/api/v1/egress-log?integration_id={id}"),
        )
        .json()
        .unwrap();
        let calls = log["calls"].as_array().unwrap();
        let statuses: Vec<i64> = calls.iter().filter_map(|c| c["status"].as_i64()).collect();
        assert!(statuses.contains(&429) && statuses.contains(&500), "{log}");
        assert!(
            calls
                .iter()
                .all(|c| c["host"] == "127.0.0.1" && c["bytes"].as_i64().unwrap() > 0),
            "{log}"
        );
        assert!(
            !log.to_string().contains("zd-token-123") && !log.to_string().contains("cursor="),
            "{log}"
        );
        let c1 = zd
            .requests()
            .iter()
            .filter(|r| r.query("cursor").as_deref() == Some("c1"))
            .count();
        assert_eq!(c1, 2, "page 2 asked twice: the 429, then the page");

        // Restart mid-export: a new server on the same data resumes from cursor c2.
        drop(s);
        broken.store(0, Ordering::SeqCst);
        let s = TestServer::start(env.config.clone());
        let owner = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap();
        let res = post(
            &c,
            &s,
            &owner,
            &format!("/api/v1/integrations/{id}/sync"),
            json!({}),
        );
        assert_eq!(res.status(), 202);
        let h = wait_until("the resumed sync", || {
            let h = integration(&c, &s, &owner, &id)["health"].clone();
            (h["state"] == "ok").then_some(h)
        });
        assert_eq!(h["items_fetched"], 7, "{h}");
        let convs = zendesk_conversations(&c, &s, &owner);
        let mut ids: Vec<String> = convs
            .iter()
            .map(|v| v["external_id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(
            ids.len(),
            8,
            "each ticket (and the call) exactly once: {ids:?}"
        );
        assert_eq!(convs.len(), 8);
        assert_eq!(recordings.requests().len(), 1);
        let firsts = zd
            .requests()
            .iter()
            .filter(|r| r.query("start_time").is_some())
            .count();
        assert_eq!(firsts, 1, "the export did not start over after the restart");
        // Ticket 106 came again on page 3: its comments were not fetched twice.
        let c106 = zd
            .requests()
            .iter()
            .filter(|r| r.path() == "/api/v2/tickets/106/comments.json")
            .count();
        assert_eq!(c106, 1);
        // A sync of a kind that is not synced is refused.
        let hook = create(
            &c,
            &s,
            &owner,
            json!({"kind": "webhook", "name": "Recorder",
            "credentials": {"secret": "0123456789abcdef0123"}}),
        );
        assert_eq!(
            code(post(
                &c,
                &s,
                &owner,
                &format!("/api/v1/integrations/{hook}/sync"),
                json!({})
            )),
            (409, "NOT_SYNCED".into())
        );
    }
}

const HOOK_SECRET: &str = "recorder-shared-secret-0123";

fn now_secs() -> i64 {
    insite::clock::system().now().timestamp()
}

/// POSTs a notification to the receiver as a call recorder would (no session).
fn deliver(
    c: &Client,
    s: &TestServer,
    id: &str,
    body: &str,
    ts: Option<i64>,
    sig: Option<String>,
) -> reqwest::blocking::Response {
    let mut req = c
        .post(s.url(&format!("/api/v1/hooks/{id}")))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(ts) = ts {
        req = req.header("x-insite-timestamp", ts.to_string());
    }
    if let Some(sig) = sig {
        req = req.header("x-insite-signature", sig);
    }
    req.send().unwrap()
}

#[test]
fn webhook_receiver_refuses_forged_stale_replayed_and_off_list_deliveries() {
    for backend in backends() {
        let tls = Tls::new();
        let audio = std::fs::read(fixture("speech.wav")).unwrap();
        let rec = FakeServer::start(&tls, move |r: &Req| match r.path() {
            "/rec/call-1.wav" => Resp::raw(200, "audio/wav", audio.clone()),
            _ => Resp::json(404, json!({})),
        });
        let elsewhere = FakeServer::start(&tls, |_: &Req| {
            Resp::raw(200, "audio/wav", b"RIFF".to_vec())
        });
        let env = env_with_ca(backend, &tls);
        let c = client();
        let s = TestServer::start(env.config.clone());
        let owner = owner_of(&c, &s);
        let id = create(
            &c,
            &s,
            &owner,
            json!({"kind": "webhook", "name": "Recorder",
            "settings": {"allowed_hosts": [rec.host()]}, "credentials": {"secret": HOOK_SECRET}}),
        );
        let tested = test_connection(&c, &s, &owner, &id);
        assert!(
            tested["message"]
                .as_str()
                .unwrap()
                .contains(&format!("/api/v1/hooks/{id}")),
            "{tested}"
        );

        let body = json!({"recording_url": rec.url("/rec/call-1.wav"),
            "call": {"external_id": "rec-1", "direction": "inbound"}})
        .to_string();
        let ts = now_secs();
        let good = insite::integrations::webhook::sign(HOOK_SECRET, ts, body.as_bytes());
        let forged =
            insite::integrations::webhook::sign("not-the-shared-secret", ts, body.as_bytes());
        let stale_ts = ts - 3600;
        let stale = insite::integrations::webhook::sign(HOOK_SECRET, stale_ts, body.as_bytes());
        for (ts, sig, want) in [
            (None, None, (401, "SIGNATURE_MISSING")),
            (Some(ts), Some(forged), (401, "SIGNATURE_INVALID")),
            (Some(stale_ts), Some(stale), (401, "STALE_TIMESTAMP")),
        ] {
            assert_eq!(
                code(deliver(&c, &s, &id, &body, ts, sig)),
                (401, want.1.to_string()),
                "{want:?}"
            );
        }
        assert!(
            rec.requests().is_empty(),
            "nothing is fetched for a refused delivery"
        );
        // The genuine delivery: fetched through the gate and queued.
        let res = deliver(&c, &s, &id, &body, Some(ts), Some(good.clone()));
        assert_eq!(res.status(), 202, "{backend:?}");
        let accepted: Value = res.json().unwrap();
        assert_eq!(rec.requests().len(), 1);
        assert_eq!(rec.requests()[0].method, "GET");
        let conv: Value = get(
            &c,
            &s,
            &owner,
            &format!(
                "/api/v1/conversations/{}",
                accepted["conversation_id"].as_str().unwrap()
            ),
        )
        .json()
        .unwrap();
        assert_eq!(
            (conv["source"].as_str(), conv["external_id"].as_str()),
            (Some("webhook"), Some("rec-1")),
            "{conv}"
        );
        // The same delivery again is a replay.
        assert_eq!(
            code(deliver(&c, &s, &id, &body, Some(ts), Some(good))),
            (409, "REPLAYED".into())
        );
        // A recording URL off the allowlist is refused before any connection.
        let off = json!({"recording_url": elsewhere.url("/x.wav")}).to_string();
        let sig = insite::integrations::webhook::sign(HOOK_SECRET, ts, off.as_bytes());
        assert_eq!(
            code(deliver(&c, &s, &id, &off, Some(ts), Some(sig))),
            (422, "EGRESS_REFUSED".into())
        );
        assert!(
            elsewhere.requests().is_empty(),
            "the gate opened a connection to a host not allowed"
        );
        let log: Value = get(
            &c,
            &s,
            &owner,
            &format!("/api/v1/egress-log?integration_id={id}"),
        )
        .json()
        .unwrap();
        let outcomes: Vec<&str> = log["calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["outcome"].as_str().unwrap())
            .collect();
        assert_eq!(outcomes, vec!["refused", "success"], "{log}");
        // An unknown receiver is not found.
        assert_eq!(
            code(deliver(&c, &s, "no-such-id", &body, Some(ts), None)).0,
            404
        );
        // Every delivery, refused or not, is in the audit log.
        let audit: Value = get(&c, &s, &owner, "/api/v1/audit?action=webhook.receive")
            .json()
            .unwrap();
        let entries = audit["entries"].as_array().unwrap();
        let denied = entries.iter().filter(|e| e["outcome"] == "denied").count();
        assert_eq!(denied, 4, "{audit}");
    }
}

#[test]
fn alerts_fire_once_per_conversation_to_slack_and_a_signed_webhook() {
    let tls = Tls::new();
    let first = Arc::new(AtomicUsize::new(0));
    let slack = FakeServer::start(&tls, move |r: &Req| {
        if r.body.windows(5).any(|w| w == b"Churn") && first.fetch_add(1, Ordering::SeqCst) == 0 {
            return Resp::raw(500, "text/plain", b"server_error".to_vec());
        }
        Resp::raw(200, "text/plain", b"ok".to_vec())
    });
    let receiver = FakeServer::start(&tls, |r: &Req| {
        let ok = insite::integrations::webhook::verify(
            HOOK_SECRET,
            r.header("x-insite-timestamp"),
            r.header("x-insite-signature"),
            &r.body,
            now_secs(),
            300,
        );
        Resp::json(if ok.is_ok() { 200 } else { 401 }, json!({}))
    });
    let env = env_with_ca(Backend::Sqlite, &tls);
    let c = client();
    let s = TestServer::start(env.config.clone());
    let owner = owner_of(&c, &s);
    let tracker: Value = post(
        &c,
        &s,
        &owner,
        "/api/v1/trackers",
        json!({"name": "Cancellation", "phrases": ["cancel my contract"]}),
    )
    .json()
    .unwrap();
    let tracker = tracker["id"].as_str().unwrap();
    let to_slack = create(
        &c,
        &s,
        &owner,
        json!({"kind": "slack", "name": "Slack #escalations",
        "settings": {"allowed_hosts": [slack.host()]},
        "credentials": {"webhook_url": slack.url("/services/T0/B0/secret-path")}}),
    );
    let to_hook = create(
        &c,
        &s,
        &owner,
        json!({"kind": "alert_webhook", "name": "Ops webhook",
        "settings": {"url": receiver.url("/insite")}, "credentials": {"secret": HOOK_SECRET}}),
    );
    let tested = test_connection(&c, &s, &owner, &to_slack);
    assert_eq!(tested["ok"], true, "{tested}");
    assert!(String::from_utf8_lossy(&slack.requests()[0].body).contains("test message"));

    let rule = |name: &str, condition: Value, target: &str| {
        post(
            &c,
            &s,
            &owner,
            "/api/v1/alert-rules",
            json!({"name": name, "condition": condition, "integration_id": target}),
        )
    };
    let cond = json!({"kind": "tracker_hit", "tracker_id": tracker});
    assert_eq!(rule("Churn risk", cond.clone(), &to_slack).status(), 201);
    assert_eq!(
        rule("Churn risk (ops)", cond.clone(), &to_hook).status(),
        201
    );
    for (name, condition, target, want) in [
        (
            "Churn risk",
            cond.clone(),
            to_slack.as_str(),
            (409, "CONFLICT"),
        ),
        (
            "Low",
            json!({"kind": "score_below", "threshold": 101}),
            to_slack.as_str(),
            (422, "VALIDATION"),
        ),
        (
            "Odd",
            json!({"kind": "tracker_hit", "tracker_id": "nope"}),
            to_slack.as_str(),
            (422, "VALIDATION"),
        ),
        (
            "Nowhere",
            json!({"kind": "negative_sentiment"}),
            "nope",
            (422, "VALIDATION"),
        ),
    ] {
        assert_eq!(
            code(rule(name, condition, target)),
            (want.0, want.1.to_string()),
            "{name}"
        );
    }

    let ticket = json!({"subject": "Contract", "participants": [{"name": "Lee", "email": "lee@example.com"}],
        "messages": [{"author": "Lee", "role": "customer", "at": "2026-11-20T09:00:00Z",
                      "text": "I want to cancel my contract today."}]});
    let accepted: Value = post(&c, &s, &owner, "/api/v1/tickets", ticket)
        .json()
        .unwrap();
    let conv = accepted["conversation_id"].as_str().unwrap().to_string();
    let job = crate::pipeline::wait_job(&c, &s.base, &owner, accepted["job_id"].as_str().unwrap());
    assert_eq!(job["state"], "done", "{job}");
    let history = || -> Vec<Value> {
        let h: Value = get(&c, &s, &owner, "/api/v1/alerts").json().unwrap();
        h["alerts"].as_array().unwrap().clone()
    };
    let sent = wait_until("both alerts sent", || {
        let h = history();
        (h.len() == 2 && h.iter().all(|a| a["state"] == "sent")).then_some(h)
    });
    assert!(
        sent.iter().all(|a| a["conversation_id"] == conv.as_str()
            && a["detail"] == "tracker 'Cancellation' matched"),
        "{sent:?}"
    );
    // The webhook got one signed call naming the conversation, never its text.
    let calls = receiver.requests();
    assert_eq!(calls.len(), 1);
    let body = String::from_utf8_lossy(&calls[0].body).to_string();
    assert!(
        body.contains(&conv)
            && !body.contains("cancel my contract")
            && !body.contains("lee@example.com"),
        "{body}"
    );
    // Slack's 500 was retried by the gate; one message got through.
    let slack_alerts = slack
        .requests()
        .iter()
        .filter(|r| r.body.windows(5).any(|w| w == b"Churn"))
        .count();
    assert_eq!(slack_alerts, 2, "one 500, then the delivered message");

    // Analysed again: the rules match again, but nothing fires twice.
    let again: Value = post(
        &c,
        &s,
        &owner,
        &format!("/api/v1/conversations/{conv}/analyze"),
        json!({}),
    )
    .json()
    .unwrap();
    let job = crate::pipeline::wait_job(&c, &s.base, &owner, again["job_id"].as_str().unwrap());
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(history().len(), 2);
    assert_eq!(receiver.requests().len(), 1);

    // Two nodes looking at the same due alert: only one takes it (and sends it).
    // (The server is stopped first: its own alerts thread would take it too.)
    drop(s);
    let pool = insite::store::open(&env.config).unwrap();
    let mut conn = pool.get().unwrap();
    let due = sent[0]["id"].as_str().unwrap();
    let now = insite::clock::system().now();
    let at = |m: i64| insite::domain::time::stamp(now + chrono::Duration::minutes(m));
    assert!(
        !insite::store::alerts::claim(&mut conn, due, &at(0), &at(5)).unwrap(),
        "a sent alert is not taken again"
    );
    diesel::sql_query(format!(
        "UPDATE alerts SET state = 'pending', next_attempt_at = '{}' WHERE id = '{due}'",
        at(-1)
    ))
    .execute(&mut conn)
    .unwrap();
    assert!(insite::store::alerts::claim(&mut conn, due, &at(0), &at(5)).unwrap());
    assert!(
        !insite::store::alerts::claim(&mut conn, due, &at(0), &at(5)).unwrap(),
        "a second node took the same alert"
    );
}

/// Only the egress gate may open connections to other machines: no other file under
/// `src/` names a network client or socket API. The one exception is the inference
/// worker's sandbox self-test, which tries a connection to prove it is blocked.
#[test]
fn only_the_egress_gate_opens_outbound_connections() {
    const NEEDLES: &[&str] = &[
        "reqwest",
        "TcpStream",
        "UdpSocket",
        "ToSocketAddrs",
        "hyper::",
        "ureq",
        "lettre",
        "curl::",
        "awc::",
        "socket2",
        "russh",
        "tokio::net",
    ];
    const GATE: &str = "src/integrations/egress/";
    const SANDBOX_TEST: &str = "src/engines/worker/child.rs";
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut stack = vec![root.join("src")];
    let mut offenders = Vec::new();
    let mut gate_uses = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&path).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                for needle in NEEDLES.iter().filter(|n| code.contains(**n)) {
                    if rel.starts_with(GATE) {
                        gate_uses += 1;
                    } else if !(rel == SANDBOX_TEST && *needle == "TcpStream") {
                        offenders.push(format!("{rel}:{}: {needle}", n + 1));
                    }
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "outbound network code outside the egress gate: {offenders:#?}"
    );
    assert!(
        gate_uses > 0,
        "the scan found no client in the gate itself: it scans the wrong tree"
    );
    // The HTTP client crate is a dependency for the gate alone (and the tests).
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let deps = manifest.split("[dev-dependencies]").next().unwrap();
    for crate_name in ["hyper", "ureq", "lettre", "curl", "awc", "isahc", "surf"] {
        assert!(
            !deps.lines().any(|l| l.trim_start().starts_with(&format!("{crate_name} "))),
            "{crate_name} is a dependency: outbound traffic must go through src/integrations/egress"
        );
    }
}

#[test]
fn alerts_go_out_by_email_over_starttls_and_never_in_clear() {
    use crate::fake_smtp::{FakeSmtp, PASSWORD, USER};
    let tls = Tls::new();
    let relay = FakeSmtp::start(&tls, true);
    let plain = FakeSmtp::start(&tls, false);
    let env = env_with_ca(Backend::Sqlite, &tls);
    let c = client();
    let s = TestServer::start(env.config.clone());
    let owner = owner_of(&c, &s);
    let smtp = |name: &str, port: u16, password: &str| {
        create(
            &c,
            &s,
            &owner,
            json!({"kind": "smtp", "name": name,
            "settings": {"host": "127.0.0.1", "port": port, "from": "insite@acme.test", "to": ["qa-lead@acme.test"]},
            "credentials": {"username": USER, "password": password}}),
        )
    };
    let mail = smtp("QA mail", relay.port, PASSWORD);
    let tested = test_connection(&c, &s, &owner, &mail);
    assert_eq!(tested["ok"], true, "{tested}");
    assert!(
        tested["message"].as_str().unwrap().contains("STARTTLS"),
        "{tested}"
    );
    assert!(
        relay.received.lock().unwrap().is_empty(),
        "the test signs in, it sends nothing"
    );
    let wrong = smtp("Wrong password", relay.port, "not-it");
    let tested = test_connection(&c, &s, &owner, &wrong);
    assert_eq!(tested["ok"], false);
    assert!(
        tested["message"].as_str().unwrap().contains("535"),
        "{tested}"
    );
    let clear = smtp("No TLS", plain.port, PASSWORD);
    let tested = test_connection(&c, &s, &owner, &clear);
    assert!(
        tested["message"]
            .as_str()
            .unwrap()
            .contains("never sends mail in clear"),
        "{tested}"
    );
    assert!(
        plain.logins.lock().unwrap().is_empty(),
        "the password went out in clear"
    );
    // Refused when the kind's needs are not met.
    let bad = post(
        &c,
        &s,
        &owner,
        "/api/v1/integrations",
        json!({"kind": "smtp", "name": "x",
        "settings": {"host": "127.0.0.1", "from": "insite@acme.test", "to": ["not an address"]},
        "credentials": {"username": USER, "password": PASSWORD}}),
    );
    assert_eq!(code(bad), (422, "VALIDATION".into()));

    let tracker: Value = post(
        &c,
        &s,
        &owner,
        "/api/v1/trackers",
        json!({"name": "Legal threat", "phrases": ["my lawyer"]}),
    )
    .json()
    .unwrap();
    let rule = post(
        &c,
        &s,
        &owner,
        "/api/v1/alert-rules",
        json!({"name": "Legal threat",
        "condition": {"kind": "tracker_hit", "tracker_id": tracker["id"]}, "integration_id": mail}),
    );
    assert_eq!(rule.status(), 201);
    let ticket = json!({"subject": "Complaint", "messages": [{"author": "Kim", "role": "customer",
        "at": "2026-11-20T09:00:00Z", "text": "I will talk to my lawyer about this."}]});
    let accepted: Value = post(&c, &s, &owner, "/api/v1/tickets", ticket)
        .json()
        .unwrap();
    let job = crate::pipeline::wait_job(&c, &s.base, &owner, accepted["job_id"].as_str().unwrap());
    assert_eq!(job["state"], "done", "{job}");
    let got = wait_until("the alert e-mail", || {
        relay.received.lock().unwrap().first().cloned()
    });
    assert_eq!(got.from, "insite@acme.test");
    assert_eq!(got.to, vec!["qa-lead@acme.test".to_string()]);
    assert!(
        got.data.contains("Subject: insite alert: Legal threat"),
        "{}",
        got.data
    );
    assert!(got
        .data
        .contains(accepted["conversation_id"].as_str().unwrap()));
    assert!(
        !got.data.contains("my lawyer about this"),
        "the alert carries no conversation text"
    );
    let h: Value = get(&c, &s, &owner, "/api/v1/alerts").json().unwrap();
    assert_eq!(h["alerts"][0]["state"], "sent", "{h}");
}
