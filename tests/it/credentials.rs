//! Every place that takes a password is as strict as sign-in: parallel guesses stop at
//! the lockout, accepting an invitation with an existing account is no password
//! oracle, and a stolen session cannot change the second factor, mint tokens or guess
//! the current password without limit.

use crate::identity::{
    admin_token, bootstrap, code, get, login, login_with, post, totp_setup, Session, OWNER_PW,
};
use crate::invites::{link_in, token_of};
use crate::support::{backends, client, run_bin, Backend, TestEnv, TestServer};
use insite::clock::{Clock, ManualClock};
use serde_json::{json, Value};
use std::sync::Arc;

/// The audit trail of the caller's org: (action, outcome, actor) of every entry.
fn trail(
    c: &reqwest::blocking::Client,
    s: &TestServer,
    who: &Session,
) -> Vec<(String, String, String)> {
    let body: Value = get(c, s, who, "/api/v1/audit?limit=1000").json().unwrap();
    body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let field = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            (field("action"), field("outcome"), field("actor"))
        })
        .collect()
}

#[test]
fn parallel_wrong_passwords_stop_at_the_lockout_threshold() {
    for backend in backends() {
        let env = TestEnv::new(backend);
        bootstrap(&env, "Acme", "owner@acme.test");
        let clock = ManualClock::new(insite::clock::system().now());
        let s = TestServer::start_with_clock(env.config.clone(), Arc::new(clock.clone()));
        let base = s.base.clone();
        let guesses: Vec<_> = (0..20)
            .map(|n| {
                let base = base.clone();
                std::thread::spawn(move || {
                    let res = client()
                        .post(format!("{base}/api/v1/auth/login"))
                        .json(&json!({"email": "owner@acme.test", "password": format!("guess-number-{n}")}))
                        .send()
                        .unwrap();
                    let status = res.status().as_u16();
                    let body: Value = res.json().unwrap();
                    (status, body["error"]["code"].as_str().unwrap_or_default().to_string())
                })
            })
            .collect();
        let answers: Vec<(u16, String)> = guesses.into_iter().map(|t| t.join().unwrap()).collect();
        let wrong = answers.iter().filter(|a| a.1 == "AUTH_INVALID").count();
        let locked = answers.iter().filter(|a| a.1 == "AUTH_LOCKED").count();
        // Threshold 5: at most four answers say "wrong", the fifth check locks.
        assert!(
            wrong <= 4,
            "{backend:?}: {wrong} guesses checked: {answers:?}"
        );
        assert_eq!(wrong + locked, 20, "{backend:?}: {answers:?}");
        // Locked means locked, even with the right password.
        let c = client();
        assert_eq!(
            login(&c, &s, "owner@acme.test", OWNER_PW).err().unwrap().1["error"]["code"],
            "AUTH_LOCKED",
            "{backend:?}"
        );
        clock.advance(chrono::Duration::minutes(16));
        let owner = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap();
        let checked = trail(&c, &s, &owner)
            .iter()
            .filter(|(a, o, _)| a == "auth.login" && o == "failure")
            .count();
        assert!(
            (1..=5).contains(&checked),
            "{backend:?}: {checked} passwords compared before the lock"
        );
    }
}

/// `insite admin org create --org NAME --owner-email OWNER`.
fn run_org_create(env: &TestEnv, name: &str, owner: &str) -> std::process::Output {
    let cfg = env.write_config();
    let args = ["--config", cfg.to_str().unwrap(), "admin", "org", "create"];
    run_bin(
        &[&args[..], &["--org", name, "--owner-email", owner]].concat(),
        &[],
    )
}

/// Org B made the product's way: `insite admin org create` and the owner's invitation;
/// returns the invitation's secret.
fn create_org(env: &TestEnv, name: &str, owner: &str) -> String {
    let out = run_org_create(env, name, owner);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    token_of(link_in(&stdout))
}

fn accept(c: &reqwest::blocking::Client, s: &TestServer, body: Value) -> (u16, String) {
    code(
        c.post(s.url("/api/v1/invites/accept"))
            .json(&body)
            .send()
            .unwrap(),
    )
}

#[test]
fn a_second_org_is_created_from_the_shell_and_its_name_is_unique() {
    let env = TestEnv::new(Backend::Sqlite);
    bootstrap(&env, "Acme", "owner@acme.test");
    let token = create_org(&env, "Bank", "boss@bank.test");
    let again = run_org_create(&env, "Bank", "x@bank.test");
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("exists already"),
        "{again:?}"
    );
    let s = TestServer::start(env.config.clone());
    let c = client();
    assert_eq!(
        accept(
            &c,
            &s,
            json!({"token": token, "password": "ledger-quartz-meadow"})
        )
        .0,
        201
    );
    let boss = login(&c, &s, "boss@bank.test", "ledger-quartz-meadow").unwrap();
    let me: Value = get(&c, &s, &boss, "/api/v1/me").json().unwrap();
    assert_eq!(me["role"], "owner");
    let actions: Vec<String> = trail(&c, &s, &boss).into_iter().map(|t| t.0).collect();
    assert!(actions.contains(&"org.create".to_string()), "{actions:?}");
    // Tenants stay apart: Acme's owner sees no Bank member.
    let owner = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap();
    let users = get(&c, &s, &owner, "/api/v1/users").text().unwrap();
    assert!(!users.contains("boss@bank.test"), "{users}");

    // Adding Bank's owner to Acme directly is an invitation they accept, not a membership.
    let add = post(
        &c,
        &s,
        &owner,
        "/api/v1/users",
        json!({"email": "boss@bank.test", "role": "agent", "password": "acme-chosen-secret"}),
    );
    assert_eq!(add.status(), 202);
    let add: Value = add.json().unwrap();
    assert_eq!(add["invited"], true, "{add}");
    let users = get(&c, &s, &owner, "/api/v1/users").text().unwrap();
    assert!(!users.contains("boss@bank.test"), "{users}");
    assert_eq!(
        login(&c, &s, "boss@bank.test", "acme-chosen-secret")
            .err()
            .unwrap()
            .0,
        401,
        "the password Acme chose is not the account's"
    );
    login(&c, &s, "boss@bank.test", "ledger-quartz-meadow").expect("sign-in unchanged");
    let token = add["token"].as_str().unwrap();
    assert_eq!(
        accept(
            &c,
            &s,
            json!({"token": token, "password": "ledger-quartz-meadow"})
        )
        .0,
        201
    );
    // Two memberships: sign-in without "org" names them.
    let (status, body) = login(&c, &s, "boss@bank.test", "ledger-quartz-meadow")
        .err()
        .unwrap();
    assert_eq!(
        (status, body["error"]["code"].as_str().unwrap()),
        (422, "ORG_REQUIRED")
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("Acme") && message.contains("Bank"),
        "{message}"
    );
    let as_agent = login_with(
        &c,
        &s,
        json!({"email": "boss@bank.test", "password": "ledger-quartz-meadow", "org": "Acme"}),
    )
    .unwrap();
    let me: Value = get(&c, &s, &as_agent, "/api/v1/me").json().unwrap();
    assert_eq!(me["role"], "agent");
}

#[test]
fn accepting_an_invitation_with_an_existing_account_is_no_password_oracle() {
    let env = TestEnv::new(Backend::Sqlite);
    bootstrap(&env, "Acme", "owner@acme.test");
    let bank_token = create_org(&env, "Bank", "boss@bank.test");
    let clock = ManualClock::new(insite::clock::system().now());
    let s = TestServer::start_with_clock(env.config.clone(), Arc::new(clock.clone()));
    let c = client();
    let boss_pw = "ledger-quartz-meadow";
    assert_eq!(
        accept(&c, &s, json!({"token": bank_token, "password": boss_pw})).0,
        201
    );
    // Bank's owner protects the account with a second factor.
    let boss = login(&c, &s, "boss@bank.test", boss_pw).unwrap();
    let setup: Value = totp_setup(&c, &s, &boss, boss_pw);
    let secret = setup["secret"].as_str().unwrap().to_string();
    let totp_at = |clock: &ManualClock| {
        insite::crypto::totp::current_code(&secret, clock.now().timestamp()).unwrap()
    };
    let res = post(
        &c,
        &s,
        &boss,
        "/api/v1/me/totp/enable",
        json!({"code": totp_at(&clock)}),
    );
    assert_eq!(res.status(), 200);

    // Acme's owner invites Bank's owner, and holds the link.
    let owner = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap();
    let invite: Value = post(
        &c,
        &s,
        &owner,
        "/api/v1/invites",
        json!({"email": "boss@bank.test", "role": "agent"}),
    )
    .json()
    .unwrap();
    let token = invite["token"].as_str().unwrap().to_string();
    let fresh: Value = post(
        &c,
        &s,
        &owner,
        "/api/v1/invites",
        json!({"email": "newcomer@acme.test", "role": "agent"}),
    )
    .json()
    .unwrap();
    // The link's page is the same whether or not the e-mail has an account.
    let page = |t: &str| {
        c.get(s.url(&format!("/invite?token={t}")))
            .send()
            .unwrap()
            .text()
            .unwrap()
    };
    let existing = page(&token);
    let new = page(fresh["token"].as_str().unwrap());
    let mask = |p: &str, email: &str, t: &str| p.replace(email, "E").replace(t, "T");
    assert_eq!(
        mask(&existing, "boss@bank.test", &token),
        mask(&new, "newcomer@acme.test", fresh["token"].as_str().unwrap()),
        "the page tells whether the e-mail has an account"
    );

    // Guessing counts against the account's lockout and is audited.
    for n in 0..4 {
        let guess = format!("guess-number-{n}-x");
        assert_eq!(
            accept(&c, &s, json!({"token": token, "password": guess})),
            (401, "AUTH_INVALID".into())
        );
    }
    assert_eq!(
        accept(
            &c,
            &s,
            json!({"token": token, "password": "guess-number-5-x"})
        ),
        (429, "AUTH_LOCKED".into())
    );
    // Locked: the right password and code do not help, and sign-in is locked too.
    let code_now = totp_at(&clock);
    assert_eq!(
        accept(
            &c,
            &s,
            json!({"token": token, "password": boss_pw, "totp": code_now})
        )
        .1,
        "AUTH_LOCKED"
    );
    assert_eq!(
        login(&c, &s, "boss@bank.test", boss_pw).err().unwrap().1["error"]["code"],
        "AUTH_LOCKED"
    );
    let seen = trail(&c, &s, &owner);
    let refusals: Vec<_> = seen
        .iter()
        .filter(|(a, o, _)| a == "invite.accept" && o == "failure")
        .collect();
    assert_eq!(refusals.len(), 6, "{seen:?}");
    assert!(
        refusals.iter().all(|(_, _, actor)| actor == "anonymous"),
        "Acme's trail names Bank's owner: {refusals:?}"
    );

    // After the lock: the password alone is not enough; with the code it is.
    clock.advance(chrono::Duration::minutes(16));
    assert_eq!(
        accept(&c, &s, json!({"token": token, "password": boss_pw})),
        (401, "TOTP_REQUIRED".into())
    );
    let code_now = totp_at(&clock);
    assert_eq!(
        accept(
            &c,
            &s,
            json!({"token": token, "password": boss_pw, "totp": code_now})
        )
        .0,
        201
    );
    clock.advance(chrono::Duration::seconds(30));
    let code_now = totp_at(&clock);
    let joined = login_with(
        &c,
        &s,
        json!({"email": "boss@bank.test", "password": boss_pw, "org": "Acme", "totp": code_now}),
    )
    .unwrap();
    let me: Value = get(&c, &s, &joined, "/api/v1/me").json().unwrap();
    assert_eq!(me["role"], "agent");
}

#[test]
fn a_stolen_session_cannot_change_the_second_factor_mint_tokens_or_guess_the_password() {
    let env = TestEnv::new(Backend::Sqlite);
    bootstrap(&env, "Acme", "owner@acme.test");
    let api_token = admin_token(&env, "Acme", "admin");
    let clock = ManualClock::new(insite::clock::system().now());
    let s = TestServer::start_with_clock(env.config.clone(), Arc::new(clock.clone()));
    let c = client();
    let stolen = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap();

    // The cookie alone sets up no authenticator and creates no token.
    assert_eq!(
        code(post(&c, &s, &stolen, "/api/v1/me/totp/setup", json!({}))).0,
        422
    );
    assert_eq!(
        code(post(
            &c,
            &s,
            &stolen,
            "/api/v1/me/totp/setup",
            json!({"password": "wrong-guess-1"})
        )),
        (401, "AUTH_INVALID".into())
    );
    let new_token = |pw: &str| json!({"name": "ci", "role": "agent", "password": pw});
    assert_eq!(
        code(post(
            &c,
            &s,
            &stolen,
            "/api/v1/tokens",
            new_token("wrong-guess-2")
        )),
        (401, "AUTH_INVALID".into())
    );
    // An API token cannot mint tokens: nobody re-enters a password.
    let by_token = c
        .post(s.url("/api/v1/tokens"))
        .bearer_auth(&api_token)
        .json(&new_token(OWNER_PW))
        .send()
        .unwrap();
    assert_eq!(code(by_token), (403, "REAUTH_REQUIRED".into()));
    // The person who knows the password can.
    let made = post(&c, &s, &stolen, "/api/v1/tokens", new_token(OWNER_PW));
    assert_eq!(made.status(), 201);

    // With a second factor, its code is needed too.
    let setup: Value = totp_setup(&c, &s, &stolen, OWNER_PW);
    let secret = setup["secret"].as_str().unwrap().to_string();
    let code_at = |t: i64| insite::crypto::totp::current_code(&secret, t).unwrap();
    let now = clock.now().timestamp();
    assert_eq!(
        post(
            &c,
            &s,
            &stolen,
            "/api/v1/me/totp/enable",
            json!({"code": code_at(now)})
        )
        .status(),
        200
    );
    clock.advance(chrono::Duration::seconds(30));
    assert_eq!(
        code(post(
            &c,
            &s,
            &stolen,
            "/api/v1/me/totp/setup",
            json!({"password": OWNER_PW})
        )),
        (401, "TOTP_REQUIRED".into())
    );
    let res = post(
        &c,
        &s,
        &stolen,
        "/api/v1/tokens",
        json!({"name": "ci2", "role": "agent", "password": OWNER_PW, "code": code_at(now + 30)}),
    );
    assert_eq!(res.status(), 201);

    // Guessing the current password through the change form locks like sign-in.
    let change = |current: &str| {
        code(post(
            &c,
            &s,
            &stolen,
            "/api/v1/me/password",
            json!({"current_password": current, "new_password": "violet-canyon-river-9"}),
        ))
    };
    for n in 0..4 {
        assert_eq!(
            change(&format!("wrong-guess-{n}x")),
            (401, "AUTH_INVALID".into())
        );
    }
    assert_eq!(change("wrong-guess-5x"), (429, "AUTH_LOCKED".into()));
    assert_eq!(change(OWNER_PW).1, "AUTH_LOCKED");
}
