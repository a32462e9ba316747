//! Signed webhooks, both ways. A sender signs `<unix seconds>.<body>` with HMAC-SHA256
//! under the integration's secret and sends `X-Insite-Timestamp` and
//! `X-Insite-Signature: v1=<hex>`. The receiver refuses a bad signature, a timestamp
//! outside the tolerance, and a signature it has accepted before (a replay).

use ring::hmac;

pub const TIMESTAMP_HEADER: &str = "x-insite-timestamp";
pub const SIGNATURE_HEADER: &str = "x-insite-signature";
/// Seconds a delivery's timestamp may differ from this server's clock.
pub const DEFAULT_TOLERANCE: i64 = 300;

/// The `v1=<hex>` signature of `body` sent at `timestamp`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    format!("v1={}", hex::encode(ctx.sign().as_ref()))
}

/// Why a delivery is refused (each has its stable error code).
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    Missing,
    Stale,
    BadSignature,
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Missing => "SIGNATURE_MISSING",
            Refusal::Stale => "STALE_TIMESTAMP",
            Refusal::BadSignature => "SIGNATURE_INVALID",
        }
    }

    pub fn message(&self, tolerance: i64) -> String {
        match self {
            Refusal::Missing => format!(
                "send the {TIMESTAMP_HEADER} (Unix seconds) and {SIGNATURE_HEADER} (v1=hex HMAC-SHA256 of \"<timestamp>.<body>\") headers"
            ),
            Refusal::Stale => format!(
                "the timestamp is more than {tolerance} seconds from this server's clock"
            ),
            Refusal::BadSignature => "the signature does not match the body and timestamp".into(),
        }
    }
}

/// Checks a delivery; `now` in Unix seconds.
pub fn verify(
    secret: &str,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
    tolerance: i64,
) -> Result<(), Refusal> {
    let (Some(ts), Some(sig)) = (timestamp, signature) else {
        return Err(Refusal::Missing);
    };
    let ts: i64 = ts.trim().parse().map_err(|_| Refusal::Missing)?;
    if (now - ts).abs() > tolerance {
        return Err(Refusal::Stale);
    }
    let given = sig
        .trim()
        .strip_prefix("v1=")
        .and_then(|h| hex::decode(h).ok())
        .ok_or(Refusal::BadSignature)?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut msg = ts.to_string().into_bytes();
    msg.push(b'.');
    msg.extend_from_slice(body);
    hmac::verify(&key, &msg, &given).map_err(|_| Refusal::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef-secret";

    #[test]
    fn signed_deliveries_verify_and_forgeries_do_not() {
        let body = br#"{"recording_url":"https://rec/1.wav"}"#;
        let sig = sign(SECRET, 1_000, body);
        assert_eq!(
            verify(SECRET, Some("1000"), Some(&sig), body, 1_010, 300),
            Ok(())
        );
        assert_eq!(
            verify(
                "another-secret-000",
                Some("1000"),
                Some(&sig),
                body,
                1_010,
                300
            ),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            verify(SECRET, Some("1000"), Some(&sig), b"{}", 1_010, 300),
            Err(Refusal::BadSignature)
        );
        // The same body and signature with another timestamp: the timestamp is signed.
        assert_eq!(
            verify(SECRET, Some("1001"), Some(&sig), body, 1_010, 300),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            verify(SECRET, Some("1000"), Some(&sig), body, 1_400, 300),
            Err(Refusal::Stale)
        );
        assert_eq!(
            verify(SECRET, None, Some(&sig), body, 1_000, 300),
            Err(Refusal::Missing)
        );
        assert_eq!(
            verify(SECRET, Some("1000"), Some("v1=zz"), body, 1_000, 300),
            Err(Refusal::BadSignature)
        );
    }
}
