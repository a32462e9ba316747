//! The Integrations page in a real browser: an owner adds a Slack integration, tests
//! the connection (a real message reaches a Slack stand-in on 127.0.0.1), adds an alert
//! rule and reads the outbound log, where the secret webhook path never shows.

use crate::console::sign_in;
use crate::console_privacy::until;
use crate::fake_saas::{FakeServer, Req, Resp, Tls};
use crate::identity::{bootstrap, OWNER_PW};
use crate::support::{Backend, TestEnv, TestServer};
use crate::webdriver::Browser;
use serde_json::json;
use std::time::Duration;

#[test]
fn an_owner_adds_slack_tests_it_adds_a_rule_and_reads_the_outbound_log() {
    let tls = Tls::new();
    let slack = FakeServer::start(&tls, |_: &Req| Resp::raw(200, "text/plain", b"ok".to_vec()));
    let mut env = TestEnv::new(Backend::Sqlite);
    let ca = env.dir.path().join("saas-ca.pem");
    std::fs::write(&ca, &tls.ca_pem).unwrap();
    env.config.integrations.ca_bundle = Some(ca);
    bootstrap(&env, "Acme", "owner@acme.test");
    let s = TestServer::start(env.config.clone());

    let mut b = Browser::start("integrations");
    sign_in(&mut b, &s, "owner@acme.test", OWNER_PW, None);
    b.go(&s.url("/console/integrations"));
    b.wait_for("#new-integration", Duration::from_secs(20));
    assert!(b
        .text_of("#integration-list")
        .contains("No integrations yet."));
    b.js(
        "document.getElementById('in-kind').value = 'slack';",
        vec![],
    );
    b.fill("#in-name", "Slack escalations");
    let settings = json!({"allowed_hosts": [slack.host()]}).to_string();
    let creds = json!({"webhook_url": slack.url("/services/T0/B0/very-secret-path")}).to_string();
    b.js("document.getElementById('in-settings').value = arguments[0]; document.getElementById('in-credentials').value = arguments[1];",
        vec![json!(settings), json!(creds)]);
    b.click(&b.find("#new-integration button[type=submit]").unwrap());
    until(&b, "the integration listed", "return !!document.getElementById('integration-list') && document.getElementById('integration-list').textContent.includes('Slack escalations');");
    assert!(b.text_of("#integration-list").contains("never run"));

    b.click(
        &b.find("#integration-list form.test-connection button")
            .unwrap(),
    );
    until(&b, "the test's answer", "return !!document.querySelector('#integration-list .answer') && document.querySelector('#integration-list .answer').textContent.length > 0;");
    assert_eq!(
        b.text_of("#integration-list .answer"),
        "a test message was delivered"
    );
    assert_eq!(slack.requests().len(), 1);
    assert!(String::from_utf8_lossy(&slack.requests()[0].body).contains("test message"));

    b.fill("#rule-name", "Unhappy customers");
    b.js(
        "document.getElementById('rule-condition').value = '{\"kind\": \"negative_sentiment\"}';",
        vec![],
    );
    b.click(&b.find("#new-rule button[type=submit]").unwrap());
    until(&b, "the rule listed", "return !!document.getElementById('rule-list') && document.getElementById('rule-list').textContent.includes('Unhappy customers');");
    assert!(b.text_of("#rule-list").contains("negative sentiment"));
    assert!(b.text_of("#rule-list").contains("Slack escalations"));

    let log = b.text_of("#outbound-log");
    assert!(
        log.contains("POST 127.0.0.1") && log.contains("200") && log.contains("success"),
        "{log}"
    );
    b.shot("integrations");
    let page = b.js("return document.documentElement.outerHTML;", vec![]);
    assert!(
        !page.as_str().unwrap().contains("very-secret-path"),
        "the Slack webhook path is a secret"
    );
}
