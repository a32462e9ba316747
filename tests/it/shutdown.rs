//! SIGTERM stops the real binary cleanly; logs can be JSON and never carry secrets.

use crate::support::{backends, bin_command, wait_for_status, wait_output, Backend, TestEnv};
use std::process::Stdio;
use std::time::Duration;

#[test]
fn sigterm_shuts_down_gracefully_with_json_logs() {
    for backend in backends() {
        let env = TestEnv::new(backend);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let listen = format!("127.0.0.1:{port}");
        let path = env.write_config();
        let child = bin_command(
            &["--config", path.to_str().unwrap(), "serve"],
            &[
                ("INSITE_LISTEN", listen.as_str()),
                ("INSITE_LOG__FORMAT", "json"),
            ],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
        wait_for_status(&format!("https://{listen}/readyz"), 200);

        let kill = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        let out = wait_output(child, Duration::from_secs(30));
        assert!(out.status.success(), "{backend:?}: {out:?}");

        let stderr = String::from_utf8_lossy(&out.stderr);
        let events: Vec<serde_json::Value> = stderr
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
            .collect();
        let messages: Vec<&str> = events
            .iter()
            .filter_map(|e| e["message"].as_str())
            .collect();
        assert!(
            messages.contains(&"TLS certificate fingerprint"),
            "{messages:?}"
        );
        assert!(
            messages.iter().any(|m| m.contains("graceful shutdown")),
            "{messages:?}"
        );
        assert!(messages.contains(&"insite stopped"), "{messages:?}");
        if backend == Backend::Postgres {
            // The test database URL carries no password; the redacted form is what is logged.
            assert!(stderr.contains("postgres://"), "{stderr}");
        }
    }
}
