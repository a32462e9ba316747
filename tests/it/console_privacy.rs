//! The privacy pages in a real browser: an owner sets a retention period and a legal
//! hold, finds a data subject, files an export and follows it to its archive, and
//! reads the Article 30 report reflecting the new period.

use crate::console::sign_in;
use crate::identity::{bootstrap, login, post, text_analysis_off, OWNER_PW};
use crate::pipeline::wait_job;
use crate::support::{client, Backend, TestEnv, TestServer};
use crate::webdriver::Browser;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Waits until `script` (a function body) returns true.
pub(crate) fn until(b: &Browser, what: &str, script: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while b.js(script, vec![]) != json!(true) {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen on {}",
            b.url()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn an_owner_sets_retention_and_a_hold_and_answers_an_export_request_in_the_browser() {
    let env = TestEnv::new(Backend::Sqlite);
    bootstrap(&env, "Acme", "owner@acme.test");
    let s = TestServer::start(env.config.clone());
    let c = client();
    let owner = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap();
    text_analysis_off(&c, &s.base, &owner);
    let ticket = json!({"subject": "Invoice", "participants": [{"name": "Jane Roe", "email": "jane.roe@example.com"}],
        "messages": [{"author": "Jane", "role": "customer", "at": "2026-11-20T09:00:00Z", "text": "My invoice is wrong."}]});
    let accepted: Value = post(&c, &s, &owner, "/api/v1/tickets", ticket)
        .json()
        .unwrap();
    assert_eq!(
        wait_job(&c, &s.base, &owner, accepted["job_id"].as_str().unwrap())["state"],
        "done"
    );

    let mut b = Browser::start("privacy");
    sign_in(&mut b, &s, "owner@acme.test", OWNER_PW, None);
    b.go(&s.url("/console/retention"));
    b.wait_for("#retention-policy", Duration::from_secs(20));
    b.shot("retention");
    b.js("document.getElementById('tr-days').value = '7';", vec![]);
    b.click(&b.find("#retention-policy button[type=submit]").unwrap());
    until(&b, "the new period shown after saving", "return document.readyState === 'complete' && document.getElementById('tr-days') && document.getElementById('tr-days').defaultValue === '7';");
    b.js(
        "document.getElementById('hold-scope').value = 'org';",
        vec![],
    );
    b.fill("#hold-reason", "regulator inquiry 42");
    b.click(&b.find("#new-hold button[type=submit]").unwrap());
    until(&b, "the hold listed", "return !!document.getElementById('hold-list') && document.getElementById('hold-list').textContent.includes('regulator inquiry 42');");
    assert!(b.text_of("#hold-list").contains("in force"));

    b.go(&s.url("/console/subjects?email=JANE.ROE%40example.com"));
    b.wait_for("#subject-results a", Duration::from_secs(20));
    b.shot("subjects");
    b.click(&b.find("#subject-results a").unwrap());
    b.wait_for("#new-request", Duration::from_secs(20));
    assert!(b
        .text_of("#subject-fields")
        .contains("jane.roe@example.com"));
    b.js(
        "document.getElementById('rq-kind').value = 'export';",
        vec![],
    );
    b.fill("#rq-requester", "Jane Roe, by e-mail");
    b.click(&b.find("#new-request button[type=submit]").unwrap());
    until(
        &b,
        "the archive offered",
        "return !!document.querySelector('#subject-requests a[download]');",
    );
    b.shot("subject-export");
    let href = b.js(
        "return document.querySelector('#subject-requests a[download]').getAttribute('href');",
        vec![],
    );
    let res = c
        .get(s.url(href.as_str().unwrap()))
        .header("cookie", &owner.cookie)
        .send()
        .unwrap();
    assert_eq!(res.status(), 200);
    let tar = res.bytes().unwrap();
    let mut names = Vec::new();
    for e in tar::Archive::new(&tar[..]).entries().unwrap() {
        names.push(e.unwrap().path().unwrap().to_string_lossy().to_string());
    }
    assert!(names.contains(&"subject.json".to_string()), "{names:?}");

    b.go(&s.url("/console/records"));
    b.wait_for("#records-categories", Duration::from_secs(20));
    b.shot("records");
    assert!(
        b.text_of("#records-categories").contains("7 days"),
        "{}",
        b.text_of("#records-categories")
    );
}
