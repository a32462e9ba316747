//! The shipped example config parses, equals the defaults, and names every key.

use insite::config::{Config, DatabaseUrl};
use std::path::Path;

fn keys(value: &toml::Value, prefix: &str, out: &mut Vec<String>) {
    if let toml::Value::Table(t) = value {
        for (k, v) in t {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            if v.is_table() {
                keys(v, &path, out);
            } else {
                out.push(path);
            }
        }
    }
}

#[test]
fn example_config_matches_the_struct() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/insite.toml");
    let loaded = insite::config::load(&path, Vec::new()).unwrap();
    let defaults = Config::default();
    assert_eq!(
        toml::to_string(&loaded).unwrap(),
        toml::to_string(&defaults).unwrap(),
        "the example shows values other than the defaults"
    );

    // Every field, optional ones included, is documented in the example (maybe commented out).
    let mut full = Config {
        database_url: Some(DatabaseUrl::new("postgres://x@y/z")),
        ..Default::default()
    };
    full.engines.worker_exe = Some("/usr/bin/insite".into());
    full.tls.cert = Some("/c".into());
    full.tls.key = Some("/k".into());
    let mut all = Vec::new();
    keys(&toml::Value::try_from(&full).unwrap(), "", &mut all);
    let text = std::fs::read_to_string(&path).unwrap();
    for key in all {
        let leaf = key.rsplit('.').next().unwrap();
        let shown = text.lines().any(|l| {
            l.trim_start_matches(['#', ' '])
                .starts_with(&format!("{leaf} = "))
        });
        assert!(shown, "packaging/insite.toml does not document `{key}`");
    }
}
