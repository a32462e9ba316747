//! Opaque bearer secrets (session cookies, API tokens): random, shown once,
//! stored only as SHA-256.

use ring::rand::SecureRandom;

/// A new random token with a recognisable prefix, e.g. `ins_…` for API tokens.
pub fn generate(prefix: &str) -> Result<String, String> {
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| "no randomness".to_string())?;
    Ok(format!("{prefix}{}", hex::encode(bytes)))
}

/// What the database keeps of a token: its SHA-256, hex.
pub fn digest(token: &str) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, token.as_bytes()).as_ref())
}
