//! Encryption at rest over the real server and binary: nothing customer-related is
//! readable in the database file or the blob store; tampering is reported, never
//! returned; a missing, wrong or too-open master key refuses the start; key rotation
//! and crypto-shredding; backup and restore.

use crate::identity::{
    bootstrap, code, get, login, post, text_analysis_off, totp_setup, Session, OWNER_PW,
};
use crate::pipeline::{upload, wait_job};
use crate::support::{backends, client, fixture, last_line, run_bin, Backend, TestEnv, TestServer};
use diesel::{Connection, RunQueryDsl};
use reqwest::blocking::Client;
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const SECRET_WORDS: &str = "Quarterly zeppelin invoice";
const OAUTH_TOKEN: &str = "ya29.a0AfB-oauth-SECRET-7c1e";

fn ticket() -> Value {
    json!({
        "external_id": "T-7-Quokkaville",
        "subject": "Zeppelin invoice question",
        "participants": [{"name": "Winifred Oddlyname", "email": "winifred@example.org", "phone": "+44 20 7946 0001"}],
        "messages": [
            {"author": "Winifred", "role": "customer", "at": "2026-11-20T09:00:00Z",
             "text": format!("{SECRET_WORDS} please. My mail is winifred@example.org")},
            {"author": "Sam", "role": "agent", "at": "2026-11-20T09:05:00Z",
             "text": "Certainly, the marmalade department will answer."}
        ]
    })
}

/// Org "Acme" with its owner, a started server, a client and the owner signed in; the
/// org's text analysis is on (its LLM output is among what must be sealed).
fn started_analysing(env: &TestEnv) -> (TestServer, Client, Session) {
    bootstrap(env, "Acme", "owner@acme.test");
    let s = TestServer::start(env.config.clone());
    let c = client();
    let owner = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap();
    (s, c, owner)
}

/// As `started_analysing`, with the org's text analysis off (these tests are about
/// keys and stored bytes, not about what the LLM says).
fn started(env: &TestEnv) -> (TestServer, Client, Session) {
    let (s, c, owner) = started_analysing(env);
    text_analysis_off(&c, &s.base, &owner);
    (s, c, owner)
}

/// Adds a Zendesk integration with an OAuth token; returns its id.
fn add_integration(c: &Client, s: &TestServer, owner: &Session) -> String {
    let res = post(
        c,
        s,
        owner,
        "/api/v1/integrations",
        json!({"kind": "zendesk", "name": "Zendesk main", "settings": {"base_url": "https://127.0.0.1:9"},
            "credentials": {"oauth_token": OAUTH_TOKEN}}),
    );
    assert_eq!(res.status(), 201);
    let body: Value = res.json().unwrap();
    assert_eq!(body["credentials_set"], json!(["oauth_token"]));
    assert!(!body.to_string().contains(OAUTH_TOKEN), "{body}");
    body["id"].as_str().unwrap().to_string()
}

/// The opened credentials of an integration, read as its connector would.
fn credentials_of(env: &TestEnv, integration: &str) -> Option<String> {
    let pool = insite::store::open(&env.config).unwrap();
    let mut conn = pool.get().unwrap();
    let keyring =
        insite::server::open_keyring(&env.config, &pool, insite::clock::system()).unwrap();
    let org = insite::store::identity::org_by_name(&mut conn, "Acme")
        .unwrap()
        .unwrap();
    let cipher = keyring.for_org(&mut conn, &org.id).unwrap();
    insite::store::integrations::credentials(&mut conn, &cipher, integration).unwrap()
}

/// Ingests the ticket and a stereo call and waits for both; returns their ids.
fn populate(c: &Client, s: &TestServer, owner: &Session) -> (String, String) {
    add_integration(c, s, owner);
    let res = post(c, s, owner, "/api/v1/tickets", ticket());
    assert_eq!(res.status(), 202);
    let t: Value = res.json().unwrap();
    let meta = json!({"external_id": "call-9-Wolfgangsee", "channels": ["Ottoline Agent", "Peregrin Customer"], "language": "en",
        "team": "Team Vexillology", "tags": ["tag-Ptarmigan"],
        "participants": [{"name": "Bartholomew Quince", "email": "bart@example.net"}]});
    let res = upload(c, &s.base, owner, &fixture("call-stereo.wav"), meta);
    assert_eq!(res.status(), 202);
    let a: Value = res.json().unwrap();
    for v in [&t, &a] {
        let job = wait_job(c, &s.base, owner, v["job_id"].as_str().unwrap());
        assert_eq!(job["state"], "done", "{job}");
    }
    (
        t["conversation_id"].as_str().unwrap().to_string(),
        a["conversation_id"].as_str().unwrap().to_string(),
    )
}

fn conversation(c: &Client, s: &TestServer, who: &Session, id: &str) -> Value {
    let res = get(c, s, who, &format!("/api/v1/conversations/{id}"));
    assert_eq!(res.status(), 200);
    res.json().unwrap()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.path().is_dir() {
                out.extend(files_under(&e.path()));
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

fn count(c: &Client, s: &TestServer, who: &Session, query: &str) -> usize {
    let list: Value = get(c, s, who, &format!("/api/v1/conversations?{query}"))
        .json()
        .unwrap();
    list["conversations"].as_array().unwrap().len()
}

#[test]
fn the_database_file_and_blob_store_hold_no_plaintext_and_search_still_works() {
    let env = TestEnv::new(Backend::Sqlite);
    let (s, c, owner) = started_analysing(&env);
    let totp: Value = totp_setup(&c, &s, &owner, OWNER_PW);
    let totp_secret = totp["secret"].as_str().unwrap().to_string();
    let (ticket_id, call_id) = populate(&c, &s, &owner);
    // A legal hold's reason may name people and matters.
    let res = post(
        &c,
        &s,
        &owner,
        "/api/v1/legal-holds",
        json!({"scope": "org", "reason": "Litigation Xanthippe v. Acme"}),
    );
    assert_eq!(res.status(), 201);
    let holds: Value = get(&c, &s, &owner, "/api/v1/legal-holds").json().unwrap();
    assert_eq!(
        holds["holds"][0]["reason"], "Litigation Xanthippe v. Acme",
        "{holds}"
    );
    let call = conversation(&c, &s, &owner, &call_id);
    // Speaker names and the external id read back in clear through the API ...
    assert_eq!(call["external_id"], "call-9-Wolfgangsee", "{call}");
    assert_eq!(
        call["channels"],
        json!(["Ottoline Agent", "Peregrin Customer"])
    );
    let speakers: std::collections::BTreeSet<&str> = call["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|seg| seg["speaker"].as_str().unwrap())
        .collect();
    assert!(speakers.contains("Ottoline Agent"), "{speakers:?}");
    assert!(
        call["metrics"].to_string().contains("Peregrin Customer"),
        "{call}"
    );
    // ... and other content under the same external id is still that conversation.
    let res = upload(
        &c,
        &s.base,
        &owner,
        &fixture("speech.wav"),
        json!({"external_id": "call-9-Wolfgangsee"}),
    );
    assert_eq!(res.status(), 202);
    let again: Value = res.json().unwrap();
    assert_eq!(
        (
            again["duplicate"].as_bool(),
            again["conversation_id"].as_str()
        ),
        (Some(true), Some(call_id.as_str()))
    );
    let said: Vec<String> = call["segments"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|seg| {
            seg["text"]
                .as_str()
                .unwrap()
                .split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).to_string())
        .filter(|w| w.len() >= 6)
        .collect();
    assert!(!said.is_empty(), "the call was transcribed: {call}");
    let ticket = conversation(&c, &s, &owner, &ticket_id);
    assert_eq!(
        ticket["metadata"]["participants"][0]["email"],
        "winifred@example.org"
    );
    // The LLM's summary of the ticket is customer data too: it must be sealed.
    let analysis: Value = get(
        &c,
        &s,
        &owner,
        &format!("/api/v1/conversations/{ticket_id}/analysis"),
    )
    .json()
    .unwrap();
    assert_eq!(analysis["state"], "done", "{analysis}");
    let summary = analysis["overview"]["summary"].as_str().unwrap().trim();
    assert!(summary.len() >= 6, "{analysis}");

    // Exact-term and participant search through the blind index.
    for (query, want) in [
        ("q=zeppelin", 1),
        ("q=ZEPPELIN%20marmalade", 1),
        ("q=zeppelin%20nowhere", 0),
        ("q=zeppel", 0),
        ("participant=Winifred@Example.org", 1),
        ("participant=%2B44%2020%207946%200001", 1),
        ("participant=bart@example.net", 1),
        ("participant=nobody@example.net", 0),
    ] {
        assert_eq!(count(&c, &s, &owner, query), want, "{query}");
    }
    let first = said[0].to_lowercase();
    assert_eq!(count(&c, &s, &owner, &format!("q={first}")), 1, "{first}");

    drop(s);
    let mut needles: Vec<String> = vec![
        "Quarterly".into(),
        "zeppelin".into(),
        "Zeppelin".into(),
        "marmalade".into(),
        "winifred@example.org".into(),
        "Oddlyname".into(),
        "20 7946 0001".into(),
        "bart@example.net".into(),
        "Bartholomew".into(),
        "Ottoline".into(),
        "Peregrin".into(),
        "Wolfgangsee".into(),
        "Quokkaville".into(),
        "Xanthippe".into(),
        "Vexillology".into(),
        "Ptarmigan".into(),
        totp_secret,
        OAUTH_TOKEN.into(),
        "oauth-SECRET".into(),
        "RIFF".into(),
        "WAVE".into(),
    ];
    needles.extend(said);
    needles.push(summary.to_string());
    let mut files = files_under(&env.config.data_dir.join("blobs"));
    assert!(files.len() >= 2, "blobs stored: {files:?}");
    files.extend(
        ["insite.db", "insite.db-wal"]
            .iter()
            .map(|f| env.config.data_dir.join(f)),
    );
    for file in files {
        let bytes = std::fs::read(&file).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        for n in &needles {
            assert!(
                !text.contains(n.as_str()),
                "{n:?} readable in {}",
                file.display()
            );
        }
    }
}

/// Runs SQL on the SQLite file directly, as someone with the file would.
fn sql(env: &TestEnv, statement: &str) {
    let path = env.config.data_dir.join("insite.db");
    let mut conn = diesel::SqliteConnection::establish(&path.display().to_string()).unwrap();
    diesel::sql_query(statement).execute(&mut conn).unwrap();
}

#[test]
fn tampered_values_and_blobs_are_refused_with_a_clear_error() {
    let env = TestEnv::new(Backend::Sqlite);
    let (s, c, owner) = started(&env);
    let res = post(&c, &s, &owner, "/api/v1/tickets", ticket());
    let t: Value = res.json().unwrap();
    let job = wait_job(&c, &s.base, &owner, t["job_id"].as_str().unwrap());
    assert_eq!(job["state"], "done");
    let id = t["conversation_id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/conversations/{id}");
    assert_eq!(get(&c, &s, &owner, &path).status(), 200);

    // A segment's ciphertext moved into another row: bound to its row, so refused.
    sql(&env, &format!("UPDATE segments SET text = (SELECT text FROM segments WHERE conversation_id = '{id}' AND seq = 1) WHERE conversation_id = '{id}' AND seq = 0"));
    let res = get(&c, &s, &owner, &path);
    let status = res.status().as_u16();
    let body: Value = res.json().unwrap();
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (500, Some("DATA_INTEGRITY")),
        "{body}"
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("segments.text") && message.contains("altered"),
        "{message}"
    );
    assert!(
        !message.contains("marmalade") && !message.contains("zeppelin"),
        "{message}"
    );

    // Plaintext written into the column is not served either.
    sql(
        &env,
        &format!("UPDATE segments SET text = 'injected words' WHERE conversation_id = '{id}'"),
    );
    let (status, code_) = code(get(&c, &s, &owner, &path));
    assert_eq!((status, code_.as_str()), (500, "DATA_INTEGRITY"));

    let mut second = ticket();
    second["subject"] = json!("Second ticket");
    second["external_id"] = json!("T-8");
    second["messages"][0]["text"] = json!("A different question about the same invoice.");
    assert_eq!(
        post(&c, &s, &owner, "/api/v1/tickets", second).status(),
        202
    );

    // A flipped character in the metadata's ciphertext (its nonce is at the start).
    let mut conn = diesel::SqliteConnection::establish(
        &env.config.data_dir.join("insite.db").display().to_string(),
    )
    .unwrap();
    #[derive(diesel::QueryableByName)]
    struct Meta {
        #[diesel(sql_type = diesel::sql_types::Text)]
        metadata: String,
    }
    let row: Meta = diesel::sql_query(format!(
        "SELECT metadata FROM conversations WHERE id = '{id}'"
    ))
    .get_result(&mut conn)
    .unwrap();
    let mut chars: Vec<char> = row.metadata.chars().collect();
    chars[12] = if chars[12] == 'A' { 'B' } else { 'A' };
    let altered: String = chars.into_iter().collect();
    diesel::sql_query(format!(
        "UPDATE conversations SET metadata = '{altered}' WHERE id = '{id}'"
    ))
    .execute(&mut conn)
    .unwrap();
    // The list shows what can be read and marks the damaged item.
    let list: Value = get(&c, &s, &owner, "/api/v1/conversations").json().unwrap();
    let items = list["conversations"].as_array().unwrap();
    let damaged: Vec<&Value> = items.iter().filter(|i| i["damaged"] == true).collect();
    assert_eq!(damaged.len(), 1, "{list}");
    assert_eq!(damaged[0]["id"], id.as_str());
    assert!(
        items
            .iter()
            .any(|i| i["damaged"] == false && i["subject"] == "Second ticket"),
        "{list}"
    );

    // A recording altered on disk: refused before a byte is served.
    let res = upload(
        &c,
        &s.base,
        &owner,
        &fixture("speech.wav"),
        json!({"language": "en"}),
    );
    assert_eq!(res.status(), 202);
    let a: Value = res.json().unwrap();
    let call = a["conversation_id"].as_str().unwrap();
    let audio = format!("/api/v1/conversations/{call}/audio");
    let first_bytes = || {
        c.get(s.url(&audio))
            .header("cookie", &owner.cookie)
            .header("range", "bytes=100-199")
            .send()
            .unwrap()
    };
    let whole = get(&c, &s, &owner, &audio);
    assert_eq!(whole.status(), 200);
    assert_eq!(
        whole.bytes().unwrap().as_ref(),
        std::fs::read(fixture("speech.wav")).unwrap().as_slice()
    );
    let part = first_bytes();
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.headers()["content-range"],
        format!(
            "bytes 100-199/{}",
            std::fs::metadata(fixture("speech.wav")).unwrap().len()
        )
    );
    assert_eq!(
        part.bytes().unwrap().as_ref(),
        &std::fs::read(fixture("speech.wav")).unwrap()[100..200]
    );
    let blob = files_under(&env.config.data_dir.join("blobs"))
        .into_iter()
        .find(|p| p.ends_with(call))
        .unwrap();
    wait_job(&c, &s.base, &owner, a["job_id"].as_str().unwrap());
    // Altered near its end: refused before the headers, not cut off mid-stream; a
    // range in the intact first chunk is still served.
    let mut bytes = std::fs::read(&blob).unwrap();
    let near_end = bytes.len() - 100;
    bytes[near_end] ^= 1;
    std::fs::write(&blob, &bytes).unwrap();
    let (status, code_) = code(get(&c, &s, &owner, &audio));
    assert_eq!((status, code_.as_str()), (500, "DATA_INTEGRITY"));
    let part = first_bytes();
    assert_eq!(part.status(), 206);
    bytes[40] ^= 1;
    std::fs::write(&blob, bytes).unwrap();
    let (status, code_) = code(get(&c, &s, &owner, &audio));
    assert_eq!((status, code_.as_str()), (500, "DATA_INTEGRITY"));
}

fn key_file(env: &TestEnv) -> PathBuf {
    env.config.data_dir.join("keys/master.key")
}

fn serve_fails(config: &Path) -> String {
    let out = run_bin(&["--config", config.to_str().unwrap(), "serve"], &[]);
    assert!(!out.status.success(), "the server must refuse to start");
    last_line(&out)
}

#[test]
fn a_missing_wrong_or_too_open_master_key_refuses_the_start_and_changes_nothing() {
    let env = TestEnv::new(Backend::Sqlite);
    let config = env.write_config();
    {
        let (s, c, owner) = started(&env);
        let res = post(&c, &s, &owner, "/api/v1/tickets", ticket());
        assert_eq!(res.status(), 202);
    }
    let key = key_file(&env);
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "created readable by the service only");
    let original = std::fs::read(&key).unwrap();
    let db_before = stored_keys_and_values(&env);
    assert!(db_before.contains("e1:"), "{db_before}");

    std::fs::remove_file(&key).unwrap();
    let line = serve_fails(&config);
    assert!(
        line.contains("master key")
            && line.contains("is missing")
            && line.contains("refusing to start"),
        "{line}"
    );
    assert!(!key.exists(), "no new key was made over existing data");

    std::fs::write(&key, format!("{}\n", "ab".repeat(32))).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let line = serve_fails(&config);
    assert!(
        line.contains("is not the key this installation's data is encrypted under"),
        "{line}"
    );

    std::fs::write(&key, &original).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let line = serve_fails(&config);
    assert!(
        line.contains("mode 644") && line.contains("chmod 600"),
        "{line}"
    );

    assert_eq!(std::fs::read(&key).unwrap(), original);
    assert_eq!(
        stored_keys_and_values(&env),
        db_before,
        "keys and values untouched"
    );
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let _s = TestServer::start(env.config.clone());
}

/// The wrapped keys and sealed values as stored, in one string.
fn stored_keys_and_values(env: &TestEnv) -> String {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        v: String,
    }
    let path = env.config.data_dir.join("insite.db");
    let mut conn = diesel::SqliteConnection::establish(&path.display().to_string()).unwrap();
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT id || ':' || master_id || ':' || coalesce(wrapped, '-') AS v FROM org_keys \
         UNION ALL SELECT id || ':' || metadata AS v FROM conversations ORDER BY v",
    )
    .load(&mut conn)
    .unwrap();
    rows.into_iter().map(|r| r.v).collect::<Vec<_>>().join("\n")
}

fn bin(config: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--config", config.to_str().unwrap()];
    all.extend_from_slice(args);
    run_bin(&all, &[])
}

fn stdout(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn keys_rotate_while_the_server_reads_and_a_shredded_org_is_gone() {
    let env = TestEnv::new(Backend::Sqlite);
    let config = env.write_config();
    let (s, c, owner) = started(&env);
    let (ticket_id, call_id) = populate(&c, &s, &owner);
    let before = [
        conversation(&c, &s, &owner, &ticket_id),
        conversation(&c, &s, &owner, &call_id),
    ];
    let audio = format!("/api/v1/conversations/{call_id}/audio");
    let audio_before = get(&c, &s, &owner, &audio).bytes().unwrap();
    // A data subject's export (sealed request, archive blob) and own key.
    let found: Value = get(&c, &s, &owner, "/api/v1/subjects?email=bart@example.net")
        .json()
        .unwrap();
    let subject = found["subjects"][0]["id"].as_str().unwrap().to_string();
    let res = post(
        &c,
        &s,
        &owner,
        &format!("/api/v1/subjects/{subject}/requests"),
        json!({"kind": "export", "requester": "Bart, by phone"}),
    );
    assert_eq!(res.status(), 202);
    let export = res.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    crate::retention::wait_request(&c, &s, &owner, &export);

    let out = stdout(&bin(&config, &["keys", "rotate-org", "Acme"]));
    assert!(
        out.contains("data key v2 in force") && out.contains("2 conversation(s) re-encrypted"),
        "{out}"
    );
    let status = stdout(&bin(&config, &["keys", "status"]));
    assert!(status.contains("v1 destroyed, v2 active"), "{status}");
    let old_master = stdout(&bin(&config, &["keys", "status"]));
    let out = stdout(&bin(&config, &["keys", "rotate-master"]));
    assert!(out.contains("master key rotated"), "{out}");
    assert_ne!(
        stdout(&bin(&config, &["keys", "status"])).lines().next(),
        old_master.lines().next()
    );

    // The running server reads everything under the new keys.
    for (id, was) in [&ticket_id, &call_id].iter().zip(&before) {
        let now = conversation(&c, &s, &owner, id);
        assert_eq!(now["segments"], was["segments"]);
        assert_eq!(now["metadata"], was["metadata"]);
    }
    let audio_after = get(&c, &s, &owner, &audio).bytes().unwrap();
    let list: Value = get(&c, &s, &owner, "/api/v1/integrations").json().unwrap();
    let integration = list["integrations"][0]["id"].as_str().unwrap();
    assert_eq!(
        credentials_of(&env, integration),
        Some(format!("{{\"oauth_token\":\"{OAUTH_TOKEN}\"}}"))
    );
    assert_eq!(audio_before, audio_after);
    assert_eq!(count(&c, &s, &owner, "q=zeppelin"), 1);
    let request: Value = get(
        &c,
        &s,
        &owner,
        &format!("/api/v1/subject-requests/{export}"),
    )
    .json()
    .unwrap();
    assert_eq!(
        (request["requester"].as_str(), request["state"].as_str()),
        (Some("Bart, by phone"), Some("done")),
        "{request}"
    );
    let archive = get(
        &c,
        &s,
        &owner,
        &format!("/api/v1/subject-requests/{export}/archive"),
    );
    assert_eq!(archive.status(), 200);
    let person: Value = get(&c, &s, &owner, &format!("/api/v1/subjects/{subject}"))
        .json()
        .unwrap();
    assert_eq!(person["subject"]["name"], "Bartholomew Quince", "{person}");

    let refused = bin(&config, &["keys", "shred-org", "Acme"]);
    assert!(!refused.status.success());
    assert!(last_line(&refused).contains("--confirm Acme"));
    let out = stdout(&bin(
        &config,
        &["keys", "shred-org", "Acme", "--confirm", "Acme"],
    ));
    assert!(
        out.contains("can no longer be decrypted") && out.contains("master key was rotated"),
        "{out}"
    );
    let (status, code_) = code(get(
        &c,
        &s,
        &owner,
        &format!("/api/v1/conversations/{ticket_id}"),
    ));
    assert_eq!((status, code_.as_str()), (410, "ORG_ERASED"));
    assert!(files_under(&env.config.data_dir.join("blobs").join(owner_org(&env))).is_empty());
}

fn owner_org(env: &TestEnv) -> String {
    let pool = insite::store::open(&env.config).unwrap();
    let mut conn = pool.get().unwrap();
    insite::store::identity::org_by_name(&mut conn, "Acme")
        .unwrap()
        .unwrap()
        .id
}

#[test]
fn a_backup_restores_into_an_empty_installation_and_every_conversation_reads_back() {
    for backend in backends() {
        let env = TestEnv::new(backend);
        let config = env.write_config();
        let (s, c, owner) = started(&env);
        let (ticket_id, call_id) = populate(&c, &s, &owner);
        let ids = [ticket_id, call_id];
        let before: Vec<Value> = ids
            .iter()
            .map(|id| conversation(&c, &s, &owner, id))
            .collect();
        let archive = env.dir.path().join("backup.tar");
        // Online: the server keeps running.
        let out = stdout(&bin(&config, &["backup", archive.to_str().unwrap()]));
        assert!(out.contains("master key is NOT in the backup"), "{out}");
        let again = bin(&config, &["backup", archive.to_str().unwrap()]);
        assert!(!again.status.success(), "never over an existing file");
        drop(s);

        let fresh = TestEnv::new(backend);
        let fresh_config = fresh.write_config();
        // Without the master key the backup cannot be restored.
        let out = bin(&fresh_config, &["restore", archive.to_str().unwrap()]);
        assert!(!out.status.success());
        assert!(
            last_line(&out).contains("master key"),
            "{backend:?} {}",
            last_line(&out)
        );
        // A damaged archive is refused before anything is written.
        let mut damaged = std::fs::read(&archive).unwrap();
        let at = damaged.len() / 2;
        damaged[at] ^= 0x55;
        let damaged_path = fresh.dir.path().join("damaged.tar");
        std::fs::write(&damaged_path, damaged).unwrap();
        std::fs::create_dir_all(key_file(&fresh).parent().unwrap()).unwrap();
        std::fs::copy(key_file(&env), key_file(&fresh)).unwrap();
        std::fs::set_permissions(key_file(&fresh), std::fs::Permissions::from_mode(0o600)).unwrap();
        let out = bin(&fresh_config, &["restore", damaged_path.to_str().unwrap()]);
        assert!(!out.status.success());
        assert!(
            last_line(&out).contains("nothing was changed") || last_line(&out).contains("damaged"),
            "{}",
            last_line(&out)
        );
        assert!(files_under(&fresh.config.data_dir.join("blobs")).is_empty());

        let out = stdout(&bin(&fresh_config, &["restore", archive.to_str().unwrap()]));
        assert!(out.contains("restored"), "{out}");
        let s = TestServer::start(fresh.config.clone());
        let owner = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap();
        for (id, was) in ids.iter().zip(&before) {
            let now = conversation(&c, &s, &owner, id);
            for field in [
                "segments",
                "metadata",
                "metrics",
                "redactions",
                "tracker_hits",
            ] {
                assert_eq!(now[field], was[field], "{backend:?} {field}");
            }
        }
        let audio = get(
            &c,
            &s,
            &owner,
            &format!("/api/v1/conversations/{}/audio", ids[1]),
        );
        assert_eq!(audio.status(), 200);
        assert_eq!(
            audio.bytes().unwrap().as_ref(),
            std::fs::read(fixture("call-stereo.wav"))
                .unwrap()
                .as_slice()
        );
        assert_eq!(count(&c, &s, &owner, "participant=winifred@example.org"), 1);
        drop(s);
        // Restoring over data is refused.
        let out = bin(&fresh_config, &["restore", archive.to_str().unwrap()]);
        assert!(!out.status.success());
        assert!(
            last_line(&out).contains("already holds"),
            "{}",
            last_line(&out)
        );
    }
}

#[test]
fn integration_credentials_are_write_only_validated_and_org_scoped() {
    let env = TestEnv::new(Backend::Sqlite);
    let (s, c, owner) = started(&env);
    let id = add_integration(&c, &s, &owner);
    let list: Value = get(&c, &s, &owner, "/api/v1/integrations").json().unwrap();
    assert_eq!(
        list["integrations"][0]["settings"],
        json!({"base_url": "https://127.0.0.1:9"})
    );
    assert!(!list.to_string().contains(OAUTH_TOKEN));
    // Same name again, unknown kind, bad field names or empty credentials: refused.
    for (body, want) in [
        (
            json!({"kind": "zendesk", "name": "Zendesk main", "settings": {"subdomain": "other"},
                "credentials": {"oauth_token": "x"}}),
            (409, "CONFLICT"),
        ),
        // What each kind needs: Zendesk an address and a token, Slack an https URL.
        (
            json!({"kind": "zendesk", "name": "y", "settings": {"subdomain": "acme"},
                "credentials": {"api_token": "x"}}),
            (422, "VALIDATION"),
        ),
        (
            json!({"kind": "slack", "name": "y", "credentials": {"webhook_url": "ftp://x"}}),
            (422, "VALIDATION"),
        ),
        (
            json!({"kind": "ftp", "name": "x", "credentials": {"password": "x"}}),
            (422, "VALIDATION"),
        ),
        (
            json!({"kind": "slack", "name": "x", "credentials": {"Bad-Name": "x"}}),
            (422, "VALIDATION"),
        ),
        (
            json!({"kind": "slack", "name": "x", "credentials": {}}),
            (422, "VALIDATION"),
        ),
        (
            json!({"kind": "slack", "name": "x", "credentials": {"url": ""}}),
            (422, "VALIDATION"),
        ),
        (
            json!({"kind": "slack", "name": "x", "credentials": {"url": "u"}, "extra": 1}),
            (422, "INVALID_JSON_FIELDS"),
        ),
    ] {
        let (status, code_) = code(post(&c, &s, &owner, "/api/v1/integrations", body.clone()));
        assert_eq!((status, code_.as_str()), want, "{body}");
    }
    let replaced = c
        .put(s.url(&format!("/api/v1/integrations/{id}/credentials")))
        .header("cookie", &owner.cookie)
        .header("x-csrf-token", &owner.csrf)
        .json(&json!({"credentials": {"api_token": "zd-token-2", "email": "bot@acme.test"}}))
        .send()
        .unwrap();
    assert_eq!(replaced.status(), 200);
    let body: Value = replaced.json().unwrap();
    assert_eq!(body["credentials_set"], json!(["api_token", "email"]));
    assert_eq!(
        credentials_of(&env, &id),
        Some("{\"api_token\":\"zd-token-2\",\"email\":\"bot@acme.test\"}".to_string())
    );
    let audit: Value = get(&c, &s, &owner, "/api/v1/audit?limit=50")
        .json()
        .unwrap();
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for a in [
        "integration.create",
        "integration.credentials",
        "integration.list",
    ] {
        assert!(actions.contains(&a), "{a} audited: {actions:?}");
    }
    assert!(!audit.to_string().contains("zd-token-2"));
    let gone = c
        .delete(s.url(&format!("/api/v1/integrations/{id}")))
        .header("cookie", &owner.cookie)
        .header("x-csrf-token", &owner.csrf)
        .send()
        .unwrap();
    assert_eq!(gone.status(), 204);
    assert_eq!(credentials_of(&env, &id), None);
}

#[test]
fn values_an_earlier_version_stored_in_clear_are_sealed_at_the_first_start_and_read_back() {
    let env = TestEnv::new(Backend::Sqlite);
    let (s, c, owner) = started(&env);
    let (_, call_id) = populate(&c, &s, &owner);
    drop(s);
    // As the version before stored them: speaker names, the external id and a hold's
    // reason in clear, and no record of the conversion.
    let org = owner_org(&env);
    for statement in [
        format!(
            "UPDATE conversations SET channels = '[\"Lorelei Agent\",\"Mortimer Customer\"]', \
             metrics = '{{\"speakers\":{{\"Lorelei Agent\":{{}}}}}}', external_id = 'legacy-Zanzibar' \
             WHERE id = '{call_id}'"
        ),
        format!("UPDATE segments SET speaker = 'Lorelei Agent' WHERE conversation_id = '{call_id}'"),
        format!(
            "INSERT INTO legal_holds (id, org_id, scope, target_id, reason, set_by, set_at) \
             VALUES ('hold-1', '{org}', 'org', '{org}', 'Matter Quixotic', 'owner', '2026-12-01T00:00:00Z')"
        ),
        "DELETE FROM data_upgrades".to_string(),
    ] {
        sql(&env, &statement);
    }
    let s = TestServer::start(env.config.clone());
    let owner = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap();
    let call = conversation(&c, &s, &owner, &call_id);
    assert_eq!(call["external_id"], "legacy-Zanzibar", "{call}");
    assert_eq!(
        call["channels"],
        json!(["Lorelei Agent", "Mortimer Customer"])
    );
    assert_eq!(call["metrics"]["speakers"], json!({"Lorelei Agent": {}}));
    assert!(call["segments"]
        .as_array()
        .unwrap()
        .iter()
        .all(|seg| seg["speaker"] == "Lorelei Agent"));
    let holds: Value = get(&c, &s, &owner, "/api/v1/legal-holds").json().unwrap();
    assert_eq!(holds["holds"][0]["reason"], "Matter Quixotic", "{holds}");
    // The legacy external id is found again as a duplicate.
    let res = upload(
        &c,
        &s.base,
        &owner,
        &fixture("speech.wav"),
        json!({"external_id": "legacy-Zanzibar"}),
    );
    let again: Value = res.json().unwrap();
    assert_eq!(again["conversation_id"], call_id.as_str(), "{again}");
    drop(s);
    for file in ["insite.db", "insite.db-wal"] {
        let bytes = std::fs::read(env.config.data_dir.join(file)).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        for n in ["Lorelei", "Mortimer", "Zanzibar", "Quixotic"] {
            assert!(!text.contains(n), "{n} readable in {file}");
        }
    }
}
