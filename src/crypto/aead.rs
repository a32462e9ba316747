//! AES-256-GCM for single values: a random 96-bit nonce per value, and associated data
//! that binds the value to where it lives (table, column, row, org), so a ciphertext
//! copied into another row or column fails its check instead of being read.
//!
//! Stored form: `e1:` + base64url(key version u32 BE ‖ nonce ‖ ciphertext ‖ tag).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

const PREFIX: &str = "e1:";

/// A stored value failed to decrypt: altered, moved, or sealed under another key.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[error("stored data failed its integrity check ({what}): {reason}")]
pub struct IntegrityError {
    /// Where the value lives, e.g. `segments.text of row 3f…`.
    pub what: String,
    pub reason: &'static str,
}

/// A 256-bit AES-GCM key.
pub fn key(bytes: &[u8; 32]) -> LessSafeKey {
    // A 32-byte slice is always a valid AES-256 key.
    match UnboundKey::new(&AES_256_GCM, bytes) {
        Ok(k) => LessSafeKey::new(k),
        Err(_) => unreachable!("AES-256 key of 32 bytes"),
    }
}

/// 32 random bytes from the system's generator.
pub fn random_key_bytes() -> Result<zeroize::Zeroizing<[u8; 32]>, String> {
    let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
    SystemRandom::new()
        .fill(bytes.as_mut())
        .map_err(|_| "the system random generator failed".to_string())?;
    Ok(bytes)
}

/// A fresh random nonce.
pub fn random_nonce() -> Result<[u8; NONCE_LEN], String> {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| "the system random generator failed".to_string())?;
    Ok(nonce)
}

/// Encrypts `plain` in place-free form: nonce ‖ ciphertext ‖ tag.
pub fn seal_bytes(key: &LessSafeKey, aad: &[u8], plain: &[u8]) -> Result<Vec<u8>, String> {
    let nonce = random_nonce()?;
    let mut buf = plain.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        &mut buf,
    )
    .map_err(|_| "encryption failed".to_string())?;
    let mut out = Vec::with_capacity(NONCE_LEN + buf.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&buf);
    Ok(out)
}

/// Decrypts nonce ‖ ciphertext ‖ tag; `None` when anything was altered.
pub fn open_bytes(key: &LessSafeKey, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < NONCE_LEN + AES_256_GCM.tag_len() {
        return None;
    }
    let (nonce, rest) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut buf = rest.to_vec();
    let plain = key.open_in_place(nonce, Aad::from(aad), &mut buf).ok()?;
    Some(plain.to_vec())
}

/// Seals a text value under key `version`.
pub fn seal_value(
    key: &LessSafeKey,
    version: u32,
    aad: &[u8],
    plain: &str,
) -> Result<String, String> {
    let mut aad_full = version.to_be_bytes().to_vec();
    aad_full.extend_from_slice(aad);
    let sealed = seal_bytes(key, &aad_full, plain.as_bytes())?;
    let mut raw = version.to_be_bytes().to_vec();
    raw.extend_from_slice(&sealed);
    Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(raw)))
}

/// The key version a stored value was sealed under, if it is a sealed value at all.
pub fn version_of(stored: &str) -> Option<u32> {
    let raw = URL_SAFE_NO_PAD.decode(stored.strip_prefix(PREFIX)?).ok()?;
    Some(u32::from_be_bytes(raw.get(..4)?.try_into().ok()?))
}

/// Opens a stored value with the key `key_for` gives for its version.
pub fn open_value<'k>(
    key_for: impl Fn(u32) -> Option<&'k LessSafeKey>,
    aad: &[u8],
    stored: &str,
    what: impl Fn() -> String,
) -> Result<String, IntegrityError> {
    let fail = |reason| IntegrityError {
        what: what(),
        reason,
    };
    let body = stored
        .strip_prefix(PREFIX)
        .ok_or_else(|| fail("not an encrypted value"))?;
    let raw = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| fail("not valid base64"))?;
    let version = raw
        .get(..4)
        .and_then(|v| v.try_into().ok())
        .map(u32::from_be_bytes)
        .ok_or_else(|| fail("truncated"))?;
    let key = key_for(version).ok_or_else(|| fail("sealed under a key this org no longer has"))?;
    let mut aad_full = version.to_be_bytes().to_vec();
    aad_full.extend_from_slice(aad);
    let plain = open_bytes(key, &aad_full, &raw[4..])
        .ok_or_else(|| fail("ciphertext, nonce or associated data was altered"))?;
    String::from_utf8(plain).map_err(|_| fail("not UTF-8 after decryption"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(b: u8) -> LessSafeKey {
        key(&[b; 32])
    }

    fn open(key: &LessSafeKey, aad: &[u8], stored: &str) -> Result<String, IntegrityError> {
        open_value(
            |v| (v == 1).then_some(key),
            aad,
            stored,
            || "t.c of row 1".into(),
        )
    }

    #[test]
    fn values_round_trip_with_a_fresh_nonce_each_time() {
        let key = k(1);
        let a = seal_value(&key, 1, b"t.c:1", "hello").unwrap();
        let b = seal_value(&key, 1, b"t.c:1", "hello").unwrap();
        assert_ne!(a, b, "same plaintext, different nonces");
        assert!(!a.contains("hello"));
        assert_eq!(open(&key, b"t.c:1", &a).unwrap(), "hello");
        assert_eq!(version_of(&a), Some(1));
    }

    #[test]
    fn tampering_with_ciphertext_nonce_or_associated_data_is_detected() {
        let key = k(1);
        let sealed = seal_value(&key, 1, b"t.c:1", "card ending 4242").unwrap();
        let raw = URL_SAFE_NO_PAD.decode(&sealed[3..]).unwrap();
        for at in [5usize, 4 + 12 + 2, raw.len() - 1] {
            // 5: inside the nonce; 18: inside the ciphertext; last: inside the tag.
            let mut bad = raw.clone();
            bad[at] ^= 1;
            let stored = format!("e1:{}", URL_SAFE_NO_PAD.encode(&bad));
            let err = open(&key, b"t.c:1", &stored).unwrap_err();
            assert_eq!(
                err.reason,
                "ciphertext, nonce or associated data was altered"
            );
            assert!(err.to_string().contains("t.c of row 1"));
        }
        // Moved to another row: the associated data differs.
        let err = open(&key, b"t.c:2", &sealed).unwrap_err();
        assert_eq!(
            err.reason,
            "ciphertext, nonce or associated data was altered"
        );
        // Another key.
        assert!(open(&k(2), b"t.c:1", &sealed).is_err());
        // Plaintext slipped into the column is refused, never returned.
        assert_eq!(
            open(&key, b"t.c:1", "hello").unwrap_err().reason,
            "not an encrypted value"
        );
        // Truncated.
        assert!(open(&key, b"t.c:1", &sealed[..sealed.len() - 4]).is_err());
    }
}
