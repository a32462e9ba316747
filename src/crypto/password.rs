//! argon2id password hashes (PHC strings), with a dummy verify for unknown users.

use crate::config::AuthConfig;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

fn hasher(cfg: &AuthConfig) -> Result<Argon2<'static>, String> {
    let params = Params::new(
        cfg.argon2_memory_kib,
        cfg.argon2_iterations,
        cfg.argon2_parallelism,
        None,
    )
    .map_err(|e| format!("argon2 parameters: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password with a fresh random salt.
pub fn hash(password: &str, cfg: &AuthConfig) -> Result<String, String> {
    let mut salt_bytes = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut salt_bytes)
        .map_err(|_| "no randomness".to_string())?;
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| e.to_string())?;
    hasher(cfg)?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Checks `password` against a stored hash (parameters come from the hash itself).
pub fn verify(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spends the same work as a real check, so an unknown e-mail answers as slowly
/// as a wrong password.
pub fn dummy_verify(password: &str, cfg: &AuthConfig) {
    let _ = hash(password, cfg);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let cfg = AuthConfig::default();
        let a = hash("tangerine-orbit-lamp", &cfg).unwrap();
        let b = hash("tangerine-orbit-lamp", &cfg).unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "salted");
        assert!(verify("tangerine-orbit-lamp", &a));
        assert!(!verify("tangerine-orbit-lamP", &a));
        assert!(!verify("x", "not a hash"));
    }
}
