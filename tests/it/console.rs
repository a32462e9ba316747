//! The web console in a real browser (Debian's headless Chromium through
//! chromedriver): sign-in with a second factor, an upload followed to its transcript
//! and scores, playing from evidence, an agent kept out of a colleague's call, a
//! hostile ticket subject shown as text, the audit trail of these views, security
//! headers, and layouts at 1280x800 and on a narrow window. Screenshots of every page
//! visited go to `target/screenshots/`.

use crate::identity::{bootstrap, login, post, totp_setup, Session, OWNER_PW};
use crate::support::{client, fixture, Backend, TestEnv, TestServer, PRODUCTION_LLM};
use crate::webdriver::Browser;
use serde_json::{json, Value};
use std::time::Duration;

const AGENT_PW: &str = "violet-canyon-river";

const THANKS_CARD: &str = r#"{"name": "Call opening", "applies_to": {"kind": ["call"]},
  "sections": [{"title": "Opening", "questions": [
    {"id": "thanks", "text": "Did the agent thank the customer for calling?", "type": "yes_no"}]}]}"#;

/// The TOTP code for now, but never `used` (a code works once): waits for the next.
fn fresh_code(secret: &str, used: &str) -> String {
    loop {
        let now = insite::clock::system().now().timestamp();
        let code = insite::crypto::totp::current_code(secret, now).unwrap();
        if code != used {
            return code;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn add_user(
    c: &reqwest::blocking::Client,
    s: &TestServer,
    owner: &Session,
    email: &str,
    role: &str,
) -> String {
    let res = post(
        c,
        s,
        owner,
        "/api/v1/users",
        json!({"email": email, "role": role, "password": AGENT_PW}),
    );
    assert_eq!(res.status(), 201);
    res.json::<Value>().unwrap()["user_id"]
        .as_str()
        .unwrap()
        .to_string()
}

pub(crate) fn sign_in(
    b: &mut Browser,
    s: &TestServer,
    email: &str,
    password: &str,
    totp: Option<&str>,
) {
    b.go(&s.url("/console/"));
    b.wait_for("form#login", Duration::from_secs(20));
    b.fill("#email", email);
    b.fill("#password", password);
    if let Some(code) = totp {
        b.fill("#totp", code);
    }
    b.shot("sign-in");
    b.click(&b.find("form#login button[type=submit]").unwrap());
    b.wait_for("header.top nav", Duration::from_secs(20));
}

/// Where the conversation page's audio player is, in seconds.
fn player_time(b: &Browser) -> f64 {
    b.js(
        "return document.getElementById('player').currentTime;",
        vec![],
    )
    .as_f64()
    .unwrap()
}

/// The page does not scroll sideways: everything fits the window.
fn fits(b: &Browser) -> bool {
    b.js(
        "return document.documentElement.scrollWidth <= window.innerWidth;",
        vec![],
    ) == json!(true)
}

#[test]
fn console_journeys_in_a_real_browser() {
    let mut env = TestEnv::new(Backend::Sqlite);
    // The page shows the model's evidence quotes: the model that quotes.
    env.config.engines.llm_model = PRODUCTION_LLM.into();
    bootstrap(&env, "Acme", "owner@acme.test");
    let s = TestServer::start(env.config.clone());
    let c = client();

    // The owner has a second factor; the browser must give a code to get in.
    let api = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap();
    let setup: Value = totp_setup(&c, &s, &api, OWNER_PW);
    let secret = setup["secret"].as_str().unwrap().to_string();
    let first = fresh_code(&secret, "");
    let on = post(
        &c,
        &s,
        &api,
        "/api/v1/me/totp/enable",
        json!({"code": first}),
    );
    assert_eq!(on.status(), 200);
    let sam = add_user(&c, &s, &api, "sam@acme.test", "agent");
    let kim = add_user(&c, &s, &api, "kim@acme.test", "agent");
    let card = post(
        &c,
        &s,
        &api,
        "/api/v1/scorecards",
        json!({"definition": serde_json::from_str::<Value>(THANKS_CARD).unwrap()}),
    );
    assert_eq!(card.status(), 201);
    let card_id = card.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Journey 1: the bootstrap owner signs in with TOTP.
    let mut b = Browser::start("owner");
    b.go(&s.url("/console/"));
    b.wait_for("form#login", Duration::from_secs(20));
    b.fill("#email", "owner@acme.test");
    b.fill("#password", OWNER_PW);
    b.click(&b.find("form#login button[type=submit]").unwrap());
    let refused = b.wait_for("#login-error", Duration::from_secs(20));
    assert!(
        b.text(&refused).contains("TOTP_REQUIRED"),
        "{}",
        b.text(&refused)
    );
    b.shot("code-required");
    sign_in(
        &mut b,
        &s,
        "owner@acme.test",
        OWNER_PW,
        Some(&fresh_code(&secret, &first)),
    );
    assert!(b.url().ends_with("/console/"), "{}", b.url());
    b.wait_for("#volume svg", Duration::from_secs(10));
    assert!(fits(&b), "the dashboard scrolls sideways at 1280x800");
    b.shot("dashboard");

    // Journey 2: upload a generated call for Kim and watch it reach transcript and scores.
    b.go(&s.url("/console/conversations"));
    b.click(&b.wait_for("#upload-card summary", Duration::from_secs(10)));
    b.fill("#upload-file", fixture("call-stereo.wav").to_str().unwrap());
    b.fill(
        "#upload-meta",
        &json!({"channels": ["agent", "customer"], "language": "en", "direction": "inbound",
            "agent_user_id": kim})
        .to_string(),
    );
    b.shot("upload");
    b.click(&b.find("#upload button[type=submit]").unwrap());
    b.wait_for("#conversation-title", Duration::from_secs(30));
    let call_url = b.url();
    let call_id = call_url.rsplit('/').next().unwrap().to_string();
    // While it is processing the page shows live progress, then reloads by itself.
    if b.find("#progress").is_some() {
        b.shot("processing");
    }
    b.wait_for(".scorecard .answer-cell", Duration::from_secs(900));
    assert_eq!(b.text_of("#conversation-state"), "ready");
    let transcript = b.text_of("#transcript").to_lowercase();
    assert!(transcript.contains("thank you for calling"), "{transcript}");
    // The customer's e-mail address was redacted: a placeholder, not the address.
    let redacted: Vec<String> = b
        .all("#transcript .redacted")
        .iter()
        .map(|e| b.text(e))
        .collect();
    assert!(
        redacted
            .iter()
            .any(|r| r == "EMAIL" || r == "PHONE" || r == "CARD"),
        "{redacted:?}"
    );
    assert!(!transcript.contains("4111"), "{transcript}");
    assert!(!b.text_of("#summary").is_empty());
    b.shot("call-scored");

    // Journey 3: play from a piece of evidence; the segment it is in lights up.
    let evidence = b.wait_for(".scorecard a.evidence", Duration::from_secs(5));
    let start: f64 = b
        .js(
            "return Number(document.querySelector('.scorecard a.evidence').dataset.start);",
            vec![],
        )
        .as_f64()
        .unwrap();
    b.click(&evidence);
    std::thread::sleep(Duration::from_millis(700));
    let at = player_time(&b);
    assert!(
        at >= start - 0.05 && at < start + 5.0,
        "player at {at}, evidence at {start}"
    );
    let lit = b.js(
        "const s = document.querySelector('.segment.playing'); return s ? [Number(s.dataset.start), Number(s.dataset.end)] : null;",
        vec![],
    );
    let (from, to) = (lit[0].as_f64().unwrap(), lit[1].as_f64().unwrap());
    assert!(
        from <= at && at < to + 0.5,
        "highlighted {from}..{to}, player at {at}"
    );
    b.shot("playing-evidence");
    // By keyboard: a transcript segment plays from its start on Enter.
    b.js("const s = document.querySelectorAll('.segment')[1]; s.focus(); s.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true}));", vec![]);
    let second: f64 = b
        .js(
            "return Number(document.querySelectorAll('.segment')[1].dataset.start);",
            vec![],
        )
        .as_f64()
        .unwrap();
    let now_at = player_time(&b);
    assert!(
        now_at >= second - 0.05 && now_at < second + 5.0,
        "player at {now_at}, segment at {second}"
    );

    // A reviewer's override from the page: the answer in force changes, the model's stays.
    let model_said = b.text_of(".scorecard .answer-cell strong");
    let other = if model_said == "yes" { "no" } else { "yes" };
    b.fill(
        ".scorecard form[data-api$='/override'] input[name=answer]",
        other,
    );
    b.fill(
        ".scorecard form[data-api$='/override'] input[name=comment]",
        "heard the call myself",
    );
    b.click(
        &b.find(".scorecard form[data-api$='/override'] button")
            .unwrap(),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while b.text_of(".scorecard .answer-cell strong") != other {
        assert!(
            std::time::Instant::now() < deadline,
            "override not shown: {}",
            b.text_of(".scorecard")
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(b
        .text_of(".scorecard .answer-cell")
        .contains(&format!("model said {model_said}")));
    let expected = if other == "yes" {
        "score 100"
    } else {
        "score 0"
    };
    assert!(
        b.text_of(".scorecard h2").contains(expected),
        "{}",
        b.text_of(".scorecard h2")
    );
    b.shot("overridden");

    // A narrow window: still readable, nothing wider than the screen.
    b.resize(420, 900);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        fits(&b),
        "the conversation page scrolls sideways on a narrow window"
    );
    b.shot("narrow");
    b.resize(1280, 800);

    // Journey 5 (data): a ticket whose subject is a script tag shows as text.
    let subject = "<script>alert(1)</script>";
    let t = post(
        &c,
        &s,
        &api,
        "/api/v1/tickets",
        json!({"subject": subject, "agent_user_id": sam,
        "messages": [{"author": "customer", "role": "customer", "at": "2026-11-20T09:00:00Z", "text": "My <b>invoice</b> is wrong."}]}),
    );
    assert_eq!(t.status(), 202, "{:?}", t.text());
    let ticket: Value = t.json().unwrap();
    let ticket_id = ticket["conversation_id"].as_str().unwrap().to_string();
    b.go(&s.url("/console/conversations"));
    b.wait_for("#conversation-list", Duration::from_secs(10));
    assert!(b.alert().is_none(), "a script ran");
    let listed = b.text_of("#conversation-list");
    assert!(listed.contains(subject), "{listed}");
    b.shot("list-with-hostile-subject");
    b.go(&s.url(&format!("/console/conversations/{ticket_id}")));
    let title = b.wait_for("#conversation-title", Duration::from_secs(10));
    assert_eq!(b.text(&title), subject);
    assert!(b.alert().is_none(), "a script ran");
    // The only script on the page is insite's own file.
    let scripts = b.js(
        "return Array.from(document.scripts).map(s => s.src);",
        vec![],
    );
    assert_eq!(scripts, json!([s.url("/console/assets/app.js")]));
    b.shot("hostile-subject-as-text");

    // Journey 4: an agent signs in and cannot see a colleague's call.
    let mut a = Browser::start("agent");
    sign_in(&mut a, &s, "sam@acme.test", AGENT_PW, None);
    assert!(a.url().ends_with("/console/conversations"), "{}", a.url());
    let nav = a.text_of("header.top nav");
    assert!(
        !nav.contains("Users") && !nav.contains("Audit") && !nav.contains("Settings"),
        "{nav}"
    );
    let own = a.text_of("#conversation-list");
    assert!(
        own.contains(subject),
        "the agent's own ticket is listed: {own}"
    );
    assert!(
        a.find(&format!("a[href='/console/conversations/{call_id}']"))
            .is_none(),
        "{own}"
    );
    a.shot("agent-list");
    a.go(&call_url);
    a.wait_for("h1", Duration::from_secs(10));
    assert_eq!(a.text_of("h1"), "Not Found");
    assert!(a.find("#player").is_none() && a.find("#transcript").is_none());
    a.shot("colleague-call-refused");
    a.go(&s.url("/console/users"));
    a.wait_for("h1", Duration::from_secs(10));
    assert_eq!(a.text_of("h1"), "Forbidden");
    a.shot("users-forbidden");
    drop(a);

    // Journey 6: the audit page lists the views just made.
    b.go(&s.url("/console/audit?action=conversation.read"));
    b.wait_for("#audit-list", Duration::from_secs(10));
    let rows: Vec<String> = b
        .all("#audit-list tbody tr")
        .iter()
        .map(|r| b.text(r))
        .collect();
    let owner_view = rows
        .iter()
        .any(|r| r.contains(&call_id) && r.contains("success"));
    let agent_try = rows.iter().any(|r| {
        r.contains(&call_id) && r.contains(&format!("user:{sam}")) && r.contains("not_found")
    });
    let ticket_view = rows
        .iter()
        .any(|r| r.contains(&ticket_id) && r.contains("success"));
    assert!(owner_view && agent_try && ticket_view, "{rows:#?}");
    b.shot("audit");
    b.go(&s.url("/console/audit?action=recording.read"));
    b.wait_for("#audit-list", Duration::from_secs(10));
    assert!(
        b.text_of("#audit-list").contains(&call_id),
        "playing the call is audited"
    );

    // The other pages render for the owner.
    for (path, marker) in [
        ("/console/scorecards", "#scorecard-list"),
        ("/console/users", "#user-list"),
        ("/console/settings", "#analysis-settings"),
        ("/console/system", "#models"),
        ("/console/account", "#sessions"),
    ] {
        b.go(&s.url(path));
        b.wait_for(marker, Duration::from_secs(10));
        assert!(fits(&b), "{path} scrolls sideways");
        b.shot(path.trim_start_matches("/console/"));
    }
    // Re-scoring with progress: a new version of the scorecard, re-scored from its page.
    let mut v2: Value = serde_json::from_str(THANKS_CARD).unwrap();
    v2["sections"][0]["questions"][0]["text"] =
        json!("Did the agent thank the caller for calling?");
    let put = c
        .put(s.url(&format!("/api/v1/scorecards/{card_id}")))
        .header("cookie", &api.cookie)
        .header("x-csrf-token", &api.csrf)
        .json(&json!({"definition": v2}))
        .send()
        .unwrap();
    assert_eq!(put.status(), 200, "{:?}", put.text());
    b.go(&s.url(&format!("/console/scorecards/{card_id}")));
    b.click(&b.wait_for("#rescore button[type=submit]", Duration::from_secs(10)));
    // The page follows the batch it started: wait for that batch to end (a state, with
    // a deadline for hangs only, however slow the machine), then read what the page says.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let batch_url = loop {
        let url = b.js(
            "return document.querySelector('#rescore [data-poll-template]').dataset.poll || null;",
            vec![],
        );
        if let Some(u) = url.as_str() {
            break u.to_string();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the page never started following a batch: {}",
            b.text_of("#rescore")
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(1800);
    let batch = loop {
        let p: Value = crate::identity::get(&c, &s, &api, &batch_url)
            .json()
            .unwrap();
        if p["finished"] == true {
            break p;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "re-scoring hangs: {p}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(batch["states"]["done"], batch["total"], "{batch}");
    // "N of N re-scored · 100%": every ready conversation was looked at (the ticket too;
    // the card applies to calls only, so its job scores nothing). The page polls every
    // 1.5 s, so it shows the end within moments of the batch's.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let progress = b.text_of("#rescore .progress-text");
        let counts: Vec<&str> = progress
            .split(" re-scored")
            .next()
            .unwrap_or("")
            .split(" of ")
            .collect();
        if counts.len() == 2 && counts[0] == counts[1] && progress.ends_with("100%") {
            assert_eq!(counts[1], batch["total"].to_string(), "{progress}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the batch ended ({batch}) but the page shows: {progress:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    b.shot("rescored");
    b.go(&call_url);
    b.wait_for(".scorecard", Duration::from_secs(10));
    assert_eq!(
        b.all(".scorecard").len(),
        2,
        "both versions' results are shown"
    );

    b.go(&s.url("/console/system"));
    let fp = b.wait_for("#tls-fingerprint", Duration::from_secs(10));
    let models = b.text_of("#models");
    assert!(
        models.contains("whisper-tiny.en")
            && models.contains("verified")
            && !models.contains("not verified"),
        "{models}"
    );
    assert_eq!(
        b.text(&fp).to_lowercase().replace(':', ""),
        s.fingerprint.to_lowercase().replace(':', "")
    );
    b.go(&s.url("/console/"));
    let volume = b.wait_for("#volume", Duration::from_secs(10));
    assert!(b.text(&volume).contains("2 in all"), "{}", b.text(&volume));
    let agents = b.text_of("#agent-scores");
    assert!(agents.contains("kim@acme.test"), "{agents}");
    b.shot("dashboard-with-data");
}

#[test]
fn console_pages_carry_security_headers_and_refuse_forged_forms() {
    let env = TestEnv::new(Backend::Sqlite);
    bootstrap(&env, "Acme", "owner@acme.test");
    let s = TestServer::start(env.config.clone());
    let c = client();
    for path in ["/console/login", "/console/assets/app.js"] {
        let res = c.get(s.url(path)).send().unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let h = res.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'")
                && !csp.contains("unsafe-inline")
                && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert!(h["strict-transport-security"]
            .to_str()
            .unwrap()
            .contains("max-age="));
    }
    // Not signed in: a page sends the browser to sign in, and back after.
    let no_redirect = reqwest::blocking::Client::builder()
        .danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = no_redirect.get(s.url("/console/audit")).send().unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        "/console/login?next=%2Fconsole%2Faudit"
    );
    // A sign-in form posted from elsewhere (no matching token cookie) is refused.
    let forged = no_redirect
        .post(s.url("/console/login"))
        .form(&[
            ("csrf", "lc_forged"),
            ("email", "owner@acme.test"),
            ("password", OWNER_PW),
        ])
        .send()
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert!(forged.headers().get("set-cookie").map_or(true, |v| !v
        .to_str()
        .unwrap()
        .starts_with("insite_session=")));
    // A signed-in session cannot be made to sign out (or change anything) cross-site.
    let owner = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap();
    let out = no_redirect
        .post(s.url("/console/logout"))
        .header("cookie", &owner.cookie)
        .form(&[("csrf", "not-the-token")])
        .send()
        .unwrap();
    assert_eq!(out.status(), 403);
    let still = crate::identity::get(&c, &s, &owner, "/api/v1/me");
    assert_eq!(still.status(), 200);
    let write = c
        .patch(s.url("/api/v1/org"))
        .header("cookie", &owner.cookie)
        .json(&json!({"require_totp": false}))
        .send()
        .unwrap();
    assert_eq!(
        crate::identity::code(write),
        (403, "CSRF_MISSING".to_string())
    );
}
