//! Retention and data-subject rights over real HTTP with an injected clock: each
//! data class goes exactly when its period ends, held data stays, the purge is
//! audited and the audit chain still verifies; every request type runs end to end
//! and its result is checked in the database and the blob store.

use crate::identity::{bootstrap, code, get, login, post, text_analysis_off, Session, OWNER_PW};
use crate::pipeline::{upload, wait_job};
use crate::support::{backends, client, fixture, run_bin, Backend, TestEnv, TestServer};
use insite::clock::ManualClock;
use reqwest::blocking::Client;
use serde_json::{json, Value};
use std::sync::Arc;

/// A write with the session's cookie and CSRF token (PUT, PATCH).
fn send(
    c: &Client,
    s: &TestServer,
    who: &Session,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> reqwest::blocking::Response {
    c.request(method, s.url(path))
        .header("cookie", &who.cookie)
        .header("x-csrf-token", &who.csrf)
        .json(&body)
        .send()
        .unwrap()
}

fn put(
    c: &Client,
    s: &TestServer,
    who: &Session,
    path: &str,
    body: Value,
) -> reqwest::blocking::Response {
    send(c, s, who, reqwest::Method::PUT, path, body)
}

fn json_of(res: reqwest::blocking::Response) -> Value {
    let status = res.status();
    let body: Value = res.json().unwrap();
    assert!(status.is_success(), "{status} {body}");
    body
}

fn ticket(subject: &str, people: Value, text: &str) -> Value {
    json!({
        "subject": subject,
        "participants": people,
        "messages": [
            {"author": "customer", "role": "customer", "at": "2026-02-20T09:00:00Z", "text": text},
            {"author": "agent", "role": "agent", "at": "2026-02-20T09:05:00Z", "text": "Thank you, I have fixed the invoice for you."}
        ]
    })
}

/// Ingests a ticket and waits until it is processed; answers its id.
fn ingest(c: &Client, s: &TestServer, who: &Session, body: Value) -> String {
    let accepted = json_of(post(c, s, who, "/api/v1/tickets", body));
    let job = wait_job(c, &s.base, who, accepted["job_id"].as_str().unwrap());
    assert_eq!(job["state"], "done", "{job}");
    accepted["conversation_id"].as_str().unwrap().to_string()
}

fn conversation(c: &Client, s: &TestServer, who: &Session, id: &str) -> (u16, Value) {
    let res = get(c, s, who, &format!("/api/v1/conversations/{id}"));
    (res.status().as_u16(), res.json().unwrap_or(Value::Null))
}

fn text_of(conv: &Value) -> String {
    conv["segments"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| s["text"].as_str().unwrap_or("").to_string())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

fn blob_exists(env: &TestEnv, id: &str) -> bool {
    let root = env.config.data_dir.join("blobs");
    std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|org| org.path().join(id).exists())
}

fn purge(c: &Client, s: &TestServer, who: &Session) -> Value {
    json_of(post(c, s, who, "/api/v1/retention/purge", json!({})))["counts"].clone()
}

fn audit_actions(c: &Client, s: &TestServer, who: &Session, action: &str) -> Vec<Value> {
    json_of(get(
        c,
        s,
        who,
        &format!("/api/v1/audit?action={action}&limit=100"),
    ))["entries"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn each_data_class_goes_when_its_period_ends_and_held_data_stays() {
    for backend in backends() {
        let env = TestEnv::new(backend);
        bootstrap(&env, "Acme", "owner@acme.test");
        let start = insite::domain::time::parse("2026-03-01T09:00:00Z").unwrap();
        let clock = ManualClock::new(start);
        let s = TestServer::start_with_clock(env.config.clone(), Arc::new(clock.clone()));
        let c = client();
        let mut owner = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap();
        // No LLM here: this test is about time, not analysis.
        text_analysis_off(&c, &s.base, &owner);

        // Defaults, then validation with clear reasons.
        let r = json_of(get(&c, &s, &owner, "/api/v1/retention"));
        assert_eq!(r["policy"]["transcripts_days"], 30, "{r}");
        assert_eq!(r["policy"]["audit_days"], 90);
        assert_eq!(r["policy"]["processed_days"], Value::Null);
        assert_eq!(r["policy"]["delete_raw_after_processing"], false);
        for bad in [
            json!({"audit_days": 30}),
            json!({"transcripts_days": -1}),
            json!({"raw_days": 0}),
            json!({"forever": true}),
        ] {
            assert_eq!(
                code(put(&c, &s, &owner, "/api/v1/retention", bad.clone())),
                (422, "VALIDATION".into()),
                "{bad}"
            );
        }
        json_of(put(
            &c,
            &s,
            &owner,
            "/api/v1/retention",
            json!({"transcripts_days": 10, "processed_days": 20, "audit_days": 90}),
        ));

        let jane =
            json!([{"name": "Jane Roe", "email": "jane.roe@example.com", "role": "customer"}]);
        let a = ingest(
            &c,
            &s,
            &owner,
            ticket(
                "Invoice A",
                jane.clone(),
                "Jane Roe here, my invoice is wrong.",
            ),
        );
        let b = ingest(
            &c,
            &s,
            &owner,
            ticket("Invoice B", json!([]), "My invoice is wrong too."),
        );
        let hold = json_of(post(
            &c,
            &s,
            &owner,
            "/api/v1/legal-holds",
            json!({"scope": "conversation", "target_id": b, "reason": "dispute 2026-17"}),
        ));
        assert_eq!(
            code(post(
                &c,
                &s,
                &owner,
                "/api/v1/legal-holds",
                json!({"scope": "conversation", "target_id": b, "reason": " "})
            )),
            (422, "VALIDATION".into())
        );
        let me = json_of(get(&c, &s, &owner, "/api/v1/me"));
        score_directly(&env, &a, me["user_id"].as_str().unwrap(), start);
        let dashboard_before = json_of(get(&c, &s, &owner, "/api/v1/dashboard?days=60"));
        assert_eq!(
            dashboard_before["scores_by_agent"][0]["average"], 80.0,
            "{dashboard_before}"
        );

        // One minute before the period ends: nothing goes.
        clock.advance(chrono::Duration::days(10) - chrono::Duration::minutes(1));
        owner = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap(); // sessions expire as time passes
        let counts = purge(&c, &s, &owner);
        assert_eq!(counts["transcripts"], 0, "{counts}");
        assert!(text_of(&conversation(&c, &s, &owner, &a).1).contains("invoice is wrong"));

        // Two minutes later A's transcript, ticket body and personal metadata go; B is held.
        clock.advance(chrono::Duration::minutes(2));
        owner = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap(); // sessions expire as time passes
        let counts = purge(&c, &s, &owner);
        assert_eq!(
            (
                counts["transcripts"].as_u64(),
                counts["ticket_bodies"].as_u64()
            ),
            (Some(1), Some(1)),
            "{counts}"
        );
        assert_eq!(counts["held_conversations"], 1);
        assert_eq!(
            counts["subjects"], 1,
            "Jane is named nowhere any more: {counts}"
        );
        let (status, conv_a) = conversation(&c, &s, &owner, &a);
        assert_eq!(status, 200);
        assert_eq!(conv_a["segments"], json!([]), "{conv_a}");
        assert!(!conv_a.to_string().contains("Jane"), "{conv_a}");
        assert_eq!(
            conv_a["purged"]["transcripts"]
                .as_str()
                .map(|s| !s.is_empty()),
            Some(true),
            "{conv_a}"
        );
        assert!(
            !blob_exists(&env, &a),
            "A's ticket body is gone from the blob store"
        );
        assert!(blob_exists(&env, &b), "B is held");
        assert!(text_of(&conversation(&c, &s, &owner, &b).1).contains("invoice is wrong"));
        let found = json_of(get(
            &c,
            &s,
            &owner,
            "/api/v1/subjects?email=jane.roe@example.com",
        ));
        assert_eq!(found["subjects"], json!([]));
        // The dashboard still counts both conversations.
        let dashboard_after = json_of(get(&c, &s, &owner, "/api/v1/dashboard?days=60"));
        assert_eq!(
            dashboard_after["conversations"],
            dashboard_before["conversations"]
        );
        let total = |d: &Value| {
            d["volume"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["value"].as_f64().unwrap())
                .sum::<f64>()
        };
        assert_eq!(total(&dashboard_after), total(&dashboard_before));

        // Processed data at 20 days (A only: B is still held).
        clock.advance(chrono::Duration::days(10));
        owner = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap(); // sessions expire as time passes
        let counts = purge(&c, &s, &owner);
        assert_eq!(counts["transcripts"], 0, "{counts}");
        let (_, conv_a) = conversation(&c, &s, &owner, &a);
        assert_eq!(conv_a["metrics"], Value::Null, "{conv_a}");
        assert!(conv_a["purged"]["processed"].is_string(), "{conv_a}");
        assert_eq!(counts["scorecard_results"], 1, "{counts}");
        // The answers and their evidence are gone; the score and sentiment figures stay.
        let analysis = json_of(get(
            &c,
            &s,
            &owner,
            &format!("/api/v1/conversations/{a}/analysis"),
        ));
        assert!(
            !analysis.to_string().contains("Jane Roe here"),
            "{analysis}"
        );
        assert_eq!(analysis["overview"], Value::Null, "{analysis}");
        let dashboard = json_of(get(&c, &s, &owner, "/api/v1/dashboard?days=60"));
        assert_eq!(
            dashboard["scores_by_agent"],
            dashboard_before["scores_by_agent"]
        );
        let day = |d: &Value| {
            d["sentiment"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["day"] == "2026-03-01")
                .cloned()
        };
        assert_eq!(day(&dashboard), day(&dashboard_before), "{dashboard}");
        assert!(day(&dashboard).is_some());

        // Released, B goes at the next run.
        let released = post(
            &c,
            &s,
            &owner,
            &format!(
                "/api/v1/legal-holds/{}/release",
                hold["id"].as_str().unwrap()
            ),
            json!({}),
        );
        assert_eq!(released.status(), 204);
        let counts = purge(&c, &s, &owner);
        assert_eq!(counts["transcripts"], 1, "{counts}");
        assert!(!blob_exists(&env, &b));
        let holds = json_of(get(&c, &s, &owner, "/api/v1/legal-holds"));
        assert_eq!(holds["holds"][0]["reason"], "dispute 2026-17");
        assert!(holds["holds"][0]["released_at"].is_string());

        // An org-wide hold stops everything, including the audit log's purge.
        let org_hold = json_of(post(
            &c,
            &s,
            &owner,
            "/api/v1/legal-holds",
            json!({"scope": "org", "reason": "regulator inquiry"}),
        ));
        clock.advance(chrono::Duration::days(91));
        owner = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap(); // sessions expire as time passes
        let counts = purge(&c, &s, &owner);
        assert_eq!(counts, json!({"held_org": 1}));
        post(
            &c,
            &s,
            &owner,
            &format!(
                "/api/v1/legal-holds/{}/release",
                org_hold["id"].as_str().unwrap()
            ),
            json!({}),
        );
        // Audit entries older than 90 days go; the chain still verifies.
        let counts = purge(&c, &s, &owner);
        assert!(counts["audit_entries"].as_u64().unwrap() > 10, "{counts}");
        let runs = audit_actions(&c, &s, &owner, "retention.purge");
        assert!(!runs.is_empty(), "each run is audited");
        let r = json_of(get(&c, &s, &owner, "/api/v1/retention"));
        assert!(r["runs"].as_array().unwrap().len() >= 2, "{r}");
        drop(s);
        let cfg = env.write_config();
        let ok = run_bin(&["--config", cfg.to_str().unwrap(), "audit", "verify"], &[]);
        assert!(ok.status.success(), "{backend:?} {ok:?}");
    }
}

/// Stores what an LLM would have produced for `conversation` (a score of 80 for the
/// agent, customer sentiment 0.5, a summary and quoted evidence), through the store.
fn score_directly(
    env: &TestEnv,
    conversation: &str,
    agent: &str,
    at: chrono::DateTime<chrono::Utc>,
) {
    use insite::store::analyses::{self, AnalysisRow, ResultRow};
    let pool = insite::store::open(&env.config).unwrap();
    let mut conn = pool.get().unwrap();
    let keyring =
        insite::server::open_keyring(&env.config, &pool, insite::clock::system()).unwrap();
    let org = insite::store::identity::org_by_name(&mut conn, "Acme")
        .unwrap()
        .unwrap();
    let cipher = keyring.for_org(&mut conn, &org.id).unwrap();
    let stamp = insite::domain::time::stamp(at);
    let run = AnalysisRow {
        id: insite::store::identity::new_id(),
        org_id: org.id.clone(),
        conversation_id: conversation.into(),
        state: "done".into(),
        reason_code: None,
        reason: None,
        result: Some(
            json!({"overview": {"summary": "Jane Roe here complains about an invoice"},
            "sentiment": {"customer": {"label": "positive", "score": 0.5}}})
            .to_string(),
        ),
        model: Some("m".into()),
        model_sha256: None,
        prompt_version: Some("p".into()),
        timings: None,
        created_at: stamp.clone(),
    };
    analyses::save_analysis(&mut conn, &cipher, &run).unwrap();
    let result = ResultRow {
        id: insite::store::identity::new_id(),
        org_id: org.id.clone(),
        conversation_id: conversation.into(),
        template_id: "card".into(),
        template_version: 1,
        agent_user_id: Some(agent.into()),
        conversation_at: stamp.clone(),
        score: Some(80.0),
        answers:
            json!([{"question_id": "q", "answer": "yes", "evidence": [{"quote": "Jane Roe here"}]}])
                .to_string(),
        model: "m".into(),
        prompt_version: "p".into(),
        created_at: stamp,
    };
    analyses::save_result(&mut conn, &cipher, &result).unwrap();
}

/// Reads a tar archive into (name, bytes).
fn entries(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut a = tar::Archive::new(bytes);
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().to_string();
            let mut buf = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut buf).unwrap();
            (name, buf)
        })
        .collect()
}

fn request(c: &Client, s: &TestServer, who: &Session, subject: &str, body: Value) -> Value {
    json_of(post(
        c,
        s,
        who,
        &format!("/api/v1/subjects/{subject}/requests"),
        body,
    ))
}

pub(crate) fn wait_request(c: &Client, s: &TestServer, who: &Session, id: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    loop {
        let r = json_of(get(c, s, who, &format!("/api/v1/subject-requests/{id}")));
        if matches!(r["state"].as_str(), Some("done" | "failed")) {
            return r;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "request did not finish: {r}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

fn subject_key_wrapped(env: &TestEnv, subject: &str) -> Option<String> {
    use diesel::prelude::*;
    use insite::store::schema::org_keys::dsl::*;
    let pool = insite::store::open(&env.config).unwrap();
    let mut conn = pool.get().unwrap();
    org_keys
        .filter(purpose.eq(format!("subject:{subject}")))
        .select(wrapped)
        .first::<Option<String>>(&mut conn)
        .unwrap()
}

#[test]
fn every_request_type_runs_end_to_end_on_generated_conversations() {
    let env = TestEnv::new(Backend::Sqlite);
    bootstrap(&env, "Acme", "owner@acme.test");
    let s = TestServer::start(env.config.clone());
    let c = client();
    let owner = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap();
    json_of(post(
        &c,
        &s,
        &owner,
        "/api/v1/users",
        json!({"email": "dpo@acme.test", "role": "auditor", "password": "violet-canyon-river"}),
    ));
    json_of(post(
        &c,
        &s,
        &owner,
        "/api/v1/users",
        json!({"email": "rep@acme.test", "role": "agent", "password": "violet-canyon-river"}),
    ));
    let dpo = login(&c, &s, "dpo@acme.test", "violet-canyon-river").unwrap();
    let agent = login(&c, &s, "rep@acme.test", "violet-canyon-river").unwrap();

    let jane = json!({"name": "Jane Doe", "email": "jane.doe@example.com", "role": "customer"});
    // T1: Jane is the customer (analysed by the LLM).
    let t1 = ingest(
        &c,
        &s,
        &owner,
        ticket(
            "Billing",
            json!([jane]),
            "Hello, this is Jane Doe. My invoice shows the wrong amount.",
        ),
    );
    let a1 = json_of(get(
        &c,
        &s,
        &owner,
        &format!("/api/v1/conversations/{t1}/analysis"),
    ));
    assert_eq!(a1["state"], "done", "{a1}");
    // T2: Bob's ticket that mentions Jane, who is on it as a witness.
    let t2 = ingest(
        &c,
        &s,
        &owner,
        ticket(
            "Referral",
            json!([{"name": "Bob Stone", "email": "bob@example.com"}, {"name": "Jane Doe", "role": "witness"}]),
            "Bob here. Jane Doe told me to write to you about my contract.",
        ),
    );

    // Looked up by e-mail (any case) or name; agents may not.
    assert_eq!(
        code(get(
            &c,
            &s,
            &agent,
            "/api/v1/subjects?email=jane.doe@example.com"
        ))
        .0,
        403
    );
    let found = json_of(get(
        &c,
        &s,
        &dpo,
        "/api/v1/subjects?email=JANE.DOE@example.com",
    ));
    assert_eq!(found["subjects"].as_array().unwrap().len(), 1, "{found}");
    let jane_id = found["subjects"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(found["subjects"][0]["name"], "Jane Doe");
    let by_name = json_of(get(&c, &s, &dpo, "/api/v1/subjects?name=jane%20doe"));
    assert_eq!(by_name["subjects"][0]["id"], jane_id.as_str());
    let detail = json_of(get(&c, &s, &dpo, &format!("/api/v1/subjects/{jane_id}")));
    let linked: Vec<&str> = detail["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert!(
        linked.contains(&t1.as_str()) && linked.contains(&t2.as_str()),
        "{detail}"
    );

    // Bad requests are refused with reasons.
    assert_eq!(
        code(post(
            &c,
            &s,
            &dpo,
            &format!("/api/v1/subjects/{jane_id}/requests"),
            json!({"kind": "forget-me", "requester": "Jane"})
        )),
        (422, "VALIDATION".into())
    );
    assert_eq!(
        code(post(
            &c,
            &s,
            &dpo,
            &format!("/api/v1/subjects/{jane_id}/requests"),
            json!({"kind": "rectification", "requester": "Jane", "corrections": {"email": "not-an-address"}})
        )),
        (422, "VALIDATION".into())
    );
    assert_eq!(
        code(post(
            &c,
            &s,
            &dpo,
            "/api/v1/subjects/nobody/requests",
            json!({"kind": "access", "requester": "Jane"})
        ))
        .0,
        404
    );

    // Access: one archive, built as a job with progress, with a one-month deadline.
    let access = request(
        &c,
        &s,
        &dpo,
        &jane_id,
        json!({"kind": "access", "requester": "Jane Doe by e-mail", "received_at": "2026-11-01T10:00:00Z"}),
    );
    assert_eq!(
        access["due_at"].as_str().unwrap().get(..10),
        Some("2026-12-01")
    );
    let done = wait_request(&c, &s, &dpo, access["id"].as_str().unwrap());
    assert_eq!(
        (done["state"].as_str(), done["progress"].as_i64()),
        (Some("done"), Some(100)),
        "{done}"
    );
    let res = get(
        &c,
        &s,
        &dpo,
        &format!(
            "/api/v1/subject-requests/{}/archive",
            access["id"].as_str().unwrap()
        ),
    );
    assert_eq!(res.status(), 200);
    let files = entries(&res.bytes().unwrap());
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.contains(&"subject.json")
            && names.contains(&format!("conversations/{t1}.json").as_str()),
        "{names:?}"
    );
    let subject_json =
        String::from_utf8_lossy(&files.iter().find(|(n, _)| n == "subject.json").unwrap().1)
            .to_string();
    assert!(
        subject_json.contains("jane.doe@example.com"),
        "{subject_json}"
    );
    let t1_json = String::from_utf8_lossy(&files.iter().find(|(n, _)| n.contains(&t1)).unwrap().1)
        .to_string();
    assert!(
        t1_json.contains("wrong amount") && t1_json.contains("\"analysis\""),
        "{t1_json}"
    );

    // Rectification: the name is corrected everywhere it appears.
    let fixed = request(
        &c,
        &s,
        &dpo,
        &jane_id,
        json!({"kind": "rectification", "requester": "Jane", "corrections": {"name": "Jane Smith"}}),
    );
    assert_eq!(fixed["state"], "done", "{fixed}");
    assert_eq!(fixed["result"]["fields_corrected"], json!(["name"]));
    for t in [&t1, &t2] {
        let (_, conv) = conversation(&c, &s, &owner, t);
        assert!(
            text_of(&conv).contains("Jane Smith") && !conv.to_string().contains("Jane Doe"),
            "{conv}"
        );
    }
    assert_eq!(
        json_of(get(&c, &s, &dpo, "/api/v1/subjects?name=jane%20doe"))["subjects"],
        json!([])
    );
    assert_eq!(
        json_of(get(&c, &s, &dpo, "/api/v1/subjects?name=Jane%20Smith"))["subjects"][0]["id"],
        jane_id.as_str()
    );

    // AI opt-out: the AI results about her go; her next call is transcribed, not analysed;
    // and its recording is deleted as soon as it is processed, as the org now asks.
    let out = request(
        &c,
        &s,
        &dpo,
        &jane_id,
        json!({"kind": "ai_opt_out", "requester": "Jane", "remove_ai_results": true}),
    );
    assert!(
        out["result"]["analyses_removed"].as_u64().unwrap() >= 1,
        "{out}"
    );
    let a1 = json_of(get(
        &c,
        &s,
        &owner,
        &format!("/api/v1/conversations/{t1}/analysis"),
    ));
    assert_eq!(
        (a1["state"].as_str(), &a1["overview"]),
        (Some("pending"), &Value::Null),
        "{a1}"
    );
    json_of(put(
        &c,
        &s,
        &owner,
        "/api/v1/retention",
        json!({"delete_raw_after_processing": true}),
    ));
    let meta = json!({"channels": ["agent", "customer"], "language": "en", "participants": [{"email": "jane.doe@example.com", "role": "customer"}]});
    let accepted = json_of(upload(
        &c,
        &s.base,
        &owner,
        &fixture("call-stereo.wav"),
        meta,
    ));
    let call = accepted["conversation_id"].as_str().unwrap().to_string();
    assert_eq!(
        wait_job(&c, &s.base, &owner, accepted["job_id"].as_str().unwrap())["state"],
        "done"
    );
    let (_, conv) = conversation(&c, &s, &owner, &call);
    assert!(
        text_of(&conv).to_lowercase().contains("cancel"),
        "transcribed: {conv}"
    );
    let analysis = json_of(get(
        &c,
        &s,
        &owner,
        &format!("/api/v1/conversations/{call}/analysis"),
    ));
    assert_eq!(
        (analysis["state"].as_str(), analysis["reason_code"].as_str()),
        (Some("skipped"), Some("PARTICIPANT_OPTED_OUT")),
        "{analysis}"
    );
    assert!(
        !blob_exists(&env, &call),
        "the recording went after processing"
    );
    assert!(conv["purged"]["raw"].is_string(), "{conv}");
    assert!(!audit_actions(&c, &s, &owner, "retention.raw_deleted_after_processing").is_empty());

    // Erasure: refused under a legal hold; then her conversations go, and she is
    // redacted from Bob's; her key is destroyed; her export archive goes too.
    let hold = json_of(post(
        &c,
        &s,
        &dpo,
        "/api/v1/legal-holds",
        json!({"scope": "subject", "target_id": jane_id, "reason": "complaint pending"}),
    ));
    assert_eq!(
        code(post(
            &c,
            &s,
            &dpo,
            &format!("/api/v1/subjects/{jane_id}/requests"),
            json!({"kind": "erasure", "requester": "Jane"})
        )),
        (409, "LEGAL_HOLD".into())
    );
    post(
        &c,
        &s,
        &dpo,
        &format!(
            "/api/v1/legal-holds/{}/release",
            hold["id"].as_str().unwrap()
        ),
        json!({}),
    );
    assert!(subject_key_wrapped(&env, &jane_id).is_some());
    let erased = request(
        &c,
        &s,
        &dpo,
        &jane_id,
        json!({"kind": "erasure", "requester": "Jane", "erase_mode": "delete"}),
    );
    assert_eq!(erased["state"], "done", "{erased}");
    let deleted = erased["result"]["conversations_deleted"]
        .as_array()
        .unwrap();
    assert!(
        deleted.contains(&json!(t1)) && deleted.contains(&json!(call)),
        "{erased}"
    );
    assert_eq!(erased["result"]["conversations_redacted"], json!([t2]));
    assert_eq!(erased["result"]["subject_key_destroyed"], true);
    assert_eq!(conversation(&c, &s, &owner, &t1).0, 404);
    assert!(!blob_exists(&env, &t1));
    let (_, bob) = conversation(&c, &s, &owner, &t2);
    assert!(!bob.to_string().contains("Jane"), "{bob}");
    assert!(text_of(&bob).contains("[ERASED] told me"), "{bob}");
    assert_eq!(subject_key_wrapped(&env, &jane_id), None, "crypto-shredded");
    assert_eq!(
        json_of(get(
            &c,
            &s,
            &dpo,
            "/api/v1/subjects?email=jane.doe@example.com"
        ))["subjects"],
        json!([])
    );
    let gone = json_of(get(&c, &s, &dpo, &format!("/api/v1/subjects/{jane_id}")));
    assert!(
        gone["subject"]["erased_at"].is_string() && gone["subject"]["email"].is_null(),
        "{gone}"
    );
    assert_eq!(
        code(get(
            &c,
            &s,
            &dpo,
            &format!(
                "/api/v1/subject-requests/{}/archive",
                access["id"].as_str().unwrap()
            )
        )),
        (410, "ARCHIVE_REMOVED".into())
    );
    // Erasing twice is refused; the trail of every step is in the audit log.
    assert_eq!(
        code(post(
            &c,
            &s,
            &dpo,
            &format!("/api/v1/subjects/{jane_id}/requests"),
            json!({"kind": "erasure", "requester": "Jane"})
        )),
        (410, "SUBJECT_ERASED".into())
    );
    for action in [
        "subject.search",
        "subject_request.access",
        "subject_request.rectification",
        "subject_request.ai_opt_out",
        "subject_request.erasure",
        "subject_request.download",
    ] {
        assert!(
            !audit_actions(&c, &s, &owner, action).is_empty(),
            "{action} audited"
        );
    }
}

#[test]
fn restriction_and_requests_list_show_deadlines_and_the_report_reflects_the_config() {
    let env = TestEnv::new(Backend::Sqlite);
    bootstrap(&env, "Acme", "owner@acme.test");
    let start = insite::domain::time::parse("2026-05-01T09:00:00Z").unwrap();
    let clock = ManualClock::new(start);
    let s = TestServer::start_with_clock(env.config.clone(), Arc::new(clock.clone()));
    let c = client();
    let owner = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap();
    text_analysis_off(&c, &s.base, &owner);
    let _t = ingest(
        &c,
        &s,
        &owner,
        ticket(
            "Contract",
            json!([{"name": "Max Power", "phone": "+44 20 7946 0000"}]),
            "Please look at my contract.",
        ),
    );
    let max = json_of(get(
        &c,
        &s,
        &owner,
        "/api/v1/subjects?phone=%2B442079460000",
    ))["subjects"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = request(
        &c,
        &s,
        &owner,
        &max,
        json!({"kind": "restriction", "requester": "Max"}),
    );
    assert_eq!(
        (
            r["result"]["restricted"].as_bool(),
            r["result"]["ai_opt_out"].as_bool()
        ),
        (Some(true), Some(true)),
        "{r}"
    );
    let export = request(
        &c,
        &s,
        &owner,
        &max,
        json!({"kind": "export", "requester": "Max"}),
    );
    let list = json_of(get(&c, &s, &owner, "/api/v1/subject-requests"));
    assert_eq!(list["requests"].as_array().unwrap().len(), 2);
    wait_request(&c, &s, &owner, export["id"].as_str().unwrap());
    // An open request three weeks old is due soon; one past its month is overdue.
    let late = request(
        &c,
        &s,
        &owner,
        &max,
        json!({"kind": "export", "requester": "Max", "received_at": "2026-03-01T09:00:00Z"}),
    );
    assert_eq!(late["deadline"], "overdue", "{late}");
    let soon = request(
        &c,
        &s,
        &owner,
        &max,
        json!({"kind": "access", "requester": "Max", "received_at": "2026-04-05T09:00:00Z"}),
    );
    assert_eq!(soon["deadline"], "due_soon", "{soon}");
    let list = json_of(get(&c, &s, &owner, "/api/v1/subject-requests?state=open"));
    assert!(
        list["overdue"].as_u64().unwrap() + list["due_soon"].as_u64().unwrap() >= 1,
        "{list}"
    );

    // The Article 30 report follows the live configuration.
    json_of(put(
        &c,
        &s,
        &owner,
        "/api/v1/retention",
        json!({"transcripts_days": 14, "audit_days": 400}),
    ));
    let report = json_of(get(
        &c,
        &s,
        &owner,
        "/api/v1/compliance/records-of-processing",
    ));
    let text = report.to_string();
    assert!(
        text.contains("14 days") && text.contains("400 days"),
        "{report}"
    );
    assert_eq!(report["controller"]["organization"], "Acme");
    assert!(report["recipients"]["outside_the_premises"]
        .as_str()
        .unwrap()
        .starts_with("none"));

    // An archive stays downloadable for 30 days, then the purge removes it.
    for r in [&late, &soon] {
        assert_eq!(
            wait_request(&c, &s, &owner, r["id"].as_str().unwrap())["state"],
            "done"
        );
    }
    let archive = format!(
        "/api/v1/subject-requests/{}/archive",
        export["id"].as_str().unwrap()
    );
    assert_eq!(get(&c, &s, &owner, &archive).status(), 200);
    clock.advance(chrono::Duration::days(29));
    let owner = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap();
    assert_eq!(purge(&c, &s, &owner)["export_archives"], 0);
    clock.advance(chrono::Duration::days(2));
    let owner = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap();
    assert_eq!(purge(&c, &s, &owner)["export_archives"], 3);
    assert_eq!(
        code(get(&c, &s, &owner, &archive)),
        (410, "ARCHIVE_REMOVED".into())
    );
}

#[test]
fn an_offboarded_org_is_exported_then_unreadable_and_gone() {
    let env = TestEnv::new(Backend::Sqlite);
    bootstrap(&env, "Acme", "owner@acme.test");
    let s = TestServer::start(env.config.clone());
    let c = client();
    let owner = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap();
    text_analysis_off(&c, &s.base, &owner);
    let t = ingest(
        &c,
        &s,
        &owner,
        ticket(
            "Leaving",
            json!([{"name": "Ada Vale", "email": "ada@example.com"}]),
            "Please close my account.",
        ),
    );
    assert!(blob_exists(&env, &t));
    drop(s);
    let cfg = env.write_config();
    let out = env.config.data_dir.join("acme-export.tar");
    let refused = run_bin(
        &[
            "--config",
            cfg.to_str().unwrap(),
            "org",
            "offboard",
            "Acme",
            "--export",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert!(!refused.status.success() && !out.exists(), "{refused:?}");
    let done = run_bin(
        &[
            "--config",
            cfg.to_str().unwrap(),
            "org",
            "offboard",
            "Acme",
            "--export",
            out.to_str().unwrap(),
            "--confirm",
            "Acme",
        ],
        &[],
    );
    assert!(done.status.success(), "{done:?}");
    let files = entries(&std::fs::read(&out).unwrap());
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.contains(&"org.json")
            && names.contains(&"subjects.json")
            && names.contains(&"audit.jsonl"),
        "{names:?}"
    );
    let conv =
        String::from_utf8_lossy(&files.iter().find(|(n, _)| n.contains(&t)).unwrap().1).to_string();
    assert!(conv.contains("close my account"), "{conv}");
    assert!(
        String::from_utf8_lossy(&files.iter().find(|(n, _)| n == "subjects.json").unwrap().1)
            .contains("ada@example.com")
    );
    // The org, its blobs and its people are gone; its keys are destroyed.
    assert!(!blob_exists(&env, &t));
    let pool = insite::store::open(&env.config).unwrap();
    let mut conn = pool.get().unwrap();
    assert!(insite::store::identity::org_by_name(&mut conn, "Acme")
        .unwrap()
        .is_none());
    use diesel::prelude::*;
    use insite::store::schema::org_keys::dsl::*;
    let live: i64 = org_keys
        .filter(wrapped.is_not_null())
        .filter(org_id.ne("system"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(live, 0, "every key of the org and its subjects destroyed");
    drop(conn);
    let s = TestServer::start(env.config.clone());
    assert!(login(&c, &s, "owner@acme.test", OWNER_PW).is_err());
}
