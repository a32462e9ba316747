//! Time-based one-time passwords (RFC 6238: HMAC-SHA1, 30 s steps, 6 digits).

use ring::hmac;
use ring::rand::SecureRandom;

const STEP_SECS: i64 = 30;
const DIGITS: u32 = 6;
const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A new 160-bit secret, base32 (as authenticator apps expect).
pub fn new_secret() -> Result<String, String> {
    let mut bytes = [0u8; 20];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| "no randomness".to_string())?;
    Ok(base32_encode(&bytes))
}

/// The `otpauth://` URI an authenticator app scans.
pub fn uri(secret: &str, account: &str) -> String {
    let account: String = account
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "@.-_".contains(c) {
                c.to_string()
            } else {
                format!("%{:02X}", c as u32 & 0xff)
            }
        })
        .collect();
    format!("otpauth://totp/insite:{account}?secret={secret}&issuer=insite&algorithm=SHA1&digits=6&period=30")
}

fn base32_encode(data: &[u8]) -> String {
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in data {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            out.push(ALPHABET[((buffer >> (bits - 5)) & 31) as usize] as char);
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in s.trim_end_matches('=').bytes() {
        let v = ALPHABET.iter().position(|&a| a == c.to_ascii_uppercase())? as u32;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            out.push((buffer >> (bits - 8)) as u8);
            bits -= 8;
        }
    }
    Some(out)
}

/// The code for time step `step` (HOTP with counter = step).
fn code_for_step(key: &[u8], step: i64, digits: u32) -> u32 {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
    let tag = hmac::sign(&key, &step.to_be_bytes());
    let h = tag.as_ref();
    let offset = (h[h.len() - 1] & 0x0f) as usize;
    let bin = (u32::from(h[offset]) & 0x7f) << 24
        | u32::from(h[offset + 1]) << 16
        | u32::from(h[offset + 2]) << 8
        | u32::from(h[offset + 3]);
    bin % 10u32.pow(digits)
}

/// Checks `code` at unix time `now` (±1 step for clock drift); returns the matched
/// step, which the caller stores to refuse the same code twice.
pub fn verify(secret: &str, code: &str, now_unix: i64) -> Option<i64> {
    let key = base32_decode(secret)?;
    let code = code.trim();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let wanted: u32 = code.parse().ok()?;
    let current = now_unix.div_euclid(STEP_SECS);
    (current - 1..=current + 1).find(|&step| ct_eq(code_for_step(&key, step, DIGITS), wanted))
}

/// Compares without an early exit, so timing does not tell how many digits matched.
fn ct_eq(a: u32, b: u32) -> bool {
    a.to_be_bytes()
        .iter()
        .zip(b.to_be_bytes())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// The current code (for tests and diagnostics).
pub fn current_code(secret: &str, now_unix: i64) -> Option<String> {
    let key = base32_decode(secret)?;
    Some(format!(
        "{:06}",
        code_for_step(&key, now_unix.div_euclid(STEP_SECS), DIGITS)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_vectors() {
        let key = b"12345678901234567890";
        // RFC 6238 appendix B, 8 digits.
        assert_eq!(code_for_step(key, 59 / 30, 8), 94_287_082);
        assert_eq!(code_for_step(key, 1_111_111_109 / 30, 8), 7_081_804);
        assert_eq!(code_for_step(key, 2_000_000_000 / 30, 8), 69_279_037);
        let secret = base32_encode(key);
        assert_eq!(secret, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(base32_decode(&secret).unwrap(), key);
        let code = current_code(&secret, 1_111_111_109).unwrap();
        assert_eq!(code, "081804");
        assert_eq!(
            verify(&secret, &code, 1_111_111_109),
            Some(1_111_111_109 / 30)
        );
        assert_eq!(
            verify(&secret, &code, 1_111_111_109 + 30),
            Some(1_111_111_109 / 30),
            "drift"
        );
        assert_eq!(verify(&secret, &code, 1_111_111_109 + 90), None, "too old");
        assert_eq!(verify(&secret, "12345", 0), None);
    }
}
