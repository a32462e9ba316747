//! Recording-storage connectors against real stores on 127.0.0.1: moto's S3 (IAM keys,
//! SigV4 checked) and OpenSSH's sshd (SFTP, pinned host key). Each recording arrives
//! once across syncs and a restart, sidecars and file names give its metadata, a bad
//! sidecar is reported by name, and wrong credentials or host keys say what to fix.

use crate::fake_saas::Tls;
use crate::fake_stores::{Moto, Sshd};
use crate::identity::{get, login, post, Session, OWNER_PW};
use crate::integrations::{
    create, env_with_ca, integration, owner_of, settled, test_connection, wait_until,
};
use crate::support::{backends, client, fixture, TestServer};
use reqwest::blocking::Client;
use serde_json::{json, Value};
use std::path::Path;

/// SFTP file names carry the agent's e-mail. (moto checks signatures against the
/// decoded query and path, so a key holding `@` or `+`, or a prefix holding `/`,
/// fails there though AWS takes it: the S3 names and prefix do without.)
const PATTERN: &str = r"^(?P<started_at>\d{8}-\d{6})_(?P<direction>in|out)_(?P<agent_email>[^_]+)_(?P<customer_phone>\+?\d+)\.wav$";

const S3_PATTERN: &str =
    r"^(?P<started_at>\d{8}-\d{6})_(?P<direction>in|out)_(?P<customer_phone>\d+)\.wav$";

fn conversations(c: &Client, s: &TestServer, owner: &Session, source: &str) -> Vec<Value> {
    let list: Value = get(
        c,
        s,
        owner,
        &format!("/api/v1/conversations?source={source}&limit=100"),
    )
    .json()
    .unwrap();
    list["conversations"].as_array().unwrap().clone()
}

/// Asks for a sync and waits until it has run; its health.
fn sync_now(c: &Client, s: &TestServer, owner: &Session, id: &str) -> Value {
    let before = integration(c, s, owner, id)["health"]["last_run_at"].clone();
    let res = post(
        c,
        s,
        owner,
        &format!("/api/v1/integrations/{id}/sync"),
        json!({}),
    );
    assert_eq!(res.status(), 202);
    wait_until("the requested sync", || {
        let h = integration(c, s, owner, id)["health"].clone();
        let run = h["last_run_at"].as_str()?;
        let ended = [&h["last_success_at"], &h["last_error_at"]]
            .iter()
            .any(|t| t.as_str().is_some_and(|t| t >= run));
        (h["state"] != "syncing" && h["last_run_at"] != before && ended).then_some(h)
    })
}

/// The outbound log of one integration, as the API shows it.
fn egress_log(c: &Client, s: &TestServer, owner: &Session, id: &str) -> Vec<Value> {
    let log: Value = get(
        c,
        s,
        owner,
        &format!("/api/v1/egress-log?integration_id={id}&limit=500"),
    )
    .json()
    .unwrap();
    log["calls"].as_array().unwrap().clone()
}

fn count_paths(log: &[Value], ending: &str) -> usize {
    log.iter()
        .filter(|c| c["path"].as_str().unwrap_or_default().ends_with(ending))
        .count()
}

fn owner_id(c: &Client, s: &TestServer, owner: &Session) -> String {
    get(c, s, owner, "/api/v1/me").json::<Value>().unwrap()["user_id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn s3_bucket_recordings_arrive_once_with_their_metadata() {
    for backend in backends() {
        let tls = Tls::new();
        let moto = Moto::start(&tls, "calls");
        let (speech, stereo) = (fixture("speech.wav"), fixture("call-stereo.wav"));
        let (speech, stereo) = (speech.as_path(), stereo.as_path());
        let tmp = tempfile::tempdir().unwrap();
        let board = write(
            tmp.path(),
            "board.json",
            r#"{"direction": "outbound", "tags": ["board"], "channels": ["agent", "customer"],
              "participants": [{"role": "agent", "email": "owner@acme.test"}]}"#,
        );
        let bad = write(tmp.path(), "bad.json", r#"{"colour": "blue"}"#);
        let notes = write(tmp.path(), "notes.txt", "not a recording");
        let mapped = "calls/20261130-141500_in_15551234567.wav";
        let (mulaw, jfk) = (fixture("speech-mulaw.wav"), fixture("jfk.wav"));
        moto.put(&[
            (mapped, speech),
            ("calls/2026/board call.wav", stereo),
            ("calls/2026/board call.json", &board),
            // The same bytes again under another name: one conversation, read once.
            ("calls/copy-of-board.wav", stereo),
            ("calls/bad.wav", &mulaw),
            ("calls/bad.json", &bad),
            ("calls/notes.txt", &notes),
            ("elsewhere/outside.wav", speech),
        ]);
        let env = env_with_ca(backend, &tls);
        let c = client();
        let s = TestServer::start(env.config.clone());
        let owner = owner_of(&c, &s);
        let settings = json!({"bucket": "calls", "endpoint": moto.url(), "prefix": "calls",
            "filename_pattern": S3_PATTERN});

        // A wrong secret: S3 refuses the signature, and the message says which field.
        let wrong = create(
            &c,
            &s,
            &owner,
            json!({"kind": "s3", "name": "Wrong secret", "settings": settings,
            "credentials": {"access_key_id": moto.key_id, "secret_access_key": "not-the-secret"}}),
        );
        let tested = test_connection(&c, &s, &owner, &wrong);
        assert_eq!(tested["ok"], false, "{tested}");
        assert!(
            tested["message"]
                .as_str()
                .unwrap()
                .contains("secret_access_key is wrong"),
            "{tested}"
        );
        let h = settled(&c, &s, &owner, &wrong, "error");
        assert!(
            h["last_error"]
                .as_str()
                .unwrap()
                .contains("SignatureDoesNotMatch"),
            "{h}"
        );
        let del = c
            .delete(s.url(&format!("/api/v1/integrations/{wrong}")))
            .header("cookie", &owner.cookie)
            .header("x-csrf-token", &owner.csrf)
            .send()
            .unwrap();
        assert_eq!(del.status(), 204);
        assert!(conversations(&c, &s, &owner, "s3").is_empty());

        // The right key: two recordings arrive; the one with a bad sidecar is named.
        let id = create(
            &c,
            &s,
            &owner,
            json!({"kind": "s3", "name": "Recorder bucket", "settings": settings,
            "credentials": {"access_key_id": moto.key_id, "secret_access_key": moto.secret}}),
        );
        let tested = test_connection(&c, &s, &owner, &id);
        assert_eq!(tested["ok"], true, "{tested}");
        assert!(
            tested["message"]
                .as_str()
                .unwrap()
                .contains("listed bucket calls"),
            "{tested}"
        );
        let h = settled(&c, &s, &owner, &id, "error");
        let error = h["last_error"].as_str().unwrap();
        assert!(error.contains("1 recording(s) skipped"), "{h}");
        assert!(
            error.contains("s3://calls/calls/bad.wav") && error.contains("colour"),
            "{h}"
        );
        assert_eq!(h["items_fetched"], 2, "{h}");
        let convs = conversations(&c, &s, &owner, "s3");
        assert_eq!(convs.len(), 2, "{convs:?}");
        // The file name's fields: time and direction.
        let inbound = convs
            .iter()
            .find(|v| v["direction"] == "inbound")
            .expect("the mapped call");
        assert_eq!(
            inbound["started_at"], "2026-11-30T14:15:00+00:00",
            "{inbound}"
        );
        assert!(inbound["agent_user_id"].is_null(), "{inbound}");
        // The sidecar's fields: direction, the stereo channels, the agent (a member,
        // found by e-mail).
        let outbound = convs
            .iter()
            .find(|v| v["direction"] == "outbound")
            .expect("the sidecar call");
        assert_eq!(
            outbound["channels"],
            json!(["agent", "customer"]),
            "{outbound}"
        );
        assert_eq!(
            outbound["agent_user_id"],
            owner_id(&c, &s, &owner).as_str(),
            "{outbound}"
        );
        // The key (with the customer's number) is not stored in the clear.
        for v in &convs {
            let ext = v["external_id"].as_str().unwrap();
            assert!(ext.starts_with("s3:") && !ext.contains("555"), "{v}");
        }

        // The sidecar is fixed and a new call lands: the next sync takes both, and
        // reads nothing it imported before.
        let fixed = write(
            tmp.path(),
            "fixed.json",
            r#"{"language": "en", "tags": ["fixed"]}"#,
        );
        moto.put(&[("calls/bad.json", &fixed), ("calls/late.wav", &jfk)]);
        let h = sync_now(&c, &s, &owner, &id);
        assert_eq!(h["state"], "ok", "{h}");
        assert_eq!(h["items_fetched"], 4, "{h}");
        let log = egress_log(&c, &s, &owner, &id);
        assert_eq!(
            count_paths(&log, "/calls/2026/board%20call.wav"),
            1,
            "{log:?}"
        );
        // bad.wav was not read while its sidecar was refused; its sidecar was, twice.
        assert_eq!(count_paths(&log, "/calls/bad.wav"), 1, "{log:?}");
        assert_eq!(count_paths(&log, "/calls/bad.json"), 2, "{log:?}");
        assert_eq!(
            count_paths(&log, "/outside.wav") + count_paths(&log, "notes.txt"),
            0
        );
        let text = serde_json::to_string(&log).unwrap();
        assert!(
            !text.contains(&moto.secret) && !text.contains("Signature="),
            "{text}"
        );

        // After a restart, a sync finds nothing new and fetches no recording again.
        drop(s);
        let s = TestServer::start(env.config.clone());
        let owner = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap();
        let h = sync_now(&c, &s, &owner, &id);
        assert_eq!(
            (h["state"].as_str(), h["items_fetched"].as_i64()),
            (Some("ok"), Some(4))
        );
        let convs = conversations(&c, &s, &owner, "s3");
        let mut ids: Vec<&str> = convs
            .iter()
            .map(|v| v["external_id"].as_str().unwrap())
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!((convs.len(), ids.len()), (4, 4), "{convs:?}");
        let log = egress_log(&c, &s, &owner, &id);
        assert_eq!(count_paths(&log, "/copy-of-board.wav"), 1, "{log:?}");
        assert_eq!(count_paths(&log, ".wav"), 5, "{log:?}");
    }
}

/// Dates a file's last change back to 2023 (long settled).
fn age(path: &Path) {
    let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    let file = std::fs::File::options().append(true).open(path).unwrap();
    file.set_modified(when).unwrap();
}

#[test]
fn sftp_folder_recordings_arrive_once_and_the_host_key_is_pinned() {
    for backend in backends() {
        let tls = Tls::new();
        let sshd = Sshd::start();
        let exports = sshd.dir.path().join("exports");
        std::fs::create_dir_all(exports.join("2026-11")).unwrap();
        let mapped = exports.join("20261130-141500_out_owner@acme.test_+15551234567.wav");
        let nested = exports.join("2026-11/queue-7.wav");
        let fresh = exports.join("still-writing.wav");
        // Three different recordings (the same bytes twice would be one conversation).
        for (p, f) in [
            (&mapped, "speech.wav"),
            (&nested, "speech-mulaw.wav"),
            (&fresh, "jfk.wav"),
        ] {
            std::fs::copy(fixture(f), p).unwrap();
        }
        std::fs::write(
            exports.join("2026-11/queue-7.json"),
            r#"{"team": "billing"}"#,
        )
        .unwrap();
        age(&mapped);
        age(&nested);
        let env = env_with_ca(backend, &tls);
        let c = client();
        let s = TestServer::start(env.config.clone());
        let owner = owner_of(&c, &s);
        let settings = |fingerprint: &str| {
            json!({"host": "127.0.0.1", "port": sshd.port, "username": sshd.user,
            "path": exports.display().to_string(), "host_key_sha256": fingerprint,
            "recursive": true, "settle_seconds": 120, "filename_pattern": PATTERN})
        };
        let creds = json!({"private_key": sshd.client_key});

        // A host key other than the pinned one: refused, naming the key presented.
        let wrong = create(
            &c,
            &s,
            &owner,
            json!({"kind": "sftp", "name": "Wrong key", "settings": settings(&sshd.other_fingerprint),
            "credentials": creds}),
        );
        let tested = test_connection(&c, &s, &owner, &wrong);
        assert_eq!(tested["ok"], false, "{tested}");
        let message = tested["message"].as_str().unwrap();
        assert!(
            message.contains(&sshd.host_key_sha256) && message.contains("host_key_sha256"),
            "{message}\n{}",
            sshd.log()
        );
        settled(&c, &s, &owner, &wrong, "error");
        assert!(conversations(&c, &s, &owner, "sftp").is_empty());

        // The pinned key: the two settled files arrive; the one still changing waits.
        let id = create(
            &c,
            &s,
            &owner,
            json!({"kind": "sftp", "name": "Recorder share", "settings": settings(&sshd.host_key_sha256),
            "credentials": creds}),
        );
        let tested = test_connection(&c, &s, &owner, &id);
        assert_eq!(tested["ok"], true, "{tested}\n{}", sshd.log());
        assert!(
            tested["message"].as_str().unwrap().contains("signed in"),
            "{tested}"
        );
        let h = settled(&c, &s, &owner, &id, "ok");
        assert_eq!(h["items_fetched"], 2, "{h}");
        let convs = conversations(&c, &s, &owner, "sftp");
        assert_eq!(convs.len(), 2, "{convs:?}");
        let mapped_call = convs
            .iter()
            .find(|v| v["direction"] == "outbound")
            .expect("mapped");
        assert_eq!(
            mapped_call["agent_user_id"],
            owner_id(&c, &s, &owner).as_str()
        );

        // Once the file has settled, the next sync takes it, and only it.
        age(&fresh);
        let h = sync_now(&c, &s, &owner, &id);
        assert_eq!(
            (h["state"].as_str(), h["items_fetched"].as_i64()),
            (Some("ok"), Some(3)),
            "{h}"
        );
        let h = sync_now(&c, &s, &owner, &id);
        assert_eq!(h["items_fetched"], 3, "{h}");
        let log = egress_log(&c, &s, &owner, &id);
        for file in ["+15551234567.wav", "queue-7.wav", "still-writing.wav"] {
            assert_eq!(count_paths(&log, file), 1, "{file} read once: {log:?}");
        }
        assert!(log
            .iter()
            .any(|e| e["method"] == "SSH" && e["outcome"] == "success"));
        let text = serde_json::to_string(&log).unwrap();
        assert!(!text.contains("PRIVATE KEY"), "{text}");
        assert_eq!(conversations(&c, &s, &owner, "sftp").len(), 3);

        // The customer of the mapped call is erased: the next sync does not bring the
        // call back from the share (the file is not read again).
        let call = mapped_call["id"].as_str().unwrap().to_string();
        wait_until("the mapped call processed", || {
            let v: Value = get(&c, &s, &owner, &format!("/api/v1/conversations/{call}"))
                .json()
                .ok()?;
            (v["state"] == "ready").then_some(())
        });
        let found: Value = get(&c, &s, &owner, "/api/v1/subjects?phone=%2B15551234567")
            .json()
            .unwrap();
        let subject = found["subjects"][0]["id"]
            .as_str()
            .expect("the caller's subject");
        let res = post(
            &c,
            &s,
            &owner,
            &format!("/api/v1/subjects/{subject}/requests"),
            json!({"kind": "erasure", "requester": "the caller", "erase_mode": "delete"}),
        );
        let erased: Value = res.json().unwrap();
        assert_eq!(erased["state"], "done", "{erased}");
        assert_eq!(
            erased["result"]["conversations_deleted"],
            json!([call]),
            "{erased}"
        );
        let h = sync_now(&c, &s, &owner, &id);
        assert_eq!(
            (h["state"].as_str(), h["items_fetched"].as_i64()),
            (Some("ok"), Some(3)),
            "{h}"
        );
        let left = conversations(&c, &s, &owner, "sftp");
        assert!(
            left.len() == 2 && left.iter().all(|v| v["id"] != call.as_str()),
            "{left:?}"
        );
        let log = egress_log(&c, &s, &owner, &id);
        assert_eq!(count_paths(&log, "+15551234567.wav"), 1, "{log:?}");
    }
}
