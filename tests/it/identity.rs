//! Accounts, sign-in, roles, tenant isolation and the audit chain, over real HTTP.

use crate::support::{backends, client, last_line, run_bin, Backend, TestEnv, TestServer};
use insite::clock::ManualClock;
use reqwest::blocking::{Client, Response};
use serde_json::{json, Value};
use std::io::Write;
use std::process::Stdio;
use std::sync::Arc;

pub(crate) const OWNER_PW: &str = "tangerine-orbit-lamp";

/// Runs `insite admin bootstrap … --password-stdin` with `password` on stdin.
pub(crate) fn run_bootstrap(
    env: &TestEnv,
    org: &str,
    email: &str,
    password: &str,
) -> std::process::Output {
    let cfg = env.write_config();
    let args = [
        "--config",
        cfg.to_str().unwrap(),
        "admin",
        "bootstrap",
        "--org",
        org,
        "--email",
        email,
        "--password-stdin",
    ];
    let mut child = crate::support::bin_command(&args, &[])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let line = format!("{password}\n");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(line.as_bytes())
        .unwrap();
    crate::support::wait_output(child, std::time::Duration::from_secs(60))
}

pub(crate) fn bootstrap(env: &TestEnv, org: &str, email: &str) {
    let out = run_bootstrap(env, org, email, OWNER_PW);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A signed-in browser-like caller: session cookie plus CSRF token.
pub(crate) struct Session {
    pub cookie: String,
    pub csrf: String,
}

pub(crate) fn login(
    c: &Client,
    s: &TestServer,
    email: &str,
    pw: &str,
) -> Result<Session, (u16, Value)> {
    login_with(c, s, json!({"email": email, "password": pw}))
}

/// Signs in with any login body (e.g. with `"totp"`).
pub(crate) fn login_with(c: &Client, s: &TestServer, body: Value) -> Result<Session, (u16, Value)> {
    login_at(c, &s.base, body)
}

/// Signs in against a server given by its base URL (e.g. one run as a process).
pub(crate) fn login_at(c: &Client, base: &str, body: Value) -> Result<Session, (u16, Value)> {
    let res = c
        .post(format!("{base}/api/v1/auth/login"))
        .json(&body)
        .send()
        .unwrap();
    let status = res.status().as_u16();
    let cookie = res
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_string());
    let body: Value = res.json().unwrap();
    if status != 200 {
        return Err((status, body));
    }
    let cookie = cookie.unwrap();
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("Secure")
            && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    Ok(Session {
        cookie: cookie.split(';').next().unwrap().to_string(),
        csrf: body["csrf_token"].as_str().unwrap().to_string(),
    })
}

pub(crate) fn get(c: &Client, s: &TestServer, who: &Session, path: &str) -> Response {
    c.get(s.url(path))
        .header("cookie", &who.cookie)
        .send()
        .unwrap()
}

pub(crate) fn post(c: &Client, s: &TestServer, who: &Session, path: &str, body: Value) -> Response {
    c.post(s.url(path))
        .header("cookie", &who.cookie)
        .header("x-csrf-token", &who.csrf)
        .json(&body)
        .send()
        .unwrap()
}

/// Starts second-factor enrolment for `who`, re-authenticating with `password`; the
/// answer holds `secret` and `otpauth_uri`.
pub(crate) fn totp_setup(c: &Client, s: &TestServer, who: &Session, password: &str) -> Value {
    let res = post(
        c,
        s,
        who,
        "/api/v1/me/totp/setup",
        json!({ "password": password }),
    );
    assert_eq!(res.status(), 200);
    res.json().unwrap()
}

/// Acme bootstrapped, its server started and its owner signed in, text analysis off
/// (for tests about anything but analysis).
pub(crate) fn acme_owner(env: &TestEnv) -> (TestServer, Client, Session) {
    bootstrap(env, "Acme", "owner@acme.test");
    let s = TestServer::start(env.config.clone());
    let c = client();
    let owner = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap();
    text_analysis_off(&c, &s.base, &owner);
    (s, c, owner)
}

/// A new API token of `org` with `role`, made on the server's shell.
pub(crate) fn admin_token(env: &TestEnv, org: &str, role: &str) -> String {
    let cfg = env.write_config();
    let args = [
        "--config",
        cfg.to_str().unwrap(),
        "admin",
        "token",
        "create",
    ];
    let out = run_bin(&[&args[..], &["--org", org, "--role", role]].concat(), &[]);
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Switches the org's text analysis off through the real setting (`PATCH /api/v1/org`):
/// no conversation text of this org reaches the LLM. For tests about anything but
/// analysis, which then spend no time on inference.
pub(crate) fn text_analysis_off(c: &Client, base: &str, who: &Session) {
    let res = c
        .patch(format!("{base}/api/v1/org"))
        .header("cookie", &who.cookie)
        .header("x-csrf-token", &who.csrf)
        .json(&json!({"analysis": {"text": false}}))
        .send()
        .unwrap();
    assert_eq!(res.status(), 200);
    let org: Value = res.json().unwrap();
    assert_eq!(org["analysis"]["text"], false, "{org}");
}

pub(crate) fn code(res: Response) -> (u16, String) {
    let status = res.status().as_u16();
    let body: Value = res.json().unwrap_or(Value::Null);
    (
        status,
        body["error"]["code"].as_str().unwrap_or("").to_string(),
    )
}

#[test]
fn owner_invites_roles_see_what_they_may_and_the_audit_shows_it() {
    for backend in backends() {
        let env = TestEnv::new(backend);
        bootstrap(&env, "Acme Bank", "owner@acme.test");
        let s = TestServer::start(env.config.clone());
        let c = client();

        assert_eq!(
            login(&c, &s, "owner@acme.test", "wrong-password-123")
                .err()
                .unwrap()
                .1["error"]["code"],
            "AUTH_INVALID"
        );
        let owner = login(&c, &s, "OWNER@acme.test", OWNER_PW).unwrap();
        let me: Value = get(&c, &s, &owner, "/api/v1/me").json().unwrap();
        assert_eq!(me["role"], "owner", "{backend:?}");

        // A form post without the CSRF token (what a hostile page can make a browser send).
        let forged = c
            .post(s.url("/api/v1/users"))
            .header("cookie", &owner.cookie)
            .json(&json!({"email": "x@acme.test", "role": "admin", "password": "violet-canyon-river"}))
            .send()
            .unwrap();
        assert_eq!(code(forged), (403, "CSRF_MISSING".into()));

        for (email, role) in [("agent@acme.test", "agent"), ("audit@acme.test", "auditor")] {
            let res = post(
                &c,
                &s,
                &owner,
                "/api/v1/users",
                json!({"email": email, "role": role, "password": "violet-canyon-river"}),
            );
            assert_eq!(res.status(), 201, "{role}");
        }
        let weak = post(
            &c,
            &s,
            &owner,
            "/api/v1/users",
            json!({"email": "w@acme.test", "role": "agent", "password": "short"}),
        );
        assert_eq!(code(weak), (422, "PASSWORD_POLICY".into()));
        let bad_role = post(
            &c,
            &s,
            &owner,
            "/api/v1/users",
            json!({"email": "r@acme.test", "role": "root", "password": "violet-canyon-river"}),
        );
        assert_eq!(code(bad_role).0, 422);

        let agent = login(&c, &s, "agent@acme.test", "violet-canyon-river").unwrap();
        assert_eq!(
            code(get(&c, &s, &agent, "/api/v1/users")),
            (403, "FORBIDDEN".into())
        );
        assert_eq!(
            code(get(&c, &s, &agent, "/api/v1/audit")),
            (403, "FORBIDDEN".into())
        );
        assert_eq!(get(&c, &s, &agent, "/api/v1/me").status(), 200);

        let auditor = login(&c, &s, "audit@acme.test", "violet-canyon-river").unwrap();
        assert_eq!(code(get(&c, &s, &auditor, "/api/v1/users")).0, 403);
        let trail: Value = get(&c, &s, &auditor, "/api/v1/audit?action=auth.login")
            .json()
            .unwrap();
        let entries = trail["entries"].as_array().unwrap();
        let outcomes: Vec<&str> = entries
            .iter()
            .map(|e| e["outcome"].as_str().unwrap())
            .collect();
        assert!(
            outcomes.contains(&"failure") && outcomes.contains(&"success"),
            "{outcomes:?}"
        );
        assert!(entries
            .iter()
            .all(|e| e["action"] == "auth.login" && !e["ip"].as_str().unwrap().is_empty()));
        let adds: Value = get(&c, &s, &auditor, "/api/v1/audit?action=user.add")
            .json()
            .unwrap();
        assert_eq!(
            adds["entries"].as_array().unwrap().len(),
            4,
            "two added, one weak, one bad role: {adds}"
        );
        let csv = get(&c, &s, &auditor, "/api/v1/audit/export?format=csv")
            .text()
            .unwrap();
        assert!(csv.starts_with("org_id,seq,at,actor,action"), "{csv}");
        assert!(
            csv.contains("audit.read"),
            "reading the audit log is itself audited"
        );
        let jsonl = get(&c, &s, &auditor, "/api/v1/audit/export")
            .text()
            .unwrap();
        assert!(jsonl
            .lines()
            .all(|l| serde_json::from_str::<Value>(l).is_ok()));
        let bad = get(&c, &s, &auditor, "/api/v1/audit?from=yesterday");
        assert_eq!(code(bad), (400, "VALIDATION".into()));
    }
}

#[test]
fn lockout_and_expired_sessions_follow_the_clock() {
    let env = TestEnv::new(Backend::Sqlite);
    bootstrap(&env, "Acme", "owner@acme.test");
    let start = chrono::DateTime::parse_from_rfc3339("2026-03-01T09:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let clock = ManualClock::new(start);
    let s = TestServer::start_with_clock(env.config.clone(), Arc::new(clock.clone()));
    let c = client();

    for _ in 0..4 {
        assert_eq!(
            login(&c, &s, "owner@acme.test", "nope-nope-nope")
                .err()
                .unwrap()
                .0,
            401
        );
    }
    let (status, body) = login(&c, &s, "owner@acme.test", "nope-nope-nope")
        .err()
        .unwrap();
    assert_eq!(
        (status, body["error"]["code"].as_str().unwrap()),
        (429, "AUTH_LOCKED")
    );
    // Locked means locked, even with the right password.
    assert_eq!(
        login(&c, &s, "owner@acme.test", OWNER_PW).err().unwrap().1["error"]["code"],
        "AUTH_LOCKED"
    );
    clock.advance(chrono::Duration::minutes(16));
    let owner = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap();
    assert_eq!(get(&c, &s, &owner, "/api/v1/me").status(), 200);

    clock.advance(chrono::Duration::minutes(31));
    assert_eq!(
        code(get(&c, &s, &owner, "/api/v1/me")),
        (401, "SESSION_EXPIRED".into())
    );
    assert_eq!(
        code(c.get(s.url("/api/v1/me")).send().unwrap()),
        (401, "AUTH_REQUIRED".into())
    );
}

#[test]
fn revoked_api_token_is_refused() {
    let env = TestEnv::new(Backend::Sqlite);
    bootstrap(&env, "Acme", "owner@acme.test");
    let token = admin_token(&env, "Acme", "admin");
    assert!(token.starts_with("ins_") && token.len() == 68, "{token}");
    let s = TestServer::start(env.config.clone());
    let c = client();
    let list: Value = c
        .get(s.url("/api/v1/tokens"))
        .bearer_auth(&token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let id = list["tokens"][0]["id"].as_str().unwrap().to_string();
    assert!(
        list.to_string().find(&token[4..]).is_none(),
        "the secret is never shown again"
    );
    // Tokens are not cookies: no CSRF token needed.
    let del = c
        .delete(s.url(&format!("/api/v1/tokens/{id}")))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(del.status(), 204);
    assert_eq!(
        code(
            c.get(s.url("/api/v1/users"))
                .bearer_auth(&token)
                .send()
                .unwrap()
        ),
        (401, "AUTH_REQUIRED".into())
    );
    assert_eq!(
        code(
            c.get(s.url("/api/v1/users"))
                .bearer_auth("ins_forged")
                .send()
                .unwrap()
        )
        .0,
        401
    );
}

#[test]
fn audit_verify_detects_a_row_edited_in_the_database() {
    for backend in backends() {
        let env = TestEnv::new(backend);
        bootstrap(&env, "Acme", "owner@acme.test");
        let s = TestServer::start(env.config.clone());
        let c = client();
        let _ = login(&c, &s, "owner@acme.test", "wrong-password-123");
        let _owner = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap();
        drop(s);
        let cfg = env.write_config();
        let ok = run_bin(&["--config", cfg.to_str().unwrap(), "audit", "verify"], &[]);
        assert!(ok.status.success(), "{ok:?}");
        assert!(String::from_utf8_lossy(&ok.stdout).starts_with("audit log intact: "));

        let pool = insite::store::open(&env.config).unwrap();
        let mut conn = pool.get().unwrap();
        use diesel::prelude::*;
        use insite::store::schema::audit_log::dsl::*;
        diesel::update(audit_log.filter(seq.eq(2)).filter(chain.ne("system")))
            .set(outcome.eq("success"))
            .execute(&mut conn)
            .unwrap();
        drop(conn);
        let bad = run_bin(&["--config", cfg.to_str().unwrap(), "audit", "verify"], &[]);
        assert_eq!(bad.status.code(), Some(1), "{backend:?}");
        let line = last_line(&bad);
        assert!(
            line.contains("broken at entry 2") && line.contains("altered"),
            "{line}"
        );
    }
}

#[test]
fn bootstrap_twice_is_refused_and_weak_passwords_too() {
    let env = TestEnv::new(Backend::Sqlite);
    let weak = run_bootstrap(&env, "Acme", "owner@acme.test", "short");
    assert!(
        last_line(&weak).contains("at least 12 characters"),
        "{}",
        last_line(&weak)
    );
    bootstrap(&env, "Acme", "owner@acme.test");
    let again = run_bootstrap(&env, "Other", "o@o.test", "violet-canyon-river");
    assert!(
        last_line(&again).contains("already bootstrapped"),
        "{}",
        last_line(&again)
    );
}

#[test]
fn totp_second_factor_reuse_recovery_and_password_change() {
    let env = TestEnv::new(Backend::Sqlite);
    bootstrap(&env, "Acme", "owner@acme.test");
    let start = chrono::DateTime::parse_from_rfc3339("2026-05-01T08:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let clock = ManualClock::new(start);
    let s = TestServer::start_with_clock(env.config.clone(), Arc::new(clock.clone()));
    let c = client();
    let owner = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap();

    let setup: Value = totp_setup(&c, &s, &owner, OWNER_PW);
    let secret = setup["secret"].as_str().unwrap().to_string();
    assert!(setup["otpauth_uri"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/insite:owner@acme.test?secret="));
    let now = || insite::clock::Clock::now(&clock).timestamp();
    let wrong = post(
        &c,
        &s,
        &owner,
        "/api/v1/me/totp/enable",
        json!({"code": "000000"}),
    );
    assert_eq!(wrong.status(), 422);
    let first = insite::crypto::totp::current_code(&secret, now()).unwrap();
    let enabled: Value = post(
        &c,
        &s,
        &owner,
        "/api/v1/me/totp/enable",
        json!({"code": first}),
    )
    .json()
    .unwrap();
    let recovery: Vec<String> = enabled["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(recovery.len(), 10);

    let try_login = |body: Value| {
        let res = c
            .post(s.url("/api/v1/auth/login"))
            .json(&body)
            .send()
            .unwrap();
        code(res)
    };
    let base = json!({"email": "owner@acme.test", "password": OWNER_PW});
    assert_eq!(try_login(base.clone()), (401, "TOTP_REQUIRED".into()));
    // The code that enabled TOTP was used already: the same 30 s step is refused.
    let mut with = base.clone();
    with["totp"] = json!(first);
    assert_eq!(try_login(with.clone()), (401, "TOTP_REUSED".into()));
    clock.advance(chrono::Duration::seconds(30));
    with["totp"] = json!(insite::crypto::totp::current_code(&secret, now()).unwrap());
    assert_eq!(try_login(with.clone()).0, 200);
    assert_eq!(
        try_login(with.clone()),
        (401, "TOTP_REUSED".into()),
        "a code works once"
    );
    with["totp"] = json!("123456");
    assert_eq!(try_login(with).0, 401);

    let mut rec = base.clone();
    rec["recovery_code"] = json!(recovery[0]);
    assert_eq!(try_login(rec.clone()).0, 200);
    assert_eq!(try_login(rec).0, 401, "a recovery code works once");

    // Changing the password ends every session, this one included.
    let mut rec2 = base.clone();
    rec2["recovery_code"] = json!(recovery[1]);
    let res = c
        .post(s.url("/api/v1/auth/login"))
        .json(&rec2)
        .send()
        .unwrap();
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let csrf = res.json::<Value>().unwrap()["csrf_token"]
        .as_str()
        .unwrap()
        .to_string();
    let me = Session { cookie, csrf };
    let changed = post(
        &c,
        &s,
        &me,
        "/api/v1/me/password",
        json!({"current_password": OWNER_PW, "new_password": "marble-sunset-kettle"}),
    );
    assert_eq!(changed.status(), 200);
    assert_eq!(code(get(&c, &s, &me, "/api/v1/me")).0, 401);
}

#[test]
fn admin_recover_resets_a_locked_out_owner_from_the_shell() {
    let env = TestEnv::new(Backend::Sqlite);
    bootstrap(&env, "Acme", "owner@acme.test");
    let s = TestServer::start(env.config.clone());
    let c = client();
    for _ in 0..5 {
        let _ = login(&c, &s, "owner@acme.test", "not-the-password");
    }
    assert_eq!(
        login(&c, &s, "owner@acme.test", OWNER_PW).err().unwrap().1["error"]["code"],
        "AUTH_LOCKED"
    );
    let cfg = env.write_config();
    let mut child = crate::support::bin_command(
        &[
            "--config",
            cfg.to_str().unwrap(),
            "admin",
            "recover",
            "owner@acme.test",
            "--password-stdin",
        ],
        &[],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"marble-sunset-kettle\n")
        .unwrap();
    let out = crate::support::wait_output(child, std::time::Duration::from_secs(60));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let owner = login(&c, &s, "owner@acme.test", "marble-sunset-kettle").unwrap();
    let trail: Value = get(&c, &s, &owner, "/api/v1/audit?action=user.recover")
        .json()
        .unwrap();
    assert_eq!(trail["entries"].as_array().unwrap().len(), 1);
    assert!(trail["entries"][0]["actor"]
        .as_str()
        .unwrap()
        .starts_with("cli:"));
}

#[test]
fn org_requiring_totp_confines_unenrolled_members_and_members_can_be_removed() {
    let env = TestEnv::new(Backend::Sqlite);
    bootstrap(&env, "Acme", "owner@acme.test");
    let s = TestServer::start(env.config.clone());
    let c = client();
    let owner = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap();
    let added: Value = post(
        &c,
        &s,
        &owner,
        "/api/v1/users",
        json!({"email": "admin@acme.test", "role": "admin", "password": "violet-canyon-river"}),
    )
    .json()
    .unwrap();
    let admin_id = added["user_id"].as_str().unwrap().to_string();
    let require = |who: &Session| {
        c.patch(s.url("/api/v1/org"))
            .header("cookie", &who.cookie)
            .header("x-csrf-token", &who.csrf)
            .json(&json!({"require_totp": true}))
            .send()
            .unwrap()
    };
    assert_eq!(code(require(&owner)), (409, "TOTP_SELF_FIRST".into()));
    let setup: Value = totp_setup(&c, &s, &owner, OWNER_PW);
    let secret = setup["secret"].as_str().unwrap();
    let now = insite::clock::system().now().timestamp();
    let first = insite::crypto::totp::current_code(secret, now).unwrap();
    let enabled = post(
        &c,
        &s,
        &owner,
        "/api/v1/me/totp/enable",
        json!({"code": first}),
    );
    assert_eq!(enabled.status(), 200);
    let org: Value = require(&owner).json().unwrap();
    assert_eq!(org["require_totp"], true);

    let admin = login(&c, &s, "admin@acme.test", "violet-canyon-river").unwrap();
    assert_eq!(
        code(get(&c, &s, &admin, "/api/v1/users")),
        (403, "TOTP_ENROLLMENT_REQUIRED".into())
    );
    assert_eq!(
        get(&c, &s, &admin, "/api/v1/me").status(),
        200,
        "own account stays open to enrol"
    );
    assert_eq!(
        post(
            &c,
            &s,
            &admin,
            "/api/v1/me/totp/setup",
            json!({"password": "violet-canyon-river"})
        )
        .status(),
        200
    );

    // Removing a member ends their sessions in this organization.
    let removed = c
        .delete(s.url(&format!("/api/v1/users/{admin_id}")))
        .header("cookie", &owner.cookie)
        .header("x-csrf-token", &owner.csrf)
        .send()
        .unwrap();
    assert_eq!(removed.status(), 204);
    assert_eq!(code(get(&c, &s, &admin, "/api/v1/me")).0, 401);
    let owner_id = get(&c, &s, &owner, "/api/v1/me").json::<Value>().unwrap()["user_id"]
        .as_str()
        .unwrap()
        .to_string();
    let last = c
        .delete(s.url(&format!("/api/v1/users/{owner_id}")))
        .header("cookie", &owner.cookie)
        .header("x-csrf-token", &owner.csrf)
        .send()
        .unwrap();
    assert_eq!(code(last), (409, "LAST_OWNER".into()));
}

/// Roles decide what a member reads, not a conversation's agent field.
#[test]
fn an_auditor_named_as_a_conversations_agent_cannot_read_it() {
    let env = TestEnv::new(Backend::Sqlite);
    let (s, c, owner) = acme_owner(&env);
    let body =
        json!({"email": "dpo@acme.test", "role": "auditor", "password": "violet-canyon-river"});
    let added: Value = post(&c, &s, &owner, "/api/v1/users", body).json().unwrap();
    let auditor_id = added["user_id"].as_str().unwrap();
    let ticket = json!({"subject": "Refund", "agent_user_id": auditor_id, "messages": [
        {"author": "Ann", "role": "customer", "at": "2026-11-20T09:00:00Z", "text": "My refund is late."}]});
    let accepted = post(&c, &s, &owner, "/api/v1/tickets", ticket);
    assert_eq!(accepted.status(), 202);
    let accepted: Value = accepted.json().unwrap();
    let id = accepted["conversation_id"].as_str().unwrap();
    let auditor = login(&c, &s, "dpo@acme.test", "violet-canyon-river").unwrap();
    assert_eq!(
        code(get(
            &c,
            &s,
            &auditor,
            &format!("/api/v1/conversations/{id}")
        )),
        (403, "FORBIDDEN".into())
    );
    assert_eq!(
        code(get(&c, &s, &auditor, "/api/v1/conversations")),
        (403, "FORBIDDEN".into())
    );
    assert_eq!(
        get(&c, &s, &owner, &format!("/api/v1/conversations/{id}")).status(),
        200
    );
}

/// Deleting the newest entries, or an organization's whole chain, does not verify:
/// each chain has a recorded head, and every organization has a chain.
#[test]
fn audit_verify_detects_removed_newest_entries_and_removed_chains() {
    use diesel::prelude::*;
    use insite::store::schema::{audit_heads, audit_log, orgs};
    for backend in backends() {
        let env = TestEnv::new(backend);
        bootstrap(&env, "Acme", "owner@acme.test");
        let s = TestServer::start(env.config.clone());
        let c = client();
        for _ in 0..3 {
            let _ = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap();
        }
        let cfg = env.write_config();
        let verify = || run_bin(&["--config", cfg.to_str().unwrap(), "audit", "verify"], &[]);
        assert!(verify().status.success(), "{backend:?}");
        let pool = insite::store::open(&env.config).unwrap();
        let mut conn = pool.get().unwrap();
        let acme: String = orgs::table.select(orgs::id).first(&mut conn).unwrap();
        let newest: i64 = audit_log::table
            .filter(audit_log::chain.eq(&acme))
            .select(diesel::dsl::max(audit_log::seq))
            .first::<Option<i64>>(&mut conn)
            .unwrap()
            .unwrap();
        diesel::delete(
            audit_log::table
                .filter(audit_log::chain.eq(&acme))
                .filter(audit_log::seq.eq(newest)),
        )
        .execute(&mut conn)
        .unwrap();
        let bad = verify();
        assert_eq!(bad.status.code(), Some(1), "{backend:?}");
        assert!(
            last_line(&bad).contains("newest entries were removed"),
            "{}",
            last_line(&bad)
        );
        // Writing on does not hide the gap.
        let _ = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap();
        let bad = verify();
        assert_eq!(bad.status.code(), Some(1), "{backend:?}");
        assert!(
            last_line(&bad).contains("sequence gap"),
            "{}",
            last_line(&bad)
        );
        // The whole chain and its head gone: the organization has no chain.
        drop(s);
        diesel::delete(audit_log::table.filter(audit_log::chain.eq(&acme)))
            .execute(&mut conn)
            .unwrap();
        diesel::delete(audit_heads::table.filter(audit_heads::chain.eq(&acme)))
            .execute(&mut conn)
            .unwrap();
        let bad = verify();
        assert_eq!(bad.status.code(), Some(1), "{backend:?}");
        assert!(
            last_line(&bad).contains("no recorded head"),
            "{}",
            last_line(&bad)
        );
    }
}

/// An external id may carry personal data (a caller's number in a recorder's file
/// name); the audit log, which outlives erasure, names the conversation instead.
#[test]
fn the_audit_log_names_a_new_conversation_by_its_id_not_the_clients_external_id() {
    let env = TestEnv::new(Backend::Sqlite);
    let (s, c, owner) = acme_owner(&env);
    let ticket = json!({"subject": "Callback", "external_id": "call-from-447700900123", "messages": [
        {"author": "Ann", "role": "customer", "at": "2026-11-20T09:00:00Z", "text": "Please call me back."}]});
    let accepted: Value = post(&c, &s, &owner, "/api/v1/tickets", ticket)
        .json()
        .unwrap();
    let id = accepted["conversation_id"].as_str().unwrap();
    let export = get(&c, &s, &owner, "/api/v1/audit/export?format=jsonl")
        .text()
        .unwrap();
    assert!(!export.contains("447700900123"), "{export}");
    let created = export
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["action"] == "conversation.create")
        .expect("conversation.create is audited");
    assert_eq!(created["object_id"], id, "{created}");
}
