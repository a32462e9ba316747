//! The decoder's limits, on files written as a hostile or careless writer makes them:
//! headers it must not believe (absurd rates and channel counts) and recordings over
//! `pipeline.max_duration_seconds`, whether the header declares the length or not.

use crate::pipeline::{noise, raw_wav};
use insite::pipeline::decode::{
    decode_channels_16k, decode_input, probe, probe_input, DecodeError, Input, RATES,
};
use std::path::Path;

#[test]
fn implausible_headers_are_refused_before_anything_is_sized_from_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = noise(16 * 1024);
    let cases: [(u32, u16, &str); 7] = [
        (2_147_483_647, 1, "sample rate of 2147483647 Hz"),
        (u32::MAX, 1, "sample rate"),
        (1, 1, "sample rate of 1 Hz"),
        (1_999, 1, "sample rate of 1999 Hz"),
        (384_001, 1, "sample rate"),
        (0, 1, ""),
        (8_000, 200, "channel"),
    ];
    for (rate, channels, says) in cases {
        let path = dir.path().join(format!("r{rate}-c{channels}.wav"));
        std::fs::write(&path, raw_wav(rate, channels, data.len() as u32, &data)).unwrap();
        for result in [probe(&path), decode_channels_16k(&path).map(|_| ())] {
            let err = result.expect_err(&format!("rate {rate}, {channels} channels"));
            assert!(
                matches!(
                    err,
                    DecodeError::Unsupported { .. } | DecodeError::Corrupt { .. }
                ),
                "{err}"
            );
            assert!(err.reason().contains(says), "{err}");
        }
    }
    // The edges of the accepted range still decode.
    for rate in [*RATES.start(), *RATES.end()] {
        let path = dir.path().join(format!("ok{rate}.wav"));
        std::fs::write(&path, raw_wav(rate, 1, data.len() as u32, &data)).unwrap();
        let audio = decode_channels_16k(&path).unwrap();
        let want = (data.len() / 2) * 16_000 / rate as usize;
        assert_eq!(audio.channels[0].len(), want, "rate {rate}");
    }
}

#[test]
fn recordings_over_the_limit_are_refused_whether_declared_or_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let data = noise(8_000 * 2 * 3); // 3 s at 8 kHz, 16-bit mono
    let honest = dir.path().join("honest.wav");
    std::fs::write(&honest, raw_wav(8_000, 1, data.len() as u32, &data)).unwrap();
    let input = |path: &Path, max: u64| Input::file(path).unwrap().max_seconds(max);
    // Declared: refused by the probe, before decoding.
    let err = probe_input(input(&honest, 2)).unwrap_err();
    assert_eq!(
        err,
        DecodeError::TooLong {
            path: honest.display().to_string(),
            max: 2
        }
    );
    assert!(
        err.reason().contains("longer than the 2 s allowed"),
        "{err}"
    );
    assert!(matches!(
        decode_input(input(&honest, 2)),
        Err(DecodeError::TooLong { .. })
    ));
    assert_eq!(
        decode_input(input(&honest, 3)).unwrap().channels[0].len(),
        48_000
    );
    // A streaming recorder's placeholder length (0xFFFFFFFF): the declaration is
    // ignored, the decoded length counts.
    let streamed = dir.path().join("streamed.wav");
    std::fs::write(&streamed, raw_wav(8_000, 1, u32::MAX, &data)).unwrap();
    probe_input(input(&streamed, 2)).unwrap();
    assert!(matches!(
        decode_input(input(&streamed, 2)),
        Err(DecodeError::TooLong { max: 2, .. })
    ));
    let audio = decode_input(input(&streamed, 4)).unwrap();
    assert_eq!(audio.channels[0].len(), 48_000);
}
