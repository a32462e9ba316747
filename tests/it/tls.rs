//! The generated certificate (0600 key, logged fingerprint) and a configured certificate.

use crate::support::{Backend, TestEnv, TestServer};
use std::os::unix::fs::PermissionsExt;

#[test]
fn self_signed_certificate_is_generated_once_with_private_key() {
    let env = TestEnv::new(Backend::Sqlite);
    let tls_dir = env.config.data_dir.join("tls");
    let fingerprint = {
        let server = TestServer::start(env.config.clone());
        server.fingerprint.clone()
    };
    let key_mode = std::fs::metadata(tls_dir.join("key.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(key_mode & 0o777, 0o600);
    let pem = std::fs::read(tls_dir.join("cert.pem")).unwrap();
    let der = rustls::pki_types::pem::PemObject::from_pem_slice(&pem)
        .map(|c: rustls::pki_types::CertificateDer| c.to_vec())
        .unwrap();
    assert_eq!(fingerprint, insite::server::tls::fingerprint(&der));
    assert_eq!(fingerprint.len(), 32 * 3 - 1);

    // A restart reuses the same certificate.
    let again = TestServer::start(env.config.clone());
    assert_eq!(again.fingerprint, fingerprint);
}

#[test]
fn every_file_the_server_creates_is_private_to_its_user() {
    let env = TestEnv::new(Backend::Sqlite);
    crate::identity::bootstrap(&env, "Acme", "owner@acme.test");
    let _server = TestServer::start(env.config.clone());
    let mut open = Vec::new();
    let mut seen = 0;
    let mut dirs = vec![env.config.data_dir.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            seen += 1;
            if meta.permissions().mode() & 0o077 != 0 {
                open.push(format!(
                    "{:o} {}",
                    meta.permissions().mode() & 0o777,
                    entry.path().display()
                ));
            }
            if meta.is_dir() {
                dirs.push(entry.path());
            }
        }
    }
    assert!(
        seen >= 3,
        "the database, the certificate and its key at least"
    );
    assert!(open.is_empty(), "readable by others: {open:#?}");
}

#[test]
fn configured_certificate_is_served_and_verifies() {
    let env = TestEnv::new(Backend::Sqlite);
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_path = env.dir.path().join("site.pem");
    let key_path = env.dir.path().join("site.key");
    std::fs::write(&cert_path, certified.cert.pem()).unwrap();
    std::fs::write(&key_path, certified.key_pair.serialize_pem()).unwrap();
    let mut config = env.config.clone();
    config.tls.cert = Some(cert_path);
    config.tls.key = Some(key_path);
    let server = TestServer::start(config);

    // A client that trusts only this certificate, with verification on, over TLS 1.2 and 1.3.
    let root = reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).unwrap();
    let port = server.base.rsplit(':').next().unwrap();
    for version in [
        reqwest::tls::Version::TLS_1_2,
        reqwest::tls::Version::TLS_1_3,
    ] {
        let strict = reqwest::blocking::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(root.clone())
            .min_tls_version(version)
            .max_tls_version(version)
            .resolve("localhost", format!("127.0.0.1:{port}").parse().unwrap())
            .build()
            .unwrap();
        let res = strict
            .get(format!("https://localhost:{port}/healthz"))
            .send()
            .unwrap();
        assert_eq!(res.status(), 200, "{version:?}");
    }
    assert!(
        !env.config.data_dir.join("tls").exists(),
        "no certificate generated"
    );
}
