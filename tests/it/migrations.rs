//! Every migration runs up, down and up again on both backends, by the library and the CLI.

use crate::support::{backends, run_bin, TestEnv};
use insite::store::{self, migrate};

#[test]
fn migrations_up_down_up_on_both_backends() {
    for backend in backends() {
        let env = TestEnv::new(backend);
        std::fs::create_dir_all(&env.config.data_dir).unwrap();
        let pool = store::open(&env.config).unwrap();
        let mut conn = pool.get().unwrap();

        let before = migrate::status(&mut conn).unwrap();
        assert!(!before.is_empty());
        assert!(before.iter().all(|m| !m.applied), "{backend:?}: {before:?}");

        let applied = migrate::run_pending(&mut conn).unwrap();
        assert_eq!(applied.len(), before.len(), "{backend:?}");
        assert!(migrate::is_current(&mut conn).unwrap());

        let reverted = migrate::revert_all(&mut conn).unwrap();
        assert_eq!(reverted.len(), before.len(), "{backend:?}");
        assert!(migrate::status(&mut conn)
            .unwrap()
            .iter()
            .all(|m| !m.applied));

        let again = migrate::run_pending(&mut conn).unwrap();
        assert_eq!(again, applied, "{backend:?}");
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let first = store::installation::ensure(&mut conn, now).unwrap();
        let second = store::installation::ensure(&mut conn, now).unwrap();
        assert_eq!(first.installation_id, second.installation_id);
        assert_eq!(first.created_at, "2026-01-02T03:04:05+00:00");
    }
}

#[test]
fn migrate_cli_status_run_revert() {
    for backend in backends() {
        let env = TestEnv::new(backend);
        let config = env.write_config();
        let cfg = config.to_str().unwrap();

        let status = run_bin(&["--config", cfg, "migrate", "status"], &[]);
        assert!(status.status.success(), "{status:?}");
        let text = String::from_utf8_lossy(&status.stdout).to_string();
        assert!(
            text.contains("pending") && !text.contains("applied"),
            "{text}"
        );

        let run = run_bin(&["--config", cfg, "migrate", "run"], &[]);
        assert!(run.status.success(), "{run:?}");
        assert!(String::from_utf8_lossy(&run.stdout).starts_with("applied: "));

        let again = run_bin(&["--config", cfg, "migrate", "run"], &[]);
        assert!(String::from_utf8_lossy(&again.stdout).contains("up to date"));

        let status = run_bin(&["--config", cfg, "migrate", "status"], &[]);
        assert!(String::from_utf8_lossy(&status.stdout).contains("applied"));

        let revert = run_bin(&["--config", cfg, "migrate", "revert"], &[]);
        assert!(revert.status.success(), "{revert:?}");
        assert!(String::from_utf8_lossy(&revert.stdout).starts_with("reverted: "));
        // Only the newest migration was reverted.
        let status = run_bin(&["--config", cfg, "migrate", "status"], &[]);
        let text = String::from_utf8_lossy(&status.stdout).to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() >= 2, "{text}");
        assert!(lines[lines.len() - 1].ends_with("pending"), "{text}");
        assert!(
            lines[..lines.len() - 1]
                .iter()
                .all(|l| l.ends_with("applied")),
            "{text}"
        );
    }
}

#[test]
fn a_database_from_a_newer_insite_is_refused_untouched() {
    use diesel::connection::SimpleConnection;
    for backend in backends() {
        let env = TestEnv::new(backend);
        let config = env.write_config();
        let cfg = config.to_str().unwrap();
        assert!(run_bin(&["--config", cfg, "migrate", "run"], &[])
            .status
            .success());
        // A newer insite migrated this database, then the package was downgraded.
        let pool = store::open(&env.config).unwrap();
        let mut conn = pool.get().unwrap();
        conn.batch_execute(
            "INSERT INTO __diesel_schema_migrations (version) VALUES ('29991231000000')",
        )
        .unwrap();
        let before = migrate::status(&mut conn).unwrap();
        drop(conn);
        for args in [&["migrate", "run"][..], &["serve"][..]] {
            let mut all = vec!["--config", cfg];
            all.extend_from_slice(args);
            let out = run_bin(&all, &[]);
            assert!(!out.status.success(), "{backend:?} {args:?}: {out:?}");
            let err = String::from_utf8_lossy(&out.stderr).to_string();
            assert!(
                err.contains("newer than this insite") && err.contains("29991231000000"),
                "{backend:?} {args:?}: {err}"
            );
        }
        let mut conn = pool.get().unwrap();
        assert_eq!(migrate::status(&mut conn).unwrap(), before, "{backend:?}");
    }
}
