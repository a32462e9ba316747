//! The conversation pipeline over real HTTP: uploads (stereo call, mu-law, MP3), tickets,
//! the job queue, redaction, metrics, bad input, and a crash in the middle of a job.

use crate::identity::{bootstrap, code, get, login, post, text_analysis_off, Session, OWNER_PW};
use crate::support::{backends, client, fixture, poll_until, Backend, TestEnv, TestServer};
use reqwest::blocking::multipart::{Form, Part};
use reqwest::blocking::{Client, Response};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Uploads `file` as the `audio` part, with `metadata` as JSON unless null.
/// Processes whose parent is `pid` (from /proc).
pub(crate) fn children_of(pid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
            // "pid (comm) state ppid ...": the fields after the last ')'.
            let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
            rest.split_whitespace().nth(1) == Some(&pid.to_string())
        })
        .collect()
}

/// Whether `pid` still runs (a zombie waiting to be reaped has ended).
pub(crate) fn alive(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, r)| r.split_whitespace().next());
    matches!(state, Some(s) if s != "Z" && s != "X")
}

/// A 16-bit PCM WAV header as a hostile or careless writer makes it (any rate, any
/// declared data length), then `data` as the actual bytes.
pub(crate) fn raw_wav(rate: u32, channels: u16, declared: u32, data: &[u8]) -> Vec<u8> {
    let block = channels.wrapping_mul(2);
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&declared.saturating_add(36).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&rate.wrapping_mul(u32::from(block)).to_le_bytes());
    out.extend_from_slice(&block.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&declared.to_le_bytes());
    out.extend_from_slice(data);
    out
}

/// Quiet noise, so nothing is silent or empty.
pub(crate) fn noise(bytes: usize) -> Vec<u8> {
    (0..bytes).map(|i| (i * 7 % 13) as u8).collect()
}

pub(crate) fn upload(
    c: &Client,
    base: &str,
    who: &Session,
    file: &std::path::Path,
    metadata: Value,
) -> Response {
    let bytes = std::fs::read(file).unwrap();
    let name = file.file_name().unwrap().to_string_lossy().to_string();
    let mut form = Form::new().part("audio", Part::bytes(bytes).file_name(name));
    if !metadata.is_null() {
        form = form.text("metadata", metadata.to_string());
    }
    c.post(format!("{base}/api/v1/conversations"))
        .header("cookie", &who.cookie)
        .header("x-csrf-token", &who.csrf)
        .multipart(form)
        .send()
        .unwrap()
}

/// Polls a job until it is done or failed (bounded: a hang is a failure, not a wait).
pub(crate) fn wait_job(c: &Client, base: &str, who: &Session, job: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let res = c
            .get(format!("{base}/api/v1/jobs/{job}"))
            .header("cookie", &who.cookie)
            .send()
            .unwrap();
        assert_eq!(res.status(), 200);
        let j: Value = res.json().unwrap();
        if matches!(j["state"].as_str(), Some("done" | "failed" | "cancelled")) {
            return j;
        }
        assert!(Instant::now() < deadline, "job did not finish: {j}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn texts_of(conv: &Value, speaker: &str) -> String {
    conv["segments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["speaker"] == speaker)
        .map(|s| s["text"].as_str().unwrap().to_lowercase())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn a_stereo_call_is_transcribed_per_speaker_redacted_and_measured() {
    let env = TestEnv::new(Backend::Sqlite);
    bootstrap(&env, "Acme", "owner@acme.test");
    let s = TestServer::start(env.config.clone());
    let c = client();
    let owner = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap();
    text_analysis_off(&c, &s.base, &owner);
    // This organization also wants redacted stretches silenced in the recording.
    let org = c
        .patch(s.url("/api/v1/org"))
        .header("cookie", &owner.cookie)
        .header("x-csrf-token", &owner.csrf)
        .json(&json!({"redact_audio": "silence"}))
        .send()
        .unwrap();
    assert_eq!(org.status(), 200);
    let meta = json!({"external_id": "call-1", "source": "pbx", "direction": "inbound",
        "channels": ["agent", "customer"], "language": "en",
        "participants": [{"name": "John Smith", "role": "customer", "phone": "+1 555 123 4567"}]});
    let res = upload(
        &c,
        &s.base,
        &owner,
        &fixture("call-stereo.wav"),
        meta.clone(),
    );
    assert_eq!(res.status(), 202);
    let accepted: Value = res.json().unwrap();
    let job = wait_job(&c, &s.base, &owner, accepted["job_id"].as_str().unwrap());
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(
        (job["stage"].as_str(), job["progress"].as_i64()),
        (Some("done"), Some(100))
    );

    let id = accepted["conversation_id"].as_str().unwrap();
    let conv: Value = get(&c, &s, &owner, &format!("/api/v1/conversations/{id}"))
        .json()
        .unwrap();
    assert_eq!(conv["state"], "ready", "{conv}");
    assert_eq!(conv["language"], "en");
    let agent = texts_of(&conv, "agent");
    let customer = texts_of(&conv, "customer");
    assert!(agent.contains("help"), "agent said: {agent}");
    assert!(
        customer.contains("cancel") && customer.contains("account"),
        "customer said: {customer}"
    );
    assert!(
        !agent.contains("cancel my account"),
        "channels are kept apart: {agent}"
    );
    // The customer's turn follows the agent's greeting in time.
    let first = &conv["segments"][0];
    assert_eq!(first["speaker"], "agent", "{conv}");
    assert!(first["start"].as_f64().unwrap() < first["end"].as_f64().unwrap());
    let all = format!("{agent} {customer}");
    assert!(
        !all.contains("4111") && !all.contains("4,111"),
        "card number in clear: {all}"
    );
    assert!(
        customer.contains("[phone]") || customer.contains("[card]"),
        "nothing redacted: {customer}"
    );

    let m = &conv["metrics"];
    let ratio: f64 = ["agent", "customer"]
        .iter()
        .map(|k| m["speakers"][k]["talk_ratio"].as_f64().unwrap())
        .sum();
    assert!((ratio - 1.0).abs() < 1e-6, "{m}");
    assert!(m["questions"].as_u64().unwrap() >= 1, "{m}");
    assert!(m["patience_seconds"].as_f64().unwrap() >= 0.0, "{m}");
    let silence = m["silence_share"].as_f64().unwrap();
    assert!(silence > 0.0 && silence < 0.8, "{m} {}", conv["segments"]);
    assert!(
        m["speakers"]["customer"]["words_per_minute"]
            .as_f64()
            .unwrap()
            > 60.0,
        "{m} {}",
        conv["segments"]
    );

    // The recording streams with ranges.
    let part = c
        .get(s.url(&format!("/api/v1/conversations/{id}/audio")))
        .header("cookie", &owner.cookie)
        .header("range", "bytes=0-99")
        .send()
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().unwrap().len(), 100);
    // What was redacted in the text is silent in the stored recording.
    assert!(
        conv["redactions"]["audio_spans"].as_u64().unwrap() >= 1,
        "{conv}"
    );
    let whole = c
        .get(s.url(&format!("/api/v1/conversations/{id}/audio")))
        .header("cookie", &owner.cookie)
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    let stored = tempfile::Builder::new().suffix(".wav").tempfile().unwrap();
    std::fs::write(stored.path(), &whole).unwrap();
    let audio = insite::pipeline::decode::decode_channels_16k(stored.path()).unwrap();
    let customer_track = &audio.channels[1];
    let span = |seg: &Value| {
        let a = (seg["start"].as_f64().unwrap() * 16_000.0) as usize;
        let b = (seg["end"].as_f64().unwrap() * 16_000.0) as usize;
        &customer_track[a..b.min(customer_track.len())]
    };
    let segments = conv["segments"].as_array().unwrap();
    let redacted = segments
        .iter()
        .find(|s| s["speaker"] == "customer" && s["text"].as_str().unwrap().contains("[PHONE]"))
        .or_else(|| {
            segments.iter().find(|s| {
                s["speaker"] == "customer" && s["text"].as_str().unwrap().contains("[CARD]")
            })
        })
        .unwrap();
    assert!(
        span(redacted).iter().all(|s| s.abs() < 1e-3),
        "redacted speech still audible"
    );
    let clear = segments
        .iter()
        .find(|s| s["speaker"] == "customer" && s["text"].as_str().unwrap().contains("cancel"))
        .unwrap();
    assert!(
        span(clear).iter().any(|s| s.abs() > 0.05),
        "unredacted speech was silenced"
    );

    // The same recording again (another external id or none): the same conversation.
    let again: Value = upload(
        &c,
        &s.base,
        &owner,
        &fixture("call-stereo.wav"),
        json!({"source": "pbx"}),
    )
    .json()
    .unwrap();
    assert_eq!(again["conversation_id"], accepted["conversation_id"]);
    assert_eq!(again["duplicate"], true);
    let list: Value = get(&c, &s, &owner, "/api/v1/conversations?source=pbx")
        .json()
        .unwrap();
    assert_eq!(list["conversations"].as_array().unwrap().len(), 1);
    let trail: Value = get(&c, &s, &owner, "/api/v1/audit?action=recording.read")
        .json()
        .unwrap();
    assert_eq!(trail["entries"].as_array().unwrap().len(), 2, "{trail}");
}

#[test]
fn telephony_formats_are_transcribed_and_bad_uploads_refused_with_reasons() {
    let mut env = TestEnv::new(Backend::Sqlite);
    env.config.pipeline.max_upload_bytes = 150_000;
    env.config.pipeline.max_duration_seconds = 10;
    // Two jobs at once, one Whisper worker: the second decodes while the first
    // transcribes, then waits for the worker (and keeps its lease meanwhile).
    env.config.pipeline.workers = 2;
    env.config.pipeline.stages.transcribe = 1;
    bootstrap(&env, "Acme", "owner@acme.test");
    let s = TestServer::start(env.config.clone());
    let c = client();
    let owner = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap();
    text_analysis_off(&c, &s.base, &owner);
    let accepted: Vec<(&str, Value)> = ["speech-mulaw.wav", "speech.mp3"]
        .into_iter()
        .map(|file| {
            let res = upload(&c, &s.base, &owner, &fixture(file), Value::Null);
            assert_eq!(res.status(), 202, "{file}");
            (file, res.json().unwrap())
        })
        .collect();
    for (file, accepted) in &accepted {
        let job = wait_job(&c, &s.base, &owner, accepted["job_id"].as_str().unwrap());
        assert_eq!(job["state"], "done", "{file}: {job}");
        let conv: Value = get(
            &c,
            &s,
            &owner,
            &format!(
                "/api/v1/conversations/{}",
                accepted["conversation_id"].as_str().unwrap()
            ),
        )
        .json()
        .unwrap();
        let text = texts_of(&conv, "mixed");
        assert!(text.contains("quarterly invoice"), "{file}: {text}");
        assert_eq!(conv["channels"], json!(["mixed"]), "mono says so");
    }
    let metrics = c.get(s.url("/metrics")).send().unwrap().text().unwrap();
    for line in [
        "insite_stage_limit{stage=\"transcribe\"} 1",
        "insite_stage_busy{stage=\"transcribe\"} 0",
        "insite_engine_workers_started_total{engine=\"whisper\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
    for (file, status, code_, says) in [
        ("garbage.bin", 422, "UNSUPPORTED_AUDIO", "supported: WAV"),
        ("corrupt.wav", 422, "UNSUPPORTED_AUDIO", ""),
        ("empty.wav", 422, "UNSUPPORTED_AUDIO", "empty (0 bytes)"),
        ("zero-length.wav", 422, "UNSUPPORTED_AUDIO", "0 seconds"),
        ("speech.wav", 413, "PAYLOAD_TOO_LARGE", "150000 bytes"),
    ] {
        let res = upload(&c, &s.base, &owner, &fixture(file), Value::Null);
        let got = res.status().as_u16();
        let body: Value = res.json().unwrap();
        assert_eq!(
            (got, body["error"]["code"].as_str().unwrap()),
            (status, code_),
            "{file}: {body}"
        );
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{file}: {message}");
        assert!(
            !message.contains("/incoming/"),
            "no server paths: {message}"
        );
    }
    // Hostile headers: refused at the door with the reason, and the server lives on
    // (a 2^31 Hz header once made decoding ask for 8.6 GB; 0 Hz panicked the decoder).
    let eleven_s_at_2k = noise(2_000 * 2 * 11);
    let hostile = [
        (
            "rate-huge.wav",
            raw_wav(2_147_483_647, 1, 16_384, &noise(16_384)),
            "UNSUPPORTED_AUDIO",
            "sample rate of 2147483647 Hz",
        ),
        (
            "rate-one.wav",
            raw_wav(1, 1, 4_096, &noise(4_096)),
            "UNSUPPORTED_AUDIO",
            "sample rate of 1 Hz",
        ),
        (
            "rate-zero.wav",
            raw_wav(0, 1, 4_096, &noise(4_096)),
            "UNSUPPORTED_AUDIO",
            "",
        ),
        (
            "long.wav",
            raw_wav(2_000, 1, eleven_s_at_2k.len() as u32, &eleven_s_at_2k),
            "TOO_LONG",
            "longer than the 10 s allowed",
        ),
    ];
    for (name, bytes, code_, says) in hostile {
        let path = env.dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let res = upload(&c, &s.base, &owner, &path, Value::Null);
        let got = res.status().as_u16();
        let body: Value = res.json().unwrap();
        assert_eq!(
            (got, body["error"]["code"].as_str().unwrap()),
            (422, code_),
            "{name}: {body}"
        );
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{name}: {message}");
    }
    let bad_meta = upload(
        &c,
        &s.base,
        &owner,
        &fixture("speech-mulaw.wav"),
        json!({"direction": "sideways"}),
    );
    assert_eq!(code(bad_meta), (422, "VALIDATION".into()));
    let unknown = upload(
        &c,
        &s.base,
        &owner,
        &fixture("speech-mulaw.wav"),
        json!({"colour": "red"}),
    );
    assert_eq!(code(unknown), (422, "INVALID_METADATA".into()));
    let no_audio = c
        .post(s.url("/api/v1/conversations"))
        .header("cookie", &owner.cookie)
        .header("x-csrf-token", &owner.csrf)
        .multipart(Form::new().text("metadata", "{}"))
        .send()
        .unwrap();
    assert_eq!(code(no_audio), (400, "BAD_UPLOAD".into()));
    // Nothing was half-ingested: only the two good files exist.
    let list: Value = get(&c, &s, &owner, "/api/v1/conversations").json().unwrap();
    assert_eq!(list["conversations"].as_array().unwrap().len(), 2);

    // A length the header does not tell (a streaming recorder's placeholder) is
    // accepted, and decoding stops at the limit: the job fails TOO_LONG, as input.
    let streamed = env.dir.path().join("streamed-long.wav");
    std::fs::write(&streamed, raw_wav(2_000, 1, u32::MAX, &eleven_s_at_2k)).unwrap();
    let res = upload(&c, &s.base, &owner, &streamed, Value::Null);
    assert_eq!(res.status(), 202);
    let accepted: Value = res.json().unwrap();
    let job = wait_job(&c, &s.base, &owner, accepted["job_id"].as_str().unwrap());
    assert_eq!(job["state"], "failed", "{job}");
    assert_eq!(job["error"]["code"], "TOO_LONG", "{job}");
    assert_eq!(job["attempts"], 1, "input faults are not retried: {job}");
    assert_eq!(
        c.get(s.url("/readyz")).send().unwrap().status(),
        200,
        "the server is still up and ready"
    );
}

fn ticket_body() -> Value {
    json!({
        "external_id": "T-100",
        "source": "zendesk",
        "subject": "Refund for jane.doe@example.com",
        "messages": [
            {"author": "Jane Doe", "role": "customer", "at": "2026-11-20T09:00:00Z",
             "text": "Hi, please refund my card 4111 1111 1111 1111. Call me on +44 20 7946 0958 or mail jane.doe@example.com. Why was I charged twice?"},
            {"author": "Sam", "role": "agent", "at": "2026-11-20T09:30:00Z",
             "text": "Sorry about that. I have refunded it to IBAN GB82 WEST 1234 5698 7654 32."},
            {"author": "Jane Doe", "role": "customer", "at": "2026-11-20T10:00:00Z",
             "text": "Thanks. For your records my date of birth is the twelfth of March nineteen eighty-five, the new card is four one one one one one one one one one one one one one one one, expiry oh four twenty-seven, security code seven three nine. Order one two three four five is still late."}
        ]
    })
}

#[test]
fn a_ticket_is_redacted_before_storage_measured_and_accepted_once() {
    for backend in backends() {
        let env = TestEnv::new(backend);
        bootstrap(&env, "Acme", "owner@acme.test");
        let s = TestServer::start(env.config.clone());
        let c = client();
        let owner = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap();
        text_analysis_off(&c, &s.base, &owner);
        let tracker: Value = post(
            &c,
            &s,
            &owner,
            "/api/v1/trackers",
            json!({"name": "Billing errors", "phrases": ["charged twice", "double charge"]}),
        )
        .json()
        .unwrap();
        let tracker_id = tracker["id"].as_str().unwrap().to_string();
        let bad = post(
            &c,
            &s,
            &owner,
            "/api/v1/trackers",
            json!({"name": "x", "phrases": []}),
        );
        assert_eq!(code(bad), (422, "VALIDATION".into()));
        let res = post(&c, &s, &owner, "/api/v1/tickets", ticket_body());
        assert_eq!(res.status(), 202, "{backend:?}");
        let accepted: Value = res.json().unwrap();
        let job = wait_job(&c, &s.base, &owner, accepted["job_id"].as_str().unwrap());
        assert_eq!(job["state"], "done", "{backend:?} {job}");
        let id = accepted["conversation_id"].as_str().unwrap();
        let conv: Value = get(&c, &s, &owner, &format!("/api/v1/conversations/{id}"))
            .json()
            .unwrap();
        let customer = texts_of(&conv, "customer");
        assert_eq!(
            customer,
            "hi, please refund my card [card]. call me on [phone] or mail [email]. why was i charged twice? \
             thanks. for your records my date of birth is the [date_of_birth], the new card is [card], \
             expiry [card_expiry], security code [card_code]. order one two three four five is still late."
        );
        assert!(texts_of(&conv, "agent").contains("[iban]"), "{conv}");
        assert_eq!(conv["metadata"]["subject"], "Refund for [EMAIL]");
        assert_eq!(
            conv["redactions"],
            json!({"card": 2, "card_expiry": 1, "card_security_code": 1,
                "date_of_birth": 1, "email": 2, "iban": 1, "phone": 1})
        );
        assert_eq!(conv["metrics"]["questions"], 1);
        assert_eq!(
            conv["segments"][1]["start"], 1800.0,
            "times from the messages"
        );
        assert_eq!(
            conv["tracker_hits"],
            json!([{"tracker_id": tracker_id, "phrase": "charged twice", "speaker": "customer", "start": 0.0}])
        );
        for (query, n) in [
            (format!("tracker_id={tracker_id}"), 1),
            ("q=REFUNDED".to_string(), 1),
            ("q=nowhere-said".to_string(), 0),
            ("q=4111".to_string(), 0),
        ] {
            let list: Value = get(&c, &s, &owner, &format!("/api/v1/conversations?{query}"))
                .json()
                .unwrap();
            assert_eq!(
                list["conversations"].as_array().unwrap().len(),
                n,
                "{backend:?} {query}"
            );
        }
        let metrics = c.get(s.url("/metrics")).send().unwrap().text().unwrap();
        for line in [
            "insite_jobs{state=\"done\"} 1",
            "insite_stage_runs_total{stage=\"measure\"} 1",
            "insite_job_runs_total{outcome=\"done\"} 1",
            "insite_redactions_total{class=\"date_of_birth\"} 1",
            "insite_redactions_total{class=\"card\"} 2",
        ] {
            assert!(
                metrics.contains(line),
                "{backend:?} {line} missing: {metrics}"
            );
        }
        let again: Value = post(&c, &s, &owner, "/api/v1/tickets", ticket_body())
            .json()
            .unwrap();
        assert_eq!(again["conversation_id"], accepted["conversation_id"]);
        let bad = post(
            &c,
            &s,
            &owner,
            "/api/v1/tickets",
            json!({"subject": "x", "messages": [{"author": "a", "at": "yesterday", "text": "hi"}]}),
        );
        let (status, code_) = code(bad);
        assert_eq!((status, code_.as_str()), (422, "VALIDATION"), "{backend:?}");
        if backend == Backend::Sqlite {
            // Neither the database file nor the blob store holds the card number.
            let db = std::fs::read(env.config.data_dir.join("insite.db")).unwrap();
            let wal = std::fs::read(env.config.data_dir.join("insite.db-wal")).unwrap_or_default();
            for bytes in [db, wal] {
                assert!(
                    !String::from_utf8_lossy(&bytes).contains("4111 1111"),
                    "card in the database"
                );
            }
            for entry in walk(&env.config.data_dir.join("blobs")) {
                let text = String::from_utf8_lossy(&std::fs::read(&entry).unwrap()).to_string();
                assert!(!text.contains("4111 1111"), "card in {}", entry.display());
            }
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_job_cut_off_by_a_crash_finishes_after_restart_exactly_once() {
    use crate::support::{bin_command, wait_for_status};
    use std::process::Stdio;
    let env = TestEnv::new(Backend::Sqlite);
    bootstrap(&env, "Acme", "owner@acme.test");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let base = format!("https://{listen}");
    let config = env.write_config();
    // Killed when dropped, also when an assertion fails half-way.
    struct Server(std::process::Child);
    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let serve = || {
        let child = bin_command(
            &["--config", config.to_str().unwrap(), "serve"],
            &[
                ("INSITE_LISTEN", listen.as_str()),
                ("INSITE_PIPELINE__LEASE_SECONDS", "3"),
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
        let server = Server(child);
        wait_for_status(&format!("{base}/readyz"), 200);
        server
    };
    let mut first = serve();
    let c = client();
    let owner = crate::identity::login_at(
        &c,
        &base,
        json!({"email": "owner@acme.test", "password": OWNER_PW}),
    )
    .unwrap();
    text_analysis_off(&c, &base, &owner);
    let res = upload(
        &c,
        &base,
        &owner,
        &fixture("speech-long.wav"),
        json!({"external_id": "long-1"}),
    );
    assert_eq!(res.status(), 202);
    let accepted: Value = res.json().unwrap();
    let job_id = accepted["job_id"].as_str().unwrap().to_string();
    // Wait until the job is inside transcription, then kill the server outright.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let j: Value = c
            .get(format!("{base}/api/v1/jobs/{job_id}"))
            .header("cookie", &owner.cookie)
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_ne!(
            j["state"], "done",
            "the job ended before the crash could happen: {j}"
        );
        if j["stage"] == "transcribe" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "job never reached transcription: {j}"
        );
        std::thread::sleep(Duration::from_millis(30));
    }
    // Its inference workers, busy with the job: they must not outlive it.
    // (The stage is entered a moment before its worker is started.)
    let mut workers = Vec::new();
    poll_until(
        "no Whisper worker was started",
        Duration::from_secs(30),
        || {
            workers = children_of(first.0.id());
            !workers.is_empty()
        },
    );
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    poll_until(
        &format!("workers {workers:?} outlived the server killed under them"),
        Duration::from_secs(30),
        || !workers.iter().any(|pid| alive(*pid)),
    );

    let _second = serve();
    // The session survives the restart: it lives in the database.
    let job = wait_job(&c, &base, &owner, &job_id);
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(job["attempts"], 2, "taken up again once: {job}");
    let conv: Value = c
        .get(format!(
            "{base}/api/v1/conversations/{}",
            accepted["conversation_id"].as_str().unwrap()
        ))
        .header("cookie", &owner.cookie)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let segments = conv["segments"].as_array().unwrap();
    let text = texts_of(&conv, "mixed");
    assert!(text.contains("business days"), "{text}");
    // Exactly once: each part of the recording appears at most once, most of them heard.
    let mut heard = 0;
    for part in 1..=8 {
        let n = text.matches(&format!("part {part} ")).count();
        assert!(n <= 1, "part {part} appears {n} times: {text}");
        heard += n;
    }
    assert!(heard >= 6, "{text}");
    let starts: std::collections::BTreeSet<String> =
        segments.iter().map(|s| s["start"].to_string()).collect();
    assert_eq!(starts.len(), segments.len(), "no segment stored twice");
    let list: Value = c
        .get(format!("{base}/api/v1/conversations"))
        .header("cookie", &owner.cookie)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(list["conversations"].as_array().unwrap().len(), 1);
}

/// Waits until `path` exists (bounded).
fn wait_for_file(path: &std::path::Path) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn files_dropped_in_the_watched_folder_are_ingested_once_and_sorted() {
    let mut env = TestEnv::new(Backend::Sqlite);
    let inbox = env.config.data_dir.with_file_name("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    env.config.pipeline.watch_dir = Some(inbox.clone());
    env.config.pipeline.watch_org = "Acme".into();
    env.config.pipeline.watch_poll_seconds = 1;
    bootstrap(&env, "Acme", "owner@acme.test");
    let s = TestServer::start(env.config.clone());
    let c = client();
    let owner = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap();
    text_analysis_off(&c, &s.base, &owner);

    std::fs::write(
        inbox.join("call-7.json"),
        r#"{"external_id": "w-7", "source": "folder"}"#,
    )
    .unwrap();
    std::fs::copy(fixture("speech.mp3"), inbox.join("call-7.mp3")).unwrap();
    std::fs::copy(fixture("garbage.bin"), inbox.join("noise.bin")).unwrap();
    wait_for_file(&inbox.join("done/call-7.mp3"));
    assert!(
        inbox.join("done/call-7.json").exists(),
        "the sidecar moves with it"
    );
    wait_for_file(&inbox.join("failed/noise.bin.reason.txt"));
    let reason = std::fs::read_to_string(inbox.join("failed/noise.bin.reason.txt")).unwrap();
    assert!(reason.contains("supported: WAV"), "{reason}");
    // A header of 0 Hz once panicked the folder's thread, and nothing was ingested
    // after it; now it is refused like any bad file (the next drop below still lands).
    std::fs::write(
        inbox.join("zero-rate.wav"),
        raw_wav(0, 1, 4_096, &noise(4_096)),
    )
    .unwrap();
    wait_for_file(&inbox.join("failed/zero-rate.wav.reason.txt"));
    let reason = std::fs::read_to_string(inbox.join("failed/zero-rate.wav.reason.txt")).unwrap();
    assert!(!reason.trim().is_empty(), "a reason is given");
    // A symbolic link is not followed (it could point at any file the server can read),
    // and a sidecar is read only up to a bound (a 300 MB one once took 611 MB).
    let secret = env.dir.path().join("outside-secret.mp3");
    std::fs::copy(fixture("speech.mp3"), &secret).unwrap();
    std::os::unix::fs::symlink(&secret, inbox.join("link.mp3")).unwrap();
    wait_for_file(&inbox.join("failed/link.mp3.reason.txt"));
    let reason = std::fs::read_to_string(inbox.join("failed/link.mp3.reason.txt")).unwrap();
    assert!(reason.contains("symbolic link"), "{reason}");
    assert!(secret.exists(), "the link's target is left alone");
    let big = format!(
        r#"{{"external_id": "big", "source": "{}"}}"#,
        "x".repeat(100_000)
    );
    std::fs::write(inbox.join("big-meta.json"), big).unwrap();
    std::fs::copy(fixture("speech.mp3"), inbox.join("big-meta.mp3")).unwrap();
    wait_for_file(&inbox.join("failed/big-meta.mp3.reason.txt"));
    let reason = std::fs::read_to_string(inbox.join("failed/big-meta.mp3.reason.txt")).unwrap();
    assert!(reason.contains("larger than 65536 bytes"), "{reason}");
    assert!(
        inbox.join("failed/big-meta.json").exists(),
        "the sidecar moves with it"
    );

    let list: Value = get(&c, &s, &owner, "/api/v1/conversations?source=folder")
        .json()
        .unwrap();
    let items = list["conversations"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["external_id"], "w-7");
    let id = items[0]["id"].as_str().unwrap();
    let conv: Value = get(&c, &s, &owner, &format!("/api/v1/conversations/{id}"))
        .json()
        .unwrap();
    let job = wait_job(&c, &s.base, &owner, conv["job"]["id"].as_str().unwrap());
    assert_eq!(job["state"], "done", "{job}");

    // The same file dropped again is recognised, not ingested twice.
    std::fs::copy(fixture("speech.mp3"), inbox.join("again.mp3")).unwrap();
    wait_for_file(&inbox.join("done/again.mp3"));
    let list: Value = get(&c, &s, &owner, "/api/v1/conversations").json().unwrap();
    assert_eq!(list["conversations"].as_array().unwrap().len(), 1, "{list}");
}
