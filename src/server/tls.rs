//! TLS for the HTTPS listener: configured PEM files, or a self-signed certificate
//! generated once into the data directory.

use crate::config::Config;
use rustls::crypto::ring::sign::any_supported_type;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// A ready rustls configuration and the certificate it serves.
pub struct TlsMaterial {
    pub server_config: ServerConfig,
    /// The certificate in force, replaced by `LiveCert::reload` (SIGHUP).
    pub live: Arc<LiveCert>,
    /// Where the certificate came from.
    pub cert_path: PathBuf,
    pub generated: bool,
}

/// The certificate the listener serves; a reload swaps it for new handshakes while
/// connections already open keep theirs.
#[derive(Debug)]
pub struct LiveCert {
    current: RwLock<(Arc<CertifiedKey>, String)>,
}

impl LiveCert {
    /// SHA-256 of the served leaf certificate's DER, as colon-separated hex.
    pub fn fingerprint(&self) -> String {
        self.current.read().map(|c| c.1.clone()).unwrap_or_default()
    }

    /// Reads the configured (or generated) certificate and key again and serves them
    /// from now on; on any error the one in force stays. Returns the new fingerprint.
    pub fn reload(&self, config: &Config) -> Result<String, TlsError> {
        let (cert_path, key_path, _) = paths(config, false)?;
        let (key, fingerprint) = certified(&cert_path, &key_path)?;
        if let Ok(mut c) = self.current.write() {
            *c = (key, fingerprint.clone());
        }
        Ok(fingerprint)
    }
}

impl ResolvesServerCert for LiveCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|c| c.0.clone())
    }
}

/// The certificate and key files, generating a self-signed pair when none is
/// configured and none exists yet (only when `may_generate`).
fn paths(config: &Config, may_generate: bool) -> Result<(PathBuf, PathBuf, bool), TlsError> {
    Ok(match (&config.tls.cert, &config.tls.key) {
        (Some(c), Some(k)) => (c.clone(), k.clone(), false),
        _ => {
            let dir = config.data_dir.join("tls");
            let cert = dir.join("cert.pem");
            let key = dir.join("key.pem");
            let fresh = may_generate && !cert.exists() && !key.exists();
            if fresh {
                generate(&dir, &cert, &key)?;
            }
            (cert, key, fresh)
        }
    })
}

/// Loads a certificate chain and its private key, checked to belong together.
fn certified(cert_path: &Path, key_path: &Path) -> Result<(Arc<CertifiedKey>, String), TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_path)
        .map_err(|e| file_err(cert_path, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_err(cert_path, e))?;
    let leaf = certs
        .first()
        .ok_or_else(|| file_err(cert_path, "contains no certificate"))?;
    let fingerprint = fingerprint(leaf.as_ref());
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| file_err(key_path, e))?;
    let signer = any_supported_type(&key).map_err(|e| file_err(key_path, e))?;
    let certified = CertifiedKey::new(certs, signer);
    certified
        .keys_match()
        .map_err(|e| file_err(key_path, format!("does not belong to the certificate: {e}")))?;
    Ok((Arc::new(certified), fingerprint))
}

/// Why TLS could not be set up; names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS file {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("TLS certificate generation failed: {0}")]
    Generate(String),
    #[error("TLS configuration rejected: {0}")]
    Rustls(String),
}

fn file_err(path: &Path, message: impl ToString) -> TlsError {
    TlsError::File {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// Loads the configured certificate, or the generated one (creating it on first start).
pub fn load_or_generate(config: &Config) -> Result<TlsMaterial, TlsError> {
    let (cert_path, key_path, generated) = paths(config, true)?;
    let (key, fingerprint) = certified(&cert_path, &key_path)?;
    let live = Arc::new(LiveCert {
        current: RwLock::new((key, fingerprint)),
    });
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server_config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Rustls(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(live.clone());
    Ok(TlsMaterial {
        server_config,
        live,
        cert_path,
        generated,
    })
}

fn generate(dir: &Path, cert_path: &Path, key_path: &Path) -> Result<(), TlsError> {
    std::fs::create_dir_all(dir).map_err(|e| file_err(dir, e))?;
    let names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    let certified =
        rcgen::generate_simple_self_signed(names).map_err(|e| TlsError::Generate(e.to_string()))?;
    write_private(key_path, certified.key_pair.serialize_pem().as_bytes())?;
    std::fs::write(cert_path, certified.cert.pem()).map_err(|e| file_err(cert_path, e))?;
    Ok(())
}

/// Writes a file that only the service user can read (mode 0600 from creation).
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| file_err(path, e))?;
    file.write_all(bytes).map_err(|e| file_err(path, e))?;
    file.sync_all().map_err(|e| file_err(path, e))
}

/// SHA-256 over DER, uppercase hex pairs joined by ':' (as browsers show it).
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    digest
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}
