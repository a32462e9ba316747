//! Each start-up mistake gives one clear line and a non-zero exit.

use crate::support::{last_line, run_bin, write, Backend, TestEnv};
use std::net::TcpListener;
use std::process::Output;

/// Stderr holds exactly one line, which names `needle`.
fn assert_one_line_error(out: &Output, needle: &str) {
    assert!(!out.status.success(), "expected failure: {out:?}");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(lines[0].contains(needle), "missing {needle:?} in: {stderr}");
}

fn serve_with(config_text: &str, env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("insite.toml");
    write(&path, config_text);
    run_bin(&["--config", path.to_str().unwrap(), "serve"], env)
}

#[test]
fn unknown_key_names_key_and_line() {
    let out = serve_with("listen = \"127.0.0.1:0\"\nlisen = \"x\"\n", &[]);
    assert_one_line_error(&out, "line 2");
    assert!(last_line(&out).contains("lisen"));
}

#[test]
fn bad_value_names_the_key() {
    let out = serve_with("listen = \"not-an-address\"\n", &[]);
    assert_one_line_error(&out, "listen");
    let out = serve_with("[log]\nformat = \"xml\"\n", &[]);
    assert_one_line_error(&out, "xml");
}

#[test]
fn bad_env_value_names_the_variable() {
    let out = serve_with("", &[("INSITE_DATABASE__POOL_SIZE", "lots")]);
    assert_one_line_error(&out, "INSITE_DATABASE__POOL_SIZE");
}

#[test]
fn unreadable_config_file_names_the_path() {
    let out = run_bin(
        &["--config", "/nonexistent/insite.toml", "check-config"],
        &[],
    );
    assert_one_line_error(&out, "/nonexistent/insite.toml");
}

#[test]
fn unknown_database_scheme_is_refused() {
    let out = serve_with("database_url = \"mysql://root@localhost/insite\"\n", &[]);
    assert_one_line_error(&out, "unsupported scheme 'mysql'");
}

#[test]
fn unreachable_postgres_is_one_line_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let text = format!(
        "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\ndatabase_url = \"postgres://insite:s3cret-pw@127.0.0.1:1/insite\"\n",
        data.display()
    );
    let out = serve_with(&text, &[]);
    // Start-up logs may precede the error; the error itself is the last line.
    assert!(!out.status.success());
    let line = last_line(&out);
    assert!(
        line.starts_with("error: cannot open database: postgres"),
        "{line}"
    );
    assert!(line.contains("insite:***@127.0.0.1:1"), "{line}");
    let all = String::from_utf8_lossy(&out.stderr);
    assert!(!all.contains("s3cret-pw"), "password leaked: {all}");
}

#[test]
fn port_in_use_is_one_line() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let env = TestEnv::new(Backend::Sqlite);
    let path = env.write_config();
    let out = run_bin(
        &["--config", path.to_str().unwrap(), "serve"],
        &[("INSITE_LISTEN", &addr)],
    );
    assert_one_line_error(&out, &format!("cannot listen on {addr}"));
    assert!(last_line(&out).contains("in use"), "{}", last_line(&out));
}

#[test]
fn unusable_data_dir_is_one_line() {
    // Tests may run as root, which ignores permission bits; a regular file where
    // a directory must go is refused for every user.
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("blocker");
    write(&blocker, "not a directory");
    let data = blocker.join("data");
    let text = format!(
        "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n",
        data.display()
    );
    let out = serve_with(&text, &[]);
    assert!(!out.status.success());
    let line = last_line(&out);
    assert!(
        line.starts_with(&format!("error: data_dir {}", data.display())),
        "{line}"
    );
    let out = serve_with(
        &format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n",
            blocker.display()
        ),
        &[],
    );
    assert!(
        last_line(&out).contains("not a directory"),
        "{}",
        last_line(&out)
    );
}

#[test]
fn check_config_prints_effective_config_with_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("insite.toml");
    write(
        &path,
        "database_url = \"postgres://insite:topsecret@db.example:5432/insite\"\n",
    );
    let out = run_bin(
        &["--config", path.to_str().unwrap(), "check-config"],
        &[
            ("INSITE_LISTEN", "127.0.0.1:9443"),
            ("INSITE_LOG__FORMAT", "json"),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("listen = \"127.0.0.1:9443\""), "{text}");
    assert!(text.contains("format = \"json\""), "{text}");
    assert!(text.contains("insite:***@db.example"), "{text}");
    assert!(!text.contains("topsecret"), "{text}");
    // The printed config is itself a valid config.
    let parsed: insite::config::Config = toml::from_str(
        &text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .unwrap();
    assert_eq!(parsed.listen.port(), 9443);
}

#[test]
fn version_flag_prints_the_version() {
    let out = run_bin(&["--version"], &[]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("insite {}", env!("CARGO_PKG_VERSION"))
    );
}
