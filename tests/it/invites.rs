//! Invitations by one-time link, and the setup link of a password-less bootstrap,
//! tried as people would: through the link's page and through the API.

use crate::identity::{bootstrap, code, get, login, login_with, post, totp_setup, OWNER_PW};
use crate::support::{backends, client, run_bin, Backend, TestEnv, TestServer};
use insite::clock::ManualClock;
use reqwest::blocking::Client;
use serde_json::{json, Value};
use std::sync::Arc;

/// The secret inside an invitation link (`…/invite?token=inv_…`).
pub(crate) fn token_of(link: &str) -> String {
    link.split_once("/invite?token=")
        .unwrap_or_else(|| panic!("not an invitation link: {link}"))
        .1
        .to_string()
}

/// The link a command printed.
pub(crate) fn link_in(stdout: &str) -> &str {
    stdout
        .split_whitespace()
        .find(|w| w.starts_with("https://"))
        .unwrap_or_else(|| panic!("no link in: {stdout}"))
}

fn open_link(c: &Client, s: &TestServer, token: &str) -> (u16, String) {
    let res = c
        .get(s.url(&format!("/invite?token={token}")))
        .send()
        .unwrap();
    let status = res.status().as_u16();
    assert_eq!(res.headers()["referrer-policy"], "no-referrer");
    assert!(res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    (status, res.text().unwrap())
}

fn submit_form(c: &Client, s: &TestServer, fields: &[(&str, &str)]) -> (u16, String) {
    let res = c.post(s.url("/invite")).form(fields).send().unwrap();
    (res.status().as_u16(), res.text().unwrap())
}

#[test]
fn bootstrap_without_a_password_prints_a_setup_link_that_works_once() {
    let env = TestEnv::new(Backend::Sqlite);
    let cfg = env.write_config();
    let out = run_bin(
        &[
            "--config",
            cfg.to_str().unwrap(),
            "admin",
            "bootstrap",
            "--org",
            "Acme <Bank>",
            "--email",
            "Owner@Acme.test",
        ],
        &[],
    );
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let link = link_in(&stdout);
    assert!(link.contains("/invite?token=inv_"), "{link}");
    let token = token_of(link);

    let s = TestServer::start(env.config.clone());
    let c = client();
    // No account exists yet: nobody can sign in.
    assert_eq!(
        login(&c, &s, "owner@acme.test", OWNER_PW).err().unwrap().0,
        401
    );
    let (status, page) = open_link(&c, &s, &token);
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Acme &lt;Bank&gt;") && page.contains("owner"),
        "{page}"
    );
    assert!(!page.contains("<Bank>"), "names are escaped: {page}");

    let (status, page) = submit_form(
        &c,
        &s,
        &[
            ("token", &token),
            ("password", OWNER_PW),
            ("confirm", "something-else-1"),
        ],
    );
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("the two passwords differ"), "{page}");
    let (status, page) = submit_form(
        &c,
        &s,
        &[
            ("token", &token),
            ("password", "short"),
            ("confirm", "short"),
        ],
    );
    assert_eq!(status, 422);
    assert!(page.contains("at least 12 characters"), "{page}");

    let (status, page) = submit_form(
        &c,
        &s,
        &[
            ("token", &token),
            ("password", OWNER_PW),
            ("confirm", OWNER_PW),
        ],
    );
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("You are now a member"), "{page}");
    let owner = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap();
    let me: Value = get(&c, &s, &owner, "/api/v1/me").json().unwrap();
    assert_eq!(me["role"], "owner");

    let (status, page) = open_link(&c, &s, &token);
    assert_eq!(status, 410);
    assert!(page.contains("already used"), "{page}");
    let (status, page) = open_link(&c, &s, "inv_forged");
    assert_eq!(status, 410);
    assert!(page.contains("not valid"), "{page}");
    let trail: Value = get(&c, &s, &owner, "/api/v1/audit").json().unwrap();
    let actions: Vec<&str> = trail["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"org.bootstrap") && actions.contains(&"invite.accept"),
        "{actions:?}"
    );
}

/// The journey of the identity issue: bootstrap, sign in with 2FA, invite a user with a
/// role, see what that role may and may not do, read the audit trail of it all.
#[test]
fn invited_reviewer_joins_and_the_audit_trail_tells_the_story() {
    for backend in backends() {
        let env = TestEnv::new(backend);
        bootstrap(&env, "Acme", "owner@acme.test");
        let now = insite::clock::system().now();
        let clock = ManualClock::new(now);
        let s = TestServer::start_with_clock(env.config.clone(), Arc::new(clock.clone()));
        let c = client();
        let owner = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap();
        let setup: Value = totp_setup(&c, &s, &owner, OWNER_PW);
        let secret = setup["secret"].as_str().unwrap().to_string();
        let first = insite::crypto::totp::current_code(&secret, now.timestamp()).unwrap();
        let enabled = post(
            &c,
            &s,
            &owner,
            "/api/v1/me/totp/enable",
            json!({"code": first}),
        );
        assert_eq!(enabled.status(), 200, "{backend:?}");
        // Signing in now needs the second factor (a later time step: codes work once).
        assert_eq!(
            login(&c, &s, "owner@acme.test", OWNER_PW).err().unwrap().1["error"]["code"],
            "TOTP_REQUIRED"
        );
        clock.advance(chrono::Duration::seconds(30));
        let code_now = insite::crypto::totp::current_code(&secret, now.timestamp() + 30).unwrap();
        let owner = login_with(
            &c,
            &s,
            json!({"email": "owner@acme.test", "password": OWNER_PW, "totp": code_now}),
        )
        .unwrap();

        let created: Value = post(
            &c,
            &s,
            &owner,
            "/api/v1/invites",
            json!({"email": "Rita@Acme.test", "role": "reviewer"}),
        )
        .json()
        .unwrap();
        assert_eq!(created["invite"]["email"], "rita@acme.test", "{created}");
        assert_eq!(created["invite"]["role"], "reviewer");
        assert!(created["invite"].get("token_hash").is_none(), "{created}");
        let token = token_of(created["link"].as_str().unwrap());
        assert_eq!(created["token"], token.as_str());
        let pending: Value = get(&c, &s, &owner, "/api/v1/invites").json().unwrap();
        assert_eq!(pending["invites"].as_array().unwrap().len(), 1);
        assert!(
            !pending.to_string().contains(&token),
            "the secret is shown once"
        );

        let accept = |pw: &str| {
            c.post(s.url("/api/v1/invites/accept"))
                .json(&json!({"token": token, "password": pw}))
                .send()
                .unwrap()
        };
        assert_eq!(code(accept("rita")), (422, "PASSWORD_POLICY".into()));
        let joined = accept("marble-harbor-quiet");
        assert_eq!(joined.status(), 201, "{backend:?}");
        assert_eq!(
            code(accept("marble-harbor-quiet")),
            (410, "INVITE_UNUSABLE".into())
        );

        let rita = login(&c, &s, "rita@acme.test", "marble-harbor-quiet").unwrap();
        let me: Value = get(&c, &s, &rita, "/api/v1/me").json().unwrap();
        assert_eq!(me["role"], "reviewer");
        assert_eq!(
            code(get(&c, &s, &rita, "/api/v1/users")),
            (403, "FORBIDDEN".into())
        );
        assert_eq!(
            code(get(&c, &s, &rita, "/api/v1/audit")),
            (403, "FORBIDDEN".into())
        );
        assert_eq!(
            code(post(
                &c,
                &s,
                &rita,
                "/api/v1/invites",
                json!({"email": "x@acme.test", "role": "agent"})
            )),
            (403, "FORBIDDEN".into())
        );

        let trail: Value = get(&c, &s, &owner, "/api/v1/audit").json().unwrap();
        let seen: Vec<(String, String)> = trail["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["action"].as_str().unwrap().to_string(),
                    e["outcome"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        for expected in [
            ("org.bootstrap", "success"),
            ("auth.login", "failure"),
            ("auth.login", "success"),
            ("invite.create", "success"),
            ("invite.accept", "success"),
            ("access.denied", "denied"),
        ] {
            let hit = seen.iter().any(|(a, o)| a == expected.0 && o == expected.1);
            assert!(hit, "{backend:?} {expected:?} missing from {seen:?}");
        }
    }
}

#[test]
fn invitations_expire_can_be_withdrawn_and_respect_who_may_grant_what() {
    let env = TestEnv::new(Backend::Sqlite);
    bootstrap(&env, "Acme", "owner@acme.test");
    let start = insite::clock::system().now();
    let clock = ManualClock::new(start);
    let s = TestServer::start_with_clock(env.config.clone(), Arc::new(clock.clone()));
    let c = client();
    let owner = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap();
    let invite = |who: &crate::identity::Session, email: &str, role: &str| {
        post(
            &c,
            &s,
            who,
            "/api/v1/invites",
            json!({"email": email, "role": role}),
        )
    };
    assert_eq!(
        code(invite(&owner, "owner@acme.test", "agent")),
        (409, "CONFLICT".into())
    );
    assert_eq!(code(invite(&owner, "not-an-address", "agent")).0, 422);
    assert_eq!(code(invite(&owner, "x@acme.test", "root")).0, 422);

    let admin: Value = invite(&owner, "admin@acme.test", "admin").json().unwrap();
    let admin_token = token_of(admin["link"].as_str().unwrap());
    let res = c
        .post(s.url("/api/v1/invites/accept"))
        .json(&json!({"token": admin_token, "password": "violet-canyon-river"}))
        .send()
        .unwrap();
    assert_eq!(res.status(), 201);
    let admin = login(&c, &s, "admin@acme.test", "violet-canyon-river").unwrap();
    assert_eq!(
        code(invite(&admin, "o2@acme.test", "owner")),
        (403, "FORBIDDEN".into()),
        "only owners make owners"
    );

    let withdrawn: Value = invite(&admin, "w@acme.test", "agent").json().unwrap();
    let id = withdrawn["invite"]["id"].as_str().unwrap();
    let res = c
        .delete(s.url(&format!("/api/v1/invites/{id}")))
        .header("cookie", &admin.cookie)
        .header("x-csrf-token", &admin.csrf)
        .send()
        .unwrap();
    assert_eq!(res.status(), 204);
    let (status, page) = open_link(&c, &s, &token_of(withdrawn["link"].as_str().unwrap()));
    assert_eq!(status, 410);
    assert!(page.contains("withdrawn"), "{page}");

    let late: Value = invite(&admin, "late@acme.test", "agent").json().unwrap();
    clock.advance(chrono::Duration::hours(73));
    let (status, page) = open_link(&c, &s, &token_of(late["link"].as_str().unwrap()));
    assert_eq!(status, 410);
    assert!(page.contains("expired"), "{page}");
}
