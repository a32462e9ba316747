//! AI analysis with the real small LLM over generated tickets whose right answers are
//! known by construction: templates (refused when malformed, versioned), summary,
//! sentiment, scorecard answers with verbatim evidence, custom insights, review
//! (dispute, resolution, override), re-scoring as a batch, coaching, and the cases
//! where nothing may go to the LLM.

use crate::identity::{bootstrap, code, get, login, post, OWNER_PW};
use crate::pipeline::wait_job;
use crate::support::{client, Backend, TestEnv, TestServer, PRODUCTION_LLM};
use serde_json::{json, Value};

fn ticket(agent: &str, msgs: &[(&str, &str)], extra: Value) -> Value {
    let messages: Vec<Value> = msgs
        .iter()
        .enumerate()
        .map(|(i, (role, text))| {
            json!({"author": role, "role": role, "at": format!("2026-11-20T09:{:02}:00Z", i * 2), "text": text})
        })
        .collect();
    let mut t = json!({"subject": "Energy tariff", "agent_user_id": agent, "messages": messages});
    if let (Some(o), Some(e)) = (t.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    t
}

const GREETING_CARD: &str = r#"{"name": "Service basics", "applies_to": {"kind": ["ticket"]},
  "sections": [{"title": "Opening", "questions": [
    {"id": "greeting", "text": "Did the agent greet the customer by name?", "type": "yes_no"}]}]}"#;

/// The segments' texts by time, to check evidence against.
fn segment_at(conv: &Value, start: f64) -> String {
    conv["segments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| (s["start"].as_f64().unwrap() - start).abs() < 1e-6)
        .map(|s| s["text"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

#[test]
fn the_llm_scores_tickets_with_evidence_and_people_review_it() {
    let mut env = TestEnv::new(Backend::Sqlite);
    env.config.engines.llm_model = PRODUCTION_LLM.into();
    bootstrap(&env, "Acme", "owner@acme.test");
    let s = TestServer::start(env.config.clone());
    let c = client();
    let owner = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap();
    let agent_id = post(
        &c,
        &s,
        &owner,
        "/api/v1/users",
        json!({"email": "sam@acme.test", "role": "agent", "password": "violet-canyon-river"}),
    )
    .json::<Value>()
    .unwrap()["user_id"]
        .as_str()
        .unwrap()
        .to_string();
    let agent = login(&c, &s, "sam@acme.test", "violet-canyon-river").unwrap();

    // Malformed templates are refused with the field named.
    let card: Value = serde_json::from_str(GREETING_CARD).unwrap();
    let mut bad = card.clone();
    bad["sections"][0]["questions"][0]["type"] = json!("maybe");
    let res = post(
        &c,
        &s,
        &owner,
        "/api/v1/scorecards",
        json!({"definition": bad}),
    );
    let body: Value = res.json().unwrap();
    assert_eq!(body["error"]["code"], "TEMPLATE_INVALID");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("definition.sections[0].questions[0].type:"),
        "{body}"
    );
    let mut bad = card.clone();
    bad["sections"][0]["questions"][0]["weight"] = json!("high");
    let body: Value = post(
        &c,
        &s,
        &owner,
        "/api/v1/scorecards",
        json!({"definition": bad}),
    )
    .json()
    .unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("questions[0].weight"),
        "{body}"
    );
    let mut bad = card.clone();
    bad["sections"][0]["questions"] = json!([]);
    let body: Value = post(
        &c,
        &s,
        &owner,
        "/api/v1/scorecards",
        json!({"definition": bad}),
    )
    .json()
    .unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("definition.sections[0].questions:"),
        "{body}"
    );

    let res = post(
        &c,
        &s,
        &owner,
        "/api/v1/scorecards",
        json!({"definition": card}),
    );
    assert_eq!(res.status(), 201);
    let template: Value = res.json().unwrap();
    let template_id = template["id"].as_str().unwrap().to_string();
    assert_eq!(template["version"], 1);
    let res = post(
        &c,
        &s,
        &owner,
        "/api/v1/insights",
        json!({"definition": {"key": "competitor",
        "question": "Which competitor did the customer mention?", "type": "text"}}),
    );
    assert_eq!(res.status(), 201);

    // Known answers by construction.
    let happy = ticket(&agent_id, &[
        ("agent", "Good morning Mrs Patel, thank you for contacting Northwind Energy. My name is Sam."),
        ("customer", "Hi Sam. BrightSpark offered me a cheaper tariff, so I was thinking of switching."),
        ("agent", "I can match that price today with our fixed saver plan."),
        ("customer", "That is wonderful, thank you so much. I am very happy to stay."),
    ], json!({}));
    let angry = ticket(&agent_id, &[
        ("agent", "Yes?"),
        ("customer", "This is the third time my bill is wrong. I am furious and I want to cancel my contract today."),
        ("agent", "The bill is correct. There is nothing I can do."),
        ("customer", "I have had enough of your useless service. This is a disgrace."),
    ], json!({}));
    let mut ids = Vec::new();
    for t in [&happy, &angry] {
        let accepted: Value = post(&c, &s, &owner, "/api/v1/tickets", t.clone())
            .json()
            .unwrap();
        let job = wait_job(&c, &s.base, &owner, accepted["job_id"].as_str().unwrap());
        assert_eq!(job["state"], "done", "{job}");
        ids.push(accepted["conversation_id"].as_str().unwrap().to_string());
    }
    let analysis = |id: &str| -> Value {
        let res = get(
            &c,
            &s,
            &owner,
            &format!("/api/v1/conversations/{id}/analysis"),
        );
        assert_eq!(res.status(), 200);
        res.json().unwrap()
    };
    let (a, b) = (analysis(&ids[0]), analysis(&ids[1]));
    for x in [&a, &b] {
        assert_eq!(x["state"], "done", "{x}");
        assert_eq!(x["model"], PRODUCTION_LLM);
        assert_eq!(x["model_sha256"].as_str().unwrap().len(), 64);
        assert_eq!(x["prompt_version"], "analysis.v2");
        assert!(
            !x["overview"]["summary"].as_str().unwrap().is_empty(),
            "{x}"
        );
        assert!(x["timings"]["prefix_tokens"].as_u64().unwrap() > 50);
    }
    // The angry customer reads negative, and below the happy one.
    assert_eq!(
        b["sentiment"]["customer"]["label"], "negative",
        "{}",
        b["sentiment"]
    );
    assert!(
        b["sentiment"]["customer"]["score"].as_f64() < a["sentiment"]["customer"]["score"].as_f64(),
        "{} vs {}",
        a["sentiment"],
        b["sentiment"]
    );
    // The agent who greets by name; evidence is a verbatim span at its time.
    let card_a = &a["scorecards"][0];
    assert_eq!(card_a["version"], 1);
    let greet = &card_a["answers"][0];
    assert_eq!(greet["question_id"], "greeting");
    assert_eq!(greet["answer"], "yes", "{greet}");
    assert_eq!(card_a["score"], 100.0);
    let conv_a: Value = get(&c, &s, &owner, &format!("/api/v1/conversations/{}", ids[0]))
        .json()
        .unwrap();
    let evidence = greet["evidence"].as_array().unwrap();
    assert!(!evidence.is_empty(), "{greet}");
    for e in evidence {
        let seg = segment_at(&conv_a, e["start"].as_f64().unwrap());
        assert!(
            seg.contains(e["quote"].as_str().unwrap()),
            "{e} not in {seg:?}"
        );
    }
    // The agent who does not greet at all.
    let greet_b = &b["scorecards"][0]["answers"][0];
    assert_eq!(greet_b["answer"], "no", "{greet_b}");
    assert_eq!(b["scorecards"][0]["score"], 0.0);
    // The competitor the customer named.
    assert_eq!(a["insights"][0]["key"], "competitor");
    let named = a["insights"][0]["answer"].as_str().unwrap_or_default();
    assert!(named.contains("BrightSpark"), "{}", a["insights"]);

    // The agent sees their own analysis, disputes; a reviewer upholds with a new answer.
    let result_id = card_a["id"].as_str().unwrap().to_string();
    let res = post(
        &c,
        &s,
        &agent,
        &format!("/api/v1/scorecard-results/{result_id}/dispute"),
        json!({"question_id": "greeting", "comment": "I used her name but it was the wrong one"}),
    );
    assert_eq!(res.status(), 201);
    let dispute: Value = res.json().unwrap();
    let res = post(
        &c,
        &s,
        &agent,
        &format!(
            "/api/v1/reviews/{}/resolve",
            dispute["id"].as_str().unwrap()
        ),
        json!({"decision": "upheld", "answer": "no"}),
    );
    assert_eq!(code(res).0, 403, "agents cannot resolve");
    let res = post(
        &c,
        &s,
        &owner,
        &format!(
            "/api/v1/reviews/{}/resolve",
            dispute["id"].as_str().unwrap()
        ),
        json!({"decision": "upheld", "answer": "no", "comment": "Agreed"}),
    );
    assert_eq!(res.status(), 204);
    let after = analysis(&ids[0]);
    let greet = &after["scorecards"][0]["answers"][0];
    assert_eq!(
        (greet["answer"].clone(), greet["model_answer"].clone()),
        (json!("no"), json!("yes"))
    );
    assert_eq!(after["scorecards"][0]["score"], 0.0);
    assert_eq!(after["scorecards"][0]["model_score"], 100.0);
    assert_eq!(greet["reviews"][0]["state"], "upheld");
    assert_eq!(
        greet["reviews"][0]["comment"],
        "I used her name but it was the wrong one"
    );
    let res = post(
        &c,
        &s,
        &owner,
        &format!("/api/v1/scorecard-results/{result_id}/override"),
        json!({"question_id": "greeting", "answer": 7}),
    );
    assert_eq!(code(res), (422, "VALIDATION".into()));
    let res = post(
        &c,
        &s,
        &owner,
        &format!("/api/v1/scorecard-results/{result_id}/override"),
        json!({"question_id": "greeting", "answer": "yes", "comment": "Listened again"}),
    );
    assert_eq!(res.status(), 201);
    assert_eq!(
        analysis(&ids[0])["scorecards"][0]["answers"][0]["answer"],
        "yes"
    );
    // A reviewer overrules the model on the other conversation: agreement with people
    // is one of two decided answers, flagged once one label is enough.
    let result_b = b["scorecards"][0]["id"].as_str().unwrap().to_string();
    let res = post(
        &c,
        &s,
        &owner,
        &format!("/api/v1/scorecard-results/{result_b}/override"),
        json!({"question_id": "greeting", "answer": "yes"}),
    );
    assert_eq!(res.status(), 201);
    let period = "from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z";
    let url = format!("/api/v1/scorecards/{template_id}/agreement?{period}");
    let res = get(&c, &s, &agent, &url);
    assert_eq!(code(res).0, 403, "agents do not read agreement");
    let res = get(&c, &s, &owner, &format!("{url}&min_n=0"));
    assert_eq!(code(res), (422, "VALIDATION".into()));
    let report: Value = get(&c, &s, &owner, &url).json().unwrap();
    let q = &report["versions"][0]["questions"][0];
    assert_eq!(report["versions"][0]["version"], 1, "{report}");
    assert_eq!(q["question_id"], "greeting", "{report}");
    assert_eq!(
        (q["n"].clone(), q["agreed"].clone()),
        (json!(2), json!(1)),
        "{report}"
    );
    assert_eq!(q["agreement"], 0.5);
    assert_eq!(
        q["kappa"], 0.0,
        "the model said yes and no, people yes twice"
    );
    assert_eq!(q["flagged"], false, "two labels are too few by default");
    let report: Value = get(&c, &s, &owner, &format!("{url}&min_n=1"))
        .json()
        .unwrap();
    assert_eq!(report["flagged"], 1, "{report}");
    let page = c
        .get(s.url(&format!(
            "/console/scorecards/{template_id}?{period}&min_n=1"
        )))
        .header("cookie", &owner.cookie)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(page.contains("1 of 2 answers agreed"), "{page}");
    assert!(page.contains("below threshold"), "{page}");
    for action in [
        "score.dispute",
        "score.dispute_resolve",
        "score.override",
        "scorecard.agreement.read",
        "analysis.read",
        "scorecard.create",
        "insight.create",
    ] {
        let audit: Value = get(&c, &s, &owner, &format!("/api/v1/audit?action={action}"))
            .json()
            .unwrap();
        assert!(
            !audit["entries"].as_array().unwrap().is_empty(),
            "{action} not audited"
        );
    }

    // Coaching for the agent over the period.
    let coaching: Value = get(
        &c,
        &s,
        &agent,
        "/api/v1/coaching?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z",
    )
    .json()
    .unwrap();
    assert_eq!(coaching["agent_user_id"], agent_id.as_str());
    assert_eq!(coaching["conversations"], 2, "{coaching}");
    assert_eq!(coaching["questions"][0]["question_id"], "greeting");

    // A new version re-scores past conversations as a batch.
    let mut v2 = card.clone();
    v2["sections"][0]["questions"][0]["text"] = json!("Did the agent say the customer's name?");
    let res = c
        .put(s.url(&format!("/api/v1/scorecards/{template_id}")))
        .header("cookie", &owner.cookie)
        .header("x-csrf-token", &owner.csrf)
        .json(&json!({"definition": v2}))
        .send()
        .unwrap();
    assert_eq!(res.status(), 200);
    let batch: Value = post(
        &c,
        &s,
        &owner,
        &format!("/api/v1/scorecards/{template_id}/rescore"),
        json!({}),
    )
    .json()
    .unwrap();
    assert_eq!(batch["version"], 2);
    assert_eq!(batch["jobs"], 2);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    loop {
        let p: Value = get(
            &c,
            &s,
            &owner,
            &format!("/api/v1/batches/{}", batch["batch_id"].as_str().unwrap()),
        )
        .json()
        .unwrap();
        if p["finished"] == true {
            assert_eq!(p["states"]["done"], 2, "{p}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{p}");
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let versions: Vec<i64> = analysis(&ids[1])["scorecards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions.len(), 2, "both versions kept: {versions:?}");
    assert!(versions.contains(&1) && versions.contains(&2));

    // Nothing goes to the LLM for an opted-out participant, or with text switched off.
    let opted = ticket(
        &agent_id,
        &[(
            "customer",
            "Please do not use AI on my data. My meter reads 4471.",
        )],
        json!({"participants": [{"name": "Ann", "role": "customer", "ai_opt_out": true}]}),
    );
    let accepted: Value = post(&c, &s, &owner, "/api/v1/tickets", opted)
        .json()
        .unwrap();
    wait_job(&c, &s.base, &owner, accepted["job_id"].as_str().unwrap());
    let id = accepted["conversation_id"].as_str().unwrap();
    let x = analysis(id);
    assert_eq!(
        (x["state"].as_str(), x["reason_code"].as_str()),
        (Some("skipped"), Some("PARTICIPANT_OPTED_OUT")),
        "{x}"
    );
    assert!(x["scorecards"].as_array().unwrap().is_empty());
    let conv: Value = get(&c, &s, &owner, &format!("/api/v1/conversations/{id}"))
        .json()
        .unwrap();
    assert_eq!(
        conv["segments"].as_array().unwrap().len(),
        1,
        "the transcript is kept"
    );
    let res = c
        .patch(s.url("/api/v1/org"))
        .header("cookie", &owner.cookie)
        .header("x-csrf-token", &owner.csrf)
        .json(&json!({"analysis": {"text": false}}))
        .send()
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().unwrap()["analysis"]["text"], false);
    let mut t = happy_variant();
    t["agent_user_id"] = json!(agent_id);
    let accepted: Value = post(&c, &s, &owner, "/api/v1/tickets", t).json().unwrap();
    wait_job(&c, &s.base, &owner, accepted["job_id"].as_str().unwrap());
    let x = analysis(accepted["conversation_id"].as_str().unwrap());
    assert_eq!(x["reason_code"], "TEXT_MODALITY_OFF", "{x}");
    let res = c
        .patch(s.url("/api/v1/org"))
        .header("cookie", &owner.cookie)
        .header("x-csrf-token", &owner.csrf)
        .json(&json!({"analysis": {"colour": true}}))
        .send()
        .unwrap();
    assert_eq!(code(res), (422, "VALIDATION".into()));
    // What reviewers wrote is sealed: neither comment is in the database file.
    drop(s);
    for file in ["insite.db", "insite.db-wal"] {
        let bytes = std::fs::read(env.config.data_dir.join(file)).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        for said in ["it was the wrong one", "Listened again"] {
            assert!(!text.contains(said), "{said:?} readable in {file}");
        }
    }
}

fn happy_variant() -> Value {
    json!({"subject": "Another tariff question", "messages": [
        {"author": "Sam", "role": "agent", "at": "2026-11-21T09:00:00Z", "text": "Hello Mr Jones, how can I help?"}]})
}
