//! The service under a service manager: `READY=1` once migrations are done and the
//! listener answers, and SIGHUP (`systemctl reload`) swapping the TLS certificate and
//! the log level while naming settings that need a restart.

use crate::support::{bin_command, wait_output, Backend, TestEnv};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

/// Writes a new self-signed certificate and key; returns the certificate's PEM.
fn new_certificate(cert: &Path, key: &Path) -> String {
    let c = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(cert, c.cert.pem()).unwrap();
    std::fs::write(key, c.key_pair.serialize_pem()).unwrap();
    c.cert.pem()
}

/// A client that trusts only `pem`, with verification on.
fn trusting(pem: &str, port: u16) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
        .resolve("localhost", format!("127.0.0.1:{port}").parse().unwrap())
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// GET `path` over a connection that trusts only `pem`.
fn get(pem: &str, port: u16, path: &str) -> reqwest::Result<reqwest::StatusCode> {
    trusting(pem, port)
        .get(format!("https://localhost:{port}{path}"))
        .send()
        .map(|r| r.status())
}

fn receive(socket: &UnixDatagram) -> String {
    let mut buf = [0u8; 4096];
    let n = socket
        .recv(&mut buf)
        .expect("a notification within the timeout");
    String::from_utf8_lossy(&buf[..n]).to_string()
}

#[test]
fn notifies_readiness_and_reloads_certificate_and_log_level_on_sighup() {
    let env = TestEnv::new(Backend::Sqlite);
    let cert = env.dir.path().join("site.pem");
    let key = env.dir.path().join("site.key");
    let first = new_certificate(&cert, &key);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let path = env.write_config();
    let mut text = std::fs::read_to_string(&path).unwrap();
    text = text.replace(
        "[server]",
        &format!(
            "[log]\nlevel = \"info\"\n[tls]\ncert = \"{}\"\nkey = \"{}\"\n[server]",
            cert.display(),
            key.display()
        ),
    );
    std::fs::write(&path, &text).unwrap();
    let notify_path = env.dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&notify_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let listen = format!("127.0.0.1:{port}");
    let child = bin_command(
        &["--config", path.to_str().unwrap(), "serve"],
        &[
            ("INSITE_LISTEN", listen.as_str()),
            ("NOTIFY_SOCKET", notify_path.to_str().unwrap()),
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let pid = child.id().to_string();
    // SIGHUP, then the manager hears the reload begin and end.
    let reload = || {
        let sent = std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        assert_eq!(receive(&socket), "RELOADING=1");
        assert_eq!(receive(&socket), "READY=1");
    };

    // Ready only once it serves: the first message is READY=1, and /readyz agrees.
    let ready = receive(&socket);
    assert!(ready.contains("READY=1"), "{ready}");
    assert_eq!(get(&first, port, "/readyz").unwrap(), 200);

    // A new certificate and a debug log level, then a reload.
    let second = new_certificate(&cert, &key);
    std::fs::write(
        &path,
        text.replace("level = \"info\"", "level = \"debug\"")
            .replace("workers = 1", "workers = 2"),
    )
    .unwrap();
    reload();
    assert_eq!(
        get(&second, port, "/healthz").unwrap(),
        200,
        "the new one is served"
    );
    assert!(
        get(&first, port, "/healthz").is_err(),
        "the old one is gone"
    );

    // A key that does not fit its certificate is refused; the server keeps serving.
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(&key, other.key_pair.serialize_pem()).unwrap();
    reload();
    assert_eq!(
        get(&second, port, "/healthz").unwrap(),
        200,
        "the one in force stays"
    );

    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = wait_output(child, Duration::from_secs(30));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(receive(&socket), "STOPPING=1");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("configuration reloaded"), "{log}");
    assert!(
        log.contains("server.workers") && log.contains("after a restart"),
        "a changed setting that needs a restart is named: {log}"
    );
    assert!(log.contains("does not belong to the certificate"), "{log}");
    assert!(log.contains("DEBUG"), "debug lines after the reload: {log}");
}
