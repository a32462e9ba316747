//! The engines in one binary: CT2 import, real transcription (JFK clip and generated
//! speech, WER checked), real grammar-constrained LLM JSON, worker isolation.

use crate::support::{
    fixture, last_line, models_dir, poll_until, run_bin, test_engines, wer, Backend, TestEnv,
    ANSWER_LLM, BIN,
};
use insite::engines::manifest;
use insite::engines::whisper::TranscribeOptions;
use insite::engines::worker::{EngineWorker, Op, Output, WorkerError, WorkerSpec};
use std::io::Write;
use std::path::PathBuf;

const JFK: &str = "And so my fellow Americans, ask not what your country can do for you, \
                   ask what you can do for your country.";

fn config_file(env: &TestEnv) -> String {
    env.write_config().to_str().unwrap().to_string()
}

fn model(name: &str) -> PathBuf {
    manifest::verify_named(&models_dir(), name).unwrap().path
}

/// A supervised worker of the built binary with these model files.
fn worker(whisper: Option<PathBuf>, llm: Option<PathBuf>) -> EngineWorker {
    EngineWorker::new(WorkerSpec {
        exe: BIN.into(),
        whisper,
        llm,
        threads: test_engines().threads,
        llm_context: 2048,
    })
}

fn samples_file(path: &std::path::Path) -> tempfile::NamedTempFile {
    let audio = insite::pipeline::decode::decode_mono_16k(path).unwrap();
    let mut f = tempfile::NamedTempFile::new().unwrap();
    let bytes: Vec<u8> = audio.samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    f.write_all(&bytes).unwrap();
    f
}

#[test]
fn ct2_import_is_reproducible_and_approved() {
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("ggml-tiny.en.bin");
    let ct2 = models_dir().join("ct2/whisper-tiny.en");
    let res = run_bin(
        &[
            "models",
            "import-ct2",
            ct2.to_str().unwrap(),
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert!(res.status.success(), "{res:?}");
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(stderr.contains("converting: 100%"), "{stderr}");
    // The same weights give the same bytes: the manifest's approved sha256.
    let entry = manifest::entry("whisper-tiny.en").unwrap();
    assert_eq!(manifest::sha256_file(&out).unwrap(), entry.sha256);
}

#[test]
fn transcribes_jfk_through_the_cli() {
    let env = TestEnv::new(Backend::Sqlite);
    let cfg = config_file(&env);
    let jfk = fixture("jfk.wav");
    let out = run_bin(
        &[
            "--config",
            &cfg,
            "transcribe",
            jfk.to_str().unwrap(),
            "--format",
            "json",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t: insite::engines::whisper::Transcript = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(t.language, "en");
    let text = t.text();
    let rate = wer(JFK, &text);
    assert!(rate <= 0.10, "WER {rate:.2}: {text}");
    let last = t.segments.last().unwrap();
    assert!(
        last.end > 9.0 && last.end <= 11.5,
        "timestamps: {:?}",
        t.segments
    );
    assert!(t
        .segments
        .iter()
        .all(|s| s.confidence > 0.3 && !s.tokens.is_empty()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("transcribing: 100%"),
        "progress on stderr: {stderr}"
    );

    let srt = run_bin(
        &[
            "--config",
            &cfg,
            "transcribe",
            jfk.to_str().unwrap(),
            "--format",
            "srt",
        ],
        &[],
    );
    let srt = String::from_utf8_lossy(&srt.stdout);
    assert!(srt.starts_with("1\n00:00:00,000 --> 00:00:"), "{srt}");
}

#[test]
fn transcribes_generated_speech_after_resampling() {
    let env = TestEnv::new(Backend::Sqlite);
    let cfg = config_file(&env);
    let speech = fixture("speech.wav"); // espeak-ng at 22.05 kHz
    let out = run_bin(
        &["--config", &cfg, "transcribe", speech.to_str().unwrap()],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let rate = wer(
        "Please send the quarterly invoice to the customer before Friday.",
        &text,
    );
    assert!(rate <= 0.35, "WER {rate:.2}: {text}");
    for word in ["invoice", "customer", "friday"] {
        assert!(text.to_lowercase().contains(word), "{word} missing: {text}");
    }
}

#[test]
fn analyze_returns_valid_grammar_constrained_json() {
    let mut env = TestEnv::new(Backend::Sqlite);
    // This test checks what the answer says: the model that can say it.
    env.config.engines.llm_model = ANSWER_LLM.into();
    let cfg = config_file(&env);
    let ticket = env.dir.path().join("ticket.txt");
    std::fs::write(
        &ticket,
        "Customer: This is the third time my internet has gone down this week. I am furious, \
         I want to cancel my contract and I want a refund today.\n\
         Agent: I am sorry. I have opened a fault ticket and a technician will call you.",
    )
    .unwrap();
    let out = run_bin(
        &["--config", &cfg, "analyze", ticket.to_str().unwrap()],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!v["summary"].as_str().unwrap().is_empty());
    assert_eq!(v["sentiment"]["label"], "negative", "{v}");
    assert!(v["sentiment"]["score"].as_f64().unwrap() < 0.0, "{v}");
    assert_eq!(v["model"], ANSWER_LLM);
    assert_eq!(v["prompt_version"], "summary_sentiment.v1");
    assert_eq!(v["model_sha256"].as_str().unwrap().len(), 64);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("analyzing: 100%"),
        "progress on stderr: {stderr}"
    );
}

/// Both engines loaded in one worker process of the one binary: transcribe, then generate.
#[test]
fn whisper_and_llm_run_in_one_process() {
    let e = test_engines();
    let worker = worker(Some(model(&e.whisper_model)), Some(model(&e.llm_model)));
    let samples = samples_file(&fixture("jfk.wav"));
    let op = Op::Transcribe {
        samples_path: samples.path().into(),
        samples_key: None,
        options: TranscribeOptions::default(),
    };
    let Output::Transcript(t) = worker.call(&op, &mut |_| {}).unwrap() else {
        panic!("no transcript")
    };
    let pid = worker.pid();
    let request = insite::pipeline::analyze::request(&t.text()).unwrap();
    let Output::Generation(g) = worker.call(&Op::Chat { request }, &mut |_| {}).unwrap() else {
        panic!("no generation")
    };
    assert_eq!(worker.pid(), pid, "same worker process served both");
    let parsed = insite::pipeline::analyze::parse(&g).unwrap();
    assert!(!parsed.summary.is_empty());
    let Output::Embedding(v) = worker
        .call(
            &Op::Embed {
                text: "ask not what your country can do".into(),
            },
            &mut |_| {},
        )
        .unwrap()
    else {
        panic!("no embedding")
    };
    assert!(v.len() >= 256);
    let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-3);
}

#[test]
fn bad_audio_gives_clear_errors() {
    let env = TestEnv::new(Backend::Sqlite);
    let cfg = config_file(&env);
    for (file, needle) in [
        ("corrupt.wav", "not a supported audio file"),
        ("empty.wav", "the file is empty"),
        ("zero-length.wav", "0 seconds"),
    ] {
        let path = fixture(file);
        let out = run_bin(
            &["--config", &cfg, "transcribe", path.to_str().unwrap()],
            &[],
        );
        assert_eq!(out.status.code(), Some(1), "{file}");
        let line = last_line(&out);
        assert!(
            line.starts_with("error: ") && line.contains(needle),
            "{file}: {line}"
        );
        assert!(line.contains(file), "names the file: {line}");
    }
}

#[test]
fn altered_truncated_unlisted_and_wrong_format_models_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let good = model("whisper-tiny.en");
    let name = good.file_name().unwrap();

    let altered = dir.path().join("altered");
    std::fs::create_dir(&altered).unwrap();
    let mut bytes = std::fs::read(&good).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(altered.join(name), &bytes).unwrap();
    let out = run_bin(
        &["models", "verify", altered.join(name).to_str().unwrap()],
        &[],
    );
    assert!(
        last_line(&out).contains("altered: sha256"),
        "{}",
        last_line(&out)
    );
    assert!(last_line(&out).contains("ggml-tiny.en.bin"));

    let truncated = dir.path().join("truncated");
    std::fs::create_dir(&truncated).unwrap();
    std::fs::write(truncated.join(name), &bytes[..1000]).unwrap();
    let out = run_bin(
        &["models", "verify", truncated.join(name).to_str().unwrap()],
        &[],
    );
    assert!(last_line(&out).contains("truncated"), "{}", last_line(&out));

    let wrong = dir.path().join("wrong");
    std::fs::create_dir(&wrong).unwrap();
    std::fs::write(wrong.join(name), vec![0u8; bytes.len()]).unwrap();
    let out = run_bin(
        &["models", "verify", wrong.join(name).to_str().unwrap()],
        &[],
    );
    assert!(
        last_line(&out).contains("wrong format"),
        "{}",
        last_line(&out)
    );

    let unlisted = dir.path().join("my-model.bin");
    std::fs::write(&unlisted, &bytes).unwrap();
    let out = run_bin(&["models", "verify", unlisted.to_str().unwrap()], &[]);
    assert!(
        last_line(&out).contains("not an approved model"),
        "{}",
        last_line(&out)
    );

    // The worker refuses it too, and says which file and why.
    let worker = worker(Some(altered.join(name)), None);
    match worker.start() {
        Err(WorkerError::Start(msg)) => assert!(msg.contains("altered"), "{msg}"),
        other => panic!("expected refusal, got {other:?}"),
    }
}

/// A models directory in the test's folder holding whisper-tiny.en with one bit flipped.
fn altered_models_dir(env: &TestEnv) -> PathBuf {
    let models = env.dir.path().join("models");
    std::fs::create_dir(&models).unwrap();
    let good = model("whisper-tiny.en");
    let mut bytes = std::fs::read(&good).unwrap();
    bytes[100] ^= 1;
    std::fs::write(models.join(good.file_name().unwrap()), &bytes).unwrap();
    models
}

#[test]
fn readyz_reports_a_refused_model_and_the_server_keeps_running() {
    let env = TestEnv::new(Backend::Sqlite);
    let mut config = env.config.clone();
    config.engines.models_dir = altered_models_dir(&env);
    let server = crate::support::TestServer::start_unready(config);
    crate::support::wait_for_status(&server.url("/readyz"), 503);
    let c = crate::support::client();
    let body: serde_json::Value = c.get(server.url("/readyz")).send().unwrap().json().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut body = body;
    while body["error"]["code"] == "STARTING" && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
        body = c.get(server.url("/readyz")).send().unwrap().json().unwrap();
    }
    assert_eq!(body["error"]["code"], "MODEL_REFUSED", "{body}");
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("ggml-tiny.en.bin") && msg.contains("altered"),
        "{msg}"
    );
    assert_eq!(c.get(server.url("/healthz")).send().unwrap().status(), 200);
}

#[test]
fn worker_killed_mid_job_is_restarted_and_a_twice_killer_is_poison() {
    let worker = std::sync::Arc::new(worker(Some(model("whisper-tiny.en")), None));
    worker.start().unwrap();
    let samples = samples_file(&fixture("speech-long.wav"));
    let op = Op::Transcribe {
        samples_path: samples.path().into(),
        samples_key: None,
        options: TranscribeOptions::default(),
    };
    // Kill the worker each time the job reports progress from a fresh process.
    let killer = std::sync::Arc::clone(&worker);
    let mut killed = std::collections::HashSet::new();
    let result = worker.call(&op, &mut |_percent| {
        let pid = killer.pid();
        if pid != 0 && killed.insert(pid) {
            let ok = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status()
                .unwrap();
            assert!(ok.success());
        }
    });
    match result {
        Err(WorkerError::Poison(reason)) => {
            assert!(reason.contains("signal 9"), "{reason}");
            assert!(reason.contains("then"), "two crashes: {reason}");
        }
        other => panic!("expected a poison job, got {other:?}"),
    }
    assert_eq!(worker.restarts(), 2);

    // The supervisor is still usable: the next job gets a fresh worker and succeeds.
    let short = samples_file(&fixture("jfk.wav"));
    let op = Op::Transcribe {
        samples_path: short.path().into(),
        samples_key: None,
        options: TranscribeOptions::default(),
    };
    let Output::Transcript(t) = worker.call(&op, &mut |_| {}).unwrap() else {
        panic!("no transcript")
    };
    assert!(t.text().to_lowercase().contains("country"));
}

#[test]
fn worker_sandbox_blocks_network_connections() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    // Control: outside the sandbox the connection works.
    drop(std::net::TcpStream::connect(&addr).unwrap());
    assert!(listener.accept().is_ok());

    let out = run_bin(&["worker", "--sandbox-self-test", &addr], &[]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("blocked: connect to"), "{stdout}");
    assert!(stdout.contains("Permission denied"), "{stdout}");
    assert!(
        listener.accept().is_err(),
        "the sandboxed worker reached the listener"
    );
}

/// A worker whose parent dies while the worker waits for work ends too, even though its
/// request pipe is still open elsewhere (here the test holds it; in life, a server
/// killed outright while the worker is deep in an inference that writes nothing).
#[test]
fn a_worker_ends_when_its_parent_is_killed() {
    use crate::pipeline::alive;
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    // sh starts the worker in the background on sh's own stdin (our pipe) and waits.
    let mut parent = Command::new("sh")
        .args([
            "-c",
            r#"exec 3<&0; "$0" worker --threads 1 --parent $$ <&3 3<&- & echo "worker $!"; sleep 600"#,
            BIN,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _request_pipe = parent.stdin.take().unwrap();
    let mut lines = std::io::BufReader::new(parent.stdout.take().unwrap()).lines();
    // Two lines, in either order: sh's "worker PID" and the worker's ready answer.
    let (mut worker, mut ready) = (None, false);
    while worker.is_none() || !ready {
        let line = lines.next().expect("sh and the worker speak").unwrap();
        match line.strip_prefix("worker ") {
            Some(pid) => worker = Some(pid.trim().parse::<u32>().unwrap()),
            None => ready |= line.contains("\"ready\""),
        }
    }
    let worker = worker.unwrap();
    assert!(alive(worker), "a worker waiting for work");
    parent.kill().unwrap();
    parent.wait().unwrap();
    poll_until(
        &format!("worker {worker} outlived its killed parent"),
        std::time::Duration::from_secs(30),
        || !alive(worker),
    );
}

/// `insite models list` looks where the server looks: the config's `engines.models_dir`
/// (it read `./models` of the working directory whatever the config said).
#[test]
fn models_list_reads_the_configured_models_dir() {
    let mut env = TestEnv::new(Backend::Sqlite);
    env.config.engines.models_dir = altered_models_dir(&env);
    let cfg = config_file(&env);
    let out = run_bin(&["--config", &cfg, "models", "list"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = String::from_utf8_lossy(&out.stdout);
    let line = |name: &str| {
        listing
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_default()
            .to_string()
    };
    assert!(line("whisper-tiny.en").contains("REFUSED"), "{listing}");
    assert!(line("whisper-tiny.en").contains("altered"), "{listing}");
    assert!(line("whisper-base").contains("not fetched"), "{listing}");
    // The flag still wins over the config.
    let repo_models = models_dir();
    let out = run_bin(
        &[
            "--config",
            &cfg,
            "models",
            "--models-dir",
            repo_models.to_str().unwrap(),
            "list",
        ],
        &[],
    );
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("whisper-tiny.en ") && l.ends_with("verified")),
        "{listing}"
    );
}
