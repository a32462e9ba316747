//! Decoding in a process of its own (`insite decoder`): the same audio as decoding in
//! place, for every container, and a recording that kills or exhausts its decoder fails
//! alone, as poison after a second try, while the next one decodes.

use crate::pipeline::{children_of, noise, raw_wav};
use crate::support::{fixture, BIN};
use insite::pipeline::decode::{decode_to_tracks, DecodeError, Input, Tracks};
use insite::pipeline::decoder::Decoder;
use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom};
use symphonia::core::io::MediaSource;

fn samples(tracks: &mut Tracks) -> Vec<Vec<f32>> {
    tracks
        .tracks
        .iter_mut()
        .map(|t| {
            let mut out = Vec::new();
            t.read_into(0, usize::MAX, &mut out).unwrap();
            out
        })
        .collect()
}

#[test]
fn a_recording_decoded_in_its_own_process_is_the_audio_decoded_in_place() {
    let scratch = tempfile::tempdir().unwrap();
    let decoder = Decoder::new(BIN.into(), 1024);
    for name in [
        "speech.flac",
        "speech.ogg",
        "speech.mp3",
        "speech-mulaw.wav",
        "call-stereo.wav",
    ] {
        let path = fixture(name);
        decoder.probe(Input::file(&path).unwrap()).unwrap();
        let mut apart = decoder
            .decode_to_tracks(Input::file(&path).unwrap(), scratch.path())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut here = decode_to_tracks(Input::file(&path).unwrap(), scratch.path()).unwrap();
        assert_eq!(
            (apart.source_rate, apart.source_channels),
            (here.source_rate, here.source_channels),
            "{name}"
        );
        let (a, h) = (samples(&mut apart), samples(&mut here));
        assert!(!h[0].is_empty(), "{name}");
        assert_eq!(a, h, "{name}: the samples differ");
    }
    // Refusals come back as the same errors, naming the recording as the server does.
    let dir = tempfile::tempdir().unwrap();
    let hostile = dir.path().join("hostile.wav");
    let data = noise(16 * 1024);
    std::fs::write(
        &hostile,
        raw_wav(2_147_483_647, 1, data.len() as u32, &data),
    )
    .unwrap();
    let shown = hostile.display().to_string();
    for err in [
        decoder.probe(Input::file(&hostile).unwrap()).unwrap_err(),
        decoder
            .decode_to_tracks(Input::file(&hostile).unwrap(), scratch.path())
            .map(|_| ())
            .unwrap_err(),
    ] {
        assert!(
            matches!(&err, DecodeError::Unsupported { path, .. } if *path == shown),
            "{err:?}"
        );
        assert!(err.reason().contains("2147483647 Hz"), "{err}");
    }
    let long = dir.path().join("long.wav");
    let data = noise(8_000 * 2 * 3);
    std::fs::write(&long, raw_wav(8_000, 1, u32::MAX, &data)).unwrap();
    let err = decoder
        .decode_to_tracks(Input::file(&long).unwrap().max_seconds(2), scratch.path())
        .map(|_| ())
        .unwrap_err();
    assert!(
        matches!(err, DecodeError::TooLong { max: 2, .. }),
        "{err:?}"
    );
}

/// A recording that kills each decoder process reading it, past its first 16 KB.
struct Killer {
    file: std::fs::File,
    killed: HashSet<u32>,
}

impl Read for Killer {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.file.stream_position()? > 16 * 1024 {
            for pid in children_of(std::process::id()) {
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                if cmdline.windows(7).any(|w| w == b"decoder") && self.killed.insert(pid) {
                    let ok = std::process::Command::new("kill")
                        .args(["-KILL", &pid.to_string()])
                        .status()
                        .unwrap();
                    assert!(ok.success());
                }
            }
        }
        self.file.read(buf)
    }
}

impl Seek for Killer {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.file.seek(to)
    }
}

impl MediaSource for Killer {
    fn is_seekable(&self) -> bool {
        true
    }
    fn byte_len(&self) -> Option<u64> {
        self.file.metadata().ok().map(|m| m.len())
    }
}

#[test]
fn a_recording_that_kills_its_decoder_twice_is_poison_and_the_next_one_decodes() {
    let scratch = tempfile::tempdir().unwrap();
    let decoder = Decoder::new(BIN.into(), 1024);
    let path = fixture("speech-long.wav");
    let file = std::fs::File::open(&path).unwrap();
    let len = file.metadata().unwrap().len();
    let killer = Killer {
        file,
        killed: HashSet::new(),
    };
    let input = Input::stream(Box::new(killer), len, "recording 7", Some("wav".into()));
    match decoder.decode_to_tracks(input, scratch.path()) {
        Err(DecodeError::Crashed { path, detail }) => {
            assert_eq!(path, "recording 7");
            assert!(detail.contains("SIGKILL"), "{detail}");
            assert!(detail.contains("then"), "two attempts: {detail}");
        }
        Err(other) => panic!("expected poison, got {other:?}"),
        Ok(_) => panic!("expected poison, got tracks"),
    }
    // Nothing is left running, and the next recording decodes.
    assert!(children_of(std::process::id()).is_empty());
    let mut tracks = decoder
        .decode_to_tracks(Input::file(&path).unwrap(), scratch.path())
        .unwrap();
    assert!(tracks.duration_secs() > 10.0);
    assert!(!samples(&mut tracks)[0].is_empty());
}

#[test]
fn a_decoder_out_of_memory_fails_that_recording_alone_and_the_smallest_setting_decodes() {
    let scratch = tempfile::tempdir().unwrap();
    let path = fixture("call-stereo.wav");
    // 16 MiB cannot hold the decoder itself: it dies at its first large allocation.
    let starved = Decoder::new(BIN.into(), 16);
    match starved.decode_to_tracks(Input::file(&path).unwrap(), scratch.path()) {
        Err(DecodeError::Crashed { detail, .. }) => {
            assert!(detail.contains("then"), "{detail}");
            assert!(
                detail.contains("signal 6") || detail.contains("memory"),
                "{detail}"
            );
        }
        Err(other) => panic!("expected a crashed decoder, got {other:?}"),
        Ok(_) => panic!("decoded in 16 MiB"),
    }
    // The smallest `pipeline.decoder_memory_mb` the configuration accepts suffices.
    let least = *insite::pipeline::decoder::parent::MEMORY_MB.start();
    let mut tracks = Decoder::new(BIN.into(), least)
        .decode_to_tracks(Input::file(&path).unwrap(), scratch.path())
        .unwrap();
    assert_eq!(tracks.tracks.len(), 2);
    assert!(!samples(&mut tracks)[1].is_empty());
}
