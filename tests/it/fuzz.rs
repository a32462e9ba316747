//! Fuzzing the parsers that take outside bytes: recordings (WAV, MP3, FLAC, OGG) as
//! the decoder reads them, watched-folder sidecars, ticket JSON and multipart uploads
//! over HTTP. Each target mutates well-formed seeds (bit flips, interesting integers
//! over header fields, truncation, spliced and inserted bytes) with a fixed-seed
//! generator, so a failure names an iteration that reproduces. `make test` runs
//! `INSITE_TEST_FUZZ_ITERATIONS` (default 1000) per target; `make fuzz` runs many more.

use crate::identity::acme_owner;
use crate::pipeline::{noise, raw_wav};
use crate::support::{fixture, Backend, TestEnv};
use insite::pipeline::decode::{decode_channels_16k, probe, DEFAULT_MAX_SECONDS};
use insite::pipeline::ingest::CallMeta;
use serde_json::{json, Value};

fn iterations() -> u64 {
    std::env::var("INSITE_TEST_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

/// SplitMix64: small, fast and the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: [u32; 10] = [
    0,
    1,
    2,
    0x7f,
    0xff,
    0xffff,
    44_100,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
];

/// One to four mutations of `seed`.
fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..=rng.below(4) {
        if b.is_empty() {
            b.push(rng.next() as u8);
        }
        let at = rng.below(b.len());
        match rng.below(7) {
            0 => b[at] ^= 1 << rng.below(8),
            1 => b[at] = INTERESTING[rng.below(INTERESTING.len())] as u8,
            2 => {
                // An interesting integer over a header field, either byte order.
                let v = INTERESTING[rng.below(INTERESTING.len())];
                let bytes = if rng.below(2) == 0 {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                };
                for (i, x) in bytes.iter().enumerate() {
                    if let Some(slot) = b.get_mut(at + i) {
                        *slot = *x;
                    }
                }
            }
            3 => b.truncate(at),
            4 => {
                let len = rng.below(64).min(b.len() - at);
                let piece = b[at..at + len].to_vec();
                let to = rng.below(b.len());
                b.splice(to..to, piece);
            }
            5 => {
                let junk: Vec<u8> = (0..rng.below(32)).map(|_| rng.next() as u8).collect();
                b.splice(at..at, junk);
            }
            _ => {
                let len = rng.below(32).min(b.len() - at);
                b.drain(at..at + len);
            }
        }
    }
    b
}

/// The first `n` bytes of a generated fixture.
fn head_of(name: &str, n: usize) -> Vec<u8> {
    let mut bytes = std::fs::read(fixture(name)).unwrap();
    bytes.truncate(n);
    bytes
}

#[test]
fn mutated_recordings_decode_or_are_refused_cleanly() {
    let seeds = [
        raw_wav(16_000, 1, 4_000, &noise(4_000)),
        raw_wav(8_000, 2, 4_000, &noise(4_000)),
        head_of("speech-mulaw.wav", 6_000),
        head_of("speech.mp3", 12_000),
        head_of("speech.flac", 16_000),
        head_of("speech.ogg", 16_000),
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("input");
    let mut rng = Rng(0x15_5173);
    let (mut decoded, mut refused) = (0, 0);
    for i in 0..iterations() {
        let input = mutate(&mut rng, &seeds[i as usize % seeds.len()]);
        std::fs::write(&path, &input).unwrap();
        // A panic here fails the test and names the iteration (the seed is fixed).
        let probed = probe(&path);
        match decode_channels_16k(&path) {
            Ok(decoded_audio) => {
                decoded += 1;
                assert!(
                    (1..=insite::pipeline::decode::MAX_CHANNELS)
                        .contains(&decoded_audio.channels.len()),
                    "iteration {i}"
                );
                for ch in &decoded_audio.channels {
                    let seconds = ch.len() as u64 / 16_000;
                    assert!(seconds <= DEFAULT_MAX_SECONDS, "iteration {i}: {seconds} s");
                    assert!(ch.iter().all(|s| s.is_finite()), "iteration {i}");
                }
            }
            Err(e) => {
                refused += 1;
                assert!(!e.reason().trim().is_empty(), "iteration {i}: {e:?}");
                if let Err(p) = &probed {
                    assert!(!p.reason().trim().is_empty(), "iteration {i}");
                }
            }
        }
    }
    // Both sides were reached: the mutations neither all break nor all spare the input.
    assert!(
        decoded > 0 && refused > 0,
        "{decoded} decoded, {refused} refused"
    );
}

#[test]
fn mutated_sidecars_are_read_or_refused_with_a_reason() {
    let seed = json!({
        "source": "recorder", "direction": "inbound", "language": "en", "channels": ["agent", "customer"],
        "started_at": "2026-11-20T09:00:00Z", "external_id": "rec-1", "team": "north",
        "tags": ["vip"], "participants": [{"name": "Ann", "role": "customer", "phone": "+44 20 7946 0001"}]
    })
    .to_string();
    let mut rng = Rng(0x51dec4);
    let (mut read, mut refused) = (0, 0);
    for i in 0..iterations() * 4 {
        let input = mutate(&mut rng, seed.as_bytes());
        match CallMeta::from_sidecar(&input) {
            Ok(_) => read += 1,
            Err(e) => {
                refused += 1;
                assert!(e.starts_with("metadata sidecar: "), "iteration {i}: {e}");
            }
        }
    }
    assert!(read > 0 && refused > 0, "{read} read, {refused} refused");
}

/// What a refused request must look like: 4xx, JSON, a stable code.
fn assert_clean(status: u16, body: &str, what: &str) {
    assert!(status < 500, "{what}: {status} {body}");
    if status >= 400 {
        let v: Value =
            serde_json::from_str(body).unwrap_or_else(|_| panic!("{what}: not JSON: {body}"));
        assert!(
            v["error"]["code"].as_str().is_some_and(|c| !c.is_empty()),
            "{what}: {body}"
        );
    }
}

#[test]
fn mutated_tickets_and_uploads_never_get_a_server_error() {
    let env = TestEnv::new(Backend::Sqlite);
    let (s, c, owner) = acme_owner(&env);
    let send = |path: &str, content_type: &str, body: Vec<u8>| {
        let res = c
            .post(s.url(path))
            .header("cookie", &owner.cookie)
            .header("x-csrf-token", &owner.csrf)
            .header("content-type", content_type)
            .body(body)
            .send()
            .unwrap();
        (res.status().as_u16(), res.text().unwrap())
    };

    let ticket = json!({"subject": "Parcel", "external_id": "T-1", "messages": [
        {"author": "Ann", "role": "customer", "at": "2026-11-20T09:00:00Z", "text": "Where is my parcel?"},
        {"author": "Sam", "role": "agent", "at": "2026-11-20T09:02:00Z", "text": "It ships today."}]})
    .to_string();
    let mut rng = Rng(0x71c4e7);
    let mut accepted = 0;
    for i in 0..iterations() {
        let body = mutate(&mut rng, ticket.as_bytes());
        let (status, text) = send("/api/v1/tickets", "application/json", body);
        assert_clean(status, &text, &format!("ticket iteration {i}"));
        accepted += usize::from(status == 202);
    }
    assert!(
        accepted > 0,
        "no mutated ticket was accepted: the seed is broken"
    );

    // A quarter second of silence: an accepted upload costs little processing.
    let wav = raw_wav(16_000, 1, 3_200, &[0u8; 3_200]);
    let boundary = "fuzzb0undary";
    let mut upload = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\
         Content-Type: application/json\r\n\r\n{}\r\n--{boundary}\r\n\
         Content-Disposition: form-data; name=\"audio\"; filename=\"a.wav\"\r\n\
         Content-Type: audio/wav\r\n\r\n",
        json!({"language": "en", "direction": "inbound"})
    )
    .into_bytes();
    upload.extend_from_slice(&wav);
    upload.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let content_type = format!("multipart/form-data; boundary={boundary}");
    for i in 0..iterations() {
        let body = mutate(&mut rng, &upload);
        let (status, text) = send("/api/v1/conversations", &content_type, body);
        assert_clean(status, &text, &format!("upload iteration {i}"));
    }
    assert_eq!(c.get(s.url("/healthz")).send().unwrap().status(), 200);
}
