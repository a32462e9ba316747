//! Shared test helpers: in-process servers on 127.0.0.1:0, the real binary, PostgreSQL databases.

use diesel::{Connection, RunQueryDsl};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The `insite` binary built for this test run.
pub const BIN: &str = env!("CARGO_BIN_EXE_insite");

/// Which database a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Both backends; PostgreSQL is required unless INSITE_TEST_SKIP_PG=1 says otherwise.
pub fn backends() -> Vec<Backend> {
    if std::env::var("INSITE_TEST_SKIP_PG").as_deref() == Ok("1") {
        eprintln!("note: PostgreSQL tests skipped by INSITE_TEST_SKIP_PG=1");
        vec![Backend::Sqlite]
    } else {
        vec![Backend::Sqlite, Backend::Postgres]
    }
}

/// URL of the throwaway PostgreSQL server started by `make test`.
pub fn pg_admin_url() -> String {
    std::env::var("INSITE_TEST_PG_URL").unwrap_or_else(|_| {
        panic!(
            "INSITE_TEST_PG_URL is not set: run the tests with `make test`, which starts \
             PostgreSQL, or set INSITE_TEST_SKIP_PG=1 to run SQLite only"
        )
    })
}

/// A fresh PostgreSQL database, dropped when this value is.
pub struct PgDatabase {
    pub url: String,
    name: String,
}

impl PgDatabase {
    pub fn create() -> Self {
        let admin = pg_admin_url();
        let name = format!("insite_t_{}", uuid::Uuid::new_v4().simple());
        let mut conn = diesel::PgConnection::establish(&admin).expect("connect to test PostgreSQL");
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .expect("create test database");
        let mut url = url::Url::parse(&admin).expect("admin url");
        url.set_path(&name);
        Self {
            url: url.to_string(),
            name,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Ok(mut conn) = diesel::PgConnection::establish(&pg_admin_url()) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut conn);
        }
    }
}

/// A data directory plus config for one test, on the chosen backend.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub config: insite::config::Config,
    _pg: Option<PgDatabase>,
}

impl TestEnv {
    pub fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = insite::config::Config {
            data_dir: dir.path().join("data"),
            ..Default::default()
        };
        config.server.shutdown_grace_secs = 1;
        config.server.workers = 1;
        config.engines = test_engines();
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let db = PgDatabase::create();
                config.database_url = Some(insite::config::DatabaseUrl::new(db.url.clone()));
                Some(db)
            }
        };
        Self {
            dir,
            config,
            _pg: pg,
        }
    }

    /// Writes the config as a TOML file (with the real database URL) and returns its path.
    pub fn write_config(&self) -> PathBuf {
        let mut text = format!(
            "listen = \"{}\"\ndata_dir = \"{}\"\n",
            self.config.listen,
            self.config.data_dir.display()
        );
        if let Some(url) = &self.config.database_url {
            text.push_str(&format!("database_url = \"{}\"\n", url.expose()));
        }
        text.push_str("[server]\nshutdown_grace_secs = 2\nworkers = 1\n");
        let e = &self.config.engines;
        text.push_str(&format!(
            "[engines]\nmodels_dir = \"{}\"\nwhisper_model = \"{}\"\nllm_model = \"{}\"\nthreads = {}\nllm_context = {}\n",
            e.models_dir.display(),
            e.whisper_model,
            e.llm_model,
            e.threads,
            e.llm_context
        ));
        let path = self.dir.path().join("insite.toml");
        std::fs::write(&path, text).expect("write config");
        path
    }
}

/// The repository's `models/` directory (filled by `make test`).
pub fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models")
}

/// A generated or downloaded test fixture (made by scripts/fixtures.sh).
pub fn fixture(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/generated")
        .join(name);
    assert!(
        p.exists(),
        "{} missing: run scripts/fixtures.sh (make test does)",
        p.display()
    );
    p
}

/// The LLM for tests that check what an answer says (sentiment, scores, evidence).
pub const ANSWER_LLM: &str = "qwen2.5-coder-0.5b-instruct";

/// The production LLM, for tests of what the server's analysis concludes: its
/// per-turn yes/no questions (`analysis.v2`) are beyond `ANSWER_LLM` (which says "no"
/// to an agent greeting a customer by name).
pub const PRODUCTION_LLM: &str = "qwen2.5-coder-1.5b-instruct";

/// The LLM for plumbing: tests that need a well-formed answer (the grammar sees to
/// that) but not a good one. Five times smaller and faster than `ANSWER_LLM`.
pub const PLUMBING_LLM: &str = "smollm2-135m-instruct";

/// Engines on the small test models (the plumbing LLM), workers from the built binary.
pub fn test_engines() -> insite::config::EnginesConfig {
    insite::config::EnginesConfig {
        models_dir: models_dir(),
        whisper_model: "whisper-tiny.en".into(),
        llm_model: PLUMBING_LLM.into(),
        // One thread per inference worker: nextest runs a test per core, and ggml's
        // threads spin while they wait for each other, so two 2-thread workers on two
        // cores slow each other down many times over (measured: a 2.7 s test took 32 s).
        threads: 1,
        llm_context: 2048,
        worker_exe: Some(PathBuf::from(BIN)),
    }
}

/// Word error rate of `hyp` against `reference` (case and punctuation ignored).
pub fn wer(reference: &str, hyp: &str) -> f64 {
    let norm = |s: &str| -> Vec<String> {
        s.to_lowercase()
            .split_whitespace()
            .map(|w| {
                w.chars()
                    .filter(|c| c.is_alphanumeric())
                    .collect::<String>()
            })
            .filter(|w| !w.is_empty())
            .collect()
    };
    let (r, h) = (norm(reference), norm(hyp));
    let mut prev: Vec<usize> = (0..=h.len()).collect();
    for i in 1..=r.len() {
        let mut cur = vec![i; h.len() + 1];
        for j in 1..=h.len() {
            let sub = prev[j - 1] + usize::from(r[i - 1] != h[j - 1]);
            cur[j] = sub.min(prev[j] + 1).min(cur[j - 1] + 1);
        }
        prev = cur;
    }
    prev[h.len()] as f64 / r.len().max(1) as f64
}

/// A real server running in-process on an ephemeral loopback port.
pub struct TestServer {
    pub base: String,
    pub fingerprint: String,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    /// Starts and waits until /readyz answers 200.
    pub fn start(config: insite::config::Config) -> Self {
        let server = Self::start_unready(config);
        server.wait_ready();
        server
    }

    /// Starts on an injected clock and waits for readiness.
    pub fn start_with_clock(
        config: insite::config::Config,
        clock: insite::clock::SharedClock,
    ) -> Self {
        let server = Self::spawn(config, clock);
        server.wait_ready();
        server
    }

    /// Starts without waiting for readiness.
    pub fn start_unready(config: insite::config::Config) -> Self {
        Self::spawn(config, insite::clock::system())
    }

    fn spawn(config: insite::config::Config, clock: insite::clock::SharedClock) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!(
            "https://127.0.0.1:{}",
            listener.local_addr().expect("addr").port()
        );
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                match insite::run(config, listener, clock) {
                    Ok(started) => {
                        let _ = tx.send(Ok((started.server.handle(), started.tls_fingerprint)));
                        let _ = started.server.await;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e.to_string()));
                    }
                }
            })
        });
        let (handle, fingerprint) = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("server thread answered")
            .expect("server started");
        Self {
            base,
            fingerprint,
            handle,
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Polls /readyz until it answers 200 (bounded).
    pub fn wait_ready(&self) {
        wait_for_status(&self.url("/readyz"), 200);
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        let _ = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(handle.stop(true));
        })
        .join();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// An HTTPS client that accepts the server's self-signed certificate.
/// A loopback port free at the moment of asking (for a server a test starts).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `done` every 20 ms until it holds; panics with `what` after `limit` (a hang is
/// a failure, not a wait).
pub fn poll_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + limit;
    while !done() {
        assert!(std::time::Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// Polls `url` until it returns `status`; panics after 300 s (a hang, not slowness).
pub fn wait_for_status(url: &str, status: u16) {
    let deadline = Instant::now() + Duration::from_secs(300);
    let client = client();
    loop {
        if let Ok(r) = client.get(url).send() {
            if r.status().as_u16() == status {
                return;
            }
        }
        assert!(Instant::now() < deadline, "{url} never answered {status}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs the binary to completion with extra env; the environment is otherwise cleared of INSITE_*.
pub fn run_bin(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = bin_command(args, env);
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn insite");
    // A bound against hangs, not a speed check: loaded CI machines run inference slowly.
    wait_output(child, Duration::from_secs(600))
}

pub fn bin_command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("INSITE_") {
            cmd.env_remove(k);
        }
    }
    cmd.args(args)
        .envs(env.iter().copied())
        .env("RUST_BACKTRACE", "0");
    cmd
}

/// Waits for a child with a bound; a hang is a test failure, not a stuck run.
pub fn wait_output(mut child: Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "insite did not exit within {limit:?}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The last non-empty line of stderr.
pub fn last_line(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .to_string()
}

pub fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write file");
}
